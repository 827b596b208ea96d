#!/usr/bin/env bash
# npm run check:glibc [FILE...] - the glibc baseline gate: every shipped
# .node and binary may ask for no GLIBC_ version above 2.31 (Debian bullseye,
# Yocto dunfell) and no GLIBCXX_ above 3.4.22 (GCC 6), and may leave no symbol
# undefined without a version except Node-API's (an unversioned libc symbol -
# e.g. the __libc_single_threaded a static GCC 12 libstdc++ brings - is one
# glibc 2.31 does not have, and fails at load time).
#
# Default files: prebuilds/*/*.node and the cross-built C command lines
# (build-*-c/hdrnn_c). Prints one line per file; exits 1 on any violation or
# when there is nothing to check.
set -euo pipefail
cd "$(dirname "$0")/.."
max_glibc=${HDRNN_MAX_GLIBC:-2.31}
max_glibcxx=${HDRNN_MAX_GLIBCXX:-3.4.22}

files=("$@")
if [ "${#files[@]}" -eq 0 ]; then
  shopt -s nullglob
  files=(prebuilds/*/*.node build-*-c/hdrnn_c)
fi
[ "${#files[@]}" -gt 0 ] || { echo "check-glibc: no prebuilds or C command lines to check (run npm run prebuild:all)" >&2; exit 1; }

# version_gt A B: true when dotted version A > B.
version_gt() { [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -n 1)" = "$1" ]; }

bad=0
for f in "${files[@]}"; do
  dyn=$(objdump -T "$f") || { echo "check-glibc: $f: objdump -T failed" >&2; bad=1; continue; }
  glibc=$(grep -oE '\(GLIBC_[0-9.]+\)' <<<"$dyn" | tr -d '()' | sed 's/GLIBC_//' | sort -uV | tail -n 1 || true)
  glibcxx=$(grep -oE '\(GLIBCXX_[0-9.]+\)' <<<"$dyn" | tr -d '()' | sed 's/GLIBCXX_//' | sort -uV | tail -n 1 || true)
  # Undefined, not weak, without a version: only Node-API may be (Node provides it).
  loose=$(awk '$0 ~ /\*UND\*/ && $2 !~ /w/ && ($0 ~ / Base / || $0 !~ /\(/) { print $NF }' <<<"$dyn" |
          grep -Ev '^(napi_|node_api_)' | sort -u | tr '\n' ' ' || true)
  verdict=ok
  if [ -n "$glibc" ] && version_gt "$glibc" "$max_glibc"; then
    verdict="FAIL: GLIBC_$glibc > $max_glibc ($(grep -E "\(GLIBC_$glibc\)" <<<"$dyn" | awk '{ print $NF }' | sort -u | tr '\n' ' '))"
  fi
  if [ -n "$glibcxx" ] && version_gt "$glibcxx" "$max_glibcxx"; then
    verdict="${verdict/#ok/FAIL:} GLIBCXX_$glibcxx > $max_glibcxx ($(grep -E "\(GLIBCXX_$glibcxx\)" <<<"$dyn" | awk '{ print $NF }' | sort -u | tr '\n' ' '))"
  fi
  if [ -n "$loose" ]; then
    verdict="${verdict/#ok/FAIL:} unversioned undefined symbols: $loose"
  fi
  printf '%-52s GLIBC_%-5s GLIBCXX_%-7s %s\n' "$f" "${glibc:--}" "${glibcxx:--}" "$verdict"
  [ "$verdict" = ok ] || bad=1
done
exit "$bad"
