// The Arm smoke suite, for armv7 and arm64: runs inside an Arm Node (Debian's
// armhf Node 18 or the official Node 16 armv7l under `qemu-arm -cpu
// cortex-a9`/`cortex-a8`; Debian's arm64 Node 18 under `qemu-aarch64 -cpu
// cortex-a53`/`cortex-a72`), against the package unpacked from its npm
// tarball into a node_modules (no compiler anywhere). node:test, in one
// process (qemu-user cannot start child Node processes).
//
// Environment: HDRNN_APP (a folder whose node_modules holds hdrnn-native),
// HDRNN_MNIST (the IDX folder), HDRNN_OUT (where x64.nn/x64.json are and
// <arch>.nn goes: armv7.nn or arm64.nn), HDRNN_EXPECT_KERNELS (default
// 'neon'), HDRNN_EXPECT_ARCH ('arm', the default, or 'arm64').
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { createRequire } = require('node:module');
const path = require('node:path');
const { test } = require('node:test');
const common = require('./common.cjs');

const app = process.env.HDRNN_APP;
const out = process.env.HDRNN_OUT;
const appRequire = createRequire(path.join(app, 'index.js'));
const packageDir = path.dirname(appRequire.resolve('hdrnn-native/package.json'));
const hdrnn = appRequire('hdrnn-native');
const expectKernels = process.env.HDRNN_EXPECT_KERNELS || 'neon';
const expectArch = process.env.HDRNN_EXPECT_ARCH || 'arm';
const target = common.targets[expectArch];
let mnist;

function report(what) {
  console.log(`# ${JSON.stringify(what)}`);
}

test(`runs on ${target.name}`, () => {
  report({ node: process.version, arch: process.arch, glibc: process.report.getReport().header.glibcVersionRuntime });
  assert.equal(process.arch, expectArch);
  if (expectArch === 'arm') assert.equal(process.config.variables.arm_float_abi, 'hard');
});

test('loads the addon from prebuilds/ through node-gyp-build, with nothing compiled', () => {
  const loaded = appRequire('node-gyp-build').resolve(packageDir);
  report({ addon: path.relative(packageDir, loaded) });
  assert.equal(path.relative(packageDir, loaded).split(path.sep).join('/'), target.prebuild);
  assert.equal(fs.existsSync(path.join(packageDir, 'build')), false);
});

test('reports the NEON kernels as active', () => {
  report({ kernels: hdrnn.kernels, available: hdrnn.availableKernels });
  assert.equal(hdrnn.kernels, expectKernels);
  assert.ok(hdrnn.availableKernels.includes('portable'));
});

test('trains on a slice of MNIST to 80% or better', async () => {
  // 5,000 images, 4 epochs, 784-30-10, seed 1: 83.7% on 1,000 test images on
  // x64. (With the seed's N(0,1) initialisation and quadratic cost, small
  // slices learn slowly; the full set reaches 91% in one epoch.)
  mnist = await hdrnn.loadMnist(process.env.HDRNN_MNIST);
  const net = new hdrnn.Network({ shape: [784, 30, 10], seed: 1 });
  const started = Date.now();
  const r = await net.train(mnist.train.slice(0, 5000), { epochs: 4, seed: 1, testData: mnist.test.slice(0, 1000) });
  const accuracy = r.epochs[3].test.accuracy;
  report({ slice: '5000 train / 1000 test, 784-30-10, 4 epochs', accuracy, seconds: (Date.now() - started) / 1000 });
  assert.ok(accuracy >= 0.8, `accuracy ${accuracy}`);
});

test('NEON and the forced portable path agree', async () => {
  const test = mnist.test.slice(0, 500);
  const net = new hdrnn.Network({ shape: [784, 32, 10], seed: 2 });
  const neon = await net.inferBatch(test, { kernels: expectKernels });
  const portable = await net.inferBatch(test, { kernels: 'portable' });
  let worst = 0;
  let labels = 0;
  for (let i = 0; i < neon.length; i++) {
    if (neon[i].label === portable[i].label) labels++;
    for (let j = 0; j < 10; j++) worst = Math.max(worst, Math.abs(neon[i].scores[j] - portable[i].scores[j]));
  }
  const a = new hdrnn.Network({ shape: [784, 32, 10], seed: 3 });
  const b = new hdrnn.Network({ shape: [784, 32, 10], seed: 3 });
  await a.train(mnist.train.slice(0, 500), { epochs: 1, seed: 1, kernels: expectKernels });
  await b.train(mnist.train.slice(0, 500), { epochs: 1, seed: 1, kernels: 'portable' });
  const trained = common.maxDiff(await a.getParameters(), await b.getParameters());
  report({ neonVsPortable: { maxScoreDiff: worst, sameLabels: `${labels}/${neon.length}`, maxParameterDiffAfter50Steps: trained } });
  assert.ok(worst <= 1e-5, `scores differ by ${worst}`);
  assert.ok(labels >= neon.length - 1);
  assert.ok(trained <= 1e-3, `trained parameters differ by ${trained}`);
});

test('agrees with the x64 build, and each loads the other\'s file', async () => {
  const net = new hdrnn.Network({ shape: common.shape, seed: common.seed });
  await net.train(mnist.train.slice(0, common.trainCount), common.options);
  await net.save(path.join(out, target.file), { format: 'v2' });
  const x64 = await hdrnn.Network.load(path.join(out, 'x64.nn'));
  const x64Report = JSON.parse(fs.readFileSync(path.join(out, 'x64.json'), 'utf8'));
  const diff = common.maxDiff(await net.getParameters(), await x64.getParameters());
  const test = mnist.test.slice(0, common.testCount);
  const x64HereAccuracy = (await x64.evaluate(test)).accuracy;
  const armAccuracy = (await net.evaluate(test)).accuracy;
  report({ armVsX64: { maxParameterDiff: diff, armAccuracy, x64Accuracy: x64Report.accuracy, x64NetworkAccuracyOnArm: x64HereAccuracy } });
  assert.ok(diff <= common.parameterTolerance, `parameters differ by ${diff}`);
  assert.ok(Math.abs(x64HereAccuracy - x64Report.accuracy) <= 0.002);
  assert.ok(Math.abs(armAccuracy - x64Report.accuracy) <= common.accuracyTolerance);
});

test('bad input gives coded errors, not crashes', async () => {
  const net = new hdrnn.Network({ shape: [784, 8, 10], seed: 1 });
  await assert.rejects(net.infer(new Float32Array(5)), { code: 'ERR_HDRNN_SHAPE_MISMATCH' });
  await assert.rejects(net.infer(new Float32Array(784).fill(NaN)), RangeError);
  const bytes = await net.toBuffer();
  assert.throws(() => hdrnn.Network.fromBuffer(bytes.subarray(0, 100)), { code: 'ERR_HDRNN_BAD_FILE' });
  const v2 = await net.toBuffer({ format: 'v2' });
  v2[200] ^= 1;
  assert.throws(() => hdrnn.Network.fromBuffer(v2), { code: 'ERR_HDRNN_CHECKSUM' });
  assert.throws(() => new hdrnn.Network({ shape: [784, 0, 10] }), RangeError);
  await assert.rejects(hdrnn.Network.load(path.join(out, 'missing.nn')), { code: 'ENOENT' });
  await assert.rejects(net.train(mnist.train.slice(0, 10), { learningRate: NaN }), RangeError);
  await assert.rejects(hdrnn.decodePgm(Buffer.from('P2\n2 2\n255\n1 2')), { code: 'ERR_HDRNN_BAD_FILE' });
});
