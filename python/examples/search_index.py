"""Searches a saved index with text queries and prints the documents found.

    python3 search_index.py index.vsi docs.jsonl "a cat on the windowsill" [-k 3]

The index is memory-mapped (Index.view): nothing is read until the search touches it.
"""
import argparse

import vecscale
from documents import load_documents


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index")
    ap.add_argument("docs")
    ap.add_argument("queries", nargs="+")
    ap.add_argument("-k", type=int, default=3)
    ap.add_argument("--model", default="glove-100-sif")
    ap.add_argument("--ef", type=int, default=64)
    args = ap.parse_args()

    text = {d["id"]: d["text"] for d in load_documents(args.docs)}
    with vecscale.Model(args.model) as model, vecscale.Index.view(args.index) as index:
        queries = model.embed(args.queries)
        scores, ids = index.search(queries, args.k,
                                   ef=args.ef if index.factory.startswith("HNSW") else None)
        for q, row_s, row_i in zip(args.queries, scores, ids):
            print("query: %s" % q)
            for rank, (s, i) in enumerate(zip(row_s, row_i), 1):
                if i >= 0:
                    print("  %d. id=%d score=%.3f %s" % (rank, i, s, text.get(int(i), "?")))


if __name__ == "__main__":
    main()
