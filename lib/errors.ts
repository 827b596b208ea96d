/**
 * Errors: every error this package throws or rejects with carries a stable
 * `code`. Argument mistakes are TypeError/RangeError with Node's own codes;
 * everything else has an `ERR_HDRNN_*` code.
 */

/** The codes of errors raised by this package, besides Node's own (ENOENT...). */
export const ErrorCodes = {
  /** A value of the wrong type was passed (TypeError). */
  INVALID_ARG_TYPE: 'ERR_INVALID_ARG_TYPE',
  /** A number outside its allowed range, NaN or Infinity (RangeError). */
  OUT_OF_RANGE: 'ERR_OUT_OF_RANGE',
  /** A value of the right type but not allowed (e.g. an unknown format name). */
  INVALID_ARG_VALUE: 'ERR_INVALID_ARG_VALUE',
  /** Rejected by the native core as invalid (e.g. a NaN in an input). */
  INVALID_ARGUMENT: 'ERR_HDRNN_INVALID_ARGUMENT',
  /** A file is not valid: wrong magic, truncated, lying header, trailing bytes. */
  BAD_FILE: 'ERR_HDRNN_BAD_FILE',
  /** A v2 network file does not match its CRC-32: it is corrupted (or cut short). */
  CHECKSUM: 'ERR_HDRNN_CHECKSUM',
  /** Valid but not supported: a newer file version, or a shape the seed format cannot hold. */
  UNSUPPORTED: 'ERR_HDRNN_UNSUPPORTED',
  /** Data does not fit the network: input length, labels, output count. */
  SHAPE_MISMATCH: 'ERR_HDRNN_SHAPE_MISMATCH',
  /** A size is over a limit (parameters, layers, items, pixels, file bytes). */
  LIMIT: 'ERR_HDRNN_LIMIT',
  /** Memory could not be allocated. */
  OUT_OF_MEMORY: 'ERR_HDRNN_OUT_OF_MEMORY',
  /** Training made a weight NaN or infinite; the network keeps its weights from the start of that epoch. */
  DIVERGED: 'ERR_HDRNN_DIVERGED',
  /** The network is already training. */
  BUSY: 'ERR_HDRNN_BUSY',
  /** The operating system refused (e.g. a thread could not be started). */
  SYSTEM: 'ERR_HDRNN_SYSTEM',
  /** A data file's content cannot be used: a missing or non-numeric cell, no rows (the message names the row and column). */
  BAD_DATA: 'ERR_HDRNN_BAD_DATA',
  /** MNIST files were not found. */
  NO_DATA: 'ERR_HDRNN_NO_DATA',
  /** save() was pointed at something that is not a regular file (a device, folder, FIFO): it is never replaced. */
  NOT_REGULAR_FILE: 'ERR_HDRNN_NOT_REGULAR_FILE',
  /** The network was disposed (net.dispose()); it can no longer be used. */
  DISPOSED: 'ERR_HDRNN_DISPOSED',
  /** A native run was cancelled (an evaluation stopped by an abort). */
  CANCELLED: 'ERR_HDRNN_CANCELLED',
  /** The native addon does not load here: no prebuild fits (the message says what is missing) and none was built. */
  NO_BINARY: 'ERR_HDRNN_NO_BINARY',
  /** An operation was stopped by its AbortSignal (name 'AbortError'). */
  ABORTED: 'ABORT_ERR',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** An Error with a `code`, of the given class. */
export function codedError<E extends Error>(
  Kind: new (message: string) => E,
  code: ErrorCode,
  message: string,
  extra?: Record<string, unknown>,
): E & { code: ErrorCode } {
  const error = new Kind(message) as E & { code: ErrorCode };
  Object.defineProperty(error, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  if (extra) Object.assign(error, extra);
  return error;
}

export function hdrnnError(code: ErrorCode, message: string, extra?: Record<string, unknown>): Error & { code: ErrorCode } {
  return codedError(Error, code, message, extra);
}

/** The error an aborted operation rejects with, as Node's own APIs do. */
export function abortError(reason: unknown, extra?: Record<string, unknown>): Error & { code: ErrorCode } {
  const error = codedError(Error, ErrorCodes.ABORTED, 'The operation was aborted', { cause: reason, ...extra });
  error.name = 'AbortError';
  return error;
}
