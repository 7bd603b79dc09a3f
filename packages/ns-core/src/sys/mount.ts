import { koffi, libcFunctions, sysError } from './native';

export const MS = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, SYNCHRONOUS: 0x10, REMOUNT: 0x20,
  MANDLOCK: 0x40, DIRSYNC: 0x80, NOSYMFOLLOW: 0x100, NOATIME: 0x400, NODIRATIME: 0x800,
  BIND: 0x1000, MOVE: 0x2000, REC: 0x4000, SILENT: 0x8000, UNBINDABLE: 0x20000,
  PRIVATE: 0x40000, SLAVE: 0x80000, SHARED: 0x100000, RELATIME: 0x200000, STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const;
export type MountFlag = keyof typeof MS;

export const MNT = { FORCE: 1, DETACH: 2, EXPIRE: 4 } as const;
export const UMOUNT_NOFOLLOW = 8;

export function mountFlags(flags: readonly MountFlag[] | number): number {
  if (typeof flags === 'number') return flags;
  return flags.reduce((acc, f) => acc | MS[f], 0);
}

/** "MS_BIND|MS_REC" for messages. */
export function mountFlagsToString(flags: number): string {
  const names = (Object.keys(MS) as MountFlag[]).filter((k) => (flags & MS[k]) !== 0).map((k) => `MS_${k}`);
  return names.length ? names.join('|') : '0';
}

export function mount(source: string | null, target: string, fstype: string | null,
                      flags: readonly MountFlag[] | number, data: string | null = null): void {
  if (c.mount(source, target, fstype, mountFlags(flags), data) < 0) {
    throw sysError('mount', { path: source ?? fstype ?? 'none', dest: target });
  }
}

export function umount2(target: string, flags = 0): void {
  if (c.umount2(target, flags) < 0) throw sysError('umount2', { path: target });
}

/*
 * The mount API (open_tree(2), mount_setattr(2), fsopen(2), fsconfig(2), fsmount(2)): detached
 * mounts, which belong to no mount namespace until move_mount(2) attaches them (the exec stage's
 * MOVE_MOUNT does, in the container's), and idmapped mounts, which only these calls make.
 */

const AT_FDCWD = -100;
const AT_EMPTY_PATH = 0x1000;
const AT_RECURSIVE = 0x8000;
const OPEN_TREE_CLONE = 1;
const OPEN_TREE_CLOEXEC = 0o2000000;
/** MOUNT_ATTR_* (linux/mount.h). */
export const MOUNT_ATTR = { RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, NODIRATIME: 0x80, IDMAP: 0x100000, NOSYMFOLLOW: 0x200000 } as const;
const FSCONFIG = { SET_FLAG: 0, SET_STRING: 1, SET_FD: 5, CMD_CREATE: 6 } as const;

const MountAttrStruct = koffi.struct('nstools_mount_attr', { attr_set: 'uint64', attr_clr: 'uint64', propagation: 'uint64', userns_fd: 'uint64' });
// After the struct: mount_setattr's prototype names it.
const c = libcFunctions([
  'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
  'int umount2(const char *target, int flags)',
  'int open_tree(int dfd, const char *path, unsigned int flags)',
  'int mount_setattr(int dfd, const char *path, unsigned int flags, const nstools_mount_attr *attr, size_t size)',
  'int fsopen(const char *fsname, unsigned int flags)',
  'int fsconfig(int fd, unsigned int cmd, const char *key, const char *value, int aux)',
  'int fsmount(int fd, unsigned int flags, unsigned int attrs)',
  'int close(int fd)',
]);

/**
 * open_tree(path, OPEN_TREE_CLONE): a detached copy of the mount at `path` (and, with
 * `recursive`, of every mount below it), close-on-exec. Resolved with the caller's credentials.
 */
export function openTree(path: string, recursive: boolean): number {
  const fd = c.open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
  if (fd < 0) throw sysError('open_tree', { path });
  return fd;
}

/**
 * mount_setattr(2) on a detached tree fd, made private: `set`/`clear` MOUNT_ATTR bits, and with `userns` (a
 * user namespace fd) an idmapping: the tree then shows each file's owner as that namespace maps
 * it, and writes through it store the reverse. The kernel allows it on a detached tree only, with
 * CAP_SYS_ADMIN in the user namespace owning the filesystem, and (EINVAL) on filesystems that
 * declare FS_ALLOW_IDMAP (mount_setattr(2)). `path` names the tree in errors.
 */
export function mountSetattr(fd: number, attrs: { set?: number; clear?: number; userns?: number; recursive?: boolean }, path?: string): void {
  // Always private: a clone of a shared mount joins its peer group (clone_mnt() in
  // fs/namespace.c), and what a container mounts on it must not propagate to the host.
  const attr = { attr_set: BigInt((attrs.set ?? 0) | (attrs.userns !== undefined ? MOUNT_ATTR.IDMAP : 0)), attr_clr: BigInt(attrs.clear ?? 0),
                 propagation: BigInt(MS.PRIVATE), userns_fd: BigInt(attrs.userns ?? 0) };
  if (c.mount_setattr(fd, '', AT_EMPTY_PATH | (attrs.recursive ? AT_RECURSIVE : 0), attr, koffi.sizeof(MountAttrStruct)) < 0) {
    throw sysError('mount_setattr', path !== undefined ? { path } : {});
  }
}

/** An fsconfig(2) value: text, a flag (`true`: FSCONFIG_SET_FLAG), or an fd (FSCONFIG_SET_FD, e.g. overlayfs's "lowerdir+" of a detached layer). */
export type FsConfigValue = string | true | { readonly fd: number };

/**
 * fsopen + fsconfig + fsmount: a new filesystem instance as a detached mount fd (close-on-exec),
 * with the caller's credentials recorded as its mounter's (overlayfs reaches its layers with them).
 * `options`: key and value pairs in order (a key given twice, as "lowerdir+", appends).
 */
export function fsMount(fstype: string, options: readonly (readonly [string, FsConfigValue])[], name = fstype): number {
  const ctx = c.fsopen(fstype, 1 /* FSOPEN_CLOEXEC */);
  if (ctx < 0) throw sysError('fsopen', { path: fstype });
  try {
    for (const [key, value] of options) {
      const r = typeof value === 'string' ? c.fsconfig(ctx, FSCONFIG.SET_STRING, key, value, 0)
        : value === true ? c.fsconfig(ctx, FSCONFIG.SET_FLAG, key, null, 0) : c.fsconfig(ctx, FSCONFIG.SET_FD, key, null, value.fd);
      if (r < 0) throw sysError('fsconfig', { path: name, dest: key });
    }
    if (c.fsconfig(ctx, FSCONFIG.CMD_CREATE, null, null, 0) < 0) throw sysError('fsconfig', { path: name, dest: 'create' });
    const fd = c.fsmount(ctx, 1 /* FSMOUNT_CLOEXEC */, 0);
    if (fd < 0) throw sysError('fsmount', { path: name });
    return fd;
  } finally {
    c.close(ctx);
  }
}
