/** The vega-datasets package's files, and cars.json written as CSV (shared by the CSV, CLI and ONNX tests). */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** The package's folder (its exports map hides package.json, so go up from its entry point). */
export const vegaData = path.join(path.dirname(require.resolve('vega-datasets')), '..', 'data');
export const SEATTLE = path.join(vegaData, 'seattle-weather.csv');
export const SEATTLE_FEATURES = ['precipitation', 'temp_max', 'temp_min', 'wind'];
export const CARS_FEATURES = ['Cylinders', 'Displacement', 'Horsepower', 'Weight_in_lbs', 'Acceleration'];

/** cars.json as CSV (CRLF): strings quoted, null as an empty cell. */
export function carsCsv(): { text: string; rows: Record<string, unknown>[] } {
  const rows = JSON.parse(readFileSync(path.join(vegaData, 'cars.json'), 'utf8')) as Record<string, unknown>[];
  const cols = Object.keys(rows[0]);
  const cell = (x: unknown) => (x === null ? '' : typeof x === 'string' ? `"${x.replace(/"/g, '""')}"` : String(x));
  const text = [cols.join(','), ...rows.map((r) => cols.map((c) => cell(r[c])).join(','))].join('\r\n');
  return { text, rows };
}
