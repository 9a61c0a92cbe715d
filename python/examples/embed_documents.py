"""Embeds a JSON file of documents with an offline model and saves ids + vectors.

    python3 embed_documents.py docs.jsonl vectors.npz [--model glove-100-sif]

(sentence-transformers' model.encode(texts) in the system this replaces.)
"""
import argparse
import time

import numpy as np

import vecscale
from documents import load_documents


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("docs")
    ap.add_argument("out")
    ap.add_argument("--model", default="glove-100-sif")
    ap.add_argument("--batch-size", type=int, default=256)
    args = ap.parse_args()

    docs = load_documents(args.docs)
    t0 = time.perf_counter()
    with vecscale.Model(args.model) as model:
        vectors = model.embed([d["text"] for d in docs], batch_size=args.batch_size,
                              normalize=True)
        name = model.name
    dt = time.perf_counter() - t0
    ids = np.array([d["id"] for d in docs], dtype=np.int64)
    np.savez(args.out, ids=ids, vectors=vectors)
    print("embedded %d documents with %s: dim %d, %.0f docs/s -> %s"
          % (len(docs), name, vectors.shape[1], len(docs) / max(dt, 1e-9), args.out))


if __name__ == "__main__":
    main()
