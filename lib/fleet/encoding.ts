/**
 * The bytes a fleet sends over its radio link (all little-endian).
 *
 * Update (a device's delta against the round's model):
 *   0   4  magic 0x89 'H' 'N' 'U'
 *   4   2  version u16 = 1
 *   6   1  value encoding: 1 float32, 2 float16, 3 int8 (one float32 scale per block)
 *   7   1  reserved, 0
 *   8   4  round u32: the model round the delta was trained from
 *   12  4  base CRC u32: CRC-32 of that model's network bytes
 *   16  4  examples u32: how many examples the device trained on (its FedAvg weight)
 *   20  1  fleet name length F, then F bytes of the fleet name (ASCII)
 *   ..  1  device name length D, then D bytes of the device name
 *   ..  4  L u32, then L layer sizes u32
 *   ..     int8 only: a float32 scale for each block (each layer's weights, then its biases)
 *   ..     the values, block by block: each layer's weights [out][in], then its biases
 *   end-4  CRC-32 of every byte before it
 *
 * Model (retained on hdrnn/<fleet>/model):
 *   0 4 magic 0x89 'H' 'N' 'M'; 4 2 version u16 = 1; 6 2 flags u16 = 0;
 *   8 4 round u32; 12.. the network's file bytes (v2, with their own CRC-32).
 *
 * Decoding trusts nothing: a size cap before anything else, then magic,
 * version, lengths (exact), CRC, and finite values.
 */
import { ErrorCodes, hdrnnError } from '../errors';
import { Network } from '../network';
import { layerSizes, type ParameterSet } from '../parameters';
import * as v from '../validate';
import { crc32 } from './crc32';
import { checkName } from './topics';

export type UpdateEncoding = 'f32' | 'f16' | 'i8';

const ENCODINGS: Record<UpdateEncoding, { id: number; bytes: number }> = {
  f32: { id: 1, bytes: 4 },
  f16: { id: 2, bytes: 2 },
  i8: { id: 3, bytes: 1 },
};
const BY_ID = new Map(Object.entries(ENCODINGS).map(([k, e]) => [e.id, k as UpdateEncoding]));

const UPDATE_MAGIC = 0x554e4889; // 0x89 'H' 'N' 'U' read as u32 LE
const MODEL_MAGIC = 0x4d4e4889; // 0x89 'H' 'N' 'M'
/** Default cap on an update or model message: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface Update {
  fleet: string;
  device: string;
  round: number;
  baseCrc: number;
  examples: number;
  encoding: UpdateEncoding;
  shape: number[];
  /** The delta, decoded to float32. */
  delta: ParameterSet;
}

export interface DecodeOptions {
  maxBytes?: number;
  /** Largest number of parameters accepted; default 2^24. */
  maxParameters?: number;
}

function bad(message: string): Error {
  return hdrnnError(ErrorCodes.BAD_FILE, `update: ${message}`);
}

// ---- float16 (IEEE binary16), round to nearest even
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function toHalf(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h; // a carry into the exponent is the right rounding (up to Infinity)
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

function blocks(p: ParameterSet): Float32Array[] {
  const out: Float32Array[] = [];
  p.weights.forEach((w, l) => out.push(w, p.biases[l]));
  return out;
}

/** Bytes of an update of this shape and encoding (for budgets and the README's table). */
export function updateSize(shape: readonly number[], encoding: UpdateEncoding, fleet = '', device = ''): number {
  const e = ENCODINGS[encoding];
  const sizes = layerSizes(shape);
  const count = sizes.reduce((s, [w, b]) => s + w + b, 0);
  return 20 + 1 + fleet.length + 1 + device.length + 4 + 4 * shape.length + (encoding === 'i8' ? 8 * sizes.length : 0) + e.bytes * count + 4;
}

export interface EncodeUpdateInput {
  fleet: string;
  device: string;
  round: number;
  baseCrc: number;
  examples: number;
  shape: readonly number[];
  delta: ParameterSet;
  encoding?: UpdateEncoding;
}

export function encodeUpdate(u: EncodeUpdateInput): Uint8Array {
  const fleet = checkName(u.fleet, 'update.fleet');
  const device = checkName(u.device, 'update.device');
  const encoding = v.oneOf(u.encoding ?? 'f32', 'update.encoding', ['f32', 'f16', 'i8'] as const);
  const round = v.integer(u.round, 'update.round', 0, 0xffffffff);
  const baseCrc = v.integer(u.baseCrc, 'update.baseCrc', 0, 0xffffffff);
  const examples = v.integer(u.examples, 'update.examples', 0, 0xffffffff);
  const shape = [...u.shape];
  const sizes = layerSizes(shape);
  const parts = blocks(u.delta);
  if (parts.length !== 2 * sizes.length || parts.some((b, i) => b.length !== sizes[i >> 1][i & 1])) {
    throw hdrnnError(ErrorCodes.SHAPE_MISMATCH, `update: the delta does not have the shape [${shape.join(', ')}]`);
  }
  const out = new Uint8Array(updateSize(shape, encoding, fleet, device));
  const view = new DataView(out.buffer);
  view.setUint32(0, UPDATE_MAGIC, true);
  view.setUint16(4, 1, true);
  out[6] = ENCODINGS[encoding].id;
  view.setUint32(8, round, true);
  view.setUint32(12, baseCrc, true);
  view.setUint32(16, examples, true);
  let at = 20;
  for (const s of [fleet, device]) {
    out[at++] = s.length;
    for (let i = 0; i < s.length; i++) out[at++] = s.charCodeAt(i);
  }
  view.setUint32(at, shape.length, true);
  at += 4;
  for (const s of shape) {
    view.setUint32(at, s, true);
    at += 4;
  }
  const scales = parts.map((b) => {
    let m = 0;
    for (let i = 0; i < b.length; i++) {
      if (!Number.isFinite(b[i])) throw v.rangeError('update.delta', 'finite values', b[i]);
      m = Math.max(m, Math.abs(b[i]));
    }
    return m / 127;
  });
  if (encoding === 'i8') {
    for (const s of scales) {
      view.setFloat32(at, s, true);
      at += 4;
    }
  }
  parts.forEach((b, k) => {
    for (let i = 0; i < b.length; i++) {
      const x = b[i];
      if (encoding === 'f32') {
        view.setFloat32(at, x, true);
        at += 4;
      } else if (encoding === 'f16') {
        const h = toHalf(x);
        if ((h & 0x7c00) === 0x7c00) throw hdrnnError(ErrorCodes.LIMIT, `update: value ${x} does not fit a float16`);
        view.setUint16(at, h, true);
        at += 2;
      } else {
        const s = Math.fround(scales[k]);
        view.setInt8(at++, s > 0 ? Math.max(-127, Math.min(127, Math.round(x / s))) : 0);
      }
    }
  });
  view.setUint32(at, crc32(out.subarray(0, at)), true);
  return out;
}

export function decodeUpdate(bytes: Uint8Array, options: DecodeOptions = {}): Update {
  if (!(bytes instanceof Uint8Array)) throw v.typeError('bytes', 'a Uint8Array', bytes);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const maxParameters = options.maxParameters ?? 2 ** 24;
  if (bytes.length > maxBytes) throw hdrnnError(ErrorCodes.LIMIT, `update: ${bytes.length} bytes, more than the cap of ${maxBytes}`);
  if (bytes.length < 30) throw bad(`${bytes.length} bytes is too short`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== UPDATE_MAGIC) throw bad('not an update (wrong magic)');
  if (view.getUint16(4, true) !== 1) throw hdrnnError(ErrorCodes.UNSUPPORTED, `update: version ${view.getUint16(4, true)} is not supported`);
  const encoding = BY_ID.get(bytes[6]);
  if (encoding === undefined) throw bad(`unknown value encoding ${bytes[6]}`);
  if (bytes[7] !== 0) throw bad('reserved byte is not 0');
  const stored = view.getUint32(bytes.length - 4, true);
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== stored) throw hdrnnError(ErrorCodes.CHECKSUM, 'update: CRC-32 does not match (corrupted or cut short)');
  const round = view.getUint32(8, true);
  const baseCrc = view.getUint32(12, true);
  const examples = view.getUint32(16, true);
  let at = 20;
  const names: string[] = [];
  for (let k = 0; k < 2; k++) {
    const n = bytes[at++];
    if (at + n + 4 > bytes.length - 4) throw bad('truncated in the names');
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(bytes[at + i]);
    at += n;
    names.push(s);
  }
  const [fleet, device] = names;
  try {
    checkName(fleet, 'fleet');
    checkName(device, 'device');
  } catch {
    throw bad('invalid fleet or device name');
  }
  const L = view.getUint32(at, true);
  at += 4;
  if (L < 2 || L > 257) throw bad(`${L} layer sizes (2 to 257 allowed)`);
  if (at + 4 * L > bytes.length - 4) throw bad('truncated in the shape');
  const shape: number[] = [];
  for (let i = 0; i < L; i++) {
    const s = view.getUint32(at, true);
    at += 4;
    if (s < 1) throw bad(`layer ${i} has size 0`);
    shape.push(s);
  }
  const sizes = layerSizes(shape);
  const count = sizes.reduce((s, [w, b]) => s + w + b, 0); // exact: sizes < 2^32, at most 256 layers
  if (count > maxParameters) throw hdrnnError(ErrorCodes.LIMIT, `update: ${count} parameters, more than the limit of ${maxParameters}`);
  const expected = at + (encoding === 'i8' ? 8 * sizes.length : 0) + ENCODINGS[encoding].bytes * count + 4;
  if (bytes.length !== expected) throw bad(`${bytes.length} bytes, the header says ${expected}`);
  const scales: number[] = [];
  if (encoding === 'i8') {
    for (let k = 0; k < 2 * sizes.length; k++) {
      const s = view.getFloat32(at, true);
      at += 4;
      if (!Number.isFinite(s) || s < 0) throw bad(`scale ${k} is not a finite number >= 0`);
      scales.push(s);
    }
  }
  const delta: ParameterSet = { weights: [], biases: [] };
  for (let k = 0; k < 2 * sizes.length; k++) {
    const n = sizes[k >> 1][k & 1];
    const b = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let x: number;
      if (encoding === 'f32') {
        x = view.getFloat32(at, true);
        at += 4;
      } else if (encoding === 'f16') {
        x = fromHalf(view.getUint16(at, true));
        at += 2;
      } else {
        x = view.getInt8(at++) * scales[k];
      }
      if (!Number.isFinite(x)) throw bad(`value ${i} of block ${k} is not a finite number`);
      b[i] = x;
    }
    (k & 1 ? delta.biases : delta.weights).push(b);
  }
  return { fleet, device, round, baseCrc, examples, encoding, shape, delta };
}

/** The network bytes a model message carries: v2 when the network fits it, else the network's own format. */
export async function networkBytes(net: Network): Promise<Uint8Array> {
  return net.toBuffer({ format: net.preferredFormat === 'seed' ? 'v2' : net.preferredFormat });
}

export function encodeModel(round: number, network: Uint8Array): Uint8Array {
  v.integer(round, 'round', 0, 0xffffffff);
  const out = new Uint8Array(12 + network.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, MODEL_MAGIC, true);
  view.setUint16(4, 1, true);
  view.setUint32(8, round, true);
  out.set(network, 12);
  return out;
}

export interface Model {
  round: number;
  /** CRC-32 of the network bytes: what updates name as their base. */
  crc: number;
  bytes: Uint8Array;
  network: Network;
}

export function decodeModel(bytes: Uint8Array, options: DecodeOptions = {}): Model {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (bytes.length > maxBytes) throw hdrnnError(ErrorCodes.LIMIT, `model: ${bytes.length} bytes, more than the cap of ${maxBytes}`);
  if (bytes.length < 12) throw hdrnnError(ErrorCodes.BAD_FILE, 'model: too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MODEL_MAGIC) throw hdrnnError(ErrorCodes.BAD_FILE, 'model: wrong magic');
  if (view.getUint16(4, true) !== 1 || view.getUint16(6, true) !== 0) throw hdrnnError(ErrorCodes.UNSUPPORTED, 'model: unsupported version or flags');
  const round = view.getUint32(8, true);
  const net = bytes.slice(12);
  const network = Network.fromBuffer(net, options.maxParameters ? { limits: { maxParameters: options.maxParameters } } : undefined);
  return { round, crc: crc32(net), bytes: net, network };
}
