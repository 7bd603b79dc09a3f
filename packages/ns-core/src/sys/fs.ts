import { libcFunctions, sysError } from './native';

const c = libcFunctions([
  'int fchdir(int fd)',
  'int chroot(const char *path)',
  'int fcntl(int fd, int cmd, ...)',
  'int open(const char *path, int flags, ...)',
  'int memfd_create(const char *name, unsigned int flags)',
]);

export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_DUPFD_CLOEXEC = 1030;
export const F_GETFL = 3;
export const F_SETFL = 4;
const FD_CLOEXEC = 1;
const F_ADD_SEALS = 1033;
/** fcntl(2) seals: no more seals, no shrinking, no growing, no writing. */
export const F_SEAL = { SEAL: 1, SHRINK: 2, GROW: 4, WRITE: 8 } as const;
const MFD_CLOEXEC = 1;
const MFD_ALLOW_SEALING = 2;
export const O_PATH = 0o10000000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_CLOEXEC = 0o2000000;

export function fchdirRaw(fd: number): void {
  if (c.fchdir(fd) < 0) throw sysError('fchdir');
}

export function chrootRaw(path: string): void {
  if (c.chroot(path) < 0) throw sysError('chroot', { path });
}

/** fcntl(fd, F_DUPFD_CLOEXEC, min): a close-on-exec duplicate at or above min. */
export function dupCloexec(fd: number, min = 0): number {
  const r = c.fcntl(fd, F_DUPFD_CLOEXEC, 'int', min);
  if (r < 0) throw sysError('fcntl(F_DUPFD_CLOEXEC)');
  return r;
}

/** open(2) with raw flags (O_PATH and friends that node:fs does not name). */
export function openRaw(path: string, flags: number, mode = 0): number {
  const fd = c.open(path, flags | O_CLOEXEC, 'int', mode);
  if (fd < 0) throw sysError('open', { path });
  return fd;
}

/** A memfd that may be sealed, close-on-exec (memfd_create(2)). */
export function memfdCreate(name: string): number {
  const fd = c.memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) throw sysError('memfd_create', { path: name });
  return fd;
}

/** fcntl(fd, F_ADD_SEALS, seals). */
export function addSeals(fd: number, seals: number): void {
  if (c.fcntl(fd, F_ADD_SEALS, 'int', seals) < 0) throw sysError('fcntl(F_ADD_SEALS)');
}

/** Sets or clears FD_CLOEXEC: whether fd survives execve(2). */
export function setCloexec(fd: number, on: boolean): void {
  if (c.fcntl(fd, F_SETFD, 'int', on ? FD_CLOEXEC : 0) < 0) throw sysError('fcntl(F_SETFD)', { path: `fd ${fd}` });
}

/** The file status flags of fd (O_NONBLOCK, O_APPEND...), or undefined if fd is not open. */
export function fileStatusFlags(fd: number): number | undefined {
  const r = c.fcntl(fd, F_GETFL);
  return r < 0 ? undefined : r;
}

export function setFileStatusFlags(fd: number, flags: number): void {
  if (c.fcntl(fd, F_SETFL, 'int', flags) < 0) throw sysError('fcntl(F_SETFL)', { path: `fd ${fd}` });
}

/**
 * The status flags of fds 0-2 when ns-core was loaded, before Node made any of them a stream:
 * libuv sets O_NONBLOCK on a pipe it opens as process.stdout (yargs reads its columns), and the
 * flag belongs to the open file description, which a program exec'd in place would inherit.
 */
export const STDIO_FLAGS_AT_LOAD: readonly (number | undefined)[] = [0, 1, 2].map(fileStatusFlags);
