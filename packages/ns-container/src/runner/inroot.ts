/**
 * Resolving a path inside a root directory the way openat2(RESOLVE_IN_ROOT) does: symlinks
 * are followed, but an absolute target or a '..' starts again at, or stops at, the root, so
 * no path inside a container's root filesystem can lead the runner out of it. ns-core binds
 * no openat2, so this walks component by component with lstat(2); the walk is the check, and
 * its result (with no symlink left in it) is what the exec stage is told to create and mount on.
 */
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { NsError, sys, usageError } from 'ns-core';

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
export function resolveInRoot(root: string | RootView, path: string, option: string, stopAt: (inside: string) => boolean = () => false): InRootPath {
  const view = typeof root === 'string' ? directoryView(root) : root;
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
    const host = view.hostPath(candidate);
    let st: Stats;
    try {
      // Not there: the rest is created by the exec stage, exactly as spelled.
      if (host === undefined) return literal(resolved.length, candidate, pending, option, path);
      st = lstatSync(host);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return literal(resolved.length, candidate, pending, option, path);
      throw NsError.from(e, { syscall: 'lstat', path: host, step: option });
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) {
        throw new NsError({ errno: 40, syscall: 'resolve', path, step: option,
                            message: `${option}: ${path}: too many levels of symbolic links inside the root` });
      }
      const target = readlinkSync(host);
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

/**
 * A root as the host reads it: `hostPath` names the host file that a path inside (its
 * components, no symlink among them but the last) is, or undefined if it does not exist.
 */
export interface RootView {
  hostPath(components: readonly string[]): string | undefined;
}

/** A root directory: every path inside is the same path below it. */
export function directoryView(root: string): RootView {
  // Components come from split() (no '', '.' or '..'): concatenation is join, without
  // normalising the root again for every component of every path (a millisecond per create).
  if (!posix.isAbsolute(root)) return { hostPath: (components) => posix.join(root, ...components) };
  const base = posix.normalize(root).replace(/\/+$/, '');
  return { hostPath: (components) => (components.length ? `${base}/${components.join('/')}` : posix.join(root)) };
}

/** overlayfs's whiteout: a character device 0:0 (overlayfs.rst, "whiteouts and opaque directories"). */
function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** An opaque directory hides what the layers below have at its path, in either xattr namespace. */
function isOpaque(dir: string): boolean {
  for (const name of ['trusted.overlay.opaque', 'user.overlay.opaque']) {
    if (sys.lgetxattr(dir, name)?.toString() === 'y') return true;
  }
  return false;
}

/**
 * The merged view of overlayfs lower directories (topmost first) before it is mounted: a name
 * is the topmost layer's that has it, a whiteout hides it, a directory merges with the same
 * directory below until an opaque one. The runner resolves mount points and reads passwd
 * through it, as the overlay will show them.
 */
export function layersView(lower: readonly string[]): RootView {
  return {
    hostPath(components) {
      let layers = [...lower];
      for (let i = 0; i < components.length; i++) {
        const last = i === components.length - 1;
        const prefix = components.slice(0, i + 1);
        const below: string[] = [];
        let found: string | undefined;
        for (const layer of layers) {
          const host = posix.join(layer, ...prefix);
          let st: Stats;
          try {
            st = lstatSync(host);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
            throw e;
          }
          if (isWhiteout(st)) break;
          if (found === undefined) found = host;
          // A non-directory in a layer ends the lookup there; below it nothing shows through.
          if (last || !st.isDirectory()) break;
          below.push(layer);
          if (isOpaque(host)) break;
        }
        if (found === undefined) return undefined;
        if (last) return found;
        layers = below;
        if (!layers.length) return found; // a file used as a directory: the caller's lstat says so
      }
      return lower[0];
    },
  };
}
