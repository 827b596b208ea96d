#!/usr/bin/env node
// The package's `install` script, and the explanation lib/binding.ts gives
// when the addon does not load.
//
// On install: a prebuild that fits (node-gyp-build's own resolution) and
// loads is used as is. Otherwise the addon is built from source with node-gyp
// when a compiler is there; when none is (a board), one line says which
// prebuilds exist and what this machine lacks (libc, architecture, glibc
// version), instead of a wall of node-gyp output, and the install fails.
//
// Plain CommonJS with no dependency but node-gyp-build, on purpose: it runs
// before anything is compiled, on Node 16 too.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
/** The oldest glibc the prebuilds load on: they are linked against Debian bullseye's (scripts/check-glibc.sh). */
const PREBUILD_GLIBC = '2.31';

/** The glibc this Node runs on, or null (musl, or not Linux). */
function glibcVersion() {
  try {
    const header = process.report && process.report.getReport().header;
    return (header && header.glibcVersionRuntime) || null;
  } catch {
    return null;
  }
}

function versionLess(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] || 0) !== (y[i] || 0)) return (x[i] || 0) < (y[i] || 0);
  }
  return false;
}

/** What this machine is, in node-gyp-build's terms. */
function host() {
  const arch = process.env.npm_config_arch || process.arch;
  const platform = process.env.npm_config_platform || process.platform;
  const glibc = platform === 'linux' ? glibcVersion() : null;
  const libc = platform !== 'linux' ? '' : glibc ? 'glibc' : 'musl';
  return { platform, arch, libc, glibc, node: process.version };
}

/** The prebuilds in the package: [{ dir: 'linux-arm', file, armv, libc }]. */
function prebuilds() {
  const dir = path.join(root, 'prebuilds');
  let dirs = [];
  try {
    dirs = fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
  const found = [];
  for (const d of dirs) {
    let files = [];
    try {
      files = fs.readdirSync(path.join(dir, d)).filter((f) => f.endsWith('.node'));
    } catch {
      continue;
    }
    for (const file of files) {
      const tags = file.split('.');
      const armv = (tags.find((t) => t.startsWith('armv')) || '').slice(4);
      const libc = tags.includes('musl') ? 'musl' : tags.includes('glibc') ? 'glibc' : '';
      found.push({ dir: d, file, armv, libc });
    }
  }
  return found;
}

function describePrebuild(p) {
  return `${p.dir}${p.armv ? ` armv${p.armv}` : ''}${p.libc === 'glibc' ? ` glibc>=${PREBUILD_GLIBC}` : p.libc ? ` ${p.libc}` : ''}`;
}

/**
 * One line: which prebuilds exist and why none fits this machine.
 * `loadError`: the error from loading a prebuild that was chosen (e.g. a
 * glibc symbol version the system lacks).
 */
function explain(loadError) {
  const h = host();
  const all = prebuilds();
  const have = all.length ? all.map(describePrebuild).join(', ') : 'none';
  const me = `${h.platform}-${h.arch}${h.libc ? ` ${h.libc}${h.glibc ? ` ${h.glibc}` : ''}` : ''}, Node ${h.node}`;
  const missing = [];
  const sameArch = all.filter((p) => p.dir === `${h.platform}-${h.arch}`);
  if (!sameArch.length) {
    missing.push(`no prebuild for ${h.platform}-${h.arch}`);
  } else {
    if (h.libc && !sameArch.some((p) => p.libc === h.libc)) missing.push(`no ${h.libc} prebuild (they are ${sameArch.map((p) => p.libc).join('/')})`);
    if (h.libc === 'glibc' && h.glibc && versionLess(h.glibc, PREBUILD_GLIBC)) missing.push(`glibc ${h.glibc} is older than ${PREBUILD_GLIBC}`);
    if (loadError) missing.push(`loading it failed: ${String(loadError.message || loadError).split('\n')[0]}`);
  }
  if (!missing.length) missing.push('no prebuild matched');
  return `hdrnn-native: no usable prebuild for this machine (${me}): ${missing.join('; ')}. Prebuilds in the package: ${have}.`;
}

/** True when `name` is an executable on PATH. */
function onPath(name) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    try {
      fs.accessSync(path.join(dir, name), fs.constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** What node-gyp needs and this machine lacks: a C++ compiler, make, Python 3. */
function missingBuildTools() {
  const lacks = [];
  const cxx = process.env.CXX ? [process.env.CXX.split(' ')[0]] : ['c++', 'g++', 'clang++'];
  if (!cxx.some((c) => (path.isAbsolute(c) ? fs.existsSync(c) : onPath(c)))) lacks.push('a C++ compiler');
  if (!onPath('make')) lacks.push('make');
  if (!process.env.npm_config_python && !process.env.PYTHON && !onPath('python3')) lacks.push('python3');
  return lacks;
}

function main() {
  let loadError = null;
  try {
    // eslint-disable-next-line global-require
    const file = require('node-gyp-build').resolve(root);
    try {
      require(file);
      return 0;
    } catch (e) {
      loadError = e;
    }
  } catch {
    // no prebuild (and no local build) fits
  }
  const lacks = missingBuildTools();
  if (lacks.length) {
    process.stderr.write(`${explain(loadError)} Building from source needs ${lacks.join(', ')}, which this machine lacks.\n`);
    return 1;
  }
  // A machine that can build: node-gyp, as node-gyp-build would.
  const { spawnSync } = require('child_process');
  const gyp = process.env.npm_config_node_gyp;
  const r = gyp
    ? spawnSync(process.execPath, [gyp, 'rebuild'], { cwd: root, stdio: 'inherit' })
    : spawnSync(process.platform === 'win32' ? 'node-gyp.cmd' : 'node-gyp', ['rebuild'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.stderr.write(`${explain(loadError)} Building from source with node-gyp failed too (see above).\n`);
  return r.status === null ? 1 : r.status;
}

module.exports = { explain, host, prebuilds, PREBUILD_GLIBC };

if (require.main === module) process.exitCode = main();
