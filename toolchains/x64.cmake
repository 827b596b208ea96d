# x64.cmake - the linux-x64 build with the machine's own GCC against a glibc
# 2.31 sysroot (Debian bullseye, scripts/sysroot-bullseye.sh amd64), so the
# prebuild loads on glibc >= 2.31 although this machine has 2.36:
#
#   bash scripts/sysroot-bullseye.sh amd64
#   cmake -S . -B build-x64 -DCMAKE_TOOLCHAIN_FILE=toolchains/x64.cmake
#
# HDRNN_SYSROOT overrides the sysroot (default .cache/bullseye-amd64).
set(HDRNN_TRIPLET x86_64-linux-gnu)
if(NOT CMAKE_C_COMPILER)
  set(CMAKE_C_COMPILER gcc)
endif()
if(NOT CMAKE_CXX_COMPILER)
  set(CMAKE_CXX_COMPILER g++)
endif()
if(NOT DEFINED HDRNN_SYSROOT)
  set(HDRNN_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../.cache/bullseye-amd64")
endif()
get_filename_component(HDRNN_SYSROOT "${HDRNN_SYSROOT}" ABSOLUTE)
include("${CMAKE_CURRENT_LIST_DIR}/sysroot.cmake")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
