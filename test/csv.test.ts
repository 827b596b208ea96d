/**
 * CSV datasets: real files from the vega-datasets package, checked against
 * an independent reading of the same file, and hostile input (quotes,
 * newlines in fields, CRLF, BOM, ragged rows, huge fields, limits).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';

import { CsvTokenizer } from '../lib/csv-parser';
import { loadCsv, parseCsv, tempDir, train } from './helpers';
import { CARS_FEATURES, SEATTLE, SEATTLE_FEATURES, carsCsv } from './vega';

const tmp = tempDir();
afterAll(tmp.cleanup);

const FEATURES = SEATTLE_FEATURES;

function write(name: string, text: string | Buffer): string {
  const file = path.join(tmp.dir, name);
  writeFileSync(file, text);
  return file;
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (error) {
    return { code: (error as { code: string }).code, message: (error as Error).message };
  }
  throw new Error('expected a rejection');
}

describe('seattle-weather.csv (vega-datasets)', () => {
  it('reads the four numeric columns and the weather class, as a plain split of the lines does', async () => {
    const data = await loadCsv(SEATTLE, { target: 'weather', features: FEATURES, task: 'classification' });
    const lines = readFileSync(SEATTLE, 'utf8').trim().split('\n');
    const header = lines[0].split(',');
    const body = lines.slice(1).map((l) => l.split(','));
    expect(data.count).toBe(body.length);
    expect(data.inputSize).toBe(4);
    const names = [...new Set(body.map((r) => r[header.indexOf('weather')]))].sort();
    expect(data.classNames).toEqual(names);
    expect(data.classes).toBe(names.length);
    const cols = FEATURES.map((f) => header.indexOf(f));
    for (let i = 0; i < body.length; i++) {
      for (let j = 0; j < 4; j++) expect(data.inputs[i * 4 + j]).toBe(Math.fround(Number(body[i][cols[j]])));
      expect(data.classNames![data.label(i)]).toBe(body[i][header.indexOf('weather')]);
    }
    expect(data.csv).toMatchObject({ features: FEATURES, target: ['weather'], rows: body.length, dropped: 0, classes: names });
  });

  it('names the row and column of a cell that is not a number (the date, when every column is a feature)', async () => {
    const e = await codeOf(loadCsv(SEATTLE, { target: 'weather' }));
    expect(e.code).toBe('ERR_HDRNN_BAD_DATA');
    expect(e.message).toMatch(/row 1 \(line 2\), column "date": "2012-01-01" is not a number/);
  });

  it('refuses a column that does not exist, listing the ones that do', async () => {
    const e = await codeOf(loadCsv(SEATTLE, { target: 'rainfall', features: FEATURES }));
    expect(e.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(e.message).toMatch(/no target column "rainfall" \(the columns are: date, precipitation/);
    const f = await codeOf(loadCsv(SEATTLE, { target: 'weather', features: ['wind', 'gusts'] }));
    expect(f.message).toMatch(/no feature column "gusts"/);
    const twice = await codeOf(loadCsv(SEATTLE, { target: 'weather', features: ['wind', 'weather'] }));
    expect(twice.message).toMatch(/named twice/);
  });

  it('gives the event loop turns while it reads (one per chunk)', async () => {
    let turns = 0;
    let running = true;
    const tick = () => {
      turns++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const big = write('big.csv', `a,b,c\n${'1.5,2.25,x\n'.repeat(60_000)}`); // ~660 KB: 10 chunks
    const data = await loadCsv(big, { target: 'c', features: ['a', 'b'] });
    running = false;
    expect(data.count).toBe(60_000);
    expect(turns).toBeGreaterThanOrEqual(5);
  });
});

describe('cars.json as CSV (vega-datasets): quoted names, missing values', () => {
  it('drops the rows with a missing cell when asked, and only those', async () => {
    const { text, rows } = carsCsv();
    const file = write('cars.csv', text);
    const features = CARS_FEATURES;
    const e = await codeOf(loadCsv(file, { target: 'Origin', features: ['Miles_per_Gallon', ...features] }));
    expect(e.code).toBe('ERR_HDRNN_BAD_DATA');
    const firstBad = rows.findIndex((r) => r.Miles_per_Gallon === null);
    expect(e.message).toContain(`row ${firstBad + 1} (line ${firstBad + 2}), column "Miles_per_Gallon": the cell is missing`);

    const used = ['Miles_per_Gallon', ...features];
    const data = await loadCsv(file, { target: 'Origin', features: used, missing: 'drop' });
    const kept = rows.filter((r) => used.every((c) => r[c] !== null));
    expect(data.count).toBe(kept.length);
    expect(data.csv!.dropped).toBe(rows.length - kept.length);
    expect(data.classNames).toEqual(['Europe', 'Japan', 'USA']);
    kept.forEach((r, i) => {
      used.forEach((c, j) => expect(data.inputs[i * used.length + j]).toBe(Math.fround(r[c] as number)));
      expect(data.classNames![data.label(i)]).toBe(r.Origin);
    });
  });
});

describe('regression: cars miles per gallon from the other columns', () => {
  it('reads float targets (several target columns too)', async () => {
    const { text, rows } = carsCsv();
    const file = write('cars-reg.csv', text);
    const data = await loadCsv(file, { target: 'Miles_per_Gallon', features: CARS_FEATURES, task: 'regression', missing: 'drop' });
    const kept = rows.filter((r) => ['Miles_per_Gallon', ...CARS_FEATURES].every((c) => r[c] !== null));
    expect(data.task).toBe('regression');
    expect(data.targetSize).toBe(1);
    expect(data.count).toBe(kept.length);
    expect(Array.from(data.targets!)).toEqual(kept.map((r) => Math.fround(r.Miles_per_Gallon as number)));
    expect(data.classNames).toBeNull();
    const two = await loadCsv(file, { target: ['Miles_per_Gallon', 'Acceleration'], features: CARS_FEATURES.slice(0, 4), task: 'regression', missing: 'drop' });
    expect(two.targetSize).toBe(2);
    expect(two.inputSize).toBe(4);
    expect(two.targets![1]).toBe(Math.fround(kept[0].Acceleration as number));
    const e = await codeOf(loadCsv(file, { target: 'Origin', features: CARS_FEATURES, task: 'regression', missing: 'drop' }));
    expect(e.message).toMatch(/column "Origin": "USA" is not a number/);
  });

  it('a standardised network with a linear output beats predicting the mean', async () => {
    const file = write('cars-train.csv', carsCsv().text);
    const data = await loadCsv(file, { target: 'Miles_per_Gallon', features: CARS_FEATURES, task: 'regression', missing: 'drop' });
    const net = await train(data, { hidden: [16], activation: 'tanh', init: 'xavier', optimizer: 'adam', learningRate: 0.01, epochs: 60, seed: 1, standardize: true });
    expect(net.outputKind).toBe('values');
    expect(net.standardization).not.toBeNull();
    const r = await net.evaluate(data);
    const y = Array.from(data.targets!);
    const mean = y.reduce((a, b) => a + b, 0) / y.length;
    const baseline = Math.sqrt(y.reduce((a, b) => a + (b - mean) ** 2, 0) / y.length);
    expect(r.rmse).toBeLessThan(baseline / 2);
  });
});

describe('classification: seattle weather', () => {
  it('a softmax network on standardised features beats the majority class, and keeps the class names', async () => {
    const data = await loadCsv(SEATTLE, { target: 'weather', features: FEATURES });
    const net = await train(data, { hidden: [16], activation: 'relu', output: 'softmax', loss: 'cross-entropy', init: 'he', optimizer: 'adam', learningRate: 0.01, epochs: 20, seed: 1, standardize: true });
    expect(net.shape).toEqual([4, 16, 5]);
    expect(net.classes).toEqual(data.classNames);
    const counts = new Array(data.classes).fill(0);
    for (const y of data.labels!) counts[y]++;
    const majority = Math.max(...counts) / data.count;
    expect((await net.evaluate(data)).accuracy).toBeGreaterThan(majority + 0.1);
  });
});

describe('the tokenizer', () => {
  const tricky = Buffer.from(
    '\uFEFFname,"note",x\r\n' +
      '"Smith, J.","said ""hi""\non two lines",1\r\n' +
      'plain,,2\r' + // a lone CR ends a record too
      '"","",3\n\n' + // blank line skipped
      'a,b,',
    'utf8',
  );
  function tokens(chunks: Uint8Array[]): string[][] {
    const records: string[][] = [];
    let row: string[] = [];
    const t = new CsvTokenizer(
      {
        field: (b, s, e) => row.push(Buffer.from(b.subarray(s, e)).toString('utf8')),
        record: () => {
          records.push(row);
          row = [];
        },
      },
      0x2c,
      1000,
    );
    for (const c of chunks) t.push(c);
    t.end();
    return records;
  }
  const expected = [
    ['name', 'note', 'x'],
    ['Smith, J.', 'said "hi"\non two lines', '1'],
    ['plain', '', '2'],
    ['', '', '3'],
    ['a', 'b', ''],
  ];

  it('reads quotes, doubled quotes, newlines in fields, CRLF, lone CR, a BOM and an empty last field', () => {
    expect(tokens([tricky])).toEqual(expected);
  });

  it('reads back any records written by RFC 4180 rules, however the bytes are chunked (property)', () => {
    const cell = fc.string({ unit: fc.constantFrom('a', 'é', ',', '"', '\n', '\r\n', ' ', '7', '€'), maxLength: 8 });
    const records = fc.integer({ min: 1, max: 5 }).chain((w) => fc.array(fc.array(cell, { minLength: w, maxLength: w }), { minLength: 1, maxLength: 6 }));
    fc.assert(
      fc.property(records, fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 6 }), fc.context(), (rows, cuts, ctx) => {
        // A record of one empty field would be a blank line: skipped by design, so quote it.
        const quote = (c: string) => (c === '' || /[",\r\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
        const text = rows.map((r) => r.map(quote).join(',')).join('\r\n');
        const bytes = Buffer.from(text, 'utf8');
        const chunks: Uint8Array[] = [];
        let at = 0;
        for (const c of cuts) {
          if (at >= bytes.length) break;
          chunks.push(bytes.subarray(at, Math.min(bytes.length, at + c)));
          at += c;
        }
        if (at < bytes.length) chunks.push(bytes.subarray(at));
        ctx.log(JSON.stringify(text));
        expect(tokens(chunks)).toEqual(rows);
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same records wherever the chunks are cut', () => {
    for (let cut = 1; cut < tricky.length; cut++) {
      expect(tokens([tricky.subarray(0, cut), tricky.subarray(cut)])).toEqual(expected);
    }
    expect(tokens([...tricky].map((b) => Uint8Array.of(b)))).toEqual(expected);
  });
});

describe('hostile CSV', () => {
  const opts = { target: 'y', features: ['a', 'b'] } as const;

  it('reads CRLF, a BOM, quoted numbers and padding', async () => {
    const d = await parseCsv('\uFEFFa,b,y\r\n" 1.5 ",-2e1,cat\r\n.5,+3.,dog\r\n', opts);
    expect(Array.from(d.inputs)).toEqual([1.5, -20, 0.5, 3]);
    expect(d.classNames).toEqual(['cat', 'dog']);
  });

  it('sorts numeric class names as numbers', async () => {
    const d = await parseCsv('a,b,y\n1,1,10\n1,1,2\n1,1,1\n', opts);
    expect(d.classNames).toEqual(['1', '2', '10']);
    expect(Array.from(d.labels!)).toEqual([2, 1, 0]);
  });

  it('maps names with given classes, and refuses a name not among them', async () => {
    const d = await parseCsv('a,b,y\n1,1,dog\n', { ...opts, classes: ['cat', 'dog', 'eel'] });
    expect(d.classes).toBe(3);
    expect(Array.from(d.labels!)).toEqual([1]);
    const e = await codeOf(parseCsv('a,b,y\n1,1,cow\n', { ...opts, classes: ['cat', 'dog'] }));
    expect(e).toMatchObject({ code: 'ERR_HDRNN_BAD_DATA' });
    expect(e.message).toMatch(/row 1 .*column "y": "cow" is not one of the known classes/);
  });

  it('refuses numbers JavaScript would take but a CSV should not mean', async () => {
    for (const bad of ['0x10', 'Infinity', '1,5', '1e39', '--1', '1e', '.']) {
      const e = await codeOf(parseCsv(`a;b;y\n${bad};1;c\n`, { ...opts, delimiter: ';' }));
      expect(e.code, bad).toBe('ERR_HDRNN_BAD_DATA');
      expect(e.message).toMatch(/row 1 \(line 2\), column "a"/);
    }
  });

  it('reports a ragged row with its row and line', async () => {
    const e = await codeOf(parseCsv('a,b,y\n1,2,c\n1,2\n', opts));
    expect(e.code).toBe('ERR_HDRNN_BAD_FILE');
    expect(e.message).toMatch(/row 2 \(line 3\) has 2 fields, the header has 3/);
    const more = await codeOf(parseCsv('a,b,y\n1,2,c,9\n', opts));
    expect(more.message).toMatch(/row 1 \(line 2\) has 4 fields/);
  });

  it('reports broken quoting', async () => {
    const open = await codeOf(parseCsv('a,b,y\n1,"2,c\n', opts));
    expect(open).toMatchObject({ code: 'ERR_HDRNN_BAD_FILE' });
    expect(open.message).toMatch(/not closed before the end/);
    const after = await codeOf(parseCsv('a,b,y\n1,"2"x,c\n', opts));
    expect(after.message).toMatch(/row 1 \(line 2\): unexpected character "x" after a closing quote/);
  });

  it('caps a huge field, quoted or not, without holding it', async () => {
    const huge = 'x'.repeat(2_000_000);
    const e = await codeOf(parseCsv(`a,b,y\n1,${huge},c\n`, opts));
    expect(e.code).toBe('ERR_HDRNN_LIMIT');
    expect(e.message).toMatch(/row 1 \(line 2\): a field is longer than 1048576 bytes/);
    const q = await codeOf(parseCsv(`a,b,y\n1,"${huge}",c\n`, { ...opts, limits: { maxFieldBytes: 1000 } }));
    expect(q.message).toMatch(/longer than 1000 bytes/);
  });

  it('caps rows, columns and file size', async () => {
    expect((await codeOf(parseCsv('a,b,y\n1,1,c\n1,1,c\n', { ...opts, limits: { maxRows: 1 } }))).code).toBe('ERR_HDRNN_LIMIT');
    expect((await codeOf(parseCsv('a,b,y\n1,1,c\n', { ...opts, limits: { maxColumns: 2 } }))).message).toMatch(/3 columns, more than the limit of 2/);
    const file = write('small.csv', 'a,b,y\n1,1,c\n');
    expect((await codeOf(loadCsv(file, { ...opts, limits: { maxFileBytes: 5 } }))).code).toBe('ERR_HDRNN_LIMIT');
    // The floats are capped by the same budget: 40 bytes hold 3 rows of 2 features and a label, not 4.
    const values = await codeOf(parseCsv(`a,b,y\n${'1,1,c\n'.repeat(4)}`, { ...opts, limits: { maxFileBytes: 40 } }));
    expect(values.message).toMatch(/the values would take more than 40 bytes/);
    expect((await parseCsv(`a,b,y\n${'1,1,c\n'.repeat(3)}`, { ...opts, limits: { maxFileBytes: 40 } })).count).toBe(3);
  });

  it('passes on file system errors with their codes', async () => {
    await expect(loadCsv(path.join(tmp.dir, 'absent.csv'), opts)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(loadCsv(tmp.dir, opts)).rejects.toMatchObject({ code: 'EISDIR' });
  });

  it('refuses an empty file, a header alone, and a file whose every row is dropped', async () => {
    expect(await codeOf(loadCsv(write('empty.csv', ''), opts))).toMatchObject({ code: 'ERR_HDRNN_BAD_DATA', message: expect.stringMatching(/is empty/) });
    expect((await codeOf(parseCsv('a,b,y\n', opts))).message).toMatch(/no data rows/);
    expect((await codeOf(parseCsv('a,b,y\n,1,c\n', { ...opts, missing: 'drop' }))).message).toMatch(/every row has a missing cell \(1 dropped\)/);
    expect((await codeOf(parseCsv(Uint8Array.of(0xff, 0xfe, 0x61), opts))).code).toBe('ERR_HDRNN_BAD_FILE');
  });

  it('treats NA, N/A, NaN and null as missing; naValues changes that', async () => {
    for (const na of ['NA', 'N/A', 'NaN', 'null', '']) {
      expect((await codeOf(parseCsv(`a,b,y\n${na},1,c\n`, opts))).message).toMatch(/the cell is missing/);
    }
    const d = await parseCsv('a,b,y\n?,1,c\n2,2,d\n', { ...opts, naValues: ['?'], missing: 'drop' });
    expect(d.count).toBe(1);
  });

  it('reads a file without a header by column index, and a tab delimiter', async () => {
    const d = await parseCsv('1\t2\tz\n3\t4\tw\n', { target: 2, header: false, delimiter: '\t' });
    expect(Array.from(d.inputs)).toEqual([1, 2, 3, 4]);
    expect(d.csv!.features).toEqual(['0', '1']);
    const q = await codeOf(parseCsv('1,2,z\n1,"2"x,z\n', { target: 2, header: false }));
    expect(q.message).toMatch(/row 2 \(line 2\): unexpected character/);
    const e = await codeOf(parseCsv('1,x,z\n', { target: 2, header: false }));
    expect(e.message).toMatch(/row 1 \(line 1\), column "1": "x" is not a number/);
  });

  it('checks its options', async () => {
    await expect(parseCsv('a,b\n1,2\n', { target: 'b', delimiter: '"' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(parseCsv('a,b\n1,2\n', { target: 'b', task: 'clustering' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(parseCsv('a,b\n1,2\n', { target: {} as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    const inputsOnly = await parseCsv('a,b\n1,2\n', {});
    expect([inputsOnly.inputSize, inputsOnly.labels, inputsOnly.targets]).toEqual([2, undefined, undefined]);
    await expect(parseCsv('a,b\n1,2\n', { target: ['a', 'b'] })).rejects.toThrow(/classification takes one target column/);
    await expect(parseCsv('b\n1\n', { target: 'b' })).rejects.toThrow(/no feature columns/);
  });
});
