#!/usr/bin/env bash
# npm run test:package - installs the `npm pack` tarball into an empty project,
# as a user would, and checks that:
#  - the tarball holds the sources to build elsewhere and the three prebuilds
#    (linux-x64, linux-arm, linux-arm64: `npm run prebuild:all` first), each
#    within the glibc 2.31 baseline (scripts/check-glibc.sh);
#  - installed with --ignore-scripts (so no compiler can be involved) it loads
#    and trains; its install script then compiles nothing (no build/ folder);
#  - the x64 prebuild loads and trains under Debian bullseye's glibc 2.31
#    loader, and on the official Node 16 build;
#  - with no prebuild that fits and no compiler, install and require() both
#    say so in one line (which prebuilds exist, what is missing);
#  - `import { Network } from 'hdrnn-native'` (ESM) and `require('hdrnn-native')`
#    (CJS) both work, train and infer, and the TypeScript types resolve;
#  - the `hdrnn` bin runs.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d /tmp/hdrnn-package.XXXXXX)
trap 'rm -rf "$work"' EXIT
say() { printf '== %s\n' "$*" >&2; }
fail() { printf 'test-package: %s\n' "$*" >&2; exit 1; }

# HDRNN_TARBALL: a tarball packed once for several suites (CI).
if [ -n "${HDRNN_TARBALL:-}" ]; then
  cp "$HDRNN_TARBALL" "$work/" && tarball=$(basename "$HDRNN_TARBALL")
else
  tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
fi
tar -tzf "$work/$tarball" >"$work/contents"
for f in package/dist/index.js package/dist/index.mjs package/dist/index.d.ts package/dist/cli.js \
         package/binding.gyp package/CMakeLists.txt package/toolchains/armv7hf.cmake \
         package/native/core/include/hdrnn.h package/native/addon/addon.cc package/native/cli/hdrnn_c.c; do
  grep -qx "$f" "$work/contents" || fail "tarball lacks $f"
done
for f in linux-x64/hdrnn-native.glibc.node linux-arm/hdrnn-native.armv7.glibc.node linux-arm64/hdrnn-native.armv8.glibc.node; do
  grep -qx "package/prebuilds/$f" "$work/contents" ||
    fail "tarball lacks the prebuild prebuilds/$f (run npm run prebuild:all before packing)"
done
grep -qx package/scripts/install.cjs "$work/contents" || fail "tarball lacks scripts/install.cjs (the install script)"
say "tarball $tarball: $(wc -l <"$work/contents") files, $(du -h "$work/$tarball" | cut -f1)"
tar -xzf "$work/$tarball" -C "$work" package/prebuilds
bash scripts/check-glibc.sh "$work"/package/prebuilds/*/*.node

app="$work/app"
mkdir -p "$app"
cd "$app"
npm init -y >/dev/null
# --ignore-scripts: nothing may compile; the prebuild alone must do.
npm install --no-audit --no-fund --ignore-scripts "$work/$tarball" >&2
node -e "require('hdrnn-native')" || fail "the package does not load from its prebuild"
# The install script, as a normal install runs it: it must pick the prebuild.
npm rebuild --no-audit --no-fund hdrnn-native >&2
[ -e node_modules/hdrnn-native/build ] && fail "the install script compiled the addon although a linux-x64 prebuild was in the tarball"
say "installed; addon: $(node -p "require('node-gyp-build').resolve('node_modules/hdrnn-native')")"

cat >esm.mjs <<'JS'
import { Network, Dataset, infer, train, kernels, version } from 'hdrnn-native';
import assert from 'node:assert/strict';
const inputs = new Uint8Array(400 * 16).map((_, i) => ((i % 16) < 8) === (Math.floor(i / 16) % 2 === 0) ? 220 : 10);
const labels = Uint8Array.from({ length: 400 }, (_, i) => i % 2);
const data = Dataset.from({ inputs, labels, inputSize: 16 });
const net = await train(data, { shape: [16, 4, 2], epochs: 20, seed: 1 });
assert.ok(net instanceof Network);
const r = await infer(net, data.input(1));
assert.equal(r.label, 1);
console.log(`esm ok: hdrnn-native ${version}, kernels ${kernels}, accuracy ${(await net.evaluate(data)).accuracy}`);
JS
node esm.mjs

cat >cjs.cjs <<'JS'
const { Network, Dataset } = require('hdrnn-native');
const assert = require('node:assert/strict');
(async () => {
  const net = new Network({ shape: [4, 3, 2], seed: 1 });
  const data = Dataset.from({ inputs: [1, 0, 0, 0, 0, 0, 0, 1], labels: [0, 1], inputSize: 4 });
  await net.train(data, { epochs: 200, seed: 1 });
  assert.equal((await net.infer([0, 0, 0, 1])).label, 1);
  const copy = Network.fromBuffer(await net.toBuffer());
  assert.deepEqual(copy.shape, [4, 3, 2]);
  console.log('cjs ok');
})().catch((e) => { console.error(e); process.exit(1); });
JS
node cjs.cjs

cat >types.ts <<'TS'
import { Network, type TrainOptions, type EpochReport } from 'hdrnn-native';
const options: TrainOptions = { epochs: 1, onEpoch: (e: EpochReport) => void e.loss };
const net: Network = new Network({ shape: [784, 32, 10] });
export const shape: readonly number[] = net.shape;
export { options };
TS
cat >tsconfig.json <<'JSON'
{ "compilerOptions": { "strict": true, "module": "nodenext", "moduleResolution": "nodenext", "noEmit": true, "skipLibCheck": false, "types": ["node"] }, "files": ["types.ts"] }
JSON
npm install --no-audit --no-fund --no-save @types/node@20 >&2
"$repo/node_modules/.bin/tsc" -p tsconfig.json
say "types resolve (module nodenext)"

npx --no-install hdrnn --help | head -n 1
npx --no-install hdrnn train --bogus 2>/dev/null && fail "bad option accepted" || true

say "the x64 prebuild on glibc 2.31: this Node under Debian bullseye's loader and libc"
bullseye=$(bash "$repo/scripts/sysroot-bullseye.sh" amd64 | tail -n 1)
"$bullseye/lib64/ld-linux-x86-64.so.2" --library-path "$bullseye/lib/x86_64-linux-gnu:$bullseye/usr/lib/x86_64-linux-gnu" \
  "$(command -v node)" cjs.cjs
"$bullseye/lib64/ld-linux-x86-64.so.2" --library-path "$bullseye/lib/x86_64-linux-gnu:$bullseye/usr/lib/x86_64-linux-gnu" \
  "$(command -v node)" -p "'glibc ' + process.report.getReport().header.glibcVersionRuntime"

node16=$(bash "$repo/scripts/node-official.sh" x64 "${HDRNN_NODE16_VERSION:-16.20.2}")
say "the package on the official Node $("$node16" --version) (x64)"
"$node16" cjs.cjs
"$node16" esm.mjs
"$node16" node_modules/hdrnn-native/dist/cli.js --help | head -n 1

say "a prebuild that fits by name but does not load (as on a glibc older than 2.31): one line"
pb=node_modules/hdrnn-native/prebuilds
cp "$pb/linux-x64/hdrnn-native.glibc.node" "$work/x64.node"
cp "$pb/linux-arm64/hdrnn-native.armv8.glibc.node" "$pb/linux-x64/hdrnn-native.glibc.node"   # dlopen refuses it
msg=$(node -e "try { require('hdrnn-native'); process.exit(3) } catch (e) { if (e.code !== 'ERR_HDRNN_NO_BINARY') process.exit(4); console.log(e.message) }") ||
  fail "require() of a prebuild that does not load did not throw ERR_HDRNN_NO_BINARY (exit $?)"
printf '  require: %s\n' "$msg" >&2
[ "$(wc -l <<<"$msg")" = 1 ] || fail "the require() message is not one line"
grep -qF 'loading it failed' <<<"$msg" || fail "the require() message does not say the prebuild failed to load"
cp "$work/x64.node" "$pb/linux-x64/hdrnn-native.glibc.node"

say "no prebuild that fits and no compiler: one line, on install and on require()"
rm -rf node_modules/hdrnn-native/prebuilds/linux-x64
bare="$work/bare-bin"     # node, npm and sh only: no compiler, no make, no python
mkdir -p "$bare"
ln -s "$(command -v node)" "$bare/node"
ln -s "$(command -v npm)" "$bare/npm"
ln -s "$(command -v sh)" "$bare/sh"
if PATH="$bare" npm rebuild --no-audit --no-fund --foreground-scripts hdrnn-native >"$work/rebuild.out" 2>"$work/rebuild.err"; then
  fail "npm rebuild succeeded with no usable prebuild and no compiler"
fi
grep -q 'node-gyp' "$work/rebuild.err" "$work/rebuild.out" && { cat "$work/rebuild.err" >&2; fail "node-gyp ran although there is no compiler"; }
line=$(grep '^hdrnn-native: no usable prebuild' "$work/rebuild.err" "$work/rebuild.out" | head -n 1 | cut -d: -f2-) ||
  { cat "$work/rebuild.out" "$work/rebuild.err" >&2; fail "no one-line explanation from the install script"; }
printf '  install: %s\n' "$line" >&2
for want in 'linux-x64' 'no prebuild for linux-x64' 'linux-arm armv7 glibc>=2.31' 'linux-arm64 armv8 glibc>=2.31' 'a C++ compiler'; do
  grep -qF -- "$want" <<<"$line" || fail "the install message lacks '$want': $line"
done
msg=$(node -e "try { require('hdrnn-native'); process.exit(3) } catch (e) { if (e.code !== 'ERR_HDRNN_NO_BINARY' || !e.cause) process.exit(4); console.log(e.message) }") ||
  fail "require() with no usable prebuild did not throw ERR_HDRNN_NO_BINARY (exit $?)"
printf '  require: %s\n' "$msg" >&2
[ "$(wc -l <<<"$msg")" = 1 ] || fail "the require() message is not one line"
grep -qF 'no prebuild for linux-x64' <<<"$msg" || fail "the require() message does not say what is missing"
say "package checks passed"
