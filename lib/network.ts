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
import { readFileNative, writeFileAtomic } from './files';
import { resolveLimits, type Limits } from './limits';
import type { GreyImage } from './pgm';
import * as v from './validate';

export type NetworkFormat = 'seed' | 'v2';
export type KernelName = v.KernelName;

export interface NetworkOptions {
  /** Layer sizes, input first, output last: [784, 32, 10] is the seed's default. */
  shape: readonly number[];
  /** Seed of the N(0, 1) initial weights and biases; random if absent. */
  seed?: number | bigint;
  limits?: Limits;
}

/** One example: bytes 0..255 (scaled by 1/255), floats used as they are, or an image from readPgm. */
export type Input = Float32Array | Float64Array | Uint8Array | Uint8ClampedArray | readonly number[] | GreyImage;

export interface InferResult {
  /** Index of the largest output (the first on ties). */
  label: number;
  /** The output activations, each in (0, 1). */
  scores: Float32Array;
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
  /** Mean quadratic cost 0.5 * |a - y|^2. */
  loss: number;
  /** confusion[actual][predicted]: counts. */
  confusion: number[][];
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
  test?: { correct: number; total: number; accuracy: number; loss: number; seconds: number };
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
  /** Called after every epoch. */
  onEpoch?: (report: EpochReport) => void;
  /** Called every `progressEvery` mini-batches. */
  onProgress?: (progress: BatchProgress) => void;
  /** Mini-batches between onProgress calls; default: about 1% of an epoch when onProgress is given. */
  progressEvery?: number;
  /** 'batched' (default: matrix kernels, threads) or 'reference' (the seed's per-example algorithm). */
  algorithm?: 'batched' | 'reference';
}

export interface TrainReport {
  epochs: EpochReport[];
  /** Wall time of the whole run, seconds. */
  seconds: number;
}

export interface SaveOptions {
  /**
   * 'seed': the original .nn format (784 inputs, 10 outputs, hidden layers of at most 255);
   * 'v2': any shape, with a CRC-32; 'auto' (default): seed when the shape fits, else v2.
   */
  format?: NetworkFormat | 'auto';
}

export interface Parameters {
  /** Per layer, the weights [out][in] row-major. */
  weights: Float32Array[];
  /** Per layer, the biases. */
  biases: Float32Array[];
}

const ADOPTED = new WeakMap<object, NativeNetwork>();


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

/** One input as a typed array the addon accepts. */
/** One input as a typed array the addon accepts; the length is checked before anything is converted. */
function toInputArray(input: unknown, size: number, name: string): Float32Array | Uint8Array | Uint8ClampedArray {
  const a: unknown = isImage(input) ? input.pixels : input;
  const array = Array.isArray(a);
  if (!(array || a instanceof Float64Array || a instanceof Float32Array || a instanceof Uint8Array || a instanceof Uint8ClampedArray)) {
    throw v.typeError(name, 'a Float32Array, Float64Array, Uint8Array, number[] or an image from readPgm', input);
  }
  if (!array) v.attached(a as ArrayBufferView, name);
  const length = (a as ArrayLike<unknown>).length;
  if (length !== size) {
    throw hdrnnError(ErrorCodes.SHAPE_MISMATCH, `${name} has ${length} values but the network takes ${size} inputs`);
  }
  let out: Float32Array | Uint8Array | Uint8ClampedArray;
  if (array) out = Float32Array.from(v.numbers(a as unknown[], name));
  else if (a instanceof Float64Array) out = Float32Array.from(a);
  else out = a as Float32Array | Uint8Array | Uint8ClampedArray;
  if (out instanceof Float32Array) {
    for (let i = 0; i < out.length; i++) {
      if (!Number.isFinite(out[i])) throw v.rangeError(`${name}[${i}]`, 'a finite number (as a float32)', out[i]);
    }
  }
  return out;
}

export class Network {
  readonly #native: NativeNetwork;
  readonly #shape: readonly number[];

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
      const o = v.options(opts, 'options');
      const shape = v.opt(o, 'shape');
      if (!Array.isArray(shape)) throw v.typeError('options.shape', 'an array of layer sizes like [784, 32, 10]', shape);
      if (shape.length < 2) throw v.rangeError('options.shape', 'at least 2 layer sizes (inputs and outputs)', shape.length);
      const limits = resolveLimits(v.opt(o, 'limits'), 'options.limits');
      const maxLayers = limits.native.maxLayers ?? 257;
      if (shape.length > maxLayers) {
        throw hdrnnError(ErrorCodes.LIMIT, `options.shape has ${shape.length} layers, more than the limit of ${maxLayers}`);
      }
      v.numbers(shape, 'options.shape').forEach((n, i) => v.integer(n, `options.shape[${i}]`, 1, 2 ** 32 - 1));
      const seedValue = v.opt(o, 'seed');
      const seed = seedValue === undefined ? randomSeed() : v.seed(seedValue, 'options.seed');
      this.#native = new native.NativeNetwork([...shape], seed, limits.native);
    }
    this.#shape = Object.freeze([...this.#native.shape]);
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

  /** True while a training run is using this network. */
  get training(): boolean {
    return this.#native.training;
  }

  /** The format 'auto' picks for this network: 'seed' when the shape fits it. */
  get preferredFormat(): NetworkFormat {
    const s = this.#shape;
    const fits = s[0] === 784 && s[s.length - 1] === 10 && s.length - 2 <= 255 && s.slice(1, -1).every((n) => n <= 255);
    return fits ? 'seed' : 'v2';
  }

  #format(options: unknown): NetworkFormat {
    const format = v.opt(v.options(options, 'options'), 'format') ?? 'auto';
    const f = v.oneOf(format, 'options.format', ['seed', 'v2', 'auto'] as const);
    return f === 'auto' ? this.preferredFormat : f;
  }

  /** The network as file bytes. */
  async toBuffer(options?: SaveOptions): Promise<Buffer> {
    return this.#native.encode(this.#format(options));
  }

  /** Saves to a file atomically: readers see the old file or the new one, never a torn one. */
  async save(file: string, options?: SaveOptions): Promise<void> {
    v.path(file, 'path');
    const bytes = await this.toBuffer(options);
    await writeFileAtomic(file, bytes);
  }

  /** Classifies one example. */
  async infer(input: Input, options?: RunOptions): Promise<InferResult> {
    const array = toInputArray(input, this.#shape[0], 'input');
    // One example runs on one thread whatever `threads` says (it is still checked).
    return this.#native.infer(array, options === undefined ? { threads: 1, kernels: defaultKernels() } : runOptions(options));
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
    for (let i = 0; i < labels.length; i++) {
      results[i] = { label: labels[i], scores: scores.subarray(i * outputs, (i + 1) * outputs) };
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
    return { correct: r.correct, total: r.total, accuracy: r.total > 0 ? r.correct / r.total : 0, loss: r.loss, confusion };
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
      const shuffle = v.opt(o, 'shuffle') === undefined ? true : v.boolean(v.opt(o, 'shuffle'), 'options.shuffle');
      const seed = v.opt(o, 'seed') === undefined ? randomSeed() : v.seed(v.opt(o, 'seed'), 'options.seed');
      const algorithm = v.opt(o, 'algorithm') === undefined ? 'batched' : v.oneOf(v.opt(o, 'algorithm'), 'options.algorithm', ['batched', 'reference'] as const);
      const testData = v.opt(o, 'testData');
      if (testData !== undefined && !(testData instanceof Dataset)) throw v.typeError('options.testData', 'a Dataset', testData);
      const signal = v.signal(v.opt(o, 'signal'), 'options.signal');
      const onEpoch = v.callback<(r: EpochReport) => void>(v.opt(o, 'onEpoch'), 'options.onEpoch');
      const onProgress = v.callback<(p: BatchProgress) => void>(v.opt(o, 'onProgress'), 'options.onProgress');
      const batches = Math.ceil(data.count / Math.min(batchSize, Math.max(1, data.count)));
      const progressEvery =
        v.opt(o, 'progressEvery') !== undefined
          ? v.integer(v.opt(o, 'progressEvery'), 'options.progressEvery', 0, 1e9)
          : onProgress
            ? Math.max(1, Math.round(batches / 100))
            : 0;
      if (signal?.aborted) throw abortError(signal.reason);

      const reports: EpochReport[] = [];
      let settled = false;
      let callbackError: unknown;
      let handle: { abort(): void } | undefined;
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
            if (e.total !== undefined) {
              report.test = {
                correct: e.correct!,
                total: e.total,
                accuracy: e.total > 0 ? e.correct! / e.total : 0,
                loss: e.testLoss!,
                seconds: e.evalSeconds!,
              };
            }
            reports.push(report);
            call(onEpoch, report);
            break;
          }
          case 'done': {
            const report: TrainReport = { epochs: reports, seconds: e.seconds };
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
          { ...run, epochs, batchSize, learningRate, shuffle, seed, algorithm, progressEvery },
          onEvent,
        );
      } catch (error) {
        removeListener();
        throw error;
      }
      if (signal?.aborted) handle.abort();
    });
  }
}
