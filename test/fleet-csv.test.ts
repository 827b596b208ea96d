// Fleet learning on the trucks' own CSV data through a real Mosquitto: a
// starting model made by `hdrnn train --csv` (its inputs, class names and
// standardisation), `hdrnn fleet serve --net` reporting accuracy on a held-out
// CSV each round, and two `hdrnn fleet join --csv` devices, each with its own
// rows of vega-datasets' seattle-weather.csv.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { startMosquitto, type Broker } from './mosquitto';
import { tempDir } from './helpers';
import { SEATTLE as weather, SEATTLE_FEATURES } from './vega';

const bin = path.resolve(__dirname, '..', 'dist', 'cli.js');
const FEATURES = SEATTLE_FEATURES.join(',');

let broker: Broker | undefined;
const dir = tempDir();
afterAll(async () => {
  await broker?.cleanup();
  dir.cleanup();
});

function lines(text: string): Array<Record<string, unknown>> {
  return text.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

function runAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

it('two devices train on their own CSV rows; the aggregator reports accuracy on held-out rows each round', async () => {
  const [header, ...rows] = readFileSync(weather, 'utf8').trim().split('\n');
  // Test: every 5th row; the devices share the rest, one each in turn.
  const file = (name: string, pick: (i: number) => boolean) => {
    const f = path.join(dir.dir, name);
    writeFileSync(f, [header, ...rows.filter((_, i) => pick(i))].join('\n') + '\n');
    return f;
  };
  const test = file('test.csv', (i) => i % 5 === 0);
  const a = file('a.csv', (i) => i % 5 !== 0 && i % 2 === 0);
  const b = file('b.csv', (i) => i % 5 !== 0 && i % 2 === 1);
  const start = path.join(dir.dir, 'start.nn');
  const made = spawnSync(process.execPath, [bin, 'train', '--csv', a, '--target', 'weather', '--features', FEATURES, '-e', '1', '--seed', '3', '-n', start, '--json'], { encoding: 'utf8' });
  expect(made.status, made.stderr).toBe(0);

  broker = await startMosquitto({ fleet: 'weather', devices: ['a', 'b'] });
  const b0 = broker;
  const auth = (user: string) => ['--broker', b0.url, '--username', user, '--password', b0.users[user], '--fleet', 'weather', '--json'];
  const csv = ['--target', 'weather', '--features', FEATURES];
  const ROUNDS = 4;
  const serve = runAsync(['fleet', 'serve', ...auth('aggregator'), '--net', start, '--csv', test, ...csv, '--rounds', String(ROUNDS), '--min-devices', '2', '--round-timeout', '20']);
  await new Promise((r) => setTimeout(r, 500));
  const joins = (['a', 'b'] as const).map((d) =>
    runAsync(['fleet', 'join', ...auth(d), '--device', d, '--csv', d === 'a' ? a : b, ...csv, '--epochs', '2', '--learning-rate', '0.1', '--rounds', String(ROUNDS)]),
  );
  const served = await serve;
  expect(served.status, served.stderr).toBe(0);
  const rounds = lines(served.stdout).filter((l) => l.event === 'round');
  expect(rounds.map((r) => r.round)).toEqual([1, 2, 3, 4]);
  for (const r of rounds) {
    expect(r.devices).toEqual(['a', 'b']);
    expect(r.examples).toBe(rows.length - Math.ceil(rows.length / 5));
    expect(r.accuracy as number).toBeGreaterThan(0.5); // more than the commonest class (sun, 44 %)
  }
  console.log(`seattle-weather, 2 devices: accuracy per round ${rounds.map((r) => ((r.accuracy as number) * 100).toFixed(1) + '%').join(', ')}`);
  for (const j of await Promise.all(joins)) {
    expect(j.status, j.stderr).toBe(0);
    expect(j.stderr).toBe('');
    expect(lines(j.stdout).filter((l) => l.event === 'sent').length).toBeGreaterThanOrEqual(ROUNDS);
  }
}, 90_000);

it('a device whose CSV does not fit the fleet\'s model, or is missing, says why, sends nothing and exits 1', async () => {
  const b0 = broker!;
  const start = path.join(dir.dir, 'start.nn');
  const serve = spawn(process.execPath, [bin, 'fleet', 'serve', '--broker', b0.url, '--username', 'aggregator', '--password', b0.users.aggregator, '--fleet', 'weather', '--net', start, '--json'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 500));
    const device = (csvFile: string, features: string) =>
      runAsync(['fleet', 'join', '--broker', b0.url, '--username', 'a', '--password', b0.users.a, '--fleet', 'weather', '--device', 'a', '--csv', csvFile, '--target', 'weather', '--features', features, '--json']);
    const wrong = await device(weather, 'precipitation,wind');
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/gives 2 feature columns \(precipitation, wind\) but the fleet's model takes 4 inputs/);
    expect(lines(wrong.stdout).filter((l) => l.event === 'sent')).toEqual([]);
    const missing = await device(path.join(dir.dir, 'nope.csv'), FEATURES);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/nope\.csv/);
  } finally {
    serve.kill('SIGKILL');
  }
}, 60_000);
