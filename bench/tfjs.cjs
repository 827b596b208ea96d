// One epoch of the HDR-NN in TensorFlow.js with its WebAssembly backend, for
// `npm run bench`: node bench/tfjs.cjs MNIST_DIR HIDDEN BATCH -> one JSON line.
// Same network (sigmoid, N(0,1) weights, SGD). tf's meanSquaredError averages
// over the 10 outputs and doubles: its gradient is (2/10)(a - y) against the
// quadratic cost's (a - y), so the learning rate is 3 * 5 = 15 to match.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
// Installed on demand into .cache/bench-peers/ (see peers.cjs), not by npm install.
const peer = require('./peers.cjs').peerRequire();
const tf = peer('@tensorflow/tfjs');
peer('@tensorflow/tfjs-backend-wasm');

async function main() {
  const [dir, hiddenText, batchText] = process.argv.slice(2);
  const hidden = Number(hiddenText);
  const batch = Number(batchText);
  await tf.setBackend('wasm');
  await tf.ready();
  const images = fs.readFileSync(path.join(dir, 'train-images-idx3-ubyte')).subarray(16);
  const labels = fs.readFileSync(path.join(dir, 'train-labels-idx1-ubyte')).subarray(8);
  const testImages = fs.readFileSync(path.join(dir, 't10k-images-idx3-ubyte')).subarray(16);
  const testLabels = fs.readFileSync(path.join(dir, 't10k-labels-idx1-ubyte')).subarray(8);
  const x = tf.tensor2d(Float32Array.from(images, (v) => v / 255), [60000, 784]);
  const y = tf.oneHot(tf.tensor1d(Int32Array.from(labels), 'int32'), 10).toFloat();
  const init = tf.initializers.randomNormal({ mean: 0, stddev: 1, seed: 1 });
  const model = tf.sequential();
  model.add(tf.layers.dense({ units: hidden, activation: 'sigmoid', inputShape: [784], kernelInitializer: init, biasInitializer: init }));
  model.add(tf.layers.dense({ units: 10, activation: 'sigmoid', kernelInitializer: init, biasInitializer: init }));
  model.compile({ optimizer: tf.train.sgd(15), loss: 'meanSquaredError' });
  const t = performance.now();
  await model.fit(x, y, { epochs: 1, batchSize: batch, shuffle: true, verbose: 0 });
  const seconds = (performance.now() - t) / 1000;
  const tx = tf.tensor2d(Float32Array.from(testImages, (v) => v / 255), [10000, 784]);
  const predicted = model.predict(tx).argMax(1).dataSync();
  let correct = 0;
  for (let i = 0; i < 10000; i++) if (predicted[i] === testLabels[i]) correct++;
  process.stdout.write(`${JSON.stringify({
    seconds,
    accuracy: correct / 10000,
    backend: tf.getBackend(),
    simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT'),
    threads: tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT'),
  })}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
