import { cloneFlagsOf, type NamespaceKind } from '../kinds';
import { libcFunctions, sysError } from './native';

const c = libcFunctions([
  'int unshare(int flags)',
  'int setns(int fd, int nstype)',
]);

/** unshare(2) on the calling (main) thread. Callers in ns-core check the kind is safe first. */
export function unshare(kinds: readonly NamespaceKind[], extraFlags = 0): void {
  if (c.unshare(cloneFlagsOf(kinds) | extraFlags) < 0) {
    throw sysError('unshare', { namespaces: kinds });
  }
}

/** setns(2) with a namespace fd or a pidfd; kinds may be empty for "whatever fd is". */
export function setns(fd: number, kinds: readonly NamespaceKind[], path?: string): void {
  if (c.setns(fd, cloneFlagsOf(kinds)) < 0) {
    throw sysError('setns', { namespaces: kinds, ...(path ? { path } : {}) });
  }
}

/** CLONE_FS: gives this thread its own root and cwd, which setns into a mount namespace needs. */
export const CLONE_FS = 0x00000200;
