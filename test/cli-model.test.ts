/**
 * The model flags of `hdrnn train` (issue 10) on real MNIST.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { runCli } from './cli-run';
import { parseArgs, UsageError } from '../lib/cli-args';
import { Network, tempDir } from './helpers';

const tmp = tempDir();
afterAll(tmp.cleanup);

const run = runCli;

describe('hdrnn train model flags', () => {
  it('parses them and refuses unknown values', () => {
    const o = parseArgs(['train', '--activation', 'relu', '--output=softmax', '--loss', 'cross-entropy', '--init', 'he', '--optimizer', 'adam', '--weight-decay', '1e-4']);
    expect(o).toMatchObject({ activation: 'relu', output: 'softmax', loss: 'cross-entropy', init: 'he', optimizer: 'adam', weightDecay: 1e-4 });
    expect(parseArgs(['train'])).not.toHaveProperty('activation');
    expect(() => parseArgs(['train', '--activation', 'softmax'])).toThrow(UsageError);
    expect(() => parseArgs(['train', '--optimizer', 'rmsprop'])).toThrow(UsageError);
    expect(() => parseArgs(['train', '--weight-decay', '-1'])).toThrow(UsageError);
    expect(() => parseArgs(['eval', '--loss', 'quadratic'])).toThrow(UsageError);
  });

  it('trains MNIST with softmax + cross-entropy + Xavier and saves a v3 file', async () => {
    const file = path.join(tmp.dir, 'softmax.nn');
    const r = await run('train', '-e', '1', '--limit', '6000', '--output', 'softmax', '--loss', 'cross-entropy', '--init', 'xavier', '--optimizer', 'momentum', '-lr', '0.05', '-n', file, '--json');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out.trim().split('\n').pop()!);
    expect(result.test.accuracy).toBeGreaterThan(0.85);
    expect(result.activations).toEqual(['sigmoid', 'softmax']);
    expect(result.format).toBe('v3');
    expect(readFileSync(file).readUInt16LE(4)).toBe(3);
    const net = await Network.load(file);
    expect(net.activations).toEqual(['sigmoid', 'softmax']);
    expect(net.loss).toBe('cross-entropy');
    const bad = await run('train', '-e', '1', '--limit', '100', '--output', 'linear', '--loss', 'cross-entropy', '-n', path.join(tmp.dir, 'x.nn'));
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/cross-entropy/);
  });
});
