// Federated averaging and the update encoding, without MQTT.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { crc32 } from '../lib/fleet/crc32';
import { norm } from '../lib/parameters';
import { decodeUpdate, encodeUpdate, fromHalf, toHalf, updateSize } from '../lib/fleet/encoding';
import { Dataset, Network, bandData } from './helpers';

async function flat(net: Network): Promise<Float32Array[]> {
  const p = await net.getParameters();
  return [...p.weights, ...p.biases];
}

describe('Network.average', () => {
  it('is the plain weighted mean (FedAvg), computed here in float64', async () => {
    const nets = [1, 2, 3, 4].map((seed) => new Network({ shape: [6, 5, 3], seed }));
    const weights = [600, 1200, 37, 1];
    const avg = await Network.average(nets.map((network, i) => ({ network, weight: weights[i] })));
    const got = await flat(avg);
    const each = await Promise.all(nets.map(flat));
    const total = weights.reduce((a, b) => a + b);
    got.forEach((block, b) => {
      for (let i = 0; i < block.length; i++) {
        let s = 0;
        each.forEach((p, k) => (s += weights[k] * p[b][i]));
        expect(block[i]).toBe(Math.fround(s / total));
      }
    });
    // File bytes are entries too, and one entry averages to itself exactly.
    const one = await Network.average([{ network: await nets[2].toBuffer({ format: 'v2' }), weight: 5 }]);
    expect(await flat(one)).toEqual(each[2]);
    // Big files go through the native decoder on a worker; the result is the same.
    const big = [1, 2].map((seed) => new Network({ shape: [784, 32, 10], seed }));
    const fromBytes = await Network.average(await Promise.all(big.map(async (n) => ({ network: await n.toBuffer(), weight: 1 }))));
    const fromNets = await Network.average(big.map((network) => ({ network, weight: 1 })));
    expect(await flat(fromBytes)).toEqual(await flat(fromNets));
    const corrupt = await big[0].toBuffer({ format: 'v2' });
    corrupt[5000] ^= 0xff;
    await expect(Network.average([{ network: corrupt, weight: 1 }])).rejects.toMatchObject({ code: 'ERR_HDRNN_CHECKSUM' });
  });

  it('median and trimmed mean keep the model good against a poisoned entry; the plain mean does not', async () => {
    const { inputs, labels } = bandData(600, 20, 4, 3);
    const data = Dataset.from({ inputs, labels, inputSize: 20 });
    const base = new Network({ shape: [20, 8, 4], seed: 5 });
    const honest: Network[] = [];
    for (let k = 0; k < 4; k++) {
      const n = await base.clone();
      await n.train(data, { epochs: 2, learningRate: 3, seed: k + 1 });
      honest.push(n);
    }
    const poison = await base.clone();
    const p = await poison.getParameters();
    p.weights.forEach((w) => w.fill(1e30));
    p.biases.forEach((b) => b.fill(-1e30));
    await poison.setParameters(p);
    const entries = [...honest.map((network) => ({ network, weight: 150 })), { network: poison, weight: 1e6 }];
    const honestAccuracy = (await (await Network.average(entries.slice(0, 4))).evaluate(data)).accuracy;
    expect(honestAccuracy).toBeGreaterThan(0.9);
    for (const method of ['median', 'trimmed-mean'] as const) {
      const robust = await Network.average(entries, { method, trim: 0.2 });
      expect((await robust.evaluate(data)).accuracy).toBeGreaterThan(honestAccuracy - 0.05);
    }
    // A norm clip at the honest updates' size bounds the poisoned entry's pull (with equal weights).
    const norms = await Promise.all(honest.map(async (n) => norm(await n.diff(base))));
    const equal = entries.map((e) => ({ ...e, weight: 1 }));
    const clipped = await Network.average(equal, { clipNorm: Math.max(...norms), base });
    expect((await clipped.evaluate(data)).accuracy).toBeGreaterThan(0.5);
    const wrecked = await Network.average(entries);
    expect((await wrecked.evaluate(data)).accuracy).toBeLessThan(0.5);
  });

  it('refuses bad entries with coded errors', async () => {
    const a = new Network({ shape: [4, 3, 2], seed: 1 });
    const b = new Network({ shape: [4, 2, 2], seed: 2 });
    await expect(Network.average([])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(Network.average([{ network: a, weight: 1 }, { network: b, weight: 1 }])).rejects.toMatchObject({ code: 'ERR_HDRNN_SHAPE_MISMATCH' });
    const relu = new Network({ shape: [4, 3, 2], seed: 3, activation: 'relu' });
    await expect(Network.average([{ network: a, weight: 1 }, { network: relu, weight: 1 }])).rejects.toMatchObject({ code: 'ERR_HDRNN_SHAPE_MISMATCH' });
    await expect(Network.average([{ network: a, weight: NaN }])).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(Network.average([{ network: a, weight: -1 }])).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(Network.average([{ network: a, weight: 0 }])).rejects.toMatchObject({ code: 'ERR_HDRNN_INVALID_ARGUMENT' });
    await expect(Network.average([{ network: a, weight: 1 }], { method: 'mode' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(Network.average([{ network: a, weight: 1 }], { clipNorm: 1 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(Network.average([{ network: new Uint8Array([1, 2, 3]), weight: 1 }])).rejects.toMatchObject({ code: 'ERR_HDRNN_BAD_FILE' });
  });
});

describe('parameters as values', () => {
  it('setParameters / fromParameters invert getParameters; diff and apply invert each other', async () => {
    const a = new Network({ shape: [7, 4, 3], seed: 11 });
    const b = new Network({ shape: [7, 4, 3], seed: 12 });
    const pa = await a.getParameters();
    const copy = await Network.fromParameters(a.shape, pa);
    expect(await copy.getParameters()).toEqual(pa);
    const delta = await b.diff(a);
    expect(delta.weights[0][0]).toBe(Math.fround((await b.getParameters()).weights[0][0] - pa.weights[0][0]));
    const again = await a.apply(delta);
    const pb = await b.getParameters();
    (await again.getParameters()).weights.forEach((w, l) => w.forEach((x, i) => expect(x).toBeCloseTo(pb.weights[l][i], 5)));
    expect(await a.getParameters()).toEqual(pa); // apply makes a new network
    // The model options travel with the parameters.
    const soft = new Network({ shape: [7, 4, 3], seed: 1, output: 'softmax', loss: 'cross-entropy', init: 'xavier' });
    const moved = await soft.apply(await b.diff(a));
    expect(moved.activations).toEqual(soft.activations);
    expect(moved.loss).toBe('cross-entropy');
    const avg = await Network.average([{ network: soft, weight: 1 }, { network: moved, weight: 1 }]);
    expect(avg.activations).toEqual(['sigmoid', 'softmax']);
    expect(avg.loss).toBe('cross-entropy');
  });

  it('refuses parameters that do not fit or are not finite', async () => {
    const a = new Network({ shape: [3, 2], seed: 1 });
    const good = await a.getParameters();
    await expect(a.setParameters({ weights: [new Float32Array(5)], biases: good.biases })).rejects.toMatchObject({ code: 'ERR_HDRNN_SHAPE_MISMATCH' });
    await expect(a.setParameters({ weights: [], biases: [] })).rejects.toMatchObject({ code: 'ERR_HDRNN_SHAPE_MISMATCH' });
    const nan = { weights: [good.weights[0].slice()], biases: good.biases };
    nan.weights[0][2] = NaN;
    await expect(a.setParameters(nan)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(a.setParameters(null as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(await a.getParameters()).toEqual(good);
    await expect(Network.fromParameters([3, 3], good)).rejects.toMatchObject({ code: 'ERR_HDRNN_SHAPE_MISMATCH' });
    await expect(Network.average('x' as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(Network.average([{ network: {} as never, weight: 1 }])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(Network.average([null as never])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('setParameters waits for no training: it is refused while one runs, and the run is not disturbed', async () => {
    const { inputs, labels } = bandData(2000, 20, 4, 3);
    const data = Dataset.from({ inputs, labels, inputSize: 20 });
    const net = new Network({ shape: [20, 8, 4], seed: 1 });
    const p = await net.getParameters();
    const run = net.train(data, { epochs: 20, threads: 1 });
    await expect(net.setParameters(p)).rejects.toMatchObject({ code: 'ERR_HDRNN_BUSY' });
    await run;
    await net.setParameters(p);
    expect(await net.getParameters()).toEqual(p);
  });
});

describe('update encoding', () => {
  const shape = [784, 32, 10];
  it('round-trips f32 exactly and f16/i8 within their precision; sizes for 784-32-10', async () => {
    const base = new Network({ shape, seed: 1 });
    const moved = new Network({ shape, seed: 2 });
    const delta = await moved.diff(base);
    for (const scale of [1e-3]) delta.weights.concat(delta.biases).forEach((b) => b.forEach((x, i) => (b[i] = x * scale)));
    const header = { fleet: 'trucks', device: 'truck-7', round: 3, baseCrc: 0xdeadbeef, examples: 6000, shape, delta };
    const sizes: Record<string, number> = {};
    for (const encoding of ['f32', 'f16', 'i8'] as const) {
      const bytes = encodeUpdate({ ...header, encoding });
      sizes[encoding] = bytes.length;
      expect(bytes.length).toBe(updateSize(shape, encoding, 'trucks', 'truck-7'));
      const u = decodeUpdate(bytes);
      expect(u).toMatchObject({ fleet: 'trucks', device: 'truck-7', round: 3, baseCrc: 0xdeadbeef, examples: 6000, encoding, shape });
      const tol = encoding === 'f32' ? 0 : encoding === 'f16' ? 2e-6 : 1e-4;
      u.delta.weights.forEach((w, l) => w.forEach((x, i) => expect(Math.abs(x - delta.weights[l][i])).toBeLessThanOrEqual(tol)));
    }
    console.log('update bytes for 784-32-10:', sizes);
    expect(sizes.f32).toBeGreaterThan(4 * 25450);
    expect(sizes.f16).toBeLessThan(sizes.f32 / 2 + 100);
    expect(sizes.i8).toBeLessThan(sizes.f32 / 4 + 100);
  });

  it('float16 conversion rounds to nearest and keeps special values', () => {
    for (const x of [0, 1, -2, 0.1, 65504, 6e-8, 1e-5, 3.14159]) expect(Math.abs(fromHalf(toHalf(x)) - x)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -11 + 2 ** -25);
    expect(fromHalf(toHalf(1e6))).toBe(Infinity);
    expect(Number.isNaN(fromHalf(toHalf(NaN)))).toBe(true);
  });

  it('decoding refuses truncated, corrupted, oversized and non-finite updates', async () => {
    const small = [4, 3, 2];
    const delta = await new Network({ shape: small, seed: 1 }).diff(new Network({ shape: small, seed: 2 }));
    const good = encodeUpdate({ fleet: 'f', device: 'd', round: 1, baseCrc: 1, examples: 10, shape: small, delta, encoding: 'f32' });
    expect(() => decodeUpdate(good.subarray(0, good.length - 5))).toThrow(expect.objectContaining({ code: 'ERR_HDRNN_CHECKSUM' }));
    for (let cut = 0; cut < good.length; cut += 7) expect(() => decodeUpdate(good.subarray(0, cut))).toThrow();
    const flipped = good.slice();
    flipped[40] ^= 1;
    expect(() => decodeUpdate(flipped)).toThrow(expect.objectContaining({ code: 'ERR_HDRNN_CHECKSUM' }));
    expect(() => decodeUpdate(good, { maxBytes: 50 })).toThrow(expect.objectContaining({ code: 'ERR_HDRNN_LIMIT' }));
    // A NaN written with a valid CRC (an attacker can compute CRCs): refused by the finite check.
    const nan = { weights: delta.weights.map((w) => w.slice()), biases: delta.biases };
    expect(() => encodeUpdate({ fleet: 'f', device: 'd', round: 1, baseCrc: 1, examples: 10, shape: small, delta: ((nan.weights[0][0] = NaN), nan) })).toThrow();
    const forged = good.slice();
    const view = new DataView(forged.buffer);
    const first = 20 + 2 + 2 + 4 + 4 * 3;
    view.setFloat32(first, NaN, true);
    view.setUint32(forged.length - 4, crc32(forged.subarray(0, forged.length - 4)), true);
    expect(() => decodeUpdate(forged)).toThrow(/not a finite number/);
  });

  it('any bytes, or any damage to a valid update, give a decoded update or a coded error (never a crash or a non-finite value)', async () => {
    const small = [5, 4, 3];
    const delta = await new Network({ shape: small, seed: 1 }).diff(new Network({ shape: small, seed: 2 }));
    const valid = (['f32', 'f16', 'i8'] as const).map((encoding) => encodeUpdate({ fleet: 'f', device: 'd', round: 1, baseCrc: 1, examples: 10, shape: small, delta, encoding }));
    const codes = new Set(['ERR_HDRNN_BAD_FILE', 'ERR_HDRNN_CHECKSUM', 'ERR_HDRNN_LIMIT', 'ERR_HDRNN_UNSUPPORTED']);
    const check = (bytes: Uint8Array) => {
      try {
        const u = decodeUpdate(bytes, { maxBytes: 4096 });
        for (const b of [...u.delta.weights, ...u.delta.biases]) for (const x of b) expect(Number.isFinite(x)).toBe(true);
      } catch (e) {
        expect(codes.has((e as { code: string }).code), String(e)).toBe(true);
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => check(b)), { numRuns: 300 });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(), fc.boolean(), (k, edits, cut, fixCrc) => {
        const b = valid[k].slice(0, valid[k].length - (cut % 8));
        for (const [at, value] of edits) b[at % b.length] = value;
        // An attacker can recompute the CRC: then every other check must hold on its own.
        if (fixCrc && b.length >= 4) new DataView(b.buffer).setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
        check(b);
      }),
      { numRuns: 500 },
    );
  });
});
