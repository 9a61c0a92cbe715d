"""vecscale: vector search from Python over libvecscale (C11).

    import numpy as np, vecscale
    ix = vecscale.Index(100, "HNSW32", metric="cosine")
    ix.add(np.random.rand(10000, 100).astype("float32"))
    D, I = ix.search(np.random.rand(5, 100).astype("float32"), k=10, ef=64)

Index (Flat, IVF, PQ/SQ codes, HNSW), ScalarQuantizer / ProductQuantizer, Model (text
embeddings), Collection (documents + write-ahead log, served by `vecscale serve`). Inputs are
any float32/float64 (or integer) array-likes; C-contiguous float32 is used without a copy. The
GIL is released while the library works. Errors are vecscale.Error subclasses carrying the
library's message and .code.
"""
from ._vecscale import (  # noqa: F401
    ClosedError,
    Collection,
    CorruptFileError,
    DuplicateIdError,
    Error,
    Index,
    InvalidArgumentError,
    MissingFileError,
    Model,
    NoKnownWordWarning,
    NotFoundError,
    NotTrainedError,
    ProductQuantizer,
    ScalarQuantizer,
    StorageError,
    UnsupportedError,
    VersionError,
    simd_level,
    version,
)

# The linked library's version: the one CMake's project(VERSION) generated (setup.py gives the
# package the same).
__version__ = version()

__all__ = [
    "Index", "ScalarQuantizer", "ProductQuantizer", "Model", "Collection",
    "Error", "InvalidArgumentError", "NotTrainedError", "DuplicateIdError", "NotFoundError",
    "MissingFileError", "StorageError", "CorruptFileError", "VersionError", "UnsupportedError",
    "ClosedError", "NoKnownWordWarning", "version", "simd_level",
]
