// The README's "Your own data" numbers: vega-datasets' seattle-weather
// (accuracy against the majority class) and cars (miles per gallon: RMSE
// against least-squares linear regression), each on held-out rows (every
// fifth row), trained with the CLI's CSV defaults. Run: node bench/own-data.mjs
// (after npm run build:ts). Also times loadCsv on a generated 1,000,000-row file.
// Prints a table and one JSON line.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { Dataset, loadCsv, train: hdrnnTrain } = require(root);
const vega = path.join(path.dirname(require.resolve('vega-datasets')), '..', 'data');

/** Rows i with i % 5 === 4 held out; the rest train. */
function split(data) {
  const rows = (keep) => [...Array(data.count).keys()].filter((i) => (i % 5 === 4) === keep);
  const pick = (idx) => {
    const n = data.inputSize;
    const inputs = new Float32Array(idx.length * n);
    idx.forEach((r, i) => inputs.set(data.input(r), i * n));
    if (data.task === 'regression') {
      const t = data.targetSize;
      const targets = new Float32Array(idx.length * t);
      idx.forEach((r, i) => targets.set(data.targets.subarray(r * t, (r + 1) * t), i * t));
      return Dataset.from({ inputs, inputSize: n, targets, targetSize: t });
    }
    return Dataset.from({ inputs, inputSize: n, labels: Uint32Array.from(idx, (r) => data.label(r)) });
  };
  return { train: pick(rows(false)), test: pick(rows(true)) };
}

/** Least squares with an intercept: solves (X'X) b = X'y by Gaussian elimination with partial pivoting. */
function linearRegression(train) {
  const n = train.inputSize + 1;
  const A = Array.from({ length: n }, () => new Float64Array(n));
  const b = new Float64Array(n);
  for (let i = 0; i < train.count; i++) {
    const x = [1, ...train.input(i)];
    const y = train.targets[i];
    for (let j = 0; j < n; j++) {
      b[j] += x[j] * y;
      for (let k = 0; k < n; k++) A[j][k] += x[j] * x[k];
    }
  }
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(A[r][c]) > Math.abs(A[p][c])) p = r;
    [A[c], A[p]] = [A[p], A[c]];
    [b[c], b[p]] = [b[p], b[c]];
    for (let r = c + 1; r < n; r++) {
      const f = A[r][c] / A[c][c];
      for (let k = c; k < n; k++) A[r][k] -= f * A[c][k];
      b[r] -= f * b[c];
    }
  }
  const w = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r];
    for (let k = r + 1; k < n; k++) s -= A[r][k] * w[k];
    w[r] = s / A[r][r];
  }
  return (x) => w[0] + x.reduce((s, v, j) => s + v * w[j + 1], 0);
}

async function fit(train, task) {
  const t0 = process.hrtime.bigint();
  let epochs = 0;
  const net = await hdrnnTrain(train, {
    hidden: [32], activation: 'relu', init: 'he',
    output: task === 'regression' ? 'linear' : 'softmax',
    loss: task === 'regression' ? 'quadratic' : 'cross-entropy',
    standardize: true, epochs: 100, batchSize: 32, learningRate: 0.01, optimizer: 'adam', seed: 1,
    validationSplit: 0.1, earlyStopping: { patience: 10, restoreBest: true },
    onEpoch: () => void epochs++,
  });
  return { net, seconds: Number(process.hrtime.bigint() - t0) / 1e9, epochs };
}

const results = {};
{
  const data = await loadCsv(path.join(vega, 'seattle-weather.csv'), { target: 'weather', features: ['precipitation', 'temp_max', 'temp_min', 'wind'] });
  const { train, test } = split(data);
  const counts = new Array(data.classes).fill(0);
  for (let i = 0; i < train.count; i++) counts[train.label(i)]++;
  const majority = counts.indexOf(Math.max(...counts));
  let right = 0;
  for (let i = 0; i < test.count; i++) right += test.label(i) === majority ? 1 : 0;
  const { net, seconds, epochs } = await fit(train, 'classification');
  const e = await net.evaluate(test);
  results.seattle = { rows: data.count, test: test.count, majorityClass: data.classNames[majority], majorityAccuracy: right / test.count, accuracy: e.accuracy, epochs, seconds };
}
{
  const rows = JSON.parse(readFileSync(path.join(vega, 'cars.json'), 'utf8'));
  const cols = Object.keys(rows[0]);
  const dir = mkdtempSync(path.join(tmpdir(), 'hdrnn-bench-'));
  const file = path.join(dir, 'cars.csv');
  writeFileSync(file, [cols.join(','), ...rows.map((r) => cols.map((c) => (r[c] === null ? '' : typeof r[c] === 'string' ? `"${r[c]}"` : r[c])).join(','))].join('\n'));
  const data = await loadCsv(file, { target: 'Miles_per_Gallon', features: ['Cylinders', 'Displacement', 'Horsepower', 'Weight_in_lbs', 'Acceleration'], task: 'regression', missing: 'drop' });
  rmSync(dir, { recursive: true, force: true });
  const { train, test } = split(data);
  const predict = linearRegression(train);
  let se = 0;
  for (let i = 0; i < test.count; i++) se += (predict([...test.input(i)]) - test.targets[i]) ** 2;
  const { net, seconds, epochs } = await fit(train, 'regression');
  const e = await net.evaluate(test);
  results.cars = { rows: data.count, dropped: data.csv.dropped, test: test.count, linearRmse: Math.sqrt(se / test.count), rmse: e.rmse, mae: e.mae, epochs, seconds };
}
{
  // loadCsv on a bigger file: 1,000,000 rows of 8 numeric features and a class (about 60 MB).
  const dir = mkdtempSync(path.join(tmpdir(), 'hdrnn-bench-'));
  const file = path.join(dir, 'big.csv');
  const { openSync, writeSync, closeSync, statSync } = await import('node:fs');
  const fd = openSync(file, 'w');
  writeSync(fd, 'a,b,c,d,e,f,g,h,y\n');
  let a = 1;
  const rnd = () => ((a = (a * 1103515245 + 12345) % 2147483648) / 2147483648) * 100;
  for (let chunk = 0; chunk < 100; chunk++) {
    let text = '';
    for (let i = 0; i < 10_000; i++) text += `${Array.from({ length: 8 }, () => rnd().toFixed(3)).join(',')},${i % 3 ? 'ok' : 'worn'}\n`;
    writeSync(fd, text);
  }
  closeSync(fd);
  const bytes = statSync(file).size;
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const t0 = process.hrtime.bigint();
  const data = await loadCsv(file, { target: 'y' });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  rmSync(dir, { recursive: true, force: true });
  results.bigCsv = { rows: data.count, megabytes: bytes / 1e6, seconds, mbPerSecond: bytes / 1e6 / seconds, floatMegabytes: (data.count * 8 * 4) / 1e6, rssGrowthMegabytes: (peak - rss0) / 1e6 };
}
const s = results.seattle;
const c = results.cars;
console.log(`seattle-weather: ${s.rows} rows, ${s.test} held out; majority class (${s.majorityClass}) ${(s.majorityAccuracy * 100).toFixed(1)} %, 4-32-5 network ${(s.accuracy * 100).toFixed(1)} % (${s.epochs} epochs, ${s.seconds.toFixed(2)} s)`);
console.log(`cars mpg: ${c.rows} rows (${c.dropped} dropped), ${c.test} held out; linear regression RMSE ${c.linearRmse.toFixed(2)}, 5-32-1 network RMSE ${c.rmse.toFixed(2)} (MAE ${c.mae.toFixed(2)}, ${c.epochs} epochs, ${c.seconds.toFixed(2)} s)`);
const b = results.bigCsv;
console.log(`loadCsv: ${b.rows} rows, ${b.megabytes.toFixed(1)} MB in ${b.seconds.toFixed(2)} s (${b.mbPerSecond.toFixed(1)} MB/s); ${b.floatMegabytes.toFixed(0)} MB of floats, peak RSS growth ${b.rssGrowthMegabytes.toFixed(0)} MB`);
console.log(JSON.stringify({ date: new Date().toISOString(), ...results }));
