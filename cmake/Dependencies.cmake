# Locates the Debian-packaged dependencies (installed by scripts/setup.sh).
find_package(Threads REQUIRED)

# The OpenMP build of OpenBLAS, run one thread per call (src/kernels/blas.c says why):
# the library schedules its own threads, so BLAS must not.
find_path(VS_OPENBLAS_OPENMP_INCLUDE_DIR cblas.h
  PATHS /usr/include/x86_64-linux-gnu/openblas-openmp /usr/include/openblas-openmp
  NO_DEFAULT_PATH)
find_library(VS_OPENBLAS_OPENMP_LIBRARY openblas
  PATHS /usr/lib/x86_64-linux-gnu/openblas-openmp /usr/lib/openblas-openmp
  NO_DEFAULT_PATH)
find_library(VS_GOMP_LIBRARY gomp PATHS /usr/lib/gcc/x86_64-linux-gnu/12)
if(NOT VS_OPENBLAS_OPENMP_INCLUDE_DIR OR NOT VS_OPENBLAS_OPENMP_LIBRARY OR NOT VS_GOMP_LIBRARY)
  message(FATAL_ERROR "OpenMP OpenBLAS not found: run scripts/setup.sh (libopenblas-openmp-dev)")
endif()
# Plain variables (the cache names say which build) so an old cache cannot pick another BLAS.
set(VS_BLAS_INCLUDE_DIR ${VS_OPENBLAS_OPENMP_INCLUDE_DIR})
set(VS_BLAS_LIBRARY ${VS_OPENBLAS_OPENMP_LIBRARY})
get_filename_component(VS_BLAS_DIR ${VS_BLAS_LIBRARY} DIRECTORY)

find_path(VS_XXHASH_INCLUDE_DIR xxhash.h)
find_library(VS_XXHASH_LIBRARY xxhash)
if(NOT VS_XXHASH_INCLUDE_DIR OR NOT VS_XXHASH_LIBRARY)
  message(FATAL_ERROR "xxhash not found: run scripts/setup.sh (libxxhash-dev)")
endif()
