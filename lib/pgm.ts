/**
 * Greyscale images in PGM (P2 text or P5 binary, comments, any maxval up
 * to 65535), as the seed's `infer` reads them.
 */
import { native } from './binding';
import { ErrorCodes, hdrnnError } from './errors';
import { readFileNative } from './files';
import { copyToNative } from './native-copy';
import { resolveLimits, type Limits } from './limits';
import { attached, options, opt, path as checkPath, typedLength, typeError } from './validate';

export interface GreyImage {
  width: number;
  height: number;
  /** Row by row, each pixel value / maxval, in [0, 1]. */
  pixels: Float32Array;
  /** The file's maxval (255 for 8-bit images). */
  maxval?: number;
}

export interface ReadPgmOptions {
  limits?: Limits;
}

/** Reads a PGM file. */
export async function readPgm(file: string, opts?: ReadPgmOptions): Promise<GreyImage> {
  checkPath(file, 'path');
  const limits = resolveLimits(opt(options(opts, 'options'), 'limits'));
  const bytes = await readFileNative(file, limits.maxFileBytes);
  try {
    return await native.decodePgm(bytes, limits.native);
  } catch (error) {
    (error as Error).message = `${file}: ${(error as Error).message}`;
    throw error;
  }
}

/** Decodes a PGM image held in memory. */
export async function decodePgm(data: Uint8Array, opts?: ReadPgmOptions): Promise<GreyImage> {
  if (!(data instanceof Uint8Array)) throw typeError('data', 'a Buffer or Uint8Array', data);
  attached(data, 'data');
  const limits = resolveLimits(opt(options(opts, 'options'), 'limits'));
  const length = typedLength(data);
  if (length > limits.maxFileBytes) {
    throw hdrnnError(ErrorCodes.LIMIT, `data is ${length} bytes, more than the limit of ${limits.maxFileBytes} (limits.maxFileBytes)`);
  }
  // Copied into native memory (in slices, see native-copy.ts): decoding
  // runs off the JavaScript thread and never reads the caller's buffer.
  const bytes = await copyToNative(data, 'data');
  return native.decodePgm(bytes, limits.native);
}

/** Encodes an image as plain PGM (P2, maxval 255), the way the seed wrote them. */
export function encodePgm(image: GreyImage): Buffer {
  const { width, height, pixels } = image;
  const lines = [`P2`, `${width} ${height}`, '255'];
  for (let y = 0; y < height; y++) {
    const row: number[] = [];
    for (let x = 0; x < width; x++) row.push(Math.round(Math.min(1, Math.max(0, pixels[y * width + x])) * 255));
    lines.push(row.join(' '));
  }
  return Buffer.from(`${lines.join('\n')}\n`, 'ascii');
}

const SHADES = ' .:-=+*#%@';

/** The image as text art, one character per pixel, darker characters for brighter pixels. */
export function imageToText(image: GreyImage): string {
  const { width, height, pixels } = image;
  const rows: string[] = [];
  for (let y = 0; y < height; y++) {
    let row = '';
    for (let x = 0; x < width; x++) {
      const v = Math.min(1, Math.max(0, pixels[y * width + x]));
      row += SHADES[Math.min(SHADES.length - 1, Math.floor(v * SHADES.length))];
    }
    rows.push(row);
  }
  return rows.join('\n');
}
