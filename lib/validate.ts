/**
 * Argument checks shared by the API and the CLI. They run before anything
 * reaches native code and throw TypeError/RangeError with Node's codes; the
 * addon checks again, because it cannot trust that it is called from here.
 */
import { codedError, ErrorCodes } from './errors';

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return `an instance of ${(value as object).constructor?.name ?? 'Object'}`;
  return typeof value;
}

export function typeError(name: string, expected: string, value: unknown): TypeError {
  return codedError(TypeError, ErrorCodes.INVALID_ARG_TYPE, `${name} must be ${expected}, got ${describe(value)}`);
}

export function rangeError(name: string, expected: string, value: unknown): RangeError {
  return codedError(RangeError, ErrorCodes.OUT_OF_RANGE, `${name} must be ${expected}, got ${describe(value)}`);
}

export function valueError(name: string, expected: string, value: unknown): TypeError {
  return codedError(TypeError, ErrorCodes.INVALID_ARG_VALUE, `${name} must be ${expected}, got ${describe(value)}`);
}

/** An integer in [min, max]. */
export function integer(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') throw typeError(name, 'a number', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw rangeError(name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

/** A finite number in (0, max]. */
export function positive(value: unknown, name: string, max: number): number {
  if (typeof value !== 'number') throw typeError(name, 'a number', value);
  if (!Number.isFinite(value) || value <= 0 || value > max) {
    throw rangeError(name, `a finite number above 0 and at most ${max}`, value);
  }
  return value;
}

export function boolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw typeError(name, 'a boolean', value);
  return value;
}

export function options(value: unknown, name: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw typeError(name, 'an object', value);
  return value as Record<string, unknown>;
}

/** Property `key` of a checked options object, if it is there at all. */
export function opt(o: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined;
}

const MAX_U64 = (1n << 64n) - 1n;

/** A seed: an integer 0..2^53-1 or a bigint 0..2^64-1. */
export function seed(value: unknown, name = 'seed'): bigint {
  if (typeof value === 'bigint') {
    if (value < 0n || value > MAX_U64) throw rangeError(name, 'a bigint from 0 to 2^64-1', value);
    return value;
  }
  return BigInt(integer(value, name, 0, Number.MAX_SAFE_INTEGER));
}

export const KERNEL_NAMES = ['best', 'portable', 'avx2', 'avx512', 'neon'] as const;
export type KernelName = (typeof KERNEL_NAMES)[number];

export function kernelName(value: unknown, name = 'kernels'): KernelName {
  if (typeof value !== 'string') throw typeError(name, 'a string', value);
  if (!(KERNEL_NAMES as readonly string[]).includes(value)) {
    throw valueError(name, `one of ${KERNEL_NAMES.map((k) => `'${k}'`).join(', ')}`, value);
  }
  return value as KernelName;
}

export function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (typeof value !== 'string') throw typeError(name, 'a string', value);
  if (!(allowed as readonly string[]).includes(value)) {
    throw valueError(name, `one of ${allowed.map((k) => `'${k}'`).join(', ')}`, value);
  }
  return value as T;
}

export function path(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw typeError(name, 'a non-empty string path', value);
  if (value.includes('\0')) throw valueError(name, 'a path without NUL bytes', value);
  return value;
}

export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export function signal(value: unknown, name = 'signal'): AbortSignalLike | undefined {
  if (value === undefined) return undefined;
  const s = value as AbortSignalLike;
  if (
    value === null ||
    typeof value !== 'object' ||
    typeof s.aborted !== 'boolean' ||
    typeof s.addEventListener !== 'function' ||
    typeof s.removeEventListener !== 'function'
  ) {
    throw typeError(name, 'an AbortSignal', value);
  }
  return s;
}

export function callback<F extends (...args: never[]) => unknown>(value: unknown, name: string): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw typeError(name, 'a function', value);
  // A class is typeof 'function' but throws when called without new: refuse
  // it here, with a code, rather than mid-run with the engine's TypeError.
  if (/^class\b/.test(Function.prototype.toString.call(value))) throw typeError(name, 'a function (not a class)', value);
  return value as F;
}

// The built-in getters, not the object's own: a typed-array subclass can
// override `length` (4 bytes claiming 1,000 values) and a Proxy answers
// whatever its traps say. The intrinsic getters read the real internal slots
// and throw for anything that is not really a typed array.
const TYPED_ARRAY_PROTO = Object.getPrototypeOf(Uint8Array.prototype) as object;
const intrinsic = (proto: object, key: string) => Object.getOwnPropertyDescriptor(proto, key)!.get!;
const TYPED_LENGTH = intrinsic(TYPED_ARRAY_PROTO, 'length');
const TYPED_BUFFER = intrinsic(TYPED_ARRAY_PROTO, 'buffer');
const VIEW_BUFFER = intrinsic(DataView.prototype, 'buffer');
const TYPED_OFFSET = intrinsic(TYPED_ARRAY_PROTO, 'byteOffset');
const TYPED_NAME = Object.getOwnPropertyDescriptor(TYPED_ARRAY_PROTO, Symbol.toStringTag)!.get!;

/** The real kind of a typed array ('Float32Array', ...), from its internal slot, whatever its prototype says. */
export function typedKind(view: unknown): string | undefined {
  return Reflect.apply(TYPED_NAME, view, []) as string | undefined;
}

/**
 * Elements [at, at + n) of a typed array as a new plain view of `kind` on
 * the same memory, built from the intrinsic buffer and offset (a subclass's
 * own subarray or Symbol.species cannot hand back something else).
 */
export function typedWindow(
  view: ArrayBufferView,
  kind: Uint8ArrayConstructor | Float32ArrayConstructor | Float64ArrayConstructor,
  at: number,
  n: number,
): Uint8Array | Float32Array | Float64Array {
  const buffer = Reflect.apply(TYPED_BUFFER, view, []) as ArrayBuffer;
  const offset = Reflect.apply(TYPED_OFFSET, view, []) as number;
  return new kind(buffer, offset + at * kind.BYTES_PER_ELEMENT, n);
}

/** The real element count of a typed array (never its own `length` property). */
export function typedLength(view: ArrayBufferView): number {
  return Reflect.apply(TYPED_LENGTH, view, []) as number;
}

/** True when the typed array's buffer was transferred away (detached). */
export function isDetached(view: ArrayBufferView): boolean {
  const buffer = Reflect.apply(view instanceof DataView ? VIEW_BUFFER : TYPED_BUFFER, view, []) as ArrayBufferLike;
  try {
    // Constructing any view on a detached buffer throws.
    new Uint8Array(buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/**
 * Refuses what is not really a typed array (a Proxy of one, a look-alike)
 * and a typed array whose buffer was detached (transferred).
 */
export function attached<T extends ArrayBufferView>(view: T, name: string): T {
  if (!ArrayBuffer.isView(view)) {
    throw codedError(TypeError, ErrorCodes.INVALID_ARG_TYPE, `${name} must be a real typed array, not a Proxy or look-alike of one`);
  }
  if (isDetached(view)) {
    throw codedError(TypeError, ErrorCodes.INVALID_ARG_VALUE, `${name} is detached (its buffer was transferred)`);
  }
  return view;
}

/** Checks that every element of a plain array is a number (no holes, no bigint). */
export function numbers(list: readonly unknown[], name: string): readonly number[] {
  for (let i = 0; i < list.length; i++) {
    if (!(i in list)) throw typeError(`${name}[${i}]`, 'a number (the array has a hole there)', undefined);
    const v = list[i];
    if (typeof v !== 'number') throw typeError(`${name}[${i}]`, 'a number', v);
  }
  return list as readonly number[];
}
