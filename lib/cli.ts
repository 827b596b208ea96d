#!/usr/bin/env node
/**
 * hdrnn - the command line, built on the public TypeScript API only.
 */
import * as path from 'node:path';

import { USAGE, UsageError, parseArgs, type CliOptions } from './cli-args';
import { fleetMain } from './cli-fleet';
import {
  Dataset,
  Network,
  imageToText,
  kernels as activeKernels,
  loadMnist,
  readPgm,
  version,
  type EpochReport,
  type KernelName,
} from './index';

interface Io {
  out: NodeJS.WritableStream & { isTTY?: boolean };
  err: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

function runOptions(o: CliOptions): { threads?: number | 'auto'; kernels?: KernelName } {
  return { threads: o.threads, kernels: o.kernels as KernelName | undefined };
}

/** A one-line progress bar on a terminal; nothing otherwise. */
class ProgressBar {
  #active = false;
  constructor(private readonly stream: Io['err'], private readonly enabled: boolean) {}
  update(label: string, fraction: number, detail: string): void {
    if (!this.enabled) return;
    const width = 30;
    const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
    const line = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${detail}`;
    const cols = this.stream.columns ?? 100;
    this.stream.write(`\r${line.slice(0, cols - 1).padEnd(Math.min(cols - 1, line.length + 2))}`);
    this.#active = true;
  }
  clear(): void {
    if (!this.#active) return;
    this.stream.write(`\r${' '.repeat((this.stream.columns ?? 100) - 1)}\r`);
    this.#active = false;
  }
}

async function trainCommand(o: CliOptions, io: Io): Promise<number> {
  const mnist = await loadMnist(o.data);
  const train: Dataset = o.limit !== undefined ? mnist.train.slice(0, Math.min(o.limit, mnist.train.count)) : mnist.train;
  const shape = [train.inputSize, ...o.hidden, 10];
  const net = new Network({ shape, seed: o.seed, activation: o.activation, output: o.output, loss: o.loss, init: o.init });
  const human = !o.json;
  const bar = new ProgressBar(io.err, human && !o.quiet && io.err.isTTY === true);
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const started = Date.now();
  let report;
  try {
    report = await net.train(train, {
      epochs: o.epochs,
      batchSize: o.batchSize,
      learningRate: o.learningRate,
      shuffle: o.shuffle,
      seed: o.seed,
      ...(o.optimizer !== undefined ? { optimizer: o.optimizer } : {}),
      ...(o.weightDecay !== undefined ? { weightDecay: o.weightDecay } : {}),
      testData: o.quiet ? undefined : mnist.test,
      signal: controller.signal,
      ...runOptions(o),
      onProgress: bar ? (p) => bar.update(`Epoch ${p.epoch}/${p.epochs}`, p.batch / p.batches, `loss ${p.loss.toFixed(4)}`) : undefined,
      onEpoch: (e: EpochReport) => {
        bar.clear();
        if (!human || o.quiet || !e.test) return;
        io.out.write(
          `Epoch ${e.epoch}: ${e.test.correct} / ${e.test.total} (${pct(e.test.accuracy)}) ` +
            `loss ${e.loss.toFixed(4)} time ${e.seconds.toFixed(2)}s\n`,
        );
      },
    });
  } catch (error) {
    bar.clear();
    if ((error as Error).name === 'AbortError') {
      io.err.write('hdrnn: training interrupted; nothing was saved\n');
      return 130;
    }
    throw error;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  const format = o.format === 'auto' ? net.preferredFormat : o.format;
  await net.save(o.net, { format });
  const seconds = (Date.now() - started) / 1000;
  const last = report.epochs[report.epochs.length - 1];
  if (o.json) {
    io.out.write(
      `${JSON.stringify({
        command: 'train',
        shape: net.shape,
        parameters: net.parameterCount,
        activations: net.activations,
        loss: net.loss,
        epochs: report.epochs,
        trainingSeconds: report.seconds,
        seconds,
        net: path.resolve(o.net),
        format,
        kernels: o.kernels ?? activeKernels,
        test: last?.test ?? null,
      })}\n`,
    );
  } else {
    const accuracy = last?.test ? `, test accuracy ${pct(last.test.accuracy)}` : '';
    io.out.write(
      `Trained ${net.shape.join('-')} for ${report.epochs.length} epoch(s) in ${report.seconds.toFixed(2)}s` +
        `${accuracy}; saved ${o.net} (${format} format)\n`,
    );
  }
  return 0;
}

async function evalCommand(o: CliOptions, io: Io): Promise<number> {
  const [net, mnist] = await Promise.all([Network.load(o.net), loadMnist(o.data)]);
  const started = process.hrtime.bigint();
  const r = await net.evaluate(mnist.test, runOptions(o));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (o.json) {
    io.out.write(`${JSON.stringify({ command: 'eval', net: path.resolve(o.net), shape: net.shape, ...r, seconds })}\n`);
    return 0;
  }
  io.out.write(`${o.net} (${net.shape.join('-')}): ${r.correct} / ${r.total} (${pct(r.accuracy)}) loss ${r.loss.toFixed(4)}\n`);
  io.out.write('Confusion matrix (rows: actual digit, columns: predicted):\n');
  io.out.write(`     ${r.confusion.map((_, j) => String(j).padStart(5)).join('')}\n`);
  r.confusion.forEach((row, i) => io.out.write(`${String(i).padStart(5)}${row.map((c) => String(c).padStart(5)).join('')}\n`));
  return 0;
}

async function inferCommand(o: CliOptions, io: Io): Promise<number> {
  if (!o.image) throw new UsageError('infer needs an image: hdrnn infer -i IMAGE.pgm [-n NET]');
  const [net, image] = await Promise.all([Network.load(o.net), readPgm(o.image)]);
  if (image.width * image.height !== net.shape[0]) {
    throw new UsageError(
      `${o.image} is ${image.width}x${image.height} (${image.width * image.height} pixels) but ${o.net} takes ${net.shape[0]} inputs`,
    );
  }
  const r = await net.infer(image, runOptions(o));
  if (o.json) {
    io.out.write(`${JSON.stringify({ command: 'infer', image: path.resolve(o.image), label: r.label, score: r.scores[r.label], scores: Array.from(r.scores) })}\n`);
    return 0;
  }
  io.out.write(`${imageToText(image)}\n`);
  io.out.write(`Network predicts ${r.label} (score ${r.scores[r.label].toFixed(4)})\n`);
  return 0;
}

export async function main(argv: readonly string[], io: Io = { out: process.stdout, err: process.stderr }): Promise<number> {
  if (argv[0] === 'fleet') return fleetMain(argv.slice(1), io); // lib/cli-fleet.ts
  let options: CliOptions;
  try {
    options = parseArgs(argv);
  } catch (error) {
    io.err.write(`hdrnn: ${(error as Error).message}\n`);
    return 2;
  }
  try {
    switch (options.command) {
      case 'help':
        io.out.write(USAGE);
        return 0;
      case 'version':
        io.out.write(`${version}\n`);
        return 0;
      case 'train':
        return await trainCommand(options, io);
      case 'eval':
        return await evalCommand(options, io);
      case 'infer':
        return await inferCommand(options, io);
    }
  } catch (error) {
    const e = error as Error & { code?: string };
    io.err.write(`hdrnn: ${e.message.split('\n')[0]}\n`);
    if (process.env.HDRNN_DEBUG) io.err.write(`${e.stack}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      process.stderr.write(`hdrnn: ${(error as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
