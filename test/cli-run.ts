/**
 * Runs the `hdrnn` command line in this process with its output captured:
 * the same `main` the bin calls, with stdout and stderr as strings.
 */
import { Writable } from 'node:stream';

import { main } from '../lib/cli';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

export async function runCli(...args: string[]): Promise<CliRun> {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, cb) {
        f(chunk.toString());
        cb();
      },
    });
  const code = await main(args, { out: sink((s) => (out += s)), err: sink((s) => (err += s)) });
  return { code, out, err };
}
