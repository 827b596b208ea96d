/**
 * Model and optimizer options (issue 10) through the public API: activations,
 * losses and initialisation (gradients checked against numerical ones),
 * optimizers and schedules, determinism, checkpoints and resuming,
 * regression targets, standardisation, class names and format v3.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { native } from '../lib/binding';
import { Dataset, ErrorCodes, Network, bandData, rng, tempDir, type Activation, type Loss } from './helpers';

const problem = bandData(600, 24, 4, 3);
const data = Dataset.from({ inputs: problem.inputs, labels: problem.labels, inputSize: 24 });
const testProblem = bandData(300, 24, 4, 4);
const test = Dataset.from({ inputs: testProblem.inputs, labels: testProblem.labels, inputSize: 24 });

function act(a: Activation, z: number): number {
  if (a === 'sigmoid') return 1 / (1 + Math.exp(-z));
  if (a === 'tanh') return Math.tanh(z);
  if (a === 'relu') return z > 0 ? z : 0;
  return z;
}

/** Cost of one example in double, from parameters given as plain arrays (written out independently). */
function cost(shape: number[], acts: Activation[], loss: Loss, w: number[][], b: number[][], x: number[], y: number[]): number {
  let a = x;
  for (let l = 0; l + 1 < shape.length; l++) {
    const z: number[] = [];
    for (let j = 0; j < shape[l + 1]; j++) {
      let s = b[l][j];
      for (let i = 0; i < shape[l]; i++) s += w[l][j * shape[l] + i] * a[i];
      z.push(s);
    }
    if (acts[l] === 'softmax') {
      const top = Math.max(...z);
      const e = z.map((v) => Math.exp(v - top));
      const sum = e.reduce((p, q) => p + q, 0);
      a = e.map((v) => v / sum);
    } else {
      a = z.map((v) => act(acts[l], v));
    }
  }
  const out = acts[acts.length - 1];
  let c = 0;
  for (let j = 0; j < a.length; j++) {
    if (loss === 'quadratic') c += 0.5 * (a[j] - y[j]) ** 2;
    else c -= y[j] * Math.log(a[j]) + (out === 'sigmoid' ? (1 - y[j]) * Math.log(1 - a[j]) : 0);
  }
  return c;
}

describe('model options', () => {
  it('defaults to the seed model, the same weights as before the options existed', async () => {
    const plain = new Network({ shape: [24, 8, 4], seed: 9 });
    const explicit = new Network({ shape: [24, 8, 4], seed: 9, activation: 'sigmoid', output: 'sigmoid', loss: 'quadratic', init: 'normal' });
    expect(plain.activations).toEqual(['sigmoid', 'sigmoid']);
    expect(plain.loss).toBe('quadratic');
    expect(plain.outputKind).toBe('scores');
    expect(plain.preferredFormat).toBe('v2');
    expect(plain.classes).toBeNull();
    expect(plain.standardization).toBeNull();
    expect(await plain.toBuffer()).toEqual(await explicit.toBuffer());
    expect((await plain.toBuffer()).readUInt16LE(4)).toBe(2);
    expect(new Network({ shape: [784, 30, 10], seed: 1 }).preferredFormat).toBe('seed');
  });

  it('resolves activation/output/activations and refuses what does not go together', () => {
    const net = new Network({ shape: [5, 4, 3, 2], activation: 'relu', output: 'softmax', loss: 'cross-entropy', init: 'he', seed: 1 });
    expect(net.activations).toEqual(['relu', 'relu', 'softmax']);
    expect(net.outputKind).toBe('probabilities');
    expect(net.preferredFormat).toBe('v3');
    const per = new Network({ shape: [5, 4, 3, 2], activations: ['tanh', 'relu', 'linear'], seed: 1 });
    expect(per.activations).toEqual(['tanh', 'relu', 'linear']);
    expect(per.outputKind).toBe('values');
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return (error as { code: string }).code;
      }
      return 'no error';
    };
    expect(code(() => new Network({ shape: [5, 2], output: 'relu' as never }))).toBe(ErrorCodes.INVALID_ARG_VALUE);
    expect(code(() => new Network({ shape: [5, 3, 2], activation: 'softmax' as never }))).toBe(ErrorCodes.INVALID_ARG_VALUE);
    expect(code(() => new Network({ shape: [5, 3, 2], activations: ['softmax', 'sigmoid'] }))).toBe(ErrorCodes.INVALID_ARG_VALUE);
    expect(code(() => new Network({ shape: [5, 3, 2], activations: ['relu'] }))).toBe(ErrorCodes.OUT_OF_RANGE);
    expect(code(() => new Network({ shape: [5, 2], output: 'linear', loss: 'cross-entropy' }))).toBe(ErrorCodes.INVALID_ARG_VALUE);
    expect(code(() => new Network({ shape: [5, 2], init: 'glorot' as never }))).toBe(ErrorCodes.INVALID_ARG_VALUE);
    expect(code(() => new Network({ shape: [5, 2], loss: 7 as never }))).toBe(ErrorCodes.INVALID_ARG_TYPE);
  });

  it('computes the gradient of every activation/loss pair (checked against central differences)', async () => {
    const shape = [3, 4, 3];
    const hidden: Activation[] = ['sigmoid', 'tanh', 'relu'];
    const outputs: Activation[] = ['sigmoid', 'softmax', 'linear'];
    const random = rng(5);
    let pairs = 0;
    for (const h of hidden) {
      for (const o of outputs) {
        for (const loss of ['quadratic', 'cross-entropy'] as Loss[]) {
          if (loss === 'cross-entropy' && o === 'linear') continue;
          const net = new Network({ shape, activations: [h, o], loss, init: 'xavier', seed: 10 + pairs });
          const x = Array.from({ length: 3 }, () => random() * 2 - 1);
          const regression = o === 'linear';
          const label = pairs % 3;
          const y = regression ? [0.3, -0.2, 0.9] : [0, 1, 2].map((j) => (j === label ? 1 : 0));
          const one = regression
            ? Dataset.from({ inputs: Float32Array.from(x), targets: Float32Array.from(y), targetSize: 3, inputSize: 3 })
            : Dataset.from({ inputs: Float32Array.from(x), labels: [label], inputSize: 3 });
          const before = await net.getParameters();
          // One plain SGD step with eta = 1 and one example: w_after = w - gradient.
          await net.train(one, { epochs: 1, batchSize: 1, learningRate: 1, seed: 1, shuffle: false, threads: 1 });
          const after = await net.getParameters();
          const w = before.weights.map((a) => Array.from(a));
          const b = before.biases.map((a) => Array.from(a));
          const eps = 1e-6;
          let largest = 0;
          for (const [list, analytic] of [
            [w, before.weights.map((a, l) => Array.from(a, (v, i) => v - after.weights[l][i]))],
            [b, before.biases.map((a, l) => Array.from(a, (v, i) => v - after.biases[l][i]))],
          ] as const) {
            for (let l = 0; l < list.length; l++) {
              for (let i = 0; i < list[l].length; i++) {
                const keep = list[l][i];
                list[l][i] = keep + eps;
                const up = cost(shape, [h, o], loss, w, b, x.map((v) => Math.fround(v)), y);
                list[l][i] = keep - eps;
                const down = cost(shape, [h, o], loss, w, b, x.map((v) => Math.fround(v)), y);
                list[l][i] = keep;
                const numeric = (up - down) / (2 * eps);
                largest = Math.max(largest, Math.abs(numeric));
                expect(Math.abs(numeric - analytic[l][i]), `${h}/${o}/${loss} layer ${l} #${i}`).toBeLessThan(3e-5 + 1e-3 * Math.abs(numeric));
              }
            }
          }
          expect(largest).toBeGreaterThan(1e-3);
          pairs++;
        }
      }
    }
    expect(pairs).toBe(15);
  });

  it('learns with softmax + cross-entropy + Xavier; scores are probabilities and the loss is cross-entropy', async () => {
    const net = new Network({ shape: [24, 16, 4], output: 'softmax', loss: 'cross-entropy', init: 'xavier', seed: 2 });
    const report = await net.train(data, { epochs: 4, learningRate: 0.5, seed: 3, testData: test });
    expect(report.epochs[3].test!.accuracy).toBeGreaterThan(0.95);
    const results = await net.inferBatch(test);
    let ce = 0;
    for (let i = 0; i < results.length; i++) {
      const r = results[i];
      expect(r.kind).toBe('probabilities');
      const sum = r.scores.reduce((p, q) => p + q, 0);
      expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
      ce -= Math.log(Math.max(r.scores[test.label(i)], 1e-30));
    }
    const e = await net.evaluate(test);
    expect(e.loss).toBeCloseTo(ce / results.length, 6);
    expect((await net.infer(test.input(0))).kind).toBe('probabilities');
  });

  it('gives bit-identical weights whatever the thread count, for every optimizer and schedule', async () => {
    const variants = [
      { optimizer: 'adam' as const, weightDecay: 1e-4 },
      { optimizer: { type: 'momentum' as const, momentum: 0.8 }, schedule: { type: 'cosine' as const } },
      { optimizer: 'sgd' as const, weightDecay: 1e-3, schedule: { type: 'step' as const, every: 1, factor: 0.5 } },
    ];
    for (const options of variants) {
      const run = async (threads: number) => {
        const net = new Network({ shape: [24, 70, 33, 4], activation: 'relu', output: 'softmax', loss: 'cross-entropy', init: 'he', seed: 4 });
        await net.train(data, { epochs: 2, batchSize: 9, learningRate: 0.01, seed: 6, threads, ...options });
        return net.toBuffer();
      };
      const one = await run(1);
      expect(await run(2)).toEqual(one);
      expect(await run(3)).toEqual(one);
    }
  });

  it('moves differently with each optimizer, and checks their options', async () => {
    const bytes = async (optimizer: 'sgd' | 'momentum' | 'adam') => {
      const net = new Network({ shape: [24, 8, 4], output: 'softmax', loss: 'cross-entropy', init: 'xavier', seed: 4 });
      const r = await net.train(data, { epochs: 3, learningRate: optimizer === 'adam' ? 0.01 : 0.1, seed: 6, optimizer, testData: test });
      expect(r.epochs[2].test!.accuracy).toBeGreaterThan(0.9);
      return net.toBuffer();
    };
    const [sgd, momentum, adam] = [await bytes('sgd'), await bytes('momentum'), await bytes('adam')];
    expect(sgd).not.toEqual(momentum);
    expect(sgd).not.toEqual(adam);
    const net = new Network({ shape: [24, 4], seed: 1 });
    const codeOf = async (options: object) => net.train(data, { epochs: 1, ...options }).then(() => 'no error', (e: { code: string }) => e.code);
    expect(await codeOf({ optimizer: 'rmsprop' })).toBe(ErrorCodes.INVALID_ARG_VALUE);
    expect(await codeOf({ optimizer: { type: 'adam', beta1: 1 } })).toBe(ErrorCodes.OUT_OF_RANGE);
    expect(await codeOf({ weightDecay: -1 })).toBe(ErrorCodes.OUT_OF_RANGE);
    expect(await codeOf({ schedule: { type: 'step', every: 0, factor: 0.5 } })).toBe(ErrorCodes.OUT_OF_RANGE);
    expect(await codeOf({ schedule: { type: 'linear' } })).toBe(ErrorCodes.INVALID_ARG_VALUE);
    expect(await codeOf({ resume: [1, 2] })).toBe(ErrorCodes.INVALID_ARG_TYPE);
    // The reference algorithm is the seed's alone.
    expect(await codeOf({ algorithm: 'reference', optimizer: 'adam' })).toBe(ErrorCodes.UNSUPPORTED);
    const softmax = new Network({ shape: [24, 4], output: 'softmax', seed: 1 });
    expect(await softmax.train(data, { epochs: 1, algorithm: 'reference' }).then(() => 'ok', (e: { code: string }) => e.code)).toBe(ErrorCodes.UNSUPPORTED);
  });

  it('resumes from a v3 checkpoint with the same weights as an uninterrupted run', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const model = { shape: [24, 12, 4], activation: 'tanh' as const, output: 'softmax' as const, loss: 'cross-entropy' as const, init: 'xavier' as const, seed: 8 };
      const options = { batchSize: 8, learningRate: 0.02, seed: 5, optimizer: 'adam' as const, schedule: { type: 'cosine' as const }, threads: 2 };
      const whole = new Network(model);
      await whole.train(data, { ...options, epochs: 3 });

      const first = new Network(model);
      const r1 = await first.train(data, { ...options, epochs: 1, keepState: true });
      expect(r1.epochs[0].state).toBeInstanceOf(Uint8Array);
      expect(r1.state).toEqual(r1.epochs[0].state);
      const file = path.join(dir, 'run.ckpt');
      await first.save(file, { trainerState: r1.state! });
      expect(readFileSync(file).readUInt16LE(4)).toBe(3);
      const { network, trainerState } = await Network.loadCheckpoint(file);
      expect(trainerState).toEqual(Buffer.from(r1.state!));
      expect(network.activations).toEqual(['tanh', 'softmax']);
      await network.train(data, { ...options, epochs: 2, resume: trainerState! });
      expect(await network.toBuffer()).toEqual(await whole.toBuffer());
      // Without the state the continued run differs (the shuffle, Adam's moments).
      const fresh = (await Network.loadCheckpoint(file)).network;
      await fresh.train(data, { ...options, epochs: 2 });
      expect(await fresh.toBuffer()).not.toEqual(await whole.toBuffer());
      // Plain network files carry no state; a state of another optimizer is refused.
      await whole.save(path.join(dir, 'plain.nn'));
      expect((await Network.loadCheckpoint(path.join(dir, 'plain.nn'))).trainerState).toBeNull();
      const other = await network.train(data, { ...options, optimizer: 'momentum', epochs: 1, resume: trainerState! }).then(() => 'ok', (e: { code: string }) => e.code);
      expect(other).toBe(ErrorCodes.SHAPE_MISMATCH);
      await expect(first.toBuffer({ format: 'v2', trainerState: r1.state! })).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARG_VALUE });
    } finally {
      cleanup();
    }
  });

  it('trains regression targets with a linear output and reports rmse and mae', async () => {
    const random = rng(12);
    const count = 400;
    const x = new Float32Array(count * 3);
    const y = new Float32Array(count * 2);
    for (let i = 0; i < count; i++) {
      for (let j = 0; j < 3; j++) x[i * 3 + j] = random() * 2 - 1;
      y[i * 2] = 0.5 * x[i * 3] - 0.3 * x[i * 3 + 1] + 0.1;
      y[i * 2 + 1] = x[i * 3 + 2] * x[i * 3 + 2];
    }
    const set = Dataset.from({ inputs: x, targets: y, targetSize: 2, inputSize: 3 });
    expect(set.task).toBe('regression');
    expect(set.targetSize).toBe(2);
    expect(Array.from(set.targets!.subarray(0, 2))).toEqual(Array.from(y.subarray(0, 2)));
    expect(set.slice(10, 20).targets![0]).toBe(y[20]);
    expect(data.task).toBe('classification');
    const net = new Network({ shape: [3, 16, 2], activation: 'tanh', output: 'linear', init: 'xavier', seed: 3 });
    const before = await net.evaluate(set);
    const report = await net.train(set, { epochs: 60, batchSize: 10, learningRate: 0.05, seed: 2, optimizer: 'momentum', testData: set });
    const e = await net.evaluate(set);
    expect(report.epochs[59].test!.rmse).toBe(e.rmse);
    expect(report.epochs[59].test!.mae).toBe(e.mae);
    expect(e.rmse).toBeLessThan(0.08);
    expect(e.rmse!).toBeLessThan(before.rmse! / 4);
    expect(e.mae!).toBeLessThanOrEqual(e.rmse!);
    const r = await net.infer(set.input(0));
    expect(r.kind).toBe('values');
    // rmse by hand from the predictions.
    const all = await net.inferBatch(set);
    let sq = 0;
    all.forEach((p, i) => p.scores.forEach((v, j) => (sq += (v - y[i * 2 + j]) ** 2)));
    expect(e.rmse).toBeCloseTo(Math.sqrt(sq / (count * 2)), 5);
    expect(() => Dataset.from({ inputs: x, targets: y.subarray(1), targetSize: 2, inputSize: 3 })).toThrow(expect.objectContaining({ code: ErrorCodes.OUT_OF_RANGE }));
    expect(() => Dataset.from({ inputs: x, targets: y, labels: [0], inputSize: 3 })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARG_TYPE }));
    const wrong = new Network({ shape: [3, 4, 3], output: 'linear', seed: 1 });
    await expect(wrong.train(set, { epochs: 1 })).rejects.toMatchObject({ code: ErrorCodes.SHAPE_MISMATCH });
  });

  it('fits, stores and applies a standardisation', async () => {
    const random = rng(3);
    const count = 300;
    const x = new Float32Array(count * 2);
    const labels = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      labels[i] = random() < 0.5 ? 0 : 1;
      x[i * 2] = 1000 + 50 * (labels[i] + random()); // sensor in the thousands
      x[i * 2 + 1] = 0.001 * random();
    }
    const raw = Dataset.from({ inputs: x, labels, inputSize: 2 });
    const s = await raw.standardize();
    let mean = 0;
    for (let i = 0; i < count; i++) mean += x[i * 2];
    expect(s.mean[0]).toBeCloseTo(mean / count, 2);
    expect(s.std[0]).toBeGreaterThan(20);
    const net = new Network({ shape: [2, 6, 2], output: 'softmax', loss: 'cross-entropy', init: 'xavier', seed: 1 });
    net.setStandardization(s);
    expect(net.preferredFormat).toBe('v3');
    expect(Array.from(net.standardization!.std)).toEqual(Array.from(s.std));
    await net.train(raw, { epochs: 20, learningRate: 0.5, seed: 1 });
    expect((await net.evaluate(raw)).accuracy).toBeGreaterThan(0.9);
    // The same as standardising the data by hand, bit for bit.
    // (float subtraction, then float division: what the core does)
    const scaled = Float32Array.from(x, (v, i) => Math.fround(v - s.mean[i % 2]) / s.std[i % 2]);
    const byHand = new Network({ shape: [2, 6, 2], output: 'softmax', loss: 'cross-entropy', init: 'xavier', seed: 1 });
    await byHand.train(Dataset.from({ inputs: scaled, labels, inputSize: 2 }), { epochs: 20, learningRate: 0.5, seed: 1 });
    expect(await byHand.getParameters()).toEqual(await net.getParameters());
    // Raw inputs give the scaled network's answer after a save and load.
    const back = Network.fromBuffer(await net.toBuffer());
    expect((await back.infer(Float32Array.from([1080, 0.0005]))).scores).toEqual((await net.infer(Float32Array.from([1080, 0.0005]))).scores);
    expect(() => net.setStandardization({ mean: s.mean, std: Float32Array.from([1, 0]) })).toThrow(expect.objectContaining({ code: ErrorCodes.OUT_OF_RANGE }));
    expect(() => net.setStandardization({ mean: new Float32Array(3), std: new Float32Array(3) })).toThrow(expect.objectContaining({ code: ErrorCodes.SHAPE_MISMATCH }));
    net.setStandardization(null);
    expect(net.standardization).toBeNull();
  });

  it('keeps activations, loss, standardisation and class names in v3 files; v2 refuses them', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const net = new Network({ shape: [3, 5, 3], activation: 'relu', output: 'softmax', loss: 'cross-entropy', init: 'he', seed: 5 });
      net.setClasses(['sun', 'rain', 'snö']);
      net.setStandardization({ mean: Float32Array.from([1, 2, 3]), std: Float32Array.from([2, 2, 0.5]) });
      const file = path.join(dir, 'model.nn');
      await net.save(file);
      const bytes = readFileSync(file);
      expect(bytes.readUInt16LE(4)).toBe(3);
      const back = await Network.load(file);
      expect(back.activations).toEqual(['relu', 'softmax']);
      expect(back.loss).toBe('cross-entropy');
      expect(back.classes).toEqual(['sun', 'rain', 'snö']);
      expect(Array.from(back.standardization!.mean)).toEqual([1, 2, 3]);
      expect(await back.toBuffer()).toEqual(bytes);
      expect(await back.getParameters()).toEqual(await net.getParameters());
      await expect(net.toBuffer({ format: 'v2' })).rejects.toMatchObject({ code: ErrorCodes.UNSUPPORTED });
      expect(() => net.setClasses(['a', 'b'])).toThrow(expect.objectContaining({ code: ErrorCodes.SHAPE_MISMATCH }));
      expect(() => net.setClasses(['a', '', 'c'])).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARG_VALUE }));
      expect(() => net.setClasses(['a', 'b', 'x'.repeat(256)])).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARG_VALUE }));
      // Corrupted bytes are a checksum error; a cut file is a bad file.
      const bad = Buffer.from(bytes);
      bad[bad.length >> 1] ^= 4;
      writeFileSync(file, bad);
      await expect(Network.load(file)).rejects.toMatchObject({ code: ErrorCodes.CHECKSUM });
      expect(() => Network.fromBuffer(bytes.subarray(0, 20))).toThrow(expect.objectContaining({ code: ErrorCodes.CHECKSUM }));
      expect(() => Network.fromBuffer(bytes.subarray(0, 10))).toThrow(expect.objectContaining({ code: ErrorCodes.BAD_FILE }));
      // A plain network still writes the seed or v2 format, byte for byte as before.
      const plain = new Network({ shape: [784, 16, 10], seed: 1 });
      const seedBytes = await plain.toBuffer();
      expect(seedBytes[0]).toBe(7);
      expect(await Network.fromBuffer(seedBytes).toBuffer()).toEqual(seedBytes);
      const v3 = await plain.toBuffer({ format: 'v3' });
      expect(await Network.fromBuffer(v3).toBuffer()).toEqual(seedBytes);
    } finally {
      cleanup();
    }
  });

  it('checks the model options again at the addon boundary', () => {
    const make = (model: unknown) => () => new native.NativeNetwork([3, 2], 1n, undefined, model as never);
    expect(make({ activations: ['relu', 'swish'] })).toThrow(expect.objectContaining({ code: ErrorCodes.OUT_OF_RANGE }));
    expect(make({ activations: ['swish'] })).toThrow(expect.objectContaining({ code: 'ERR_HDRNN_INVALID_ARGUMENT' }));
    expect(make({ activations: [7] })).toThrow(TypeError);
    expect(make({ activations: 'relu' })).toThrow(TypeError);
    expect(make({ loss: 'hinge' })).toThrow(TypeError);
    expect(make({ activations: ['linear'], loss: 'cross-entropy' })).toThrow(expect.objectContaining({ code: 'ERR_HDRNN_INVALID_ARGUMENT' }));
    expect(make({ init: {} })).toThrow(TypeError);
    expect(make(42)).toThrow(TypeError);
    const n = make({ activations: ['softmax'], loss: 'cross-entropy', init: 'he' })();
    expect(n.activations).toEqual(['softmax']);
    expect(() => n.setStandardization(new Float32Array(3), new Float64Array(3) as never)).toThrow(TypeError);
    expect(() => n.setStandardization(new Float32Array(2), new Float32Array(2))).toThrow(expect.objectContaining({ code: ErrorCodes.SHAPE_MISMATCH }));
    expect(() => n.setStandardization(new Float32Array(3), new Float32Array(3))).toThrow(expect.objectContaining({ code: 'ERR_HDRNN_INVALID_ARGUMENT' }));
    expect(() => n.setClasses(['a', 'b\0c'])).toThrow(TypeError);
    expect(() => n.setClasses(['a', 'é'.repeat(128)])).toThrow(expect.objectContaining({ code: 'ERR_HDRNN_INVALID_ARGUMENT' }));
    expect(() => n.setClasses(['a'])).toThrow(expect.objectContaining({ code: ErrorCodes.SHAPE_MISMATCH }));
    expect(() => n.encodeCheckpoint(new Uint8Array(0))).toThrow(RangeError);
    expect(() => n.encodeCheckpoint([1] as never)).toThrow(TypeError);
  });
});
