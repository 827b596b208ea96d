// The training both sides of the x64/armv7 comparison run: same seed, same
// data, same options, so their networks should agree to float tolerance.
'use strict';
/** Largest difference between two networks' parameters ({ weights, biases } per layer). */
function maxDiff(a, b) {
  let worst = 0;
  for (let l = 0; l < a.weights.length; l++) {
    for (let i = 0; i < a.weights[l].length; i++) worst = Math.max(worst, Math.abs(a.weights[l][i] - b.weights[l][i]));
    for (let i = 0; i < a.biases[l].length; i++) worst = Math.max(worst, Math.abs(a.biases[l][i] - b.biases[l][i]));
  }
  return worst;
}

module.exports = {
  maxDiff,
  // process.arch -> what the suite expects of that Arm target.
  targets: {
    arm: { name: 'armv7 hard-float', prebuild: 'prebuilds/linux-arm/hdrnn-native.armv7.glibc.node', file: 'armv7.nn' },
    arm64: { name: 'arm64', prebuild: 'prebuilds/linux-arm64/hdrnn-native.armv8.glibc.node', file: 'arm64.nn' },
  },
  shape: [784, 16, 10],
  seed: 7,
  trainCount: 2000,
  testCount: 1000,
  options: { epochs: 1, batchSize: 10, learningRate: 3, shuffle: true, seed: 3, threads: 2 },
  // Measured differences are reported; these bounds say what "agree" means.
  // After 100 SGD steps the two builds differ only by rounding (x64 uses
  // fused multiply-add, the Cortex-A9 cannot), which stays far below 1e-2.
  parameterTolerance: 1e-2,
  accuracyTolerance: 0.01,
};
