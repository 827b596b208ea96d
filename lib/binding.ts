/**
 * The native addon, loaded once per thread through node-gyp-build: a
 * matching prebuild from `prebuilds/` when there is one, else the local
 * `build/Release` made by node-gyp (or cmake-js). Internal: the public API
 * is in network.ts, dataset.ts and friends.
 */
import * as path from 'node:path';
import { ErrorCodes, hdrnnError } from './errors';

/** Native memory that JavaScript fills and native work reads (see native/addon/bytes.h). */
export interface NativeBytes {
  readonly byteLength: number;
  view(): ArrayBuffer;
}

export interface NativeLimits {
  maxParameters?: number;
  maxLayers?: number;
  maxLayerSize?: number;
  maxItems?: number;
  maxPixels?: number;
  maxWorkingBytes?: number;
}

/** What native code needs to see a dataset; every field is checked there again. */
export interface NativeDataset {
  inputs: NativeBytes;
  inputsOffset: number;
  inputsType: 'u8' | 'f32';
  labels?: NativeBytes;
  labelsOffset: number;
  labelsType: 'u8' | 'u32';
  count: number;
  inputSize: number;
  /** Regression: float32 targets instead of labels. */
  targets?: NativeBytes;
  targetsOffset?: number;
  targetSize?: number;
}

export interface NativeRunOptions {
  threads?: number;
  kernels?: string;
}

export interface NativeTrainOptions extends NativeRunOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  shuffle: boolean;
  seed: bigint;
  algorithm: 'batched' | 'reference';
  progressEvery: number;
  /** Wait at each epoch boundary for answer() (train-control.ts). */
  waitEpochs?: boolean;
  optimizer?: { type: string; momentum?: number; beta1?: number; beta2?: number; epsilon?: number };
  weightDecay?: number;
  schedule?: { type: 'step'; every: number; factor: number } | { type: 'cosine'; minLearningRate: number; epochs?: number };
  resume?: Uint8Array;
  keepState?: boolean;
  priority?: 'normal' | 'background';
}

export interface NativeTrainEvent {
  type: 'batch' | 'epoch' | 'done' | 'error';
  epoch: number;
  batch: number;
  batches: number;
  loss: number;
  seconds: number;
  threads?: number;
  correct?: number;
  total?: number;
  testLoss?: number;
  testRmse?: number;
  testMae?: number;
  evalSeconds?: number;
  epochsDone?: number;
  aborted?: boolean;
  /** Ended by an answer with the stop flag. */
  stopped?: boolean;
  error?: Error;
  state?: Uint8Array;
}

export interface NativeEvaluation {
  correct: number;
  total: number;
  loss: number;
  outputs: number;
  confusion?: Float64Array;
  rmse?: number;
  mae?: number;
}

export interface NativeNetwork {
  readonly shape: number[];
  readonly parameterCount: number;
  readonly training: boolean;
  readonly activations: string[];
  readonly loss: string;
  setStandardization(mean: Float32Array | null, std: Float32Array | null): void;
  standardization(): { mean: Float32Array; std: Float32Array } | null;
  setClasses(names: string[] | null): void;
  classes(): string[] | null;
  encodeCheckpoint(trainerState: Uint8Array): Promise<Buffer>;
  encode(format: 'seed' | 'v2' | 'v3'): Promise<Buffer>;
  /** Encodes and writes the new file `path` (O_EXCL, fsynced) in one job. */
  encode(format: 'seed' | 'v2' | 'v3', path: string): Promise<void>;
  readonly disposed: boolean;
  dispose(): void;
  initWeights(): Promise<void>;
  infer(input: Float32Array | Uint8Array | Uint8ClampedArray, options: NativeRunOptions): Promise<{ label: number; scores: Float32Array }>;
  inferBatch(inputs: NativeDataset, options: NativeRunOptions): Promise<{ labels: Uint32Array; scores: Float32Array; outputs: number }>;
  evaluate(data: NativeDataset, options: NativeRunOptions): Promise<NativeEvaluation>;
  parameters(): Promise<{ weights: Float32Array[]; biases: Float32Array[] }>;
  train(data: NativeDataset, test: NativeDataset | null, options: NativeTrainOptions, onEvent: (event: NativeTrainEvent) => void): { abort(): void; answer(epoch: number, flags: number): void };
}

export interface NativeNetworkConstructor {
  /** With deferInit the weights are set by initWeights(), on libuv's pool; until then other methods refuse (ERR_HDRNN_BUSY). */
  new (shape: number[], seed: bigint, limits?: NativeLimits, model?: { activations: string[]; loss: string; init: string }, deferInit?: boolean): NativeNetwork;
  fromBuffer(bytes: Uint8Array | ArrayBuffer, limits?: NativeLimits): { network: NativeNetwork; format: 'seed' | 'v2' | 'v3'; trainerState?: Buffer };
  decode(bytes: NativeBytes, limits?: NativeLimits): Promise<{ network: NativeNetwork; format: 'seed' | 'v2' | 'v3'; trainerState?: Buffer }>;
}

export interface NativeBinding {
  cpuCount(): number;
  /** The calling thread's CPU time in ns (CLOCK_THREAD_CPUTIME_ID); for tests and benchmarks. */
  threadCpuTime(): number;
  kernels: { best: string; available: string[] };
  abiVersion: number;
  NativeBytes: new (byteLength: number) => NativeBytes;
  /** byteLength zeroed bytes, allocated (and their pages faulted in) on libuv's pool. */
  allocBytes(byteLength: number): Promise<NativeBytes>;
  NativeNetwork: NativeNetworkConstructor;
  parseIdx(bytes: NativeBytes, kind: 'images', limits?: NativeLimits): { count: number; rows: number; cols: number; offset: number };
  parseIdx(bytes: NativeBytes, kind: 'labels', limits?: NativeLimits): { count: number; offset: number };
  averageNetworks(
    networks: NativeNetwork[],
    weights: Float64Array,
    options: { method: 'mean' | 'median' | 'trimmed-mean'; trim: number; clipNorm: number; base?: NativeNetwork },
  ): Promise<NativeNetwork>;
  setParameters(network: NativeNetwork, values: Float32Array): Promise<void>;
  standardize(data: NativeDataset): Promise<{ mean: Float32Array; std: Float32Array }>;
  readFile(path: string, maxBytes: number): Promise<NativeBytes>;
  concatBytes(chunks: Uint8Array[]): Promise<NativeBytes>;
  /** Creates `path` (O_EXCL), writes all of `data`, fsyncs and closes it, on libuv's pool. */
  writeNewFile(path: string, data: NativeBytes | Uint8Array, mode: number): Promise<void>;
  decodePgm(bytes: NativeBytes, limits?: NativeLimits): Promise<{ width: number; height: number; maxval: number; binary: boolean; pixels: Float32Array }>;
}

/** The package root: lib/ (sources, under vitest) and dist/ (compiled) both sit one level down. */
export const packageRoot = path.resolve(__dirname, '..');

// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = require('node-gyp-build') as (dir: string) => unknown;

/**
 * The addon, or an Error saying in one line which prebuilds exist and what
 * this machine lacks (scripts/install.cjs), with node-gyp-build's own error
 * as its `cause`.
 */
function loadNative(): NativeBinding {
  try {
    return load(packageRoot) as NativeBinding;
  } catch (cause) {
    let message = String((cause as Error)?.message ?? cause);
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const install = require(path.join(packageRoot, 'scripts', 'install.cjs')) as { explain(e: unknown): string };
      const loaded = /loaded from|No native build was found/.test(message) ? null : cause;
      message = install.explain(loaded);
    } catch {
      // keep node-gyp-build's message
    }
    throw hdrnnError(ErrorCodes.NO_BINARY, message, { cause });
  }
}

export const native = loadNative();
