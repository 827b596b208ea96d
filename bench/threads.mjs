// node --expose-gc bench/threads.mjs [--reps N] [--root DIR] [--rows 784-32-10/10,784-256-128-10/100]
//
// The automatic thread count against fixed counts: one epoch of MNIST per
// run, from a fresh network (as `npm run bench` trains), the contenders
// interleaved round by round (1 thread, all threads, automatic) so a change
// in the machine's load hits them alike. Prints min and median per
// contender, and the count the automatic choice ended each epoch on.
// --root runs another checkout's build (e.g. --root /work/main, to compare).
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const root = path.resolve(option('--root', here));
const reps = Number(option('--reps', '3'));
const rows = option('--rows', '784-32-10/10,784-32-10/100,784-256-128-10/100')
  .split(',')
  .map((row) => {
    const [shape, batch] = row.split('/');
    return { shape: shape.split('-').map(Number), batch: Number(batch) };
  });
const hdrnn = createRequire(import.meta.url)(root);
const mnist = await hdrnn.loadMnist();
const all = availableParallelism();
const contenders = [1, all, 'auto'];

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => {
  const s = sorted(xs);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

console.log(`${root} (${hdrnn.kernels} kernels, ${all} CPUs), ${reps} interleaved rounds, one epoch each`);
console.log('shape              batch threads    min s  median s  runs (s) [auto: threads at the end]');
for (const { shape, batch } of rows) {
  const times = new Map(contenders.map((c) => [c, []]));
  const used = [];
  for (let r = 0; r < reps; r++) {
    // Rotated each round, so no contender always runs first (cold) or last.
    for (let i = 0; i < contenders.length; i++) {
      const threads = contenders[(i + r) % contenders.length];
      globalThis.gc?.();
      const net = new hdrnn.Network({ shape, seed: 1 });
      const report = await net.train(mnist.train, { epochs: 1, batchSize: batch, seed: 1, threads });
      times.get(threads).push(report.epochs[0].seconds);
      if (threads === 'auto') used.push(report.epochs[0].threads);
    }
  }
  for (const c of contenders) {
    const t = times.get(c);
    console.log(
      `${shape.join('-').padEnd(18)} ${String(batch).padStart(5)} ${String(c).padStart(7)} ${Math.min(...t).toFixed(4).padStart(8)} ${median(t).toFixed(4).padStart(9)}  ${t.map((x) => x.toFixed(3)).join(' ')}${c === 'auto' ? ` [${used.join(' ')}]` : ''}`,
    );
  }
}
