/**
 * Concurrency: one network used by many callers while it trains, networks
 * and datasets dropped by JavaScript while native work still uses them,
 * the addon in several worker threads (and workers terminated mid-run),
 * and training aborted at random moments.
 *
 * "Consistent" means: every snapshot taken during training (toBuffer, save,
 * getParameters, infer, inferBatch, evaluate) equals EXACTLY the state of
 * the same deterministic run after some whole number of mini-batches. The
 * reference states come from a sequential replay of the same run, one
 * mini-batch per train() call (shuffle off, so these calls are equivalent:
 * the test checks that the replay ends where the one-call run ends).
 */
import { execSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Dataset, ErrorCodes, Network, bandData, rng, tempDir } from './helpers';

const tmp = tempDir('hdrnn-concurrency-');
afterAll(tmp.cleanup);

const DIST = path.resolve(__dirname, '..', 'dist', 'index.js');
beforeAll(() => {
  // `npm test` builds dist/ first; build it here only when it is missing.
  if (!existsSync(DIST)) execSync('npm run build:ts', { cwd: path.resolve(__dirname, '..'), stdio: 'ignore' });
}, 120_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha = (b: Uint8Array) => createHash('sha1').update(b).digest('hex');
const f32bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** The parameter bytes of a network file of either format (identical in both: biases, then weights, float32 LE). */
function paramBytes(file: Uint8Array): Uint8Array {
  if (file[0] === 7) return file.subarray(2 + file[1]);
  const layers = Buffer.from(file.buffer, file.byteOffset, file.byteLength).readUInt32LE(12);
  return file.subarray(16 + 4 * layers, file.length - 4);
}

/** The same bytes from getParameters(). */
function paramBytesOf(p: { weights: Float32Array[]; biases: Float32Array[] }): Buffer {
  return Buffer.concat([...p.biases, ...p.weights].map(f32bytes));
}

const scoresKey = (results: { scores: Float32Array }[]) => sha(Buffer.concat(results.map((r) => f32bytes(r.scores))));
const evalKey = (e: { correct: number; loss: number; confusion: number[][] }) => `${e.correct}/${e.loss}/${e.confusion.flat().join(',')}`;

interface Reference {
  /** Parameter hash → index of the state (mini-batches done). */
  params: Map<string, number>;
  /** infer() of the probe input → indices of the states giving it. */
  infer: Map<string, Set<number>>;
  inferBatch: Map<string, Set<number>>;
  evaluate: Map<string, Set<number>>;
  count: number;
}

function addTo<K>(map: Map<K, Set<number>>, key: K, index: number): void {
  let s = map.get(key);
  if (!s) map.set(key, (s = new Set()));
  s.add(index);
}

async function recordState(ref: Reference, net: Network, index: number, probe: Dataset): Promise<void> {
  const key = sha(paramBytes(await net.toBuffer({ format: 'v2' })));
  if (!ref.params.has(key)) ref.params.set(key, index);
  addTo(ref.infer, scoresKey([await net.infer(probe.input(0))]), index);
  addTo(ref.inferBatch, scoresKey(await net.inferBatch(probe)), index);
  addTo(ref.evaluate, evalKey(await net.evaluate(probe)), index);
  ref.count = index + 1;
}

interface Run {
  shape: number[];
  seed: number;
  data: Dataset;
  batchSize: number;
  epochs: number;
  learningRate: number;
  algorithm: 'batched' | 'reference';
}

/** The states of run after 0, 1, 2, ... mini-batches, by a sequential replay one mini-batch per call. */
async function reference(run: Run, probe: Dataset, mode: 'epochs' | 'slices'): Promise<Reference> {
  const ref: Reference = { params: new Map(), infer: new Map(), inferBatch: new Map(), evaluate: new Map(), count: 0 };
  const net = new Network({ shape: run.shape, seed: run.seed });
  await recordState(ref, net, 0, probe);
  const common = { batchSize: run.batchSize, shuffle: false, threads: 2, learningRate: run.learningRate, algorithm: run.algorithm };
  let k = 0;
  if (mode === 'epochs') {
    // Each epoch is one mini-batch (batchSize >= count): epoch k is state k.
    expect(run.batchSize).toBeGreaterThanOrEqual(run.data.count);
    for (let e = 0; e < run.epochs; e++) {
      await net.train(run.data, { ...common, epochs: 1 });
      await recordState(ref, net, ++k, probe);
    }
  } else {
    const batches = Math.ceil(run.data.count / run.batchSize);
    for (let e = 0; e < run.epochs; e++) {
      for (let b = 0; b < batches; b++) {
        const slice = run.data.slice(b * run.batchSize, Math.min(run.data.count, (b + 1) * run.batchSize));
        await net.train(slice, { ...common, epochs: 1 });
        await recordState(ref, net, ++k, probe);
      }
    }
  }
  return ref;
}

type Op = 'toBuffer' | 'toBufferSeed' | 'save' | 'getParameters' | 'infer' | 'inferBatch' | 'evaluate' | 'load';

interface Observation {
  op: Op;
  client: number;
  /** The exact state index (parameter snapshots) or the set of possible ones (outputs). */
  index?: number;
  indices?: Set<number>;
}

/**
 * Starts `clients` loops that snapshot `net` with random operations until
 * `until` settles, checks every snapshot against the reference, and returns
 * what they saw.
 */
async function hammer(net: Network, ref: Reference, probe: Dataset, until: Promise<unknown>, clients: number, seed: number): Promise<Observation[]> {
  let done = false;
  void until.then(
    () => (done = true),
    () => (done = true),
  );
  const seedFormat = net.preferredFormat === 'seed';
  const ops: Op[] = ['toBuffer', 'save', 'getParameters', 'infer', 'inferBatch', 'evaluate', 'load', ...(seedFormat ? (['toBufferSeed'] as Op[]) : [])];
  const seen: Observation[] = [];
  const problems: string[] = [];
  const loop = async (client: number) => {
    const random = rng(seed * 100 + client);
    const file = path.join(tmp.dir, `snapshot-${seed}-${client}.nn`);
    let last = -1;
    const exact = (op: Op, bytes: Uint8Array) => {
      const index = ref.params.get(sha(bytes));
      if (index === undefined) problems.push(`client ${client}: ${op} returned weights that are no whole mini-batch state`);
      else if (index < last) problems.push(`client ${client}: ${op} went back in time, state ${index} after ${last}`);
      else last = index;
      seen.push({ op, client, index });
    };
    const among = (op: Op, map: Map<string, Set<number>>, key: string) => {
      const indices = map.get(key);
      if (!indices) problems.push(`client ${client}: ${op} gave a result of no whole mini-batch state`);
      seen.push({ op, client, indices });
    };
    while (!done) {
      const op = ops[Math.floor(random() * ops.length)];
      switch (op) {
        case 'toBuffer':
          exact(op, paramBytes(await net.toBuffer({ format: 'v2' })));
          break;
        case 'toBufferSeed':
          exact(op, paramBytes(await net.toBuffer({ format: 'seed' })));
          break;
        case 'save':
          await net.save(file);
          exact(op, paramBytes(readFileSync(file)));
          break;
        case 'load':
          await net.save(file, { format: 'v2' });
          exact(op, paramBytesOf(await (await Network.load(file)).getParameters()));
          break;
        case 'getParameters':
          exact(op, paramBytesOf(await net.getParameters()));
          break;
        case 'infer':
          among(op, ref.infer, scoresKey([await net.infer(probe.input(0))]));
          break;
        case 'inferBatch':
          among(op, ref.inferBatch, scoresKey(await net.inferBatch(probe)));
          break;
        case 'evaluate':
          among(op, ref.evaluate, evalKey(await net.evaluate(probe)));
          break;
      }
    }
  };
  await Promise.all([until.catch(() => {}), ...Array.from({ length: clients }, (_, c) => loop(c))]);
  expect(problems.slice(0, 10), `${problems.length} inconsistent snapshots`).toEqual([]);
  return seen;
}

/** Snapshots taken strictly between the first and the last state: the calls really overlapped the run. */
const midRun = (seen: Observation[], ref: Reference) => seen.filter((s) => s.index !== undefined && s.index > 0 && s.index < ref.count - 1).length;

function summary(seen: Observation[], ref: Reference): string {
  const byOp = new Map<string, number>();
  for (const s of seen) byOp.set(s.op, (byOp.get(s.op) ?? 0) + 1);
  const states = new Set(seen.filter((s) => s.index !== undefined).map((s) => s.index));
  const mid = seen.filter((s) => s.index !== undefined && s.index > 0 && s.index < ref.count - 1).length;
  return `${seen.length} snapshots (${[...byOp].map(([k, v]) => `${k} ${v}`).join(', ')}), ${states.size} distinct of ${ref.count} states, ${mid} taken mid-run`;
}

/* ------------------------------------------------------------ the data */

// A one-mini-batch-per-epoch run (the brief's design) and a multi-batch run
// (readers cut into steps of many mini-batches, the deferred-update path).
const small = bandData(256, 196, 10, 21);
const smallSet = Dataset.from({ inputs: small.inputs, labels: small.labels, inputSize: 196 });
const big = bandData(128 * 100, 784, 10, 22);
const bigSet = Dataset.from({ inputs: big.inputs, labels: big.labels, inputSize: 784 });
const probeData = bandData(16, 784, 10, 23);
const probe784 = Dataset.from({ inputs: probeData.inputs, labels: probeData.labels, inputSize: 784 });
const probe196 = Dataset.from({ inputs: small.inputs.subarray(0, 16 * 196), labels: small.labels.subarray(0, 16), inputSize: 196 });

// Sized so that each run trains for a second or more on a fast x64 core.
const oneBatchRun: Run = { shape: [196, 128, 10], seed: 31, data: smallSet, batchSize: 256, epochs: 500, learningRate: 0.5, algorithm: 'batched' };
const multiBatchRun: Run = { shape: [784, 128, 10], seed: 32, data: bigSet, batchSize: 128, epochs: 2, learningRate: 0.5, algorithm: 'batched' };
const referenceAlgoRun: Run = { shape: [784, 24, 10], seed: 33, data: bigSet.slice(0, 64 * 60), batchSize: 32, epochs: 1, learningRate: 0.5, algorithm: 'reference' };

let multiRefPromise: Promise<Reference> | undefined;
/** The reference states of multiBatchRun (built once, by whichever test needs them first). */
const multiReference = () => (multiRefPromise ??= reference(multiBatchRun, probe784, 'slices'));

describe('many callers while one network trains', () => {
  it('one mini-batch per epoch, progressEvery 1: every snapshot is a whole mini-batch state', async () => {
    const ref = await reference(oneBatchRun, probe196, 'epochs');
    const net = new Network({ shape: oneBatchRun.shape, seed: oneBatchRun.seed });
    let progress = 0;
    const training = net.train(oneBatchRun.data, {
      epochs: oneBatchRun.epochs, batchSize: oneBatchRun.batchSize, shuffle: false, threads: 2, learningRate: oneBatchRun.learningRate,
      onProgress: () => progress++, progressEvery: 1,
    });
    const seen = await hammer(net, ref, probe196, training, 6, 1);
    await training;
    expect(progress).toBe(oneBatchRun.epochs);
    // The one-call run ends where the replay ends.
    expect(ref.params.get(sha(paramBytes(await net.toBuffer({ format: 'v2' }))))).toBe(oneBatchRun.epochs);
    console.log(`one batch per epoch: ${summary(seen, ref)}`);
    // How many depends on the machine; hundreds here (x64, 2 cores).
    expect(seen.length).toBeGreaterThan(50);
    expect(midRun(seen, ref)).toBeGreaterThan(10);
  });

  it('many mini-batches per step (threads auto, testData): every snapshot is a whole mini-batch state', async () => {
    const multiRef = await multiReference();
    const batches = (bigSet.count / multiBatchRun.batchSize) * multiBatchRun.epochs;
    expect(multiRef.count).toBe(batches + 1);
    const net = new Network({ shape: multiBatchRun.shape, seed: multiBatchRun.seed });
    const training = net.train(bigSet, {
      epochs: multiBatchRun.epochs, batchSize: multiBatchRun.batchSize, shuffle: false, threads: 'auto', learningRate: 0.5, testData: probe784,
    });
    const seen = await hammer(net, multiRef, probe784, training, 6, 2);
    const report = await training;
    expect(report.epochs).toHaveLength(2);
    expect(multiRef.params.get(sha(paramBytes(await net.toBuffer({ format: 'v2' }))))).toBe(batches);
    // The epoch-end evaluation on the training thread saw the state after that epoch.
    const afterEpoch1 = [...multiRef.evaluate].find(([, set]) => set.has(batches / 2));
    expect(afterEpoch1?.[0].startsWith(`${report.epochs[0].test!.correct}/`)).toBe(true);
    console.log(`many batches per step: ${summary(seen, multiRef)}`);
    expect(seen.length).toBeGreaterThan(50);
    expect(midRun(seen, multiRef)).toBeGreaterThan(10);
  });

  it("the seed's per-example algorithm: every snapshot is a whole mini-batch state", async () => {
    const ref = await reference(referenceAlgoRun, probe784, 'slices');
    const net = new Network({ shape: referenceAlgoRun.shape, seed: referenceAlgoRun.seed });
    const training = net.train(referenceAlgoRun.data, { epochs: 1, batchSize: 32, shuffle: false, learningRate: 0.5, algorithm: 'reference' });
    const seen = await hammer(net, ref, probe784, training, 4, 3);
    await training;
    expect(ref.params.get(sha(paramBytes(await net.toBuffer({ format: 'v2' }))))).toBe(ref.count - 1);
    console.log(`reference algorithm: ${summary(seen, ref)}`);
    expect(seen.length).toBeGreaterThan(20);
    expect(midRun(seen, ref)).toBeGreaterThan(5);
  });

  it('hundreds of calls fired at once during training all settle, each on a whole mini-batch state', async () => {
    const multiRef = await multiReference();
    const net = new Network({ shape: multiBatchRun.shape, seed: multiBatchRun.seed });
    const training = net.train(bigSet, { epochs: 2, batchSize: multiBatchRun.batchSize, shuffle: false, threads: 2, learningRate: 0.5 });
    // A second training run while one runs: refused, and changes nothing.
    await expect(net.train(bigSet, { epochs: 1 })).rejects.toMatchObject({ code: ErrorCodes.BUSY });
    await sleep(20);
    expect(net.training, 'still training when the calls go out').toBe(true);
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i++) {
      calls.push(net.toBuffer({ format: 'v2' }).then((b) => multiRef.params.get(sha(paramBytes(b)))));
      calls.push(net.getParameters().then((p) => multiRef.params.get(sha(paramBytesOf(p)))));
      calls.push(net.infer(probe784.input(0)).then((r) => multiRef.infer.get(scoresKey([r]))));
      if (i % 10 === 0) calls.push(net.evaluate(probe784).then((e) => multiRef.evaluate.get(evalKey(e))));
      if (i % 10 === 5) calls.push(net.inferBatch(probe784).then((r) => multiRef.inferBatch.get(scoresKey(r))));
    }
    const results = await Promise.all(calls);
    await training;
    expect(results.filter((r) => r === undefined)).toHaveLength(0);
    expect(multiRef.params.get(sha(paramBytes(await net.toBuffer({ format: 'v2' }))))).toBe(multiRef.count - 1);
  });
});

/* ---------------------------------------------------- dropped by JavaScript */

async function collectGarbage(rounds = 6): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  expect(gc, 'vitest runs with --expose-gc').toBeTypeOf('function');
  for (let i = 0; i < rounds; i++) {
    gc!();
    await sleep(5);
  }
}

describe('objects dropped by JavaScript while native work uses them', () => {
  it('a network with no references left: train, evaluate, inferBatch, toBuffer, getParameters still settle with the right results', async () => {
    const shape = [784, 64, 10];
    const data = bigSet.slice(0, 64 * 20);
    // What the same work gives on a network that is kept.
    const kept = new Network({ shape, seed: 41 });
    const expected = {
      evaluate: evalKey(await kept.evaluate(bigSet)),
      inferBatch: scoresKey(await kept.inferBatch(bigSet)),
      toBuffer: sha(await kept.toBuffer({ format: 'v2' })),
      getParameters: sha(paramBytesOf(await kept.getParameters())),
      train: (await kept.train(data, { epochs: 3, batchSize: 10, seed: 5, threads: 2 })).epochs.map((e) => e.loss),
    };
    let collected = 0;
    const registry = new FinalizationRegistry<string>(() => collected++);
    const settledBeforeCollect: string[] = [];
    for (let round = 0; round < 3; round++) {
      // Each network lives only in this function: JavaScript drops it at once.
      const start = () => {
        const promises: Record<string, Promise<unknown>> = {};
        for (const op of ['evaluate', 'inferBatch', 'toBuffer', 'getParameters', 'train'] as const) {
          const net = new Network({ shape, seed: 41 });
          registry.register(net, op);
          promises[op] =
            op === 'evaluate' ? net.evaluate(bigSet)
            : op === 'inferBatch' ? net.inferBatch(bigSet)
            : op === 'toBuffer' ? net.toBuffer({ format: 'v2' })
            : op === 'getParameters' ? net.getParameters()
            : net.train(data, { epochs: 3, batchSize: 10, seed: 5, threads: 2 });
        }
        return promises;
      };
      const promises = start();
      const before = collected;
      await collectGarbage();
      if (collected === before) settledBeforeCollect.push(`round ${round}`);
      const r = promises as { evaluate: Promise<never>; inferBatch: Promise<never>; toBuffer: Promise<Buffer>; getParameters: Promise<never>; train: Promise<{ epochs: { loss: number }[] }> };
      expect(evalKey(await r.evaluate)).toBe(expected.evaluate);
      expect(scoresKey(await r.inferBatch)).toBe(expected.inferBatch);
      expect(sha(await r.toBuffer)).toBe(expected.toBuffer);
      expect(sha(paramBytesOf(await r.getParameters))).toBe(expected.getParameters);
      expect((await r.train).epochs.map((e) => e.loss)).toEqual(expected.train);
      await collectGarbage();
    }
    console.log(`dropped networks collected by the garbage collector: ${collected} of 15 (rounds where none was collected while work ran: ${settledBeforeCollect.join(', ') || 'none'})`);
    expect(collected, 'the dropped networks were collected at all').toBeGreaterThan(0);
  });

  it('a dataset with no references left while a run trains and evaluates on it', async () => {
    const shape = [784, 32, 10];
    const make = () => Dataset.from({ inputs: big.inputs.slice(0, 64 * 20 * 784), labels: big.labels.slice(0, 64 * 20), inputSize: 784 });
    const kept = new Network({ shape, seed: 42 });
    const keptData = make();
    const expectedReport = await kept.train(keptData, { epochs: 2, batchSize: 10, seed: 6, threads: 2, testData: keptData.slice(0, 500) });
    const expectedBytes = sha(await kept.toBuffer({ format: 'v2' }));
    let collected = 0;
    const registry = new FinalizationRegistry<string>(() => collected++);
    const net = new Network({ shape, seed: 42 });
    const start = () => {
      const data = make();
      const test = data.slice(0, 500);
      registry.register(data, 'data');
      registry.register(test, 'test');
      // A slice outliving its parent: the parent's memory must stay.
      const evaluation = make().slice(100, 700);
      return { training: net.train(data, { epochs: 2, batchSize: 10, seed: 6, threads: 2, testData: test }), evaluation: net.evaluate(evaluation) };
    };
    const { training, evaluation } = start();
    await collectGarbage();
    // Allocate and free a lot meanwhile, so freed memory would be reused.
    for (let i = 0; i < 20; i++) Dataset.from({ inputs: new Uint8Array(64 * 20 * 784).fill(255), labels: new Uint8Array(64 * 20).fill(9), inputSize: 784 });
    await collectGarbage();
    const report = await training;
    expect(report.epochs.map((e) => [e.loss, e.test?.correct])).toEqual(expectedReport.epochs.map((e) => [e.loss, e.test?.correct]));
    expect(sha(await net.toBuffer({ format: 'v2' }))).toBe(expectedBytes);
    const ev = await evaluation;
    expect(ev.total).toBe(600);
    await collectGarbage();
    console.log(`dropped datasets collected: ${collected} of 2`);
  });
});

/* --------------------------------------------------------- worker threads */

interface WorkerMessage {
  type: string;
  [key: string]: unknown;
}

function startWorker(code: string, workerData: Record<string, unknown>): { worker: Worker; messages: WorkerMessage[]; next: (type: string) => Promise<WorkerMessage>; exited: Promise<number> } {
  const worker = new Worker(code, { eval: true, workerData: { dist: DIST, ...workerData } });
  const messages: WorkerMessage[] = [];
  const waiters: { type: string; resolve: (m: WorkerMessage) => void; reject: (e: unknown) => void }[] = [];
  worker.on('message', (m: WorkerMessage) => {
    messages.push(m);
    for (const w of waiters.filter((x) => x.type === m.type)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(m);
    }
  });
  const exited = new Promise<number>((resolve) => worker.on('exit', resolve));
  worker.on('error', (e) => {
    for (const w of waiters.splice(0)) w.reject(e);
  });
  void exited.then(() => {
    for (const w of waiters.splice(0)) w.reject(new Error('worker exited'));
  });
  const next = (type: string) =>
    new Promise<WorkerMessage>((resolve, reject) => {
      const m = messages.find((x) => x.type === type);
      if (m) resolve(m);
      else waiters.push({ type, resolve, reject });
    });
  return { worker, messages, next, exited };
}

const SAME_NETWORK_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const h = require(workerData.dist);
(async () => {
  const net = h.Network.fromBuffer(workerData.bytes);
  const probe = h.Dataset.from({ inputs: workerData.probeInputs, labels: workerData.probeLabels, inputSize: 784 });
  const data = h.Dataset.from({ inputs: workerData.trainInputs, labels: workerData.trainLabels, inputSize: 784 });
  const before = await net.inferBatch(probe);
  const scores = Buffer.concat(before.map((r) => Buffer.from(r.scores.buffer, r.scores.byteOffset, r.scores.byteLength)));
  parentPort.postMessage({ type: 'before', scores, evaluation: await net.evaluate(probe) });
  // Everything at once: training and reads on the same network.
  const reads = [];
  const training = net.train(data, { epochs: 2, batchSize: 10, seed: 9, threads: workerData.threads, shuffle: true });
  for (let i = 0; i < 20; i++) reads.push(net.infer(probe.input(i % probe.count)), net.toBuffer());
  await Promise.all(reads);
  await training;
  parentPort.postMessage({ type: 'after', bytes: await net.toBuffer({ format: 'v2' }), evaluation: await net.evaluate(probe) });
})().catch((e) => parentPort.postMessage({ type: 'error', message: String(e && e.stack), code: e && e.code }));
`;

const TERMINATED_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const h = require(workerData.dist);
const fs = require('node:fs');
(async () => {
  const net = h.Network.fromBuffer(workerData.bytes);
  const data = h.Dataset.from({ inputs: workerData.trainInputs, labels: workerData.trainLabels, inputSize: 784 });
  let told = false;
  const training = net.train(data, {
    epochs: 1000000, batchSize: 10, seed: 9, threads: workerData.threads, testData: data.slice(0, 200),
    onProgress: (p) => {
      if (!told) { told = true; parentPort.postMessage({ type: 'training' }); }
      if (workerData.exitInProgress && p.batch > 5) process.exit(0);
    },
    progressEvery: 1,
  });
  training.catch(() => {});
  // Keep native work of every kind in flight until terminated.
  for (let i = 0; ; i++) {
    const file = workerData.file + '.' + (i % 3);
    await Promise.all([
      net.evaluate(data),
      net.inferBatch(data.slice(0, 300)),
      net.toBuffer(),
      net.getParameters(),
      net.save(file).then(() => h.Network.load(file)),
      h.decodePgm(Buffer.from('P2 2 2 255 0 1 2 3')),
      new h.Network({ shape: [784, 30, 10], seed: i }).toBuffer(),
    ]);
  }
})().catch((e) => parentPort.postMessage({ type: 'error', message: String(e && e.stack), code: e && e.code }));
`;

describe('worker threads', () => {
  const trainSlice = { inputs: big.inputs.slice(0, 500 * 784), labels: big.labels.slice(0, 500) };

  it('the same network loaded in several workers at once infers identically, trains identically, to the main thread', async () => {
    const original = new Network({ shape: [784, 32, 10], seed: 51 });
    const bytes = await original.toBuffer({ format: 'v2' });
    const mainScores = Buffer.concat((await original.inferBatch(probe784)).map((r) => f32bytes(r.scores)));
    const mainEval = await original.evaluate(probe784);
    const trained = Network.fromBuffer(bytes);
    await trained.train(Dataset.from({ ...trainSlice, inputSize: 784 }), { epochs: 2, batchSize: 10, seed: 9, threads: 1, shuffle: true });
    const mainAfter = await trained.toBuffer({ format: 'v2' });

    const workers = [1, 2, 1, 2].map((threads) =>
      startWorker(SAME_NETWORK_WORKER, {
        bytes, threads, probeInputs: probeData.inputs, probeLabels: probeData.labels, trainInputs: trainSlice.inputs, trainLabels: trainSlice.labels,
      }),
    );
    try {
      const results = await Promise.all(workers.map((w) => Promise.race([w.next('after'), w.next('error').then((e) => Promise.reject(new Error(String(e.message))))])));
      for (const w of workers) {
        const before = w.messages.find((m) => m.type === 'before')!;
        expect(Buffer.compare(Buffer.from(before.scores as Uint8Array), mainScores), 'inference before training, worker vs main').toBe(0);
        expect(before.evaluation).toEqual(mainEval);
      }
      for (const r of results) expect(Buffer.compare(Buffer.from(r.bytes as Uint8Array), mainAfter), 'trained weights, worker vs main (any thread count)').toBe(0);
    } finally {
      await Promise.all(workers.map((w) => w.worker.terminate()));
    }
  });

  it('workers terminated (or exiting) in the middle of training and other native work: the process survives and keeps working', () => {
    // In a child process: if terminating a worker brings the process down,
    // this test fails instead of the whole test file.
    const script = `
      const { Worker } = require('node:worker_threads');
      const path = require('node:path');
      const h = require(${JSON.stringify(DIST)});
      const code = ${JSON.stringify(TERMINATED_WORKER)};
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      let seed = 53;
      const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
      (async () => {
        const inputs = new Uint8Array(500 * 784).map((_, i) => (i * 2654435761) >>> 24);
        const labels = new Uint8Array(500).map((_, i) => i % 10);
        const bytes = await new h.Network({ shape: [784, 32, 10], seed: 52 }).toBuffer({ format: 'v2' });
        let terminated = 0;
        for (let round = 0; round < 6; round++) {
          const pair = [0, 1].map((k) => {
            const worker = new Worker(code, { eval: true, workerData: {
              dist: ${JSON.stringify(DIST)}, bytes, threads: 1 + k, trainInputs: inputs, trainLabels: labels,
              file: path.join(${JSON.stringify(tmp.dir)}, 'worker-' + round + '-' + k + '.nn'), exitInProgress: round % 2 === 1 && k === 1,
            } });
            const exited = new Promise((r) => worker.on('exit', r));
            const training = new Promise((r) => worker.on('message', (m) => {
              if (m.type === 'error') { console.log('WORKER ERROR', m.message); process.exit(5); }
              if (m.type === 'training') r();
            }));
            worker.on('error', (e) => { console.log('WORKER THREW', e); process.exit(6); });
            return { worker, exited, started: Promise.race([training, exited]) };
          });
          await Promise.all(pair.map((w) => w.started));
          await sleep(Math.floor(random() * 80));
          await Promise.all(pair.map((w) => w.worker.terminate()));
          await Promise.all(pair.map((w) => w.exited));
          terminated += 2;
          // The main thread still works.
          const net = new h.Network({ shape: [784, 16, 10], seed: round });
          const data = h.Dataset.from({ inputs, labels, inputSize: 784 });
          await net.train(data, { epochs: 1, threads: 2 });
          if ((await net.infer(data.input(0))).scores.length !== 10) process.exit(7);
        }
        console.log('SURVIVED', terminated);
      })();
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    console.log(`worker termination child: status ${r.status}, signal ${r.signal}, ${r.stdout.trim()}`);
    expect({ status: r.status, signal: r.signal }, `stderr: ${r.stderr.slice(0, 1000)}`).toEqual({ status: 0, signal: null });
    expect(r.stdout).toMatch(/SURVIVED 12/);
  });
});

/* --------------------------------------------------------------- aborts */

describe('aborted at random moments', () => {
  it('30 runs aborted after random delays: AbortError or resolved, the network is a whole mini-batch state, and trains again', async () => {
    const multiRef = await multiReference();
    const random = rng(61);
    const outcomes = { aborted: 0, resolved: 0, beforeStart: 0 };
    const delays: number[] = [];
    // How long a whole run takes here: the delays spread over 0 .. 1.2 times that.
    const timing = new Network({ shape: multiBatchRun.shape, seed: multiBatchRun.seed });
    const t0 = performance.now();
    await timing.train(bigSet, { epochs: 1, batchSize: multiBatchRun.batchSize, shuffle: false, threads: 2, learningRate: 0.5 });
    const full = performance.now() - t0;
    for (let trial = 0; trial < 30; trial++) {
      const net = new Network({ shape: multiBatchRun.shape, seed: multiBatchRun.seed });
      const controller = new AbortController();
      const delay = Math.floor(random() * full * 1.2);
      delays.push(delay);
      const started = performance.now();
      const training = net.train(bigSet, { epochs: 1, batchSize: multiBatchRun.batchSize, shuffle: false, threads: trial % 2 ? 2 : 'auto', learningRate: 0.5, signal: controller.signal });
      const timer = setTimeout(() => controller.abort(new Error(`trial ${trial}`)), delay);
      try {
        const report = await training;
        outcomes.resolved++;
        expect(report.epochs).toHaveLength(1);
      } catch (error) {
        const e = error as Error & { code?: string; report?: { epochs: unknown[] }; cause?: unknown };
        expect(e.name).toBe('AbortError');
        expect(e.code).toBe(ErrorCodes.ABORTED);
        expect(Array.isArray(e.report?.epochs)).toBe(true);
        expect((e.cause as Error).message).toBe(`trial ${trial}`);
        outcomes.aborted++;
      } finally {
        clearTimeout(timer);
      }
      expect(net.training).toBe(false);
      // Consistent: the weights are those after a whole number of mini-batches.
      const bytes = await net.toBuffer({ format: 'v2' });
      const index = multiRef.params.get(sha(paramBytes(bytes)));
      expect(index, `trial ${trial} (abort after ${delay} ms, run took ${Math.round(performance.now() - started)} ms): no whole mini-batch state`).toBeDefined();
      if (index === 0) outcomes.beforeStart++;
      const again = Network.fromBuffer(bytes);
      const p = await again.getParameters();
      for (const a of [...p.weights, ...p.biases]) expect(a.every(Number.isFinite)).toBe(true);
      // And it trains again.
      const next = await net.train(bigSet.slice(0, 640), { epochs: 1, batchSize: 64, seed: 1, threads: 2 });
      expect(next.epochs).toHaveLength(1);
    }
    console.log(`aborts (a whole run takes ${Math.round(full)} ms): ${outcomes.aborted} aborted (${outcomes.beforeStart} before the first mini-batch), ${outcomes.resolved} finished first; delays ${delays.join(' ')} ms`);
    expect(outcomes.aborted).toBeGreaterThan(0);
  });
});
