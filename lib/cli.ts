#!/usr/bin/env node
/**
 * hdrnn - the command line, built on the public TypeScript API only.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';

import { UsageError, parseArgs, usageFor, type CliOptions } from './cli-args';
import { ProgressBar } from './cli/progress';
import { catchInterrupts, exitCodeFor, survivePipeClose } from './cli/signals';
import { writeFileAtomic } from './files';
import { inWholeRun, resumeFrom } from './cli-resume';
import { csvEvalCommand, csvInferCommand, csvTrainCommand, exportCommand } from './cli-data';
import { fleetMain } from './cli-fleet';
import {
  Dataset,
  Network,
  availableKernels,
  checkSavePath,
  decodePgm,
  imageToText,
  bestKernels,
  kernels as activeKernels,
  loadMnist,
  loadMnistTest,
  readPgm,
  version,
  type EpochReport,
  type GreyImage,
  type KernelName,
  type NetworkFormat,
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

/** The kernel set a run really uses: --kernels, else $HDRNN_KERNELS, else the best; 'best' named. */
function usedKernels(o: CliOptions): string {
  if (o.kernels === undefined) return activeKernels;
  return o.kernels === 'best' ? bestKernels : o.kernels;
}

/** What --format must be for this network; checked before training, not after. */
const FORMATS: readonly NetworkFormat[] = ['seed', 'v2', 'v3']; // each holds everything the one before does
function formatFor(o: CliOptions, net: Network): NetworkFormat {
  const needed = net.preferredFormat;
  if (o.format === 'auto') return needed;
  if (FORMATS.indexOf(o.format) < FORMATS.indexOf(needed)) {
    throw new UsageError(
      `--format ${o.format} cannot hold a ${net.shape.join('-')} network (the seed format takes 784 inputs, 10 outputs ` +
        `and hidden layers of at most 255, with the seed's sigmoid model; v2 any shape of that model); use --format ${needed} or auto`,
    );
  }
  return o.format;
}

async function trainCommand(o: CliOptions, io: Io): Promise<number> {
  // Everything that can be checked before training is: the output path (its
  // folder exists, it is not a device, folder or FIFO) and the format.
  await checkSavePath(o.net);
  const seed = o.seed ?? randomBytes(8).readBigUInt64LE();
  const mnist = await loadMnist(o.data);
  const train: Dataset = o.limit !== undefined ? mnist.train.slice(0, Math.min(o.limit, mnist.train.count)) : mnist.train;
  const shape = [train.inputSize, ...o.hidden, 10];
  const resumed = o.resume !== undefined ? await resumeFrom(o.resume, o.epochs) : undefined;
  if (resumed && (resumed.network.shape[0] !== train.inputSize || resumed.network.shape[resumed.network.shape.length - 1] !== 10)) {
    throw new UsageError(`${o.resume} holds a ${resumed.network.shape.join('-')} network; MNIST needs ${train.inputSize} inputs and 10 outputs`);
  }
  const net = resumed?.network ?? new Network({ shape, seed, activation: o.activation, output: o.output, loss: o.loss, init: o.init });
  const done = resumed?.done ?? 0; // epochs the resumed run had finished
  const format = formatFor(o, net);
  const human = !o.json;
  if (human && o.seed === undefined) io.out.write(`Seed ${seed} (--seed random)\n`);
  if (human && resumed) io.out.write(`Resuming ${o.resume} after epoch ${done} of ${o.epochs}\n`);
  const bar = new ProgressBar(io.err, human && !o.quiet && io.err.isTTY === true);
  const interrupt = catchInterrupts();
  const started = Date.now();
  const finished: EpochReport[] = [];
  let lastEpoch: { epoch: number; bytes: Buffer } | undefined; // the finished epochs' weights, saved on a signal
  let report;
  try {
    report = await net.train(train, {
      epochs: o.epochs - done,
      ...(resumed ? { resume: resumed.state } : {}),
      ...(o.checkpoint !== undefined ? { checkpoint: { path: o.checkpoint } } : {}),
      batchSize: o.batchSize,
      learningRate: o.learningRate,
      shuffle: o.shuffle,
      seed,
      ...(o.optimizer !== undefined ? { optimizer: o.optimizer } : {}),
      ...(o.weightDecay !== undefined ? { weightDecay: o.weightDecay } : {}),
      testData: o.quiet ? undefined : mnist.test,
      signal: interrupt.signal,
      priority: o.priority,
      ...runOptions(o),
      onProgress: (p) => bar.update(`Epoch ${done + p.epoch}/${o.epochs}`, p.batch / p.batches, `loss ${p.loss.toFixed(4)}`),
      onEpoch: async (e: EpochReport) => {
        finished.push(e);
        bar.clear();
        if (human && !o.quiet && e.test) {
          io.out.write(
            `Epoch ${done + e.epoch}: ${e.test.correct} / ${e.test.total} (${pct(e.test.accuracy)}) ` +
              `loss ${e.loss.toFixed(4)} time ${e.seconds.toFixed(2)}s\n`,
          );
        }
        lastEpoch = { epoch: done + e.epoch, bytes: await net.toBuffer({ format }) };
      },
    });
  } catch (error) {
    bar.clear();
    const signal = interrupt.received();
    if ((error as Error).name === 'AbortError' && signal) {
      // Keep what was trained: the weights after the last finished epoch, or,
      // when none finished, the whole mini-batches of the first.
      if (lastEpoch) await writeFileAtomic(o.net, lastEpoch.bytes);
      else await net.save(o.net, { format });
      const where = path.resolve(o.net);
      const what = lastEpoch ? `the network after epoch ${lastEpoch.epoch}` : 'the network as trained so far (no epoch had finished)';
      const kept = o.checkpoint !== undefined && lastEpoch ? `; ${path.resolve(o.checkpoint)} holds epoch ${lastEpoch.epoch} with the trainer state (--resume continues it)` : '';
      const message = `training interrupted by ${signal} after ${done + finished.length} of ${o.epochs} epoch(s); saved ${what} to ${where}${kept}`;
      io.err.write(`hdrnn: ${message}\n`);
      if (o.json) io.out.write(`${JSON.stringify({ command: 'train', interrupted: signal, epochsDone: done + finished.length, net: where, format, seed: String(seed), ...(o.checkpoint !== undefined ? { checkpoint: path.resolve(o.checkpoint) } : {}) })}\n`);
      return exitCodeFor(signal);
    }
    throw error;
  } finally {
    interrupt.dispose();
  }
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
        epochs: inWholeRun(report.epochs, done, o.epochs),
        trainingSeconds: report.seconds,
        seconds,
        net: path.resolve(o.net),
        format,
        kernels: usedKernels(o),
        test: last?.test ?? null,
        seed: String(seed),
        // Every option the run used, so a result can be reproduced from its JSON alone.
        options: {
          hidden: o.hidden,
          epochs: o.epochs,
          batchSize: o.batchSize,
          learningRate: o.learningRate,
          shuffle: o.shuffle,
          seed: String(seed),
          seedWasRandom: o.seed === undefined,
          threads: o.threads ?? 'auto',
          format: o.format,
          limit: o.limit ?? null,
          kernels: usedKernels(o),
          priority: o.priority,
          quiet: o.quiet,
          data: o.data ?? null,
          net: o.net,
          checkpoint: o.checkpoint ?? null,
          resume: o.resume ?? null,
        },
        ...(resumed ? { resumedAfter: done } : {}),
      })}\n`,
    );
  } else {
    const accuracy = last?.test ? `, test accuracy ${pct(last.test.accuracy)}` : '';
    io.out.write(
      `Trained ${net.shape.join('-')} for ${report.epochs.length} epoch(s)${resumed ? ` (epochs ${done + 1}-${o.epochs}, resumed)` : ''} in ${report.seconds.toFixed(2)}s` +
        `${accuracy}; saved ${o.net} (${format} format)\n`,
    );
  }
  return 0;
}

async function evalCommand(o: CliOptions, io: Io): Promise<number> {
  // Only the test set: eval --data DIR needs just the two t10k files.
  const [net, test] = await Promise.all([Network.load(o.net), loadMnistTest(o.data)]);
  const started = process.hrtime.bigint();
  const r = await net.evaluate(test, runOptions(o));
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
  if (!o.image) throw new UsageError('infer needs an image: hdrnn infer IMAGE.pgm [-n NET] (or -i - for standard input)');
  const [net, image] = await Promise.all([Network.load(o.net), o.image === '-' ? readStdinPgm() : readPgm(o.image)]);
  if (image.width * image.height !== net.shape[0]) {
    throw new UsageError(
      `${o.image} is ${image.width}x${image.height} (${image.width * image.height} pixels) but ${o.net} takes ${net.shape[0]} inputs`,
    );
  }
  const r = await net.infer(image, runOptions(o));
  if (o.json) {
    io.out.write(`${JSON.stringify({ command: 'infer', image: o.image === '-' ? '-' : path.resolve(o.image), label: r.label, score: r.scores[r.label], scores: Array.from(r.scores) })}\n`);
    return 0;
  }
  io.out.write(`${imageToText(image)}\n`);
  io.out.write(`Network predicts ${r.label} (score ${r.scores[r.label].toFixed(4)})\n`);
  return 0;
}

/** Most bytes read from standard input for `infer -i -` (a 28x28 P2 is under 4 kB). */
const MAX_STDIN_BYTES = 64 << 20;

async function readStdinPgm(): Promise<GreyImage> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_STDIN_BYTES) throw new UsageError(`standard input holds more than ${MAX_STDIN_BYTES} bytes; not a PGM image`);
    chunks.push(chunk);
  }
  return decodePgm(Buffer.concat(chunks));
}

/** $HDRNN_KERNELS must name kernels this CPU runs: a typo is an error, not a silent fallback. */
function checkKernelsEnv(): void {
  const forced = process.env.HDRNN_KERNELS;
  if (forced === undefined || forced === '' || forced === 'best') return;
  if (!availableKernels.includes(forced)) {
    throw new UsageError(`HDRNN_KERNELS=${forced} is not a kernel set this CPU can run (available: best, ${availableKernels.join(', ')})`);
  }
}

export async function main(argv: readonly string[], io: Io = { out: process.stdout, err: process.stderr }): Promise<number> {
  if (argv[0] === 'fleet') return fleetMain(argv.slice(1), io); // lib/cli-fleet.ts
  let options: CliOptions;
  // One line on stderr; with --json also {"error": {code, message}} on stdout.
  const fail = (error: Error & { code?: string }, json: boolean, exit: number): number => {
    const message = error.message.split('\n')[0];
    io.err.write(`hdrnn: ${message}\n`);
    if (json) {
      io.out.write(`${JSON.stringify({ error: { code: error.code ?? (error instanceof UsageError ? 'ERR_USAGE' : 'ERR_HDRNN'), message } })}\n`);
    }
    return exit;
  };
  try {
    options = parseArgs(argv);
  } catch (error) {
    return fail(error as Error, argv.includes('--json'), 2);
  }
  try {
    checkKernelsEnv();
    switch (options.command) {
      case 'help':
        io.out.write(usageFor(options.helpFor));
        return 0;
      case 'version':
        io.out.write(`${version}\n`);
        return 0;
      case 'train':
        return options.csv ? await csvTrainCommand(options, io) : await trainCommand(options, io);
      case 'eval':
        return options.csv ? await csvEvalCommand(options, io) : await evalCommand(options, io);
      case 'infer':
        return options.csv ? await csvInferCommand(options, io) : await inferCommand(options, io);
      case 'export':
        return await exportCommand(options, io);
    }
  } catch (error) {
    const e = error as Error & { code?: string };
    if (process.env.HDRNN_DEBUG) io.err.write(`${e.stack}\n`);
    return fail(e, options.json, error instanceof UsageError ? 2 : 1);
  }
}

if (require.main === module) {
  // `hdrnn train | head -1`: once the reader is gone, output is dropped and
  // the run goes on to save its network.
  survivePipeClose(process.stdout);
  survivePipeClose(process.stderr);
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
