/**
 * File input and output. Reads go straight into native memory (no second
 * copy of a 47 MB dataset); writes are atomic: a temporary file in the same
 * folder, flushed to disk, then renamed over the target, so a reader (or a
 * device that loses power) only ever sees the old file or the new one.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createGunzip } from 'node:zlib';

import { native, type NativeBytes } from './binding';
import { ErrorCodes, hdrnnError } from './errors';

const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * Reads a whole file into native memory. Everything happens on libuv's
 * threads (opening without blocking, the is-it-a-regular-file check, the
 * allocation, the reads): a FIFO, device or socket is refused before a byte
 * is read, a file over maxBytes before allocating, and a file that does not
 * know its size (/proc) is read to its end all the same.
 */
export async function readFileNative(file: string, maxBytes: number): Promise<NativeBytes> {
  return native.readFile(file, maxBytes);
}

/** Bytes gunzip hands over at a time (also the step the output grows by). */
const GUNZIP_CHUNK = 1 << 20;

/**
 * Reads a file into native memory, gunzipping it if it is gzip. The
 * decompression is a stream (zlib on libuv's threads) and what it produces
 * is kept only as it arrives: `checkHeader` sees the first decompressed
 * bytes and returns the total size they promise (or undefined while it needs
 * more), throwing if the header itself is over a limit, so a 30-byte gzip
 * bomb whose header promises 1 GiB stops there, and a stream that produces
 * more than the header promised (or than maxBytes) stops at that point.
 */
export async function readMaybeGzipNative(
  file: string,
  maxBytes: number,
  checkHeader: (head: Buffer) => number | undefined,
): Promise<NativeBytes> {
  // The compressed file itself is capped by the same limit (it is smaller).
  const raw = await readFileNative(file, maxBytes);
  const input = Buffer.from(raw.view(), 0, raw.byteLength);
  if (input.length < 2 || input[0] !== GZIP_MAGIC[0] || input[1] !== GZIP_MAGIC[1]) return raw;

  const chunks: Buffer[] = [];
  let received = 0;
  let promised: number | undefined;
  let head = Buffer.alloc(0);
  const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK });
  const fail = (error: Error) => {
    gunzip.destroy(error);
  };
  gunzip.on('data', (chunk: Buffer) => {
    try {
      received += chunk.length;
      if (promised === undefined) {
        head = Buffer.concat([head, chunk.subarray(0, 64)]);
        promised = checkHeader(head);
        if (promised === undefined && head.length >= 64) {
          throw hdrnnError(ErrorCodes.BAD_FILE, `${file}: not a valid header after gunzip`);
        }
        if (promised !== undefined && promised > maxBytes) {
          throw hdrnnError(ErrorCodes.LIMIT, `${file} would be ${promised} bytes after gunzip, more than the limit of ${maxBytes} (limits.maxFileBytes)`);
        }
      }
      if (received > maxBytes) {
        throw hdrnnError(ErrorCodes.LIMIT, `${file} is over ${maxBytes} bytes after gunzip, more than the limit (limits.maxFileBytes)`);
      }
      if (promised !== undefined && received > promised) {
        throw hdrnnError(ErrorCodes.BAD_FILE, `${file} has more data after gunzip than its header promises`);
      }
      chunks.push(chunk);
    } catch (error) {
      fail(error as Error);
    }
  });
  try {
    await new Promise<void>((resolve, reject) => {
      gunzip.once('error', reject);
      gunzip.once('end', resolve);
      gunzip.once('close', () => reject(hdrnnError(ErrorCodes.BAD_FILE, `${file}: gzip stream closed early`)));
      // Fed in slices so a stop (a limit) also stops the work still queued.
      let at = 0;
      const feed = () => {
        while (at < input.length) {
          const slice = input.subarray(at, at + GUNZIP_CHUNK);
          at += slice.length;
          if (!gunzip.write(slice)) {
            gunzip.once('drain', feed);
            return;
          }
        }
        gunzip.end();
      };
      feed();
    });
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith('Z_')) {
      throw hdrnnError(ErrorCodes.BAD_FILE, `${file}: gzip data is corrupt (${(error as Error).message})`);
    }
    throw error;
  }
  if (promised !== undefined && received !== promised) {
    throw hdrnnError(ErrorCodes.BAD_FILE, `${file} is truncated: ${received} of ${promised} bytes after gunzip`);
  }
  // Joined off the JavaScript thread.
  return native.concatBytes(chunks);
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

/** Longest chain of symbolic links followed to the file a save replaces. */
const MAX_LINKS = 40;

/**
 * The file a save to `file` must replace: `file` itself, or, when it is a
 * symbolic link, the file the link (chain) points to, so that the link
 * stays a link. Anything that exists and is not a regular file (a device
 * node such as /dev/null, a folder, a FIFO, a socket) is refused: renaming
 * over it would replace a device with a file. Also checks the folder
 * exists, so a save can be checked before the work that produces its data.
 */
export async function saveTarget(file: string): Promise<string> {
  let target = path.resolve(file);
  for (let links = 0; ; links++) {
    let stat;
    try {
      stat = await fs.lstat(target);
    } catch (error) {
      if ((error as { code?: string }).code !== 'ENOENT') throw error;
      // A new file: its folder must exist and be a folder.
      const dir = path.dirname(target);
      let dirStat;
      try {
        dirStat = await fs.stat(dir);
      } catch (e) {
        throw hdrnnError(ErrorCodes.NOT_REGULAR_FILE, `cannot save to ${file}: the folder ${dir} does not exist`, { cause: e, path: file });
      }
      if (!dirStat.isDirectory()) {
        throw hdrnnError(ErrorCodes.NOT_REGULAR_FILE, `cannot save to ${file}: ${dir} is not a folder`, { path: file });
      }
      return target;
    }
    if (stat.isSymbolicLink()) {
      if (links >= MAX_LINKS) throw hdrnnError(ErrorCodes.NOT_REGULAR_FILE, `cannot save to ${file}: too many symbolic links`, { path: file });
      target = path.resolve(path.dirname(target), await fs.readlink(target));
      continue;
    }
    if (!stat.isFile()) {
      const what = stat.isDirectory() ? 'a folder' : stat.isCharacterDevice() || stat.isBlockDevice() ? 'a device' : stat.isFIFO() ? 'a FIFO' : 'not a regular file';
      throw hdrnnError(ErrorCodes.NOT_REGULAR_FILE, `cannot save to ${file}: it is ${what}, and only a regular file is ever replaced`, { path: file });
    }
    return target;
  }
}

/** Creates, writes and flushes the new file `temp` (O_EXCL, mode 0644), e.g. a native encoder that writes its own output. */
export type WriteNew = (temp: string) => Promise<void>;

/**
 * Writes data to file atomically: a temporary file in the same folder
 * (`.<name>.<pid>.<random>.tmp`), flushed to disk, renamed over the target,
 * then the folder flushed. Temporary files of earlier saves whose process
 * died are removed afterwards. A symbolic link is written through: its
 * target is replaced (atomically, in the target's folder) and the link
 * stays. Only regular files are ever replaced (see saveTarget). Errors
 * name `file`, never the temporary file.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | NativeBytes | WriteNew): Promise<void> {
  const target = await saveTarget(file);
  const dir = path.dirname(target);
  const temp = path.join(dir, `${tempPrefix(target)}${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let renamed = false;
  try {
    // Created (O_EXCL), written, flushed and closed in one native job: the
    // JavaScript thread neither copies nor shepherds 512 KiB pieces.
    try {
      await (typeof data === 'function' ? data(temp) : native.writeNewFile(temp, data, 0o644));
    } catch (error) {
      const code = (error as { code?: string }).code;
      throw renameError(error, file, code === 'EEXIST' || code === 'EACCES' || code === 'ENOENT' ? `cannot save to ${file}` : `writing ${file} failed`);
    }
    try {
      await fs.rename(temp, target);
    } catch (error) {
      throw renameError(error, file, `cannot save to ${file}`);
    }
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
  await removeStaleTemporaries(dir, target);
}

/** A system error about the temporary file, retold about the user's path (same code). */
function renameError(error: unknown, file: string, what: string): Error {
  const e = error as NodeJS.ErrnoException;
  const out = new Error(`${what}: ${e.code ?? 'error'}: ${e.message.replace(/,.*$/, '').replace(/^\w+: /, '')}`) as NodeJS.ErrnoException & { cause?: unknown };
  out.cause = error; // set, not passed: the ES2021 Error constructor (Node 16's typings) takes no options
  if (e.code) out.code = e.code;
  out.path = file;
  return out;
}
