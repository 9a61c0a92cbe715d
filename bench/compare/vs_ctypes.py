"""vecscale's vs_search_params for ctypes, in the layout of the library actually loaded.

ABI 0.2 put a `struct_size` field first (vecscale.h, "Options structs"); 0.1 libraries, which the
before/after harnesses still load, have no such field. A 0.2 library exports vs_version_string.
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
