"""FAISS-compatible front end to vecscale: ``import vecscale.faiss as faiss``.

A script written for FAISS's Python module runs unchanged for the indexes below; the work is
done by ``vecscale.Index``. Shapes, dtypes and conventions follow FAISS:

* ``search(x, k)`` takes an ``(n, d)`` array (a 1-d array raises ``ValueError`` as in FAISS; a
  wrong ``d`` or ``k <= 0`` raises ``AssertionError`` as in FAISS) and returns ``D`` float32
  ``(n, k)`` and ``I`` int64 ``(n, k)``. L2 distances are squared; inner products are
  similarities (largest first). Missing results have ``I == -1`` and ``D == +FLT_MAX`` (L2) or
  ``-FLT_MAX`` (inner product), as in FAISS.
* ``range_search(x, thresh)`` returns ``(lims, D, I)`` with ``lims`` uint64 of length ``n + 1``.
* ``METRIC_INNER_PRODUCT == 0`` and ``METRIC_L2 == 1`` (FAISS's values); ``metric_type`` holds one.
* ``add(x)`` numbers vectors ``ntotal, ntotal + 1, ...``; ``nprobe`` defaults to 1,
  ``hnsw.efSearch`` to 16, ``hnsw.efConstruction`` to 40 and ``k_factor`` to 1, FAISS's defaults.
* Errors from the library are raised as vecscale's exception classes mixed with
  ``RuntimeError``, so both ``except RuntimeError`` (FAISS code) and ``except vecscale.Error``
  catch them.
* Batch calls use ``omp_get_max_threads()`` threads (all CPUs, as FAISS's OpenMP does);
  ``omp_set_num_threads(n)`` changes it. A single query runs on the calling thread.

Where vecscale differs from FAISS:

* **Ids are kept, never renumbered.** FAISS's ``IndexFlat.remove_ids`` shifts the ids of the
  vectors after the removed ones; vecscale keeps every id. After a ``remove_ids`` (or an
  ``add_with_ids``), ``add`` numbers new vectors after the largest id ever assigned instead of
  from ``ntotal``, so ids never collide (FAISS's IVF would hand out duplicate ids there).
* **Every index takes ``add_with_ids``**, Flat and HNSW included (FAISS needs an
  ``IndexIDMap`` around them; ``IndexIDMap``/``IndexIDMap2`` exist here and behave like FAISS's).
  Ids must be unique and ``>= 0`` (FAISS allows duplicates in IVF indexes; vecscale raises).
* **HNSW supports ``remove_ids``** (FAISS raises). ``hnsw.efConstruction`` is used when the graph
  is created, so it takes effect when set before the first ``train``/``add`` (FAISS reads it at
  every ``add``); setting it later raises ``RuntimeError``.
* **IVF quantizers are internal.** ``IndexIVFFlat(quantizer, d, nlist)`` accepts FAISS's
  quantizer argument and keeps it as ``.quantizer``, but vecscale trains its own coarse
  centroids (k-means) in ``train``; a pre-trained quantizer's centroids are not used and the
  quantizer object is not filled.
* **An IVF search returns ``k`` results whenever the index holds ``k`` vectors**: when the
  ``nprobe`` lists hold fewer, vecscale keeps visiting lists in centroid order, where FAISS
  pads with ``-1``.
* **``remove_ids`` takes an id array** or one of ``IDSelectorBatch``/``IDSelectorArray``/
  ``IDSelectorRange`` defined here (they carry ids, not FAISS's C++ selector objects); other
  selectors raise ``TypeError``.
* **Files are vecscale's format** (magic, version, checksums; written atomically), not
  FAISS's: ``read_index`` cannot read a file written by FAISS and FAISS cannot read ours.
  ``read_index(path, IO_FLAG_MMAP)`` maps the file read-only (``vecscale.Index.view``).
* **Factory strings** are vecscale's, which follow FAISS's for ``Flat``, ``IVF<n>,Flat``,
  ``IVF<n>,PQ<m>[x<bits>][fs]``, ``IVF<n>,SQ8|SQ4|SQfp16|SQbf16``, ``HNSW<M>[,Flat|,SQ8...]``,
  ``PQ<m>``, ``SQ8``, ``...,RFlat`` and an ``IDMap,``/``IDMap2,`` prefix. Transforms
  (``PCA``, ``OPQ``), ``LSH``, binary and GPU indexes are not available and raise.
* **Only ``METRIC_L2`` and ``METRIC_INNER_PRODUCT``.** For cosine, normalise with
  ``normalize_L2`` and use inner product, as with FAISS (or use ``vecscale.Index(metric="cosine")``).
"""
import os
import re
import tempfile

import numpy as np

import vecscale as _vs

__all__ = [
    "METRIC_INNER_PRODUCT", "METRIC_L2", "IO_FLAG_MMAP", "IO_FLAG_READ_ONLY",
    "Index", "IndexFlat", "IndexFlatL2", "IndexFlatIP", "IndexIVF", "IndexIVFFlat",
    "IndexIVFPQ", "IndexIVFPQFastScan", "IndexIVFScalarQuantizer", "IndexHNSW", "IndexHNSWFlat",
    "IndexHNSWSQ", "IndexPQ", "IndexScalarQuantizer", "IndexRefineFlat", "IndexIDMap",
    "IndexIDMap2", "HNSWParameters", "SearchParameters", "SearchParametersIVF",
    "SearchParametersHNSW", "IDSelectorBatch", "IDSelectorArray", "IDSelectorRange",
    "ParameterSpace", "index_factory", "write_index", "read_index", "serialize_index",
    "deserialize_index", "normalize_L2", "extract_index_ivf", "omp_set_num_threads",
    "omp_get_max_threads",
]

METRIC_INNER_PRODUCT = 0
"""FAISS's metric id for inner product (similarity: larger is better)."""
METRIC_L2 = 1
"""FAISS's metric id for (squared) Euclidean distance."""
IO_FLAG_READ_ONLY = 2
"""``read_index`` flag, accepted for compatibility (loading never writes the file)."""
IO_FLAG_MMAP = 4
"""``read_index`` flag: map the file read-only instead of reading it (``vecscale.Index.view``)."""

_FLT_MAX = float(np.finfo(np.float32).max)
_METRIC_NAMES = {METRIC_L2: "l2", METRIC_INNER_PRODUCT: "ip"}
_METRIC_IDS = {"l2": METRIC_L2, "ip": METRIC_INNER_PRODUCT}


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


_threads = _cpu_count()


def omp_set_num_threads(n):
    """Sets the threads that batch ``search``/``add``/``train`` calls use (FAISS: OpenMP's)."""
    global _threads
    n = int(n)
    if n < 1:
        raise ValueError("omp_set_num_threads: n must be >= 1")
    _threads = n


def omp_get_max_threads():
    """The threads batch calls use: all CPUs of this process unless ``omp_set_num_threads``."""
    return _threads


# ---- errors: vecscale's classes, also RuntimeError (what FAISS raises) -------------------
_mixed = {}


def _as_runtime(e):
    cls = type(e)
    if isinstance(e, RuntimeError):
        return e
    mixed = _mixed.get(cls)
    if mixed is None:
        mixed = type(cls.__name__, (cls, RuntimeError), {"__module__": __name__})
        _mixed[cls] = mixed
    new = mixed(*e.args)
    new.__dict__.update(getattr(e, "__dict__", {}))
    return new


def _faiss_errors(fn):
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except _vs.Error as e:
            raise _as_runtime(e) from e
    wrapper.__name__ = fn.__name__
    wrapper.__qualname__ = fn.__qualname__
    wrapper.__doc__ = fn.__doc__
    wrapper.__wrapped__ = fn
    return wrapper


# ---- argument checks, the way FAISS's Python wrappers do them -----------------------------
def _matrix(x, d):
    if not hasattr(x, "shape"):
        x = np.asarray(x)
    n, xd = x.shape  # a 1-d array raises ValueError here, as in FAISS
    if xd != d:
        raise AssertionError("vectors have dimension %d, the index %d" % (xd, d))
    return np.ascontiguousarray(x, dtype=np.float32), n


def _check_k(k):
    if not int(k) > 0:
        raise AssertionError("k must be > 0")
    return int(k)


def _batch_threads(n):
    return min(_threads, n) if n > 1 else 1


# ---- parameters ---------------------------------------------------------------------------
class SearchParameters:
    """Per-call parameters (FAISS's ``SearchParameters``): pass as ``search(..., params=p)``."""

    def __init__(self, **kwargs):
        for name, value in kwargs.items():
            setattr(self, name, value)


class SearchParametersIVF(SearchParameters):
    """Per-call IVF parameters: ``nprobe`` (lists visited)."""

    def __init__(self, nprobe=None, **kwargs):
        super().__init__(**kwargs)
        self.nprobe = nprobe


class SearchParametersHNSW(SearchParameters):
    """Per-call HNSW parameters: ``efSearch`` (candidate list size)."""

    def __init__(self, efSearch=None, **kwargs):
        super().__init__(**kwargs)
        self.efSearch = efSearch


class HNSWParameters:
    """``index.hnsw``: ``efSearch`` (default 16), ``efConstruction`` (default 40, used when the
    graph is created: set it before the first ``add``) and ``M`` (read-only)."""

    def __init__(self, owner, M):
        self._owner = owner
        self._M = M

    @property
    def M(self):
        """Links per node (the ``M`` of ``IndexHNSWFlat(d, M)``)."""
        return self._M

    @property
    def efSearch(self):
        """Candidate list size of a search (FAISS default 16; at least ``k`` is used)."""
        return self._owner._params["ef"]

    @efSearch.setter
    def efSearch(self, value):
        value = int(value)
        if value < 1:
            raise ValueError("efSearch must be >= 1")
        self._owner._params["ef"] = value

    @property
    def efConstruction(self):
        """Candidate list size while building (FAISS default 40)."""
        return self._owner._params["efc"]

    @efConstruction.setter
    def efConstruction(self, value):
        value = int(value)
        if value < 1:
            raise ValueError("efConstruction must be >= 1")
        self._owner._set_efc(value)


# ---- id selectors --------------------------------------------------------------------------
class IDSelectorBatch:
    """Selects the ids in an array: ``IDSelectorBatch(ids)`` or FAISS's ``(n, ids)`` form."""

    def __init__(self, *args):
        ids = args[-1]
        self.ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        if len(args) == 2:
            self.ids = self.ids[:int(args[0])]

    def _ids(self, index):
        return self.ids


class IDSelectorArray(IDSelectorBatch):
    """Same as ``IDSelectorBatch`` (FAISS distinguishes them by lookup structure only)."""


class IDSelectorRange:
    """Selects ids in ``[imin, imax)``."""

    def __init__(self, imin, imax):
        self.imin = int(imin)
        self.imax = int(imax)

    def _ids(self, index):
        return np.arange(max(self.imin, 0), max(self.imax, 0), dtype=np.int64)


# ---- factory strings ---------------------------------------------------------------------
_FACTORY_RE = re.compile(
    r"^(?:(?P<ivf>IVF(?P<nlist>\d+))|(?P<hnsw>HNSW(?P<M>\d+)))?"
    r"(?:,?(?P<code>Flat|SQ8|SQ4|SQfp16|SQbf16|PQ(?P<pqm>\d+)(?:x(?P<bits>\d+))?(?P<fs>fs)?))?"
    r"(?P<rflat>,RFlat)?$")


def _parse_factory(s):
    m = _FACTORY_RE.match(s)
    if not m or not (m.group("ivf") or m.group("hnsw") or m.group("code")):
        return None
    return m


def _class_for(factory):
    m = _parse_factory(factory)
    if m is None:
        return Index
    if m.group("rflat"):
        return IndexRefineFlat
    code = m.group("code") or "Flat"
    if m.group("ivf"):
        if code == "Flat":
            return IndexIVFFlat
        if code.startswith("PQ"):
            return IndexIVFPQFastScan if m.group("fs") else IndexIVFPQ
        return IndexIVFScalarQuantizer
    if m.group("hnsw"):
        return IndexHNSWFlat if code == "Flat" else IndexHNSWSQ
    if code == "Flat":
        return IndexFlat
    if code.startswith("PQ"):
        return IndexPQ
    return IndexScalarQuantizer


# ---- indexes -------------------------------------------------------------------------------
class Index:
    """Base of every index: ``d``, ``ntotal``, ``is_trained``, ``metric_type``, ``train``,
    ``add``, ``add_with_ids``, ``search``, ``range_search``, ``assign``, ``remove_ids``,
    ``reconstruct``, ``reconstruct_n``, ``reconstruct_batch``, ``reset``. Build one with a
    subclass or ``index_factory``."""

    def _setup(self, d, factory, metric):
        d = int(d)
        if metric not in _METRIC_NAMES:
            raise ValueError("metric %r: vecscale.faiss supports METRIC_L2 and METRIC_INNER_PRODUCT"
                             % (metric,))
        self._d = d
        self._metric = metric
        self._factory = factory
        self._params = {"nprobe": 1, "ef": 16, "efc": 40, "k_factor": 1.0}
        self._efc_used = None
        self._seq = True
        m = _parse_factory(factory)
        self._nlist = int(m.group("nlist")) if m is not None and m.group("nlist") else 0
        self._hnsw_m = int(m.group("M")) if m is not None and m.group("M") else 0
        self._ix = self._create()
        self._needs_training = not self._ix.is_trained

    @_faiss_errors
    def _create(self):
        kwargs = {"threads": _threads}
        if self._hnsw_m:
            kwargs["ef_construction"] = self._params["efc"]
            try:
                ix = _vs.Index(self._d, self._factory, _METRIC_NAMES[self._metric], **kwargs)
                self._efc_used = self._params["efc"]
                return ix
            except TypeError:
                # A core without the ef_construction keyword: the library's default is used.
                del kwargs["ef_construction"]
        return _vs.Index(self._d, self._factory, _METRIC_NAMES[self._metric], **kwargs)

    @classmethod
    def _wrap(cls, ix):
        self = cls.__new__(cls)
        self._d = ix.dim
        metric = ix.metric
        if metric not in _METRIC_IDS:
            raise _as_runtime(_vs.UnsupportedError(
                "index metric %r has no FAISS equivalent (use vecscale.Index directly)" % metric))
        self._metric = _METRIC_IDS[metric]
        self._factory = ix.factory
        self._params = {"nprobe": 1, "ef": 16, "efc": 40, "k_factor": 1.0}
        self._efc_used = None
        self._seq = False
        m = _parse_factory(self._factory)
        self._nlist = int(m.group("nlist")) if m is not None and m.group("nlist") else 0
        self._hnsw_m = int(m.group("M")) if m is not None and m.group("M") else 0
        self._needs_training = bool(self._nlist) or (
            m is not None and (m.group("code") or "Flat") not in ("Flat", "SQfp16", "SQbf16"))
        self._ix = ix
        if self._hnsw_m:
            self.hnsw = HNSWParameters(self, self._hnsw_m)
        return self

    def _set_efc(self, value):
        if value == self._params["efc"]:
            return
        if len(self._ix) or (self._needs_training and self._ix.is_trained) or self._efc_used is None:
            raise RuntimeError("vecscale.faiss: efConstruction must be set before the first "
                               "train/add (the graph is built with it)")
        self._params["efc"] = value
        self._ix.close()
        self._ix = self._create()

    # -- properties
    @property
    def d(self):
        """Vector dimension."""
        return self._d

    @property
    def ntotal(self):
        """Number of vectors in the index."""
        return len(self._ix)

    @property
    def is_trained(self):
        """False until ``train`` for indexes that need training (IVF, PQ, SQ8/SQ4)."""
        return bool(self._ix.is_trained)

    @property
    def metric_type(self):
        """``METRIC_L2`` or ``METRIC_INNER_PRODUCT``."""
        return self._metric

    @property
    def factory(self):
        """vecscale's canonical factory string of this index."""
        return self._ix.factory

    @property
    def vecscale_index(self):
        """The underlying ``vecscale.Index`` (for filters, ``save``, ``memory_bytes``, ...)."""
        return self._ix

    # -- training and adding
    @_faiss_errors
    def train(self, x):
        """Trains on ``x`` (n, d) (IVF centroids, PQ codebooks, SQ ranges); no-op for Flat."""
        x, n = _matrix(x, self._d)
        self._ix.train(x)

    @_faiss_errors
    def add(self, x):
        """Adds ``x`` (n, d); the vectors get ids ``ntotal .. ntotal + n - 1`` (after a
        ``remove_ids``/``add_with_ids``: after the largest id ever assigned)."""
        x, n = _matrix(x, self._d)
        if n == 0:
            return
        ids = np.arange(self.ntotal, self.ntotal + n, dtype=np.int64) if self._seq else None
        self._ix.add(x, ids)

    @_faiss_errors
    def add_with_ids(self, x, ids):
        """Adds ``x`` (n, d) with the given int64 ids (unique, >= 0)."""
        x, n = _matrix(x, self._d)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if ids.shape != (n,):
            raise AssertionError("not same nb of vectors as ids")
        if n == 0:
            return
        self._ix.add(x, ids)
        self._seq = False

    # -- searching
    def _search_kwargs(self, params):
        return {}

    @_faiss_errors
    def search(self, x, k, *, params=None, D=None, I=None):
        """k nearest neighbours of each row of ``x`` (n, d): returns ``D`` float32 (n, k)
        (squared L2 distances, or inner products largest first) and ``I`` int64 (n, k), ``-1``
        where fewer than ``k`` results exist. ``D``/``I`` may be preallocated outputs."""
        x, n = _matrix(x, self._d)
        k = _check_k(k)
        if D is not None and D.shape != (n, k):
            raise AssertionError("D has shape %r, expected %r" % (D.shape, (n, k)))
        if I is not None and I.shape != (n, k):
            raise AssertionError("I has shape %r, expected %r" % (I.shape, (n, k)))
        if n == 0 or len(self._ix) == 0:
            # FAISS answers an empty index with padding rows; the library refuses the search
            pad = _FLT_MAX if self._metric == METRIC_L2 else -_FLT_MAX
            dist = np.full((n, k), pad, dtype=np.float32)
            lab = np.full((n, k), -1, dtype=np.int64)
        else:
            dist, lab = self._ix.search(x, k, threads=_batch_threads(n),
                                        **self._search_kwargs(params))
            if k and lab[:, -1].min() < 0:
                pad = _FLT_MAX if self._metric == METRIC_L2 else -_FLT_MAX
                if not dist.flags.writeable:
                    dist = dist.copy()
                dist[lab < 0] = pad
        if D is not None:
            D[...] = dist
            dist = D
        if I is not None:
            I[...] = lab
            lab = I
        return dist, lab

    def assign(self, x, k, labels=None):
        """``search`` without the distances: the (n, k) int64 ids."""
        _, lab = self.search(x, k, I=labels)
        return lab

    @_faiss_errors
    def range_search(self, x, thresh, *, params=None):
        """Every vector with squared L2 distance ``< thresh`` (or inner product ``> thresh``):
        returns ``lims`` (uint64, n + 1), ``D`` and ``I``; query i's results are
        ``D[lims[i]:lims[i+1]]``, ``I[lims[i]:lims[i+1]]`` (best first)."""
        x, n = _matrix(x, self._d)
        if n == 0 or len(self._ix) == 0:
            return (np.zeros(n + 1, dtype=np.uint64), np.empty(0, dtype=np.float32),
                    np.empty(0, dtype=np.int64))
        kwargs = self._search_kwargs(params)
        lims, dist, lab = self._ix.range_search(x, float(thresh), threads=_batch_threads(n),
                                                **kwargs)
        return (np.asarray(lims, dtype=np.uint64), np.asarray(dist, dtype=np.float32),
                np.asarray(lab, dtype=np.int64))

    # -- removing and reading back
    @_faiss_errors
    def remove_ids(self, x):
        """Removes the ids in ``x`` (1-d int array or an ``IDSelector*``); returns how many
        were removed. Other ids are kept unchanged (FAISS's Flat would renumber them)."""
        if isinstance(x, (IDSelectorBatch, IDSelectorRange)):
            ids = x._ids(self)
        elif hasattr(x, "is_member"):
            raise TypeError("vecscale.faiss: remove_ids takes an id array, IDSelectorBatch, "
                            "IDSelectorArray or IDSelectorRange")
        else:
            ids = np.asarray(x)
            if ids.ndim != 1:
                raise AssertionError("remove_ids: ids must be a 1-d array")
            ids = np.ascontiguousarray(ids, dtype=np.int64)
        if ids.size == 0:
            return 0
        removed = int(self._ix.remove(ids))
        if removed:
            self._seq = False
        return removed

    @_faiss_errors
    def reconstruct(self, key, x=None):
        """The stored vector of id ``key`` as float32 (d,) (decoded for quantized indexes)."""
        v = self._ix.reconstruct(int(key))
        if x is not None:
            if x.shape != (self._d,):
                raise AssertionError("x has shape %r, expected (%d,)" % (x.shape, self._d))
            x[...] = v
            return x
        return np.asarray(v, dtype=np.float32)

    @_faiss_errors
    def reconstruct_batch(self, key, x=None):
        """The stored vectors of the ids in ``key``: float32 (len(key), d)."""
        key = np.ascontiguousarray(key, dtype=np.int64).reshape(-1)
        v = np.asarray(self._ix.get(key), dtype=np.float32).reshape(len(key), self._d)
        if x is not None:
            x[...] = v
            return x
        return v

    def reconstruct_n(self, n0=0, ni=-1, x=None):
        """The stored vectors of ids ``n0 .. n0 + ni - 1`` (default: all of ``0 .. ntotal-1``)."""
        if ni < 0:
            ni = self.ntotal - n0
        return self.reconstruct_batch(np.arange(n0, n0 + ni, dtype=np.int64), x)

    @_faiss_errors
    def reset(self):
        """Removes every vector; a trained index stays trained (as in FAISS)."""
        if self._needs_training and self._ix.is_trained:
            ids = self._all_ids()
            if ids.size:
                self._ix.remove(ids)
        else:
            self._ix.close()
            self._ix = self._create()
        self._seq = True

    def _all_ids(self):
        # Every id, from an exhaustive range search (vecscale has no id listing): all lists
        # probed, radius infinite; the query is any vector (ids do not depend on it).
        if not len(self._ix):
            return np.empty(0, dtype=np.int64)
        q = np.ones((1, self._d), dtype=np.float32)
        radius = float("inf") if self._metric == METRIC_L2 else -float("inf")
        kwargs = {"nprobe": self._nlist} if self._nlist else {}
        if self._hnsw_m:
            kwargs["ef"] = max(len(self._ix), 16)
        if self._factory.endswith(",RFlat"):
            kwargs["k_factor"] = 1.0
        _, _, lab = self._ix.range_search(q, radius, **kwargs)
        lab = np.unique(np.asarray(lab, dtype=np.int64))
        if lab.size != len(self._ix):
            raise _vs.UnsupportedError("vecscale.faiss: reset could not list every id of this "
                                       "index; build a new one instead")
        return lab

    def __repr__(self):
        return "<vecscale.faiss.%s d=%d ntotal=%d factory=%r>" % (
            type(self).__name__, self._d, self.ntotal, self._factory)


class IndexFlat(Index):
    """Exact search: ``IndexFlat(d, metric=METRIC_L2)``."""

    def __init__(self, d, metric=METRIC_L2):
        self._setup(d, "Flat", metric)


class IndexFlatL2(IndexFlat):
    """Exact search on squared L2 distance: ``IndexFlatL2(d)``."""

    def __init__(self, d):
        super().__init__(d, METRIC_L2)


class IndexFlatIP(IndexFlat):
    """Exact search on inner product: ``IndexFlatIP(d)``."""

    def __init__(self, d):
        super().__init__(d, METRIC_INNER_PRODUCT)


class IndexIVF(Index):
    """Inverted-file indexes: ``nlist`` lists, ``nprobe`` visited per query (default 1)."""

    quantizer = None

    @property
    def nlist(self):
        """Number of inverted lists."""
        return self._nlist

    @property
    def nprobe(self):
        """Lists visited per query (FAISS default 1)."""
        return self._params["nprobe"]

    @nprobe.setter
    def nprobe(self, value):
        value = int(value)
        if value < 1:
            raise ValueError("nprobe must be >= 1")
        self._params["nprobe"] = value

    def _search_kwargs(self, params):
        nprobe = getattr(params, "nprobe", None) or self._params["nprobe"]
        return {"nprobe": int(nprobe)}


class IndexIVFFlat(IndexIVF):
    """IVF with float vectors in the lists: ``IndexIVFFlat(quantizer, d, nlist, metric)``.
    ``quantizer`` is kept as ``.quantizer`` but not used (vecscale trains its own)."""

    def __init__(self, quantizer, d, nlist, metric=METRIC_L2):
        self.quantizer = quantizer
        self._setup(d, "IVF%d,Flat" % int(nlist), metric)


class IndexIVFPQ(IndexIVF):
    """IVF with product-quantized residuals: ``IndexIVFPQ(quantizer, d, nlist, m, nbits)``
    (``m`` sub-quantizers of ``nbits`` bits, 4..8)."""

    def __init__(self, quantizer, d, nlist, m, nbits=8, metric=METRIC_L2):
        self.quantizer = quantizer
        self._setup(d, "IVF%d,PQ%dx%d" % (int(nlist), int(m), int(nbits)), metric)


class IndexIVFPQFastScan(IndexIVF):
    """IVF-PQ with 4-bit fast-scan codes: ``IndexIVFPQFastScan(quantizer, d, nlist, m, 4)``."""

    def __init__(self, quantizer, d, nlist, m, nbits=4, metric=METRIC_L2):
        if int(nbits) != 4:
            raise ValueError("IndexIVFPQFastScan: nbits must be 4")
        self.quantizer = quantizer
        self._setup(d, "IVF%d,PQ%dx4fs" % (int(nlist), int(m)), metric)


class IndexIVFScalarQuantizer(IndexIVF):
    """IVF with scalar-quantized vectors; built by ``index_factory(d, "IVF<n>,SQ8")``."""

    def __init__(self, *args, **kwargs):
        raise TypeError("build IVF scalar-quantizer indexes with index_factory(d, 'IVF1024,SQ8')")


class IndexHNSW(Index):
    """HNSW graph indexes: ``.hnsw.efSearch`` (default 16), ``.hnsw.efConstruction`` (40)."""

    def _search_kwargs(self, params):
        ef = getattr(params, "efSearch", None) or self._params["ef"]
        return {"ef": int(ef)}


class IndexHNSWFlat(IndexHNSW):
    """HNSW over float vectors: ``IndexHNSWFlat(d, M, metric=METRIC_L2)``."""

    def __init__(self, d, M=32, metric=METRIC_L2):
        self.hnsw = HNSWParameters(self, int(M))
        self._setup(d, "HNSW%d" % int(M), metric)


class IndexHNSWSQ(IndexHNSW):
    """HNSW over scalar-quantized vectors; built by ``index_factory(d, "HNSW32,SQ8")``."""

    def __init__(self, *args, **kwargs):
        raise TypeError("build HNSW scalar-quantizer indexes with index_factory(d, 'HNSW32,SQ8')")


class IndexPQ(Index):
    """Product quantizer without IVF: ``IndexPQ(d, m, nbits, metric=METRIC_L2)``."""

    def __init__(self, d, m, nbits=8, metric=METRIC_L2):
        self._setup(d, "PQ%dx%d" % (int(m), int(nbits)), metric)


class IndexScalarQuantizer(Index):
    """Scalar quantizer without IVF; built by ``index_factory(d, "SQ8")`` (or SQ4, SQfp16, SQbf16)."""

    def __init__(self, *args, **kwargs):
        raise TypeError("build scalar-quantizer indexes with index_factory(d, 'SQ8')")


class IndexRefineFlat(Index):
    """A quantized index re-ranked on the float vectors (factory ``...,RFlat``): ``k_factor``
    (default 1, FAISS's) times ``k`` candidates are re-scored exactly. ``nprobe`` and ``hnsw``
    of the base index are reachable here and through ``base_index``."""

    def __init__(self, *args, **kwargs):
        raise TypeError("build refined indexes with index_factory(d, 'IVF1024,PQ32x4fs,RFlat')")

    @property
    def k_factor(self):
        """Candidates re-scored per result (FAISS default 1)."""
        return self._params["k_factor"]

    @k_factor.setter
    def k_factor(self, value):
        value = float(value)
        if not value >= 1:
            raise ValueError("k_factor must be >= 1")
        self._params["k_factor"] = value

    @property
    def nprobe(self):
        """IVF lists visited per query (IVF bases; FAISS default 1)."""
        return self._params["nprobe"]

    @nprobe.setter
    def nprobe(self, value):
        value = int(value)
        if value < 1:
            raise ValueError("nprobe must be >= 1")
        self._params["nprobe"] = value

    @property
    def base_index(self):
        """The quantized index under the refinement (shares ``nprobe``/``hnsw`` with this)."""
        return _BaseView(self)

    def _search_kwargs(self, params):
        kw = {"k_factor": float(getattr(params, "k_factor", None) or self._params["k_factor"])}
        if self._nlist:
            kw["nprobe"] = int(getattr(params, "nprobe", None) or self._params["nprobe"])
        if self._hnsw_m:
            kw["ef"] = int(getattr(params, "efSearch", None) or self._params["ef"])
        return kw


class _BaseView:
    """``IndexRefineFlat.base_index``: the base's search parameters, written through."""

    def __init__(self, refine):
        object.__setattr__(self, "_refine", refine)

    def __getattr__(self, name):
        return getattr(self._refine, name)

    def __setattr__(self, name, value):
        setattr(self._refine, name, value)


class IndexIDMap:
    """FAISS's id wrapper: ``IndexIDMap(IndexFlatL2(d))`` then ``add_with_ids``. vecscale
    indexes keep ids themselves, so this only delegates (``add`` without ids raises, as in
    FAISS)."""

    def __init__(self, index):
        if not isinstance(index, Index):
            raise TypeError("IndexIDMap wraps a vecscale.faiss index")
        if index.ntotal:
            raise AssertionError("index must be empty on input")
        object.__setattr__(self, "index", index)

    def add(self, x):
        """Not supported (as in FAISS): use ``add_with_ids``."""
        raise RuntimeError("add does not make sense with IndexIDMap, use add_with_ids")

    def __getattr__(self, name):
        return getattr(self.index, name)

    def __setattr__(self, name, value):
        setattr(self.index, name, value)


class IndexIDMap2(IndexIDMap):
    """``IndexIDMap`` with ``reconstruct`` by id (every vecscale index has it)."""


def _unwrap(index):
    while isinstance(index, (IndexIDMap, _BaseView)):
        index = index.index if isinstance(index, IndexIDMap) else index._refine
    if not isinstance(index, Index):
        raise TypeError("expected a vecscale.faiss index, got %r" % type(index).__name__)
    return index


# ---- module functions ----------------------------------------------------------------------
@_faiss_errors
def index_factory(d, description, metric=METRIC_L2):
    """Builds an index from a FAISS factory string (``"IVF1024,PQ32x4fs,RFlat"``,
    ``"HNSW32"``, ``"IDMap,Flat"``, ...); returns the matching class (``IndexIVFPQ``, ...)."""
    s = str(description).replace(" ", "")
    idmap = None
    for prefix, cls in (("IDMap2,", IndexIDMap2), ("IDMap,", IndexIDMap)):
        if s.startswith(prefix):
            s, idmap = s[len(prefix):], cls
            break
    if re.match(r"^HNSW\d+,Flat$", s):
        s = s[:-len(",Flat")]
    cls = _class_for(s)
    index = cls.__new__(cls)
    m = _parse_factory(s)
    if m is not None and m.group("M"):
        index.hnsw = HNSWParameters(index, int(m.group("M")))
    index._setup(d, s, metric)
    return idmap(index) if idmap else index


@_faiss_errors
def write_index(index, path):
    """Saves ``index`` to ``path`` (vecscale's checksummed format, written atomically)."""
    _unwrap(index)._ix.save(os.fspath(path))


@_faiss_errors
def read_index(path, io_flags=0):
    """Loads an index written by ``write_index``; ``IO_FLAG_MMAP`` maps it read-only instead."""
    path = os.fspath(path)
    ix = _vs.Index.view(path) if int(io_flags) & IO_FLAG_MMAP else _vs.Index.load(path)
    return _class_for(ix.factory)._wrap(ix)


def serialize_index(index):
    """The index file's bytes as a uint8 numpy array (``deserialize_index`` reads it back)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "index.vsi")
        write_index(index, path)
        with open(path, "rb") as f:
            return np.frombuffer(f.read(), dtype=np.uint8).copy()


def deserialize_index(data):
    """An index from the bytes ``serialize_index`` returned."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "index.vsi")
        with open(path, "wb") as f:
            f.write(np.ascontiguousarray(data, dtype=np.uint8).tobytes())
        return read_index(path)


def normalize_L2(x):
    """Scales each row of the float32 (n, d) array ``x`` to unit L2 norm, in place (zero rows
    stay zero), as FAISS's ``normalize_L2``."""
    if not isinstance(x, np.ndarray) or x.dtype != np.float32:
        raise TypeError("normalize_L2: x must be a float32 numpy array")
    if x.ndim != 2:
        raise IndexError("normalize_L2: x must be 2-d (n, d)")
    if not x.flags.c_contiguous:
        raise TypeError("normalize_L2: x must be C-contiguous")
    norms = np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float64))
    norms[norms == 0] = 1.0
    x /= norms[:, None].astype(np.float32)


def extract_index_ivf(index):
    """The IVF index inside ``index`` (itself, or the base of a refined/id-mapped one) so
    ``extract_index_ivf(index).nprobe = 16`` works as in FAISS."""
    inner = _unwrap(index)
    if not inner._nlist:
        raise RuntimeError("extract_index_ivf: %s is not an IVF index" % inner._factory)
    return inner


class ParameterSpace:
    """``ParameterSpace().set_index_parameter(index, "nprobe", 16)``; names: ``nprobe``,
    ``efSearch``, ``k_factor``. ``set_index_parameters(index, "nprobe=16,k_factor=4")``."""

    def set_index_parameter(self, index, name, value):
        """Sets one search parameter on ``index``."""
        inner = _unwrap(index)
        if name == "nprobe" and inner._nlist:
            inner._params["nprobe"] = int(value)
        elif name == "efSearch" and inner._hnsw_m:
            inner._params["ef"] = int(value)
        elif name == "k_factor" and isinstance(inner, IndexRefineFlat):
            inner._params["k_factor"] = float(value)
        else:
            raise RuntimeError("could not set parameter %s on %s" % (name, inner._factory))

    def set_index_parameters(self, index, description):
        """Sets ``"name=value,name=value"`` parameters."""
        for item in str(description).split(","):
            if item:
                name, _, value = item.partition("=")
                self.set_index_parameter(index, name.strip(), float(value))
