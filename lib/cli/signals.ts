/**
 * The command line under signals and closed pipes.
 *
 * SIGINT / SIGTERM during `train` abort the run within a mini-batch; the
 * caller then saves what was trained and exits 130 / 143 (128 + the signal
 * number, as shells expect). A stdout whose reader went away
 * (`hdrnn train | head -1`) gives EPIPE: the output is dropped from then
 * on and the run goes on to save its network, with no stack trace.
 */
export interface Interrupt {
  readonly signal: AbortSignal;
  /** The signal that arrived, if one did. */
  readonly received: () => NodeJS.Signals | undefined;
  dispose(): void;
}

const EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

export function exitCodeFor(signal: NodeJS.Signals): number {
  return EXIT[signal] ?? 1;
}

/** Turns SIGINT and SIGTERM into an abort while `train` runs. */
export function catchInterrupts(): Interrupt {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((name) => {
    const handler = () => {
      // A second signal while the first is being handled (saving): leave
      // now. The save is atomic, so this never leaves a torn file.
      if (received !== undefined) process.exit(exitCodeFor(name));
      received = name;
      controller.abort(new Error(`interrupted by ${name}`));
    };
    process.on(name, handler);
    return () => process.removeListener(name, handler);
  });
  return {
    signal: controller.signal,
    received: () => received,
    dispose: () => handlers.forEach((remove) => remove()),
  };
}

/**
 * A writable that survives its reader going away: after EPIPE (or a write
 * to the then destroyed stream) writes are silently dropped.
 */
export function survivePipeClose<S extends NodeJS.WritableStream>(stream: S): S {
  let closed = false;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') {
      closed = true;
      return;
    }
    throw error;
  });
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  (stream as unknown as { write: (...args: unknown[]) => boolean }).write = (...args: unknown[]) => (closed ? true : write(...args));
  return stream;
}
