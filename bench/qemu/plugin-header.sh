#!/usr/bin/env bash
# Prints the path of qemu-plugin.h (the TCG plugin API header), fetching it
# once into .cache/qemu-plugin/ from Debian bookworm's qemu source package.
# Debian ships the header in no binary package, so it comes from the source:
# a private apt configuration (its own sources file, lists and cache under
# .cache/, never the machine's) downloads the orig tarball with
# `apt-get source --download-only`, and only include/qemu/qemu-plugin.h is
# extracted. The header is not committed.
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=$PWD/.cache/qemu-plugin
header=$cache/include/qemu/qemu-plugin.h
if [ -s "$header" ]; then echo "$header"; exit 0; fi

mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial" "$cache/src"
cat > "$cache/apt/sources.list" <<'LIST'
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
LIST
apt_opts=(-o "Dir::Etc::sourcelist=$cache/apt/sources.list" -o Dir::Etc::sourceparts=-
          -o "Dir::State::Lists=$cache/apt/lists" -o "Dir::Cache=$cache/apt/cache"
          -o Dir::State::status=/var/lib/dpkg/status -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update -qq >&2
# The source of the qemu this machine runs (dpkg -s), or the newest if that one is gone.
version=$(dpkg-query -W -f='${source:Version}' qemu-user 2>/dev/null || true)
( cd "$cache/src" && { apt-get "${apt_opts[@]}" source --download-only "qemu${version:+=$version}" >&2 ||
                       apt-get "${apt_opts[@]}" source --download-only qemu >&2; } )
orig=$(ls "$cache"/src/qemu_*.orig.tar.* | head -1)
member=$(tar -tf "$orig" | grep '/include/qemu/qemu-plugin.h$' | head -1)
tar -xf "$orig" -C "$cache/src" "$member"
mkdir -p "$(dirname "$header")"
cp "$cache/src/$member" "$header"
rm -rf "$cache/src" "$cache/apt/cache/archives"
echo "$header"
