"""Builds vecscale._vecscale, the C extension of the vecscale package, against the library the
project's CMake built (VECSCALE_BUILD_DIR, default ../build next to this directory).

The static libvecscale.a (its objects are position-independent: CMake builds the object library
with POSITION_INDEPENDENT_CODE) is linked into the extension, so the installed package does not
need the source or build tree at run time: only the Debian shared libraries libvecscale itself
links (OpenMP OpenBLAS through an RPATH, libgomp, xxhash, utf8proc, cJSON, libcurl, libxml2,
libcrypto), read from the same link line CMake used for libvecscale.so.
"""
import os
import shlex
import sys

import numpy
from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.abspath(os.environ.get("VECSCALE_BUILD_DIR") or os.path.join(ROOT, "build"))
STATIC = os.path.join(BUILD, "libvecscale.a")
if not os.path.exists(STATIC):
    sys.exit(
        f"vecscale: {STATIC} not found. Build the library first:\n"
        f"  cmake -S {ROOT} -B {BUILD} -DCMAKE_BUILD_TYPE=Release && cmake --build {BUILD} -j2\n"
        "or point VECSCALE_BUILD_DIR at an existing build directory."
    )


def library_version():
    """The version CMake generated from project(VERSION) (BUILD/include/vecscale_version.h)."""
    path = os.path.join(BUILD, "include", "vecscale_version.h")
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("#define VS_VERSION_STRING "):
                    return line.split('"')[1]
    except OSError:
        pass
    sys.exit(f"vecscale: {path} not found or without VS_VERSION_STRING: re-run CMake on {BUILD}")


def library_link_flags():
    """The libraries and RPATH after the object files on libvecscale.so's CMake link line."""
    link = os.path.join(BUILD, "CMakeFiles", "vecscale.dir", "link.txt")
    if os.path.exists(link):
        toks = shlex.split(open(link).read())
        last_obj = max(i for i, t in enumerate(toks) if t.endswith(".o"))
        # CMake ends the RPATH with ':' (an empty entry = the current directory): drop it.
        return [t.rstrip(":") if t.startswith("-Wl,-rpath,") else t for t in toks[last_obj + 1:] if t]
    # Fallback: the pkg-config file CMake writes (it does not list libxml2, the S3 client's).
    with open(os.path.join(BUILD, "vecscale.pc")) as f:
        for line in f:
            if line.startswith("Libs.private:"):
                return shlex.split(line.split(":", 1)[1]) + ["-lxml2"]
    sys.exit(f"vecscale: cannot find libvecscale's link line in {BUILD}")


SOURCES = ["module.c", "convert.c", "objlock.c", "filter.c", "index.c", "quant.c", "model.c", "collection.c",
           "collection_ids.c", "collection_payload.c"]
cflags = ["-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-fvisibility=hidden"]
if os.environ.get("VECSCALE_WERROR") == "1":
    cflags.append("-Werror")

ext = Extension(
    "vecscale._vecscale",
    sources=[os.path.join("src", s) for s in SOURCES],
    include_dirs=[os.path.join(ROOT, "include"), os.path.join(BUILD, "include"), os.path.join(HERE, "src"), numpy.get_include()],
    extra_compile_args=cflags,
    # The library's symbols stay inside the extension (--exclude-libs), so another copy of
    # libvecscale loaded by something else in the process cannot interpose on them.
    extra_link_args=[STATIC, "-Wl,--exclude-libs,ALL"] + library_link_flags() + ["-lpthread"],
    depends=[STATIC, os.path.join(ROOT, "include", "vecscale.h"), os.path.join(BUILD, "include", "vecscale_version.h"),
             os.path.join("src", "vspy.h"),
             os.path.join("src", "collection.h")],
)

setup(
    name="vecscale",
    version=library_version(),
    description="Vector search: exact and approximate nearest neighbours, embeddings, collections",
    packages=["vecscale"],
    package_data={"vecscale": ["py.typed", "*.pyi"]},
    ext_modules=[ext],
    python_requires=">=3.10",  # Py_NewRef, PyModule_AddObjectRef
    install_requires=["numpy"],
    zip_safe=False,
)
