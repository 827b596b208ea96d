/**
 * hdrnn-native: train and run the HDR-NN (a fully connected sigmoid
 * network, mini-batch SGD, quadratic cost) natively from Node.js.
 *
 *   import { Network, train, infer, loadMnist } from 'hdrnn-native';
 */
import { native } from './binding';
import { Dataset } from './dataset';
import { Network, type InferResult, type Input, type NetworkOptions, type TrainOptions, type RunOptions } from './network';
import { randomBytes } from 'node:crypto';

import { ErrorCodes, hdrnnError } from './errors';
import { splitDataset } from './train-control';
import * as v from './validate';

export { Dataset, createDataset, type DatasetSource, type InputValues } from './dataset';
export { ErrorCodes, type ErrorCode } from './errors';
export { encodeOnnx, type OnnxModel } from './onnx';
export { loadCsv, parseCsv, type CsvOptions, type CsvInfo, type CsvLimits, type CsvTask } from './csv';
export type { Limits } from './limits';
export { loadMnist, loadMnistTest, loadIdx, defaultMnistDir, type Mnist, type LoadMnistOptions } from './mnist';
export { saveTarget as checkSavePath } from './files';
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
export type { Activation, HiddenActivation, Init, Loss, OptimizerName, OptimizerOptions, OutputActivation, OutputKind, Schedule } from './model';
export { type AverageMethod, type AverageOptions, type ParameterSet } from './parameters';
export * as fleet from './fleet/index';
export { FleetAggregator, FleetDevice, type AggregatorOptions, type DeviceOptions, type RoundReport, type Rejection, type UpdateEncoding } from './fleet/index';
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

/** The fastest kernel set this CPU runs (what `kernels: 'best'` uses, whatever $HDRNN_KERNELS says). */
export const bestKernels: string = native.kernels.best;

/** Kernel sets this CPU can run. */
export const availableKernels: readonly string[] = Object.freeze([...native.kernels.available]);

export interface TrainNetworkOptions
  extends TrainOptions,
    Pick<NetworkOptions, 'activation' | 'output' | 'activations' | 'loss' | 'init'> {
  /**
   * Fit a standardisation of the inputs on `data` (Dataset.standardize) and
   * store it in the network, so that inference on raw values scales them the
   * same way; default false.
   */
  standardize?: boolean;
  /**
   * Full shape [inputs, ...hidden, outputs]; default [data.inputSize, ...hidden, outputs] with
   * outputs from the data: its classes (MNIST: 10), or its target width for regression.
   */
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
    // The outputs come from the data, never more: a 3-class CSV gets 3.
    const outputs = data.task === 'regression' ? data.targetSize : data.classes;
    if (!outputs) throw hdrnnError(ErrorCodes.INVALID_ARGUMENT, 'train() needs labelled data (or regression targets) to size the output layer');
    shape = [data.inputSize, ...(hidden as number[]), outputs];
  }
  const seed = v.opt(o, 'seed') as number | bigint | undefined;
  const { shape: _s, hidden: _h, activation, output, activations, loss, init, standardize, ...trainOptions } = o as TrainNetworkOptions;
  void _s;
  void _h;
  // Regression targets are values: a linear output unless told otherwise.
  const out = output ?? (activations === undefined && data.task === 'regression' ? 'linear' : undefined);
  const model = Object.fromEntries(Object.entries({ activation, output: out, activations, loss, init }).filter(([, x]) => x !== undefined));
  const net = new Network({ shape, seed, ...model });
  if (data.classNames && data.classNames.length === net.shape[net.shape.length - 1]) net.setClasses(data.classNames);
  if (standardize !== undefined && v.boolean(standardize, 'options.standardize')) {
    // Fitted on the rows trained on: with validationSplit, hold them out first
    // (the same split net.train would make from the same seed).
    const split = trainOptions.validationSplit;
    if (split !== undefined && trainOptions.validationData === undefined) {
      const splitSeed = trainOptions.seed === undefined ? randomBytes(8).readBigUInt64LE() : v.seed(trainOptions.seed, 'options.seed');
      const parts = splitDataset(data, split, splitSeed);
      net.setStandardization(await parts.train.standardize());
      const { validationSplit: _v, ...rest } = trainOptions;
      void _v;
      await net.train(parts.train, { ...rest, seed: splitSeed, validationData: parts.validation });
      return net;
    }
    net.setStandardization(await data.standardize());
  }
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
