import { libcFunctions, sysError } from './native';

const c = libcFunctions([
  'int inotify_init1(int flags)',
  'int inotify_add_watch(int fd, const char *path, uint32_t mask)',
]);

export const IN_CLOEXEC = 0o2000000;
export const IN_NONBLOCK = 0o4000;
/** inotify(7) event bits. */
export const IN = {
  CREATE: 0x100, DELETE: 0x200, DELETE_SELF: 0x400, MOVED_FROM: 0x40, MOVED_TO: 0x80, IGNORED: 0x8000,
} as const;

/** inotify_init1(2), close-on-exec; read(2) the fd for struct inotify_event records. */
export function inotifyInit(flags = 0): number {
  const fd = c.inotify_init1(flags | IN_CLOEXEC);
  if (fd < 0) throw sysError('inotify_init1');
  return fd;
}

/** inotify_add_watch(2): returns the watch descriptor. */
export function inotifyAddWatch(fd: number, path: string, mask: number): number {
  const wd = c.inotify_add_watch(fd, path, mask);
  if (wd < 0) throw sysError('inotify_add_watch', { path });
  return wd;
}
