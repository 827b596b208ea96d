/**
 * Parameters as values: setting them, building a network from them,
 * differences between networks (the updates a fleet device sends) and
 * federated averaging. Network (network.ts) exposes these as
 * `net.setParameters`, `Network.fromParameters`, `net.diff`, `net.apply`
 * and `Network.average`; the averaging itself runs in C on a worker thread.
 */
import { native, type NativeNetwork } from './binding';
import { ErrorCodes, hdrnnError } from './errors';
import * as v from './validate';

/** Per layer: weights [out][in] row-major, and biases. A delta has the same form. */
export interface ParameterSet {
  weights: Float32Array[];
  biases: Float32Array[];
}

export type AverageMethod = 'mean' | 'median' | 'trimmed-mean';

export interface AverageOptions<N> {
  /** 'mean' (default: FedAvg, weighted by `weight`), 'median' or 'trimmed-mean' (robust; each entry counts once). */
  method?: AverageMethod;
  /** Trimmed mean: fraction dropped at each end, 0 <= trim < 0.5; default 0.1. */
  trim?: number;
  /** > 0: every entry's distance from `base` is first scaled down to at most this L2 norm. */
  clipNorm?: number;
  /** The model the entries were trained from (needed by clipNorm). */
  base?: N;
}

/** Parameter count per layer of a shape: [weights, biases]. */
export function layerSizes(shape: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let l = 0; l + 1 < shape.length; l++) out.push([shape[l] * shape[l + 1], shape[l + 1]]);
  return out;
}

/**
 * One flat Float32Array in the core's order (each layer's weights then its
 * biases), after checking every layer's length and that every value is finite.
 */
export function flatten(shape: readonly number[], params: unknown, name = 'params'): Float32Array {
  const o = v.options(params, name);
  const weights = v.opt(o, 'weights');
  const biases = v.opt(o, 'biases');
  const sizes = layerSizes(shape);
  for (const [key, list] of [['weights', weights], ['biases', biases]] as const) {
    if (!Array.isArray(list)) throw v.typeError(`${name}.${key}`, 'an array of Float32Array, one per layer', list);
    if (list.length !== sizes.length) {
      throw hdrnnError(ErrorCodes.SHAPE_MISMATCH, `${name}.${key} has ${list.length} layers but the shape [${shape.join(', ')}] has ${sizes.length}`);
    }
  }
  const total = sizes.reduce((s, [w, b]) => s + w + b, 0);
  const flat = new Float32Array(total);
  let at = 0;
  sizes.forEach(([w, b], l) => {
    for (const [key, list, n] of [['weights', weights, w], ['biases', biases, b]] as const) {
      const a = (list as unknown[])[l];
      const label = `${name}.${key}[${l}]`;
      if (!(a instanceof Float32Array || a instanceof Float64Array)) throw v.typeError(label, 'a Float32Array', a);
      v.attached(a, label);
      if (a.length !== n) throw hdrnnError(ErrorCodes.SHAPE_MISMATCH, `${label} has ${a.length} values, the shape needs ${n}`);
      flat.set(a, at);
      for (let i = at; i < at + n; i++) {
        if (!Number.isFinite(flat[i])) throw v.rangeError(`${label}[${i - at}]`, 'a finite number (as a float32)', flat[i]);
      }
      at += n;
    }
  });
  return flat;
}

/** The inverse of flatten. */
export function unflatten(shape: readonly number[], flat: Float32Array): ParameterSet {
  const out: ParameterSet = { weights: [], biases: [] };
  let at = 0;
  for (const [w, b] of layerSizes(shape)) {
    out.weights.push(flat.slice(at, at + w));
    at += w;
    out.biases.push(flat.slice(at, at + b));
    at += b;
  }
  return out;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export async function setParameters(net: NativeNetwork, params: unknown): Promise<void> {
  await native.setParameters(net, flatten(net.shape, params));
}

/** a - b (or a + b with sign 1), layer by layer, as float32. */
export function combine(a: ParameterSet, b: ParameterSet, sign: 1 | -1): ParameterSet {
  const op = (x: Float32Array, y: Float32Array) => {
    const r = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) r[i] = x[i] + sign * y[i];
    return r;
  };
  return { weights: a.weights.map((w, l) => op(w, b.weights[l])), biases: a.biases.map((w, l) => op(w, b.biases[l])) };
}

/** L2 norm of a parameter set (a delta's size). */
export function norm(p: ParameterSet): number {
  let sq = 0;
  for (const list of [p.weights, p.biases]) for (const a of list) for (let i = 0; i < a.length; i++) sq += a[i] * a[i];
  return Math.sqrt(sq);
}

export function averageOptions(value: unknown): { method: AverageMethod; trim: number; clipNorm: number } {
  const o = v.options(value, 'options');
  const method = v.opt(o, 'method') === undefined ? 'mean' : v.oneOf(v.opt(o, 'method'), 'options.method', ['mean', 'median', 'trimmed-mean'] as const);
  const trimValue = v.opt(o, 'trim');
  let trim = 0.1;
  if (trimValue !== undefined) {
    if (typeof trimValue !== 'number') throw v.typeError('options.trim', 'a number', trimValue);
    if (!(trimValue >= 0 && trimValue < 0.5)) throw v.rangeError('options.trim', 'a fraction from 0 to below 0.5', trimValue);
    trim = trimValue;
  }
  const clipValue = v.opt(o, 'clipNorm');
  let clipNorm = 0;
  if (clipValue !== undefined) {
    if (typeof clipValue !== 'number') throw v.typeError('options.clipNorm', 'a number', clipValue);
    if (!(clipValue > 0) || !Number.isFinite(clipValue)) throw v.rangeError('options.clipNorm', 'a finite number > 0', clipValue);
    clipNorm = clipValue;
  }
  return { method, trim, clipNorm };
}

/** Entry weights as a Float64Array, each finite and >= 0, their sum > 0. */
export function entryWeights(entries: readonly unknown[]): Float64Array {
  const w = new Float64Array(entries.length);
  let total = 0;
  entries.forEach((e, i) => {
    const o = v.options(e, `entries[${i}]`);
    const x = v.opt(o, 'weight');
    if (typeof x !== 'number') throw v.typeError(`entries[${i}].weight`, 'a number', x);
    if (!Number.isFinite(x) || x < 0) throw v.rangeError(`entries[${i}].weight`, 'a finite number >= 0', x);
    w[i] = x;
    total += x;
  });
  if (!(total > 0)) throw hdrnnError(ErrorCodes.INVALID_ARGUMENT, 'the entries\' weights sum to zero: nothing to average');
  return w;
}
