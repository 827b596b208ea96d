/**
 * Training must not block the host service: the JavaScript thread stays
 * responsive (timer lag), and libuv's thread pool stays free for the
 * service's own fs/crypto/zlib work.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';

import { Dataset, Network, bandData } from './helpers';

describe('responsiveness during training', () => {
  it('keeps timer lag small during a multi-second training run', async () => {
    const problem = bandData(4000, 784, 10, 1);
    const data = Dataset.from({ inputs: problem.inputs, labels: problem.labels, inputSize: 784 });
    const net = new Network({ shape: [784, 64, 10], seed: 1 });
    const histogram = monitorEventLoopDelay({ resolution: 5 });
    const lags: number[] = [];
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      lags.push(now - last - 10);
      last = now;
    }, 10);
    histogram.enable();
    const started = performance.now();
    // One training thread, so the JavaScript thread has a core of its own
    // even on a two-core machine with other work.
    await net.train(data, { epochs: 100_000, batchSize: 10, seed: 1, threads: 1, signal: AbortSignal.timeout(2500) }).catch((e) => {
      if ((e as Error).name !== 'AbortError') throw e;
    });
    const elapsed = performance.now() - started;
    histogram.disable();
    clearInterval(timer);
    lags.sort((a, b) => a - b);
    const p99 = lags[Math.floor(lags.length * 0.99)];
    console.log(
      `training ${elapsed.toFixed(0)} ms; timer ticks ${lags.length}; lag p50 ${lags[lags.length >> 1].toFixed(2)} ms, ` +
        `p99 ${p99.toFixed(2)} ms, max ${lags[lags.length - 1].toFixed(2)} ms; ` +
        `event-loop delay p99 ${(histogram.percentile(99) / 1e6).toFixed(2)} ms`,
    );
    expect(elapsed).toBeGreaterThan(2000);
    // A blocked JavaScript thread would show seconds of lag and a handful
    // of ticks; a responsive one ticks ~every 10 ms throughout.
    expect(lags.length).toBeGreaterThan(elapsed / 10 / 3);
    expect(p99).toBeLessThan(100);
  });

  it('does not hold a libuv pool thread while training', () => {
    // With a pool of ONE thread, a file read issued during training must
    // finish long before the training does.
    const result = spawnSync(process.execPath, [path.join(__dirname, 'fixtures', 'pool-probe.cjs')], {
      env: { ...process.env, UV_THREADPOOL_SIZE: '1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status, result.stderr).toBe(0);
    const { readMs, trainMs } = JSON.parse(result.stdout.trim().split('\n').pop()!);
    console.log(`with UV_THREADPOOL_SIZE=1: fs.readFile took ${readMs.toFixed(1)} ms during a ${trainMs.toFixed(0)} ms training run`);
    expect(trainMs).toBeGreaterThan(1000);
    expect(readMs).toBeLessThan(trainMs / 4);
  });
});
