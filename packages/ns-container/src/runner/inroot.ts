/**
 * Resolving a path inside a root directory the way openat2(RESOLVE_IN_ROOT) does: symlinks
 * are followed, but an absolute target or a '..' starts again at, or stops at, the root, so
 * no path inside a container's root filesystem can lead the runner out of it. ns-core binds
 * no openat2, so this walks component by component with lstat(2); the walk is the check, and
 * its result (with no symlink left in it) is what the exec stage is told to create and mount on.
 */
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { NsError, usageError } from 'ns-core';

/** Linux's limit on symlinks followed in one lookup (MAXSYMLINKS, path_resolution(7)). */
const MAX_SYMLINKS = 40;

export interface InRootPath {
  /** The path inside the root with every symlink resolved: '/a/b'. */
  readonly inside: string;
  /** Components of `inside` that exist, counted from the root. */
  readonly existingDepth: number;
  /** What the last component is, if it exists. */
  readonly kind?: 'dir' | 'file' | 'other';
}

function split(path: string): string[] {
  return path.split('/').filter((c) => c !== '' && c !== '.');
}

function kindOf(st: Stats): 'dir' | 'file' | 'other' {
  return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
}

/**
 * Resolves `path` (absolute, as seen inside) under `root` (a host directory). `stopAt` names
 * inside paths whose contents the resolver must not look at (they will be fresh mounts): from
 * there on the components are taken literally.
 * @throws NsError ELOOP after too many symlinks; ENOTDIR when a file is used as a directory;
 *   EUSAGE for '..' below a component that does not exist (the kernel could not walk it).
 */
export function resolveInRoot(root: string, path: string, option: string, stopAt: (inside: string) => boolean = () => false): InRootPath {
  const pending = split(path);
  const resolved: string[] = [];
  let links = 0;
  let kind: InRootPath['kind'] = 'dir';
  while (pending.length) {
    const component = pending.shift()!;
    if (component === '..') {
      resolved.pop(); // RESOLVE_IN_ROOT: '..' at the root stays at the root
      kind = 'dir';
      continue;
    }
    const candidate = [...resolved, component];
    const inside = `/${candidate.join('/')}`;
    if (stopAt(inside)) return literal(resolved.length, candidate, pending, option, path);
    let st: Stats;
    try {
      st = lstatSync(posix.join(root, ...candidate));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Not there: the rest is created by the exec stage, exactly as spelled.
      if (code === 'ENOENT') return literal(resolved.length, candidate, pending, option, path);
      throw NsError.from(e, { syscall: 'lstat', path: posix.join(root, ...candidate), step: option });
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) {
        throw new NsError({ errno: 40, syscall: 'resolve', path, step: option,
                            message: `${option}: ${path}: too many levels of symbolic links inside the root` });
      }
      const target = readlinkSync(posix.join(root, ...candidate));
      if (target.startsWith('/')) resolved.length = 0; // absolute targets start again at the root
      pending.unshift(...split(target));
      continue;
    }
    kind = kindOf(st);
    if (kind !== 'dir' && pending.length) {
      throw new NsError({ errno: 20, syscall: 'resolve', path, step: option,
                          message: `${option}: ${path}: ${inside} is not a directory inside the root` });
    }
    resolved.push(component);
  }
  return { inside: `/${resolved.join('/')}`, existingDepth: resolved.length, kind };
}

function literal(existingDepth: number, candidate: string[], pending: string[], option: string, path: string): InRootPath {
  if (pending.includes('..')) throw usageError(`${option}: ${path}: '..' below a directory that does not exist yet`);
  return { inside: `/${[...candidate, ...pending].join('/')}`, existingDepth };
}
