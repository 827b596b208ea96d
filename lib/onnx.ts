/**
 * ONNX export: a trained network as an ONNX model (opset 13) that other
 * runtimes (onnxruntime, ...) can run. The few protobuf messages needed are
 * written by hand (field numbers from onnx/onnx.proto), so the package needs
 * no protobuf library:
 *
 *   input [N, inputs] float
 *     -> Sub(mean) -> Div(std)                    when the network standardises its inputs
 *     -> per layer: Gemm(W, b, transB=1) -> activation
 *        (Sigmoid, Tanh, Relu, Softmax on the last axis; nothing for linear)
 *   output [N, outputs] float; label [N] int64 (ArgMax) unless the outputs are values
 *
 * Weights are stored [out][in] row-major, which is Gemm's B with transB=1.
 * What ONNX does not hold: the training state (optimizer moments, the
 * schedule, the shuffle's seed and epoch), the loss, and the file's CRC; the
 * class names, shape, activations and loss ride along only as
 * metadata_props (strings a runtime ignores).
 */
/** The activations a layer can have (network.ts's Activation). */
type Activation = 'sigmoid' | 'tanh' | 'relu' | 'linear' | 'softmax';

export interface OnnxModel {
  /** Layer sizes, input first. */
  shape: readonly number[];
  /** Per layer, [out][in] row-major. */
  weights: readonly Float32Array[];
  biases: readonly Float32Array[];
  /** Per non-input layer; default all 'sigmoid'. */
  activations?: readonly Activation[];
  standardization?: { mean: Float32Array; std: Float32Array } | null;
  classes?: readonly string[] | null;
  loss?: string;
  /** Extra metadata_props. */
  metadata?: Record<string, string>;
  /** The graph's name; default 'hdrnn'. */
  name?: string;
}

const ONNX_OPS: Record<Activation, string | null> = {
  sigmoid: 'Sigmoid',
  tanh: 'Tanh',
  relu: 'Relu',
  softmax: 'Softmax',
  linear: null, // identity: the Gemm's output is the layer's output
};

const OPSET = 13;
const IR_VERSION = 7; // the IR version of opset 13 (ONNX 1.8)
const FLOAT = 1; // TensorProto.DataType
const INT64 = 7;
const ATTR_INT = 2; // AttributeProto.AttributeType

/** A protobuf message being written: fields in order, nested messages as bytes. */
class Proto {
  readonly #parts: Uint8Array[] = [];
  #length = 0;

  #push(b: Uint8Array): void {
    this.#parts.push(b);
    this.#length += b.length;
  }

  #varint(value: bigint | number): void {
    let x = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    while (x >= 0x80n) {
      out.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    out.push(Number(x));
    this.#push(Uint8Array.from(out));
  }

  #tag(field: number, wire: number): void {
    this.#varint((field << 3) | wire);
  }

  int(field: number, value: number | bigint): this {
    this.#tag(field, 0);
    this.#varint(value);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.#tag(field, 2);
    this.#varint(value.length);
    this.#push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  message(field: number, value: Proto): this {
    return this.bytes(field, value.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const p of this.#parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

function floatsLE(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return out;
}

function tensor(name: string, dims: readonly number[], values: Float32Array): Proto {
  const t = new Proto();
  for (const d of dims) t.int(1, d);
  return t.int(2, FLOAT).string(8, name).bytes(9, floatsLE(values));
}

function valueInfo(name: string, elemType: number, dims: readonly (number | string)[]): Proto {
  const shape = new Proto();
  for (const d of dims) shape.message(1, typeof d === 'string' ? new Proto().string(2, d) : new Proto().int(1, d));
  const tensorType = new Proto().int(1, elemType).message(2, shape);
  return new Proto().string(1, name).message(2, new Proto().message(1, tensorType));
}

function node(op: string, inputs: readonly string[], outputs: readonly string[], name: string, attrs: Record<string, number> = {}): Proto {
  const n = new Proto();
  for (const i of inputs) n.string(1, i);
  for (const o of outputs) n.string(2, o);
  n.string(3, name).string(4, op);
  for (const [key, value] of Object.entries(attrs)) n.message(5, new Proto().string(1, key).int(3, value).int(20, ATTR_INT));
  return n;
}

function check(model: OnnxModel): Activation[] {
  const { shape, weights, biases } = model;
  const layers = shape.length - 1;
  if (layers < 1 || weights.length !== layers || biases.length !== layers) {
    throw new RangeError(`the model has ${shape.length} layer sizes but ${weights.length} weight and ${biases.length} bias arrays`);
  }
  for (let l = 0; l < layers; l++) {
    if (weights[l].length !== shape[l] * shape[l + 1] || biases[l].length !== shape[l + 1]) {
      throw new RangeError(`layer ${l + 1}: weights or biases do not match the shape ${shape.join('-')}`);
    }
  }
  const acts = model.activations ? [...model.activations] : new Array<Activation>(layers).fill('sigmoid');
  if (acts.length !== layers) throw new RangeError(`${acts.length} activations for ${layers} layers`);
  for (const a of acts) if (!(a in ONNX_OPS)) throw new RangeError(`activation '${a}' has no ONNX operator here`);
  const s = model.standardization;
  if (s && (s.mean.length !== shape[0] || s.std.length !== shape[0])) throw new RangeError('the standardisation does not match the input size');
  return acts;
}

/** The ONNX ModelProto bytes of a network's parameters. */
export function encodeOnnx(model: OnnxModel, producerVersion = '0'): Uint8Array {
  const acts = check(model);
  const { shape, weights, biases } = model;
  const graph = new Proto();
  const nodes: Proto[] = [];
  const inits: Proto[] = [];
  let x = 'input';
  if (model.standardization) {
    inits.push(tensor('mean', [shape[0]], model.standardization.mean), tensor('std', [shape[0]], model.standardization.std));
    nodes.push(node('Sub', [x, 'mean'], ['centred'], 'standardise_sub'), node('Div', ['centred', 'std'], ['standardised'], 'standardise_div'));
    x = 'standardised';
  }
  const last = shape.length - 2;
  for (let l = 0; l <= last; l++) {
    const op = ONNX_OPS[acts[l]];
    const z = op === null && l === last ? 'output' : `z${l + 1}`;
    inits.push(tensor(`W${l + 1}`, [shape[l + 1], shape[l]], weights[l]), tensor(`b${l + 1}`, [shape[l + 1]], biases[l]));
    nodes.push(node('Gemm', [x, `W${l + 1}`, `b${l + 1}`], [z], `dense${l + 1}`, { transB: 1 }));
    x = z;
    if (op !== null) {
      const a = l === last ? 'output' : `a${l + 1}`;
      nodes.push(node(op, [x], [a], `${acts[l]}${l + 1}`, op === 'Softmax' ? { axis: -1 } : {}));
      x = a;
    }
  }
  const values = acts[last] === 'linear';
  if (!values) nodes.push(node('ArgMax', ['output'], ['label'], 'argmax', { axis: 1, keepdims: 0 }));
  for (const n of nodes) graph.message(1, n);
  graph.string(2, model.name ?? 'hdrnn');
  for (const t of inits) graph.message(5, t);
  graph.string(10, `hdrnn-native network ${shape.join('-')} (${acts.join(', ')})`);
  graph.message(11, valueInfo('input', FLOAT, ['batch', shape[0]]));
  graph.message(12, valueInfo('output', FLOAT, ['batch', shape[shape.length - 1]]));
  if (!values) graph.message(12, valueInfo('label', INT64, ['batch']));

  const meta: Record<string, string> = {
    'hdrnn.shape': shape.join(','),
    'hdrnn.activations': acts.join(','),
    ...(model.loss ? { 'hdrnn.loss': model.loss } : {}),
    ...(model.classes ? { 'hdrnn.classes': JSON.stringify(model.classes) } : {}),
    ...model.metadata,
  };
  const m = new Proto()
    .int(1, IR_VERSION)
    .string(2, 'hdrnn-native')
    .string(3, producerVersion)
    .message(7, graph)
    .message(8, new Proto().string(1, '').int(2, OPSET));
  for (const [key, value] of Object.entries(meta)) m.message(14, new Proto().string(1, key).string(2, value));
  return m.finish();
}
