#!/usr/bin/env bash
# npm run prebuild:armv7 - the linux-arm (armv7 hard-float, i.MX6Quad) prebuild
# and the armv7 C command line (build-armv7-c/), against Debian bullseye's
# glibc 2.31: see scripts/prebuild-linux.sh.
exec bash "$(dirname "$0")/prebuild-linux.sh" arm
