/**
 * CSV files as datasets: numeric feature columns and a target column (a
 * class name for classification, numbers for regression), parsed as the
 * file streams in. The text is never held whole: each chunk is tokenized
 * (csv-parser.ts), each wanted field turned into a float at once, and the
 * floats kept in fixed-size blocks that are copied once into the dataset's
 * native memory at the end. The event loop gets a turn between chunks.
 */
import { createReadStream, promises as fs } from 'node:fs';

import { native } from './binding';
import { CsvSyntaxError, CsvTokenizer, type CsvSink } from './csv-parser';
import { Dataset } from './dataset';
import { ErrorCodes, hdrnnError } from './errors';
import { resolveLimits, type Limits } from './limits';
import * as v from './validate';

export type CsvTask = 'classification' | 'regression';

/** Limits of loadCsv; maxFileBytes caps the file and also the bytes of the floats kept. */
export interface CsvLimits extends Limits {
  /** Data rows in one file. Default 2^24 (like maxItems, which it defaults to). */
  maxRows?: number;
  /** Columns in one file. Default 2^16. */
  maxColumns?: number;
  /** Bytes in one field. Default 2^20. */
  maxFieldBytes?: number;
}

export interface CsvOptions {
  /**
   * The target column: its header name, or its 0-based index; several for
   * regression with several outputs. Absent: inputs only (for inference).
   */
  target?: string | number | readonly (string | number)[];
  /** Feature columns (names or 0-based indices), in the order the network sees them; default: every other column. */
  features?: readonly (string | number)[];
  /** Columns left out of the default features (names that are not in the file are fine). */
  ignore?: readonly string[];
  /** 'classification' (default): the target is a class name; 'regression': the target is a number. */
  task?: CsvTask;
  /** One character; default ','. */
  delimiter?: string;
  /** The first record names the columns; default true. Without one, columns are known by index. */
  header?: boolean;
  /** A missing cell (empty, or one of `naValues`): 'error' (default) or 'drop' the row. */
  missing?: 'error' | 'drop';
  /** Cells that mean "missing" besides the empty cell; default ['NA', 'N/A', 'NaN', 'null']. */
  naValues?: readonly string[];
  /**
   * Classification: the class names in index order, e.g. a trained network's
   * `net.classes`, so that a second file maps its names the same way; a name
   * not in the list is an error. Default: the file's names, sorted (numerically
   * when they are all numbers).
   */
  classes?: readonly string[];
  limits?: CsvLimits;
}

/** What the file said about its columns; also on `dataset.csv`. */
export interface CsvInfo {
  /** Every column's name (the header, or '0', '1'... without one). */
  columns: string[];
  features: string[];
  target: string[];
  task: CsvTask;
  /** Classification: the class names, index order. */
  classes: string[] | null;
  /** Data rows kept. */
  rows: number;
  /** Rows dropped for a missing cell (missing: 'drop'). */
  dropped: number;
}

const BLOCK = 1 << 16; // floats per storage block
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const DEFAULT_NA = ['NA', 'N/A', 'NaN', 'null'];

/** Floats appended one at a time into 256 KiB blocks (no doubling copy). */
class FloatBlocks {
  readonly blocks: Float32Array<ArrayBuffer>[] = [];
  length = 0;
  #current: Float32Array<ArrayBuffer> = new Float32Array(0);
  #at = 0;
  push(x: number): void {
    if (this.#at === this.#current.length) {
      this.#current = new Float32Array(BLOCK);
      this.blocks.push(this.#current);
      this.#at = 0;
    }
    this.#current[this.#at++] = x;
    this.length++;
  }
  /** Forgets the last n values (a dropped row). */
  pop(n: number): void {
    this.#at -= n;
    this.length -= n;
    while (this.#at < 0) {
      this.blocks.pop();
      this.#current = this.blocks[this.blocks.length - 1];
      this.#at += BLOCK;
    }
  }
  copyTo(out: Float32Array): void {
    let offset = 0;
    for (const b of this.blocks) {
      const n = Math.min(BLOCK, this.length - offset);
      if (n <= 0) break;
      out.set(n === BLOCK ? b : b.subarray(0, n), offset);
      offset += n;
    }
  }
}

function csvError(code: string, file: string, message: string, extra: Record<string, unknown>): Error {
  return hdrnnError(code as (typeof ErrorCodes)[keyof typeof ErrorCodes], `${file}: ${message}`, extra);
}

function columnList(value: unknown, name: string): (string | number)[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw v.rangeError(name, 'at least one column', 0);
  return list.map((c, i) => {
    if (typeof c === 'string') return c;
    if (typeof c === 'number') return v.integer(c, `${name}[${i}]`, 0, 2 ** 31);
    throw v.typeError(`${name}[${i}]`, 'a column name or 0-based index', c);
  });
}

function compareClasses(numeric: boolean) {
  return (a: string, b: string) => (numeric ? Number(a) - Number(b) : a < b ? -1 : a > b ? 1 : 0);
}

interface Plan {
  file: string;
  task: CsvTask;
  header: boolean;
  drop: boolean;
  na: Set<string>;
  fixedClasses: Map<string, number> | null;
  targetSpec: (string | number)[];
  featureSpec: (string | number)[] | undefined;
  ignore: Set<string>;
  maxRows: number;
  maxColumns: number;
  /** Bytes of the floats kept (inputs and targets): capped like a file's bytes. */
  maxFloatBytes: number;
}

/** Turns records into floats and labels; see CsvOptions. */
class Collector implements CsvSink {
  columns: string[] = [];
  /** Per column: -1 ignored, else position among the features; targets: -2 - position. */
  #role: Int32Array = new Int32Array(0);
  features: string[] = [];
  targets: string[] = [];
  readonly inputs = new FloatBlocks();
  /** Regression targets, or classification labels (the index of first appearance, remapped at the end; exact as floats). */
  readonly values = new FloatBlocks();
  readonly #seen = new Map<string, number>();
  readonly names: string[] = [];
  rows = 0;
  dropped = 0;
  #rowBad = false;
  #rowValues = new Float64Array(0);
  #rowLabel = -1;
  readonly #decoder = new TextDecoder('utf-8', { fatal: false });

  constructor(private readonly plan: Plan, private readonly tokenizer: () => CsvTokenizer) {}

  #text(bytes: Uint8Array, start: number, end: number): string {
    // Most cells are short ASCII numbers: latin1 is then the same text and
    // several times cheaper than a TextDecoder call per cell.
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (bytes[i] >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (!ascii) return this.#decoder.decode(bytes.subarray(start, end));
    const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return b.toString('latin1', start, end);
  }

  #where(record: number, column: number): { row: number; line: number; column: string } {
    return { row: this.plan.header ? record : record + 1, line: this.tokenizer().line, column: this.columns[column] ?? String(column) };
  }

  #fail(code: string, record: number, column: number, message: string): never {
    const w = this.#where(record, column);
    throw csvError(code, this.plan.file, `row ${w.row} (line ${w.line}), column ${JSON.stringify(w.column)}: ${message}`, w);
  }

  #setup(columns: string[]): void {
    const p = this.plan;
    if (columns.length > p.maxColumns) {
      throw csvError(ErrorCodes.LIMIT, p.file, `${columns.length} columns, more than the limit of ${p.maxColumns} (limits.maxColumns)`, {});
    }
    this.columns = columns;
    const find = (c: string | number, what: string): number => {
      const i = typeof c === 'number' ? c : columns.indexOf(c);
      if (i < 0 || i >= columns.length) {
        const shown = columns.length > 20 ? `${columns.slice(0, 20).join(', ')}, ...` : columns.join(', ');
        throw csvError(ErrorCodes.INVALID_ARG_VALUE, p.file, `no ${what} column ${JSON.stringify(c)} (the columns are: ${shown})`, { column: c });
      }
      return i;
    };
    const role = new Int32Array(columns.length).fill(-1);
    const targetIndex = p.targetSpec.map((c) => find(c, 'target'));
    if (p.task === 'classification' && targetIndex.length > 1) {
      throw hdrnnError(ErrorCodes.INVALID_ARG_VALUE, `${p.file}: classification takes one target column, got ${targetIndex.length}`);
    }
    targetIndex.forEach((i, k) => {
      if (role[i] !== -1) throw hdrnnError(ErrorCodes.INVALID_ARG_VALUE, `${p.file}: column ${JSON.stringify(columns[i])} is named twice`);
      role[i] = -2 - k;
    });
    const featureIndex = p.featureSpec ? p.featureSpec.map((c) => find(c, 'feature')) : columns.map((_, i) => i).filter((i) => role[i] === -1 && !p.ignore.has(columns[i]));
    featureIndex.forEach((i, k) => {
      if (role[i] !== -1) {
        throw hdrnnError(ErrorCodes.INVALID_ARG_VALUE, `${p.file}: column ${JSON.stringify(columns[i])} is named twice (as a feature and a target, or two features)`);
      }
      role[i] = k;
    });
    if (featureIndex.length === 0) throw hdrnnError(ErrorCodes.INVALID_ARG_VALUE, `${p.file}: no feature columns (the file has only the target)`);
    this.#role = role;
    this.features = featureIndex.map((i) => columns[i]);
    this.targets = targetIndex.map((i) => columns[i]);
    this.#rowValues = new Float64Array(featureIndex.length + targetIndex.length);
  }

  field(bytes: Uint8Array, start: number, end: number, record: number, column: number): void {
    const p = this.plan;
    if (record === 0 && this.columns.length === 0) {
      // The header (or, without one, the first row: its width names the columns).
      if (p.header) {
        this.#headerNames.push(this.#text(bytes, start, end).trim());
        return;
      }
      this.#pendingFirst.push(this.#text(bytes, start, end));
      return;
    }
    this.#cell(bytes, start, end, record, column);
  }

  readonly #headerNames: string[] = [];
  readonly #pendingFirst: string[] = [];

  #cell(bytes: Uint8Array | null, start: number, end: number, record: number, column: number, given?: string): void {
    if (column >= this.#role.length) return; // a ragged row: reported at its end
    const role = this.#role[column];
    if (role === -1 || this.#rowBad) return;
    const text = (given ?? this.#text(bytes!, start, end)).trim();
    const p = this.plan;
    if (text === '' || p.na.has(text)) {
      if (p.drop) {
        this.#rowBad = true;
        return;
      }
      this.#fail(ErrorCodes.BAD_DATA, record, column, `the cell is missing${text ? ` (${JSON.stringify(text)})` : ''} (use missing: 'drop' to skip such rows)`);
    }
    if (role <= -2 && p.task === 'classification') {
      if (p.fixedClasses) {
        const k = p.fixedClasses.get(text);
        if (k === undefined) this.#fail(ErrorCodes.BAD_DATA, record, column, `${JSON.stringify(text)} is not one of the known classes (${[...p.fixedClasses.keys()].join(', ')})`);
        this.#rowLabel = k;
      } else {
        let k = this.#seen.get(text);
        if (k === undefined) {
          k = this.names.length;
          if (k >= 2 ** 16) this.#fail(ErrorCodes.LIMIT, record, column, 'more than 65536 different classes');
          this.#seen.set(text, k);
          this.names.push(text);
        }
        this.#rowLabel = k;
      }
      return;
    }
    if (!NUMBER.test(text)) {
      this.#fail(ErrorCodes.BAD_DATA, record, column, `${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text)} is not a number`);
    }
    const x = Number(text);
    if (!Number.isFinite(Math.fround(x))) this.#fail(ErrorCodes.BAD_DATA, record, column, `${text} is too large for a float32`);
    this.#rowValues[role >= 0 ? role : this.features.length + (-2 - role)] = x;
  }

  record(record: number, fields: number): void {
    const p = this.plan;
    if (this.columns.length === 0) {
      if (p.header) {
        this.#setup(this.#headerNames.map((n, i) => n || String(i)));
        return;
      }
      this.#setup(this.#pendingFirst.map((_, i) => String(i)));
      const first = this.#pendingFirst.splice(0);
      first.forEach((t, i) => this.#cell(null, 0, 0, record, i, t));
    }
    if (fields !== this.columns.length) {
      const w = this.#where(record, 0);
      throw csvError(ErrorCodes.BAD_FILE, p.file, `row ${w.row} (line ${w.line}) has ${fields} fields, the ${p.header ? 'header has' : 'first row has'} ${this.columns.length}`, { row: w.row, line: w.line });
    }
    const f = this.features.length;
    if (this.#rowBad) {
      this.dropped++;
    } else {
      if (this.rows >= p.maxRows) {
        throw csvError(ErrorCodes.LIMIT, p.file, `more than ${p.maxRows} rows (limits.maxRows)`, {});
      }
      if ((this.inputs.length + this.values.length + f + Math.max(1, this.targets.length)) * 4 > p.maxFloatBytes) {
        throw csvError(ErrorCodes.LIMIT, p.file, `the values would take more than ${p.maxFloatBytes} bytes (limits.maxFileBytes)`, {});
      }
      for (let k = 0; k < f; k++) this.inputs.push(this.#rowValues[k]);
      if (this.targets.length === 0) {
        /* inputs only */
      } else if (p.task === 'classification') this.values.push(this.#rowLabel);
      else for (let k = 0; k < this.targets.length; k++) this.values.push(this.#rowValues[f + k]);
      this.rows++;
    }
    this.#rowBad = false;
  }
}

function plan(file: string, options: unknown): { plan: Plan; delimiter: number; maxFieldBytes: number; maxFileBytes: number } {
  const o = v.options(options, 'options');
  const task = v.opt(o, 'task') === undefined ? 'classification' : v.oneOf(v.opt(o, 'task'), 'options.task', ['classification', 'regression'] as const);
  const delimiterText = v.opt(o, 'delimiter') ?? ',';
  if (typeof delimiterText !== 'string' || delimiterText.length !== 1 || delimiterText.charCodeAt(0) > 127 || /["\r\n]/.test(delimiterText)) {
    throw v.valueError('options.delimiter', 'one ASCII character other than a quote or a newline', delimiterText);
  }
  const header = v.opt(o, 'header') === undefined ? true : v.boolean(v.opt(o, 'header'), 'options.header');
  const missing = v.opt(o, 'missing') === undefined ? 'error' : v.oneOf(v.opt(o, 'missing'), 'options.missing', ['error', 'drop'] as const);
  const naList = v.opt(o, 'naValues') ?? DEFAULT_NA;
  if (!Array.isArray(naList) || naList.some((s) => typeof s !== 'string')) throw v.typeError('options.naValues', 'an array of strings', naList);
  const classes = v.opt(o, 'classes');
  let fixedClasses: Map<string, number> | null = null;
  if (classes !== undefined && classes !== null) {
    if (!Array.isArray(classes) || classes.some((s) => typeof s !== 'string')) throw v.typeError('options.classes', 'an array of class names', classes);
    fixedClasses = new Map((classes as string[]).map((c, i) => [c, i]));
    if (fixedClasses.size !== classes.length) throw v.valueError('options.classes', 'distinct names', classes);
  }
  const limitsIn = v.options(v.opt(o, 'limits'), 'options.limits');
  const { maxRows, maxColumns, maxFieldBytes, ...rest } = limitsIn as CsvLimits;
  const limits = resolveLimits(rest, 'options.limits');
  const lim = (x: unknown, name: string, fallback: number) => (x === undefined ? fallback : v.integer(x, `options.limits.${name}`, 1, 2 ** 32 - 1));
  const features = v.opt(o, 'features');
  const ignore = v.opt(o, 'ignore') ?? [];
  if (!Array.isArray(ignore) || ignore.some((c) => typeof c !== 'string')) throw v.typeError('options.ignore', 'an array of column names', ignore);
  return {
    plan: {
      file,
      task,
      header,
      drop: missing === 'drop',
      na: new Set(naList as string[]),
      fixedClasses,
      targetSpec: v.opt(o, 'target') === undefined ? [] : columnList(v.opt(o, 'target'), 'options.target'),
      featureSpec: features === undefined ? undefined : columnList(features, 'options.features'),
      ignore: new Set(ignore as string[]),
      maxRows: lim(maxRows, 'maxRows', limits.native.maxItems ?? 2 ** 24),
      maxColumns: lim(maxColumns, 'maxColumns', 2 ** 16),
      maxFloatBytes: limits.maxFileBytes,
    },
    delimiter: delimiterText.charCodeAt(0),
    maxFieldBytes: lim(maxFieldBytes, 'maxFieldBytes', 2 ** 20),
    maxFileBytes: limits.maxFileBytes,
  };
}


function finish(c: Collector, p: Plan): Dataset {
  if (c.columns.length === 0) throw csvError(ErrorCodes.BAD_DATA, p.file, 'the file is empty', {});
  if (c.rows === 0) {
    throw csvError(ErrorCodes.BAD_DATA, p.file, c.dropped > 0 ? `every row has a missing cell (${c.dropped} dropped)` : 'the file has no data rows', {});
  }
  const f = c.features.length;
  const info: CsvInfo = {
    columns: c.columns,
    features: c.features,
    target: c.targets,
    task: p.task,
    classes: null,
    rows: c.rows,
    dropped: c.dropped,
  };
  // The floats go once into native memory; the blocks are dropped after.
  const inputs = new native.NativeBytes(c.rows * f * 4);
  c.inputs.copyTo(new Float32Array(inputs.view()));
  if (c.targets.length === 0) return Dataset.fromCsv({ inputs, inputSize: f, count: c.rows, csv: info });
  if (p.task === 'classification') {
    const raw = new Float32Array(c.rows);
    c.values.copyTo(raw);
    let names: string[];
    let labels: Uint8Array | Uint32Array;
    if (p.fixedClasses) {
      names = [...p.fixedClasses.keys()];
      labels = names.length <= 256 ? Uint8Array.from(raw) : Uint32Array.from(raw);
    } else {
      const numeric = c.names.every((n) => NUMBER.test(n));
      names = [...c.names].sort(compareClasses(numeric));
      const index = new Map(names.map((n, i) => [n, i]));
      const remap = c.names.map((n) => index.get(n)!);
      labels = names.length <= 256 ? new Uint8Array(c.rows) : new Uint32Array(c.rows);
      for (let i = 0; i < c.rows; i++) labels[i] = remap[raw[i]];
    }
    info.classes = names;
    return Dataset.fromCsv({ inputs, inputSize: f, count: c.rows, labels, classNames: names, csv: info });
  }
  const targets = new Float32Array(c.values.length);
  c.values.copyTo(targets);
  return Dataset.fromCsv({ inputs, inputSize: f, count: c.rows, targets, targetSize: c.targets.length, csv: info });
}

function rethrow(error: unknown, file: string, header: boolean): never {
  if (error instanceof CsvSyntaxError) {
    const row = header ? error.record : error.record + 1; // data rows count from 1
    throw csvError(error.limit ? ErrorCodes.LIMIT : ErrorCodes.BAD_FILE, file, `row ${row} (line ${error.line}): ${error.message}`, { row, line: error.line });
  }
  throw error;
}

/**
 * Reads a CSV file into a Dataset (streamed: the text is never held whole).
 * Errors name the row and column: a missing or non-numeric cell
 * (ERR_HDRNN_BAD_DATA), a ragged row or broken quoting (ERR_HDRNN_BAD_FILE),
 * a size over a limit (ERR_HDRNN_LIMIT), a column that does not exist
 * (ERR_INVALID_ARG_VALUE).
 */
export async function loadCsv(file: string, options: CsvOptions): Promise<Dataset> {
  v.path(file, 'path');
  const { plan: p, delimiter, maxFieldBytes, maxFileBytes } = plan(file, options);
  const stat = await fs.stat(file);
  if (stat.size > maxFileBytes) {
    throw hdrnnError(ErrorCodes.LIMIT, `${file} is ${stat.size} bytes, more than the limit of ${maxFileBytes} (limits.maxFileBytes)`);
  }
  let tokenizer: CsvTokenizer;
  const collector = new Collector(p, () => tokenizer);
  tokenizer = new CsvTokenizer(collector, delimiter, maxFieldBytes);
  const stream = createReadStream(file, { highWaterMark: 1 << 16 });
  let total = 0;
  try {
    // Each chunk is one turn of the event loop (an fs read in between).
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > maxFileBytes) {
        throw hdrnnError(ErrorCodes.LIMIT, `${file} is more than the limit of ${maxFileBytes} bytes (limits.maxFileBytes)`);
      }
      tokenizer.push(chunk);
    }
    tokenizer.end();
  } catch (error) {
    stream.destroy();
    rethrow(error, file, p.header);
  }
  return finish(collector, p);
}

/**
 * The same from text or bytes in memory (`name` appears in messages). Works
 * through the input in 64 KiB slices and yields to the event loop between them.
 */
export async function parseCsv(input: string | Uint8Array, options: CsvOptions & { name?: string }): Promise<Dataset> {
  const name = (options as { name?: unknown } | undefined)?.name ?? '<csv>';
  if (typeof name !== 'string') throw v.typeError('options.name', 'a string', name);
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) throw v.typeError('input', 'a string or a Uint8Array', input);
  const { name: _n, ...rest } = options ?? ({} as CsvOptions & { name?: string });
  void _n;
  const { plan: p, delimiter, maxFieldBytes, maxFileBytes } = plan(name, rest);
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : v.attached(input, 'input');
  if (bytes.length > maxFileBytes) throw hdrnnError(ErrorCodes.LIMIT, `${name} is ${bytes.length} bytes, more than the limit of ${maxFileBytes} (limits.maxFileBytes)`);
  let tokenizer: CsvTokenizer;
  const collector = new Collector(p, () => tokenizer);
  tokenizer = new CsvTokenizer(collector, delimiter, maxFieldBytes);
  try {
    for (let at = 0; at < bytes.length; at += 1 << 16) {
      tokenizer.push(bytes.subarray(at, Math.min(bytes.length, at + (1 << 16))));
      if (at + (1 << 16) < bytes.length) await new Promise<void>((r) => setImmediate(r));
    }
    tokenizer.end();
  } catch (error) {
    rethrow(error, name, p.header);
  }
  return finish(collector, p);
}
