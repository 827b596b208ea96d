/**
 * Training control at epoch boundaries: onEpoch's 'stop' (also from a
 * promise), early stopping with restoreBest, validation split and data,
 * checkpoints, and the top-level train() sizing its outputs from the data.
 * "Same weights" is checked against uninterrupted runs of the same seed.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { splitDataset } from '../lib/train-control';
import { Dataset, Network, bandData, tempDir, train, type TrainOptions } from './helpers';

const tmp = tempDir();
afterAll(tmp.cleanup);

const band = bandData(400, 24, 4, 5);
const data = Dataset.from({ ...band, inputSize: 24 });
const held = bandData(200, 24, 4, 6);
const heldData = Dataset.from({ ...held, inputSize: 24 });
const base: TrainOptions = { batchSize: 10, learningRate: 2, seed: 9, threads: 1 };

async function trained(epochs: number, extra: TrainOptions = {}): Promise<{ net: Network; bytes: Buffer }> {
  const net = new Network({ shape: [24, 12, 4], seed: 4 });
  await net.train(data, { ...base, epochs, ...extra });
  return { net, bytes: await net.toBuffer({ format: 'v2' }) };
}

describe("onEpoch: 'stop' ends the run at that epoch boundary", () => {
  it('returned at once: the weights are those of a 3-epoch run', async () => {
    const three = await trained(3);
    const net = new Network({ shape: [24, 12, 4], seed: 4 });
    const seen: number[] = [];
    const report = await net.train(data, { ...base, epochs: 10, onEpoch: (e) => (seen.push(e.epoch), e.epoch === 3 ? 'stop' : undefined) });
    expect(seen).toEqual([1, 2, 3]);
    expect(report.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(report.stopped).toEqual({ epoch: 3, by: 'onEpoch' });
    expect((await net.toBuffer({ format: 'v2' })).equals(three.bytes)).toBe(true);
  });

  it('from a promise that settles later: nothing trains while it waits', async () => {
    const two = await trained(2);
    const net = new Network({ shape: [24, 12, 4], seed: 4 });
    let during: Buffer | undefined;
    const report = await net.train(data, {
      ...base,
      epochs: 10,
      onEpoch: async (e) => {
        if (e.epoch < 2) return undefined;
        await new Promise((r) => setTimeout(r, 50));
        during = await net.toBuffer({ format: 'v2' }); // the paused weights
        await new Promise((r) => setTimeout(r, 50));
        return 'stop';
      },
    });
    expect(report.epochs).toHaveLength(2);
    expect(during!.equals(two.bytes)).toBe(true);
    expect((await net.toBuffer({ format: 'v2' })).equals(two.bytes)).toBe(true);
    expect(net.training).toBe(false);
  });

  it('a rejected promise stops the run and rejects with its error, keeping that epoch', async () => {
    const one = await trained(1);
    const net = new Network({ shape: [24, 12, 4], seed: 4 });
    const boom = new Error('boom');
    await expect(net.train(data, { ...base, epochs: 5, onEpoch: async () => Promise.reject(boom) })).rejects.toBe(boom);
    expect((await net.toBuffer({ format: 'v2' })).equals(one.bytes)).toBe(true);
  });

  it('an AbortSignal still stops a run paused at the boundary', async () => {
    const net = new Network({ shape: [24, 12, 4], seed: 4 });
    const controller = new AbortController();
    const run = net.train(data, { ...base, epochs: 5, signal: controller.signal, onEpoch: () => new Promise(() => controller.abort()) });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(net.training).toBe(false);
  });

  it('a plain undefined keeps training, and the weights do not depend on having an onEpoch', async () => {
    const five = await trained(5);
    const withCallback = await trained(5, { onEpoch: () => undefined });
    expect(withCallback.bytes.equals(five.bytes)).toBe(true);
  });
});

describe('early stopping', () => {
  // A network that learns noise: half the labels of a small training set
  // are wrong, so the validation loss soon stops improving.
  const noisy = Uint8Array.from(band.labels.subarray(0, 40), (y, i) => (i % 2 ? (y + 1 + (i % 3)) % 4 : y));
  const small = Dataset.from({ inputs: band.inputs.subarray(0, 40 * 24), labels: noisy, inputSize: 24 });
  const opts: TrainOptions = { ...base, learningRate: 6, batchSize: 4 };
  const make = () => new Network({ shape: [24, 40, 4], seed: 2 });

  /** Where early stopping should stop, worked out from an uninterrupted run's reports. */
  function expected(losses: number[], patience: number): { stop: number; best: number } {
    let best = Infinity;
    let bestEpoch = 0;
    let waited = 0;
    for (let i = 0; i < losses.length; i++) {
      if (losses[i] < best) {
        best = losses[i];
        bestEpoch = i + 1;
        waited = 0;
      } else if (++waited >= patience) return { stop: i + 1, best: bestEpoch };
    }
    return { stop: losses.length, best: bestEpoch };
  }

  it('stops after `patience` epochs without a better val_loss, and restores the best epoch', async () => {
    const full = make();
    const all = await full.train(small, { ...opts, epochs: 40, validationData: heldData });
    const losses = all.epochs.map((e) => e.validation!.loss);
    const { stop, best } = expected(losses, 3);
    expect(stop).toBeLessThan(40); // the setup must overfit, or this test shows nothing

    const net = make();
    const report = await net.train(small, { ...opts, epochs: 40, validationData: heldData, earlyStopping: { patience: 3, restoreBest: true } });
    expect(report.epochs.map((e) => e.validation!.loss)).toEqual(losses.slice(0, stop));
    expect(report.stopped).toEqual({ epoch: stop, by: 'earlyStopping' });
    expect(report.best).toEqual({ epoch: best, metric: 'val_loss', value: losses[best - 1], restored: best !== stop });

    const bestRun = make();
    await bestRun.train(small, { ...opts, epochs: best });
    expect((await net.toBuffer({ format: 'v2' })).equals(await bestRun.toBuffer({ format: 'v2' }))).toBe(true);
  });

  it('without restoreBest keeps the last epoch; val_accuracy counts upwards', async () => {
    const net = make();
    const report = await net.train(small, { ...opts, epochs: 40, validationData: heldData, earlyStopping: { patience: 2, metric: 'val_accuracy' } });
    const acc = report.epochs.map((e) => e.validation!.accuracy);
    const { stop, best } = expected(acc.map((a) => -a), 2);
    expect(report.epochs).toHaveLength(stop);
    expect(report.best).toMatchObject({ epoch: best, value: acc[best - 1], restored: false });
    const last = make();
    await last.train(small, { ...opts, epochs: stop });
    expect((await net.toBuffer({ format: 'v2' })).equals(await last.toBuffer({ format: 'v2' }))).toBe(true);
  });

  it('checks its options', async () => {
    const net = make();
    await expect(net.train(small, { epochs: 1, earlyStopping: { patience: 1, metric: 'val_loss' } })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(net.train(small, { epochs: 1, earlyStopping: { patience: -1 } })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(net.train(small, { epochs: 1, earlyStopping: { patience: 1, metric: 'f1' as never } })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  });
});

describe('validation split', () => {
  const rows = (d: Dataset) => Array.from({ length: d.count }, (_, i) => `${Array.from(d.input(i)).join(',')}:${d.label(i)}`);

  it('holds out a fraction chosen by the seed: the same seed, the same split; the parts make the whole', () => {
    const a = splitDataset(data, 0.25, 7n);
    const b = splitDataset(data, 0.25, 7n);
    const c = splitDataset(data, 0.25, 8n);
    expect(a.validation.count).toBe(100);
    expect(a.train.count).toBe(300);
    expect(rows(a.validation)).toEqual(rows(b.validation));
    expect(rows(a.validation)).not.toEqual(rows(c.validation));
    expect([...rows(a.train), ...rows(a.validation)].sort()).toEqual(rows(data).sort());
  });

  it('is evaluated every epoch as report.validation, and the run trains on the rest only', async () => {
    const { train: rest, validation } = splitDataset(data, 0.2, 9n);
    const net = new Network({ shape: [24, 12, 4], seed: 4 });
    const report = await net.train(data, { ...base, epochs: 2, validationSplit: 0.2 });
    const check = new Network({ shape: [24, 12, 4], seed: 4 });
    await check.train(rest, { ...base, epochs: 2 });
    expect((await net.toBuffer({ format: 'v2' })).equals(await check.toBuffer({ format: 'v2' }))).toBe(true);
    const ev = await check.evaluate(validation);
    expect(report.epochs[1].validation).toMatchObject({ correct: ev.correct, total: 80, loss: ev.loss });
  });

  it('keeps regression targets with their rows', () => {
    const inputs = Float32Array.from({ length: 50 * 2 }, (_, i) => i);
    const targets = Float32Array.from({ length: 50 }, (_, i) => 1000 + i);
    const reg = Dataset.from({ inputs, inputSize: 2, targets, targetSize: 1 });
    const { train: a, validation: b } = splitDataset(reg, 0.3, 1n);
    expect([a.count, b.count]).toEqual([35, 15]);
    for (const d of [a, b]) for (let i = 0; i < d.count; i++) expect(d.targets![i]).toBe(1000 + d.input(i)[0] / 2);
  });

  it('refuses a fraction outside (0, 1) and both ways at once', async () => {
    const net = new Network({ shape: [24, 12, 4], seed: 4 });
    await expect(net.train(data, { epochs: 1, validationSplit: 1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(net.train(data, { epochs: 1, validationSplit: 0.1, validationData: heldData })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  });
});

describe('checkpoints', () => {
  it('writes the network and its trainer state every N epochs, each loadable as that epoch', async () => {
    const file = path.join(tmp.dir, 'run.nn');
    const net = new Network({ shape: [24, 12, 4], seed: 4 });
    const written: Buffer[] = [];
    const report = await net.train(data, {
      ...base,
      epochs: 5,
      checkpoint: { path: file, every: 2 },
      onEpoch: () => {
        // The checkpoint of an epoch is written after onEpoch; see the file as the next epoch starts.
        if (existsSync(file)) written.push(readFileSync(file));
      },
    });
    expect(written).toHaveLength(3); // seen at epochs 3, 4 (epoch 2's), 5 (epoch 4's)
    // The trainer state went into the files, not into every report (keepState was not asked for).
    expect(report.epochs.map((e) => e.state)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(report.state).toBeUndefined();
    const asV2 = async (bytes: Buffer) => Network.fromBuffer(bytes).toBuffer({ format: 'v2' });
    expect((await asV2(written[0])).equals((await trained(2)).bytes)).toBe(true);
    expect((await asV2(readFileSync(file))).equals((await trained(4)).bytes)).toBe(true);
    const { network, trainerState } = await Network.loadCheckpoint(file);
    expect(network.shape).toEqual([24, 12, 4]);
    expect(trainerState).toBeInstanceOf(Uint8Array);
  });
});

describe('resume from a checkpoint', () => {
  const adam: TrainOptions = { ...base, learningRate: 0.01, optimizer: 'adam', epochs: 5 };
  const make = () => new Network({ shape: [24, 12, 4], seed: 4, activation: 'relu', output: 'softmax', loss: 'cross-entropy', init: 'he' });

  it('gives the same weights as an uninterrupted run (adam, shuffled, stopped by onEpoch)', async () => {
    const whole = make();
    await whole.train(data, adam);
    const file = path.join(tmp.dir, 'adam.nn');
    const first = make();
    const r = await first.train(data, { ...adam, checkpoint: { path: file }, onEpoch: (e) => (e.epoch === 2 ? 'stop' : undefined) });
    expect(r.stopped).toEqual({ epoch: 2, by: 'onEpoch' });
    const { network, trainerState } = await Network.loadCheckpoint(file);
    expect(network.activations).toEqual(['relu', 'softmax']);
    await network.train(data, { ...adam, epochs: 3, resume: trainerState! });
    expect((await network.toBuffer()).equals(await whole.toBuffer())).toBe(true);
    // Without the state the run is different (adam's moments start again).
    const fresh = (await Network.loadCheckpoint(file)).network;
    await fresh.train(data, { ...adam, epochs: 3 });
    expect((await fresh.toBuffer()).equals(await whole.toBuffer())).toBe(false);
  });
});

describe('train(): outputs from the data', () => {
  it('a 3-class dataset gets 3 outputs, not 10', async () => {
    const three = Dataset.from({ ...bandData(60, 12, 3, 1), inputSize: 12 });
    const net = await train(three, { epochs: 1, seed: 1 });
    expect(net.shape).toEqual([12, 32, 3]);
  });
  it('standardize with validationSplit fits on the training rows only, and trains on them', async () => {
    const floats = Dataset.from({ inputs: Float32Array.from(band.inputs, (x, i) => x + (i % 7) * 10), labels: band.labels, inputSize: 24 });
    const net = await train(floats, { hidden: [8], epochs: 2, seed: 3, standardize: true, validationSplit: 0.25, threads: 1 });
    const parts = splitDataset(floats, 0.25, 3n);
    const fitted = await parts.train.standardize();
    expect(Array.from(net.standardization!.mean)).toEqual(Array.from(fitted.mean));
    expect(Array.from(net.standardization!.std)).toEqual(Array.from(fitted.std));
    const check = new Network({ shape: [24, 8, 4], seed: 3 });
    check.setStandardization(fitted);
    await check.train(parts.train, { epochs: 2, seed: 3, threads: 1 });
    expect((await net.getParameters()).weights[0]).toEqual((await check.getParameters()).weights[0]);
  });

  it('data without labels is refused', async () => {
    await expect(train(Dataset.from({ inputs: new Float32Array(8), inputSize: 4 }), { epochs: 1 })).rejects.toMatchObject({ code: 'ERR_HDRNN_INVALID_ARGUMENT' });
  });
});
