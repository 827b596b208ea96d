/**
 * The command line's one-line progress bar on a terminal (nothing
 * otherwise). A serial console reports 0 columns (`stty size` says `0 0` on
 * the i.MX6's ttymxc0): that is taken as "unknown" and an 80-column line is
 * used, instead of a negative repeat count that used to end the run.
 */
export interface BarStream {
  write(s: string): unknown;
  columns?: number;
}

const DEFAULT_COLUMNS = 80;
const BAR_WIDTH = 30;

/** Usable columns: the stream's when it knows them (>= 2), else 80. */
export function columnsOf(stream: BarStream): number {
  const c = stream.columns;
  return typeof c === 'number' && Number.isFinite(c) && c >= 2 ? Math.floor(c) : DEFAULT_COLUMNS;
}

export class ProgressBar {
  #active = false;
  constructor(
    private readonly stream: BarStream,
    private readonly enabled: boolean,
  ) {}

  update(label: string, fraction: number, detail: string): void {
    if (!this.enabled) return;
    const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
    const filled = Math.round(f * BAR_WIDTH);
    const line = `${label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${(f * 100).toFixed(0).padStart(3)}% ${detail}`;
    const cols = columnsOf(this.stream);
    this.stream.write(`\r${line.slice(0, cols - 1).padEnd(Math.min(cols - 1, line.length + 2))}`);
    this.#active = true;
  }

  clear(): void {
    if (!this.#active) return;
    this.stream.write(`\r${' '.repeat(columnsOf(this.stream) - 1)}\r`);
    this.#active = false;
  }
}
