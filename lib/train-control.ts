/**
 * Training control at epoch boundaries: a validation set (held out from the
 * training data or given), early stopping, checkpoints, and an onEpoch that
 * may answer 'stop'. The training thread waits at each boundary until this
 * has answered (the addon's epoch gate), so what it decides applies to
 * exactly that epoch's weights and nothing trains meanwhile.
 */
import { Dataset } from './dataset';
import { hdrnnError, ErrorCodes } from './errors';
import * as v from './validate';

export type StopMetric = 'loss' | 'val_loss' | 'val_accuracy' | 'test_loss' | 'test_accuracy';

export interface EarlyStopping {
  /** Epochs without improvement before stopping. */
  patience: number;
  /**
   * What must improve: 'val_loss' (default with validation data), 'val_accuracy',
   * 'test_loss' (default with only testData), 'test_accuracy', or 'loss' (the
   * training loss; default without either).
   */
  metric?: StopMetric;
  /** An improvement smaller than this does not count; default 0. */
  minDelta?: number;
  /** At the end, put back the weights of the best epoch; default false. */
  restoreBest?: boolean;
}

export interface CheckpointOptions {
  /** File written atomically: a v3 network file with the trainer state. */
  path: string;
  /** Epochs between writes; default 1. */
  every?: number;
}

/**
 * The epochs a trainer state (EpochReport.state, a checkpoint's trainerState)
 * has begun: its bytes 8..11 (native/core/src/trainer_state.c), or undefined
 * when the bytes are not a trainer state.
 */
export function epochsInState(state: Uint8Array): number | undefined {
  if (state.length < 12 || state[0] !== 0x48 || state[1] !== 0x54 || state[2] !== 0x53 || state[3] !== 1) return undefined;
  return (state[8] | (state[9] << 8) | (state[10] << 16) | (state[11] << 24)) >>> 0;
}

/** The answer flags of the addon's epoch gate (train_job.h). */
export const GATE_STOP = 1;
export const GATE_KEEP_BEST = 2;
export const GATE_RESTORE_BEST = 4;

export interface Measured {
  epoch: number;
  loss: number;
  test?: { accuracy: number; loss: number };
  validation?: { accuracy: number; loss: number };
}

/** Seeded permutation (splitmix64 steps, then Fisher-Yates): the same seed, the same split. */
function permutation(count: number, seed: bigint): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  let state = BigInt.asUintN(64, seed ^ 0x5eed5eedn);
  const next = () => {
    state = BigInt.asUintN(64, state + 0x9e3779b97f4a7c15n);
    let z = state;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  };
  for (let i = count - 1; i > 0; i--) {
    const j = Number(next() % BigInt(i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Rows `rows` of data as a new dataset (a copy). */
function pick(data: Dataset, rows: Uint32Array): Dataset {
  const size = data.inputSize;
  const src = data.inputs;
  const inputs = src instanceof Uint8Array ? new Uint8Array(rows.length * size) : new Float32Array(rows.length * size);
  rows.forEach((r, i) => inputs.set(src.subarray(r * size, (r + 1) * size), i * size));
  const extra = data as unknown as { targets?: Float32Array; targetSize?: number };
  if (extra.targets !== undefined && extra.targetSize) {
    const t = extra.targetSize;
    const targets = new Float32Array(rows.length * t);
    rows.forEach((r, i) => targets.set(extra.targets!.subarray(r * t, (r + 1) * t), i * t));
    return (Dataset.from as (s: unknown) => Dataset)({ inputs, inputSize: size, targets, targetSize: t });
  }
  const labels = data.labels;
  if (!labels) throw hdrnnError(ErrorCodes.INVALID_ARGUMENT, 'validationSplit needs labelled data');
  const picked = labels instanceof Uint8Array ? new Uint8Array(rows.length) : new Uint32Array(rows.length);
  rows.forEach((r, i) => (picked[i] = labels[r]));
  return Dataset.from({ inputs, inputSize: size, labels: picked, width: data.width, height: data.height });
}

/**
 * Holds out `fraction` of the examples (at least one, at most all but one),
 * chosen by a permutation from `seed`: the same seed gives the same split.
 */
export function splitDataset(data: Dataset, fraction: number, seed: bigint): { train: Dataset; validation: Dataset } {
  if (!(data instanceof Dataset)) throw v.typeError('data', 'a Dataset', data);
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1)) throw v.rangeError('validationSplit', 'a fraction between 0 and 1', fraction);
  if (data.count < 2) throw hdrnnError(ErrorCodes.INVALID_ARGUMENT, 'validationSplit needs at least 2 examples');
  const held = Math.min(data.count - 1, Math.max(1, Math.round(data.count * fraction)));
  const order = permutation(data.count, seed);
  // Each part in the data's own order, so training without shuffle sees the file's order.
  const validation = order.slice(0, held).sort();
  const train = order.slice(held).sort();
  return { train: pick(data, train), validation: pick(data, validation) };
}

export class EarlyStopper {
  readonly patience: number;
  readonly metric: StopMetric;
  readonly minDelta: number;
  readonly restoreBest: boolean;
  best = Number.NaN;
  bestEpoch = 0;
  #waited = 0;

  constructor(value: unknown, hasValidation: boolean, hasTest: boolean) {
    const o = v.options(value, 'options.earlyStopping');
    this.patience = v.integer(v.opt(o, 'patience'), 'options.earlyStopping.patience', 0, 1e6);
    const metric = v.opt(o, 'metric');
    this.metric =
      metric === undefined
        ? hasValidation
          ? 'val_loss'
          : hasTest
            ? 'test_loss'
            : 'loss'
        : v.oneOf(metric, 'options.earlyStopping.metric', ['loss', 'val_loss', 'val_accuracy', 'test_loss', 'test_accuracy'] as const);
    if (this.metric.startsWith('val_') && !hasValidation) {
      throw v.valueError('options.earlyStopping.metric', "'loss' or a test_ metric without validationSplit or validationData", this.metric);
    }
    if (this.metric.startsWith('test_') && !hasTest) {
      throw v.valueError('options.earlyStopping.metric', 'a metric of data that is given (no testData)', this.metric);
    }
    const delta = v.opt(o, 'minDelta');
    this.minDelta = delta === undefined ? 0 : delta === 0 ? 0 : v.positive(delta, 'options.earlyStopping.minDelta', 1e30);
    this.restoreBest = v.opt(o, 'restoreBest') === undefined ? false : v.boolean(v.opt(o, 'restoreBest'), 'options.earlyStopping.restoreBest');
  }

  #value(r: Measured): number {
    switch (this.metric) {
      case 'loss':
        return r.loss;
      case 'val_loss':
        return r.validation!.loss;
      case 'val_accuracy':
        return -r.validation!.accuracy; // lower is better throughout
      case 'test_loss':
        return r.test!.loss;
      case 'test_accuracy':
        return -r.test!.accuracy;
    }
  }

  /** Gate flags for this epoch: keep it as the best, and stop (restoring the best) when patience runs out. */
  observe(r: Measured, last: boolean): number {
    const x = this.#value(r);
    let flags = 0;
    if (Number.isNaN(this.best) || x < this.best - this.minDelta) {
      this.best = x;
      this.bestEpoch = r.epoch;
      this.#waited = 0;
      if (this.restoreBest) flags |= GATE_KEEP_BEST;
    } else {
      this.#waited++;
    }
    const stop = this.#waited > 0 && this.#waited >= this.patience;
    if (stop) flags |= GATE_STOP;
    if ((stop || last) && this.restoreBest && this.bestEpoch !== r.epoch) flags |= GATE_RESTORE_BEST;
    return flags;
  }

  /** The best value as the metric reads (accuracies positive again). */
  get bestValue(): number {
    return this.metric.endsWith('accuracy') ? -this.best : this.best;
  }
}
