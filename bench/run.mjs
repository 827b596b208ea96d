// npm run bench [-- --quick] [-- --json FILE]
//
// Side by side, in one run on this machine: training time per 60,000-image
// epoch (fast path with 1 thread and all cores; the per-example reference
// path; TensorFlow.js wasm; NumPy when Debian's python3-numpy is there),
// inference throughput and latency, event-loop delay during training, peak
// RSS of `hdrnn train`, and the GFLOP/s achieved against a measured matmul
// peak; JAX is listed as unavailable, with the reason, when python3 cannot
// import it. It reports; it never fails because a machine is slow.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const hdrnn = require(root);
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : path.join(root, 'bench', 'results', 'latest.json');
const allThreads = availableParallelism();
const reps = quick ? 1 : 3;
const log = (s) => process.stderr.write(`${s}\n`);

/** FLOPs per example: forward 2*in*out per layer; backward the weight gradient (2*in*out) everywhere and the deltas (2*in*out) below the top layer. */
function trainFlops(shape) {
  let forward = 0;
  let deltas = 0;
  for (let l = 1; l < shape.length; l++) {
    forward += shape[l - 1] * shape[l];
    if (l >= 2) deltas += shape[l - 1] * shape[l];
  }
  return 2 * (2 * forward + deltas);
}
function inferFlops(shape) {
  let forward = 0;
  for (let l = 1; l < shape.length; l++) forward += shape[l - 1] * shape[l];
  return 2 * forward;
}
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

const mnist = await hdrnn.loadMnist();
const dataDir = hdrnn.defaultMnistDir();
const results = {
  machine: { cpu: cpus()[0]?.model, cores: allThreads, kernels: hdrnn.kernels, node: process.version, arch: process.arch },
  training: [],
  comparisons: [],
};

async function trainOnce(shape, batchSize, options) {
  const net = new hdrnn.Network({ shape, seed: 1 });
  const report = await net.train(mnist.train, { epochs: 1, batchSize, seed: 1, ...options });
  return { seconds: report.epochs[0].seconds, used: report.epochs[0].threads, net };
}

/** `reps` runs: the fastest (its network is the one evaluated), and the min and median seconds and threads used of all. */
async function best(shape, batchSize, options) {
  let bestRun;
  const runs = [];
  for (let r = 0; r < reps; r++) {
    const run = await trainOnce(shape, batchSize, options);
    runs.push(run);
    if (!bestRun || run.seconds < bestRun.seconds) bestRun = run;
  }
  const sorted = runs.map((r) => r.seconds).sort((a, b) => a - b);
  const median = sorted.length % 2 ? sorted[sorted.length >> 1] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  return { ...bestRun, median, used: runs.map((r) => r.used) };
}

// ------------------------------------------------------ parallel capacity
// How much faster N busy threads get through fixed work than one: on
// dedicated cores close to N; on shared or virtual CPUs it can be near 1,
// and then no amount of threading in the library can use "all cores".
async function spin(threads) {
  const code = `const { parentPort } = require('node:worker_threads');
    let x = 0; for (let i = 0; i < 3e8; i++) x = (x + i * 0.5) % 1e9; parentPort.postMessage(x);`;
  const start = performance.now();
  await Promise.all(Array.from({ length: threads }, () => new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true });
    w.once('message', resolve);
    w.once('error', reject);
  })));
  return (performance.now() - start) / 1000;
}
log('measuring the parallel capacity of this machine...');
{
  const one = await spin(1);
  const all = await spin(allThreads);
  results.parallelCapacity = { threads: allThreads, oneThreadSeconds: one, allThreadsSeconds: all, speedup: (one * allThreads) / all };
}

// ------------------------------------------------------------------ peak
log('measuring the matmul peak...');
let peak;
{
  // This package's own kernels on a large square product (inference of a
  // 1024-1024 layer over 16,384 rows: 34 GFLOP), all cores.
  const wide = new hdrnn.Network({ shape: [1024, 1024], seed: 1 });
  const rows = hdrnn.Dataset.from({ inputs: new Uint8Array(16384 * 1024).map((_, i) => (i * 2654435761) >>> 24), inputSize: 1024 });
  await wide.inferBatch(rows);
  let seconds = Infinity;
  for (let r = 0; r < 3; r++) {
    const t = process.hrtime.bigint();
    await wide.inferBatch(rows);
    seconds = Math.min(seconds, Number(process.hrtime.bigint() - t) / 1e9);
  }
  peak = { source: `hdrnn ${hdrnn.kernels} kernels, 16384x1024 by 1024x1024, ${allThreads} threads`, gflops: (2 * 16384 * 1024 * 1024) / seconds / 1e9 };
  const numpy = spawnSync('/usr/bin/python3', [path.join(root, 'bench', 'numpy_mlp.py'), '--peak'], { encoding: 'utf8', timeout: 120_000 });
  if (numpy.status === 0) {
    const p = JSON.parse(numpy.stdout);
    results.blasPeak = { source: `NumPy sgemm 2048x2048 (BLAS: ${p.blas})`, gflops: p.gflops };
    if (p.gflops > peak.gflops) peak = results.blasPeak;
  }
  results.peak = peak;
}

// -------------------------------------------------------------- training
const configs = [
  { shape: [784, 32, 10], batch: 10 },
  { shape: [784, 32, 10], batch: 100 },
  { shape: [784, 128, 10], batch: 100 },
  { shape: [784, 256, 128, 10], batch: 100 },
];
let reference32;
for (const { shape, batch } of configs) {
  for (const threads of [1, allThreads, 'auto']) {
    log(`training ${shape.join('-')} batch ${batch}, ${threads} thread(s)...`);
    const { seconds, median, net, used } = await best(shape, batch, { threads });
    const gflop = (trainFlops(shape) * 60000) / 1e9;
    const accuracy = (await net.evaluate(mnist.test)).accuracy;
    results.training.push({
      shape: shape.join('-'),
      batch,
      // The automatic choice: the count each run's epoch ended on.
      threads: threads === 'auto' ? `auto(${used.join(',')})` : threads,
      seconds,
      medianSeconds: median,
      imagesPerSecond: 60000 / seconds,
      gflops: gflop / seconds,
      shareOfPeak: gflop / seconds / peak.gflops,
      accuracy,
    });
  }
}

// ---------------------------------------------------------- comparisons
// The default configuration (automatic threads) is what the others are compared with.
const fast = (shape, batch) => results.training.find((r) => r.shape === shape && r.batch === batch && String(r.threads).startsWith('auto'));
{
  log('training 784-32-10 batch 10 with the per-example reference path (the seed\'s algorithm)...');
  const { seconds, net } = await trainOnce([784, 32, 10], 10, { algorithm: 'reference' });
  reference32 = seconds;
  const mine = fast('784-32-10', 10);
  results.comparisons.push({
    what: 'reference path (per example, plain C, 1 thread)',
    shape: '784-32-10',
    batch: 10,
    seconds,
    accuracy: (await net.evaluate(mnist.test)).accuracy,
    fastSeconds: mine.seconds,
    speedup: seconds / mine.seconds,
  });
}
for (const batch of [10, 100]) {
  log(`training 784-32-10 batch ${batch} with TensorFlow.js (wasm)...`);
  const tf = spawnSync(process.execPath, [path.join(root, 'bench', 'tfjs.cjs'), dataDir, '32', String(batch)], {
    encoding: 'utf8',
    timeout: 600_000,
    cwd: root,
  });
  const mine = fast('784-32-10', batch);
  if (tf.status === 0) {
    const r = JSON.parse(tf.stdout.trim().split('\n').pop());
    results.comparisons.push({ what: `TensorFlow.js ${r.backend} (simd ${r.simd}, threads ${r.threads})`, shape: '784-32-10', batch, seconds: r.seconds, accuracy: r.accuracy, fastSeconds: mine.seconds, speedup: r.seconds / mine.seconds });
  } else {
    results.comparisons.push({ what: 'TensorFlow.js wasm', batch, error: (tf.stderr || '').split('\n')[0] || 'failed' });
  }
}
for (const batch of [10, 100]) {
  const np = spawnSync('/usr/bin/python3', [path.join(root, 'bench', 'numpy_mlp.py'), dataDir, '32', String(batch)], { encoding: 'utf8', timeout: 600_000 });
  if (np.status !== 0) break; // no NumPy on this machine
  log(`trained 784-32-10 batch ${batch} with NumPy`);
  const r = JSON.parse(np.stdout);
  const mine = fast('784-32-10', batch);
  results.comparisons.push({ what: `NumPy (BLAS: ${r.blas})`, shape: '784-32-10', batch, seconds: r.seconds, accuracy: r.accuracy, fastSeconds: mine.seconds, speedup: r.seconds / mine.seconds });
}

// JAX (jit + lax.scan) is compared only where it can be imported; say why not.
{
  const jax = spawnSync('/usr/bin/python3', ['-c', 'import jax; print(jax.__version__)'], { encoding: 'utf8', timeout: 120_000 });
  if (jax.status !== 0) {
    const why = (jax.error?.message ?? (jax.stderr || '').trim().split('\n').pop()) || `exit ${jax.status}`;
    results.comparisons.push({ what: 'JAX (jit + lax.scan)', batch: '-', error: `unavailable: python3 -c 'import jax' failed (${why}); pip install jax to compare` });
  } else {
    results.comparisons.push({ what: `JAX ${jax.stdout.trim()} (jit + lax.scan)`, batch: '-', error: 'importable, but this bench has no JAX trainer yet' });
  }
}

// ------------------------------------------------------------- inference
{
  log('inference...');
  const net = new hdrnn.Network({ shape: [784, 32, 10], seed: 1 });
  await net.train(mnist.train, { epochs: 1, seed: 1 });
  const evals = [];
  for (let r = 0; r < (quick ? 10 : 30); r++) {
    const t = process.hrtime.bigint();
    await net.evaluate(mnist.test);
    evals.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  evals.sort((a, b) => a - b);
  const image = mnist.test.input(0);
  const lat = [];
  for (let i = 0; i < 200; i++) await net.infer(image);
  for (let i = 0; i < (quick ? 2000 : 10000); i++) {
    const t = process.hrtime.bigint();
    await net.infer(image);
    lat.push(Number(process.hrtime.bigint() - t) / 1e3);
  }
  lat.sort((a, b) => a - b);
  results.inference = {
    evaluate10kMs: evals[evals.length >> 1],
    imagesPerSecond: 10000 / (evals[evals.length >> 1] / 1000),
    gflops: (inferFlops([784, 32, 10]) * 10000) / (evals[evals.length >> 1] / 1000) / 1e9,
    singleInferMedianUs: percentile(lat, 0.5),
    singleInferP99Us: percentile(lat, 0.99),
  };
}

// ------------------------------------------------------- event-loop delay
{
  log('event-loop delay during training...');
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const tick = setInterval(() => {}, 1);
  histogram.enable();
  const net = new hdrnn.Network({ shape: [784, 32, 10], seed: 1 });
  const report = await net.train(mnist.train, { epochs: quick ? 3 : 10, seed: 1 });
  histogram.disable();
  clearInterval(tick);
  results.eventLoopDelay = {
    during: `${report.epochs.length} epochs of 784-32-10 batch 10, automatic threads (${report.seconds.toFixed(2)} s)`,
    p50Ms: histogram.percentile(50) / 1e6,
    p99Ms: histogram.percentile(99) / 1e6,
    maxMs: histogram.max / 1e6,
  };
}

// ------------------------------------------------------------------- RSS
{
  log('peak RSS of `hdrnn train` on all of MNIST (3 runs)...');
  const dir = mkdtempSync(path.join(tmpdir(), 'hdrnn-bench-'));
  // The child's own peak: on Linux VmHWM from /proc (getrusage's maxRSS of a
  // spawned process starts from its parent's RSS at fork, which here is the
  // benchmark's own, with MNIST and many networks loaded).
  const script = `
    const fs = require('node:fs');
    const peakKb = () => {
      try { return Number(/VmHWM:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]); }
      catch { return process.resourceUsage().maxRSS; }
    };
    const { main } = require(${JSON.stringify(path.join(root, 'dist', 'cli.js'))});
    const sink = { write() { return true; } };
    main(['train', '-e', '1', '--seed', '1', '-n', ${JSON.stringify(path.join(dir, 'n.nn'))}], { out: sink, err: sink })
      .then((code) => { process.stdout.write(JSON.stringify({ code, maxRssKb: peakKb() })); });`;
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 300_000 });
    if (r.status === 0) runs.push(JSON.parse(r.stdout).maxRssKb / 1024);
  }
  rmSync(dir, { recursive: true, force: true });
  if (runs.length > 0) {
    runs.sort((a, b) => a - b);
    results.peakRss = {
      command: 'hdrnn train -e 1 (60,000 + 10,000 images, per-epoch test)',
      megabytes: runs[runs.length >> 1],
      runs,
    };
  }
}

// ---------------------------------------------------------------- report
const f = (x, d = 3) => (x === undefined ? '-' : Number(x).toFixed(d));
const lines = [];
lines.push(`hdrnn-native ${hdrnn.version} bench on ${results.machine.cpu} (${allThreads} cores, ${hdrnn.kernels} kernels, Node ${process.version})`);
lines.push(
  `parallel capacity: ${allThreads} threads do ${f(results.parallelCapacity.speedup, 2)}x the work of one in the same time ` +
    `(a fixed loop: ${f(results.parallelCapacity.oneThreadSeconds, 2)} s on one thread, ${f(results.parallelCapacity.allThreadsSeconds, 2)} s for ${allThreads} copies on ${allThreads})`,
);
lines.push(`matmul peak: ${f(peak.gflops, 1)} GFLOP/s (${peak.source})`);
if (results.blasPeak && results.blasPeak !== peak) lines.push(`             ${f(results.blasPeak.gflops, 1)} GFLOP/s (${results.blasPeak.source})`);
lines.push('');
lines.push('training, one epoch of 60,000 images (min and median of ' + reps + '; rates from the min; auto(...) = the count each run ended on)');
lines.push('shape              batch threads          min s  median s   images/s   GFLOP/s  of peak  test acc');
for (const r of results.training) {
  lines.push(
    `${r.shape.padEnd(18)} ${String(r.batch).padStart(5)} ${String(r.threads).padStart(14)} ${f(r.seconds, 4).padStart(9)} ${f(r.medianSeconds, 4).padStart(9)} ${Math.round(r.imagesPerSecond).toString().padStart(10)} ${f(r.gflops, 1).padStart(9)} ${(r.shareOfPeak * 100).toFixed(0).padStart(7)}% ${(r.accuracy * 100).toFixed(2).padStart(8)}%`,
  );
}
lines.push('');
lines.push('the same network trained by others (784-32-10, one epoch)');
lines.push('what                                              batch   s/epoch  test acc   hdrnn s  hdrnn is');
for (const c of results.comparisons) {
  if (c.error) {
    lines.push(`${c.what.padEnd(49)} ${String(c.batch).padStart(5)}  error: ${c.error}`);
    continue;
  }
  lines.push(`${c.what.slice(0, 49).padEnd(49)} ${String(c.batch).padStart(5)} ${f(c.seconds, 3).padStart(9)} ${(c.accuracy * 100).toFixed(2).padStart(8)}% ${f(c.fastSeconds, 4).padStart(9)} ${f(c.speedup, 1).padStart(7)}x faster`);
}
lines.push('');
const inf = results.inference;
lines.push(`inference: evaluate 10k test images ${f(inf.evaluate10kMs, 2)} ms (${Math.round(inf.imagesPerSecond)} images/s, ${f(inf.gflops, 1)} GFLOP/s); single await net.infer(): median ${f(inf.singleInferMedianUs, 1)} us, p99 ${f(inf.singleInferP99Us, 1)} us`);
const el = results.eventLoopDelay;
lines.push(`event-loop delay during training (${el.during}): p50 ${f(el.p50Ms, 2)} ms, p99 ${f(el.p99Ms, 2)} ms, max ${f(el.maxMs, 2)} ms`);
if (results.peakRss) {
  lines.push(`peak RSS of ${results.peakRss.command}: ${f(results.peakRss.megabytes, 1)} MB (median of ${results.peakRss.runs.map((r) => f(r, 1)).join(', ')})`);
}
void reference32;
process.stdout.write(`${lines.join('\n')}\n`);
mkdirSync(path.dirname(jsonOut), { recursive: true });
writeFileSync(jsonOut, `${JSON.stringify(results, null, 2)}\n`);
log(`(results also in ${path.relative(process.cwd(), jsonOut)})`);
