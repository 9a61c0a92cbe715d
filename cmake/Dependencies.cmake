# Locates the Debian-packaged dependencies (installed by scripts/setup.sh).
find_package(Threads REQUIRED)

# Serial OpenBLAS: the library schedules its own threads per call, so BLAS must not.
find_path(VS_BLAS_INCLUDE_DIR cblas.h
  PATHS /usr/include/x86_64-linux-gnu/openblas-serial /usr/include/openblas-serial
  NO_DEFAULT_PATH)
find_library(VS_BLAS_LIBRARY openblas
  PATHS /usr/lib/x86_64-linux-gnu/openblas-serial /usr/lib/openblas-serial
  NO_DEFAULT_PATH)
if(NOT VS_BLAS_INCLUDE_DIR OR NOT VS_BLAS_LIBRARY)
  message(FATAL_ERROR "serial OpenBLAS not found: run scripts/setup.sh (libopenblas-serial-dev)")
endif()
get_filename_component(VS_BLAS_DIR ${VS_BLAS_LIBRARY} DIRECTORY)

find_path(VS_XXHASH_INCLUDE_DIR xxhash.h)
find_library(VS_XXHASH_LIBRARY xxhash)
if(NOT VS_XXHASH_INCLUDE_DIR OR NOT VS_XXHASH_LIBRARY)
  message(FATAL_ERROR "xxhash not found: run scripts/setup.sh (libxxhash-dev)")
endif()
