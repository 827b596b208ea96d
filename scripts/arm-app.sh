# scripts/arm-app.sh - sourced by test-armv7.sh and test-arm64.sh: installs the
# package tarball into an empty app, as a board would get it from the registry
# (no compiler, no install script), after checking that the tarball carries
# the prebuild under test.
#
#   install_arm_app WORK PREBUILD NAME   -> sets $tarball and $app
#     WORK      a scratch folder (the app is made in WORK/app)
#     PREBUILD  the prebuild's path inside the package, e.g. prebuilds/linux-arm/...node
#     NAME      the app's package name
# HDRNN_TARBALL: a tarball packed once for several suites (CI); otherwise this packs one.
install_arm_app() {
  local work=$1 prebuild=$2 name=$3
  if [ -n "${HDRNN_TARBALL:-}" ]; then
    cp "$HDRNN_TARBALL" "$work/" && tarball=$(basename "$HDRNN_TARBALL")
  else
    printf '== packing into %s\n' "$work" >&2
    tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
  fi
  tar -tzf "$work/$tarball" >"$work/contents"
  grep -qx "package/$prebuild" "$work/contents" ||
    { echo "the tarball has no $prebuild" >&2; exit 1; }
  app="$work/app"
  mkdir -p "$app/node_modules"
  printf '{"name":"%s","private":true}\n' "$name" >"$app/package.json"
  tar -xzf "$work/$tarball" -C "$work"
  mv "$work/package" "$app/node_modules/hdrnn-native"
  # The package's one runtime dependency (pure JavaScript).
  cp -r node_modules/node-gyp-build "$app/node_modules/node-gyp-build"
}
