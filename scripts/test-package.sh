#!/usr/bin/env bash
# npm run test:package - installs the `npm pack` tarball into an empty project,
# as a user would, and checks that:
#  - the tarball holds the sources to build elsewhere and every prebuild made
#    (linux-x64; linux-arm when `npm run prebuild:armv7` ran);
#  - with a linux-x64 prebuild, installing compiles nothing (no build/ folder);
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

tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
tar -tzf "$work/$tarball" >"$work/contents"
for f in package/dist/index.js package/dist/index.mjs package/dist/index.d.ts package/dist/cli.js \
         package/binding.gyp package/CMakeLists.txt package/toolchains/armv7hf.cmake \
         package/native/core/include/hdrnn.h package/native/addon/addon.cc package/native/cli/hdrnn_c.c; do
  grep -qx "$f" "$work/contents" || fail "tarball lacks $f"
done
prebuilt=0
if [ -f prebuilds/linux-x64/hdrnn-native.glibc.node ]; then
  grep -qx package/prebuilds/linux-x64/hdrnn-native.glibc.node "$work/contents" || fail "tarball lacks the linux-x64 prebuild"
  prebuilt=1
fi
if [ -f prebuilds/linux-arm/hdrnn-native.armv7.glibc.node ]; then
  grep -qx package/prebuilds/linux-arm/hdrnn-native.armv7.glibc.node "$work/contents" || fail "tarball lacks the linux-arm prebuild"
fi
say "tarball $tarball: $(wc -l <"$work/contents") files, $(du -h "$work/$tarball" | cut -f1)"

app="$work/app"
mkdir -p "$app"
cd "$app"
npm init -y >/dev/null
npm install --no-audit --no-fund "$work/$tarball" >&2
if [ "$prebuilt" = 1 ] && [ -e node_modules/hdrnn-native/build ]; then
  fail "installing compiled the addon although a linux-x64 prebuild was in the tarball"
fi
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
say "package checks passed"
