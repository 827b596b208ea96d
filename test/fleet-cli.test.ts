// hdrnn fleet: usage errors and the demo on its in-process Aedes broker (no broker installed needed).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

import { expect, it } from 'vitest';

const bin = path.resolve(__dirname, '..', 'dist', 'cli.js');
const fleet = (...args: string[]) => spawnSync(process.execPath, [bin, 'fleet', ...args], { encoding: 'utf8', timeout: 120_000 });

it('prints its help and refuses bad usage with exit status 2', () => {
  expect(existsSync(bin), 'dist/ is built by `npm run build:ts` (npm test runs it first)').toBe(true);
  const help = fleet('--help');
  expect(help.status).toBe(0);
  expect(help.stdout).toMatch(/hdrnn fleet serve/);
  for (const [args, message] of [
    [['nope'], /unknown fleet command/],
    [['serve'], /needs --broker/],
    [['join', '--broker', 'mqtt://127.0.0.1:1', '--device', 'd', '--shard', '4/4'], /--shard needs i\/n/],
    [['join', '--broker', 'mqtt://127.0.0.1:1', '--device', 'd', '--csv', 'x.csv'], /--csv needs --target/],
    [['join', '--broker', 'mqtt://127.0.0.1:1', '--device', 'd', '--csv', 'x.csv', '--target', 'y', '--shard', '0/2'], /with --csv the file is the device's data/],
    [['serve', '--broker', 'mqtt://127.0.0.1:1', '--csv', 'x.csv', '--target', 'y', '--data', 'd'], /--data \(MNIST\) or --csv, not both/],
    [['demo', '--devices', '0'], /--devices needs a whole number/],
    [['demo', '--encoding', 'f8'], /--encoding must be one of/],
    [['demo', '--bogus'], /unknown option/],
  ] as const) {
    const r = fleet(...args);
    expect(r.status, args.join(' ')).toBe(2);
    expect(r.stderr).toMatch(message);
  }
});

it('demo: non-IID trucks through the in-process Aedes broker, JSON report with the central comparison', () => {
  const r = fleet('demo', '--devices', '3', '--rounds', '2', '--non-iid', '--limit', '6000', '--encoding', 'i8', '--json');
  expect(r.status, r.stderr).toBe(0);
  const report = JSON.parse(r.stdout);
  expect(report.rounds).toHaveLength(2);
  expect(report.rounds.map((x: { round: number }) => x.round)).toEqual([1, 2]);
  for (const x of report.rounds) {
    expect(x.devices).toBe(3);
    expect(x.bytesPerDevice).toBeGreaterThan(25_450); // int8: a byte per parameter plus the header
    expect(x.bytesPerDevice).toBeLessThan(25_600);
  }
  expect(report.rounds[1].accuracy).toBeGreaterThan(report.rounds[0].accuracy - 0.02);
  expect(report.rounds[1].accuracy).toBeGreaterThan(0.7);
  expect(report.central.accuracy).toBeGreaterThan(0.8);
  expect(report.central.examples).toBe(6000);
  expect(report.errors).toEqual([]);
});
