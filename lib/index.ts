/**
 * hdrnn-native: train and run the HDR-NN (a fully connected sigmoid
 * network, mini-batch SGD, quadratic cost) natively from Node.js.
 *
 *   import { Network, train, infer, loadMnist } from 'hdrnn-native';
 */
import { native } from './binding';
import { Dataset } from './dataset';
import { Network, type InferResult, type Input, type TrainOptions, type RunOptions } from './network';
import * as v from './validate';

export { Dataset, createDataset, type DatasetSource, type InputValues } from './dataset';
export { ErrorCodes, type ErrorCode } from './errors';
export type { Limits } from './limits';
export { loadMnist, loadIdx, defaultMnistDir, type Mnist, type LoadMnistOptions } from './mnist';
export {
  Network,
  type BatchProgress,
  type Checkpoint,
  type Standardization,
  type EpochReport,
  type Evaluation,
  type InferResult,
  type Input,
  type KernelName,
  type NetworkFormat,
  type NetworkOptions,
  type Parameters,
  type RunOptions,
  type SaveOptions,
  type TrainOptions,
  type TrainReport,
} from './network';
export { type AverageMethod, type AverageOptions, type ParameterSet } from './parameters';
export * as fleet from './fleet/index';
export { FleetAggregator, FleetDevice, type AggregatorOptions, type DeviceOptions, type RoundReport, type Rejection, type UpdateEncoding } from './fleet/index';
export type { Activation, HiddenActivation, Init, Loss, OptimizerName, OptimizerOptions, OutputActivation, OutputKind, Schedule } from './model';
export { readPgm, decodePgm, encodePgm, imageToText, type GreyImage, type ReadPgmOptions } from './pgm';

/** The package version. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const version: string = (require('../package.json') as { version: string }).version;

/** The kernel set in use: 'avx512', 'avx2', 'neon' or 'portable' ($HDRNN_KERNELS overrides the best one). */
export const kernels: string = (() => {
  const forced = process.env.HDRNN_KERNELS;
  if (forced && forced !== 'best' && native.kernels.available.includes(forced)) return forced;
  return native.kernels.best;
})();

/** Kernel sets this CPU can run. */
export const availableKernels: readonly string[] = Object.freeze([...native.kernels.available]);

export interface TrainNetworkOptions extends TrainOptions {
  /** Full shape [inputs, ...hidden, outputs]; default [data.inputSize, ...hidden, max(10, data.classes)]. */
  shape?: readonly number[];
  /** Hidden layer sizes when no shape is given; default [32]. */
  hidden?: readonly number[];
  /** Seed of the initial weights and of the shuffle: the same seed, data and options give the same network. */
  seed?: number | bigint;
}

/**
 * Creates a network for `data` and trains it: the seed's `train` command as
 * a function. Resolves with the trained network.
 */
export async function train(data: Dataset, options?: TrainNetworkOptions): Promise<Network> {
  if (!(data instanceof Dataset)) throw v.typeError('data', 'a Dataset', data);
  const o = v.options(options, 'options');
  let shape = v.opt(o, 'shape') as readonly number[] | undefined;
  if (shape === undefined) {
    const hidden = v.opt(o, 'hidden') ?? [32];
    if (!Array.isArray(hidden)) throw v.typeError('options.hidden', 'an array of layer sizes', hidden);
    // Checked before it is copied: a huge (sparse) array must not be spread.
    if (hidden.length > 255) throw v.rangeError('options.hidden', 'at most 255 layer sizes', hidden.length);
    v.numbers(hidden, 'options.hidden');
    shape = [data.inputSize, ...(hidden as number[]), Math.max(10, data.classes)];
  }
  const seed = v.opt(o, 'seed') as number | bigint | undefined;
  const net = new Network({ shape, seed });
  const { shape: _s, hidden: _h, ...trainOptions } = o as TrainNetworkOptions;
  void _s;
  void _h;
  await net.train(data, trainOptions);
  return net;
}

/** Classifies one example with net: the seed's `infer` command as a function. */
export async function infer(net: Network, input: Input, options?: RunOptions): Promise<InferResult> {
  if (!(net instanceof Network)) throw v.typeError('net', 'a Network', net);
  return net.infer(input, options);
}

/** Number of CPUs the native core sees (the default thread count follows os.availableParallelism()). */
export function cpuCount(): number {
  return native.cpuCount();
}
