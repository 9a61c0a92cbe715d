"""vecscale.faiss driven the way a FAISS user drives FAISS (the FAISS tutorial: IndexFlatL2,
IndexIVFFlat with a quantizer, IndexIVFPQ, HNSW, write/read), then compared with Debian's real
python3-faiss where it is importable."""
import time
import warnings

import numpy as np
import pytest

import vecscale
import vecscale.faiss as faiss

FLT_MAX = float(np.finfo(np.float32).max)

# The tutorial's data, smaller: d=64, the first coordinate shifted by the row number so the
# data has structure for IVF to find.
d = 64
nb = 20000
nq = 200
rng = np.random.default_rng(1234)
xb = rng.random((nb, d)).astype("float32")
xb[:, 0] += np.arange(nb) / 1000.
xq = rng.random((nq, d)).astype("float32")
xq[:, 0] += np.arange(nq) / 1000.


def exact_ids(x, q, k):
    d2 = (q * q).sum(1)[:, None] - 2 * q @ x.T + (x * x).sum(1)[None, :]
    return np.argsort(d2, axis=1, kind="stable")[:, :k]


def recall(I, gt):
    k = gt.shape[1]
    return np.mean([len(set(I[i, :k]) & set(gt[i])) / k for i in range(len(gt))])


GT = exact_ids(xb, xq, 10)


def real_faiss():
    """Debian's python3-faiss, or a skip whose reason is printed (pytest -rs and a warning)."""
    try:
        import faiss as real  # noqa: F401 (the real module, not vecscale.faiss)
    except ImportError as e:
        reason = "python3-faiss is not importable (%s): apt-get install -y python3-faiss" % e
        warnings.warn(reason)
        print("SKIP:", reason)
        pytest.skip(reason)
    assert real.__name__ == "faiss" and not hasattr(real, "vecscale_index")
    # FAISS's OpenMP threads spin while they wait: on a loaded machine two of them take
    # minutes for what one does in a second.
    real.omp_set_num_threads(1)
    return real


# ---- the tutorial, step by step ------------------------------------------------------------
def test_tutorial_flat():
    index = faiss.IndexFlatL2(d)
    assert index.is_trained
    index.add(xb)
    assert index.ntotal == nb and index.d == d and index.metric_type == faiss.METRIC_L2
    k = 4
    D, I = index.search(xb[:5], k)  # sanity check: each vector finds itself at distance 0
    assert I.shape == (5, k) and D.shape == (5, k)
    assert I.dtype == np.int64 and D.dtype == np.float32
    assert list(I[:, 0]) == [0, 1, 2, 3, 4]
    assert np.allclose(D[:, 0], 0, atol=1e-4)
    assert np.all(np.diff(D, axis=1) >= 0)  # ascending squared distances
    D, I = index.search(xq, k)
    assert (I[:, :4] == GT[:, :4]).mean() > 0.99
    # squared L2, as FAISS returns it
    want = ((xq[:3, None, :] - xb[I[:3]]) ** 2).sum(-1)
    assert np.allclose(D[:3], want, rtol=1e-4, atol=1e-3)


def test_tutorial_ivfflat():
    nlist = 100
    quantizer = faiss.IndexFlatL2(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist)
    assert not index.is_trained
    assert index.quantizer is quantizer and index.nlist == nlist and index.nprobe == 1
    index.train(xb)
    assert index.is_trained
    index.add(xb)
    D, I = index.search(xq, 10)
    r1 = recall(I, GT)
    index.nprobe = 10
    D, I = index.search(xq, 10)
    r10 = recall(I, GT)
    assert r10 > r1, (r1, r10)  # nprobe reaches the search
    index.nprobe = nlist
    D, I = index.search(xq, 10)
    assert recall(I, GT) > 0.99
    # per-call parameters override the attribute
    _, I1 = index.search(xq, 10, params=faiss.SearchParametersIVF(nprobe=1))
    assert abs(recall(I1, GT) - r1) < 1e-9


def test_tutorial_ivfpq():
    nlist, m = 100, 8
    quantizer = faiss.IndexFlatL2(d)
    index = faiss.IndexIVFPQ(quantizer, d, nlist, m, 8)
    index.train(xb)
    index.add(xb)
    D, I = index.search(xb[:5], 4)
    assert list(I[:, 0]) == [0, 1, 2, 3, 4]  # tutorial sanity check: most find themselves
    index.nprobe = 10
    D, I = index.search(xq, 10)
    assert recall(I, GT) > 0.3
    assert index.vecscale_index.code_size == m  # 8 bytes per vector
    v = index.reconstruct(7)
    assert v.shape == (d,) and v.dtype == np.float32
    assert np.linalg.norm(v - xb[7]) < np.linalg.norm(xb[7] - xb[8])


def test_tutorial_hnsw():
    index = faiss.IndexHNSWFlat(d, 16)
    assert index.hnsw.efSearch == 16 and index.hnsw.efConstruction == 40
    index.hnsw.efConstruction = 64
    index.add(xb)
    index.hnsw.efSearch = 16
    _, I16 = index.search(xq, 10)
    index.hnsw.efSearch = 128
    _, I128 = index.search(xq, 10)
    assert recall(I128, GT) > 0.9
    assert recall(I128, GT) >= recall(I16, GT)
    with pytest.raises(RuntimeError):
        index.hnsw.efConstruction = 32  # the graph exists already


def test_write_read(tmp_path):
    index = faiss.index_factory(d, "IVF50,Flat")
    index.train(xb)
    index.add(xb)
    index.nprobe = 4
    D, I = index.search(xq, 5)
    path = str(tmp_path / "ivf.index")
    faiss.write_index(index, path)
    for flags in (0, faiss.IO_FLAG_MMAP):
        back = faiss.read_index(path, flags)
        assert type(back) is faiss.IndexIVFFlat
        assert back.ntotal == nb and back.d == d and back.is_trained
        back.nprobe = 4
        D2, I2 = back.search(xq, 5)
        assert np.array_equal(I, I2) and np.allclose(D, D2)
    blob = faiss.serialize_index(index)
    assert blob.dtype == np.uint8
    again = faiss.deserialize_index(blob)
    again.nprobe = 4
    assert np.array_equal(again.search(xq, 5)[1], I)


# ---- FAISS's conventions ---------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: faiss.IndexFlatL2(4), lambda: faiss.IndexFlatIP(4), lambda: faiss.IndexHNSWFlat(4, 8),
    lambda: faiss.IndexHNSWFlat(4, 8, faiss.METRIC_INNER_PRODUCT)])
def test_padding_matches_faiss(make):
    index = make()
    x = np.random.default_rng(0).random((3, 4)).astype("float32")
    index.add(x)
    D, I = index.search(x[:1], 5)
    assert list(I[0, 3:]) == [-1, -1]
    pad = FLT_MAX if index.metric_type == faiss.METRIC_L2 else -FLT_MAX
    assert list(D[0, 3:]) == [pad, pad]
    assert np.all(np.isfinite(D))
    if index.metric_type == faiss.METRIC_L2:
        assert I[0, 0] == 0
    else:
        assert I[0, 0] == np.argmax(x @ x[0])


@pytest.mark.parametrize("metric", [faiss.METRIC_L2, faiss.METRIC_INNER_PRODUCT])
def test_empty_index_answers_padding(metric):
    for index in (faiss.IndexFlat(d, metric), faiss.IndexHNSWFlat(d, 8, metric)):
        D, I = index.search(xq[:3], 4)  # FAISS: -1 rows, not an error
        assert I.shape == (3, 4) and (I == -1).all()
        assert (D == (FLT_MAX if metric == faiss.METRIC_L2 else -FLT_MAX)).all()
        lims, D, I = index.range_search(xq[:3], 1.0)
        assert list(lims) == [0, 0, 0, 0] and D.size == 0 and I.size == 0
        index.add(xb[:2])
        index.remove_ids(np.arange(2))  # emptied again
        assert (index.search(xq[:1], 2)[1] == -1).all()


def test_shape_errors_match_faiss():
    index = faiss.IndexFlatL2(d)
    index.add(xb[:10])
    with pytest.raises(ValueError):
        index.search(xq[0], 1)  # 1-d: FAISS unpacks x.shape and fails
    with pytest.raises(AssertionError):
        index.search(xq[:, :10], 1)
    with pytest.raises(AssertionError):
        index.search(xq, 0)
    with pytest.raises(AssertionError):
        index.add_with_ids(xb[:3], np.arange(2))
    D, I = index.search(np.zeros((0, d), dtype="float32"), 3)
    assert D.shape == (0, 3) and I.shape == (0, 3)
    D, I = index.search(xq[:2].astype(np.float64), 1)  # converted like FAISS does
    assert I.shape == (2, 1)


def test_library_errors_are_runtime_errors(tmp_path):
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(d), d, 16)
    with pytest.raises(RuntimeError) as e:
        index.add(xb[:100])  # not trained
    assert isinstance(e.value, vecscale.NotTrainedError)
    assert isinstance(e.value, vecscale.Error) and e.value.code == -10
    with pytest.raises(RuntimeError) as e:
        faiss.read_index(str(tmp_path / "missing.index"))
    assert isinstance(e.value, vecscale.MissingFileError)
    with pytest.raises(RuntimeError):
        faiss.index_factory(d, "OPQ16,IVF64,PQ16")
    with pytest.raises(ValueError):
        faiss.IndexFlat(d, 23)  # METRIC_L1 etc. are not available


def test_ids_remove_reset_reconstruct():
    index = faiss.IndexFlatL2(d)
    index.add(xb[:100])
    index.add(xb[100:150])
    assert np.array_equal(index.search(xb[120:121], 1)[1], [[120]])  # add numbers from ntotal
    assert index.remove_ids(np.array([0, 1, 999])) == 2
    assert index.ntotal == 148
    assert index.search(xb[2:3], 1)[1][0, 0] == 2  # ids are kept (FAISS's Flat would shift)
    assert index.remove_ids(faiss.IDSelectorRange(140, 150)) == 10
    assert index.remove_ids(faiss.IDSelectorBatch(np.array([3, 4]))) == 2
    assert np.allclose(index.reconstruct(5), xb[5])
    assert np.allclose(index.reconstruct_n(5, 3), xb[5:8])
    with pytest.raises(KeyError):
        index.reconstruct(0)  # removed
    index.add(xb[:1])  # after a removal: a fresh id, never a collision
    assert index.search(xb[:1], 1)[1][0, 0] == 150
    index.reset()
    assert index.ntotal == 0
    index.add(xb[:10])
    assert np.array_equal(index.search(xb[:10], 1)[1].ravel(), np.arange(10))


def test_reset_keeps_training():
    index = faiss.IndexIVFPQ(faiss.IndexFlatL2(d), d, 32, 8, 8)
    index.train(xb[:5000])
    index.add(xb[:3000])
    index.remove_ids(np.arange(10))
    index.reset()
    assert index.ntotal == 0 and index.is_trained
    index.add(xb[:50])
    index.nprobe = 32
    assert np.array_equal(index.search(xb[:50], 1)[1].ravel()[:40] >= 0, np.ones(40, bool))
    assert index.search(xb[:50], 1)[1].max() < 50  # numbered from 0 again


def test_index_factory_classes():
    cases = {
        "Flat": faiss.IndexFlat, "IVF16,Flat": faiss.IndexIVFFlat, "IVF16,PQ8": faiss.IndexIVFPQ,
        "IVF16,PQ8x4fs": faiss.IndexIVFPQFastScan, "IVF16,SQ8": faiss.IndexIVFScalarQuantizer,
        "HNSW8": faiss.IndexHNSWFlat, "HNSW8,Flat": faiss.IndexHNSWFlat,
        "HNSW8,SQ8": faiss.IndexHNSWSQ, "PQ8": faiss.IndexPQ, "SQ8": faiss.IndexScalarQuantizer,
        "IVF16,PQ8x4fs,RFlat": faiss.IndexRefineFlat,
    }
    for s, cls in cases.items():
        index = faiss.index_factory(d, s)
        assert type(index) is cls, s
        assert isinstance(index, faiss.Index)
    ip = faiss.index_factory(d, "Flat", faiss.METRIC_INNER_PRODUCT)
    assert ip.metric_type == faiss.METRIC_INNER_PRODUCT


def test_refine_and_parameter_space():
    index = faiss.index_factory(d, "IVF32,PQ16x4fs,RFlat")
    index.train(xb)
    index.add(xb)
    assert index.k_factor == 1
    faiss.ParameterSpace().set_index_parameter(index, "nprobe", 8)
    assert faiss.extract_index_ivf(index).nprobe == 8 and index.base_index.nprobe == 8
    _, I1 = index.search(xq, 10)
    index.k_factor = 8
    _, I8 = index.search(xq, 10)
    assert recall(I8, GT) > recall(I1, GT)


def test_idmap():
    index = faiss.IndexIDMap(faiss.IndexFlatIP(d))
    ids = np.arange(1000, 1000 + 200, dtype=np.int64)
    index.add_with_ids(xb[:200], ids)
    assert index.ntotal == 200
    _, I = index.search(xb[:200], 1)
    assert set(I.ravel()) <= set(ids)
    with pytest.raises(RuntimeError):
        index.add(xb[:1])
    assert type(faiss.index_factory(d, "IDMap,Flat")) is faiss.IndexIDMap


def test_normalize_L2_and_inner_product_is_cosine():
    x = xb[:500].copy()
    faiss.normalize_L2(x)
    assert np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5)
    z = np.zeros((1, d), dtype="float32")
    faiss.normalize_L2(z)
    assert not z.any()
    with pytest.raises(TypeError):
        faiss.normalize_L2(xb[:2].astype(np.float64))
    q = xq[:20].copy()
    faiss.normalize_L2(q)
    ip = faiss.IndexFlatIP(d)
    ip.add(x)
    D, I = ip.search(q, 5)
    cos = vecscale.Index(d, "Flat", "cosine")
    cos.add(xb[:500])
    Dc, Ic = cos.search(xq[:20], 5)
    assert np.array_equal(I, Ic) and np.allclose(D, Dc, atol=1e-5)
    assert np.all(np.diff(D, axis=1) <= 0)  # similarities, largest first


def test_range_search():
    index = faiss.IndexFlatL2(d)
    index.add(xb[:2000])
    radius = 3.0
    lims, D, I = index.range_search(xq[:20], radius)
    assert lims.dtype == np.uint64 and lims.shape == (21,)
    for i in range(20):
        d2 = ((xb[:2000] - xq[i]) ** 2).sum(1)
        want = set(np.nonzero(d2 < radius)[0])
        got = set(I[lims[i]:lims[i + 1]])
        assert got == want
        assert np.all(D[lims[i]:lims[i + 1]] < radius)


# ---- against the real FAISS ------------------------------------------------------------------
def test_flat_same_ids_as_faiss():
    real = real_faiss()
    for ours, theirs in ((faiss.IndexFlatL2(d), real.IndexFlatL2(d)),
                         (faiss.IndexFlatIP(d), real.IndexFlatIP(d))):
        ours.add(xb)
        theirs.add(xb)
        D1, I1 = ours.search(xq, 10)
        D2, I2 = theirs.search(xq, 10)
        assert np.array_equal(I1, I2)
        assert np.allclose(D1, D2, rtol=1e-4, atol=1e-3)
        lims1, _, R1 = ours.range_search(xq[:10], 8.0 if ours.metric_type == 1 else 20.0)
        lims2, _, R2 = theirs.range_search(xq[:10], 8.0 if ours.metric_type == 1 else 20.0)
        for i in range(10):
            assert set(R1[lims1[i]:lims1[i + 1]]) == set(R2[lims2[i]:lims2[i + 1]])


def test_approximate_recall_close_to_faiss():
    real = real_faiss()
    # built the tutorial's way on both modules (the factory's "PQ16" would make FAISS train
    # polysemous codes, minutes on a loaded machine)
    cases = [
        ("IVFFlat", lambda m: m.IndexIVFFlat(m.IndexFlatL2(d), d, 100), {"nprobe": 8}),
        ("IVFPQ", lambda m: m.IndexIVFPQ(m.IndexFlatL2(d), d, 100, 16, 8), {"nprobe": 8}),
        ("HNSWFlat", lambda m: m.IndexHNSWFlat(d, 16), {"efSearch": 32}),
    ]
    for name, make, params in cases:
        recalls = []
        for mod in (faiss, real):
            t0 = time.perf_counter()
            index = make(mod)
            index.train(xb)
            index.add(xb)
            if "nprobe" in params:
                index.nprobe = params["nprobe"]
            else:
                index.hnsw.efSearch = params["efSearch"]
            _, I = index.search(xq, 10)
            recalls.append(recall(I, GT))
            print("%s %s: %.2f s" % (mod.__name__, name, time.perf_counter() - t0))
        ours, theirs = recalls
        print("%s %s: recall@10 vecscale %.3f faiss %.3f" % (name, params, ours, theirs))
        assert ours >= theirs - 0.05, (name, ours, theirs)
        assert ours > 0.3


# The FAISS tutorial (github.com/facebookresearch/faiss/wiki/Getting-started, smaller sizes),
# as a user writes it; only its first line differs between the two runs below.
TUTORIAL = '''
import numpy as np
d = 64                           # dimension
nb = 20000                       # database size
nq = 500                         # nb of queries
np.random.seed(1234)             # make reproducible
xb = np.random.random((nb, d)).astype('float32')
xb[:, 0] += np.arange(nb) / 1000.
xq = np.random.random((nq, d)).astype('float32')
xq[:, 0] += np.arange(nq) / 1000.

index = faiss.IndexFlatL2(d)   # build the index
assert index.is_trained
index.add(xb)                  # add vectors to the index
ntotal = index.ntotal
k = 4
D_sanity, I_sanity = index.search(xb[:5], k) # sanity check
D_flat, I_flat = index.search(xq, k)     # actual search

nlist = 100
quantizer = faiss.IndexFlatL2(d)  # the other index
index = faiss.IndexIVFFlat(quantizer, d, nlist)
assert not index.is_trained
index.train(xb)
assert index.is_trained
index.add(xb)                  # add may be a bit slower as well
D_ivf1, I_ivf1 = index.search(xq, k)     # actual search
index.nprobe = 10              # default nprobe is 1, try a few more
D_ivf10, I_ivf10 = index.search(xq, k)

m = 8                             # number of subquantizers
quantizer = faiss.IndexFlatL2(d)  # this remains the same
index = faiss.IndexIVFPQ(quantizer, d, nlist, m, 8)
                                  # 8 specifies that each sub-vector is encoded as 8 bits
index.train(xb)
index.add(xb)
D_pq_sanity, I_pq_sanity = index.search(xb[:5], k) # sanity check
index.nprobe = 10              # make comparable with experiment above
D_pq, I_pq = index.search(xq, k)     # search
'''


def test_tutorial_script_runs_unchanged_on_both():
    real = real_faiss()
    results = {}
    for name, module in (("vecscale", faiss), ("faiss", real)):
        ns = {"faiss": module}
        exec(compile(TUTORIAL, "<faiss tutorial>", "exec"), ns)
        results[name] = ns
    ours, theirs = results["vecscale"], results["faiss"]
    assert ours["ntotal"] == theirs["ntotal"] == 20000
    for key in ("I_sanity", "I_flat"):
        assert np.array_equal(ours[key], theirs[key]), key
    for key in ("D_sanity", "D_flat"):
        assert ours[key].dtype == np.float32 and np.allclose(ours[key], theirs[key], rtol=1e-4, atol=1e-3)
    gt = ours["I_flat"]

    def rec(I):
        return np.mean([len(set(a) & set(b)) / 4 for a, b in zip(I, gt)])
    for key in ("I_ivf1", "I_ivf10", "I_pq"):
        assert ours[key].shape == theirs[key].shape == (500, 4)
        print("%s: recall vs exact, vecscale %.3f faiss %.3f" % (key, rec(ours[key]), rec(theirs[key])))
        assert rec(ours[key]) >= rec(theirs[key]) - 0.05, key
    assert rec(ours["I_ivf10"]) > rec(ours["I_ivf1"])
    assert (ours["I_pq_sanity"][:, 0] == np.arange(5)).sum() >= 4
