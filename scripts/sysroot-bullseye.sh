#!/usr/bin/env bash
# scripts/sysroot-bullseye.sh ARCH - the Debian bullseye (glibc 2.31) sysroot
# for ARCH (amd64, armhf, arm64) in .cache/bullseye-ARCH (last line on stdout).
#
# Why bullseye: glibc 2.31 is the oldest glibc of the boards in the field
# (Yocto dunfell 3.1); a binary linked against 2.31 runs on every newer glibc,
# while one linked against the build machine's (bookworm: 2.36) asks for
# GLIBC_2.34 (pthread_create...) and does not load there.
#
# It holds what a C/C++ build links against (libc6-dev, linux-libc-dev,
# libgcc-s1; the C++ headers and libstdc++.so come from the compiler, see
# toolchains/sysroot.cmake) and what a dynamically linked program runs on
# (libc6, libstdc++6, libatomic1 - the official Node builds need it), through
# a private apt configuration (scripts/debian-sysroot.sh).
set -euo pipefail
exec bash "$(dirname "$0")/debian-sysroot.sh" bullseye "${1:?usage: sysroot-bullseye.sh amd64|armhf|arm64}" \
  libc6 libc6-dev linux-libc-dev libgcc-s1 libstdc++6 libatomic1
