// The benchmark's comparison peers (TensorFlow.js), installed on demand into
// .cache/bench-peers/ instead of with the package's devDependencies: they
// are 286 MB that nothing but `npm run bench` uses, and made a plain
// `npm install` of a clone take minutes. Versions are pinned here.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const { createRequire } = require('node:module');
const path = require('node:path');

const PEERS = { '@tensorflow/tfjs': '4.22.0', '@tensorflow/tfjs-backend-wasm': '4.22.0' };
const prefix = path.resolve(__dirname, '..', '.cache', 'bench-peers');

function installed() {
  return Object.entries(PEERS).every(([name, version]) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(prefix, 'node_modules', name, 'package.json'), 'utf8')).version === version;
    } catch {
      return false;
    }
  });
}

/** require() for the peers, installing them first if they are missing. */
function peerRequire() {
  if (!installed()) {
    fs.mkdirSync(prefix, { recursive: true });
    if (!fs.existsSync(path.join(prefix, 'package.json'))) fs.writeFileSync(path.join(prefix, 'package.json'), '{"private":true}\n');
    process.stderr.write(`installing the benchmark's comparison peers into ${prefix} (once)...\n`);
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const specs = Object.entries(PEERS).map(([name, version]) => `${name}@${version}`);
    const r = spawnSync(npm, ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--no-save', ...specs], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0 || !installed()) throw new Error(`could not install ${specs.join(' ')} into ${prefix}`);
  }
  return createRequire(path.join(prefix, 'package.json'));
}

module.exports = { peerRequire, PEERS, prefix };
