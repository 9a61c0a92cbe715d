"""vecscale's vs_search_params for ctypes, in the layout of the library actually loaded.

ABI 0.2 put a `struct_size` field first (vecscale.h, "Options and result structs"; 0.3 kept this
struct as it was); 0.1 libraries, which the before/after harnesses still load, have no such
field. A 0.2 or later library exports vs_version_string.
"""
import ctypes

_COMMON = [("n_threads", ctypes.c_uint32), ("filter", ctypes.c_void_p), ("nprobe", ctypes.c_uint32),
           ("ef_search", ctypes.c_uint32), ("k_factor", ctypes.c_float)]


class SearchParams01(ctypes.Structure):
    _fields_ = _COMMON


class SearchParams(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t)] + _COMMON


def is_abi_02(lib):
    try:
        lib.vs_version_string
        return True
    except AttributeError:
        return False


def search_params(lib, **fields):
    """A vs_search_params for `lib`; pass it with ctypes.byref (argtypes: c_void_p)."""
    if is_abi_02(lib):
        return SearchParams(struct_size=ctypes.sizeof(SearchParams), **fields)
    return SearchParams01(**fields)


K = 10


def read_vecs(path, dtype):
    """An .fvecs/.ivecs file as an (n, d) array of dtype."""
    import numpy as np
    raw = np.fromfile(path, dtype=np.int32)
    d = int(raw[0])
    rows = raw.reshape(-1, d + 1)
    return np.ascontiguousarray(rows[:, 1:]).view(dtype)


def recall(ids, gt):
    """recall@K of result rows against ground-truth rows."""
    hit = 0
    for a, b in zip(ids, gt):
        hit += len(set(a[:K].tolist()) & set(b[:K].tolist()))
    return hit / float(len(gt) * K)
