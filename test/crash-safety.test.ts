/**
 * Crash safety of saves: a child process (test/fixtures/save-loop.cjs, plain
 * node on dist/) saves two different networks, alternating, in both formats,
 * to one path, and is killed with SIGKILL at random moments, many times.
 * After every kill the file on disk must load (Network.load; for v2 that
 * includes its CRC-32) and equal exactly one of the four files a save can
 * write. Temporary files left by killed saves are counted and reported.
 *
 * HDRNN_KILL_TRIALS (default 50) sets the number of kills.
 *
 * SIGKILL stops the process, not the machine: what reached the page cache
 * stays, so this checks the write-temporary-then-rename protocol, not fsync.
 */
import { spawn, execSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ErrorCodes, Network, rng, tempDir } from './helpers';

const TRIALS = Math.max(1, Number(process.env.HDRNN_KILL_TRIALS ?? 50));
const HIDDEN = 100; // 784-100-10: 318 KB files, long enough writes to be cut
const FIXTURE = path.join(__dirname, 'fixtures', 'save-loop.cjs');
const ROOT = path.resolve(__dirname, '..');

const tmp = tempDir('hdrnn-crash-');
afterAll(tmp.cleanup);

beforeAll(() => {
  // `npm test` builds dist/ first; build it here only when it is missing.
  if (!existsSync(path.join(ROOT, 'dist', 'index.js'))) execSync('npm run build:ts', { cwd: ROOT, stdio: 'ignore' });
}, 120_000);

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Child {
  ready: Promise<boolean>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): void;
  pid: number;
  stderr(): string;
  saves(): number;
}

function startLoop(target: string): Child {
  const child = spawn(process.execPath, [FIXTURE, target, String(HIDDEN)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let resolveReady: (v: boolean) => void = () => {};
  const ready = new Promise<boolean>((r) => (resolveReady = r));
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (out.startsWith('ready')) resolveReady(true);
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      resolveReady(false);
      resolve({ code, signal });
    }),
  );
  return {
    ready,
    exited,
    kill: () => child.kill('SIGKILL'),
    pid: child.pid!,
    stderr: () => err,
    saves: () => (out.startsWith('ready') ? 1 + (out.length - 'ready\n'.length) : 0),
  };
}

describe('saves killed with SIGKILL', () => {
  it(`the file always loads and equals one of the two networks (${TRIALS} kills)`, async () => {
    // The four files the loop can write: network 1 or 2, seed or v2 format.
    const nets = [new Network({ shape: [784, HIDDEN, 10], seed: 1 }), new Network({ shape: [784, HIDDEN, 10], seed: 2 })];
    const expected = new Map<string, string>();
    for (const [i, n] of nets.entries()) {
      for (const format of ['seed', 'v2'] as const) expected.set(sha(await n.toBuffer({ format })), `network ${i + 1} ${format}`);
    }
    expect(expected.size).toBe(4);
    const target = path.join(tmp.dir, 'model.nn');
    writeFileSync(target, await nets[0].toBuffer({ format: 'seed' }));
    const tempName = /^\.model\.nn\.(\d+)\.[0-9a-f]+\.tmp$/;

    const seed = Number(process.env.HDRNN_KILL_SEED ?? Date.now() % 100_000);
    const random = rng(seed);
    const seenStates = new Map<string, number>();
    const known = new Set<string>();
    let survived = 0;
    let totalSaves = 0;
    let maxNewLeftovers = 0;
    const failures: string[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const child = startLoop(target);
      if (trial % 4 === 0) {
        // Sometimes before the first save is done: while the process starts, loads the addon, writes.
        await sleep(Math.floor(random() * 300));
      } else {
        const ready = await child.ready;
        if (!ready) failures.push(`trial ${trial}: the loop exited on its own: ${child.stderr()}`);
        await sleep(Math.floor(random() * 40));
      }
      child.kill();
      const { signal, code } = await child.exited;
      if (signal !== 'SIGKILL') failures.push(`trial ${trial}: the loop ended with ${signal ?? code}, not SIGKILL: ${child.stderr()}`);
      totalSaves += child.saves();

      // The file is always one of the four, and loads.
      const bytes = readFileSync(target);
      const state = expected.get(sha(bytes));
      if (state === undefined) {
        failures.push(`trial ${trial}: the file is none of the two networks (${bytes.length} bytes)`);
      } else {
        seenStates.set(state, (seenStates.get(state) ?? 0) + 1);
        try {
          const loaded = await Network.load(target);
          const format = bytes[0] === 7 ? 'seed' : 'v2';
          if (Buffer.compare(await loaded.toBuffer({ format }), bytes) !== 0) failures.push(`trial ${trial}: loaded, but saves back differently`);
        } catch (error) {
          const e = error as Error & { code?: string };
          failures.push(`trial ${trial}: Network.load failed${e.code === ErrorCodes.CHECKSUM ? ' with a checksum error' : ''}: ${e.code} ${e.message}`);
        }
      }
      // Leftovers: a killed save can leave its one temporary file; no more.
      const leftovers = readdirSync(tmp.dir).filter((n) => tempName.test(n));
      const fresh = leftovers.filter((n) => !known.has(n));
      fresh.forEach((n) => known.add(n));
      maxNewLeftovers = Math.max(maxNewLeftovers, fresh.length);
      if (fresh.length > 1) failures.push(`trial ${trial}: ${fresh.length} temporary files left by one killed process: ${fresh.join(', ')}`);
      const others = readdirSync(tmp.dir).filter((n) => n !== 'model.nn' && !tempName.test(n));
      if (others.length > 0) failures.push(`trial ${trial}: unexpected files ${others.join(', ')}`);
      if (failures.length === 0) survived++;
      else break;
    }
    const leftovers = readdirSync(tmp.dir).filter((n) => tempName.test(n)).length;
    // The next save removes what killed processes left behind.
    await (await Network.load(target)).save(target);
    const afterSave = readdirSync(tmp.dir).filter((n) => tempName.test(n)).length;
    console.log(
      `SIGKILL trials survived: ${survived} of ${TRIALS} (seed ${seed}); ${totalSaves} saves completed in all; ` +
        `file states after kills: ${[...seenStates].map(([k, v]) => `${k}: ${v}`).join(', ')}; ` +
        `temporary files of killed saves: ${leftovers} at the end (at most ${maxNewLeftovers} per killed process), ${afterSave} after one more save`,
    );
    expect(failures).toEqual([]);
    expect(survived).toBe(TRIALS);
    expect(afterSave).toBe(0);
  }, 60_000 + TRIALS * 1_000);
});
