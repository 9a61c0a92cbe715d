"""Every bad input raises the contract's exception with the library's message; none crashes."""
import os

import numpy as np
import pytest
import vecscale


@pytest.fixture
def ix(rng):
    i = vecscale.Index(8)
    i.add(rng.standard_normal((20, 8), dtype=np.float32))
    return i


def test_hierarchy():
    assert issubclass(vecscale.InvalidArgumentError, ValueError)
    assert issubclass(vecscale.NotTrainedError, RuntimeError)
    assert issubclass(vecscale.DuplicateIdError, ValueError)
    assert issubclass(vecscale.NotFoundError, KeyError)
    assert issubclass(vecscale.MissingFileError, FileNotFoundError)
    for c in (vecscale.StorageError, vecscale.CorruptFileError, vecscale.VersionError):
        assert issubclass(c, OSError)
    assert issubclass(vecscale.UnsupportedError, NotImplementedError)
    assert issubclass(vecscale.ClosedError, ValueError)
    for c in (vecscale.InvalidArgumentError, vecscale.ClosedError, vecscale.MissingFileError):
        assert issubclass(c, vecscale.Error)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array(["a"] * 8), "string"),
        (np.array([[object()] * 8]), "object"),
        (np.ones((2, 8), dtype=bool), "bool"),
        (np.ones((2, 8), dtype=complex), "complex"),
        ("abcdefgh", "string"),
        (None, "None"),
        (np.float32(1.0), "2-d"),
        (np.ones((2, 2, 8), dtype=np.float32), "2-d"),
        (np.ones((2, 7), dtype=np.float32), "dim"),
        (np.ones((2, 0), dtype=np.float32), "columns"),
        ([[1.0] * 8, [1.0] * 7], ""),
    ],
)
def test_bad_arrays(ix, bad, match):
    with pytest.raises(vecscale.InvalidArgumentError, match=match) as e:
        ix.search(bad, 3)
    assert e.value.code in (-1, -2)
    with pytest.raises(vecscale.InvalidArgumentError):
        ix.add(bad)


def test_dimension_error_code(ix):
    with pytest.raises(vecscale.InvalidArgumentError) as e:
        ix.add(np.ones((1, 9), dtype=np.float32))
    assert e.value.code == -2 and "dim = 8" in str(e.value)


@pytest.mark.parametrize("k", [0, -1, -10**30, 10**30, 100001, 2.5, "3", None, True])
def test_bad_k(ix, k):
    with pytest.raises(vecscale.InvalidArgumentError, match="k must"):
        ix.search(np.zeros(8), k)


@pytest.mark.filterwarnings("ignore:overflow encountered")
@pytest.mark.parametrize("v", [np.nan, np.inf, -np.inf, 1e39])
def test_non_finite(ix, v):
    x = np.ones((3, 8))
    x[1, 2] = v  # 1e39 overflows float32 to inf
    n = len(ix)
    with pytest.raises(vecscale.InvalidArgumentError, match="(?i)nan|inf|finite") as e:
        ix.add(x)
    assert e.value.code == -1
    assert len(ix) == n  # all or nothing
    with pytest.raises(vecscale.InvalidArgumentError):
        ix.search(x, 2)
    with pytest.raises(vecscale.InvalidArgumentError):
        ix.range_search(x, 1.0)


def test_zero_vector_under_cosine():
    c = vecscale.Index(4, metric="cosine")
    with pytest.raises(vecscale.InvalidArgumentError):
        c.add(np.zeros((1, 4)))


def test_empty_inputs(ix):
    assert ix.add(np.zeros((0, 8))).shape == (0,)
    D, I = ix.search(np.zeros((0, 8)), 4)
    assert D.shape == (0, 4) and I.shape == (0, 4)
    with pytest.raises(vecscale.InvalidArgumentError, match="at least one"):
        vecscale.Index(8, "IVF2,Flat").train(np.zeros((0, 8)))
    with pytest.raises(vecscale.InvalidArgumentError, match="empty") as e:
        vecscale.Index(8).search(np.zeros(8), 1)
    assert e.value.code == -11


@pytest.mark.parametrize("factory", ["Bogus", "IVF,Flat", "HNSW32 ", "", "PQ7"])
def test_unknown_factory(factory):
    with pytest.raises(vecscale.InvalidArgumentError) as e:
        vecscale.Index(8, factory)
    assert e.value.code in (-12, -1)
    assert str(e.value)


@pytest.mark.parametrize("kw", [dict(metric="manhattan"), dict(dim=0), dict(dim=-3), dict(dim=70000), dict(dim="8")])
def test_bad_constructor_args(kw):
    args = dict(dim=8)
    args.update(kw)
    with pytest.raises(vecscale.InvalidArgumentError):
        vecscale.Index(**args)


def test_untrained(rng):
    iv = vecscale.Index(8, "IVF4,Flat")
    x = rng.standard_normal((10, 8))
    with pytest.raises(vecscale.NotTrainedError) as e:
        iv.add(x)
    assert e.value.code == -10 and "train" in str(e.value)
    with pytest.raises(vecscale.NotTrainedError):
        iv.search(x, 1)
    with pytest.raises(vecscale.InvalidArgumentError):
        iv.train(x[:2])  # fewer vectors than lists


def test_ids(ix, rng):
    x = rng.standard_normal((2, 8))
    with pytest.raises(vecscale.DuplicateIdError) as e:
        ix.add(x, ids=[0, 1000])
    assert e.value.code == -9
    with pytest.raises(vecscale.DuplicateIdError):
        ix.add(x, ids=[1000, 1000])
    with pytest.raises(vecscale.InvalidArgumentError, match="negative"):
        ix.add(x, ids=[-1, 5000])
    with pytest.raises(vecscale.InvalidArgumentError, match="ids"):
        ix.add(x, ids=[1])
    with pytest.raises(vecscale.InvalidArgumentError, match="integers"):
        ix.add(x, ids=[1.5, 2.5])
    with pytest.raises(vecscale.InvalidArgumentError, match="2\\^63"):
        ix.add(x, ids=np.array([2**63, 1], dtype=np.uint64))
    with pytest.raises(vecscale.NotFoundError):
        ix.reconstruct(12345)
    with pytest.raises(vecscale.InvalidArgumentError):
        ix.reconstruct("x")
    with pytest.raises(vecscale.InvalidArgumentError):
        ix.search(np.zeros(8), 3, filter="123")
    with pytest.raises(vecscale.InvalidArgumentError, match="negative"):
        ix.search(np.zeros(8), 3, filter=[-4])


def test_bad_search_params(ix):
    for kw in (dict(nprobe=-1), dict(ef=-5), dict(threads=-1), dict(k_factor=0.5), dict(k_factor="x"),
               dict(nprobe=2**40)):
        with pytest.raises((vecscale.InvalidArgumentError, TypeError)):
            ix.search(np.zeros(8), 3, **kw)


def test_closed_objects(ix, rng):
    ix.close()
    ix.close()  # idempotent
    for call in (lambda: ix.search(np.zeros(8), 1), lambda: ix.add(np.zeros((1, 8))), lambda: len(ix),
                 lambda: ix.dim, lambda: ix.save("/tmp/x.vsi"), lambda: ix.reconstruct(0), lambda: ix.remove([0]),
                 lambda: ix.train(np.zeros((1, 8))), lambda: ix.memory_bytes, lambda: ix.range_search(np.zeros(8), 1)):
        with pytest.raises(vecscale.ClosedError):
            call()
    assert "closed" in repr(ix)
    with vecscale.Index(4) as j:
        j.add(np.ones((1, 4)))
    with pytest.raises(vecscale.ClosedError):
        j.search(np.ones(4), 1)
    with pytest.raises(vecscale.ClosedError):
        with j:
            pass
    raw = vecscale.Index.__new__(vecscale.Index)  # never initialised
    with pytest.raises(vecscale.ClosedError):
        raw.search(np.zeros(4), 1)


def test_files(tmp_path, ix):
    with pytest.raises(vecscale.MissingFileError) as e:
        vecscale.Index.load(tmp_path / "nope.vsi")
    assert isinstance(e.value, FileNotFoundError) and "nope.vsi" in str(e.value)
    with pytest.raises(vecscale.MissingFileError):
        vecscale.Index.view(str(tmp_path / "nope.vsi"))
    p = tmp_path / "a.vsi"
    ix.save(p)
    data = bytearray(p.read_bytes())
    bad = tmp_path / "bad.vsi"
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(vecscale.CorruptFileError):
        vecscale.Index.load(bad)
    short = tmp_path / "short.vsi"
    short.write_bytes(p.read_bytes()[:40])
    with pytest.raises(vecscale.CorruptFileError):
        vecscale.Index.load(short)
    (tmp_path / "junk.vsi").write_bytes(b"hello world, not an index" * 10)
    with pytest.raises((vecscale.CorruptFileError, vecscale.VersionError)):
        vecscale.Index.view(tmp_path / "junk.vsi")
    with pytest.raises(vecscale.Error) as e:
        ix.save(tmp_path / "no" / "such" / "dir" / "x.vsi")
    assert isinstance(e.value, OSError)
    with pytest.raises(vecscale.Error):
        vecscale.Index.load(tmp_path)  # a directory


def test_one_version():
    """The package, the linked library and the header CMake generated from project(VERSION)
    carry the same version (python/setup.py reads that header too)."""
    from conftest import BUILD

    with open(os.path.join(BUILD, "include", "vecscale_version.h")) as f:
        macro = [line.split('"')[1] for line in f if line.startswith("#define VS_VERSION_STRING ")]
    assert macro and vecscale.version() == macro[0] == vecscale.__version__
