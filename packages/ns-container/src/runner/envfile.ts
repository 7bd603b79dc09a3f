/**
 * --env-file, read by ns-run itself (never by Node: see bin/ns-run): a regular file of at most
 * ENV_FILE_MAX bytes, opened without blocking so that a FIFO or a device cannot stall the
 * runner, and parsed as docker reads it.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { NsError, usageError } from 'ns-core';

/** More than any environment the kernel passes to execve (ARG_MAX is 2 MiB by default). */
export const ENV_FILE_MAX = 1024 * 1024;

/**
 * The file's text.
 * @throws NsError naming --env-file and the path: errno of open/read, EINVAL for a file that
 *   is not regular (FIFO, device, directory), EFBIG beyond ENV_FILE_MAX.
 */
export function readEnvFile(path: string): string {
  let fd: number;
  try {
    // O_NONBLOCK: open(2) of a FIFO without a writer would wait forever.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    throw NsError.from(e, { syscall: 'open', path, step: '--env-file' });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      throw new NsError({ errno: 22, code: 'EINVAL', path, step: '--env-file', message: `--env-file: ${path} is not a regular file` });
    }
    const buf = Buffer.alloc(Math.min(st.size, ENV_FILE_MAX) + 1);
    let got = 0;
    for (let n; got < buf.length && (n = readSync(fd, buf, got, buf.length - got, null)) > 0;) got += n;
    if (got > ENV_FILE_MAX) {
      throw new NsError({ errno: 27, code: 'EFBIG', path, step: '--env-file', message: `--env-file: ${path} is larger than ${ENV_FILE_MAX} bytes` });
    }
    return buf.subarray(0, got).toString('utf8');
  } catch (e) {
    if (e instanceof NsError) throw e;
    throw NsError.from(e, { syscall: 'read', path, step: '--env-file' });
  } finally {
    closeSync(fd);
  }
}

/** --env-file lines as Docker reads them: KEY=VALUE, KEY alone (the caller's value), '#' comments. */
export function parseEnvFile(text: string, file: string): string[] {
  return text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#')).map((l) => {
    const key = l.split('=')[0]!.trim();
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) throw usageError(`--env-file: ${file}: '${l}' is not KEY=VALUE`);
    return l.includes('=') ? `${key}=${l.slice(l.indexOf('=') + 1)}` : key;
  });
}
