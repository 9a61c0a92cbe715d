"""Builds an index from embedded vectors and saves it.

    python3 build_index.py vectors.npz index.vsi [--factory HNSW32] [--metric cosine]

(The seed's build script: faiss.index_factory + train + add_with_ids + write_index.)
"""
import argparse
import time

import numpy as np

import vecscale


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("vectors")
    ap.add_argument("out")
    ap.add_argument("--factory", default="HNSW32")
    ap.add_argument("--metric", default="cosine", choices=["l2", "ip", "cosine"])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    data = np.load(args.vectors)
    ids, x = data["ids"], data["vectors"]
    t0 = time.perf_counter()
    with vecscale.Index(x.shape[1], args.factory, args.metric, threads=args.threads) as index:
        if not index.is_trained:
            index.train(x)
        index.add(x, ids=ids)
        index.save(args.out)
        print("built %s (%s) over %d vectors in %.2f s: %.1f MB in memory, %d bytes/vector -> %s"
              % (index.factory, index.metric, len(index), time.perf_counter() - t0,
                 index.memory_bytes / 1e6, index.code_size, args.out))


if __name__ == "__main__":
    main()
