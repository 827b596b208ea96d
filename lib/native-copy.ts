/**
 * Moving a caller's arrays into native memory without stalling the
 * JavaScript thread. Native jobs never read a caller's ArrayBuffer (it can be
 * detached and freed under them, see native/addon/bytes.h), so values are
 * copied into native memory first. For a 64 MiB image, a single
 * `Uint8Array.set` into freshly allocated memory froze the event loop for
 * 10-20 ms (zero-filling, page faults and the copy).
 *
 * A copy is written once, as a generator of steps (allocate n bytes; take a
 * turn of the event loop), and run by one of two drivers: `runNow` does it
 * all at once (the synchronous Dataset.from), `runInTurns` allocates big
 * blocks on libuv's pool (already faulted in) and takes a turn between
 * slices of about 1 MiB, so timers and I/O run in between (Dataset.fromAsync,
 * decodePgm).
 */
import { native, type NativeBytes } from './binding';
import { codedError, ErrorCodes } from './errors';
import { isDetached, rangeError, typedKind, typedLength, typedWindow } from './validate';

/** Source bytes copied per turn of the event loop. */
const SLICE_BYTES = 1 << 20;

/** Values of a plain array (read one by one) per turn. */
export const VALUES_PER_TURN = 1 << 18;

/** Blocks up to this size are allocated (and zeroed) at once, on the JavaScript thread. */
const ALLOC_AT_ONCE = 256 << 10;

export type Values = Uint8Array | Uint8ClampedArray | Float32Array | Float64Array | readonly number[];

/** What a copy asks of its driver: native memory of n bytes, or (undefined) a turn of the event loop. */
export type Step = { alloc: number } | undefined;

export type Copy<T> = Generator<Step, T, NativeBytes | undefined>;

export function* alloc(n: number): Copy<NativeBytes> {
  const bytes = yield { alloc: n };
  return bytes!;
}

/**
 * Copies `length` values of `from` into `to`, slice by slice, yielding a
 * turn between slices. Before every slice a typed array is checked again
 * (it can be detached, or its resizable buffer shrunk, during a turn or the
 * allocation before the first), and it is read through its intrinsic
 * buffer and offset, never its own (overridable) getters. With `finite`,
 * every stored value must be finite (checked on our copy, as stored).
 */
export function* copyChecked(from: Values, to: Uint8Array | Float32Array, length: number, name: string, finite: boolean): Copy<void> {
  const typed = !Array.isArray(from);
  const real = typed ? typedKind(from) : undefined;
  const kind = real === 'Float64Array' ? Float64Array : real === 'Float32Array' ? Float32Array : Uint8Array;
  const perSlice = typed ? SLICE_BYTES / kind.BYTES_PER_ELEMENT : VALUES_PER_TURN;
  for (let at = 0; at < length; at += perSlice) {
    const n = Math.min(perSlice, length - at);
    if (at > 0) yield;
    if (typed && (isDetached(from as ArrayBufferView) || typedLength(from as ArrayBufferView) < length)) {
      throw codedError(TypeError, ErrorCodes.INVALID_ARG_VALUE, `${name} was detached or resized while it was being copied`);
    }
    to.set(typed ? typedWindow(from as ArrayBufferView, kind, at, n) : (from as readonly number[]).slice(at, at + n), at);
    if (finite) {
      for (let i = at; i < at + n; i++) {
        if (!Number.isFinite(to[i])) throw rangeError(`${name}[${i}]`, 'a finite number (as a float32)', (from as ArrayLike<number>)[i]);
      }
    }
  }
}

/** Runs a copy to its end at once. */
export function runNow<T>(g: Copy<T>): T {
  let r = g.next();
  while (!r.done) r = g.next(r.value ? new native.NativeBytes(r.value.alloc) : undefined);
  return r.value;
}

/** Runs a copy with turns of the event loop between its slices. */
export async function runInTurns<T>(g: Copy<T>): Promise<T> {
  let r = g.next();
  while (!r.done) {
    const step = r.value;
    let value: NativeBytes | undefined;
    if (step === undefined) await new Promise<void>((resolve) => setImmediate(resolve));
    else value = step.alloc <= ALLOC_AT_ONCE ? new native.NativeBytes(step.alloc) : await native.allocBytes(step.alloc);
    r = g.next(value);
  }
  return r.value;
}

/** A native copy of the bytes of `data`, in turns (see copyChecked). */
export function copyToNative(data: Uint8Array, name: string): Promise<NativeBytes> {
  return runInTurns(
    (function* () {
      const length = typedLength(data);
      const bytes = yield* alloc(length);
      yield* copyChecked(data, new Uint8Array(bytes.view()), length, name, false);
      return bytes;
    })(),
  );
}
