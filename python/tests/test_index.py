"""Index: results against numpy brute force, persistence, stored vectors, filters, inputs."""
import os

import numpy as np
import pytest
import vecscale
from vecscale import _vecscale

from conftest import brute_force, recall


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_flat_matches_brute_force(rng, metric):
    x = rng.standard_normal((3000, 24), dtype=np.float32)
    q = rng.standard_normal((50, 24), dtype=np.float32)
    ix = vecscale.Index(24, "Flat", metric=metric)
    ids = ix.add(x)
    assert ids.dtype == np.int64 and (ids == np.arange(3000)).all()
    D, I = ix.search(q, 10)
    assert D.shape == (50, 10) and D.dtype == np.float32 and I.dtype == np.int64
    tD, tI = brute_force(x, q, 10, metric)
    assert (I == tI).all()
    np.testing.assert_allclose(D, tD, rtol=1e-4, atol=1e-3)


def test_hnsw_and_ivf_recall(rng):
    x = rng.standard_normal((5000, 32), dtype=np.float32)
    q = rng.standard_normal((100, 32), dtype=np.float32)
    _, tI = brute_force(x, q, 10)
    h = vecscale.Index(32, "HNSW16", seed=1)
    h.add(x)
    assert recall(h.search(q, 10, ef=128)[1], tI) >= 0.9
    iv = vecscale.Index(32, "IVF32,Flat", seed=1)
    assert not iv.is_trained
    iv.train(x)
    assert iv.is_trained
    iv.add(x)
    assert recall(iv.search(q, 10, nprobe=32)[1], tI) == 1.0  # nprobe = nlist is exact
    assert recall(iv.search(q, 10, nprobe=8)[1], tI) >= 0.6
    pq = vecscale.Index(32, "IVF32,PQ16x4fs,RFlat", seed=1)
    pq.train(x)
    pq.add(x)
    assert recall(pq.search(q, 10, nprobe=32, k_factor=8)[1], tI) >= 0.9


def test_add_with_ids_and_automatic_ids_continue(rng):
    x = rng.standard_normal((10, 8), dtype=np.float32)
    ix = vecscale.Index(8)
    assert (ix.add(x[:5], ids=[100, 7, 3, 50, 8]) == [100, 7, 3, 50, 8]).all()
    assert (ix.add(x[5:]) == np.arange(101, 106)).all()
    D, I = ix.search(x[1], 1)
    assert I.shape == (1, 1) and I[0, 0] == 7
    assert len(ix) == 10


def test_padding_when_fewer_than_k(rng):
    ix = vecscale.Index(4)
    ix.add(rng.standard_normal((3, 4)))
    D, I = ix.search(np.zeros(4), 5)
    assert (I[0, 3:] == -1).all() and np.isinf(D[0, 3:]).all() and (I[0, :3] >= 0).all()


@pytest.mark.parametrize("factory", ["Flat", "HNSW16", "IVF8,Flat", "IVF8,SQ8", "HNSW16,SQ8", "IVF8,PQ8x4fs,RFlat"])
def test_save_load_view_round_trip(tmp_path, rng, factory):
    x = rng.standard_normal((800, 16), dtype=np.float32)
    q = rng.standard_normal((20, 16), dtype=np.float32)
    ix = vecscale.Index(16, factory, metric="cosine", seed=3)
    if not ix.is_trained:
        ix.train(x)
    ix.add(x)
    D, I = ix.search(q, 5, nprobe=4, ef=32)
    path = str(tmp_path / "a.vsi")
    ix.save(path)
    for opened in (vecscale.Index.load(path), vecscale.Index.view(path)):
        with opened as o:
            assert (o.dim, o.metric, o.factory, len(o)) == (16, "cosine", ix.factory, 800)
            D2, I2 = o.search(q, 5, nprobe=4, ef=32)
            assert (I2 == I).all()
            np.testing.assert_array_equal(D2, D)
        assert o.closed
    v = vecscale.Index.view(path)
    assert v.is_mapped
    new = v.add(x[:1] + 0.5)  # the first write copies what it changes out of the mapping
    assert len(v) == 801
    if "RFlat" not in factory:  # (the ",RFlat" wrapper keeps reading its originals from the map)
        assert not v.is_mapped
    assert v.search(x[:1] + 0.5, 1, nprobe=8, ef=64)[1][0, 0] == new[0]
    # pathlib paths work too
    vecscale.Index.load(tmp_path / "a.vsi").close()


def test_reconstruct_get_remove(rng):
    x = rng.standard_normal((100, 12), dtype=np.float32)
    ix = vecscale.Index(12, "HNSW8")
    ix.add(x, ids=np.arange(1000, 1100))
    np.testing.assert_array_equal(ix.reconstruct(1005), x[5])
    np.testing.assert_array_equal(ix.get([1001, 1002]), x[1:3])
    assert ix.remove([1001, 1002, 5]) == 2
    assert len(ix) == 98
    with pytest.raises(vecscale.NotFoundError):
        ix.reconstruct(1001)
    D, I = ix.search(x[1], 3)
    assert 1001 not in I
    assert ix.remove([]) == 0


def test_reconstruct_quantised_is_approximate(rng):
    x = rng.standard_normal((500, 16), dtype=np.float32)
    ix = vecscale.Index(16, "SQ8")
    ix.train(x)
    ix.add(x)
    err = np.abs(ix.reconstruct(3) - x[3]).max()
    assert 0 < err < 0.1


def test_range_search_matches_brute_force(rng):
    x = rng.standard_normal((2000, 8), dtype=np.float32)
    q = rng.standard_normal((10, 8), dtype=np.float32)
    ix = vecscale.Index(8)
    ix.add(x)
    lims, D, I = ix.range_search(q, 4.0)
    assert lims.shape == (11,) and lims[0] == 0 and lims[-1] == len(I) == len(D)
    d = ((q[:, None, :].astype(np.float64) - x[None]) ** 2).sum(-1)
    for i in range(10):
        want = set(np.nonzero(d[i] < 4.0)[0])
        got = I[lims[i]:lims[i + 1]]
        assert set(got) == want
        assert (np.diff(D[lims[i]:lims[i + 1]]) >= 0).all()


def test_filters(rng):
    x = rng.standard_normal((1000, 8), dtype=np.float32)
    q = rng.standard_normal((5, 8), dtype=np.float32)
    ix = vecscale.Index(8)
    ix.add(x)
    allowed = np.array([3, 10, 500, 999, 77, 200])
    _, tI = brute_force(x[allowed], q, 4)
    want = allowed[tI]
    for f in (allowed, set(allowed.tolist()), list(allowed), frozenset(allowed.tolist()), lambda i: i in set(allowed)):
        D, I = ix.search(q, 4, filter=f)
        assert (I == want).all(), f
    # sparse large ids use a sorted array, not a bitset
    big = vecscale.Index(8)
    big.add(x[:3], ids=[5, 10**15, 2 * 10**15])
    assert (big.search(x[1], 3, filter={10**15})[1][0] == [10**15, -1, -1]).all()
    assert (ix.search(q, 4, filter=set())[1] == -1).all()  # nothing allowed
    # range search takes filters too
    lims, D, I = ix.range_search(q, 1e9, filter=allowed)
    assert set(I) == set(allowed)


def test_callable_filter_exception_propagates(rng):
    ix = vecscale.Index(8)
    ix.add(rng.standard_normal((100, 8)))

    class Boom(Exception):
        pass

    calls = []

    def bad(i):
        calls.append(i)
        raise Boom("from the filter")

    with pytest.raises(Boom, match="from the filter"):
        ix.search(np.zeros((3, 8)), 5, filter=bad)
    assert len(calls) == 1  # the first exception stops further calls
    with pytest.raises(Boom):
        ix.search(np.zeros((3, 8)), 5, filter=bad, threads=2)
    with pytest.raises(ZeroDivisionError):
        ix.range_search(np.zeros(8), 10.0, filter=lambda i: 1 / 0)
    # a filter result that is not a bool-able object
    class NoBool:
        def __bool__(self):
            raise ValueError("no truth")

    with pytest.raises(ValueError, match="no truth"):
        ix.search(np.zeros(8), 5, filter=lambda i: NoBool())
    # the index is still fine
    assert ix.search(np.zeros(8), 5)[1].shape == (1, 5)


def test_filter_cannot_reenter_its_index(rng):
    ix = vecscale.Index(8)
    ix.add(rng.standard_normal((10, 8)))
    with pytest.raises(vecscale.InvalidArgumentError, match="own search filter"):
        ix.search(np.zeros(8), 3, filter=lambda i: ix.close())
    other = vecscale.Index(8)
    other.add(rng.standard_normal((10, 8)))
    # another index may be used from the filter
    D, I = ix.search(np.zeros(8), 3, filter=lambda i: len(other) == 10)
    assert (I >= 0).all()
    assert not ix.closed


def test_inputs_converted_once_and_not_when_float32_c(rng):
    ix = vecscale.Index(16)
    x = rng.standard_normal((50, 16), dtype=np.float32)
    before = _vecscale._conversions()
    ix.add(x)
    ix.search(x, 3)
    ix.search(x[0], 3)  # a 1-d C-contiguous float32 row
    ix.add(x, ids=np.arange(1000, 1050, dtype=np.int64))
    assert _vecscale._conversions() == before
    for y in (x.astype(np.float64), np.asfortranarray(x), x[:, ::-1].copy()[:, ::-1], x.astype(">f4"), x.tolist()):
        c0 = _vecscale._conversions()
        D, I = ix.search(y, 3)
        assert _vecscale._conversions() == c0 + 1
        assert (I == ix.search(x, 3)[1]).all()
    ints = np.arange(32).reshape(2, 16)
    D1, I1 = ix.search(ints, 3)
    D2, I2 = ix.search(ints.astype(np.float32), 3)
    assert (I1 == I2).all()


def test_properties_and_repr():
    ix = vecscale.Index(10, "IVF4,PQ5x4fs,RFlat", metric="ip")
    assert ix.dim == 10 and ix.metric == "ip" and "IVF4" in ix.factory
    assert ix.memory_bytes > 0 and ix.code_size > 0 and not ix.is_trained
    assert "Index" in repr(ix) and "IVF4" in repr(ix)
    import inspect

    assert "filter" in str(inspect.signature(vecscale.Index.search))
    assert "nearest" in vecscale.Index.search.__doc__ and "factory" in vecscale.Index.__doc__
    f = vecscale.Index(10)
    assert f.code_size == 40 and f.is_trained and len(f) == 0


def test_threads_parameter_gives_same_results(rng):
    x = rng.standard_normal((3000, 16), dtype=np.float32)
    q = rng.standard_normal((64, 16), dtype=np.float32)
    ix = vecscale.Index(16, "HNSW16", threads=2)
    ix.add(x)
    a = ix.search(q, 10, ef=64)
    b = ix.search(q, 10, ef=64, threads=2)
    assert (a[1] == b[1]).all()
