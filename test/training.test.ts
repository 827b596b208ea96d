/**
 * Training: learning, determinism, the reference path, progress, abort,
 * and what concurrent callers see.
 */
import { describe, expect, it } from 'vitest';

import { Dataset, ErrorCodes, Network, bandData, train } from './helpers';

const problem = bandData(2000, 64, 4, 7);
const data = Dataset.from({ inputs: problem.inputs, labels: problem.labels, inputSize: 64 });
const testProblem = bandData(500, 64, 4, 8);
const test = Dataset.from({ inputs: testProblem.inputs, labels: testProblem.labels, inputSize: 64 });

async function bytesOf(net: Network): Promise<Buffer> {
  return net.toBuffer({ format: 'v2' });
}

describe('training', () => {
  it('learns a separable problem and reports every epoch', async () => {
    const net = new Network({ shape: [64, 16, 4], seed: 1 });
    const before = await net.evaluate(test);
    const epochs: number[] = [];
    const report = await net.train(data, { epochs: 3, batchSize: 10, learningRate: 3, seed: 1, testData: test, onEpoch: (e) => epochs.push(e.epoch) });
    expect(epochs).toEqual([1, 2, 3]);
    expect(report.epochs).toHaveLength(3);
    const last = report.epochs[2];
    expect(last.test!.accuracy).toBeGreaterThan(0.95);
    expect(last.test!.accuracy).toBeGreaterThan(before.accuracy);
    expect(report.epochs[2].loss).toBeLessThan(report.epochs[0].loss);
    expect(last.seconds).toBeGreaterThan(0);
    expect((await net.evaluate(test)).correct).toBe(last.test!.correct);
  });

  it('gives bit-identical weights for the same seed, data and options', async () => {
    const run = async (seed: number, threads: number) => {
      const net = new Network({ shape: [64, 16, 4], seed: 3 });
      await net.train(data, { epochs: 2, batchSize: 7, seed, threads });
      return bytesOf(net);
    };
    const a = await run(5, 2);
    expect(Buffer.compare(a, await run(5, 2))).toBe(0);
    expect(Buffer.compare(a, await run(6, 2))).not.toBe(0);
  });

  it('gives the same weights whatever the thread count', async () => {
    const results: Buffer[] = [];
    for (const threads of [1, 2, 3, 4]) {
      const net = new Network({ shape: [64, 33, 17, 4], seed: 4 });
      await net.train(data, { epochs: 1, batchSize: 13, seed: 2, threads });
      results.push(await bytesOf(net));
    }
    for (const r of results.slice(1)) expect(Buffer.compare(r, results[0])).toBe(0);
  });

  it('without shuffling, trains in the fixed order whatever the seed', async () => {
    const a = new Network({ shape: [64, 16, 4], seed: 2 });
    const b = new Network({ shape: [64, 16, 4], seed: 2 });
    await a.train(data, { epochs: 1, shuffle: false, seed: 1 });
    await b.train(data, { epochs: 1, shuffle: false, seed: 999 }); // the seed only drives the shuffle
    expect(Buffer.compare(await bytesOf(a), await bytesOf(b))).toBe(0);
  });

  it('the portable batched path rounds exactly like the per-example reference', async () => {
    // Same sums in the same order, no fused multiply-add: the whole-batch
    // matrix formulation is the seed's algorithm, bit for bit.
    for (const threads of [1, 3]) {
      const fast = new Network({ shape: [64, 20, 9, 4], seed: 8 });
      const ref = new Network({ shape: [64, 20, 9, 4], seed: 8 });
      await fast.train(data, { epochs: 2, batchSize: 7, seed: 3, kernels: 'portable', threads });
      await ref.train(data, { epochs: 2, batchSize: 7, seed: 3, algorithm: 'reference' });
      expect(Buffer.compare(await bytesOf(fast), await bytesOf(ref))).toBe(0);
    }
  });

  it.each([
    [[64, 4]], // no hidden layer, small output (computed by every thread)
    [[64, 100]], // no hidden layer, wide output (split between threads)
    [[64, 30, 80]], // wide output after a hidden layer
    [[64, 24, 17, 9, 70]], // three hidden layers, wide output
    [[64, 40, 33, 4]], // two hidden layers, small output
  ])('shape %j: portable batched = reference bit for bit, any thread count', async (shape) => {
    const wide = Dataset.from({ inputs: problem.inputs.subarray(0, 64 * 300), labels: problem.labels.subarray(0, 300), inputSize: 64 });
    const results: Buffer[] = [];
    for (const threads of [1, 2, 3]) {
      const fast = new Network({ shape, seed: 8 });
      await fast.train(wide, { epochs: 2, batchSize: 7, seed: 3, kernels: 'portable', threads });
      results.push(await bytesOf(fast));
    }
    const ref = new Network({ shape, seed: 8 });
    await ref.train(wide, { epochs: 2, batchSize: 7, seed: 3, algorithm: 'reference' });
    for (const r of results) expect(Buffer.compare(r, await bytesOf(ref))).toBe(0);
    const best: Buffer[] = [];
    for (const threads of [1, 2, 3]) {
      const fast = new Network({ shape, seed: 8 });
      await fast.train(wide, { epochs: 2, batchSize: 7, seed: 3, threads });
      best.push(await bytesOf(fast));
    }
    for (const r of best) expect(Buffer.compare(r, best[0])).toBe(0);
  });

  it('matches the per-example reference path within float tolerance', async () => {
    for (const kernels of ['portable', 'best'] as const) {
      const fast = new Network({ shape: [64, 16, 4], seed: 8 });
      const ref = new Network({ shape: [64, 16, 4], seed: 8 });
      await fast.train(data, { epochs: 1, batchSize: 10, seed: 3, kernels });
      await ref.train(data, { epochs: 1, batchSize: 10, seed: 3, algorithm: 'reference' });
      const p = await fast.getParameters();
      const q = await ref.getParameters();
      let worst = 0;
      for (let l = 0; l < p.weights.length; l++) {
        for (let i = 0; i < p.weights[l].length; i++) worst = Math.max(worst, Math.abs(p.weights[l][i] - q.weights[l][i]));
        for (let i = 0; i < p.biases[l].length; i++) worst = Math.max(worst, Math.abs(p.biases[l][i] - q.biases[l][i]));
      }
      // 200 SGD steps from the same start; float rounding differs only in
      // summation order, so parameters agree to well under 1e-3.
      expect(worst, kernels).toBeLessThan(1e-3);
      expect((await fast.evaluate(test)).correct).toBeCloseTo((await ref.evaluate(test)).correct, -1);
    }
  });

  it('reports progress every N mini-batches', async () => {
    const net = new Network({ shape: [64, 16, 4], seed: 1 });
    const seen: Array<[number, number]> = [];
    await net.train(data, { epochs: 2, batchSize: 10, seed: 1, progressEvery: 50, onProgress: (p) => seen.push([p.epoch, p.batch]) });
    expect(seen).toEqual([
      [1, 50], [1, 100], [1, 150], [1, 200],
      [2, 50], [2, 100], [2, 150], [2, 200],
    ]);
  });

  it('handles a last mini-batch smaller than the others, and batches larger than the data', async () => {
    const small = data.slice(0, 95);
    const net = new Network({ shape: [64, 8, 4], seed: 1 });
    const seen: number[] = [];
    await net.train(small, { epochs: 1, batchSize: 10, seed: 1, progressEvery: 1, onProgress: (p) => seen.push(p.batch) });
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await net.train(small, { epochs: 2, batchSize: 1000, seed: 1 });
    const p = await net.getParameters();
    expect(p.weights[0].every(Number.isFinite)).toBe(true);
  });

  it('trains from float features as well as bytes', async () => {
    const floats = Float32Array.from(problem.inputs, (v) => v / 255);
    const f = Dataset.from({ inputs: floats, labels: problem.labels, inputSize: 64 });
    const a = new Network({ shape: [64, 16, 4], seed: 6 });
    const b = new Network({ shape: [64, 16, 4], seed: 6 });
    await a.train(data, { epochs: 1, seed: 1 });
    await b.train(f, { epochs: 1, seed: 1 });
    // Bytes are scaled as x / 255 in float, exactly like the division above.
    expect(Buffer.compare(await bytesOf(a), await bytesOf(b))).toBe(0);
  });

  it('the top-level train() builds the network from the data', async () => {
    const net = await train(data, { hidden: [12], epochs: 2, seed: 4 });
    expect(net.shape).toEqual([64, 12, data.classes]); // outputs from the data, never padded to 10
    const net2 = await train(data, { shape: [64, 5, 4], epochs: 1, seed: 4 });
    expect(net2.shape).toEqual([64, 5, 4]);
    expect((await net2.evaluate(test)).total).toBe(500);
  });

  it.each([
    [{ epochs: 0 }, RangeError],
    [{ epochs: 1.5 }, RangeError],
    [{ epochs: '3' }, TypeError],
    [{ batchSize: 0 }, RangeError],
    [{ batchSize: -10 }, RangeError],
    [{ learningRate: 0 }, RangeError],
    [{ learningRate: -3 }, RangeError],
    [{ learningRate: NaN }, RangeError],
    [{ learningRate: Infinity }, RangeError],
    [{ shuffle: 1 }, TypeError],
    [{ seed: -5 }, RangeError],
    [{ threads: 0 }, RangeError],
    [{ threads: 5000 }, RangeError],
    [{ algorithm: 'magic' }, TypeError],
    [{ testData: [1, 2] }, TypeError],
    [{ signal: 'stop' }, TypeError],
    [{ onEpoch: 5 }, TypeError],
    [{ onEpoch: class Stop {} }, TypeError], // callable only with new: refused up front
    [{ onProgress: class Progress {} }, TypeError],
    [{ progressEvery: -1 }, RangeError],
  ])('rejects bad options (case %#) before starting', async (options, Kind) => {
    const net = new Network({ shape: [64, 8, 4], seed: 1 });
    await expect(net.train(data, options as never)).rejects.toBeInstanceOf(Kind);
    expect(net.training).toBe(false);
  });

  it('rejects data that does not fit, with a clear error', async () => {
    const net = new Network({ shape: [64, 8, 3], seed: 1 });
    await expect(net.train(data, { epochs: 1 })).rejects.toMatchObject({ code: ErrorCodes.SHAPE_MISMATCH, message: expect.stringMatching(/label 3/) });
    const other = new Network({ shape: [65, 8, 4], seed: 1 });
    await expect(other.train(data, { epochs: 1 })).rejects.toMatchObject({ code: ErrorCodes.SHAPE_MISMATCH });
    await expect(other.train('data' as never)).rejects.toBeInstanceOf(TypeError);
    const empty = data.slice(0, 0);
    await expect(new Network({ shape: [64, 8, 4] }).train(empty)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
  });

  it('a throwing callback stops the run and rejects with its error', async () => {
    const net = new Network({ shape: [64, 8, 4], seed: 1 });
    const boom = new Error('boom');
    await expect(net.train(data, { epochs: 5, onEpoch: () => { throw boom; } })).rejects.toBe(boom);
    expect(net.training).toBe(false);
  });
});

describe('abort', () => {
  it('stops within one mini-batch and leaves a consistent network', async () => {
    // Mini-batches of tens of milliseconds, so that the time an event takes
    // to reach JavaScript is small against one mini-batch.
    const big = bandData(4000, 784, 10, 3);
    const bigData = Dataset.from({ inputs: big.inputs, labels: big.labels, inputSize: 784 });
    const net = new Network({ shape: [784, 256, 10], seed: 1 });
    const controller = new AbortController();
    let batches = 0;
    let atAbort = -1;
    const run = net.train(bigData, {
      epochs: 1000,
      batchSize: 1000,
      seed: 1,
      progressEvery: 1,
      signal: controller.signal,
      onProgress: () => {
        batches++;
        if (batches === 3) {
          atAbort = batches;
          controller.abort(new Error('enough'));
        }
      },
    });
    const error = await run.then(() => undefined, (e) => e);
    expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect((error as { cause: Error }).cause.message).toBe('enough');
    expect(net.training).toBe(false);
    // The mini-batch in progress when abort() ran may finish (and one more
    // may have been queued just before): nothing beyond that.
    expect(batches - atAbort).toBeLessThanOrEqual(2);
    const bytes = await net.toBuffer({ format: 'v2' });
    const copy = Network.fromBuffer(bytes);
    const p = await copy.getParameters();
    expect(p.weights.every((w) => w.every(Number.isFinite))).toBe(true);
    // And it can train again.
    await net.train(bigData.slice(0, 100), { epochs: 1, seed: 1 });
  });

  it('rejects at once with an already aborted signal', async () => {
    const net = new Network({ shape: [64, 8, 4], seed: 1 });
    const signal = AbortSignal.abort();
    const before = await bytesOf(net);
    await expect(net.train(data, { signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(Buffer.compare(before, await bytesOf(net))).toBe(0);
  });

  it('aborting after the run ended does nothing', async () => {
    const net = new Network({ shape: [64, 8, 4], seed: 1 });
    const controller = new AbortController();
    await net.train(data, { epochs: 1, signal: controller.signal });
    controller.abort();
    await net.train(data, { epochs: 1, seed: 2 });
  });
});

describe('concurrent callers', () => {
  it('a second train() on the same network fails with ERR_HDRNN_BUSY', async () => {
    const net = new Network({ shape: [64, 16, 4], seed: 1 });
    const first = net.train(data, { epochs: 3, seed: 1 });
    expect(net.training).toBe(true);
    await expect(net.train(data, { epochs: 1 })).rejects.toMatchObject({ code: ErrorCodes.BUSY });
    await first;
    expect(net.training).toBe(false);
  });

  it('reads during training see whole mini-batches and never corrupt the run', async () => {
    // The same run twice: once alone, once under a storm of reads. The
    // weights must come out identical: readers never change training.
    // The reads are fired from the run's own progress events (every 20
    // mini-batches), so how many there are is fixed by the data, not by how
    // fast this machine trains.
    const options = { epochs: 4, batchSize: 5, seed: 3, threads: 2 } as const;
    const alone = new Network({ shape: [64, 32, 4], seed: 2 });
    await alone.train(data, options);

    const busy = new Network({ shape: [64, 32, 4], seed: 2 });
    const reads: Array<Promise<unknown>> = [];
    let snapshots = 0;
    let events = 0;
    const run = busy.train(data, {
      ...options,
      progressEvery: 20,
      onProgress: () => {
        events++;
        reads.push(busy.infer(data.input(0)));
        reads.push(busy.evaluate(test));
        reads.push(
          busy.toBuffer({ format: 'v2' }).then((b) => {
            // Every snapshot is a valid file with finite weights.
            const p = Network.fromBuffer(b);
            snapshots++;
            return p.getParameters().then((q) => expect(q.weights[0].every(Number.isFinite)).toBe(true));
          }),
        );
      },
    });
    await run;
    await Promise.all(reads);
    // 2000 examples / 5 = 400 mini-batches an epoch, an event every 20.
    expect(events).toBe((4 * 400) / 20);
    expect(snapshots).toBe(events);
    expect(Buffer.compare(await bytesOf(alone), await bytesOf(busy))).toBe(0);
  });
});
