/**
 * A streaming RFC 4180 tokenizer over bytes: fields separated by a one-byte
 * delimiter, records by LF, CRLF or a lone CR, fields optionally quoted with
 * `"` (a quote inside doubled). It never holds more than the field in hand:
 * chunks arrive, complete fields are handed on as byte ranges, and only a
 * field cut by a chunk boundary (or holding doubled quotes) is copied, into
 * a scratch buffer capped at `maxFieldBytes`.
 */

export interface CsvSink {
  /** A field of record `record` (0-based, header included), column `column` (0-based). */
  field(bytes: Uint8Array, start: number, end: number, record: number, column: number): void;
  /** The end of a record with `fields` fields (blank lines are not records). */
  record(record: number, fields: number): void;
}

/** Malformed input (unterminated quote, text after a closing quote, a field over the cap). */
export class CsvSyntaxError extends Error {
  constructor(message: string, readonly record: number, readonly line: number, readonly column: number, readonly limit = false) {
    super(message);
  }
}

const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;

const enum State {
  FieldStart,
  Unquoted,
  Quoted,
  QuoteInQuoted, // saw a quote inside a quoted field: a doubled quote or the end
}

export class CsvTokenizer {
  #state = State.FieldStart;
  #scratch = new Uint8Array(256);
  #scratchLength = 0;
  #fieldBytes = 0;
  #skipLf = false;
  #first = true;
  #record = 0;
  #column = 0;
  #line = 1;
  #recordLine = 1;
  #empty = true; // nothing in this record yet (blank lines are skipped)

  constructor(
    private readonly sink: CsvSink,
    private readonly delimiter: number,
    private readonly maxFieldBytes: number,
  ) {}

  /** Line (1-based) where the current record started. */
  get line(): number {
    return this.#recordLine;
  }

  #fail(message: string, limit = false): never {
    throw new CsvSyntaxError(message, this.#record, this.#recordLine, this.#column, limit);
  }

  #grow(extra: number): void {
    const need = this.#scratchLength + extra;
    if (need > this.maxFieldBytes) {
      this.#fail(`a field is longer than ${this.maxFieldBytes} bytes (limits.maxFieldBytes)`, true);
    }
    if (need > this.#scratch.length) {
      const next = new Uint8Array(Math.min(this.maxFieldBytes, Math.max(need, this.#scratch.length * 2)));
      next.set(this.#scratch.subarray(0, this.#scratchLength));
      this.#scratch = next;
    }
  }

  #keep(bytes: Uint8Array, start: number, end: number): void {
    if (end <= start) return;
    this.#grow(end - start);
    this.#scratch.set(bytes.subarray(start, end), this.#scratchLength);
    this.#scratchLength += end - start;
  }

  #emit(bytes: Uint8Array, start: number, end: number): void {
    this.#empty = false;
    this.sink.field(bytes, start, end, this.#record, this.#column);
    this.#column++;
    this.#scratchLength = 0;
    this.#fieldBytes = 0;
  }

  #endRecord(): void {
    if (!this.#empty) {
      this.sink.record(this.#record, this.#column);
      this.#record++;
    }
    this.#column = 0;
    this.#empty = true;
    this.#recordLine = this.#line;
  }

  #head: Uint8Array | null = null; // the first bytes, until there are enough to tell a BOM

  push(bytes: Uint8Array): void {
    let i = 0;
    if (this.#first) {
      // A byte-order mark may be cut by a chunk boundary: wait for 3 bytes.
      if (this.#head) {
        const joined = new Uint8Array(this.#head.length + bytes.length);
        joined.set(this.#head);
        joined.set(bytes, this.#head.length);
        bytes = joined;
        this.#head = null;
      }
      if (bytes.length < 3) {
        this.#head = bytes.slice();
        return;
      }
      this.#first = false;
      i = this.#bom(bytes);
    }
    this.#scan(bytes, i);
  }

  /** Bytes of a UTF-8 byte-order mark at the start (not part of the first field); refuses UTF-16. */
  #bom(bytes: Uint8Array): number {
    if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return 3;
    if (bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) {
      this.#fail('the file is UTF-16 (byte-order mark); save it as UTF-8');
    }
    return 0;
  }

  #scan(bytes: Uint8Array, i: number): void {
    const n = bytes.length;
    const d = this.delimiter;
    let start = i; // start of the unquoted run or quoted content in this chunk
    while (i < n) {
      const c = bytes[i];
      switch (this.#state) {
        case State.FieldStart:
          if (this.#skipLf) {
            this.#skipLf = false;
            if (c === LF) {
              i++;
              continue;
            }
          }
          if (c === QUOTE) {
            this.#state = State.Quoted;
            this.#empty = false;
            i++;
            start = i;
          } else if (c === d) {
            this.#emit(bytes, i, i);
            i++;
          } else if (c === LF || c === CR) {
            if (!this.#empty) this.#emit(bytes, i, i); // the empty last field of `a,b,`
            this.#line++;
            this.#endRecord();
            this.#skipLf = c === CR;
            i++;
          } else {
            this.#state = State.Unquoted;
            start = i;
          }
          break;
        case State.Unquoted: {
          // The hot loop: scan to the end of the field.
          let j = i;
          while (j < n) {
            const b = bytes[j];
            if (b === d || b === LF || b === CR) break;
            j++;
          }
          this.#fieldBytes += j - i;
          if (this.#fieldBytes > this.maxFieldBytes) {
            this.#fail(`a field is longer than ${this.maxFieldBytes} bytes (limits.maxFieldBytes)`, true);
          }
          if (j === n) {
            this.#keep(bytes, start, n);
            i = n;
            break;
          }
          this.#finishField(bytes, start, j);
          this.#state = State.FieldStart;
          i = j; // FieldStart handles the delimiter or newline
          if (bytes[i] === d) {
            i++;
          } else {
            this.#line++;
            this.#endRecord();
            this.#skipLf = bytes[i] === CR;
            i++;
          }
          break;
        }
        case State.Quoted: {
          let j = i;
          while (j < n && bytes[j] !== QUOTE) {
            if (bytes[j] === LF) this.#line++;
            j++;
          }
          this.#fieldBytes += j - i;
          if (this.#fieldBytes > this.maxFieldBytes) {
            this.#fail(`a field is longer than ${this.maxFieldBytes} bytes (limits.maxFieldBytes)`, true);
          }
          this.#keep(bytes, start, j);
          if (j < n) {
            this.#state = State.QuoteInQuoted;
            i = j + 1;
          } else {
            i = n;
          }
          start = i;
          break;
        }
        case State.QuoteInQuoted:
          if (c === QUOTE) {
            // A doubled quote: one quote of content.
            this.#keep(bytes, i, i + 1);
            this.#state = State.Quoted;
            i++;
            start = i;
          } else if (c === d || c === LF || c === CR) {
            this.#emit(this.#scratch, 0, this.#scratchLength);
            this.#state = State.FieldStart;
            if (c === d) {
              i++;
            } else {
              this.#line++;
              this.#endRecord();
              this.#skipLf = c === CR;
              i++;
            }
          } else {
            this.#fail(`unexpected character ${JSON.stringify(String.fromCharCode(c))} after a closing quote`);
          }
          break;
      }
    }
  }

  #finishField(bytes: Uint8Array, start: number, end: number): void {
    if (this.#scratchLength > 0) {
      this.#keep(bytes, start, end);
      this.#emit(this.#scratch, 0, this.#scratchLength);
    } else {
      this.#emit(bytes, start, end);
    }
  }

  /** The end of the input. */
  end(): void {
    if (this.#first) {
      this.#first = false;
      const head = this.#head ?? new Uint8Array(0);
      this.#head = null;
      this.#scan(head, this.#bom(head));
    }
    switch (this.#state) {
      case State.Quoted:
        this.#fail('a quoted field is not closed before the end of the file');
      // eslint-disable-next-line no-fallthrough
      case State.Unquoted:
        this.#emit(this.#scratch, 0, this.#scratchLength);
        break;
      case State.QuoteInQuoted:
        this.#emit(this.#scratch, 0, this.#scratchLength);
        break;
      case State.FieldStart:
        // `a,b,` then EOF: the empty last field
        if (!this.#empty) this.#emit(this.#scratch, 0, 0);
        break;
    }
    this.#state = State.FieldStart;
    this.#endRecord();
  }
}
