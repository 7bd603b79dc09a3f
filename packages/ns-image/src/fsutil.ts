/** Durable, atomic small-file writes and directory syncs for the store. */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { dirname } from 'node:path';

/** fsync(2) on a directory, so a rename or create inside it survives a crash. */
export function fsyncDir(path: string): void {
  const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes DATA to PATH so that readers see either the old or the new content, never a part:
 * a temporary file in TMPDIR (same file system), fsync, rename over PATH, fsync PATH's directory.
 * DURABLE false leaves out both fsyncs, for files whose caller syncs the file system itself
 * (syncfs) or that need not outlive the process.
 */
export function writeFileAtomic(path: string, data: Buffer | string, tmpDir: string, mode = 0o600, durable = true): void {
  const tmp = `${tmpDir}/file-${process.pid}-${randomBytes(6).toString('hex')}`;
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, mode);
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    if (durable) fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, path);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  if (durable) fsyncDir(dirname(path));
}

/**
 * Reads at most MAX bytes of a regular file, refusing a symlink at the last component and
 * anything larger; undefined when absent.
 */
export function readFileCapped(path: string, max: number): { data: Buffer } | { tooBig: number } | undefined {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EINVAL', errno: 22, syscall: 'open', path });
    if (st.size > max) return { tooBig: st.size };
    const data = Buffer.alloc(st.size);
    let off = 0;
    while (off < data.length) {
      const n = fs.readSync(fd, data, off, data.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return { data: data.subarray(0, off) };
  } finally {
    fs.closeSync(fd);
  }
}

/** Blocks the thread for MS milliseconds (lock polling must not return to the event loop mid-section). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * A file's bytes in fresh buffers, read synchronously: the readers downstream are synchronous
 * too, and a round trip through the thread pool per chunk only adds waiting. The buffers are
 * never reused, so a consumer may keep what it was given. 512 KiB: each fresh 4 MiB buffer
 * was new memory from mmap, faulted in page by page as read(2) filled it; buffers this size
 * come back from malloc's free lists (a 50 MB archive loaded ~20% faster here).
 */
export async function* readChunks(path: string, size = 512 << 10): AsyncGenerator<Buffer> {
  const fd = fs.openSync(path, 'r');
  try {
    for (;;) {
      const buf = Buffer.allocUnsafe(size);
      const n = fs.readSync(fd, buf, 0, size, null);
      if (n === 0) return;
      yield n === size ? buf : buf.subarray(0, n);
    }
  } finally {
    fs.closeSync(fd);
  }
}
