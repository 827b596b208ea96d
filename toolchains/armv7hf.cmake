# armv7hf.cmake - cross-build for 32-bit Arm hard-float Linux (the NXP i.MX6Quad:
# 4 x Cortex-A9, VFPv3 + NEON) with Debian's arm-linux-gnueabihf GCC.
#
#   apt-get install g++-arm-linux-gnueabihf          (qemu-user to run the tests)
#   cmake -S . -B build-armv7 -DCMAKE_TOOLCHAIN_FILE=toolchains/armv7hf.cmake
#   cmake --build build-armv7 && ctest --test-dir build-armv7   (tests run under qemu-arm)
#
# The baseline is armv7-a with VFPv3-D16 and no NEON, so one binary runs on any
# armv7 hard-float core; NEON is enabled for native/core/kernels/kernels_neon.c
# alone (CMakeLists.txt gives it -mfpu=neon) and chosen at run time (HWCAP_NEON).
#
# The baseline flags are added with add_compile_options()/add_link_options(),
# not through CMAKE_<LANG>_FLAGS_INIT: cmake-js passes -DCMAKE_C_FLAGS=... and
# -DCMAKE_CXX_FLAGS=... on the command line, which replaces the *_INIT values.
# Directory options come before the per-file options on the compiler's command
# line, so kernels_neon.c's -mfpu=neon still wins for that file (checked with
# readelf -A: Tag_FP_arch VFPv3-D16 everywhere, Tag_Advanced_SIMD_arch NEONv1
# only in kernels_neon.c.o).
#
# Overrides (cache or -D): HDRNN_CROSS_PREFIX (default arm-linux-gnueabihf-),
# HDRNN_ARM_SYSROOT (default /usr/arm-linux-gnueabihf, Debian's multiarch cross
# root; a Yocto SDK sysroot works too), HDRNN_QEMU_CPU (default cortex-a9).
# HDRNN_SYSROOT: build against that root's glibc (--sysroot, see sysroot.cmake);
# the prebuilds use Debian bullseye's (glibc 2.31, scripts/sysroot-bullseye.sh
# armhf, in .cache/bullseye-armhf: the default when it exists; OFF: none).

set(CMAKE_SYSTEM_NAME Linux)
# What `uname -m` says on the device; CMakeLists.txt's ISA regex matches it.
set(CMAKE_SYSTEM_PROCESSOR armv7l)

if(NOT DEFINED HDRNN_CROSS_PREFIX)
  set(HDRNN_CROSS_PREFIX "arm-linux-gnueabihf-")
endif()
if(NOT DEFINED HDRNN_SYSROOT AND EXISTS "${CMAKE_CURRENT_LIST_DIR}/../.cache/bullseye-armhf/usr/include/stdio.h")
  get_filename_component(HDRNN_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../.cache/bullseye-armhf" ABSOLUTE)
endif()
if(NOT DEFINED HDRNN_ARM_SYSROOT)
  if(HDRNN_SYSROOT)
    set(HDRNN_ARM_SYSROOT "${HDRNN_SYSROOT}")
  else()
    set(HDRNN_ARM_SYSROOT "/usr/arm-linux-gnueabihf")
  endif()
endif()
if(NOT DEFINED HDRNN_QEMU_CPU)
  set(HDRNN_QEMU_CPU "cortex-a9")
endif()

set(CMAKE_C_COMPILER "${HDRNN_CROSS_PREFIX}gcc")
set(CMAKE_CXX_COMPILER "${HDRNN_CROSS_PREFIX}g++")

# Baseline code generation: i.MX6Quad (Cortex-A9), VFPv3-D16, hard-float ABI.
set(HDRNN_ARMV7HF_FLAGS -march=armv7-a -mtune=cortex-a9 -mfpu=vfpv3-d16 -mfloat-abi=hard)
# The toolchain file is read more than once in the same scope; add them once.
if(NOT HDRNN_ARMV7HF_FLAGS_ADDED)
  set(HDRNN_ARMV7HF_FLAGS_ADDED ON)
  add_compile_options(${HDRNN_ARMV7HF_FLAGS})
  add_link_options(${HDRNN_ARMV7HF_FLAGS})
endif()

if(HDRNN_SYSROOT)
  set(HDRNN_TRIPLET arm-linux-gnueabihf)
  include("${CMAKE_CURRENT_LIST_DIR}/sysroot.cmake")
endif()

# Look for headers and libraries in the target's root, for programs on the host.
set(CMAKE_FIND_ROOT_PATH "${HDRNN_ARM_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Let ctest (add_test with a target as COMMAND) run the armv7 binaries under qemu.
if(NOT DEFINED CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(HDRNN_QEMU_ARM qemu-arm)
  if(HDRNN_QEMU_ARM)
    set(CMAKE_CROSSCOMPILING_EMULATOR
        "${HDRNN_QEMU_ARM};-cpu;${HDRNN_QEMU_CPU};-L;${HDRNN_ARM_SYSROOT}")
  endif()
endif()
