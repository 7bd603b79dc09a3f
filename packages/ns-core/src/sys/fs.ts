import { libc, sysError } from './native';

const fchdir_ = libc.func('int fchdir(int fd)');
const chroot_ = libc.func('int chroot(const char *path)');
const fcntl_ = libc.func('int fcntl(int fd, int cmd, ...)');
const open_ = libc.func('int open(const char *path, int flags, ...)');

export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_DUPFD_CLOEXEC = 1030;
export const O_PATH = 0o10000000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_CLOEXEC = 0o2000000;

export function fchdirRaw(fd: number): void {
  if (fchdir_(fd) < 0) throw sysError('fchdir');
}

export function chrootRaw(path: string): void {
  if (chroot_(path) < 0) throw sysError('chroot', { path });
}

/** fcntl(fd, F_DUPFD_CLOEXEC, min): a close-on-exec duplicate at or above min. */
export function dupCloexec(fd: number, min = 0): number {
  const r = fcntl_(fd, F_DUPFD_CLOEXEC, 'int', min);
  if (r < 0) throw sysError('fcntl(F_DUPFD_CLOEXEC)');
  return r;
}

/** open(2) with raw flags (O_PATH and friends that node:fs does not name). */
export function openRaw(path: string, flags: number, mode = 0): number {
  const fd = open_(path, flags | O_CLOEXEC, 'int', mode);
  if (fd < 0) throw sysError('open', { path });
  return fd;
}

