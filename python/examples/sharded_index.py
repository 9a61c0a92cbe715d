"""Shards vectors over N indexes, searches them in parallel threads and merges the top-k.

    python3 sharded_index.py vectors.npz --shards 4 [-k 10] [--factory Flat]

vecscale releases the GIL while it searches, so one Python thread per shard runs in
parallel. With exact (Flat) shards the merged top-k equals one index over everything; the
script checks that and says so.
"""
import argparse
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import vecscale


class ShardedIndex:
    """N indexes; a vector goes to shard id % N; search asks every shard and merges."""

    def __init__(self, dim, n_shards, factory="Flat", metric="cosine"):
        self.metric = metric
        self.shards = [vecscale.Index(dim, factory, metric) for _ in range(n_shards)]
        self.pool = ThreadPoolExecutor(max_workers=n_shards)

    def train(self, x):
        for s in self.shards:
            if not s.is_trained:
                s.train(x)

    def add(self, x, ids):
        for i, s in enumerate(self.shards):
            mine = ids % len(self.shards) == i
            s.add(x[mine], ids=ids[mine])

    def search(self, q, k, **params):
        parts = list(self.pool.map(lambda s: s.search(q, k, **params), self.shards))
        scores = np.hstack([p[0] for p in parts])
        ids = np.hstack([p[1] for p in parts])
        # best first: smallest distance for l2, largest similarity for ip/cosine
        order = np.argsort(scores if self.metric == "l2" else -scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)

    def __len__(self):
        return sum(len(s) for s in self.shards)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("vectors")
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--factory", default="Flat")
    ap.add_argument("--queries", type=int, default=100)
    args = ap.parse_args()

    data = np.load(args.vectors)
    ids, x = data["ids"], data["vectors"]
    q = x[:: max(1, len(x) // args.queries)][: args.queries]

    sharded = ShardedIndex(x.shape[1], args.shards, args.factory)
    sharded.train(x)
    sharded.add(x, ids)
    print("%d vectors over %d shards: %s" % (len(sharded), args.shards,
                                             [len(s) for s in sharded.shards]))
    D, I = sharded.search(q, args.k)

    single = vecscale.Index(x.shape[1], args.factory, "cosine")
    if not single.is_trained:
        single.train(x)
    single.add(x, ids=ids)
    D1, I1 = single.search(q, args.k)
    same = np.mean(np.isclose(D, D1, atol=1e-5).all(1))
    print("merged top-%d scores equal one index's for %.1f%% of %d queries; ids equal: %.1f%%"
          % (args.k, 100 * same, len(q), 100 * np.mean((I == I1).all(1))))


if __name__ == "__main__":
    main()
