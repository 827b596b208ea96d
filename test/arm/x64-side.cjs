// The x64 half of the Arm checks, run by the host's Node:
//   node x64-side.cjs make OUT_DIR          trains the common network, saves x64.nn and x64.json
//   node x64-side.cjs check OUT_DIR [ARCH]  loads armv7.nn (ARCH arm, the default) or
//                                           arm64.nn (arm64), made under emulation, and compares
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const common = require('./common.cjs');

const hdrnn = require(process.env.HDRNN_PKG || path.resolve(__dirname, '..', '..'));

async function main() {
  const [mode, out, arch = 'arm'] = process.argv.slice(2);
  const mnist = await hdrnn.loadMnist(process.env.HDRNN_MNIST);
  const test = mnist.test.slice(0, common.testCount);
  if (mode === 'make') {
    const net = new hdrnn.Network({ shape: common.shape, seed: common.seed });
    await net.train(mnist.train.slice(0, common.trainCount), common.options);
    await net.save(path.join(out, 'x64.nn'), { format: 'v2' });
    const evaluation = await net.evaluate(test);
    fs.writeFileSync(path.join(out, 'x64.json'), JSON.stringify({ accuracy: evaluation.accuracy, kernels: hdrnn.kernels }));
    console.log(JSON.stringify({ side: 'x64', accuracy: evaluation.accuracy, kernels: hdrnn.kernels }));
  } else if (mode === 'check') {
    const file = common.targets[arch].file;
    const arm = await hdrnn.Network.load(path.join(out, file));
    const x64 = await hdrnn.Network.load(path.join(out, 'x64.nn'));
    const diff = common.maxDiff(await arm.getParameters(), await x64.getParameters());
    const armAccuracy = (await arm.evaluate(test)).accuracy;
    const x64Accuracy = (await x64.evaluate(test)).accuracy;
    console.log(JSON.stringify({ side: 'x64', loaded: file, maxParameterDiff: diff, armAccuracyOnX64: armAccuracy, x64Accuracy }));
    assert.ok(diff <= common.parameterTolerance, `parameters differ by ${diff}`);
    assert.ok(Math.abs(armAccuracy - x64Accuracy) <= common.accuracyTolerance);
  } else {
    throw new Error('usage: x64-side.cjs make|check OUT_DIR [arm|arm64]');
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
