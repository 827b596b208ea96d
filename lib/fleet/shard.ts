/**
 * Splitting a labelled dataset between simulated devices: IID (a shuffled,
 * even split) or non-IID (each device's examples 90 % from its own two
 * classes and 10 % from the others, as a truck that mostly sees the same
 * roads). Deterministic for a given seed, so `join --shard i/n` in separate
 * processes gives disjoint-as-possible, reproducible shards.
 */
import { Dataset } from '../dataset';

function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle(a: number[], random: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
}

/** Example indices of every device. */
export function shardIndices(labels: ArrayLike<number>, devices: number, options: { nonIid?: boolean; seed?: number; classes?: number } = {}): number[][] {
  const random = mulberry(options.seed ?? 1);
  const n = labels.length;
  if (!options.nonIid) {
    const all = Array.from({ length: n }, (_, i) => i);
    shuffle(all, random);
    return Array.from({ length: devices }, (_, d) => all.filter((_, i) => i % devices === d));
  }
  const classes = options.classes ?? 10;
  const pools: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < n; i++) pools[labels[i]]?.push(i);
  pools.forEach((p) => shuffle(p, random));
  const next = new Array(classes).fill(0);
  // Take from a class's pool in turn; when more devices use a class than it has examples, it wraps.
  const take = (c: number) => {
    const p = pools[c];
    const i = p[next[c] % p.length];
    next[c]++;
    return i;
  };
  const per = Math.floor(n / devices);
  return Array.from({ length: devices }, (_, d) => {
    const main = [(2 * d) % classes, (2 * d + 1) % classes];
    const others = Array.from({ length: classes }, (_, c) => c).filter((c) => !main.includes(c) && pools[c].length > 0);
    const out: number[] = [];
    const mainCount = Math.round(per * 0.9);
    for (let k = 0; k < mainCount; k++) out.push(take(main[k % 2]));
    for (let k = 0; out.length < per; k++) out.push(take(others[k % others.length]));
    shuffle(out, random);
    return out;
  });
}

/** A new Dataset of the given rows of data (copied). */
export function subset(data: Dataset, indices: readonly number[]): Dataset {
  const size = data.inputSize;
  const src = data.inputs;
  const labels = data.labels!;
  const inputs = src instanceof Uint8Array ? new Uint8Array(indices.length * size) : new Float32Array(indices.length * size);
  const out = labels instanceof Uint32Array ? new Uint32Array(indices.length) : new Uint8Array(indices.length);
  indices.forEach((row, k) => {
    inputs.set(src.subarray(row * size, (row + 1) * size), k * size);
    out[k] = labels[row];
  });
  return Dataset.from({ inputs, labels: out, inputSize: size });
}
