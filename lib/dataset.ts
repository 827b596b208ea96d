/**
 * Datasets: examples (rows of input values) and their labels (class
 * indices), kept in native memory so that a training run on another thread
 * can read them for minutes whatever JavaScript does meanwhile. Bytes stay
 * bytes (MNIST is 47 MB, not 188 MB of floats) and are scaled by 1/255 as
 * each mini-batch is formed; floats are used as they are.
 */
import { native, type NativeBytes, type NativeDataset } from './binding';
import { ErrorCodes, hdrnnError } from './errors';
import type { CsvInfo } from './csv';
import { alloc, copyChecked, runInTurns, runNow, VALUES_PER_TURN, type Copy, type Values } from './native-copy';
import { attached, integer, numbers, options, opt, rangeError, typedLength, typeError } from './validate';

export type InputValues = Uint8Array | Float32Array;

export interface DatasetSource {
  /**
   * All examples one after another: `count * inputSize` values. Bytes
   * (Uint8Array, Uint8ClampedArray) are pixels 0..255, scaled by 1/255;
   * floats (Float32Array, Float64Array, number[]) are used as they are.
   */
  inputs: Uint8Array | Uint8ClampedArray | Float32Array | Float64Array | readonly number[];
  /** One class index per example (0 .. outputs-1). Needed to train and evaluate. */
  labels?: Uint8Array | Uint16Array | Uint32Array | Int32Array | readonly number[];
  /**
   * Regression: `count * targetSize` float targets (what the network should output for each
   * example), instead of labels.
   */
  targets?: Float32Array | Float64Array | readonly number[];
  /** Values per target; default 1 when targets are given. */
  targetSize?: number;
  /** Values per example; defaults to width * height. */
  inputSize?: number;
  /** For images: the width and height of each (informational; width*height must equal inputSize). */
  width?: number;
  height?: number;
}

interface Parts {
  inputs: NativeBytes;
  inputsOffset: number;
  inputType: 'u8' | 'f32';
  labels?: NativeBytes;
  labelsOffset: number;
  labelType: 'u8' | 'u32';
  count: number;
  inputSize: number;
  width?: number;
  height?: number;
  classes: number;
  classNames?: readonly string[] | null;
  csv?: CsvInfo;
  targets?: NativeBytes;
  targetsOffset?: number;
  targetSize?: number;
}

const MAX_ROWS = 2 ** 32 - 1;

function isFloat(a: unknown): a is Float32Array | Float64Array | readonly number[] {
  return a instanceof Float32Array || a instanceof Float64Array || Array.isArray(a);
}

export class Dataset {
  /** Number of examples. */
  readonly count: number;
  /** Values per example. */
  readonly inputSize: number;
  /** Image width and height when the examples are images (MNIST: 28 x 28). */
  readonly width: number | undefined;
  readonly height: number | undefined;
  /** 'u8' for bytes scaled by 1/255, 'f32' for floats used as they are. */
  readonly inputType: 'u8' | 'f32';
  /** One more than the largest label (0 without labels): the outputs a network needs. */
  readonly classes: number;
  /** The class names, index order, when known (a CSV's target column); else null. */
  readonly classNames: readonly string[] | null;
  /** Where the columns came from, for a dataset read by loadCsv. */
  readonly csv: CsvInfo | undefined;
  /** Values per target for regression data (0 for labelled or unlabelled data). */
  readonly targetSize: number;
  /** 'regression' when the examples have float targets, else 'classification'. */
  readonly task: 'classification' | 'regression';
  readonly #parts: Parts;
  #inputsView: InputValues | undefined;
  #labelsView: Uint8Array | Uint32Array | undefined;

  private constructor(parts: Parts) {
    this.#parts = parts;
    this.count = parts.count;
    this.inputSize = parts.inputSize;
    this.width = parts.width;
    this.height = parts.height;
    this.inputType = parts.inputType;
    this.classes = parts.classes;
    this.classNames = parts.classNames ? Object.freeze([...parts.classNames]) : null;
    this.csv = parts.csv;
    this.targetSize = parts.targets ? (parts.targetSize ?? 1) : 0;
    this.task = parts.targets ? 'regression' : 'classification';
    Object.freeze(this);
  }

  /**
   * A dataset from your own arrays. The values are copied into native memory
   * once, on the JavaScript thread, in one go (about 25 ms for 47 MB of
   * bytes); fromAsync does the same copy in slices.
   */
  static from(source: DatasetSource): Dataset {
    return runNow(build(source, (parts) => new Dataset(parts)));
  }

  /**
   * Dataset.from, for a service that must stay responsive: the same checks
   * and the same copy, in slices of about 1 MiB with a turn of the event
   * loop between them, into memory allocated off the JavaScript thread
   * (lib/native-copy.ts). An array detached or resized meanwhile is an
   * error (ERR_INVALID_ARG_VALUE), never a read of freed memory.
   */
  static async fromAsync(source: DatasetSource): Promise<Dataset> {
    return runInTurns(build(source, (parts) => new Dataset(parts)));
  }

  /**
   * @internal A dataset read by loadCsv: the inputs are already in native
   * memory (copied there once from the parser's blocks).
   */
  static fromCsv(p: {
    inputs: NativeBytes;
    inputSize: number;
    count: number;
    labels?: Uint8Array | Uint32Array;
    classNames?: readonly string[];
    targets?: Float32Array;
    targetSize?: number;
    csv: CsvInfo;
  }): Dataset {
    let targets: NativeBytes | undefined;
    if (p.targets !== undefined) {
      targets = new native.NativeBytes(p.targets.byteLength);
      new Float32Array(targets.view()).set(p.targets);
    }
    let labels: NativeBytes | undefined;
    if (p.labels) {
      labels = new native.NativeBytes(p.labels.byteLength);
      new Uint8Array(labels.view()).set(new Uint8Array(p.labels.buffer, p.labels.byteOffset, p.labels.byteLength));
    }
    return new Dataset({
      inputs: p.inputs,
      inputsOffset: 0,
      inputType: 'f32',
      labels,
      labelsOffset: 0,
      labelType: p.labels instanceof Uint32Array ? 'u32' : 'u8',
      count: p.count,
      inputSize: p.inputSize,
      classes: p.classNames?.length ?? 0,
      classNames: p.classNames,
      csv: p.csv,
      targets,
      targetsOffset: 0,
      targetSize: p.targetSize,
    });
  }

  /** @internal Wraps native memory read from a file (see mnist.ts). */
  static fromNative(parts: Parts): Dataset {
    return new Dataset(parts);
  }

  /** All input values, row after row: a view of the native memory (writes are seen by training). */
  get inputs(): InputValues {
    if (!this.#inputsView) {
      const p = this.#parts;
      const n = p.count * p.inputSize;
      this.#inputsView =
        p.inputType === 'u8'
          ? new Uint8Array(p.inputs.view(), p.inputsOffset, n)
          : new Float32Array(p.inputs.view(), p.inputsOffset, n);
    }
    return this.#inputsView;
  }

  /** The regression targets (a view of native memory, count * targetSize), or undefined. */
  get targets(): Float32Array | undefined {
    const p = this.#parts;
    if (!p.targets) return undefined;
    return new Float32Array(p.targets.view(), p.targetsOffset ?? 0, p.count * this.targetSize);
  }

  /**
   * Fits a per-input standardisation on this dataset: the mean and the (population) standard
   * deviation of each input (after bytes are scaled by 1/255), std floored at 1e-6. Runs off the
   * JavaScript thread. Give it to Network.setStandardization.
   */
  async standardize(): Promise<{ mean: Float32Array; std: Float32Array }> {
    return native.standardize(this.toNative());
  }

  /** The labels (a view of native memory), or undefined. */
  get labels(): Uint8Array | Uint32Array | undefined {
    const p = this.#parts;
    if (!p.labels) return undefined;
    if (!this.#labelsView) {
      this.#labelsView =
        p.labelType === 'u8'
          ? new Uint8Array(p.labels.view(), p.labelsOffset, p.count)
          : new Uint32Array(p.labels.view(), p.labelsOffset, p.count);
    }
    return this.#labelsView;
  }

  /** The values of example i (a view, not a copy). */
  input(i: number): InputValues {
    integer(i, 'index', 0, this.count - 1);
    return this.inputs.subarray(i * this.inputSize, (i + 1) * this.inputSize);
  }

  /** The label of example i. */
  label(i: number): number {
    integer(i, 'index', 0, this.count - 1);
    const labels = this.labels;
    if (!labels) throw typeError('dataset labels', 'present', undefined);
    return labels[i];
  }

  /** Examples [start, end) as a dataset sharing this one's memory (no copy). */
  slice(start = 0, end = this.count): Dataset {
    integer(start, 'start', 0, this.count);
    integer(end, 'end', start, this.count);
    const p = this.#parts;
    const valueBytes = p.inputType === 'u8' ? 1 : 4;
    const labelBytes = p.labelType === 'u8' ? 1 : 4;
    return new Dataset({
      ...p,
      inputsOffset: p.inputsOffset + start * p.inputSize * valueBytes,
      labelsOffset: p.labelsOffset + start * labelBytes,
      targetsOffset: (p.targetsOffset ?? 0) + start * this.targetSize * 4,
      count: end - start,
    });
  }

  /** @internal What the addon needs; it checks every field again. */
  toNative(): NativeDataset {
    const p = this.#parts;
    return {
      inputs: p.inputs,
      inputsOffset: p.inputsOffset,
      inputsType: p.inputType,
      labels: p.labels,
      labelsOffset: p.labelsOffset,
      labelsType: p.labelType,
      count: p.count,
      inputSize: p.inputSize,
      ...(p.targets ? { targets: p.targets, targetsOffset: p.targetsOffset ?? 0, targetSize: this.targetSize } : {}),
    };
  }
}

/** Checks a DatasetSource and copies it into native memory (a copy for runNow or runInTurns, native-copy.ts). */
function* build(source: DatasetSource, make: (parts: Parts) => Dataset): Copy<Dataset> {
  const o = options(source, 'source');
  const inputs = opt(o, 'inputs');
  const labels = opt(o, 'labels');
  const width = opt(o, 'width') === undefined ? undefined : integer(opt(o, 'width'), 'source.width', 1, 2 ** 31);
  const height = opt(o, 'height') === undefined ? undefined : integer(opt(o, 'height'), 'source.height', 1, 2 ** 31);
  let inputSize: number;
  if (opt(o, 'inputSize') !== undefined) {
    inputSize = integer(opt(o, 'inputSize'), 'source.inputSize', 1, 2 ** 32 - 1);
    if (width !== undefined && height !== undefined && width * height !== inputSize) {
      throw rangeError('source.width * source.height', `equal to inputSize (${inputSize})`, width * height);
    }
  } else if (width !== undefined && height !== undefined) {
    inputSize = width * height;
  } else {
    throw typeError('source.inputSize', 'a number (or give width and height)', undefined);
  }
  const bytes = inputs instanceof Uint8Array || inputs instanceof Uint8ClampedArray;
  if (!bytes && !isFloat(inputs)) {
    throw typeError('source.inputs', 'a Uint8Array, Uint8ClampedArray, Float32Array, Float64Array or number[]', inputs);
  }
  if (Array.isArray(inputs)) numbers(inputs, 'source.inputs');
  else attached(inputs as ArrayBufferView, 'source.inputs');
  const length = Array.isArray(inputs) ? inputs.length : typedLength(inputs as ArrayBufferView);
  if (length % inputSize !== 0) {
    throw rangeError('source.inputs length', `a multiple of inputSize (${inputSize})`, length);
  }
  const count = length / inputSize;
  if (count > MAX_ROWS) throw rangeError('number of examples', `at most ${MAX_ROWS}`, count);

  const inputBytes = yield* alloc(bytes ? length : length * 4);
  const inputView = bytes ? new Uint8Array(inputBytes.view()) : new Float32Array(inputBytes.view());
  yield* copyChecked(inputs as Values, inputView, length, 'source.inputs', !bytes);

  const targets = opt(o, 'targets');
  let targetBytes: NativeBytes | undefined;
  let targetSize: number | undefined;
  if (targets !== undefined) {
    if (labels !== undefined) throw typeError('source.labels', 'absent when targets are given (one or the other)', labels);
    if (!isFloat(targets)) throw typeError('source.targets', 'a Float32Array, Float64Array or number[]', targets);
    if (Array.isArray(targets)) numbers(targets, 'source.targets');
    else attached(targets as ArrayBufferView, 'source.targets');
    targetSize = opt(o, 'targetSize') === undefined ? 1 : integer(opt(o, 'targetSize'), 'source.targetSize', 1, 2 ** 20);
    const tl = (targets as ArrayLike<number>).length;
    if (tl !== count * targetSize) {
      throw rangeError('source.targets length', `count * targetSize (${count} * ${targetSize})`, tl);
    }
    targetBytes = yield* alloc(tl * 4);
    yield* copyChecked(targets as Values, new Float32Array(targetBytes.view()), tl, 'source.targets', true);
  } else if (opt(o, 'targetSize') !== undefined) {
    throw typeError('source.targets', 'present when targetSize is given', undefined);
  }

  let labelBytes: NativeBytes | undefined;
  let labelType: 'u8' | 'u32' = 'u8';
  let classes = 0;
  if (labels !== undefined) {
    const okType =
      labels instanceof Uint8Array || labels instanceof Uint16Array || labels instanceof Uint32Array ||
      labels instanceof Int32Array || Array.isArray(labels);
    if (!okType) throw typeError('source.labels', 'a Uint8Array, Uint16Array, Uint32Array, Int32Array or number[]', labels);
    if (!Array.isArray(labels)) attached(labels as ArrayBufferView, 'source.labels');
    const listLength = Array.isArray(labels) ? labels.length : typedLength(labels as ArrayBufferView);
    if (listLength !== count) throw rangeError('source.labels length', `the number of examples (${count})`, listLength);
    // Each label is read exactly once, into our own copy, and only the copy
    // is checked and stored: a getter on a number[] cannot pass the check
    // with one value and then hand over another.
    const source = labels as ArrayLike<unknown>;
    const list = new Float64Array(count);
    let max = -1;
    for (let i = 0; i < count; i++) {
      if (i > 0 && i % VALUES_PER_TURN === 0) yield;
      const v = source[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2 ** 32 - 2) {
        throw rangeError(`source.labels[${i}]`, 'an integer class index from 0', v);
      }
      list[i] = v;
      if (v > max) max = v;
    }
    classes = max + 1;
    labelType = max < 256 ? 'u8' : 'u32';
    labelBytes = yield* alloc(count * (labelType === 'u8' ? 1 : 4));
    if (labelType === 'u8') new Uint8Array(labelBytes.view()).set(list);
    else new Uint32Array(labelBytes.view()).set(list);
  }
  return make({
    inputs: inputBytes,
    inputsOffset: 0,
    inputType: bytes ? 'u8' : 'f32',
    labels: labelBytes,
    labelsOffset: 0,
    labelType,
    count,
    inputSize,
    width,
    height,
    classes,
    targets: targetBytes,
    targetsOffset: 0,
    targetSize,
  });
}

/** Same as Dataset.from(source). */
export function createDataset(source: DatasetSource): Dataset {
  return Dataset.from(source);
}
