/**
 * ONNX export: the exported model runs in onnxruntime-node (its bundled CPU
 * build) and gives the same outputs as the network within 1e-5.
 */
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';

import { Dataset, Network, encodeOnnx, loadCsv, tempDir, rng } from './helpers';
import { SEATTLE, SEATTLE_FEATURES } from './vega';

const tmp = tempDir();
afterAll(tmp.cleanup);

async function runOnnx(bytes: Uint8Array, inputs: Float32Array, inputSize: number): Promise<{ output: Float32Array; label?: BigInt64Array; session: ort.InferenceSession }> {
  const session = await ort.InferenceSession.create(bytes);
  const count = inputs.length / inputSize;
  const result = await session.run({ input: new ort.Tensor('float32', inputs, [count, inputSize]) });
  return {
    output: result.output.data as Float32Array,
    label: result.label?.data as BigInt64Array | undefined,
    session,
  };
}

/** The top-level fields of a protobuf message: [field, wire type, value (number or bytes)]. */
function fields(b: Uint8Array): Array<[number, number, number | Uint8Array]> {
  const out: Array<[number, number, number | Uint8Array]> = [];
  let i = 0;
  const varint = () => {
    let x = 0;
    let shift = 1;
    for (;;) {
      const c = b[i++];
      x += (c & 0x7f) * shift;
      shift *= 128;
      if (c < 0x80) return x;
    }
  };
  while (i < b.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 0) out.push([tag >>> 3, 0, varint()]);
    else if (wire === 2) {
      const n = varint();
      out.push([tag >>> 3, 2, b.subarray(i, i + n)]);
      i += n;
    } else throw new Error(`wire type ${wire}`);
  }
  return out;
}

function metadataProps(model: Uint8Array): Record<string, string> {
  const text = (x: number | Uint8Array) => Buffer.from(x as Uint8Array).toString('utf8');
  const entries = fields(model).filter(([f]) => f === 14);
  return Object.fromEntries(entries.map(([, , v]) => {
    const kv = fields(v as Uint8Array);
    return [text(kv.find(([f]) => f === 1)![2]), text(kv.find(([f]) => f === 2)![2])];
  }));
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('net.toOnnx() in onnxruntime', () => {
  it('a sigmoid network (several layers) gives the same scores and labels', async () => {
    const net = new Network({ shape: [20, 16, 8, 5], seed: 3 });
    const random = rng(7);
    const inputs = Float32Array.from({ length: 50 * 20 }, () => random() * 4 - 2);
    const ours = await net.inferBatch(inputs);
    const onnx = await runOnnx(await net.toOnnx(), inputs, 20);
    const scores = new Float32Array(ours.length * 5);
    ours.forEach((r, i) => scores.set(r.scores, i * 5));
    expect(maxDiff(onnx.output, scores)).toBeLessThan(1e-5);
    expect(Array.from(onnx.label!, Number)).toEqual(ours.map((r) => r.label));
    expect(onnx.session.inputNames).toEqual(['input']);
    expect(onnx.session.outputNames).toEqual(['output', 'label']);
  });

  it('a network trained on seattle-weather, with the class names as metadata', async () => {
    const data = await loadCsv(SEATTLE, { target: 'weather', features: SEATTLE_FEATURES });
    const net = new Network({ shape: [4, 8, data.classes], seed: 1 });
    await net.train(data, { epochs: 2, learningRate: 0.5, seed: 1 });
    const bytes = await net.toOnnx();
    const onnx = await runOnnx(bytes, data.inputs as Float32Array, 4);
    const ours = await net.inferBatch(data);
    const scores = new Float32Array(ours.length * data.classes);
    ours.forEach((r, i) => scores.set(r.scores, i * data.classes));
    expect(maxDiff(onnx.output, scores)).toBeLessThan(1e-5);
    // metadata_props (ModelProto field 14): read back with a minimal protobuf reader.
    const meta = metadataProps(bytes);
    expect(meta['hdrnn.shape']).toBe(`4,8,${data.classes}`);
    expect(meta['hdrnn.activations']).toBe('sigmoid,sigmoid');
    expect(meta['hdrnn.classes']).toBeUndefined(); // a plain Network has no class names
    net.setClasses(data.classNames);
    expect(JSON.parse(metadataProps(await net.toOnnx())['hdrnn.classes'])).toEqual(data.classNames);
  });

  it.each([
    ['tanh', 'softmax'],
    ['relu', 'linear'],
    ['relu', 'sigmoid'],
    ['tanh', 'linear'],
  ] as const)('a trained %s network with a %s output and standardised inputs gives the same outputs', async (activation, output) => {
    const random = rng(5);
    const count = 64;
    const inputs = Float32Array.from({ length: count * 6 }, (_, i) => 100 + (i % 6) * 20 + random() * 30);
    const regression = output === 'linear';
    const data = regression
      ? Dataset.from({ inputs, inputSize: 6, targets: Float32Array.from({ length: count * 2 }, () => random() * 10), targetSize: 2 })
      : Dataset.from({ inputs, inputSize: 6, labels: Uint8Array.from({ length: count }, () => Math.floor(random() * 3)) });
    const net = new Network({ shape: [6, 9, 7, regression ? 2 : 3], seed: 2, activation, output, init: 'xavier', loss: output === 'softmax' ? 'cross-entropy' : 'quadratic' });
    net.setStandardization(await data.standardize());
    if (!regression) net.setClasses(['low', 'mid', 'high']);
    await net.train(data, { epochs: 3, learningRate: 0.05, optimizer: 'adam', seed: 3 });
    const ours = await net.inferBatch(data);
    const n = net.shape[3];
    const expected = new Float32Array(count * n);
    ours.forEach((r, i) => expected.set(r.scores, i * n));
    const onnx = await runOnnx(await net.toOnnx(), inputs, 6);
    expect(maxDiff(onnx.output, expected)).toBeLessThan(1e-5);
    if (!regression) expect(Array.from(onnx.label!, Number)).toEqual(ours.map((r) => r.label));
    expect(onnx.session.outputNames).toEqual(regression ? ['output'] : ['output', 'label']);
  });

  it('every activation, Softmax and standardisation as Sub/Div, from encodeOnnx directly', async () => {
    const shape = [6, 7, 7, 7, 4];
    const random = rng(11);
    const weights = shape.slice(1).map((n, l) => Float32Array.from({ length: n * shape[l] }, () => random() * 2 - 1));
    const biases = shape.slice(1).map((n) => Float32Array.from({ length: n }, () => random() - 0.5));
    const mean = Float32Array.from({ length: 6 }, () => random() * 10);
    const std = Float32Array.from({ length: 6 }, () => 0.5 + random() * 3);
    const inputs = Float32Array.from({ length: 30 * 6 }, () => random() * 20 - 5);
    // The same maths in float64 JavaScript.
    const act: Record<string, (z: number[]) => number[]> = {
      tanh: (z) => z.map(Math.tanh),
      relu: (z) => z.map((x) => Math.max(0, x)),
      sigmoid: (z) => z.map((x) => 1 / (1 + Math.exp(-x))),
      linear: (z) => z,
      softmax: (z) => {
        const m = Math.max(...z);
        const e = z.map((x) => Math.exp(x - m));
        const s = e.reduce((a, b) => a + b, 0);
        return e.map((x) => x / s);
      },
    };
    for (const out of ['softmax', 'linear', 'sigmoid'] as const) {
      const activations = ['tanh', 'relu', 'sigmoid', out] as const;
      const bytes = encodeOnnx({ shape, weights, biases, activations, standardization: { mean, std }, classes: ['a', 'b', 'c', 'd'] });
      const onnx = await runOnnx(bytes, inputs, 6);
      const expected: number[] = [];
      for (let i = 0; i < 30; i++) {
        let a = Array.from(inputs.subarray(i * 6, i * 6 + 6), (x, j) => (x - mean[j]) / std[j]);
        for (let l = 0; l < 4; l++) {
          const z = Array.from({ length: shape[l + 1] }, (_, o) => biases[l][o] + a.reduce((s, x, k) => s + weights[l][o * shape[l] + k] * x, 0));
          a = act[activations[l]](z);
        }
        expected.push(...a);
      }
      expect(maxDiff(onnx.output, expected), out).toBeLessThan(1e-5);
      expect(onnx.session.outputNames).toEqual(out === 'linear' ? ['output'] : ['output', 'label']);
    }
  });

  it('refuses parameters that do not match the shape', () => {
    expect(() => encodeOnnx({ shape: [2, 2], weights: [new Float32Array(3)], biases: [new Float32Array(2)] })).toThrow(RangeError);
    expect(() => encodeOnnx({ shape: [2, 2], weights: [new Float32Array(4)], biases: [new Float32Array(2)], activations: ['gelu' as never] })).toThrow(/no ONNX operator/);
  });
});
