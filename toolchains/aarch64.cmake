# aarch64.cmake - cross-build for 64-bit Arm Linux (Cortex-A53, Cortex-A72:
# Raspberry Pi 3/4, i.MX8) with Debian's aarch64-linux-gnu GCC.
#
#   apt-get install g++-aarch64-linux-gnu            (qemu-user to run the tests)
#   bash scripts/sysroot-bullseye.sh arm64           (glibc 2.31, optional)
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64.cmake
#   cmake --build build-arm64 && ctest --test-dir build-arm64   (tests run under qemu-aarch64)
#
# The baseline is plain armv8-a: Advanced SIMD (NEON) is part of it, so no
# per-file flag is needed (unlike armv7's -mfpu=neon, which GCC for AArch64
# does not accept).
#
# Overrides (cache or -D): HDRNN_CROSS_PREFIX (default aarch64-linux-gnu-),
# HDRNN_SYSROOT (the glibc to build against, see sysroot.cmake; default
# .cache/bullseye-arm64 when it exists, else Debian's /usr/aarch64-linux-gnu),
# HDRNN_QEMU_CPU (default cortex-a53).

set(CMAKE_SYSTEM_NAME Linux)
# What `uname -m` says on the device.
set(CMAKE_SYSTEM_PROCESSOR aarch64)

if(NOT DEFINED HDRNN_CROSS_PREFIX)
  set(HDRNN_CROSS_PREFIX "aarch64-linux-gnu-")
endif()
if(NOT DEFINED HDRNN_SYSROOT AND EXISTS "${CMAKE_CURRENT_LIST_DIR}/../.cache/bullseye-arm64/usr/include/stdio.h")
  get_filename_component(HDRNN_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../.cache/bullseye-arm64" ABSOLUTE)
endif()
if(HDRNN_SYSROOT)
  set(_hdrnn_root "${HDRNN_SYSROOT}")
else()
  set(_hdrnn_root "/usr/aarch64-linux-gnu")
endif()
if(NOT DEFINED HDRNN_QEMU_CPU)
  set(HDRNN_QEMU_CPU "cortex-a53")
endif()

set(CMAKE_C_COMPILER "${HDRNN_CROSS_PREFIX}gcc")
set(CMAKE_CXX_COMPILER "${HDRNN_CROSS_PREFIX}g++")

# Baseline code generation: any ARMv8-A core, tuned for the Cortex-A53 (the
# in-order one, where scheduling matters most).
if(NOT HDRNN_AARCH64_FLAGS_ADDED)
  set(HDRNN_AARCH64_FLAGS_ADDED ON)
  add_compile_options(-march=armv8-a -mtune=cortex-a53)
endif()

if(HDRNN_SYSROOT)
  set(HDRNN_TRIPLET aarch64-linux-gnu)
  include("${CMAKE_CURRENT_LIST_DIR}/sysroot.cmake")
endif()

set(CMAKE_FIND_ROOT_PATH "${_hdrnn_root}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Let ctest run the aarch64 binaries under qemu.
if(NOT DEFINED CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(HDRNN_QEMU_AARCH64 qemu-aarch64)
  if(HDRNN_QEMU_AARCH64)
    set(CMAKE_CROSSCOMPILING_EMULATOR
        "${HDRNN_QEMU_AARCH64};-cpu;${HDRNN_QEMU_CPU};-L;${_hdrnn_root}")
  endif()
endif()
