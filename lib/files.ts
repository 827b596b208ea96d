/**
 * File input and output. Reads go straight into native memory (no second
 * copy of a 47 MB dataset); writes are atomic: a temporary file in the same
 * folder, flushed to disk, then renamed over the target, so a reader (or a
 * device that loses power) only ever sees the old file or the new one.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createGunzip } from 'node:zlib';

import { native, type NativeBytes } from './binding';
import { ErrorCodes, hdrnnError } from './errors';

const GZIP_MAGIC = [0x1f, 0x8b];

/** Reads a whole file into native memory, refusing files over maxBytes before allocating. */
export async function readFileNative(file: string, maxBytes: number): Promise<NativeBytes> {
  const handle = await fs.open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size > maxBytes) {
      throw hdrnnError(ErrorCodes.LIMIT, `${file} is ${size} bytes, more than the limit of ${maxBytes} (limits.maxFileBytes)`);
    }
    const bytes = new native.NativeBytes(size);
    const view = new Uint8Array(bytes.view());
    let offset = 0;
    while (offset < size) {
      const { bytesRead } = await handle.read(view, offset, size - offset, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
    }
    if (offset !== size) throw hdrnnError(ErrorCodes.BAD_FILE, `${file} changed while it was read`);
    return bytes;
  } finally {
    await handle.close();
  }
}

async function startsWithGzip(file: string): Promise<boolean> {
  const handle = await fs.open(file, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  } finally {
    await handle.close();
  }
}

/**
 * Reads a file into native memory, gunzipping it on the fly if it is gzip.
 * For gzip, `sizeFromHeader` gets the first decompressed bytes and returns
 * the total size they promise (or undefined while it needs more), so the
 * native memory is allocated once at the right size, never more than
 * maxBytes: a gzip bomb stops at the limit.
 */
export async function readMaybeGzipNative(
  file: string,
  maxBytes: number,
  sizeFromHeader: (head: Buffer) => number | undefined,
): Promise<NativeBytes> {
  if (!(await startsWithGzip(file))) return readFileNative(file, maxBytes);
  const stream = createReadStream(file).pipe(createGunzip());
  let head = Buffer.alloc(0);
  let bytes: NativeBytes | undefined;
  let view: Uint8Array | undefined;
  let offset = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let data = chunk;
      if (!view) {
        head = Buffer.concat([head, data]);
        const total = sizeFromHeader(head);
        if (total === undefined) {
          if (head.length > 64) throw hdrnnError(ErrorCodes.BAD_FILE, `${file}: not a valid header after gunzip`);
          continue;
        }
        if (total > maxBytes) {
          throw hdrnnError(ErrorCodes.LIMIT, `${file} would be ${total} bytes after gunzip, more than the limit of ${maxBytes} (limits.maxFileBytes)`);
        }
        bytes = new native.NativeBytes(total);
        view = new Uint8Array(bytes.view());
        data = head;
      }
      if (offset + data.length > view.length) {
        throw hdrnnError(ErrorCodes.BAD_FILE, `${file} has more data after gunzip than its header promises`);
      }
      view.set(data, offset);
      offset += data.length;
    }
  } catch (error) {
    stream.destroy();
    if ((error as { code?: string }).code?.startsWith('Z_')) {
      throw hdrnnError(ErrorCodes.BAD_FILE, `${file}: gzip data is corrupt (${(error as Error).message})`);
    }
    throw error;
  }
  if (!bytes || !view) {
    // Too short for a header: hand the few bytes to the parser for its message.
    bytes = new native.NativeBytes(head.length);
    new Uint8Array(bytes.view()).set(head);
    return bytes;
  }
  if (offset !== view.length) {
    throw hdrnnError(ErrorCodes.BAD_FILE, `${file} is truncated: ${offset} of ${view.length} bytes after gunzip`);
  }
  return bytes;
}

/** Longest target name kept in a temporary file's name (file names stop at 255 bytes). */
const TEMP_NAME_KEEP = 200;

function tempPrefix(file: string): string {
  return `.${Buffer.from(path.basename(file)).subarray(0, TEMP_NAME_KEEP).toString('utf8').replace(/\uFFFD+$/, '')}.`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

/**
 * Removes temporary files that earlier saves of `file` left when their
 * process died mid-save (a power cut, SIGKILL). A temporary file is only
 * removed when the process named in it is gone, so a save in progress in
 * another process is never touched.
 */
async function removeStaleTemporaries(dir: string, file: string): Promise<void> {
  const prefix = tempPrefix(file);
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const match = /^(\d+)\.[0-9a-f]{12}\.tmp$/.exec(name.slice(prefix.length));
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid !== process.pid && !processAlive(pid)) await fs.rm(path.join(dir, name), { force: true });
  }
}

/**
 * Writes data to file atomically: a temporary file in the same folder
 * (`.<name>.<pid>.<random>.tmp`), flushed to disk, renamed over the target,
 * then the folder flushed. Temporary files of earlier saves whose process
 * died are removed afterwards.
 */
export async function writeFileAtomic(file: string, data: Uint8Array): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  const temp = path.join(dir, `${tempPrefix(file)}${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(temp, 'wx', 0o644);
  let renamed = false;
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
    renamed = true;
  } finally {
    if (!renamed) await fs.rm(temp, { force: true });
  }
  // Make the rename itself durable; not every platform or file system
  // allows fsync on a folder, and the data is already safe, so ignore that.
  try {
    const folder = await fs.open(dir, 'r');
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  } catch {
    /* best effort */
  }
  await removeStaleTemporaries(dir, file);
}
