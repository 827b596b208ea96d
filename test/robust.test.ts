/**
 * Issue 11: a 1 GB device survives anything. Bounded working memory, bounded
 * event queues, no JavaScript-thread stalls, safe saves, a raw addon that is
 * memory-safe whatever `this` is.
 *
 * Memory is measured in child processes (their peak RSS from
 * process.resourceUsage().maxRSS, so nothing else in this process blurs
 * it); each child loads the built package (dist/) and prints one JSON line.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';

import { Dataset, ErrorCodes, Network, bandData, cpuCount, tempDir } from './helpers';

const ROOT = path.resolve(__dirname, '..');
const { dir, cleanup } = tempDir('hdrnn-robust-');
afterAll(cleanup);

/** Runs `body` (CommonJS, with `hdrnn` = the built package, `B` = the raw addon) in a child; returns its last JSON line. */
function child(body: string, options: { timeout?: number; prefix?: string[] } = {}): Record<string, unknown> {
  const script = `
    const hdrnn = require(${JSON.stringify(path.join(ROOT, 'dist/index.js'))});
    const B = require(${JSON.stringify(path.join(ROOT, 'build/Release/hdrnn.node'))});
    const peakMB = () => process.resourceUsage().maxRSS / 1024;
    const rssMB = () => process.memoryUsage().rss / 2 ** 20;
    const out = (o) => console.log(JSON.stringify(o));
    (async () => { ${body} })().catch((e) => { out({ uncaught: String(e && e.stack || e), code: e && e.code }); process.exitCode = 3; });
  `;
  const [cmd, ...args] = [...(options.prefix ?? []), process.execPath, '--expose-gc', '-e', script];
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: options.timeout ?? 60_000, maxBuffer: 1 << 24 });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  if (!last.startsWith('{')) throw new Error(`child failed (status ${r.status}, signal ${r.signal}): ${r.stderr.slice(0, 2000)}`);
  return { ...JSON.parse(last), status: r.status, signal: r.signal };
}

/** An IDX images header: count images of rows x cols. */
function idxHeader(count: number, rows: number, cols: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(0x00000803, 0);
  b.writeUInt32BE(count, 4);
  b.writeUInt32BE(rows, 8);
  b.writeUInt32BE(cols, 12);
  return b;
}

describe('memory: nothing is allocated because a header or an argument says so', () => {
  it('a gzip bomb whose IDX header promises ~1 GiB is refused after a few bytes, before allocating', () => {
    const bomb = path.join(dir, 'bomb-images.gz');
    writeFileSync(bomb, gzipSync(idxHeader(1_000_000, 28, 28))); // 784 MB promised, 30-odd bytes on disk
    const labels = path.join(dir, 'bomb-labels');
    writeFileSync(labels, Buffer.from([0, 0, 8, 1, 0, 0, 0, 1, 0]));
    const r = child(`
      const before = peakMB();
      const e = await hdrnn.loadIdx(${JSON.stringify(bomb)}, ${JSON.stringify(labels)}).then(() => null, (e) => e);
      out({ code: e && e.code, message: e && e.message, grewMB: peakMB() - before });
    `);
    console.log(`gzip bomb (784 MB promised): ${r.code}, peak RSS grew ${(r.grewMB as number).toFixed(1)} MB`);
    expect(r.code).toBe(ErrorCodes.LIMIT);
    expect(r.grewMB).toBeLessThan(32);
  });

  it('gunzip output grows with the data actually received, not with what the header claims', () => {
    // 100,000 images promised (78 MB, under every limit), 10 delivered.
    const liar = path.join(dir, 'liar-images.gz');
    writeFileSync(liar, gzipSync(Buffer.concat([idxHeader(100_000, 28, 28), Buffer.alloc(10 * 784, 7)])));
    const labels = path.join(dir, 'liar-labels');
    writeFileSync(labels, Buffer.concat([Buffer.from([0, 0, 8, 1, 0, 1, 0x86, 0xa0]), Buffer.alloc(100_000)]));
    const r = child(`
      const before = peakMB();
      const e = await hdrnn.loadIdx(${JSON.stringify(liar)}, ${JSON.stringify(labels)}).then(() => null, (e) => e);
      out({ code: e && e.code, message: e && e.message, grewMB: peakMB() - before });
    `);
    console.log(`lying gzip (78 MB promised, 8 kB sent): ${r.code}, peak RSS grew ${(r.grewMB as number).toFixed(1)} MB`);
    expect(r.code).toBe(ErrorCodes.BAD_FILE);
    expect(r.message).toMatch(/truncated/);
    expect(r.grewMB).toBeLessThan(32);
  });

  it('evaluate, inferBatch and train obey limits.maxWorkingBytes before allocating', async () => {
    const limits = { maxWorkingBytes: 2 ** 20 }; // 1 MiB
    const wide = new Network({ shape: [1, 2 ** 16], seed: 1, limits });
    // 100 inputs x 65536 scores = 25 MiB of results.
    await expect(wide.inferBatch(new Float32Array(100))).rejects.toMatchObject({ code: ErrorCodes.LIMIT, message: /maxWorkingBytes/ });
    const deep = new Network({ shape: [1, 2 ** 14, 2], seed: 1, limits });
    const data = Dataset.from({ inputs: new Float32Array(128), labels: new Uint8Array(128), inputSize: 1 });
    await expect(deep.evaluate(data, { threads: 1 })).rejects.toMatchObject({ code: ErrorCodes.LIMIT });
    await expect(deep.train(data, { epochs: 1, batchSize: 100 })).rejects.toMatchObject({ code: ErrorCodes.LIMIT });
    // Small work on the same networks still runs.
    expect((await wide.inferBatch(new Float32Array(1))).length).toBe(1);
    expect((await deep.evaluate(data.slice(0, 4), { threads: 1 })).total).toBe(4);
  });

  it('the default cap stops [1, 2^20, 1] from taking hundreds of MB for 128 examples', () => {
    const r = child(`
      const net = new hdrnn.Network({ shape: [1, 2 ** 20, 1], seed: 1 });
      const data = hdrnn.Dataset.from({ inputs: new Float32Array(128), labels: new Uint8Array(128), inputSize: 1 });
      const before = peakMB();
      const e = await net.evaluate(data).then(() => null, (e) => e);
      const t = await net.train(data, { epochs: 1, batchSize: 100 }).then(() => null, (e) => e);
      out({ evaluate: e && e.code, train: t && t.code, grewMB: peakMB() - before });
    `);
    console.log(`[1, 2^20, 1] on 128 examples: evaluate ${r.evaluate}, train ${r.train}, peak RSS grew ${(r.grewMB as number).toFixed(1)} MB`);
    expect(r.evaluate).toBe(ErrorCodes.LIMIT);
    expect(r.train).toBe(ErrorCodes.LIMIT);
    expect(r.grewMB).toBeLessThan(64);
  });

  it('one confusion matrix, only for up to 1024 outputs: [1, 4096] on one example stays small', () => {
    const r = child(`
      const net = new hdrnn.Network({ shape: [1, 4096], seed: 1 });
      const data = hdrnn.Dataset.from({ inputs: new Float32Array(1), labels: new Uint32Array([5]), inputSize: 1 });
      const before = peakMB();
      const ev = await net.evaluate(data, { threads: 64 });
      out({ total: ev.total, rows: ev.confusion.length, row0: ev.confusion[0].length, grewMB: peakMB() - before });
    `);
    console.log(`[1, 4096] evaluate with threads 64: peak RSS grew ${(r.grewMB as number).toFixed(1)} MB`);
    expect(r.total).toBe(1);
    expect(r.row0).toBe(0); // no confusion counts for more than 1024 outputs
    expect(r.grewMB).toBeLessThan(64);
  });

  it('threads above the CPU count are capped (1000 threads used to never finish)', async () => {
    const problem = bandData(100, 16, 2, 3);
    const data = Dataset.from({ inputs: problem.inputs, labels: problem.labels, inputSize: 16 });
    const net = new Network({ shape: [16, 4, 2], seed: 1 });
    const report = await net.train(data, { epochs: 1, batchSize: 10, threads: 1000 });
    expect(report.epochs[0].threads).toBeLessThanOrEqual(cpuCount());
    expect((await net.evaluate(data, { threads: 1000 })).total).toBe(100);
  }, 30_000);
});

describe('training events: a bounded queue', () => {
  it('a JavaScript thread that falls behind does not make the queue grow; abort settles at once', () => {
    const r = child(`
      const net = new hdrnn.Network({ shape: [1, 1], seed: 1 });
      const data = hdrnn.Dataset.from({ inputs: new Float32Array(1000), labels: new Uint8Array(1000), inputSize: 1 });
      const controller = new AbortController();
      let progress = 0;
      const run = net.train(data, { epochs: 1e6, batchSize: 1, progressEvery: 1, onProgress: () => progress++, signal: controller.signal });
      await new Promise((r) => setTimeout(r, 100));
      global.gc();
      const before = rssMB();
      const until = Date.now() + 1500;
      while (Date.now() < until); // a busy JavaScript thread
      const grew = rssMB() - before;
      const t0 = Date.now();
      controller.abort();
      const e = await run.then(() => null, (e) => e);
      out({ grewMB: grew, settleMs: Date.now() - t0, name: e && e.name, progress });
    `);
    console.log(`1.5 s busy JS thread, progress every mini-batch: RSS grew ${(r.grewMB as number).toFixed(1)} MB; abort settled in ${r.settleMs} ms`);
    expect(r.name).toBe('AbortError');
    expect(r.grewMB).toBeLessThan(20);
    expect(r.settleMs).toBeLessThan(1000);
  });

  it('epoch reports are never dropped, but the trainer waits for them instead of piling them up', () => {
    const r = child(`
      const net = new hdrnn.Network({ shape: [1, 1], seed: 1 });
      const data = hdrnn.Dataset.from({ inputs: new Float32Array(1), labels: new Uint8Array(1), inputSize: 1 });
      const controller = new AbortController();
      let seen = 0, inOrder = true;
      const run = net.train(data, { epochs: 1e6, signal: controller.signal, onEpoch: (e) => { seen++; if (e.epoch !== seen) inOrder = false; } });
      await new Promise((r) => setTimeout(r, 100));
      global.gc();
      const before = rssMB();
      const until = Date.now() + 1500;
      while (Date.now() < until);
      const grew = rssMB() - before;
      controller.abort();
      const e = await run.then(() => null, (e) => e);
      out({ grewMB: grew, name: e && e.name, seen, reported: e && e.report && e.report.epochs.length, inOrder });
    `);
    console.log(`1e6 epochs of one example, 1.5 s busy JS thread: RSS grew ${(r.grewMB as number).toFixed(1)} MB; ${r.seen} epoch reports`);
    expect(r.name).toBe('AbortError');
    expect(r.inOrder).toBe(true);
    expect(r.seen).toBe(r.reported);
    expect(r.grewMB).toBeLessThan(20);
  });

  it('abort() during the end-of-epoch test evaluation stops the evaluation too', async () => {
    const problem = bandData(20_000, 784, 10, 4);
    const test = Dataset.from({ inputs: problem.inputs, labels: problem.labels, inputSize: 784 });
    const train = test.slice(0, 10);
    const net = new Network({ shape: [784, 512, 10], seed: 1 });
    const controller = new AbortController();
    let abortedAt = 0;
    const started = performance.now();
    const error = await net
      .train(train, {
        epochs: 1,
        batchSize: 10,
        testData: test,
        progressEvery: 1,
        signal: controller.signal,
        // The last mini-batch's progress comes just before the test evaluation.
        onProgress: (p) => {
          if (p.batch === p.batches) {
            abortedAt = performance.now();
            controller.abort();
          }
        },
      })
      .then(() => null, (e: unknown) => e as Error & { report?: { epochs: unknown[] } });
    const settle = performance.now() - abortedAt;
    console.log(`abort during a 20,000-example evaluation of 784-512-10: settled ${settle.toFixed(0)} ms after abort (${(performance.now() - started).toFixed(0)} ms in all)`);
    expect(error?.name).toBe('AbortError');
    // The evaluation did not run to its end: no epoch report was made.
    expect(error?.report?.epochs).toEqual([]);
  });
});

describe('the JavaScript thread never stalls on big files', () => {
  // Two measures per call. The event-loop delay (monitorEventLoopDelay) is
  // what a service feels, but on a small VM it also counts time the thread
  // spent runnable, waiting for a CPU: while any process pages through 64 MB
  // (Node's own fs.readFile, or another process altogether) an idle event
  // loop here shows 4-9 ms. So the 5 ms target is checked on the thread's
  // own CPU time (CLOCK_THREAD_CPUTIME_ID): the longest stretch of it
  // between two ticks of a 1 ms timer bounds how long any one piece of our
  // work held the thread. Each call is measured three times and keeps its best: work
  // that blocks the thread does so every time, a busy machine does not.
  it('load and save of a 64 MB network, loadMnist, readPgm and decodePgm of a 64 MiB P5, Dataset.fromAsync of 47 MB, Network.create of 16.7 M weights hold the thread under 5 ms at a time', () => {
    const pgm = path.join(dir, 'big.pgm');
    const side = 8192;
    const header = Buffer.from(`P5\n${side} ${side}\n255\n`);
    writeFileSync(pgm, Buffer.concat([header, Buffer.alloc(side * side, 128)]));
    const netFile = path.join(dir, 'big.nn');
    const r = child(`
      const fs = require('node:fs');
      const { monitorEventLoopDelay } = require('node:perf_hooks');
      const cpuNs = () => B.threadCpuTime();
      const pgmBytes = fs.readFileSync(${JSON.stringify(pgm)});
      const limits = { maxPixels: 2 ** 26, maxWorkingBytes: 2 ** 28 };
      const net = new hdrnn.Network({ shape: [784, 21000, 10], seed: 1 }); // 16.7 M parameters, 64 MB
      const measure = async (fn) => {
        await new Promise((r) => setTimeout(r, 20));
        const h = monitorEventLoopDelay({ resolution: 1 });
        let last = cpuNs();
        let held = 0;
        const t = setInterval(() => { const now = cpuNs(); held = Math.max(held, now - last); last = now; }, 1);
        h.enable();
        await fn();
        await new Promise((r) => setTimeout(r, 5));
        clearInterval(t);
        h.disable();
        held = Math.max(held, cpuNs() - last);
        return { held: held / 1e6, delay: h.max / 1e6 };
      };
      const best = async (fn) => {
        const m = [];
        for (let i = 0; i < 3; i++) { m.push(await measure(fn)); global.gc(); }
        return { held: Math.min(...m.map((x) => x.held)), delay: Math.min(...m.map((x) => x.delay)) };
      };
      const res = {};
      res.save = await best(() => net.save(${JSON.stringify(netFile)}, { format: 'v2' }));
      res.load = await best(() => hdrnn.Network.load(${JSON.stringify(netFile)}));
      res.loadMnist = await best(() => hdrnn.loadMnist());
      res.readPgm = await best(() => hdrnn.readPgm(${JSON.stringify(pgm)}, { limits }));
      res.decodePgm = await best(() => hdrnn.decodePgm(pgmBytes, { limits }));
      res.create = await best(() => hdrnn.Network.create({ shape: [784, 21000, 10], seed: 2 }).then((n) => n.dispose()));
      const mnistBytes = new Uint8Array(47_040_000).fill(9); // MNIST's training images, as one array
      res.fromAsync = await best(() => hdrnn.Dataset.fromAsync({ inputs: mnistBytes, inputSize: 784 }));
      // For scale: Node's own read of the same 64 MiB file, and an idle loop.
      res.nodeReadFile = await best(() => fs.promises.readFile(${JSON.stringify(pgm)}));
      res.idle = await best(() => new Promise((r) => setTimeout(r, 250)));
      out(res);
    `, { timeout: 120_000 });
    const line = (k: string) => { const x = r[k] as { held: number; delay: number }; return `${k} ${x.held.toFixed(1)} / ${x.delay.toFixed(1)}`; };
    console.log(`longest JS-thread CPU stretch / worst event-loop delay (ms, best of 3): ${['save', 'load', 'loadMnist', 'readPgm', 'decodePgm', 'fromAsync', 'create', 'nodeReadFile', 'idle'].map(line).join('; ')}`);
    for (const key of ['save', 'load', 'loadMnist', 'readPgm', 'decodePgm', 'fromAsync', 'create']) {
      const x = r[key] as { held: number; delay: number };
      expect(x.held, `${key}: JS-thread CPU in one stretch`).toBeLessThan(5);
      // A real stall shows in both; this bound only catches gross ones on a busy host.
      expect(x.delay, `${key}: event-loop delay`).toBeLessThan(50);
    }
  }, 150_000);

  it('Network.create makes the network new Network makes, with its weights set on the pool; the raw addon refuses a network whose weights are not set', async () => {
    for (const options of [{ shape: [30, 7, 4], seed: 11 }, { shape: [5, 9, 3], seed: 3n, activations: ['relu', 'softmax'], loss: 'cross-entropy', init: 'he' }]) {
      const a = new Network(options as never);
      const b = await Network.create(options as never);
      expect(Buffer.compare(await a.toBuffer(), await b.toBuffer())).toBe(0);
      expect(b.shape).toEqual(a.shape);
    }
    await expect(Network.create({ shape: [0, 2] } as never)).rejects.toMatchObject({ code: ErrorCodes.OUT_OF_RANGE });
    const { native } = await import('../lib/binding');
    const raw = new native.NativeNetwork([4, 3], 1n, {}, undefined, true);
    expect(() => raw.parameterCount).toThrow(expect.objectContaining({ code: ErrorCodes.BUSY }));
    expect(() => raw.encode('v2')).toThrow(expect.objectContaining({ code: ErrorCodes.BUSY }));
    const setting = raw.initWeights();
    expect(() => raw.initWeights()).toThrow(expect.objectContaining({ code: ErrorCodes.BUSY }));
    await setting;
    expect(raw.parameterCount).toBe(15);
    expect(() => raw.initWeights()).toThrow(expect.objectContaining({ code: ErrorCodes.BUSY }));
  });

  it('decodePgm refuses a buffer detached while it is being copied, and one over maxFileBytes', async () => {
    const { decodePgm } = await import('./helpers');
    const side = 2048; // 4 MiB: copied in slices, with turns of the event loop between them
    const image = Buffer.concat([Buffer.from(`P5\n${side} ${side}\n255\n`), Buffer.alloc(side * side, 7)]);
    const data = new Uint8Array(image.length);
    data.set(image);
    const pending = decodePgm(data);
    structuredClone(data.buffer, { transfer: [data.buffer] });
    await expect(pending).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARG_VALUE, message: /detached/ });
    await expect(decodePgm(image, { limits: { maxFileBytes: 1 << 20 } })).rejects.toMatchObject({ code: ErrorCodes.LIMIT });
    const ok = await decodePgm(image);
    expect([ok.width, ok.height, ok.pixels[12345]]).toEqual([side, side, expect.closeTo(7 / 255, 6)]);
  });
});

describe('files', () => {
  it('save() never replaces a FIFO, a folder or a device node, and names the path', async () => {
    const net = new Network({ shape: [2, 2], seed: 1 });
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    await expect(net.save(fifo)).rejects.toMatchObject({ code: ErrorCodes.NOT_REGULAR_FILE, message: new RegExp(fifo) });
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    const folder = path.join(dir, 'folder');
    mkdirSync(folder);
    await expect(net.save(folder)).rejects.toMatchObject({ code: ErrorCodes.NOT_REGULAR_FILE });
    expect(statSync(folder).isDirectory()).toBe(true);
    await expect(net.save(path.join(dir, 'missing', 'x.nn'))).rejects.toMatchObject({ code: ErrorCodes.NOT_REGULAR_FILE, message: /does not exist/ });
    if (process.getuid?.() === 0) {
      // As root (usual on ECUs) a rename would replace a device node with a file.
      const device = path.join(dir, 'null-device');
      execFileSync('mknod', [device, 'c', '1', '3']);
      await expect(net.save(device)).rejects.toMatchObject({ code: ErrorCodes.NOT_REGULAR_FILE, message: /device/ });
      expect(lstatSync(device).isCharacterDevice()).toBe(true);
    }
  });

  it('the native writer creates a new file only (O_EXCL), writes every byte, and names the path in errors', async () => {
    const { native } = await import('../lib/binding');
    const file = path.join(dir, 'written.bin');
    const data = new Uint8Array(3 << 20).map((_, i) => (i * 31) & 0xff);
    await native.writeNewFile(file, data, 0o600);
    expect(Buffer.compare(readFileSync(file), Buffer.from(data))).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // An existing file is never opened for writing, let alone truncated.
    await expect(native.writeNewFile(file, new Uint8Array(1), 0o644)).rejects.toMatchObject({ code: 'EEXIST', message: new RegExp(`open '${file}'`) });
    expect(statSync(file).size).toBe(data.length);
    const bytes = await native.allocBytes(10);
    new Uint8Array(bytes.view()).set([1, 2, 3]);
    await native.writeNewFile(path.join(dir, 'from-native.bin'), bytes, 0o644);
    expect([...readFileSync(path.join(dir, 'from-native.bin'))]).toEqual([1, 2, 3, 0, 0, 0, 0, 0, 0, 0]);
    await expect(native.writeNewFile(path.join(dir, 'missing', 'x'), data, 0o644)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => native.writeNewFile(path.join(dir, 'y'), new Float32Array(2) as never, 0o644)).toThrow(TypeError);
    expect(() => native.writeNewFile(path.join(dir, 'y'), data, 0o10000)).toThrow(RangeError);
    expect(() => native.writeNewFile('a\0b', data, 0o644)).toThrow(TypeError);
  });

  it('save() through a symbolic link replaces the target atomically and keeps the link', async () => {
    const net = new Network({ shape: [2, 3, 2], seed: 5 });
    const targets = path.join(dir, 'targets');
    mkdirSync(targets);
    const target = path.join(targets, 'model.nn');
    writeFileSync(target, 'old');
    const link = path.join(dir, 'current.nn');
    symlinkSync(target, link);
    await net.save(link);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(target);
    expect((await Network.load(target)).shape).toEqual([2, 3, 2]);
    // A dangling link: the file it names is created.
    const dangling = path.join(dir, 'next.nn');
    symlinkSync(path.join(targets, 'new.nn'), dangling);
    await net.save(dangling);
    expect(lstatSync(dangling).isSymbolicLink()).toBe(true);
    expect(existsSync(path.join(targets, 'new.nn'))).toBe(true);
  });

  it('a FIFO is refused before reading (it used to block a libuv thread forever); /proc files are read', async () => {
    const fifo = path.join(dir, 'fifo-in');
    execFileSync('mkfifo', [fifo]);
    const timeout = new Promise((resolve) => setTimeout(() => resolve('timed out'), 5000));
    const outcome = await Promise.race([Network.load(fifo).then(() => 'loaded', (e: { code?: string }) => e.code), timeout]);
    // Unblock a reader stuck in open() (there is none once the bug is fixed).
    const writer = spawn('sh', ['-c', `exec 3>"${fifo}"; sleep 0.2`], { stdio: 'ignore' });
    setTimeout(() => writer.kill(), 3000).unref();
    expect(outcome).toBe(ErrorCodes.NOT_REGULAR_FILE);
    await expect(readPgmOf('/proc/self/status')).rejects.toMatchObject({ code: ErrorCodes.BAD_FILE, message: expect.not.stringMatching(/empty|0 bytes/i) });
    // Longer than the first 64 KiB buffer: read to its end (the buffer grows), and capped.
    expect(readFileSync('/proc/self/smaps').length).toBeGreaterThan(64 * 1024);
    await expect(readPgmOf('/proc/self/smaps')).rejects.toMatchObject({ code: ErrorCodes.BAD_FILE });
    const { readPgm } = await import('./helpers');
    await expect(readPgm('/proc/self/smaps', { limits: { maxFileBytes: 70_000 } })).rejects.toMatchObject({ code: ErrorCodes.LIMIT });
  });
});

async function readPgmOf(file: string) {
  const { readPgm } = await import('./helpers');
  return readPgm(file);
}

describe('the raw addon checks `this`', () => {
  it('every NativeNetwork and NativeBytes method and accessor refuses an object of another class', () => {
    const r = child(`
      const bytes = new B.NativeBytes(64);
      const net = new B.NativeNetwork([2, 2], 1n);
      const results = {};
      const tryIt = (name, fn) => { try { const v = fn(); results[name] = 'returned ' + typeof v; if (v && typeof v.catch === 'function') v.catch(() => {}); } catch (e) { results[name] = e.code; } };
      for (const [proto, others] of [[B.NativeNetwork.prototype, [bytes, {}, Object.create(B.NativeNetwork.prototype)]], [B.NativeBytes.prototype, [net, {}]]]) {
        for (const key of Object.getOwnPropertyNames(proto)) {
          if (key === 'constructor') continue;
          const d = Object.getOwnPropertyDescriptor(proto, key);
          others.forEach((other, i) => tryIt(key + '#' + i, () => (d.get ? d.get.call(other) : d.value.call(other, 'v2'))));
        }
      }
      out({ results, count: Object.keys(results).length });
    `);
    expect(r.status).toBe(0);
    expect(r.count).toBeGreaterThanOrEqual(20);
    for (const [name, code] of Object.entries(r.results as Record<string, string>)) expect(code, name).toBe('ERR_INVALID_ARG_TYPE');
  });
});

describe('smaller holes', () => {
  it('labels are read once: a getter cannot pass the check and store another value', () => {
    let reads = 0;
    const labels = [0, 1];
    Object.defineProperty(labels, 0, { get: () => (reads++ === 0 ? 1 : 200), enumerable: true });
    const ds = Dataset.from({ inputs: new Uint8Array(2), labels, inputSize: 1 });
    expect(reads).toBe(1);
    expect(ds.classes).toBe(2);
    expect([...ds.labels!]).toEqual([1, 1]);
  });

  it('a typed-array subclass with a lying length cannot make inferBatch return more results than rows', async () => {
    class Lying extends Float32Array {
      override get length(): number {
        return 1000;
      }
    }
    const net = new Network({ shape: [1, 2], seed: 1 });
    const lying = new Lying(1);
    expect((await net.inferBatch(lying)).length).toBe(1);
    await expect(net.infer(new Lying(1))).resolves.toMatchObject({ label: expect.any(Number) });
  });

  it('learningRate 1e-50 (0 as a float32) is refused up front as out of range', async () => {
    const net = new Network({ shape: [1, 2], seed: 1 });
    const data = Dataset.from({ inputs: new Float32Array(2), labels: new Uint8Array([0, 1]), inputSize: 1 });
    await expect(net.train(data, { epochs: 1, learningRate: 1e-50 })).rejects.toMatchObject({ name: 'RangeError', code: ErrorCodes.OUT_OF_RANGE });
  });

  it('a Proxy of a Float32Array is called what it is, not "detached"', async () => {
    const net = new Network({ shape: [2, 2], seed: 1 });
    const proxy = new Proxy(new Float32Array(2), {});
    await expect(net.infer(proxy)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARG_TYPE, message: /Proxy/ });
  });
});

describe('dispose', () => {
  it('frees the native memory at once; later calls fail with ERR_HDRNN_DISPOSED', async () => {
    const r = child(`
      const net = new hdrnn.Network({ shape: [1000, 16000, 10], seed: 1 }); // 64 MB
      const before = rssMB();
      net.dispose();
      const after = rssMB();
      const e = await net.infer(new Float32Array(1000)).then(() => null, (e) => e);
      let sync; try { net.parameterCount; } catch (x) { sync = x.code; }
      out({ freedMB: before - after, code: e && e.code, sync, disposed: net.disposed, again: (net.dispose(), 'ok') });
    `);
    console.log(`dispose() of a 64 MB network: RSS fell ${(r.freedMB as number).toFixed(1)} MB`);
    expect(r.code).toBe(ErrorCodes.DISPOSED);
    expect(r.sync).toBe(ErrorCodes.DISPOSED);
    expect(r.disposed).toBe(true);
    expect(r.freedMB).toBeGreaterThan(40);
    const net = new Network({ shape: [2, 2], seed: 1 });
    const dispose = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for('nodejs.dispose');
    (net as unknown as Record<symbol, () => void>)[dispose]();
    expect(net.disposed).toBe(true);
    await expect(net.toBuffer()).rejects.toMatchObject({ code: ErrorCodes.DISPOSED });
  });
});

describe("priority: 'background'", () => {
  it('a busy training run at background priority leaves a competing CPU-bound process its share', async () => {
    // Trainer and competitor both on CPU 0: at equal priority they split it.
    const competitor = `const t0 = Date.now(), c0 = process.cpuUsage(); while (Date.now() - t0 < 1500); const c = process.cpuUsage(c0); console.log(JSON.stringify({ share: (c.user + c.system) / 1000 / (Date.now() - t0) }));`;
    const compete = () => JSON.parse(spawnSync('taskset', ['-c', '0', process.execPath, '-e', competitor], { encoding: 'utf8' }).stdout).share as number;
    const share = async (priority: string) => {
      const trainer = spawn('taskset', ['-c', '0', process.execPath, '-e', `
        const fs = require('node:fs');
        const hdrnn = require(${JSON.stringify(path.join(ROOT, 'dist/index.js'))});
        const x = new Uint8Array(2000 * 64).map((_, i) => i % 251);
        const data = hdrnn.Dataset.from({ inputs: x, labels: new Uint8Array(2000).map((_, i) => i % 4), inputSize: 64 });
        const net = new hdrnn.Network({ shape: [64, 64, 4], seed: 1 });
        net.train(data, { epochs: 1e6, threads: 1, priority: ${JSON.stringify(priority)}, signal: AbortSignal.timeout(8000) }).catch(() => {});
        setTimeout(() => {
          // Scheduling policy (field 41: 5 is SCHED_IDLE) and nice (field 19) of every thread.
          const threads = fs.readdirSync('/proc/self/task').map((t) => {
            const f = fs.readFileSync('/proc/self/task/' + t + '/stat', 'utf8').replace(/^.*\\) /, '').split(' ');
            return { policy: Number(f[38]), nice: Number(f[16]) };
          });
          console.log(JSON.stringify({ low: threads.filter((t) => t.policy === 5 || t.nice === 19).length }));
        }, 300);
      `], { stdio: ['ignore', 'pipe', 'inherit'] });
      const line: string = await new Promise((resolve) => trainer.stdout.once('data', (d: Buffer) => resolve(d.toString())));
      const result = { low: JSON.parse(line).low as number, share: compete() };
      trainer.kill();
      return result;
    };
    // The machine may be busy with other work (vitest runs other files beside
    // this one), so each round measures the competitor alone, against normal
    // and against background training back to back, and the best of up to three
    // rounds counts: a background trainer must leave it most of its share
    // where a normal one takes about half.
    let best = { alone: 0, normal: { low: 0, share: 0 }, background: { low: 0, share: 0 }, ratio: 0 };
    for (let round = 0; round < 3 && best.ratio <= 0.6; round++) {
      const alone = compete();
      const normal = await share('normal');
      const background = await share('background');
      console.log(
        `competitor's share of CPU 0: alone ${(alone * 100).toFixed(0)}%, against normal training ${(normal.share * 100).toFixed(0)}%, ` +
          `against background training ${(background.share * 100).toFixed(0)}%; low-priority threads: ${normal.low} / ${background.low}`,
      );
      expect(normal.low).toBe(0);
      expect(background.low).toBeGreaterThanOrEqual(1); // the training thread itself
      const ratio = background.share / alone;
      if (ratio > best.ratio) best = { alone, normal, background, ratio };
    }
    expect(best.background.share).toBeGreaterThan(0.6 * best.alone);
  }, 120_000);
});
