/**
 * A short run of scripts/soak.mjs (create / train / infer / evaluate / save /
 * load / fromBuffer / drop cycles with the garbage collector forced between
 * rounds) in a child process with --expose-gc: the resident set must stay
 * within the bound after the warm-up round, heapUsed and external memory
 * must not grow, nor open files and threads.
 *
 * A short run needs bigger leaks to show, so it uses 784-100-10 networks
 * (318 KB: above glibc's mmap threshold, so freed ones go back to the system
 * and the allocator's high-water noise is small: -6..+10 MB measured over
 * 300-2000 cycles) and a bound of 32 MB over 300 cycles after warm-up: a
 * leaked network per cycle would be 300 x 318 KB = 95 MB, a leak of 110 KB
 * per cycle 32 MB. HDRNN_SOAK_CYCLES sets the number of cycles (400).
 */
import { execSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..');
const CYCLES = Number(process.env.HDRNN_SOAK_CYCLES ?? 400);

beforeAll(() => {
  // `npm test` builds dist/ first; build it here only when it is missing.
  if (!existsSync(path.join(ROOT, 'dist', 'index.js'))) execSync('npm run build:ts', { cwd: ROOT, stdio: 'ignore' });
}, 120_000);

describe('soak', () => {
  it(`${CYCLES} create/train/infer/evaluate/save/load/fromBuffer/drop cycles: memory, files and threads stay bounded`, () => {
    const r = spawnSync(process.execPath, ['--expose-gc', path.join(ROOT, 'scripts', 'soak.mjs'), String(CYCLES)], {
      cwd: ROOT,
      env: { ...process.env, HDRNN_SOAK_HIDDEN: '100', HDRNN_SOAK_MAX_RSS_GROWTH_MB: '32' },
      encoding: 'utf8',
      timeout: 110_000,
    });
    const line = r.stdout.split('\n').find((l) => l.startsWith('SOAK '));
    console.log(r.stdout.split('\n').filter((l) => /^(round|start)/.test(l)).join('\n'));
    expect(r.signal, `the soak was killed: ${r.stderr}`).toBeNull();
    expect(line, `no summary line; stderr: ${r.stderr}`).toBeDefined();
    const summary = JSON.parse(line!.slice('SOAK '.length)) as {
      growthMB: number;
      boundMB: number;
      files: [number, number];
      threads: [number, number];
      problems: string[];
    };
    expect(summary.problems).toEqual([]);
    expect(summary.growthMB).toBeLessThanOrEqual(summary.boundMB);
    expect(r.status, r.stderr).toBe(0);
  });
});
