// hdrnn train --checkpoint / --resume: an interrupted run continued from its
// checkpoint ends with exactly the weights of an uninterrupted one, on MNIST
// (the seed's format for -n, the state in the checkpoint) and on a CSV file.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { interruptAfterEpoch2 } from './cli-run';
import { Network, tempDir } from './helpers';
import { SEATTLE, SEATTLE_FEATURES } from './vega';

const bin = path.resolve(__dirname, '..', 'dist', 'cli.js');
const tmp = tempDir();
afterAll(() => tmp.cleanup());
const file = (name: string) => path.join(tmp.dir, name);
const hdrnn = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });

it('MNIST: SIGINT with --checkpoint, then --resume, gives the uninterrupted run bit for bit', async () => {
  const common = ['train', '-e', '40', '--limit', '2000', '--seed', '7'];
  const whole = hdrnn(...common, '-n', file('whole.nn'));
  expect(whole.status, whole.stderr).toBe(0);

  const { code, err } = await interruptAfterEpoch2([...common, '--checkpoint', file('run.ckpt'), '-n', file('part.nn')]);
  expect(code).toBe(130);
  const m = /holds epoch (\d+) with the trainer state \(--resume continues it\)/.exec(err);
  expect(m, err).not.toBeNull();
  const done = Number(m![1]);
  expect(done).toBeGreaterThanOrEqual(2);
  expect(done).toBeLessThan(40);

  const resumed = hdrnn(...common, '--resume', file('run.ckpt'), '-n', file('resumed.nn'));
  expect(resumed.status, resumed.stderr).toBe(0);
  expect(resumed.stdout).toContain(`Resuming ${file('run.ckpt')} after epoch ${done} of 40`);
  expect(resumed.stdout).toMatch(new RegExp(`Epoch ${done + 1}: `));
  expect(resumed.stdout).toMatch(/Epoch 40: /);
  expect(Buffer.compare(readFileSync(file('resumed.nn')), readFileSync(file('whole.nn')))).toBe(0);

  // A file without a trainer state, and a checkpoint that already has the epochs asked for.
  const plain = hdrnn(...common, '--resume', file('whole.nn'), '-n', file('x.nn'));
  expect(plain.status).toBe(2);
  expect(plain.stderr).toMatch(/holds no trainer state to resume/);
  const enough = hdrnn('train', '-e', String(done), '--limit', '2000', '--resume', file('run.ckpt'), '-n', file('x.nn'));
  expect(enough.status).toBe(2);
  expect(enough.stderr).toMatch(new RegExp(`has already trained ${done} epoch\\(s\\)`));
}, 120_000);

it('CSV: --checkpoint after 2 of 4 epochs, --resume to 4, gives the 4-epoch run (Adam moments, shuffle and standardisation kept)', async () => {
  const csv = ['train', '--csv', SEATTLE, '--target', 'weather', '--features', SEATTLE_FEATURES.join(','), '--seed', '3'];
  expect(hdrnn(...csv, '-e', '4', '-n', file('w4.nn')).status).toBe(0);
  expect(hdrnn(...csv, '-e', '2', '--checkpoint', file('w2.ckpt'), '-n', file('w2.nn')).status).toBe(0);
  const r = hdrnn(...csv, '-e', '4', '--resume', file('w2.ckpt'), '-n', file('w4r.nn'), '--json');
  expect(r.status, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout).epochs.map((e: { epoch: number }) => e.epoch)).toEqual([3, 4]);
  const [a, b] = await Promise.all([Network.load(file('w4.nn')), Network.load(file('w4r.nn'))]);
  expect(Buffer.compare(await a.toBuffer(), await b.toBuffer())).toBe(0);
  expect(b.classes).toEqual(['drizzle', 'fog', 'rain', 'snow', 'sun']);
});
