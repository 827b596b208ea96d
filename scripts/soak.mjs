#!/usr/bin/env node
// Soak test: thousands of create / train / infer / evaluate / save / load /
// fromBuffer / drop cycles in one process, the garbage collector forced
// between rounds, memory printed per round. Exits 1 if the resident set
// grows by more than the bound after the warm-up round (or if open files or
// threads grow), so a leak in the addon or the library fails it.
//
//   npm run build:ts && node --expose-gc scripts/soak.mjs [cycles]   (default 2000)
//
// test/soak.test.ts runs a short version (400 cycles, bigger networks, a tighter bound).
//
// Environment: HDRNN_SOAK_MAX_RSS_GROWTH_MB (default 64), HDRNN_SOAK_ROUND (cycles
// per round, default 100), HDRNN_SOAK_HIDDEN (hidden layer size, default 30).
//
// What a cycle does: a 784-30-10 network (23,860 parameters, 95 KB, about
// the seed's default 784-32-10) is created, trained one epoch on a new
// 20-example dataset, used for infer / inferBatch / evaluate /
// getParameters, saved (both formats by turns), loaded, encoded and decoded
// again (fromBuffer); every 5th cycle also runs error paths, every 10th an
// abort in the middle of a run. About 0.8 MB of native and JavaScript
// memory per cycle, all of it garbage at the end of the cycle.
//
// The bound, measured on x64 (Node 20, glibc): the resident set after the
// warm-up round grows by 15-45 MB and then stays flat (8000 cycles: 82 MB
// after warm-up, 118-125 MB from cycle 2400 to 8000). That growth is V8
// sizing its heap to the allocation rate (heapTotal 9 -> 37 MB while
// heapUsed stays at 4 MB) and glibc's heap high-water mark (95-KB blocks
// live below the mmap threshold, so freed ones stay in the heap); heaptrack
// finds no native allocation leaked and the malloc'd bytes in use between
// rounds stay at 2.7 MB. A real leak grows without end: one network per
// cycle is 95 KB x 2000 = 190 MB, a 16-KB dataset per cycle 32 MB. So the
// default bound is 64 MB of RSS growth after warm-up, whatever the cycle
// count: above the plateau, below any leak of 32 KB or more per cycle over
// 2000 cycles. JavaScript leaks show in heapUsed (bound: 8 MB), memory
// reported to V8 in external + arrayBuffers (bound: 8 MB); open files may
// grow by 2 at most and threads by 4.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const { Network, Dataset, decodePgm, ErrorCodes } = require('../dist/index.js');

const cycles = Number(process.argv[2] ?? 2000);
const roundSize = Number(process.env.HDRNN_SOAK_ROUND ?? 100);
const boundMB = Number(process.env.HDRNN_SOAK_MAX_RSS_GROWTH_MB ?? 64);
const hidden = Number(process.env.HDRNN_SOAK_HIDDEN ?? 30);
if (!Number.isInteger(cycles) || cycles < 2 * roundSize) {
  console.error(`usage: node --expose-gc scripts/soak.mjs [cycles >= ${2 * roundSize}]`);
  process.exit(2);
}
if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc');
  process.exit(2);
}

const dir = mkdtempSync(path.join(tmpdir(), 'hdrnn-soak-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const MB = 1024 * 1024;
const INPUTS = 784;
const EXAMPLES = 20;
const PGM = Buffer.from('P2\n4 2\n255\n0 10 20 30 40 50 60 255\n');

function openFiles() {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}
function threads() {
  try {
    return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
  } catch {
    return -1;
  }
}

async function settle() {
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 5));
  }
}

function expectCode(promiseOrFn, code) {
  return Promise.resolve()
    .then(promiseOrFn)
    .then(
      () => {
        throw new Error(`expected ${code}`);
      },
      (e) => {
        if (e.code !== code) throw e;
      },
    );
}

async function cycle(i) {
  const pixels = new Uint8Array(EXAMPLES * INPUTS);
  for (let k = 0; k < pixels.length; k++) pixels[k] = (k * 2654435761 + i) >>> 24;
  const labels = Uint8Array.from({ length: EXAMPLES }, (_, k) => (k + i) % 10);
  const data = Dataset.from({ inputs: pixels, labels, inputSize: INPUTS });
  const net = new Network({ shape: [INPUTS, hidden, 10], seed: i });
  await net.train(data, { epochs: 1, batchSize: 10, seed: i, threads: 1 + (i % 2) });
  const r = await net.infer(data.input(i % EXAMPLES));
  if (r.scores.length !== 10) throw new Error('infer');
  if ((await net.inferBatch(data)).length !== EXAMPLES) throw new Error('inferBatch');
  if ((await net.evaluate(data)).total !== EXAMPLES) throw new Error('evaluate');
  await net.getParameters();
  const file = path.join(dir, `soak-${i % 4}.nn`);
  await net.save(file, { format: i % 2 ? 'v2' : 'seed' });
  const loaded = await Network.load(file);
  const bytes = await loaded.toBuffer({ format: 'v2' });
  const copy = Network.fromBuffer(bytes);
  await copy.infer(data.input(0));
  await decodePgm(PGM);
  // Error paths allocate too.
  if (i % 5 === 0) {
    await expectCode(() => Network.fromBuffer(Buffer.from('not a network')), ErrorCodes.BAD_FILE);
    await expectCode(() => Network.fromBuffer(bytes.subarray(0, 100)), ErrorCodes.CHECKSUM); // v2 cut short: its last 4 bytes are no CRC
    await expectCode(() => Network.load(path.join(dir, 'missing.nn')), 'ENOENT');
    await expectCode(() => net.train(data, { epochs: 1, signal: AbortSignal.abort() }), ErrorCodes.ABORTED);
  }
  // A run aborted in the middle, now and then.
  if (i % 10 === 0) {
    const controller = new AbortController();
    const run = net.train(data, { epochs: 100000, batchSize: 10, threads: 1, signal: controller.signal, onProgress: () => controller.abort(), progressEvery: 1 });
    await expectCode(() => run, ErrorCodes.ABORTED);
  }
}

const rounds = [];
function record(round, done) {
  const m = process.memoryUsage();
  const row = { round, cycles: done, rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, files: openFiles(), threads: threads() };
  rounds.push(row);
  const f = (x) => `${(x / MB).toFixed(1).padStart(7)} MB`;
  console.log(
    `round ${String(round).padStart(3)}  cycles ${String(done).padStart(6)}  rss ${f(row.rss)}  heapTotal ${f(row.heapTotal)}  heapUsed ${f(row.heapUsed)}  ` +
      `external ${f(row.external)}  arrayBuffers ${f(row.arrayBuffers)}  fds ${row.files}  threads ${row.threads}`,
  );
  return row;
}

const started = Date.now();
console.log(`soak: ${cycles} cycles in rounds of ${roundSize}, 784-${hidden}-10 networks; bound: rss growth after the warm-up round <= ${boundMB} MB`);
await settle();
record(0, 0);
let done = 0;
let baseline;
for (let round = 1; done < cycles; round++) {
  const n = Math.min(roundSize, cycles - done);
  for (let k = 0; k < n; k++) await cycle(done + k);
  done += n;
  await settle();
  const row = record(round, done);
  if (round === 1) baseline = row; // after the warm-up round
}
const end = rounds[rounds.length - 1];
const growth = (end.rss - baseline.rss) / MB;
const peak = Math.max(...rounds.slice(1).map((r) => r.rss)) / MB;
rmSync(dir, { recursive: true, force: true });

const problems = [];
if (growth > boundMB) problems.push(`rss grew ${growth.toFixed(1)} MB after warm-up, more than ${boundMB} MB`);
const heapGrowth = (end.heapUsed - baseline.heapUsed) / MB;
const externalGrowth = (end.external + end.arrayBuffers - baseline.external - baseline.arrayBuffers) / MB;
if (heapGrowth > 8) problems.push(`heapUsed grew ${heapGrowth.toFixed(1)} MB after warm-up, more than 8 MB`);
if (externalGrowth > 8) problems.push(`external + arrayBuffers grew ${externalGrowth.toFixed(1)} MB after warm-up, more than 8 MB`);
if (baseline.files >= 0 && end.files > baseline.files + 2) problems.push(`open files grew from ${baseline.files} to ${end.files}`);
if (baseline.threads >= 0 && end.threads > baseline.threads + 4) problems.push(`threads grew from ${baseline.threads} to ${end.threads}`);
const summary = {
  cycles,
  hidden,
  seconds: (Date.now() - started) / 1000,
  startRssMB: +(baseline.rss / MB).toFixed(1),
  endRssMB: +(end.rss / MB).toFixed(1),
  peakRssMB: +peak.toFixed(1),
  growthMB: +growth.toFixed(1),
  boundMB,
  startHeapUsedMB: +(baseline.heapUsed / MB).toFixed(1),
  endHeapUsedMB: +(end.heapUsed / MB).toFixed(1),
  startExternalMB: +(baseline.external / MB).toFixed(1),
  endExternalMB: +(end.external / MB).toFixed(1),
  files: [baseline.files, end.files],
  threads: [baseline.threads, end.threads],
  ok: problems.length === 0,
  problems,
};
console.log(`start (after warm-up) rss ${summary.startRssMB} MB, end rss ${summary.endRssMB} MB, growth ${summary.growthMB} MB (bound ${boundMB} MB)`);
console.log(`SOAK ${JSON.stringify(summary)}`);
if (problems.length > 0) {
  console.error(`soak FAILED: ${problems.join('; ')}`);
  process.exit(1);
}
