/**
 * Runs the `hdrnn` command line in this process with its output captured:
 * the same `main` the bin calls, with stdout and stderr as strings.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
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

/**
 * Runs the built bin (dist/cli.js) as a child process and sends it SIGINT
 * once its stdout has shown `Epoch 2:`: how a user's Ctrl-C lands mid-run.
 */
export async function interruptAfterEpoch2(args: readonly string[]): Promise<{ code: number | null; out: string; err: string }> {
  const bin = path.resolve(__dirname, '..', 'dist', 'cli.js');
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (/Epoch 2:/.test(out) && !child.killed) child.kill('SIGINT');
    });
    child.on('exit', (c) => resolve(c));
  });
  return { code, out, err };
}
