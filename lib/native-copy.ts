/**
 * Moving a caller's array into native memory without stalling the
 * JavaScript thread. Native jobs never read a caller's ArrayBuffer (it can be
 * detached and freed under them, see native/addon/bytes.h), so bytes are
 * copied into native memory first. For a 64 MiB image, a single
 * `Uint8Array.set` into freshly allocated memory froze the event loop for
 * 10-20 ms (zero-filling, page faults and the copy); here the memory comes
 * from libuv's pool already faulted in, and the copy goes in slices small
 * enough (1 MiB, about a millisecond on a slow core) to let timers and I/O run between them.
 */
import { native, type NativeBytes } from './binding';
import { codedError, ErrorCodes } from './errors';

/** Bytes copied per turn of the event loop. */
const SLICE_BYTES = 1 << 20;

/** Arrays up to this size are copied at once (well under a millisecond). */
const AT_ONCE_BYTES = 256 << 10;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A native copy of `data`. The array is checked before every slice: one
 * detached (transferred) mid-copy is an error, never a read of freed memory.
 */
export async function copyToNative(data: Uint8Array, what: string): Promise<NativeBytes> {
  const length = data.byteLength;
  if (length <= AT_ONCE_BYTES) {
    const small = new native.NativeBytes(length);
    new Uint8Array(small.view()).set(data);
    return small;
  }
  const bytes = await native.allocBytes(length);
  const target = new Uint8Array(bytes.view());
  for (let at = 0; at < length; at += SLICE_BYTES) {
    if (at > 0) await nextTurn();
    if (data.byteLength !== length) {
      throw codedError(TypeError, ErrorCodes.INVALID_ARG_VALUE, `${what} was detached or resized while it was being copied`);
    }
    target.set(data.subarray(at, Math.min(length, at + SLICE_BYTES)), at);
  }
  return bytes;
}
