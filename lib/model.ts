/**
 * Model and optimizer options (issue 10): the names, their types and their
 * checks, shared by Network, the CLI and the top-level train(). The addon
 * checks everything again.
 */
import { hdrnnError, ErrorCodes } from './errors';
import * as v from './validate';

export const ACTIVATIONS = ['sigmoid', 'tanh', 'relu', 'linear', 'softmax'] as const;
/** Activation of a layer; 'softmax' only on the output layer. */
export type Activation = (typeof ACTIVATIONS)[number];
export const HIDDEN_ACTIVATIONS = ['sigmoid', 'tanh', 'relu'] as const;
export type HiddenActivation = (typeof HIDDEN_ACTIVATIONS)[number];
export const OUTPUT_ACTIVATIONS = ['sigmoid', 'softmax', 'linear'] as const;
export type OutputActivation = (typeof OUTPUT_ACTIVATIONS)[number];
export const LOSSES = ['quadratic', 'cross-entropy'] as const;
export type Loss = (typeof LOSSES)[number];
export const INITS = ['normal', 'xavier', 'he'] as const;
export type Init = (typeof INITS)[number];
export const OPTIMIZERS = ['sgd', 'momentum', 'adam'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** What the outputs are: 'probabilities' (softmax), 'scores' (sigmoid, each in (0, 1)), 'values' (linear, tanh, relu). */
export type OutputKind = 'probabilities' | 'scores' | 'values';

export interface OptimizerOptions {
  type: OptimizerName;
  /** momentum: mu (default 0.9). */
  momentum?: number;
  /** adam: default 0.9 and 0.999. */
  beta1?: number;
  beta2?: number;
  /** adam: default 1e-8. */
  epsilon?: number;
}

export type Schedule =
  /** eta * factor^floor(epoch / every) (epoch counted from 0). */
  | { type: 'step'; every: number; factor: number }
  /**
   * minLearningRate + (eta - minLearningRate)(1 + cos(pi * epoch / epochs)) / 2, epochs: the
   * whole run's length (default this run's epochs, plus the epochs a `resume` state has done).
   */
  | { type: 'cosine'; minLearningRate?: number; epochs?: number };

export interface ModelSpec {
  activations: Activation[];
  loss: Loss;
  init: Init;
}

/** The activations of each non-input layer from the Network options. */
export function resolveModel(o: Record<string, unknown>, layers: number, name = 'options'): ModelSpec {
  const list = v.opt(o, 'activations');
  let activations: Activation[];
  if (list !== undefined) {
    if (!Array.isArray(list)) throw v.typeError(`${name}.activations`, 'an array of activation names', list);
    if (list.length !== layers) {
      throw v.rangeError(`${name}.activations length`, `one per layer after the input (${layers})`, list.length);
    }
    activations = [];
    for (let i = 0; i < layers; i++) activations.push(v.oneOf(list[i], `${name}.activations[${i}]`, ACTIVATIONS));
  } else {
    const hidden = v.opt(o, 'activation') === undefined ? 'sigmoid' : v.oneOf(v.opt(o, 'activation'), `${name}.activation`, HIDDEN_ACTIVATIONS);
    const output = v.opt(o, 'output') === undefined ? 'sigmoid' : v.oneOf(v.opt(o, 'output'), `${name}.output`, OUTPUT_ACTIVATIONS);
    activations = [...Array<Activation>(layers - 1).fill(hidden), output];
  }
  activations.forEach((a, i) => {
    if (a === 'softmax' && i !== layers - 1) {
      throw v.valueError(`${name}.activations[${i}]`, "not 'softmax' (softmax is for the output layer only)", a);
    }
  });
  const loss = v.opt(o, 'loss') === undefined ? 'quadratic' : v.oneOf(v.opt(o, 'loss'), `${name}.loss`, LOSSES);
  const init = v.opt(o, 'init') === undefined ? 'normal' : v.oneOf(v.opt(o, 'init'), `${name}.init`, INITS);
  const out = activations[layers - 1];
  if (loss === 'cross-entropy' && out !== 'softmax' && out !== 'sigmoid') {
    throw v.valueError(`${name}.loss`, `'quadratic' with a ${out} output ('cross-entropy' needs a softmax or sigmoid output)`, loss);
  }
  return { activations, loss, init };
}

export function outputKind(activations: readonly Activation[]): OutputKind {
  const out = activations[activations.length - 1];
  return out === 'softmax' ? 'probabilities' : out === 'sigmoid' ? 'scores' : 'values';
}

const unit = (x: unknown, name: string): number => {
  if (typeof x !== 'number') throw v.typeError(name, 'a number', x);
  if (!Number.isFinite(x) || x < 0 || x >= 1) throw v.rangeError(name, 'a number in [0, 1)', x);
  return x;
};

/** The optimizer, weightDecay and schedule train options as the addon takes them. */
export function optimizerOptions(o: Record<string, unknown>, name = 'options'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const spec = v.opt(o, 'optimizer');
  if (spec !== undefined) {
    const s = typeof spec === 'string' ? { type: spec } : v.options(spec, `${name}.optimizer`);
    const type = v.oneOf(v.opt(s, 'type'), `${name}.optimizer${typeof spec === 'string' ? '' : '.type'}`, OPTIMIZERS);
    const opt: Record<string, unknown> = { type };
    for (const key of ['momentum', 'beta1', 'beta2'] as const) {
      if (v.opt(s, key) !== undefined) opt[key] = unit(v.opt(s, key), `${name}.optimizer.${key}`);
    }
    if (v.opt(s, 'epsilon') !== undefined) opt.epsilon = v.positive(v.opt(s, 'epsilon'), `${name}.optimizer.epsilon`, 1);
    out.optimizer = opt;
  }
  const decay = v.opt(o, 'weightDecay');
  if (decay !== undefined) {
    if (typeof decay !== 'number') throw v.typeError(`${name}.weightDecay`, 'a number', decay);
    if (!Number.isFinite(decay) || decay < 0 || decay > 1e6) throw v.rangeError(`${name}.weightDecay`, 'a finite number from 0 to 1e6', decay);
    out.weightDecay = decay;
  }
  const schedule = v.opt(o, 'schedule');
  if (schedule !== undefined) {
    const s = v.options(schedule, `${name}.schedule`);
    const type = v.oneOf(v.opt(s, 'type'), `${name}.schedule.type`, ['step', 'cosine'] as const);
    if (type === 'step') {
      out.schedule = {
        type,
        every: v.integer(v.opt(s, 'every'), `${name}.schedule.every`, 1, 1e6),
        factor: v.positive(v.opt(s, 'factor'), `${name}.schedule.factor`, 1e6),
      };
    } else {
      const min = v.opt(s, 'minLearningRate');
      if (min !== undefined && (typeof min !== 'number' || !Number.isFinite(min) || min < 0 || min > 1e6)) {
        throw v.rangeError(`${name}.schedule.minLearningRate`, 'a finite number from 0 to 1e6', min);
      }
      const total = v.opt(s, 'epochs');
      out.schedule = { type, minLearningRate: min ?? 0, ...(total === undefined ? {} : { epochs: v.integer(total, `${name}.schedule.epochs`, 1, 1e6) }) };
    }
  }
  const resume = v.opt(o, 'resume');
  if (resume !== undefined) {
    if (!(resume instanceof Uint8Array)) throw v.typeError(`${name}.resume`, 'a Uint8Array (a trainer state from keepState)', resume);
    out.resume = v.attached(resume, `${name}.resume`);
  }
  const keep = v.opt(o, 'keepState');
  if (keep !== undefined) out.keepState = v.boolean(keep, `${name}.keepState`);
  return out;
}

/** Class names: non-empty strings of at most 255 UTF-8 bytes, no NUL. */
export function classNames(names: unknown, outputs: number, name = 'classes'): string[] {
  if (!Array.isArray(names)) throw v.typeError(name, 'an array of strings', names);
  if (names.length !== outputs) throw hdrnnError(ErrorCodes.SHAPE_MISMATCH, `${name} has ${names.length} names but the network has ${outputs} outputs`);
  const out: string[] = [];
  for (let i = 0; i < names.length; i++) {
    const n = names[i];
    if (typeof n !== 'string') throw v.typeError(`${name}[${i}]`, 'a string', n);
    const bytes = Buffer.byteLength(n, 'utf8');
    if (bytes === 0 || bytes > 255 || n.includes('\0') || Buffer.from(n, 'utf8').toString('utf8') !== n) {
      throw v.valueError(`${name}[${i}]`, 'a well-formed string of 1 to 255 UTF-8 bytes without NUL', n);
    }
    out.push(n);
  }
  return out;
}
