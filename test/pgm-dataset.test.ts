/**
 * PGM images (P2 and P5, comments, any maxval) and user-built datasets.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { Dataset, ErrorCodes, Network, createDataset, decodePgm, encodePgm, imageToText, readPgm, tempDir } from './helpers';

const tmp = tempDir();
afterAll(tmp.cleanup);

describe('PGM', () => {
  it('reads P2 with comments anywhere in the header', async () => {
    const image = await decodePgm(Buffer.from('P2\n# made by hand\n3 # width\n2\n# maxval next\n15\n0 5 10\n15 # bright\n 1 2\n'));
    expect(image).toMatchObject({ width: 3, height: 2, maxval: 15 });
    expect(Array.from(image.pixels)).toEqual([0, 5, 10, 15, 1, 2].map((v) => Math.fround(v / 15)));
  });

  it('reads P5 with 8-bit and 16-bit (big-endian) samples', async () => {
    const p8 = Buffer.concat([Buffer.from('P5\n2 2\n255\n'), Buffer.from([0, 128, 255, 1])]);
    expect(Array.from((await decodePgm(p8)).pixels)).toEqual([0, 128, 255, 1].map((v) => Math.fround(v / 255)));
    const p16 = Buffer.concat([Buffer.from('P5 2 1 65535\n'), Buffer.from([0xff, 0xff, 0x80, 0x00])]);
    const image = await decodePgm(p16);
    expect(image.maxval).toBe(65535);
    expect(Array.from(image.pixels)).toEqual([1, Math.fround(0x8000 / 65535)]);
    // A comment right after maxval ends at its line end, which is the separator.
    const commented = Buffer.concat([Buffer.from('P5 2 1 255#comment\n'), Buffer.from([200, 7])]);
    expect(Array.from((await decodePgm(commented)).pixels)).toEqual([200, 7].map((v) => Math.fround(v / 255)));
    const p1 = Buffer.concat([Buffer.from('P5\n1 1\n1\n'), Buffer.from([1])]);
    expect(Array.from((await decodePgm(p1)).pixels)).toEqual([1]);
  });

  it('round-trips the seed-style P2 it writes, from a file', async () => {
    const pixels = Float32Array.from({ length: 784 }, (_, i) => (i % 256) / 255);
    const file = path.join(tmp.dir, 'img.pgm');
    writeFileSync(file, encodePgm({ width: 28, height: 28, pixels }));
    const image = await readPgm(file);
    expect([image.width, image.height]).toEqual([28, 28]);
    expect(image.pixels).toEqual(pixels);
    const art = imageToText(image).split('\n');
    expect(art).toHaveLength(28);
    expect(art[0][0]).toBe(' ');
  });

  it.each([
    ['P6\n1 1\n255\n\0\0\0', /P2 or P5/],
    ['P2\n2 2\n255\n1 2 3', /truncated/],
    ['P5\n2 2\n255\n\x01\x02', /truncated/],
    ['P2\n1 1\n10\n11\n', /above maxval/],
    ['P2\n0 5\n255\n', /0x5/],
    ['P2\n2 2\n0\n', /maxval/],
    ['P2\n2 2\n70000\n', /maxval/],
    ['P2\nx 2\n255\n', /number/],
    ['P2\n2 2\n255\n1 2 three 4\n', /number/],
    ['P2\n100000 100000\n255\n1\n', /limit/],
    ['', /truncated/],
  ])('rejects %j', async (text, message) => {
    const error = await decodePgm(Buffer.from(text, 'latin1')).then(
      () => undefined,
      (e) => e,
    );
    expect(error).toBeDefined();
    expect([ErrorCodes.BAD_FILE, ErrorCodes.LIMIT]).toContain(error.code);
    expect(error.message).toMatch(message);
  });

  it('refuses an image whose size does not fit the network', async () => {
    const net = new Network({ shape: [784, 8, 10], seed: 1 });
    const image = await decodePgm(Buffer.from('P2\n2 2\n255\n1 2 3 4\n'));
    await expect(net.infer(image)).rejects.toMatchObject({ code: ErrorCodes.SHAPE_MISMATCH });
  });

  it('reports missing and oversized files', async () => {
    await expect(readPgm(path.join(tmp.dir, 'none.pgm'))).rejects.toMatchObject({ code: 'ENOENT' });
    const file = path.join(tmp.dir, 'big.pgm');
    writeFileSync(file, Buffer.alloc(5000, 0x20));
    await expect(readPgm(file, { limits: { maxFileBytes: 1000 } })).rejects.toMatchObject({ code: ErrorCodes.LIMIT });
  });
});

describe('Dataset', () => {
  it('builds from bytes, floats and number arrays, with views and slices', () => {
    const d = Dataset.from({ inputs: new Uint8Array([1, 2, 3, 4, 5, 6]), labels: [0, 2, 1], inputSize: 2 });
    expect([d.count, d.inputSize, d.classes, d.inputType]).toEqual([3, 2, 3, 'u8']);
    expect(Array.from(d.input(1))).toEqual([3, 4]);
    expect(d.label(2)).toBe(1);
    const s = d.slice(1, 3);
    expect([s.count, s.label(0)]).toEqual([2, 2]);
    expect(Array.from(s.input(1))).toEqual([5, 6]);
    const f = createDataset({ inputs: [0.5, 0.25], labels: new Uint32Array([300]), width: 2, height: 1 });
    expect([f.inputType, f.classes, f.width, f.height]).toEqual(['f32', 301, 2, 1]);
    expect(Array.from(f.labels!)).toEqual([300]);
    expect(f.labels).toBeInstanceOf(Uint32Array);
  });

  it('copies the data: later changes to the source do not reach it', () => {
    const source = new Uint8Array([9, 9]);
    const d = Dataset.from({ inputs: source, inputSize: 2 });
    source[0] = 1;
    expect(d.input(0)[0]).toBe(9);
  });

  it.each([
    [{ inputs: new Uint8Array(5), inputSize: 2 }, RangeError],
    [{ inputs: new Uint8Array(4), inputSize: 0 }, RangeError],
    [{ inputs: new Uint8Array(4) }, TypeError],
    [{ inputs: 'abc', inputSize: 1 }, TypeError],
    [{ inputs: new Int8Array(4), inputSize: 2 }, TypeError],
    [{ inputs: [1, NaN], inputSize: 2 }, RangeError],
    [{ inputs: [1, 1e39], inputSize: 2 }, RangeError],
    [{ inputs: new Uint8Array(4), inputSize: 2, labels: [0] }, RangeError],
    [{ inputs: new Uint8Array(4), inputSize: 2, labels: [0, -1] }, RangeError],
    [{ inputs: new Uint8Array(4), inputSize: 2, labels: [0, 1.5] }, RangeError],
    [{ inputs: new Uint8Array(4), inputSize: 2, labels: 'ab' }, TypeError],
    [{ inputs: new Uint8Array(4), inputSize: 4, width: 3, height: 3 }, RangeError],
    [null, TypeError],
  ])('rejects bad sources (case %#)', (source, Kind) => {
    expect(() => Dataset.from(source as never)).toThrow(Kind);
  });

  it('keeps its memory alive while training, even if the caller transfers its view away', async () => {
    const count = 500;
    const inputs = new Uint8Array(count * 16).map((_, i) => (i * 37) & 255);
    const labels = new Uint8Array(count).map((_, i) => i % 4);
    const d = Dataset.from({ inputs, labels, inputSize: 16 });
    const net = new Network({ shape: [16, 8, 4], seed: 1 });
    const run = net.train(d, { epochs: 50, seed: 1 });
    // Try to detach the view by transferring its buffer (V8 may copy an
    // external buffer instead); either way the native memory must survive,
    // because the run holds its own reference to it.
    const view = d.inputs;
    try {
      structuredClone(view.buffer, { transfer: [view.buffer as ArrayBuffer] });
    } catch {
      /* not transferable: fine too */
    }
    await run;
    expect((await net.getParameters()).weights[0].every(Number.isFinite)).toBe(true);
  });
});

describe('Dataset.fromAsync', () => {
  it('builds the same dataset as Dataset.from, for bytes, floats, number[], labels and targets', async () => {
    // More than one slice (256 Ki values) of each, so the turns between slices are exercised.
    const n = 700_000;
    const bytes = new Uint8Array(n).map((_, i) => (i * 7) & 0xff);
    const floats = new Float64Array(n).map((_, i) => Math.sin(i));
    const labels = Array.from({ length: n / 7 }, (_, i) => i % 5);
    const a = Dataset.from({ inputs: bytes, inputSize: 7, labels });
    const b = await Dataset.fromAsync({ inputs: bytes, inputSize: 7, labels });
    expect([b.count, b.classes, b.inputType]).toEqual([a.count, a.classes, a.inputType]);
    expect(Buffer.compare(Buffer.from(b.inputs as Uint8Array), Buffer.from(a.inputs as Uint8Array))).toBe(0);
    expect([...b.labels!]).toEqual([...a.labels!]);
    const c = await Dataset.fromAsync({ inputs: floats, inputSize: 10, targets: [...floats.subarray(0, n / 10)] });
    const d = Dataset.from({ inputs: floats, inputSize: 10, targets: [...floats.subarray(0, n / 10)] });
    expect(Buffer.compare(Buffer.from((c.inputs as Float32Array).buffer), Buffer.from((d.inputs as Float32Array).buffer))).toBe(0);
    expect(c.task).toBe('regression');
    const e = await Dataset.fromAsync({ inputs: [...floats.subarray(0, 300_000)], inputSize: 3 });
    expect((e.inputs as Float32Array)[299_999]).toBeCloseTo(Math.sin(299_999), 5);
  });

  it('refuses a typed array detached or shrunk between slices, and a non-finite value past the first slice', async () => {
    const inputs = new Float32Array(1 << 20);
    const pending = Dataset.fromAsync({ inputs, inputSize: 4 });
    structuredClone(inputs.buffer, { transfer: [inputs.buffer] });
    await expect(pending).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARG_VALUE, message: /detached or resized/ });

    const resizable = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void })(1 << 21, { maxByteLength: 1 << 21 });
    const tracking = new Uint8Array(resizable); // length-tracking
    const shrinking = Dataset.fromAsync({ inputs: tracking, inputSize: 2 });
    resizable.resize(16);
    await expect(shrinking).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARG_VALUE });

    const bad = new Float32Array(600_000);
    bad[500_001] = Number.NaN;
    await expect(Dataset.fromAsync({ inputs: bad, inputSize: 1 })).rejects.toMatchObject({ code: ErrorCodes.OUT_OF_RANGE, message: /inputs\[500001\]/ });
  });
});
