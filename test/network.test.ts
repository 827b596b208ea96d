/**
 * The Network API: construction, validation, files (seed and v2 formats),
 * inference and evaluation.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { Dataset, ErrorCodes, Network, availableKernels, bandData, infer, kernels, rng, tempDir } from './helpers';

const tmp = tempDir();
afterAll(tmp.cleanup);

/** Writes a seed-format .nn file from SPEC.md's byte layout, independently of the package. */
function seedFile(hidden: number[], value: (index: number) => number): Buffer {
  const sizes = [784, ...hidden, 10];
  let biases = 0;
  let weights = 0;
  for (let l = 1; l < sizes.length; l++) {
    biases += sizes[l];
    weights += sizes[l - 1] * sizes[l];
  }
  const buf = Buffer.alloc(2 + hidden.length + 4 * (biases + weights));
  buf[0] = 7;
  buf[1] = hidden.length;
  hidden.forEach((h, i) => (buf[2 + i] = h));
  for (let i = 0; i < biases + weights; i++) buf.writeFloatLE(value(i), 2 + hidden.length + 4 * i);
  return buf;
}

describe('new Network', () => {
  it('has the shape and parameter count it was given', () => {
    const net = new Network({ shape: [784, 32, 10], seed: 1 });
    expect(net.shape).toEqual([784, 32, 10]);
    expect(net.parameterCount).toBe(784 * 32 + 32 + 32 * 10 + 10);
    expect(net.training).toBe(false);
    expect(Object.isFrozen(net.shape)).toBe(true);
  });

  it('draws weights from N(0, 1), reproducibly from the seed', async () => {
    const a = await new Network({ shape: [300, 200, 10], seed: 7 }).getParameters();
    const b = await new Network({ shape: [300, 200, 10], seed: 7n }).getParameters();
    const c = await new Network({ shape: [300, 200, 10], seed: 8 }).getParameters();
    expect(a.weights[0]).toEqual(b.weights[0]);
    expect(a.weights[0]).not.toEqual(c.weights[0]);
    const all = [...a.weights[0], ...a.weights[1], ...a.biases[0], ...a.biases[1]];
    const mean = all.reduce((s, x) => s + x, 0) / all.length;
    const variance = all.reduce((s, x) => s + (x - mean) ** 2, 0) / all.length;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(variance - 1)).toBeLessThan(0.03);
  });

  it.each([
    [undefined, TypeError, ErrorCodes.INVALID_ARG_TYPE],
    [{}, TypeError, ErrorCodes.INVALID_ARG_TYPE],
    [{ shape: 'x' }, TypeError, ErrorCodes.INVALID_ARG_TYPE],
    [{ shape: [784] }, RangeError, ErrorCodes.OUT_OF_RANGE],
    [{ shape: [784, 0, 10] }, RangeError, ErrorCodes.OUT_OF_RANGE],
    [{ shape: [784, -1, 10] }, RangeError, ErrorCodes.OUT_OF_RANGE],
    [{ shape: [784, 1.5, 10] }, RangeError, ErrorCodes.OUT_OF_RANGE],
    [{ shape: [784, NaN, 10] }, RangeError, ErrorCodes.OUT_OF_RANGE],
    [{ shape: [784, Infinity, 10] }, RangeError, ErrorCodes.OUT_OF_RANGE],
    [{ shape: [784, '32', 10] }, TypeError, ErrorCodes.INVALID_ARG_TYPE],
    [{ shape: [784, 32, 10], seed: -1 }, RangeError, ErrorCodes.OUT_OF_RANGE],
    [{ shape: [784, 32, 10], seed: 2n ** 64n }, RangeError, ErrorCodes.OUT_OF_RANGE],
    [{ shape: [784, 32, 10], seed: 'abc' }, TypeError, ErrorCodes.INVALID_ARG_TYPE],
    [{ shape: [100000, 100000, 10] }, Error, ErrorCodes.LIMIT],
    [{ shape: [4294967295, 4294967295] }, Error, ErrorCodes.LIMIT],
    [{ shape: new Array(258).fill(2) }, Error, ErrorCodes.LIMIT],
  ])('rejects bad options (case %#) with a coded error', (options, Kind, code) => {
    let error: unknown;
    try {
      new Network(options as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Kind);
    expect((error as { code: string }).code).toBe(code);
    expect((error as Error).message.length).toBeGreaterThan(10);
  });

  it('lets the caller raise the parameter limit', () => {
    expect(() => new Network({ shape: [5000, 4000, 10], seed: 1 })).toThrow(/parameters/);
    const net = new Network({ shape: [5000, 4000, 10], seed: 1, limits: { maxParameters: 30_000_000 } });
    expect(net.parameterCount).toBe(5000 * 4000 + 4000 + 4000 * 10 + 10);
  });
});

describe('seed .nn format', () => {
  it('reads a file written from the spec, byte for byte, and writes it back identically', async () => {
    const file = seedFile([30], (i) => Math.sin(i) * 3);
    expect(file.length).toBe(95443); // SPEC.md's worked example
    const p = path.join(tmp.dir, 'spec.nn');
    writeFileSync(p, file);
    const net = await Network.load(p);
    expect(net.shape).toEqual([784, 30, 10]);
    const { weights, biases } = await net.getParameters();
    // Biases of all layers come first, then the weights, [out][in] row-major.
    expect(biases[0][0]).toBe(Math.fround(Math.sin(0) * 3));
    expect(biases[1][9]).toBe(Math.fround(Math.sin(39) * 3));
    expect(weights[0][0]).toBe(Math.fround(Math.sin(40) * 3));
    expect(weights[0][784 * 2 + 5]).toBe(Math.fround(Math.sin(40 + 784 * 2 + 5) * 3)); // neuron 2, input 5
    expect(weights[1][30 * 9 + 29]).toBe(Math.fround(Math.sin(40 + 784 * 30 + 30 * 9 + 29) * 3));
    const out = await net.toBuffer({ format: 'seed' });
    expect(Buffer.compare(out, file)).toBe(0);
    expect(net.preferredFormat).toBe('seed');
    const saved = path.join(tmp.dir, 'again.nn');
    await net.save(saved);
    expect(Buffer.compare(readFileSync(saved), file)).toBe(0);
  });

  it.each([[[]], [[16]], [[16, 16]], [[255, 1, 7]]])('round-trips hidden layers %j', async (hidden) => {
    const file = seedFile(hidden, (i) => (i % 17) - 8.5);
    const net = Network.fromBuffer(file);
    expect(net.shape).toEqual([784, ...hidden, 10]);
    expect(Buffer.compare(await net.toBuffer(), file)).toBe(0);
  });

  it('refuses shapes the seed format cannot hold', async () => {
    for (const shape of [[5, 3, 2], [784, 256, 10], [784, 32, 11]]) {
      const net = new Network({ shape, seed: 1 });
      expect(net.preferredFormat).toBe('v2');
      await expect(net.toBuffer({ format: 'seed' })).rejects.toMatchObject({ code: ErrorCodes.UNSUPPORTED });
    }
  });

  it('rejects every truncation and any trailing byte', () => {
    const file = seedFile([3], (i) => i / 7);
    for (let n = 0; n < file.length; n += n < 40 ? 1 : 97) {
      expect(() => Network.fromBuffer(file.subarray(0, n))).toThrow(expect.objectContaining({ code: ErrorCodes.BAD_FILE }));
    }
    expect(() => Network.fromBuffer(Buffer.concat([file, Buffer.from([0])]))).toThrow(
      expect.objectContaining({ code: ErrorCodes.BAD_FILE }),
    );
  });

  it('rejects a hidden size of 0 and non-finite parameters', () => {
    const zero = seedFile([3], () => 1);
    zero[2] = 0;
    expect(() => Network.fromBuffer(zero)).toThrow(expect.objectContaining({ code: ErrorCodes.BAD_FILE }));
    const nan = seedFile([3], (i) => (i === 5 ? NaN : 1));
    expect(() => Network.fromBuffer(nan)).toThrow(/finite/);
  });
});

describe('v2 format', () => {
  it('holds any shape, including layers over 255, with a CRC-32', async () => {
    const net = new Network({ shape: [3, 300, 2], seed: 3 });
    const bytes = await net.toBuffer();
    expect([...bytes.subarray(0, 4)]).toEqual([0x89, 0x48, 0x4e, 0x4e]);
    const again = Network.fromBuffer(bytes);
    expect(again.shape).toEqual([3, 300, 2]);
    expect(Buffer.compare(await again.toBuffer(), bytes)).toBe(0);
    // Also as the explicit choice for a seed-compatible shape.
    const mnist = new Network({ shape: [784, 16, 10], seed: 1 });
    const v2 = await mnist.toBuffer({ format: 'v2' });
    expect(v2[0]).toBe(0x89);
    expect((await Network.fromBuffer(v2).getParameters()).weights[0]).toEqual((await mnist.getParameters()).weights[0]);
  });

  it('reports any flipped byte as corruption, never as a network with other weights', async () => {
    const bytes = await new Network({ shape: [4, 3, 2], seed: 9 }).toBuffer();
    for (let i = 0; i < bytes.length; i++) {
      for (const mask of [0x01, 0x80]) {
        const bad = Buffer.from(bytes);
        bad[i] ^= mask;
        let error: { code?: string } | undefined;
        try {
          Network.fromBuffer(bad);
        } catch (e) {
          error = e as { code?: string };
        }
        expect(error, `byte ${i} mask ${mask}`).toBeDefined();
        expect([ErrorCodes.CHECKSUM, ErrorCodes.BAD_FILE, ErrorCodes.UNSUPPORTED]).toContain(error!.code);
      }
    }
  });

  it('names a corrupted body as a checksum failure', async () => {
    const bytes = await new Network({ shape: [20, 10, 5], seed: 1 }).toBuffer();
    bytes[100] ^= 0x10;
    expect(() => Network.fromBuffer(bytes)).toThrow(expect.objectContaining({ code: ErrorCodes.CHECKSUM, message: expect.stringMatching(/corrupt/) }));
  });

  it('refuses a newer version and oversized shapes from the header', async () => {
    const bytes = await new Network({ shape: [4, 3, 2], seed: 9 }).toBuffer();
    const newer = Buffer.from(bytes);
    newer[4] = 4; // version 3 exists since issue 10: 4 is the next unknown one
    expect(() => Network.fromBuffer(newer)).toThrow(expect.objectContaining({ code: ErrorCodes.UNSUPPORTED }));
    const big = await new Network({ shape: [400, 300, 10], seed: 1 }).toBuffer();
    expect(() => Network.fromBuffer(big, { limits: { maxParameters: 1000 } })).toThrow(expect.objectContaining({ code: ErrorCodes.LIMIT }));
  });

  it('tells formats apart by their first bytes, not the file name', async () => {
    const p = path.join(tmp.dir, 'looks-like-seed.nn');
    await new Network({ shape: [5, 4, 3], seed: 2 }).save(p);
    expect((await Network.load(p)).shape).toEqual([5, 4, 3]);
    writeFileSync(p, Buffer.from('P5\n28 28\n255\n'));
    await expect(Network.load(p)).rejects.toMatchObject({ code: ErrorCodes.BAD_FILE });
  });

  it('reports file errors with their path', async () => {
    await expect(Network.load(path.join(tmp.dir, 'missing.nn'))).rejects.toMatchObject({ code: 'ENOENT' });
    const p = path.join(tmp.dir, 'empty.nn');
    writeFileSync(p, '');
    await expect(Network.load(p)).rejects.toThrow(/empty\.nn.*empty/);
    await expect(Network.load(p, { limits: { maxFileBytes: -1 } })).rejects.toMatchObject({ code: ErrorCodes.OUT_OF_RANGE });
  });
});

describe('infer and evaluate', () => {
  /** A 2-2-2 network with weights chosen by hand (v2 file written here). */
  async function handNetwork(): Promise<Network> {
    const net = new Network({ shape: [2, 2, 2], seed: 1 });
    const bytes = await net.toBuffer({ format: 'v2' });
    // Parameters start after the 16-byte header and 3 sizes: biases (2 + 2), then weights (4 + 4).
    const params = [0.5, -0.5, 1, -1, 1, 2, 3, 4, -1, 1, 2, -2];
    params.forEach((p, i) => bytes.writeFloatLE(p, 16 + 12 + 4 * i));
    const { crc32 } = await import('node:zlib');
    bytes.writeUInt32LE(crc32(bytes.subarray(0, bytes.length - 4)), bytes.length - 4);
    return Network.fromBuffer(bytes);
  }
  const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

  it('computes sigmoid(W a + b) layer by layer', async () => {
    const net = await handNetwork();
    const x = [0.25, 0.75];
    const h = [sigmoid(1 * 0.25 + 2 * 0.75 + 0.5), sigmoid(3 * 0.25 + 4 * 0.75 - 0.5)];
    const y = [sigmoid(-1 * h[0] + 1 * h[1] + 1), sigmoid(2 * h[0] - 2 * h[1] - 1)];
    const r = await net.infer(new Float32Array(x));
    expect(r.scores[0]).toBeCloseTo(y[0], 6);
    expect(r.scores[1]).toBeCloseTo(y[1], 6);
    expect(r.label).toBe(y[0] >= y[1] ? 0 : 1);
    // The same through the top-level function, a number[] and bytes.
    expect((await infer(net, x)).scores).toEqual(r.scores);
    const bytes = await net.infer(new Uint8Array([255, 0]));
    expect(bytes.scores).toEqual((await net.infer([1, 0])).scores);
  });

  it('rejects inputs of the wrong length, type or value', async () => {
    const net = new Network({ shape: [4, 3, 2], seed: 1 });
    await expect(net.infer(new Float32Array(5))).rejects.toMatchObject({ code: ErrorCodes.SHAPE_MISMATCH });
    await expect(net.infer(new Float32Array([1, 2, NaN, 4]))).rejects.toMatchObject({ code: ErrorCodes.OUT_OF_RANGE });
    await expect(net.infer(new Float32Array([1, 2, Infinity, 4]))).rejects.toBeInstanceOf(RangeError);
    await expect(net.infer('abcd' as never)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARG_TYPE });
    await expect(net.infer(null as never)).rejects.toBeInstanceOf(TypeError);
    await expect(net.infer(new Float32Array(4), { threads: 0 })).rejects.toBeInstanceOf(RangeError);
    await expect(net.infer(new Float32Array(4), { kernels: 'mmx' as never })).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARG_VALUE });
  });

  it('runs on every kernel set this CPU has and refuses the others with ERR_HDRNN_UNSUPPORTED', async () => {
    expect(availableKernels).toContain('portable');
    expect(availableKernels).toContain(kernels);
    const net = new Network({ shape: [40, 21, 5], seed: 9 });
    const { inputs } = bandData(30, 40, 5, 4);
    const portable = await net.inferBatch(inputs, { kernels: 'portable' });
    for (const name of ['avx2', 'avx512', 'neon'] as const) {
      if (availableKernels.includes(name)) {
        const r = await net.inferBatch(inputs, { kernels: name });
        r.forEach((x, i) => x.scores.forEach((v, j) => expect(Math.abs(v - portable[i].scores[j])).toBeLessThan(1e-5)));
      } else {
        await expect(net.inferBatch(inputs, { kernels: name })).rejects.toMatchObject({ code: ErrorCodes.UNSUPPORTED });
        await expect(net.train(Dataset.from({ inputs, labels: new Uint8Array(30), inputSize: 40 }), { epochs: 1, kernels: name }))
          .rejects.toMatchObject({ code: ErrorCodes.UNSUPPORTED });
      }
    }
  });

  it('infers a batch the same as one at a time, whatever the thread count', async () => {
    const net = new Network({ shape: [12, 7, 3], seed: 5 });
    const { inputs } = bandData(150, 12, 3, 2);
    const one = await Promise.all(Array.from({ length: 150 }, (_, i) => net.infer(inputs.subarray(i * 12, (i + 1) * 12))));
    for (const threads of [1, 2, 3]) {
      const batch = await net.inferBatch(inputs, { threads });
      expect(batch.map((r) => r.label)).toEqual(one.map((r) => r.label));
      batch.forEach((r, i) => expect(r.scores).toEqual(one[i].scores));
    }
    const arrays = await net.inferBatch([inputs.subarray(0, 12), Array.from(inputs.subarray(12, 24), (v) => v / 255)]);
    expect(arrays[0].scores).toEqual(one[0].scores);
    expect(arrays[1].label).toBe(one[1].label);
  });

  it('evaluates accuracy, loss and a confusion matrix that sums to the total', async () => {
    const net = new Network({ shape: [12, 7, 3], seed: 5 });
    const { inputs, labels } = bandData(200, 12, 3, 4);
    const data = Dataset.from({ inputs, labels, inputSize: 12 });
    const r = await net.evaluate(data);
    expect(r.total).toBe(200);
    expect(r.confusion).toHaveLength(3);
    expect(r.confusion.flat().reduce((a, b) => a + b, 0)).toBe(200);
    expect(r.confusion.reduce((s, row, i) => s + row[i], 0)).toBe(r.correct);
    expect(r.accuracy).toBeCloseTo(r.correct / 200, 12);
    const results = await net.inferBatch(data);
    const expectedLoss =
      results.reduce((s, res, i) => s + res.scores.reduce((t, a, j) => t + 0.5 * (a - (j === labels[i] ? 1 : 0)) ** 2, 0), 0) / 200;
    expect(r.loss).toBeCloseTo(expectedLoss, 6);
    for (const threads of [1, 2, 4]) expect(await net.evaluate(data, { threads })).toEqual(r);
  });

  it('refuses datasets that do not fit the network', async () => {
    const net = new Network({ shape: [12, 7, 3], seed: 5 });
    const wrongSize = Dataset.from({ inputs: new Uint8Array(10 * 13), labels: new Uint8Array(10), inputSize: 13 });
    await expect(net.evaluate(wrongSize)).rejects.toMatchObject({ code: ErrorCodes.SHAPE_MISMATCH });
    const badLabel = Dataset.from({ inputs: new Uint8Array(24), labels: [0, 3], inputSize: 12 });
    await expect(net.evaluate(badLabel)).rejects.toMatchObject({ code: ErrorCodes.SHAPE_MISMATCH });
    const noLabels = Dataset.from({ inputs: new Uint8Array(24), inputSize: 12 });
    await expect(net.evaluate(noLabels)).rejects.toBeInstanceOf(TypeError);
    await expect(net.evaluate({} as never)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARG_TYPE });
  });

  it('gives random inputs finite scores in (0, 1)', async () => {
    const net = new Network({ shape: [30, 20, 20, 5], seed: 11 });
    const random = rng(3);
    for (let k = 0; k < 20; k++) {
      const x = Float32Array.from({ length: 30 }, () => (random() - 0.5) * 1e6);
      const r = await net.infer(x);
      for (const s of r.scores) expect(s >= 0 && s <= 1).toBe(true);
    }
  });
});
