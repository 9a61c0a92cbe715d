"""No leaks: creating, filling, searching and freeing 1,000 indexes keeps resident memory flat,
and inputs keep their reference counts."""
import gc
import os
import sys

import numpy as np
import vecscale


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cycle(i, x, q):
    # Flat mostly (its 1,000 vectors are 128 KB), every 10th an HNSW graph or an IVF-SQ8 index
    if i % 10 == 3:
        ix = vecscale.Index(32, "HNSW8", ef_construction=16)
        ix.add(x[:300])
    elif i % 10 == 7:
        ix = vecscale.Index(32, "IVF4,SQ8")
        ix.train(x[:300])
        ix.add(x)
    else:
        ix = vecscale.Index(32)
        ix.add(x)
    D, I = ix.search(q, 10, filter=lambda i: i % 2 == 0)
    ix.search(q, 10, filter=np.arange(0, 1000, 3))
    lims, RD, RI = ix.range_search(q[:2], 30.0)
    ix.reconstruct(5)
    ix.remove([1, 2])
    if i % 2:  # alternate between close() and the garbage collector's dealloc
        ix.close()


def test_thousand_indexes_keep_rss_flat():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1000, 32), dtype=np.float32)  # 128 KB of vectors an index (+ graph)
    q = rng.standard_normal((20, 32), dtype=np.float32)
    for i in range(100):  # warm up allocator pools and caches
        cycle(i, x, q)
    gc.collect()
    before = rss_bytes()
    refs = sys.getrefcount(x), sys.getrefcount(q)
    for i in range(1000):
        cycle(i, x, q)
    gc.collect()
    grown = rss_bytes() - before
    # one leaked index is > 128 KB; 1,000 would be > 128 MB
    assert grown < 8 << 20, f"resident memory grew by {grown / 2**20:.1f} MiB"
    assert (sys.getrefcount(x), sys.getrefcount(q)) == refs


def test_collections_and_models_free(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 16), dtype=np.float32)

    def once(i):
        c = vecscale.Collection.create(tmp_path / f"c{i}", 16)
        c.add(x, metadata=[{"a": 1}] * 200)
        c.query(x[0], k=5, filter={"a": 1})
        c.close()
        sq = vecscale.ScalarQuantizer(16, "SQ8")
        sq.train(x)
        sq.decode(sq.encode(x))

    for i in range(10):
        once(i)
    gc.collect()
    before = rss_bytes()
    for i in range(10, 110):
        once(i)
    gc.collect()
    assert rss_bytes() - before < 8 << 20
