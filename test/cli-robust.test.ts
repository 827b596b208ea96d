/**
 * Issue 11, the command line: it never loses a run. A serial console's
 * width 0, output paths checked before training, SIGINT/SIGTERM saving what
 * was trained, a closed stdout, JSON errors, and the smaller conveniences.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';

import { main } from '../lib/cli';
import { Network, defaultMnistDir, encodePgm, loadMnist, tempDir, version } from './helpers';
import { availableKernels, bestKernels } from '../lib/index';

const tmp = tempDir('hdrnn-cli-robust-');
afterAll(tmp.cleanup);
const bin = path.resolve(__dirname, '..', 'dist', 'cli.js');

function sink(f: (s: string) => void, extra: Record<string, unknown> = {}): Writable {
  return Object.assign(
    new Writable({
      write(chunk, _enc, cb) {
        f(chunk.toString());
        cb();
      },
    }),
    extra,
  );
}

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: sink((s) => (out += s)), err: sink((s) => (err += s)) });
  return { code, out, err };
}

describe('hdrnn train never loses a run', () => {
  it('on a serial console (0 columns) the progress bar neither throws nor stops the save', async () => {
    let err = '';
    const tty = sink((s) => (err += s), { isTTY: true, columns: 0 });
    const file = path.join(tmp.dir, 'serial.nn');
    const code = await main(['train', '-e', '2', '--limit', '500', '-n', file], { out: sink(() => {}), err: tty });
    expect(code, err).toBe(0);
    expect(existsSync(file)).toBe(true);
    expect(err).toMatch(/\rEpoch 1\/2 \[/);
  });

  it('checks the output path and --format before training, naming the user\'s path', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['train', '-n', '/nonexistent/x.nn'], 1, /\/nonexistent\/x\.nn.*does not exist/],
      [['train', '-n', tmp.dir], 1, new RegExp(`${tmp.dir}.*folder`)],
      [['train', '-s', '300', '--format', 'seed', '-n', path.join(tmp.dir, 'f.nn')], 2, /--format seed cannot hold a 784-300-10/],
    ];
    for (const [args, code, message] of cases) {
      const started = Date.now();
      const r = await run(...args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(/\.tmp/);
      expect(r.out).not.toMatch(/Epoch/); // nothing was trained
      console.log(`hdrnn ${args.join(' ')}: exit ${r.code} after ${Date.now() - started} ms`);
    }
  });

  for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal} during train saves what was trained, says where, and exits ${status}`, async () => {
      const file = path.join(tmp.dir, `${signal}.nn`);
      const child = spawn(process.execPath, [bin, 'train', '-e', '1000', '--limit', '3000', '-n', file], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      await new Promise<void>((resolve) =>
        child.stdout.on('data', (d) => {
          out += d;
          if (/Epoch 1:/.test(out)) resolve();
        }),
      );
      child.kill(signal);
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      expect(code, err).toBe(status);
      expect(err).toMatch(new RegExp(`interrupted by ${signal} after \\d+ of 1000 epoch\\(s\\); saved the network (after epoch \\d+|as trained so far \\(no epoch had finished\\)) to ${file}`));
      expect((await Network.load(file)).shape).toEqual([784, 32, 10]);
    });
  }

  it('a closed stdout (hdrnn train | head -1) neither prints a stack trace nor stops the run', () => {
    const file = path.join(tmp.dir, 'piped.nn');
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${bin}" train -e 3 --limit 1000 -n "${file}" | head -c 1 >/dev/null; echo "status=\${PIPESTATUS[0]}" >&2`], { encoding: 'utf8' });
    expect(r.stderr).toMatch(/status=0/);
    expect(r.stderr).not.toMatch(/EPIPE|at .*\.js:\d+/);
    expect(existsSync(file)).toBe(true);
  });
});

describe('hdrnn conveniences', () => {
  it('--json errors are JSON on stdout as well as one line on stderr', async () => {
    const r = await run('train', '--json', '-n', '/nonexistent/x.nn');
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(r.out)).toMatchObject({ error: { code: expect.any(String), message: expect.stringMatching(/nonexistent/) } });
    const u = await run('eval', '--json', '--bogus');
    expect(u.code).toBe(2);
    expect(JSON.parse(u.out).error.message).toMatch(/unknown option/);
  });

  it('-v, --version and `hdrnn version` print the version', async () => {
    for (const args of [['-v'], ['--version'], ['version']]) expect((await run(...args)).out).toBe(`${version}\n`);
  });

  it('--seed random prints the seed it drew, and the train JSON carries every option', async () => {
    const text = await run('train', '-e', '1', '--limit', '300', '-q', '--seed', 'random', '-n', path.join(tmp.dir, 'r.nn'));
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/^Seed \d+ \(--seed random\)$/m);
    const json = await run('train', '-e', '1', '--limit', '300', '--seed', 'random', '--json', '-n', path.join(tmp.dir, 'r.nn'), '--priority', 'background');
    const result = JSON.parse(json.out);
    expect(result.seed).toMatch(/^\d+$/);
    expect(result.options).toMatchObject({ hidden: [32], epochs: 1, batchSize: 10, learningRate: 3, shuffle: true, seed: result.seed, seedWasRandom: true, limit: 300, priority: 'background', format: 'auto' });
    // The kernels named are the ones that ran: 'best' is resolved to a real set.
    const best = JSON.parse((await run('train', '-e', '1', '--limit', '100', '-q', '--kernels', 'best', '--json', '-n', path.join(tmp.dir, 'b.nn'))).out);
    expect(best.kernels).toBe(bestKernels);
    expect(best.options.kernels).toBe(bestKernels);
    expect(availableKernels).toContain(best.kernels);
    const portable = JSON.parse((await run('train', '-e', '1', '--limit', '100', '-q', '--kernels', 'portable', '--json', '-n', path.join(tmp.dir, 'b.nn'))).out);
    expect(portable.kernels).toBe('portable');
  });

  it('infer IMAGE positional, -i - from stdin; eval --data DIR with only the t10k files', async () => {
    const net = path.join(tmp.dir, 'small.nn');
    expect((await run('train', '-e', '1', '--limit', '1000', '-q', '-n', net)).code).toBe(0);
    const mnist = await loadMnist();
    const image = path.join(tmp.dir, 'digit.pgm');
    const pgm = encodePgm({ width: 28, height: 28, pixels: Float32Array.from(mnist.test.input(0), (v) => v / 255) });
    writeFileSync(image, pgm);
    const positional = await run('infer', image, '-n', net, '--json');
    expect(positional.code, positional.err).toBe(0);
    const stdin = spawnSync(process.execPath, [bin, 'infer', '-i', '-', '-n', net, '--json'], { input: pgm, encoding: 'utf8' });
    expect(stdin.status, stdin.stderr).toBe(0);
    expect(JSON.parse(stdin.stdout).label).toBe(JSON.parse(positional.out).label);
    const only = path.join(tmp.dir, 't10k-only');
    mkdirSync(only);
    for (const f of ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) copyFileSync(path.join(defaultMnistDir()!, f), path.join(only, f));
    const ev = await run('eval', '-n', net, '--data', only, '--json');
    expect(ev.code, ev.err).toBe(0);
    expect(JSON.parse(ev.out).total).toBe(10000);
    expect(readFileSync(net).length).toBeGreaterThan(0);
  });

  it('HDRNN_KERNELS=foo is an error, not a silent fallback', () => {
    const r = spawnSync(process.execPath, [bin, 'eval', '-n', 'x.nn'], { encoding: 'utf8', env: { ...process.env, HDRNN_KERNELS: 'foo' } });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/HDRNN_KERNELS=foo/);
  });
});
