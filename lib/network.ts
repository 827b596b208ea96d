/**
 * The Network: a fully connected sigmoid network trained by mini-batch SGD
 * on a quadratic cost. Every heavy operation runs off the JavaScript thread
 * and returns a Promise; training runs on its own native thread.
 *
 * Concurrency (one network used by several callers at once):
 * - one training at a time: a second `train` while one runs rejects with
 *   ERR_HDRNN_BUSY;
 * - `infer`, `inferBatch`, `evaluate`, `toBuffer`, `save` and
 *   `getParameters` may run during training: each sees the weights as they
 *   were between two mini-batches, never half-updated, and waits for at
 *   most the mini-batch in progress.
 */
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';

/** os.availableParallelism() where Node has it (>= 18.14), else the CPU count (Node 16). */
function availableParallelism(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : Math.max(1, os.cpus().length);
}

import { native, type NativeNetwork, type NativeRunOptions, type NativeTrainEvent } from './binding';
import { Dataset } from './dataset';
import { abortError, ErrorCodes, hdrnnError } from './errors';
import { readFileNative, saveTarget, writeFileAtomic } from './files';
import { resolveLimits, type Limits } from './limits';
import { encodeOnnx } from './onnx';
import { EarlyStopper, GATE_STOP, splitDataset, type CheckpointOptions, type EarlyStopping } from './train-control';
import * as model from './model';
import type { Activation, HiddenActivation, Init, Loss, OptimizerName, OptimizerOptions, OutputActivation, OutputKind, Schedule } from './model';
import type { GreyImage } from './pgm';
import * as P from './parameters';
import * as v from './validate';

export type NetworkFormat = 'seed' | 'v2' | 'v3';
export type KernelName = v.KernelName;

export interface NetworkOptions {
  /** Layer sizes, input first, output last: [784, 32, 10] is the seed's default. */
  shape: readonly number[];
  /** Seed of the initial weights and biases; random if absent. */
  seed?: number | bigint;
  limits?: Limits;
  /** Activation of the hidden layers; default 'sigmoid'. */
  activation?: HiddenActivation;
  /** Activation of the output layer; default 'sigmoid'. */
  output?: OutputActivation;
  /** One activation per non-input layer; overrides activation and output. */
  activations?: readonly Activation[];
  /** Cost trained on and reported; default 'quadratic'. 'cross-entropy' needs a softmax or sigmoid output. */
  loss?: Loss;
  /** Initial weights: 'normal' (default, the seed's N(0, 1)), 'xavier' or 'he' (biases 0). */
  init?: Init;
}

/** Per-input standardisation x' = (x - mean) / std, applied before the first layer. */
export interface Standardization {
  mean: Float32Array;
  std: Float32Array;
}

/** One example: bytes 0..255 (scaled by 1/255), floats used as they are, or an image from readPgm. */
export type Input = Float32Array | Float64Array | Uint8Array | Uint8ClampedArray | readonly number[] | GreyImage;

export interface InferResult {
  /** Index of the largest output (the first on ties). */
  label: number;
  /** The output activations: probabilities (softmax), scores in (0, 1) (sigmoid) or raw values (linear). */
  scores: Float32Array;
  /** Which of those the scores are (the network's outputKind). */
  kind: OutputKind;
}

export interface RunOptions {
  /**
   * Threads to use. Inference and evaluation default to the number of CPUs
   * (os.availableParallelism()); training defaults to 'auto'.
   */
  threads?: number | 'auto';
  /** Force a kernel set ('portable' to compare with the SIMD path); default 'best' or $HDRNN_KERNELS. */
  kernels?: KernelName;
}

export interface Evaluation {
  correct: number;
  total: number;
  /** correct / total (0 for an empty set). */
  accuracy: number;
  /** Mean cost of the network's loss (quadratic: 0.5 * |a - y|^2). */
  loss: number;
  /** confusion[actual][predicted]: counts (empty rows for regression data). */
  confusion: number[][];
  /** Regression data (float targets): root mean square and mean absolute error over every output. */
  rmse?: number;
  mae?: number;
}

export interface EpochReport {
  epoch: number;
  epochs: number;
  /** Mean training cost of the epoch's examples, each taken before its batch's update. */
  loss: number;
  /** Training time of the epoch in seconds (evaluation excluded). */
  seconds: number;
  /** Threads the epoch's last mini-batches ran on (the automatic choice unless options.threads was given). */
  threads: number;
  /** Present when testData was given. */
  test?: { correct: number; total: number; accuracy: number; loss: number; seconds: number; rmse?: number; mae?: number };
  /** Present with validationSplit or validationData (rmse and mae for regression). */
  validation?: { correct: number; total: number; accuracy: number; loss: number; seconds: number; rmse?: number; mae?: number };
  /** With keepState: the trainer state after this epoch (pass as `resume` to continue from here). */
  state?: Uint8Array;
}

export interface BatchProgress {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  loss: number;
  seconds: number;
}

export interface TrainOptions extends RunOptions {
  /**
   * Threads to train on. Default 'auto': up to the number of CPUs, timing
   * the candidates as training runs and keeping the fastest (on dedicated
   * cores with big batches, all of them; with small batches, on busy or
   * virtual CPUs, fewer). The weights are the same whatever it picks.
   */
  threads?: number | 'auto';
  /** Default 30. */
  epochs?: number;
  /** Mini-batch size B; default 10. */
  batchSize?: number;
  /** Learning rate eta (w -= eta/B * sum of gradients); default 3. */
  learningRate?: number;
  /** Shuffle the order each epoch; default true. false reproduces the seed's fixed order. */
  shuffle?: boolean;
  /** Seed of the shuffle; random if absent. Same seed, data and options: bit-identical weights. */
  seed?: number | bigint;
  /** Evaluated after every epoch; its accuracy appears in the reports. */
  testData?: Dataset;
  /** Stops the run within one mini-batch; the promise rejects with an AbortError. */
  signal?: AbortSignal;
  /**
   * Called after every epoch, with the training paused at that boundary until
   * it returns (or its promise settles). Return 'stop' to end the run there:
   * the network keeps exactly that epoch's weights and the promise resolves.
   * Throwing (or rejecting) stops the run and rejects with that error.
   */
  onEpoch?: (report: EpochReport) => unknown; // 'stop' | Promise<'stop' | void> | void
  /** Stop when a metric has not improved for `patience` epochs (see EarlyStopping). */
  earlyStopping?: EarlyStopping;
  /** Hold out this fraction of `data` (chosen from `seed`) and evaluate it after every epoch. */
  validationSplit?: number;
  /** Evaluated after every epoch as `report.validation` (instead of validationSplit). */
  validationData?: Dataset;
  /**
   * Write a v3 checkpoint (the network and the trainer state) to `path`, atomically, every
   * `every` epochs and where the run stops early; Network.loadCheckpoint + `resume` continue it.
   */
  checkpoint?: CheckpointOptions;
  /** Called every `progressEvery` mini-batches. */
  onProgress?: (progress: BatchProgress) => void;
  /** Mini-batches between onProgress calls; default: about 1% of an epoch when onProgress is given. */
  progressEvery?: number;
  /** 'batched' (default: matrix kernels, threads) or 'reference' (the seed's per-example algorithm). */
  algorithm?: 'batched' | 'reference';
  /** Default 'sgd' (the seed's exact update); 'momentum' or 'adam' (with their constants as an object). */
  optimizer?: OptimizerName | OptimizerOptions;
  /** L2 weight decay lambda: each step also moves w by -eta * lambda * w (weights only). Default 0. */
  weightDecay?: number;
  /** Learning-rate schedule over the epochs of this run; default constant. */
  schedule?: Schedule;
  /** Report the trainer state (shuffle order and generator, epoch, optimizer moments) with every epoch. */
  keepState?: boolean;
  /**
   * A trainer state from an earlier run's EpochReport.state (same network shape, data size and
   * optimizer): the run continues exactly as the earlier one would have, given the weights of
   * that epoch (e.g. from a checkpoint file) and the same other options.
   */
  resume?: Uint8Array;
  /**
   * 'background': every training thread runs at the lowest priority (Linux:
   * SCHED_IDLE, else nice 19, per thread), so the host service's own work is
   * never starved; training then gets only CPU time nobody else wants.
   * Default 'normal'.
   */
  priority?: 'normal' | 'background';
}

export interface TrainReport {
  epochs: EpochReport[];
  /** Set when the run ended early: by onEpoch's 'stop' or by early stopping, after `epoch`. */
  stopped?: { epoch: number; by: 'onEpoch' | 'earlyStopping' };
  /** With earlyStopping: the best epoch and its metric (the network holds it with restoreBest). */
  best?: { epoch: number; metric: string; value: number; restored: boolean };
  /** Wall time of the whole run, seconds. */
  seconds: number;
  /** With keepState: the trainer state after the last epoch. */
  state?: Uint8Array;
}

export interface SaveOptions {
  /**
   * 'seed': the original .nn format (784 inputs, 10 outputs, hidden layers of at most 255);
   * 'v2': any shape, with a CRC-32; 'v3': also activations, loss, standardisation and class names;
   * 'auto' (default): seed when the network fits it, else v2, else v3.
   */
  format?: NetworkFormat | 'auto';
  /**
   * A trainer state (EpochReport.state with keepState) to store with the network: a v3
   * checkpoint that Network.loadCheckpoint reads back for `resume`. Implies format 'v3'.
   */
  trainerState?: Uint8Array;
}

/** What Network.loadCheckpoint returns. */
export interface Checkpoint {
  network: Network;
  /** The trainer state the file holds, or null (any network file without one). */
  trainerState: Uint8Array | null;
}

export interface Parameters {
  /** Per layer, the weights [out][in] row-major. */
  weights: Float32Array[];
  /** Per layer, the biases. */
  biases: Float32Array[];
}

const ADOPTED = new WeakMap<object, NativeNetwork>();

/** Symbol.dispose where the runtime has it (Node 18.18+/20.4+); Node 16 and early 18 lack it. */
const DISPOSE: typeof Symbol.dispose = (Symbol as { dispose?: typeof Symbol.dispose }).dispose ?? (Symbol.for('nodejs.dispose') as typeof Symbol.dispose);


function randomSeed(): bigint {
  return randomBytes(8).readBigUInt64LE();
}

function defaultKernels(): KernelName | undefined {
  const env = process.env.HDRNN_KERNELS;
  return env ? v.kernelName(env, 'HDRNN_KERNELS') : undefined;
}

/** Thread and kernel options; `auto` is what an absent `threads` means (0 for the addon: automatic). */
export function runOptions(value: unknown, name = 'options', auto = false): NativeRunOptions {
  const o = v.options(value, name);
  const threads = v.opt(o, 'threads');
  const kernels = v.opt(o, 'kernels');
  let count: number;
  if (threads === undefined) count = auto ? 0 : availableParallelism();
  else if (threads === 'auto') count = auto ? 0 : availableParallelism();
  else count = v.integer(threads, `${name}.threads`, 1, 1024);
  return {
    threads: count,
    kernels: kernels === undefined ? defaultKernels() : v.kernelName(kernels, `${name}.kernels`),
  };
}

function isImage(x: unknown): x is GreyImage {
  return typeof x === 'object' && x !== null && (x as GreyImage).pixels instanceof Float32Array;
}

/** A NativeNetwork from checked NetworkOptions; with deferInit its weights wait for initWeights(). */
function createNative(opts: NetworkOptions, deferInit: boolean): NativeNetwork {
  const o = v.options(opts, 'options');
  const shape = v.opt(o, 'shape');
  if (!Array.isArray(shape)) throw v.typeError('options.shape', 'an array of layer sizes like [784, 32, 10]', shape);
  // The length is read once (a proxy may answer differently each time) and the
  // sizes copied once, after the length is known to be small.
  const layers: unknown = shape.length;
  if (typeof layers !== 'number' || !Number.isSafeInteger(layers) || layers < 2) {
    throw v.rangeError('options.shape', 'at least 2 layer sizes (inputs and outputs)', layers);
  }
  const limits = resolveLimits(v.opt(o, 'limits'), 'options.limits');
  const maxLayers = limits.native.maxLayers ?? 257;
  if (layers > maxLayers) {
    throw hdrnnError(ErrorCodes.LIMIT, `options.shape has ${layers} layers, more than the limit of ${maxLayers}`);
  }
  const sizes = v.numbers(Array.from({ length: layers }, (_, i) => (i in shape ? shape[i] : undefined)), 'options.shape');
  sizes.forEach((n, i) => v.integer(n, `options.shape[${i}]`, 1, 2 ** 32 - 1));
  const seedValue = v.opt(o, 'seed');
  const seed = seedValue === undefined ? randomSeed() : v.seed(seedValue, 'options.seed');
  const spec = model.resolveModel(o, layers - 1);
  return new native.NativeNetwork([...sizes], seed, limits.native, spec, deferInit);
}

/** One input as a typed array the addon accepts; the length is checked before anything is converted. */
function toInputArray(input: unknown, size: number, name: string): Float32Array | Uint8Array | Uint8ClampedArray {
  const a: unknown = isImage(input) ? input.pixels : input;
  const array = Array.isArray(a);
  if (!(array || a instanceof Float64Array || a instanceof Float32Array || a instanceof Uint8Array || a instanceof Uint8ClampedArray)) {
    throw v.typeError(name, 'a Float32Array, Float64Array, Uint8Array, number[] or an image from readPgm', input);
  }
  if (!array) v.attached(a as ArrayBufferView, name);
  const length = array ? (a as unknown[]).length : v.typedLength(a as ArrayBufferView);
  if (length !== size) {
    throw hdrnnError(ErrorCodes.SHAPE_MISMATCH, `${name} has ${length} values but the network takes ${size} inputs`);
  }
  let out: Float32Array | Uint8Array | Uint8ClampedArray;
  if (array) out = Float32Array.from(v.numbers(a as unknown[], name));
  else if (a instanceof Float64Array) out = Float32Array.from(a);
  else out = a as Float32Array | Uint8Array | Uint8ClampedArray;
  if (out instanceof Float32Array) {
    for (let i = 0; i < length; i++) {
      if (!Number.isFinite(out[i])) throw v.rangeError(`${name}[${i}]`, 'a finite number (as a float32)', out[i]);
    }
  }
  return out;
}

export class Network {
  readonly #native: NativeNetwork;
  readonly #shape: readonly number[];
  readonly #activations: readonly Activation[];
  readonly #loss: Loss;
  #classes: string[] | null = null;
  #standardized = false;

  /** A new network with weights and biases drawn from N(0, 1). */
  constructor(opts: NetworkOptions) {
    const adopted = typeof opts === 'object' && opts !== null ? ADOPTED.get(opts) : undefined;
    if (adopted !== undefined) {
      // A network decoded by native code (load, fromBuffer). The token is an
      // object only this module holds, looked up by identity: no caller's
      // object (not even a proxy, whose traps WeakMap lookups never run) can
      // take this path.
      this.#native = adopted;
    } else {
      this.#native = createNative(opts, false);
    }
    this.#shape = Object.freeze([...this.#native.shape]);
    this.#activations = Object.freeze([...this.#native.activations] as Activation[]);
    this.#loss = this.#native.loss as Loss;
    this.#standardized = this.#native.standardization() !== null;
    this.#classes = this.#native.classes();
  }

  /**
   * `new Network(options)`, with the weights set off the JavaScript thread:
   * the same network (the same seed gives the same weights), for big
   * networks in a live service (16.7 M weights take ~0.35 s to draw; the
   * HDR-NN's 25,000 take 0.5 ms, where the constructor is as good).
   */
  static async create(options: NetworkOptions): Promise<Network> {
    const n = createNative(options, true);
    await n.initWeights();
    return Network.#wrap(n);
  }

  static #wrap(n: NativeNetwork): Network {
    const token = {};
    ADOPTED.set(token, n);
    return new Network(token as NetworkOptions);
  }

  /** Loads a network file of either format (told apart by its first bytes). */
  static async load(file: string, options?: { limits?: Limits }): Promise<Network> {
    v.path(file, 'path');
    const limits = resolveLimits(v.opt(v.options(options, 'options'), 'limits'));
    const bytes = await readFileNative(file, limits.maxFileBytes);
    try {
      const { network } = await native.NativeNetwork.decode(bytes, limits.native);
      return Network.#wrap(network);
    } catch (error) {
      (error as Error).message = `${file}: ${(error as Error).message}`;
      throw error;
    }
  }

  /** Loads a network file and the trainer state a v3 checkpoint holds (null if none). */
  static async loadCheckpoint(file: string, options?: { limits?: Limits }): Promise<Checkpoint> {
    v.path(file, 'path');
    const limits = resolveLimits(v.opt(v.options(options, 'options'), 'limits'));
    const bytes = await readFileNative(file, limits.maxFileBytes);
    try {
      const { network, trainerState } = await native.NativeNetwork.decode(bytes, limits.native);
      return { network: Network.#wrap(network), trainerState: trainerState ?? null };
    } catch (error) {
      (error as Error).message = `${file}: ${(error as Error).message}`;
      throw error;
    }
  }

  /** Reads a network from bytes of either format (parsed on the calling thread). */
  static fromBuffer(buffer: Uint8Array | ArrayBuffer, options?: { limits?: Limits }): Network {
    if (!(buffer instanceof Uint8Array) && !(buffer instanceof ArrayBuffer)) {
      throw v.typeError('buffer', 'a Buffer, Uint8Array or ArrayBuffer', buffer);
    }
    const limits = resolveLimits(v.opt(v.options(options, 'options'), 'limits'));
    const { network } = native.NativeNetwork.fromBuffer(buffer, limits.native);
    return Network.#wrap(network);
  }

  /** Layer sizes, input first. */
  get shape(): readonly number[] {
    return this.#shape;
  }

  /** Number of weights and biases. */
  get parameterCount(): number {
    return this.#native.parameterCount;
  }

  /** Activation of each non-input layer. */
  get activations(): readonly Activation[] {
    return this.#activations;
  }

  /** The cost it trains on and reports. */
  get loss(): Loss {
    return this.#loss;
  }

  /** What infer's scores are: 'probabilities' (softmax), 'scores' (sigmoid) or 'values' (linear, tanh, relu). */
  get outputKind(): OutputKind {
    return model.outputKind(this.#activations);
  }

  /** Sets the per-input standardisation (x - mean) / std the core applies before the first layer; null clears it. */
  setStandardization(s: Standardization | null): void {
    if (s === null) {
      this.#native.setStandardization(null, null);
      this.#standardized = false;
      return;
    }
    const o = v.options(s, 'standardization');
    const mean = v.opt(o, 'mean'), std = v.opt(o, 'std');
    for (const [key, a] of [['mean', mean], ['std', std]] as const) {
      if (!(a instanceof Float32Array)) throw v.typeError(`standardization.${key}`, 'a Float32Array', a);
      v.attached(a, `standardization.${key}`);
      if (a.length !== this.#shape[0]) {
        throw hdrnnError(ErrorCodes.SHAPE_MISMATCH, `standardization.${key} has ${a.length} values but the network takes ${this.#shape[0]} inputs`);
      }
      a.forEach((x, i) => {
        if (!Number.isFinite(x) || (key === 'std' && !(x > 0))) {
          throw v.rangeError(`standardization.${key}[${i}]`, key === 'std' ? 'a finite number above 0' : 'a finite number', x);
        }
      });
    }
    this.#native.setStandardization(mean as Float32Array, std as Float32Array);
    this.#standardized = true;
  }

  /** The standardisation (copies), or null. */
  get standardization(): Standardization | null {
    return this.#native.standardization();
  }

  /** Names of the output classes, or null (kept in v3 files). */
  get classes(): string[] | null {
    return this.#classes === null ? null : [...this.#classes];
  }

  /** Names the output classes (one per output); null clears them. */
  setClasses(names: readonly string[] | null): void {
    if (names === null) {
      this.#native.setClasses(null);
      this.#classes = null;
      return;
    }
    const list = model.classNames(names, this.#shape[this.#shape.length - 1]);
    this.#native.setClasses(list);
    this.#classes = list;
  }

  /** True while a training run is using this network. */
  get training(): boolean {
    return this.#native.training;
  }

  /** True once dispose() has freed the network. */
  get disposed(): boolean {
    return this.#native.disposed;
  }

  /**
   * Frees the network's native memory now instead of when the garbage
   * collector gets to it. Every later call rejects or throws with
   * ERR_HDRNN_DISPOSED; calls already running finish first. Throws
   * ERR_HDRNN_BUSY while training (abort the run first). Also available as
   * `using net = ...` (Symbol.dispose).
   */
  dispose(): void {
    this.#native.dispose();
  }

  [DISPOSE](): void {
    this.dispose();
  }

  /** The format 'auto' picks for this network: 'seed' when the shape fits it. */
  get preferredFormat(): NetworkFormat {
    const s = this.#shape;
    const plain = this.#loss === 'quadratic' && this.#activations.every((a) => a === 'sigmoid') && !this.#standardized && this.#classes === null;
    if (!plain) return 'v3';
    const fits = s[0] === 784 && s[s.length - 1] === 10 && s.length - 2 <= 255 && s.slice(1, -1).every((n) => n <= 255);
    return fits ? 'seed' : 'v2';
  }

  #format(options: unknown): NetworkFormat {
    const format = v.opt(v.options(options, 'options'), 'format') ?? 'auto';
    const f = v.oneOf(format, 'options.format', ['seed', 'v2', 'v3', 'auto'] as const);
    return f === 'auto' ? this.preferredFormat : f;
  }

  /** The network as file bytes. */
  async toBuffer(options?: SaveOptions): Promise<Buffer> {
    const state = v.opt(v.options(options, 'options'), 'trainerState');
    if (state !== undefined) {
      if (!(state instanceof Uint8Array) || state.length === 0) throw v.typeError('options.trainerState', 'a non-empty Uint8Array', state);
      const format = v.opt(v.options(options, 'options'), 'format');
      if (format !== undefined && format !== 'v3' && format !== 'auto') {
        throw v.valueError('options.format', "'v3' (only v3 holds a trainer state)", format);
      }
      return this.#native.encodeCheckpoint(v.attached(state, 'options.trainerState'));
    }
    return this.#native.encode(this.#format(options));
  }

  /** Saves to a file atomically: readers see the old file or the new one, never a torn one. */
  async save(file: string, options?: SaveOptions): Promise<void> {
    v.path(file, 'path');
    await saveTarget(file); // refuse a device, folder or missing folder before encoding
    if (v.opt(v.options(options, 'options'), 'trainerState') !== undefined) {
      await writeFileAtomic(file, await this.toBuffer(options));
      return;
    }
    // Encoded and written in one native job: no buffer of the file's size
    // reaches JavaScript (see native/addon/file_write.cc).
    const format = this.#format(options);
    await writeFileAtomic(file, (temp) => this.#native.encode(format, temp));
  }

  /** Classifies one example. */
  async infer(input: Input, options?: RunOptions): Promise<InferResult> {
    const array = toInputArray(input, this.#shape[0], 'input');
    // One example runs on one thread whatever `threads` says (it is still checked).
    const r = await this.#native.infer(array, options === undefined ? { threads: 1, kernels: defaultKernels() } : runOptions(options));
    return { label: r.label, scores: r.scores, kind: this.outputKind };
  }

  /** Classifies many examples (a Dataset, an array of inputs, or one flat array of rows). */
  async inferBatch(inputs: Dataset | readonly Input[] | Float32Array | Uint8Array, options?: RunOptions): Promise<InferResult[]> {
    const size = this.#shape[0];
    let data: Dataset;
    if (inputs instanceof Dataset) {
      data = inputs;
    } else if (inputs instanceof Float32Array || inputs instanceof Uint8Array) {
      data = Dataset.from({ inputs: v.attached(inputs, 'inputs'), inputSize: size });
    } else if (Array.isArray(inputs)) {
      // A plain loop, failing at the first hole or bad row: a huge sparse
      // array must not be walked (or converted) before it is refused.
      const rows: Array<Float32Array | Uint8Array | Uint8ClampedArray> = [];
      for (let i = 0; i < inputs.length; i++) {
        if (!(i in inputs)) throw v.typeError(`inputs[${i}]`, 'an input (the array has a hole there)', undefined);
        rows.push(toInputArray(inputs[i], size, `inputs[${i}]`));
      }
      const allBytes = rows.every((r) => !(r instanceof Float32Array));
      const flat = allBytes ? new Uint8Array(rows.length * size) : new Float32Array(rows.length * size);
      rows.forEach((r, i) => {
        if (allBytes || r instanceof Float32Array) flat.set(r, i * size);
        else for (let j = 0; j < size; j++) flat[i * size + j] = r[j] / 255;
      });
      data = Dataset.from({ inputs: flat, inputSize: size });
    } else {
      throw v.typeError('inputs', 'a Dataset, an array of inputs, or a Float32Array/Uint8Array of rows', inputs);
    }
    if (data.inputSize !== size) {
      throw hdrnnError(ErrorCodes.SHAPE_MISMATCH, `inputs have ${data.inputSize} values each but the network takes ${size}`);
    }
    const { labels, scores, outputs } = await this.#native.inferBatch(data.toNative(), runOptions(options));
    const results: InferResult[] = new Array(labels.length);
    const kind = this.outputKind;
    for (let i = 0; i < labels.length; i++) {
      results[i] = { label: labels[i], scores: scores.subarray(i * outputs, (i + 1) * outputs), kind };
    }
    return results;
  }

  /** Accuracy, cost and confusion matrix on a labelled dataset. */
  async evaluate(data: Dataset, options?: RunOptions): Promise<Evaluation> {
    if (!(data instanceof Dataset)) throw v.typeError('data', 'a Dataset', data);
    const r = await this.#native.evaluate(data.toNative(), runOptions(options));
    const confusion: number[][] = [];
    for (let i = 0; i < r.outputs; i++) {
      confusion.push(r.confusion ? Array.from(r.confusion.subarray(i * r.outputs, (i + 1) * r.outputs)) : []);
    }
    const result: Evaluation = { correct: r.correct, total: r.total, accuracy: r.total > 0 ? r.correct / r.total : 0, loss: r.loss, confusion };
    if (r.rmse !== undefined) {
      result.rmse = r.rmse;
      result.mae = r.mae;
    }
    return result;
  }

  /**
   * The network as an ONNX model (opset 13; see lib/onnx.ts for the graph and
   * for what ONNX cannot hold). Class names go into metadata_props.
   */
  async toOnnx(): Promise<Buffer> {
    const { weights, biases } = await this.getParameters();
    const bytes = encodeOnnx(
      {
        shape: this.#shape,
        weights,
        biases,
        activations: this.activations,
        standardization: this.standardization,
        classes: this.classes,
        loss: this.loss,
      },
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      (require('../package.json') as { version: string }).version,
    );
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** A copy of the weights and biases, layer by layer. */
  async getParameters(): Promise<Parameters> {
    return this.#native.parameters();
  }

  /** Trains on data with mini-batch SGD; resolves with a report per epoch. */
  train(data: Dataset, options?: TrainOptions): Promise<TrainReport> {
    return new Promise<TrainReport>((resolve, reject) => {
      if (!(data instanceof Dataset)) throw v.typeError('data', 'a Dataset', data);
      const o = v.options(options, 'options');
      const run = runOptions(o, 'options', true);
      const num = (key: string, fallback: number, check: (x: unknown, name: string) => number) => {
        const x = v.opt(o, key);
        return x === undefined ? fallback : check(x, `options.${key}`);
      };
      const epochs = num('epochs', 30, (x, n) => v.integer(x, n, 1, 1_000_000));
      const batchSize = num('batchSize', 10, (x, n) => v.integer(x, n, 1, 10_000_000));
      const learningRate = num('learningRate', 3, (x, n) => v.positive(x, n, 1e6));
      // Trained in float32: a rate that rounds to 0 there (1e-50) is out of range too.
      if (Math.fround(learningRate) <= 0) throw v.rangeError('options.learningRate', 'a number above 0 that a float32 can hold (at least 1.5e-45)', learningRate);
      const priority = v.opt(o, 'priority') === undefined ? 'normal' : v.oneOf(v.opt(o, 'priority'), 'options.priority', ['normal', 'background'] as const);
      const shuffle = v.opt(o, 'shuffle') === undefined ? true : v.boolean(v.opt(o, 'shuffle'), 'options.shuffle');
      const seed = v.opt(o, 'seed') === undefined ? randomSeed() : v.seed(v.opt(o, 'seed'), 'options.seed');
      const algorithm = v.opt(o, 'algorithm') === undefined ? 'batched' : v.oneOf(v.opt(o, 'algorithm'), 'options.algorithm', ['batched', 'reference'] as const);
      const testData = v.opt(o, 'testData');
      if (testData !== undefined && !(testData instanceof Dataset)) throw v.typeError('options.testData', 'a Dataset', testData);
      const signal = v.signal(v.opt(o, 'signal'), 'options.signal');
      const onEpoch = v.callback<(r: EpochReport) => unknown>(v.opt(o, 'onEpoch'), 'options.onEpoch');
      // Validation, early stopping and checkpoints (train-control.ts): they
      // act at epoch boundaries, where the training thread waits for us.
      let validation = v.opt(o, 'validationData');
      if (validation !== undefined && !(validation instanceof Dataset)) throw v.typeError('options.validationData', 'a Dataset', validation);
      if (v.opt(o, 'validationSplit') !== undefined) {
        if (validation !== undefined) throw v.valueError('options.validationSplit', 'absent when validationData is given', v.opt(o, 'validationSplit'));
        ({ train: data, validation } = splitDataset(data, v.opt(o, 'validationSplit') as number, seed));
      }
      const validationData = validation as Dataset | undefined;
      const stopper = v.opt(o, 'earlyStopping') === undefined ? undefined : new EarlyStopper(v.opt(o, 'earlyStopping'), validationData !== undefined, testData !== undefined);
      const cp = v.opt(o, 'checkpoint') === undefined ? undefined : v.options(v.opt(o, 'checkpoint'), 'options.checkpoint');
      const checkpoint = cp && {
        path: v.path(v.opt(cp, 'path'), 'options.checkpoint.path'),
        every: v.opt(cp, 'every') === undefined ? 1 : v.integer(v.opt(cp, 'every'), 'options.checkpoint.every', 1, 1e6),
      };
      const evalRun: RunOptions = { ...(run.threads ? { threads: run.threads } : {}), ...(run.kernels ? { kernels: run.kernels as KernelName } : {}) };
      const waitEpochs = onEpoch !== undefined || validationData !== undefined || stopper !== undefined || checkpoint !== undefined;
      let stopped: TrainReport['stopped'];
      const keepStateAsked = v.opt(o, 'keepState') === true;
      const onProgress = v.callback<(p: BatchProgress) => void>(v.opt(o, 'onProgress'), 'options.onProgress');
      const extra = model.optimizerOptions(o);
      const batches = Math.ceil(data.count / Math.min(batchSize, Math.max(1, data.count)));
      const progressEvery =
        v.opt(o, 'progressEvery') !== undefined
          ? v.integer(v.opt(o, 'progressEvery'), 'options.progressEvery', 0, 1e9)
          : onProgress
            ? Math.max(1, Math.round(batches / 100))
            : 0;
      if (signal?.aborted) throw abortError(signal.reason);

      const reports: EpochReport[] = [];
      let lastState: Uint8Array | undefined;
      let settled = false;
      let callbackError: unknown;
      let handle: { abort(): void; answer(epoch: number, flags: number): void } | undefined;
      const onAbort = () => handle?.abort();
      const removeListener = () => {
        try {
          signal?.removeEventListener('abort', onAbort);
        } catch {
          /* a signal-like object that cannot remove listeners: nothing to undo */
        }
      };
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        removeListener();
        fn();
      };
      const call = <T>(fn: ((x: T) => void) | undefined, x: T) => {
        if (!fn || callbackError !== undefined) return;
        try {
          fn(x);
        } catch (error) {
          // A throwing callback stops the run and rejects with its error.
          callbackError = error;
          handle?.abort();
        }
      };
      const onEvent = (e: NativeTrainEvent) => {
        switch (e.type) {
          case 'batch':
            call(onProgress, { epoch: e.epoch, epochs, batch: e.batch, batches: e.batches, loss: e.loss, seconds: e.seconds });
            break;
          case 'epoch': {
            const report: EpochReport = { epoch: e.epoch, epochs, loss: e.loss, seconds: e.seconds, threads: e.threads ?? 1 };
            if (e.state !== undefined) report.state = lastState = e.state;
            const gate = async () => {
              // The training thread waits for answer(); every path below gives one.
              let flags = 0;
              try {
                if (validationData) {
                  const t0 = process.hrtime.bigint();
                  const r = await this.evaluate(validationData, evalRun);
                  report.validation = { correct: r.correct, total: r.total, accuracy: r.accuracy, loss: r.loss, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
                  if (r.rmse !== undefined) Object.assign(report.validation, { rmse: r.rmse, mae: r.mae });
                }
                reports.push(report);
                // Aborted meanwhile (the run has already settled): do not call back after the promise rejected.
                const said = onEpoch && !settled ? await onEpoch(report) : undefined;
                if (said === 'stop') {
                  flags |= GATE_STOP;
                  stopped = { epoch: e.epoch, by: 'onEpoch' };
                }
                if (stopper) {
                  const f = stopper.observe(report, e.epoch === epochs || (flags & GATE_STOP) !== 0);
                  if (f & GATE_STOP && !stopped) stopped = { epoch: e.epoch, by: 'earlyStopping' };
                  flags |= f;
                  if (stopped && stopper.restoreBest && stopper.bestEpoch !== e.epoch) flags |= 4; // GATE_RESTORE_BEST
                }
                if (checkpoint && (e.epoch % checkpoint.every === 0 || (flags & GATE_STOP) !== 0)) {
                  await this.save(checkpoint.path, report.state ? { trainerState: report.state } : undefined);
                }
                // Asked for by the checkpoint only: not kept in every report of a long run.
                if (checkpoint && !keepStateAsked) {
                  delete report.state;
                  lastState = undefined;
                }
              } catch (error) {
                if (callbackError === undefined) callbackError = error;
                handle?.abort();
              }
              handle?.answer(e.epoch, flags);
            };
            if (e.total !== undefined) {
              report.test = {
                correct: e.correct!,
                total: e.total,
                accuracy: e.total > 0 ? e.correct! / e.total : 0,
                loss: e.testLoss!,
                seconds: e.evalSeconds!,
              };
              if (e.testRmse !== undefined) {
                report.test.rmse = e.testRmse;
                report.test.mae = e.testMae;
              }
            }
            if (waitEpochs) {
              void gate();
              break;
            }
            reports.push(report);
            break;
          }
          case 'done': {
            const report: TrainReport = { epochs: reports, seconds: e.seconds };
            if (e.stopped && stopped) report.stopped = stopped;
            if (stopper && stopper.bestEpoch > 0) {
              const last = reports[reports.length - 1]?.epoch;
              report.best = { epoch: stopper.bestEpoch, metric: stopper.metric, value: stopper.bestValue, restored: stopper.restoreBest && stopper.bestEpoch !== last };
            }
            if (lastState !== undefined) report.state = lastState;
            if (callbackError !== undefined) finish(() => reject(callbackError));
            else if (e.aborted) finish(() => reject(abortError(signal?.reason, { report })));
            else finish(() => resolve(report));
            break;
          }
          case 'error':
            finish(() => reject(e.error));
            break;
        }
      };
      // Listen first: if the signal's addEventListener throws, nothing has started.
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        handle = this.#native.train(
          data.toNative(),
          testData instanceof Dataset ? testData.toNative() : null,
          { ...run, epochs, batchSize, learningRate, shuffle, seed, algorithm, progressEvery, waitEpochs, priority, ...extra, ...(checkpoint ? { keepState: true } : {}) },
          onEvent,
        );
      } catch (error) {
        removeListener();
        throw error;
      }
      if (signal?.aborted) handle.abort();
    });
  }

  // ---- Parameters as values (lib/parameters.ts): federated averaging and
  // the updates a fleet device sends.

  /** Replaces every weight and bias (the inverse of getParameters), validated; refused while training (ERR_HDRNN_BUSY). */
  async setParameters(params: Parameters): Promise<void> {
    await P.setParameters(this.#native, params);
  }

  /** A new network of `shape` holding `params` (the inverse of getParameters). */
  static async fromParameters(shape: readonly number[], params: Parameters, options?: Omit<NetworkOptions, 'shape'>): Promise<Network> {
    const net = new Network({ ...v.options(options, 'options'), shape, seed: 0 });
    await net.setParameters(params);
    return net;
  }

  /** A copy of this network (same shape and options, parameters copied between mini-batches). */
  async clone(): Promise<Network> {
    return Network.fromBuffer(await this.toBuffer(), { limits: { maxParameters: Math.max(2 ** 24, this.parameterCount) } });
  }

  /** this - base, layer by layer: the update a device trained from base sends. */
  async diff(base: Network): Promise<Parameters> {
    if (!(base instanceof Network)) throw v.typeError('base', 'a Network', base);
    if (!P.sameShape(this.#shape, base.shape)) {
      throw hdrnnError(ErrorCodes.SHAPE_MISMATCH, `base has shape [${base.shape.join(', ')}], this network [${this.#shape.join(', ')}]`);
    }
    const [mine, theirs] = await Promise.all([this.getParameters(), base.getParameters()]);
    return P.combine(mine, theirs, -1);
  }

  /** A new network: this one plus `delta` (as made by diff). */
  async apply(delta: Parameters): Promise<Network> {
    const d = P.unflatten(this.#shape, P.flatten(this.#shape, delta, 'delta'));
    const sum = P.combine(await this.getParameters(), d, 1);
    const out = await this.clone();
    await out.setParameters(sum); // refuses a sum that overflowed to Infinity
    return out;
  }

  /**
   * The weighted mean of every parameter (FedAvg; weights are usually the
   * example counts), or with `method` a robust coordinate-wise median or
   * trimmed mean, optionally clipping each entry's distance from `base`.
   * Computed in C off the JavaScript thread, in the entries' order, so the
   * result does not depend on thread count. Entries are networks or network
   * file bytes; all must have the same shape.
   */
  static async average(
    entries: ReadonlyArray<{ network: Network | Uint8Array; weight: number }>,
    options?: P.AverageOptions<Network>,
  ): Promise<Network> {
    if (!Array.isArray(entries)) throw v.typeError('entries', 'an array of { network, weight }', entries);
    if (entries.length === 0) throw v.valueError('entries', 'at least one entry', entries);
    if (entries.length > 1 << 20) throw hdrnnError(ErrorCodes.LIMIT, `${entries.length} entries, more than 2^20`);
    const weights = P.entryWeights(entries);
    const { method, trim, clipNorm } = P.averageOptions(options);
    const base = v.opt(v.options(options, 'options'), 'base');
    if (base !== undefined && !(base instanceof Network)) throw v.typeError('options.base', 'a Network', base);
    if (clipNorm > 0 && base === undefined) throw v.valueError('options.base', 'a base network (clipNorm needs one)', base);
    const nets = await Promise.all(
      entries.map(async (e, i) => {
        const n: unknown = (e as { network: unknown }).network;
        if (n instanceof Network) return n;
        if (!(n instanceof Uint8Array)) throw v.typeError(`entries[${i}].network`, 'a Network or network file bytes (Uint8Array)', n);
        v.attached(n, `entries[${i}].network`);
        if (n.length < 4096) return Network.fromBuffer(n);
        // Big files are parsed on a worker thread, from a native copy.
        const limits = resolveLimits(undefined);
        if (n.length > limits.maxFileBytes) throw hdrnnError(ErrorCodes.LIMIT, `entries[${i}].network has ${n.length} bytes, more than ${limits.maxFileBytes}`);
        const bytes = new native.NativeBytes(n.length);
        new Uint8Array(bytes.view()).set(n);
        const { network } = await native.NativeNetwork.decode(bytes, limits.native);
        return Network.#wrap(network);
      }),
    );
    nets.forEach((n, i) => {
      if (!P.sameShape(n.shape, nets[0].shape)) {
        throw hdrnnError(ErrorCodes.SHAPE_MISMATCH, `entries[${i}] has shape [${n.shape.join(', ')}], entries[0] [${nets[0].shape.join(', ')}]`);
      }
    });
    if (base !== undefined && !P.sameShape(base.shape, nets[0].shape)) {
      throw hdrnnError(ErrorCodes.SHAPE_MISMATCH, `options.base has shape [${base.shape.join(', ')}], the entries [${nets[0].shape.join(', ')}]`);
    }
    const out = await native.averageNetworks(
      nets.map((n) => n.#native),
      weights,
      { method, trim, clipNorm, base: base === undefined ? undefined : base.#native },
    );
    return Network.#wrap(out);
  }
}
