import { libc, sysError } from './native';

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

const mount_ = libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)');
const umount2_ = libc.func('int umount2(const char *target, int flags)');

export function mount(source: string | null, target: string, fstype: string | null,
                      flags: readonly MountFlag[] | number, data: string | null = null): void {
  if (mount_(source, target, fstype, mountFlags(flags), data) < 0) {
    throw sysError('mount', { path: source ?? fstype ?? 'none', dest: target });
  }
}

export function umount2(target: string, flags = 0): void {
  if (umount2_(target, flags) < 0) throw sysError('umount2', { path: target });
}
