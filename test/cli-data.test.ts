/**
 * The command line on your own data: train/eval/infer --csv and export
 * --onnx, on vega-datasets' seattle-weather and cars, through main() and
 * through the built bin (for Ctrl-C).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';

import { interruptAfterEpoch2, runCli } from './cli-run';
import { parseArgs } from '../lib/cli-args';
import { Network, loadCsv, tempDir } from './helpers';
import { CARS_FEATURES, SEATTLE, SEATTLE_FEATURES, carsCsv } from './vega';

const tmp = tempDir();
afterAll(tmp.cleanup);

const run = runCli;

const seattleNet = path.join(tmp.dir, 'weather.nn');
const features = SEATTLE_FEATURES.join(',');
const carsFile = path.join(tmp.dir, 'cars.csv');
writeFileSync(carsFile, carsCsv().text);

describe('hdrnn train/eval/infer --csv (classification: seattle-weather)', () => {
  it('trains, saves the class names and standardisation, and reports JSON', async () => {
    const r = await run('train', '--csv', SEATTLE, '--target', 'weather', '--features', features, '-e', '8', '-s', '16', '-n', seattleNet, '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ command: 'train', task: 'classification', shape: [4, 16, 5], rows: 1461, features: SEATTLE_FEATURES, classes: ['drizzle', 'fog', 'rain', 'snow', 'sun'] });
    expect(j.epochs).toHaveLength(8);
    const net = await Network.load(seattleNet);
    expect(net.classes).toEqual(j.classes);
    expect(net.standardization).not.toBeNull();
    expect(net.activations).toEqual(['relu', 'softmax']);
    expect(net.loss).toBe('cross-entropy');
  });

  it('eval gives the accuracy the API gives on the same rows', async () => {
    const r = await run('eval', '--csv', SEATTLE, '--target', 'weather', '--features', features, '-n', seattleNet, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    const net = await Network.load(seattleNet);
    const data = await loadCsv(SEATTLE, { target: 'weather', features: SEATTLE_FEATURES, classes: net.classes! });
    const e = await net.evaluate(data);
    expect(j).toMatchObject({ command: 'eval', task: 'classification', accuracy: e.accuracy, correct: e.correct, total: 1461 });
    const human = await run('eval', '--csv', SEATTLE, '--target', 'weather', '--features', features, '-n', seattleNet);
    expect(human.out).toMatch(new RegExp(`${e.correct} / 1461`));
  });

  it('infer prints one class name per row', async () => {
    const small = path.join(tmp.dir, 'days.csv');
    const lines = readFileSync(SEATTLE, 'utf8').split('\n').slice(0, 6);
    writeFileSync(small, `${lines.join('\n')}\n`);
    const r = await run('infer', '--csv', small, '--features', features, '-n', seattleNet);
    expect(r.code).toBe(0);
    const out = r.out.trim().split('\n');
    expect(out).toHaveLength(5);
    const net = await Network.load(seattleNet);
    const data = await loadCsv(small, { features: SEATTLE_FEATURES });
    const ours = await net.inferBatch(data);
    out.forEach((line, i) => expect(line).toBe(`${i + 1}: ${net.classes![ours[i].label]} (probability ${ours[i].scores[ours[i].label].toFixed(4)})`));
    const j = JSON.parse((await run('infer', '--csv', small, '--features', features, '-n', seattleNet, '--json')).out);
    expect(j.predictions[0]).toMatchObject({ label: ours[0].label, class: net.classes![ours[0].label], kind: 'probabilities' });
  });

  it('--patience stops early on the validation loss and keeps the best epoch', async () => {
    const file = path.join(tmp.dir, 'patient.nn');
    const r = await run('train', '--csv', SEATTLE, '--target', 'weather', '--features', features, '-e', '300', '-lr', '0.05', '--patience', '2', '--validation', '0.2', '-n', file, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.epochs.length).toBeLessThan(300);
    expect(j.stopped).toMatchObject({ by: 'earlyStopping', epoch: j.epochs.length });
    expect(j.best.epoch).toBe(j.epochs.length - 2);
    expect(j.epochs[0].validation.total).toBe(Math.round(1461 * 0.2));
  });

  it('the model flags override the CSV defaults', async () => {
    const file = path.join(tmp.dir, 'flags.nn');
    const r = await run('train', '--csv', SEATTLE, '--target', 'weather', '--features', features, '-e', '2', '--activation', 'tanh', '--output', 'sigmoid', '--init', 'xavier', '--optimizer', 'momentum', '-lr', '0.1', '-n', file, '--json');
    expect(r.code).toBe(0);
    const net = await Network.load(file);
    expect(net.activations).toEqual(['tanh', 'sigmoid']);
    expect(net.loss).toBe('cross-entropy');
    expect(JSON.parse(r.out).epochs).toHaveLength(2);
  });

  it('names what is wrong', async () => {
    const noTarget = await run('train', '--csv', SEATTLE);
    expect(noTarget).toMatchObject({ code: 2, err: expect.stringMatching(/needs --target/) });
    const date = await run('train', '--csv', SEATTLE, '--target', 'weather', '-e', '1', '-n', path.join(tmp.dir, 'x.nn'));
    expect(date).toMatchObject({ code: 1, err: expect.stringMatching(/row 1 \(line 2\), column "date": "2012-01-01" is not a number/) });
    const wrong = await run('eval', '--csv', SEATTLE, '--target', 'weather', '--features', 'wind', '-n', seattleNet);
    expect(wrong).toMatchObject({ code: 2, err: expect.stringMatching(/gives 1 feature columns \(wind\) but .* takes 4 inputs/) });
    expect((await run('train', '--csv', SEATTLE, '--target', 'nope')).err).toMatch(/no target column "nope"/);
    expect((await run('train', '--task', 'clustering')).code).toBe(2);
    expect((await run('train', '--validation', '1.5')).code).toBe(2);
    expect((await run('export', '-n', seattleNet)).code).toBe(2);
    expect((await run('export', '--csv', 'x.csv')).code).toBe(2);
  });
});

describe('hdrnn train/eval/infer --csv --task regression (cars)', () => {
  const net = path.join(tmp.dir, 'mpg.nn');
  it('trains a linear-output network and reports RMSE and MAE', async () => {
    const r = await run('train', '--csv', carsFile, '--target', 'Miles_per_Gallon', '--task', 'regression', '--features', CARS_FEATURES.join(','), '--drop-missing', '-e', '40', '-n', net, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.shape).toEqual([5, 32, 1]);
    expect(j.dropped).toBe(14);
    expect(j.file.rmse).toBeGreaterThan(0);
    const e = JSON.parse((await run('eval', '--csv', carsFile, '--target', 'Miles_per_Gallon', '--features', CARS_FEATURES.join(','), '--drop-missing', '-n', net, '--json')).out);
    expect(e).toMatchObject({ task: 'regression', rows: 392, rmse: j.file.rmse, mae: j.file.mae });
  });

  it('infer prints the predicted value of each row', async () => {
    const r = await run('infer', '--csv', carsFile, '--features', CARS_FEATURES.join(','), '--drop-missing', '-n', net, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.rows).toBe(j.predictions.length);
    expect(j.predictions[0].values).toHaveLength(1);
    expect(j.predictions[0].values[0]).toBeGreaterThan(5);
  });
});

describe('hdrnn export --onnx', () => {
  it('writes a model onnxruntime runs with the same outputs', async () => {
    const out = path.join(tmp.dir, 'weather.onnx');
    const r = await run('export', '--onnx', out, '-n', seattleNet);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/opset 13.*input \[N, 4\] -> output \[N, 5\] and label \[N\]; relu, softmax, standardised inputs/);
    expect(r.out).toMatch(/Not in the ONNX file: the training state/);
    const net = await Network.load(seattleNet);
    const data = await loadCsv(SEATTLE, { target: 'weather', features: SEATTLE_FEATURES });
    const session = await ort.InferenceSession.create(readFileSync(out));
    const result = await session.run({ input: new ort.Tensor('float32', data.inputs as Float32Array, [data.count, 4]) });
    const ours = await net.inferBatch(data);
    const scores = result.output.data as Float32Array;
    let max = 0;
    ours.forEach((x, i) => x.scores.forEach((s, k) => (max = Math.max(max, Math.abs(s - scores[i * 5 + k])))));
    expect(max).toBeLessThan(1e-5);
  });
});

describe('Ctrl-C during hdrnn train', () => {
  it.each([
    ['--csv', ['--csv', SEATTLE, '--target', 'weather', '--features', features, '-bs', '1'], 5, true],
    ['MNIST', ['--limit', '3000'], 10, false],
  ] as const)('%s: saves the last finished epoch and exits 130', async (_name, args, outputs, withState) => {
    const bin = path.resolve(__dirname, '..', 'dist', 'cli.js');
    expect(existsSync(bin), 'dist/ is built by `npm run build:ts` (npm test runs it first)').toBe(true);
    const file = path.join(tmp.dir, `interrupted-${outputs}.nn`);
    const { code, err } = await interruptAfterEpoch2(['train', ...args, '-e', '1000000', '-n', file]);
    expect(code).toBe(130);
    expect(err).toMatch(/training interrupted by SIGINT after \d+ of \d+ epoch\(s\); saved the network after epoch \d+ to /);
    const saved = await Network.load(file);
    expect(saved.shape[saved.shape.length - 1]).toBe(outputs);
    // --csv: a v3 checkpoint with the trainer state, to resume from the API; MNIST keeps its format.
    const { trainerState } = await Network.loadCheckpoint(file);
    expect(trainerState !== null).toBe(withState);
  });
});

it('parses the data options', () => {
  expect(parseArgs(['train', '--csv', 'a.csv', '--target', 'y', '--features', 'a, b', '--delimiter', 'tab', '--patience', '3', '--drop-missing'])).toMatchObject({
    csv: 'a.csv',
    target: 'y',
    features: ['a', 'b'],
    delimiter: '\t',
    patience: 3,
    dropMissing: true,
  });
  expect(parseArgs(['export', '--onnx', 'o.onnx', '-n', 'x.nn'])).toMatchObject({ command: 'export', onnx: 'o.onnx', net: 'x.nn' });
});
