/**
 * The command line on your own data: `hdrnn train|eval|infer --csv FILE`
 * and `hdrnn export --onnx OUT`. Built on the public API like cli.ts.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';

import { UsageError, type CliOptions } from './cli-args';
import { catchInterrupts, exitCodeFor } from './cli/signals';
import { splitDataset } from './train-control';
import { inWholeRun, resumeFrom } from './cli-resume';
import { writeFileAtomic } from './files';
import { Network, loadCsv, type CsvOptions, type Dataset, type EpochReport, type KernelName, type TrainNetworkOptions, type TrainReport } from './index';

export interface Io {
  out: NodeJS.WritableStream & { isTTY?: boolean };
  err: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

function runOptions(o: CliOptions): { threads?: number; kernels?: KernelName } {
  return { threads: o.threads, kernels: o.kernels as KernelName | undefined };
}

function csvOptions(o: CliOptions, extra: Partial<CsvOptions> = {}): CsvOptions {
  return {
    ...(o.target !== undefined ? { target: o.target } : {}),
    ...(o.features ? { features: o.features } : {}),
    ...(o.delimiter ? { delimiter: o.delimiter } : {}),
    missing: o.dropMissing ? 'drop' : 'error',
    ...extra,
  };
}

/**
 * Defaults for CSV training where the seed's (made for MNIST pixels) do not
 * fit tabular data: ReLU hidden layers with He init, a softmax output with
 * cross-entropy (regression: a linear output, quadratic cost), Adam at
 * 0.01, batches of 32, 100 epochs, inputs standardised. Any of them given on
 * the command line wins.
 */
function modelDefaults(o: CliOptions, task: 'classification' | 'regression'): Partial<TrainNetworkOptions> {
  const given = o.given ?? new Set<string>();
  const pick = <T>(key: string, ours: T, theirs: T) => (given.has(key) ? theirs : ours);
  const output = o.output ?? (task === 'regression' ? 'linear' : 'softmax');
  const out: Partial<TrainNetworkOptions> = {
    epochs: pick('epochs', 100, o.epochs),
    batchSize: pick('batchSize', 32, o.batchSize),
    learningRate: pick('learningRate', 0.01, o.learningRate),
    activation: o.activation ?? 'relu',
    output,
    loss: o.loss ?? (output === 'linear' ? 'quadratic' : 'cross-entropy'),
    init: o.init ?? 'he',
    optimizer: o.optimizer ?? 'adam',
  };
  if (o.weightDecay !== undefined) out.weightDecay = o.weightDecay;
  return out;
}

export async function csvTrainCommand(o: CliOptions, io: Io): Promise<number> {
  if (o.target === undefined) throw new UsageError('train --csv needs --target COLUMN (the column to predict)');
  const task = o.task ?? 'classification';
  const { epochs: all, batchSize, learningRate, optimizer, weightDecay, ...model } = modelDefaults(o, task);
  // --resume: the checkpoint's network (its classes and standardisation too) goes on.
  const resumed = o.resume !== undefined ? await resumeFrom(o.resume, all!) : undefined;
  const known = task === 'classification' ? resumed?.network.classes : undefined;
  const data = await loadCsv(o.csv!, csvOptions(o, { task, ...(known ? { classes: known } : {}) }));
  const validation = o.validation ?? (o.patience !== undefined ? 0.1 : undefined);
  // The last finished epoch, kept so that an interrupt saves it instead of losing the run.
  let last: { epoch: number; bytes: Buffer } | undefined;
  let net: Network;
  let report: TrainReport;
  const started = Date.now();
  const reports: EpochReport[] = [];
  const human = !o.json;
  const done = resumed?.done ?? 0;
  const epochs = all! - done;
  const outputs = task === 'regression' ? data.targetSize : data.classes;
  if (resumed) {
    net = resumed.network;
    if (net.shape[0] !== data.inputSize || net.shape[net.shape.length - 1] < outputs) {
      throw new UsageError(`${o.resume} holds a ${net.shape.join('-')} network, which does not fit ${o.csv}'s ${data.inputSize} features and ${outputs} output(s)`);
    }
    if (human) io.out.write(`Resuming ${o.resume} after epoch ${done} of ${all}\n`);
  } else {
    net = new Network({ shape: [data.inputSize, ...o.hidden, outputs], seed: o.seed, ...model });
    if (data.classNames) net.setClasses(data.classNames);
  }
  // The validation rows are held out first, so the standardisation is fitted on the rows trained on.
  const seed = o.seed ?? randomBytes(8).readBigUInt64LE();
  const parts = validation !== undefined ? splitDataset(data, validation, seed) : { train: data, validation: undefined };
  if (!resumed) net.setStandardization(await parts.train.standardize());
  const trained = net;
  const interrupt = catchInterrupts(); // from here on, until the run ends
  try {
    report = await trained.train(parts.train, {
      epochs,
      batchSize,
      learningRate,
      optimizer,
      ...(weightDecay !== undefined ? { weightDecay } : {}),
      seed,
      shuffle: o.shuffle,
      ...(parts.validation ? { validationData: parts.validation } : {}),
      ...(o.patience !== undefined ? { earlyStopping: { patience: o.patience, restoreBest: true } } : {}),
      signal: interrupt.signal,
      keepState: true,
      ...(resumed ? { resume: resumed.state } : {}),
      ...(o.checkpoint !== undefined ? { checkpoint: { path: o.checkpoint } } : {}),
      ...runOptions(o),
      onEpoch: async (e: EpochReport) => {
        reports.push(e);
        if (human && !o.quiet) {
          const v = e.validation;
          const val = v ? ` val_loss ${v.loss.toFixed(4)}${task === 'classification' ? ` val_accuracy ${pct(v.accuracy)}` : ''}` : '';
          io.out.write(`Epoch ${done + e.epoch}: loss ${e.loss.toFixed(4)}${val} time ${e.seconds < 0.1 ? `${(e.seconds * 1e3).toFixed(2)}ms` : `${e.seconds.toFixed(2)}s`}\n`);
        }
        // With the trainer state: the file an interrupt leaves is a checkpoint the API can resume.
        last = { epoch: done + e.epoch, bytes: await trained.toBuffer(e.state ? { trainerState: e.state } : undefined) };
      },
    });
  } catch (error) {
    const signal = interrupt.received();
    if ((error as Error).name === 'AbortError' && signal) {
      const where = path.resolve(o.net);
      if (last) {
        await writeFileAtomic(o.net, last.bytes);
        io.err.write(
          `hdrnn: training interrupted by ${signal} after ${done + reports.length} of ${all} epoch(s); saved the network after epoch ${last.epoch} ` +
            `to ${where} (a checkpoint: train --resume ${o.net} continues it)\n`,
        );
      } else {
        io.err.write(`hdrnn: training interrupted by ${signal} before the first epoch ended; nothing was saved\n`);
      }
      return exitCodeFor(signal);
    }
    throw error;
  } finally {
    interrupt.dispose();
  }
  await net.save(o.net);
  const evaluation = await net.evaluate(data, runOptions(o));
  const seconds = (Date.now() - started) / 1000;
  const metrics = task === 'classification' ? { accuracy: evaluation.accuracy } : { rmse: evaluation.rmse, mae: evaluation.mae };
  if (o.json) {
    io.out.write(
      `${JSON.stringify({ command: 'train', csv: path.resolve(o.csv!), task, shape: net.shape, rows: data.count, dropped: data.csv?.dropped ?? 0, features: data.csv?.features, classes: net.classes, epochs: inWholeRun(reports, done, all!), stopped: report.stopped ?? null, best: report.best ?? null, file: metrics, seconds, net: path.resolve(o.net) })}\n`,
    );
  } else {
    const stop = report.stopped ? ` (early stop at epoch ${report.stopped.epoch}${report.best?.restored ? `, kept epoch ${report.best.epoch}` : ''})` : '';
    // Measured on every row of the file (validation rows included): `hdrnn eval` on held-out data says more.
    const m = task === 'classification' ? `accuracy on the file ${pct(evaluation.accuracy)}` : `on the file RMSE ${evaluation.rmse!.toPrecision(4)}, MAE ${evaluation.mae!.toPrecision(4)}`;
    io.out.write(`Trained ${net.shape.join('-')} on ${data.count} rows for ${reports.length} epoch(s)${stop}; ${m}; saved ${o.net}\n`);
  }
  return 0;
}

async function loadFor(o: CliOptions): Promise<{ net: Network; data: Dataset; task: 'classification' | 'regression' }> {
  const net = await Network.load(o.net);
  const task = net.outputKind === 'values' ? 'regression' : 'classification';
  const data = await loadCsv(o.csv!, csvOptions(o, { task, ...(task === 'classification' && net.classes ? { classes: net.classes } : {}) }));
  if (data.inputSize !== net.shape[0]) {
    throw new UsageError(
      `${o.csv} gives ${data.inputSize} feature columns (${data.csv!.features.join(', ')}) but ${o.net} takes ${net.shape[0]} inputs; choose them with --features`,
    );
  }
  return { net, data, task };
}

export async function csvEvalCommand(o: CliOptions, io: Io): Promise<number> {
  if (o.target === undefined) throw new UsageError('eval --csv needs --target COLUMN (the column with the true values)');
  const { net, data, task } = await loadFor(o);
  const r = await net.evaluate(data, runOptions(o));
  const result = task === 'classification' ? { accuracy: r.accuracy, correct: r.correct, total: r.total } : { rmse: r.rmse, mae: r.mae, total: data.count };
  if (o.json) {
    io.out.write(`${JSON.stringify({ command: 'eval', net: path.resolve(o.net), csv: path.resolve(o.csv!), task, rows: data.count, dropped: data.csv?.dropped ?? 0, loss: r.loss, ...result })}\n`);
  } else if (task === 'classification') {
    io.out.write(`${o.net} (${net.shape.join('-')}) on ${o.csv}: ${r.correct} / ${r.total} (${pct(r.accuracy)}) loss ${r.loss.toFixed(4)}\n`);
  } else {
    io.out.write(`${o.net} (${net.shape.join('-')}) on ${o.csv}: RMSE ${r.rmse!.toPrecision(4)}, MAE ${r.mae!.toPrecision(4)} over ${data.count} rows\n`);
  }
  return 0;
}

export async function csvInferCommand(o: CliOptions, io: Io): Promise<number> {
  const net = await Network.load(o.net);
  // Inputs only: every column but the target (when named and present) unless --features says.
  const data = await loadCsv(o.csv!, csvOptions(o, { target: undefined, ...(o.target ? { ignore: [o.target] } : {}) }));
  if (data.inputSize !== net.shape[0]) {
    throw new UsageError(`${o.csv} gives ${data.inputSize} feature columns (${data.csv!.features.join(', ')}) but ${o.net} takes ${net.shape[0]} inputs; choose them with --features`);
  }
  const results = await net.inferBatch(data, runOptions(o));
  const classes = net.classes;
  const values = net.outputKind === 'values';
  if (o.json) {
    const predictions = results.map((r) =>
      values ? { values: Array.from(r.scores) } : { label: r.label, ...(classes ? { class: classes[r.label] } : {}), score: r.scores[r.label], kind: r.kind },
    );
    io.out.write(`${JSON.stringify({ command: 'infer', net: path.resolve(o.net), csv: path.resolve(o.csv!), rows: results.length, predictions })}\n`);
    return 0;
  }
  const lines = results.map((r, i) =>
    values
      ? `${i + 1}: ${Array.from(r.scores, (x) => x.toPrecision(6)).join(', ')}`
      : `${i + 1}: ${classes ? classes[r.label] : r.label} (${r.kind === 'probabilities' ? 'probability' : 'score'} ${r.scores[r.label].toFixed(4)})`,
  );
  io.out.write(`${lines.join('\n')}\n`);
  return 0;
}

export async function exportCommand(o: CliOptions, io: Io): Promise<number> {
  if (!o.onnx) throw new UsageError('export needs an output file: hdrnn export --onnx OUT.onnx [-n NET]');
  const net = await Network.load(o.net);
  const bytes = await net.toOnnx();
  await writeFileAtomic(o.onnx, bytes);
  if (o.json) {
    io.out.write(`${JSON.stringify({ command: 'export', net: path.resolve(o.net), onnx: path.resolve(o.onnx), bytes: bytes.length, opset: 13, shape: net.shape, activations: net.activations })}\n`);
  } else {
    io.out.write(
      `Wrote ${o.onnx} (ONNX opset 13, ${bytes.length} bytes): input [N, ${net.shape[0]}] -> output [N, ${net.shape[net.shape.length - 1]}]` +
        `${net.outputKind === 'values' ? '' : ' and label [N]'}; ${net.activations.join(', ')}${net.standardization ? ', standardised inputs' : ''}.\n` +
        'Not in the ONNX file: the training state (optimizer, shuffle, epoch) and the loss; class names are in its metadata only.\n',
    );
  }
  return 0;
}
