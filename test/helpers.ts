/** Shared helpers for the tests. The package is imported from its TypeScript sources. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export * from '../lib/index';

/** A fresh temporary folder, removed by the returned cleanup. */
export function tempDir(prefix = 'hdrnn-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Deterministic pseudo-random numbers for building test data (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A small learnable problem: `count` examples of `inputs` bytes in `classes`
 * classes; class c lights up the c-th band of the input, plus noise.
 */
export function bandData(count: number, inputs: number, classes: number, seed = 1): { inputs: Uint8Array; labels: Uint8Array } {
  const random = rng(seed);
  const x = new Uint8Array(count * inputs);
  const y = new Uint8Array(count);
  const band = Math.floor(inputs / classes);
  for (let i = 0; i < count; i++) {
    const c = Math.floor(random() * classes);
    y[i] = c;
    for (let j = 0; j < inputs; j++) {
      const inBand = j >= c * band && j < (c + 1) * band;
      x[i * inputs + j] = Math.min(255, Math.floor((inBand ? 180 : 0) + random() * 75));
    }
  }
  return { inputs: x, labels: y };
}
