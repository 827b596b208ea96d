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
  evalSeconds?: number;
  epochsDone?: number;
  aborted?: boolean;
  error?: Error;
}

export interface NativeEvaluation {
  correct: number;
  total: number;
  loss: number;
  outputs: number;
  confusion?: Float64Array;
}

export interface NativeNetwork {
  readonly shape: number[];
  readonly parameterCount: number;
  readonly training: boolean;
  encode(format: 'seed' | 'v2'): Promise<Buffer>;
  infer(input: Float32Array | Uint8Array | Uint8ClampedArray, options: NativeRunOptions): Promise<{ label: number; scores: Float32Array }>;
  inferBatch(inputs: NativeDataset, options: NativeRunOptions): Promise<{ labels: Uint32Array; scores: Float32Array; outputs: number }>;
  evaluate(data: NativeDataset, options: NativeRunOptions): Promise<NativeEvaluation>;
  parameters(): Promise<{ weights: Float32Array[]; biases: Float32Array[] }>;
  train(data: NativeDataset, test: NativeDataset | null, options: NativeTrainOptions, onEvent: (event: NativeTrainEvent) => void): { abort(): void };
}

export interface NativeNetworkConstructor {
  new (shape: number[], seed: bigint, limits?: NativeLimits): NativeNetwork;
  fromBuffer(bytes: Uint8Array | ArrayBuffer, limits?: NativeLimits): { network: NativeNetwork; format: 'seed' | 'v2' };
  decode(bytes: NativeBytes, limits?: NativeLimits): Promise<{ network: NativeNetwork; format: 'seed' | 'v2' }>;
}

export interface NativeBinding {
  cpuCount(): number;
  kernels: { best: string; available: string[] };
  abiVersion: number;
  NativeBytes: new (byteLength: number) => NativeBytes;
  NativeNetwork: NativeNetworkConstructor;
  parseIdx(bytes: NativeBytes, kind: 'images', limits?: NativeLimits): { count: number; rows: number; cols: number; offset: number };
  parseIdx(bytes: NativeBytes, kind: 'labels', limits?: NativeLimits): { count: number; offset: number };
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
