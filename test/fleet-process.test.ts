// The fleet as separate processes through a real Mosquitto: `hdrnn fleet
// serve` and four `hdrnn fleet join`. Mid-run a device is killed, the broker
// is restarted and the aggregator is killed and restarted (it continues
// from its saved round); the run still completes.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { startMosquitto, type Broker } from './mosquitto';
import { defaultMnistDir, tempDir } from './helpers';

const bin = path.resolve(__dirname, '..', 'dist', 'cli.js');

interface Proc {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  err: string;
  exit: Promise<number | null>;
  waitFor(pred: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

function run(args: string[]): Proc {
  const child = spawn(process.execPath, [bin, 'fleet', ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  let buffer = '';
  const p: Proc = {
    child,
    lines,
    err: '',
    exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
    waitFor: (pred) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.find(pred);
          if (hit) resolve(hit);
          return hit !== undefined;
        };
        if (check()) return;
        waiters.push(() => void check());
        p.exit.then(() => check() || reject(new Error(`process exited before the expected line; stderr: ${p.err}`)));
      }),
  };
  child.stdout!.on('data', (d) => {
    buffer += d;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        lines.push(JSON.parse(line));
      } catch {
        lines.push({ text: line });
      }
      waiters.forEach((w) => w());
    }
  });
  child.stderr!.on('data', (d) => (p.err += d));
  return p;
}

const procs: Proc[] = [];
let broker: Broker | undefined;
afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await broker?.cleanup();
});

it('aggregator + 4 device processes survive a killed device, a broker restart, an aggregator restart and a device offline for rounds', async () => {
  expect(existsSync(bin), 'dist/ is built by `npm run build:ts` (npm test runs it first)').toBe(true);
  const devices = ['d0', 'd1', 'd2', 'd3'];
  broker = await startMosquitto({ fleet: 'trucks', devices });
  const b = broker;
  const state = tempDir();
  const ROUNDS = 9;
  const serveArgs = [
    'serve', '--broker', b.url, '--username', 'aggregator', '--password', b.users.aggregator, '--rounds', String(ROUNDS),
    '--min-devices', '3', '--round-timeout', '4', '--state', state.dir, '--data', defaultMnistDir()!,
  ];
  const serve = () => {
    const p = run(serveArgs);
    procs.push(p);
    return p;
  };
  let agg = serve();
  await agg.waitFor((l) => l.event === 'started');
  const joins = devices.map((d, i) => {
    const p = run([
      'join', '--broker', b.url, '--username', d, '--password', b.users[d], '--device', d,
      '--shard', `${i}/4`, '--non-iid', '--limit', '8000', '--rounds', String(ROUNDS),
    ]);
    procs.push(p);
    return p;
  });

  // A device killed mid-run: the rounds go on with the other three.
  await agg.waitFor((l) => l.event === 'round' && l.round === 1);
  joins[3].child.kill('SIGKILL');
  await joins[3].exit;
  const r3 = await agg.waitFor((l) => l.event === 'round' && l.round === 3);
  expect(r3.devices).toEqual(['d0', 'd1', 'd2']);

  // The broker restarted mid-run: everybody reconnects (persistent sessions) and goes on.
  await b.stop();
  await new Promise((r) => setTimeout(r, 1000));
  await b.start();
  await agg.waitFor((l) => l.event === 'round' && l.round === 4);

  // The aggregator killed and restarted: it continues from its saved round.
  agg.child.kill('SIGKILL');
  await agg.exit;
  const saved = Math.max(...agg.lines.filter((l) => l.event === 'round').map((l) => l.round as number));
  agg = serve();
  const started = await agg.waitFor((l) => l.event === 'started');
  expect(started.round).toBeGreaterThanOrEqual(saved);
  expect(started.round).toBeGreaterThanOrEqual(4);
  // A device offline for a while (its process stopped): the rounds close at the timeout without
  // it; back, it catches up with the current model and takes part again.
  // (It may have sent its update for the model out when it stopped; not for the one after.)
  joins[2].child.kill('SIGSTOP');
  const from = Math.max(started.round as number, ...agg.lines.filter((l) => l.event === 'round').map((l) => l.round as number));
  const without = await agg.waitFor((l) => l.event === 'round' && (l.round as number) === from + 2);
  expect(without.devices).toEqual(['d0', 'd1']);
  joins[2].child.kill('SIGCONT');
  const back = await agg.waitFor((l) => l.event === 'round' && (l.round as number) > from + 2 && (l.devices as string[]).includes('d2'));
  expect(back.devices).toEqual(['d0', 'd1', 'd2']);
  const last = await agg.waitFor((l) => l.event === 'round' && l.round === ROUNDS);
  expect(await agg.exit).toBe(0);
  expect(last.accuracy as number).toBeGreaterThan(0.8);
  for (const j of joins.slice(0, 3)) expect(await j.exit).toBe(0);
  // Every device process sent an update in the rounds it was alive for.
  for (const j of joins.slice(0, 3)) expect(j.lines.filter((l) => l.event === 'sent').length).toBeGreaterThanOrEqual(ROUNDS - 2);
  state.cleanup();
}, 120_000);
