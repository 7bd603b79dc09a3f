/**
 * File-system calls node:fs does not offer: extended attributes, mknod (device nodes, fifos and
 * overlayfs whiteouts), flock, syncfs and openat2. Paths are never followed at the last component
 * (the l* xattr calls), so a caller that has checked the parents can act on exactly that entry.
 */
import { libcFunctions, sysError } from './native';

const c = libcFunctions([
  'int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)',
  'long lgetxattr(const char *path, const char *name, void *value, size_t size)',
  'long llistxattr(const char *path, void *list, size_t size)',
  'int mknod(const char *path, unsigned int mode, uint64_t dev)',
  'int flock(int fd, int operation)',
  'int syncfs(int fd)',
  'int statx(int dirfd, const char *path, int flags, unsigned int mask, _Out_ uint8_t *buf)',
  // glibc 2.36 has no openat2 wrapper; the number is the same on every architecture (asm-generic).
  'long syscall(long number, ...)',
]);
const SYS_OPENAT2 = 437;
const O_CLOEXEC = 0o2000000;

/** openat2(2)'s resolve flags (linux/openat2.h). */
export const RESOLVE = {
  NO_XDEV: 0x01, NO_MAGICLINKS: 0x02, NO_SYMLINKS: 0x04, BENEATH: 0x08, IN_ROOT: 0x10, CACHED: 0x20,
} as const;

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

const AT_FDCWD = -100;
const STATX_TYPE = 0x1;
const STATX_MODE = 0x2;
const STATX_UID = 0x8;
const STATX_INO = 0x100;
/** struct statx (linux/stat.h), the same on every architecture. */
const STATX_SIZE = 256;
const statxBuf = Buffer.alloc(STATX_SIZE);

/**
 * The device, inode, mode and owner of what path names (links followed), or undefined if statx(2)
 * fails (whatever the errno: for a caller that skips what it cannot see, as ns-ls does with
 * another process's fds). One call into one reused buffer: fs.statSync builds a Stats object
 * (with bigint: true, fourteen BigInts) per call, 4 ms of ns-ls's 480 fds here against 1 ms.
 * `dev` identifies the device (major * 2^32 + minor), equal for equal devices; it is not a
 * dev_t nor Node's st_dev, so compare it only with another statIds().dev.
 */
export function statIds(path: string): { dev: number; ino: number; mode: number; uid: number } | undefined {
  if (c.statx(AT_FDCWD, path, 0, STATX_TYPE | STATX_MODE | STATX_UID | STATX_INO, statxBuf) !== 0) return undefined;
  return {
    // stx_dev_major, stx_dev_minor at 136 and 140; stx_ino at 32; stx_mode at 28; stx_uid at 20
    dev: statxBuf.readUInt32LE(136) * 0x100000000 + statxBuf.readUInt32LE(140),
    ino: Number(statxBuf.readBigUInt64LE(32)),
    mode: statxBuf.readUInt16LE(28),
    uid: statxBuf.readUInt32LE(20),
  };
}

/** glibc's makedev(3): the 64-bit dev_t of a major:minor pair. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** lsetxattr(2): sets NAME on path itself (a symlink's own attributes, not its target's). */
export function lsetxattr(path: string, name: string, value: Buffer, flags = 0): void {
  if (c.lsetxattr(path, name, value, value.length, flags) < 0) throw sysError('lsetxattr', { path, dest: name });
}

/** lgetxattr(2); null when the attribute is absent (ENODATA). */
export function lgetxattr(path: string, name: string): Buffer | null {
  for (;;) {
    const size = c.lgetxattr(path, name, null, 0);
    if (size < 0) {
      const err = sysError('lgetxattr', { path, dest: name });
      if (err.code === 'ENODATA') return null;
      throw err;
    }
    const buf = Buffer.alloc(Number(size));
    const got = c.lgetxattr(path, name, buf, buf.length);
    if (got >= 0) return buf.subarray(0, Number(got));
    const err = sysError('lgetxattr', { path, dest: name });
    // The value grew between the two calls: ask again.
    if (err.code !== 'ERANGE') throw err;
  }
}

/** llistxattr(2): the names of path's extended attributes. */
export function llistxattr(path: string): string[] {
  for (;;) {
    const size = c.llistxattr(path, null, 0);
    if (size < 0) throw sysError('llistxattr', { path });
    if (Number(size) === 0) return [];
    const buf = Buffer.alloc(Number(size));
    const got = c.llistxattr(path, buf, buf.length);
    if (got >= 0) return buf.subarray(0, Number(got)).toString('latin1').split('\0').filter(Boolean).map((s) => Buffer.from(s, 'latin1').toString());
    const err = sysError('llistxattr', { path });
    if (err.code !== 'ERANGE') throw err;
  }
}

/**
 * mknod(2). MODE carries the file type (S_IFCHR, S_IFBLK, S_IFIFO). Since Linux 5.8 a character
 * device 0:0 (an overlayfs whiteout) needs no CAP_MKNOD; other devices do.
 */
export function mknod(path: string, mode: number, dev: bigint = 0n): void {
  if (c.mknod(path, mode, dev) < 0) throw sysError('mknod', { path });
}

/**
 * flock(2): an advisory lock on the whole file. Waits unless LOCK_NB; with LOCK_NB, false when
 * another open file description holds the lock.
 */
export function flock(fd: number, operation: number): boolean {
  for (;;) {
    if (c.flock(fd, operation) >= 0) return true;
    const err = sysError('flock');
    if (err.code === 'EWOULDBLOCK' || err.code === 'EAGAIN') return false;
    // A signal handler interrupting the wait is no reason to give up the lock.
    if (err.code !== 'EINTR') throw err;
  }
}

/** syncfs(2): writes out everything dirty on the file system holding fd, in one call. */
export function syncfs(fd: number): void {
  if (c.syncfs(fd) < 0) throw sysError('syncfs');
}

/**
 * openat2(2), close-on-exec: `path` resolved from `dirfd` under the `resolve` rules (RESOLVE.*),
 * e.g. IN_ROOT, where every symlink and '..' stays inside dirfd as if it were the root.
 */
export function openat2(dirfd: number, path: string, flags: number, resolve: number, mode = 0): number {
  // struct open_how { __u64 flags; __u64 mode; __u64 resolve; }
  const how = Buffer.alloc(24);
  how.writeBigUInt64LE(BigInt(flags | O_CLOEXEC), 0);
  how.writeBigUInt64LE(BigInt(mode), 8);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  const fd = Number(c.syscall(SYS_OPENAT2, 'int', dirfd, 'str', path, 'void *', how, 'size_t', how.length));
  if (fd < 0) throw sysError('openat2', { path });
  return fd;
}
