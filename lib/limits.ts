/**
 * Caps on what a file or a caller can make this package allocate. Each is
 * checked before allocating; raise them explicitly for bigger work.
 */
import { integer, options, opt } from './validate';
import type { NativeLimits } from './binding';

export interface Limits {
  /** Weights and biases of one network. Default 2^24 (64 MiB of floats). */
  maxParameters?: number;
  /** Layer sizes in a shape, input and output included. Default 257 (what the seed format can hold). */
  maxLayers?: number;
  /** Neurons in one layer. Default 2^20. */
  maxLayerSize?: number;
  /** Images or labels in one IDX file. Default 2^24. */
  maxItems?: number;
  /** Pixels in one PGM image or one IDX image. Default 2^24 (a 4096x4096 image: 64 MiB of floats). */
  maxPixels?: number;
  /** Bytes of any one file read (after gunzip). Default 2^27 (128 MiB: MNIST's largest file is 47 MB, the largest default network 64 MiB). */
  maxFileBytes?: number;
  /**
   * Bytes of working memory one evaluation, inference, training run or
   * decoded image may allocate (workspaces, scores, confusion matrix,
   * pixels), checked before allocating. Default 2^28 (256 MiB), sized for a
   * 1 GB device. A network keeps the value it was created or loaded with.
   */
  maxWorkingBytes?: number;
}

export const DEFAULT_MAX_FILE_BYTES = 2 ** 27;
export const DEFAULT_MAX_ITEMS = 2 ** 24;
export const DEFAULT_MAX_PIXELS = 2 ** 24;
export const DEFAULT_MAX_WORKING_BYTES = 2 ** 28;

export interface ResolvedLimits {
  native: NativeLimits;
  maxFileBytes: number;
}

export function resolveLimits(value: unknown, name = 'limits'): ResolvedLimits {
  const o = options(value, name);
  const native: NativeLimits = {};
  const big = Number.MAX_SAFE_INTEGER;
  const pick = (key: keyof NativeLimits, min: number, max: number) => {
    const v = opt(o, key);
    if (v !== undefined) native[key] = integer(v, `${name}.${key}`, min, max);
  };
  pick('maxParameters', 1, big);
  pick('maxLayers', 2, 2 ** 32 - 1);
  pick('maxLayerSize', 1, 2 ** 32 - 1);
  pick('maxItems', 1, big);
  pick('maxPixels', 1, big);
  pick('maxWorkingBytes', 1, big);
  const fileBytes = opt(o, 'maxFileBytes');
  return {
    native,
    maxFileBytes: fileBytes === undefined ? DEFAULT_MAX_FILE_BYTES : integer(fileBytes, `${name}.maxFileBytes`, 1, 2 ** 32 - 1),
  };
}
