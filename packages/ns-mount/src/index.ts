/**
 * ns-mount: mount namespaces. A step for spawn() that makes a new mount namespace with the
 * propagation you choose, runs bubblewrap-style filesystem steps in order, optionally
 * pivot_root()s into a new root; persistence of any namespace on a file; mountinfo parsing;
 * and in-process helpers for the caller's own mount namespace.
 */
import { posix } from 'node:path';
import * as sys from 'ns-core/sys';
import { NsError, usageError } from 'ns-core/errors';
import type { PhasedOp, Step } from 'ns-core/exec/plan';
import { statOf } from './errors';
import { compileFsOps, readOnlyRemounts, type FsOp } from './fsops';
import { isMountPoint, locate } from './mountinfo';

export { compileFsOps, checkDest, optionOf, readOnlyRemounts, type FsOp } from './fsops';
export {
  parseMountinfo, readMountinfo, propagationName, perMountFlags, locate, mountOf, isMountPoint, mountsBelow,
  type MountEntry, type MountPropagation, type PropagationName, type PathLocation,
} from './mountinfo';
export {
  persist, persistNamespace, releaseNamespace, persistedNamespaces,
  type PersistRequest, type PersistStep, type PersistedNamespace, type ReleaseOptions,
} from './persist';

/** What `--propagation` accepts, as unshare(1): applied recursively to / ('unchanged': not at all). */
export const PROPAGATIONS = ['private', 'slave', 'shared', 'unchanged'] as const;
export type Propagation = (typeof PROPAGATIONS)[number];

const PROPAGATION_FLAG = { private: sys.MS.PRIVATE, slave: sys.MS.SLAVE, shared: sys.MS.SHARED } as const;

export function parsePropagation(value: string): Propagation {
  if (!(PROPAGATIONS as readonly string[]).includes(value)) {
    throw usageError(`--propagation: unsupported propagation mode '${value}' (${PROPAGATIONS.join(', ')})`);
  }
  return value as Propagation;
}

export interface MountOptions {
  /** Default 'private', as util-linux since 2.27: nothing mounted inside reaches the host. */
  readonly propagation?: Propagation;
  /** Mount a new proc at this directory (`true`: /proc), after any root change, as unshare --mount-proc. */
  readonly mountProc?: boolean | string;
  /** Filesystem steps, run in this order (bubblewrap style). With `rootfs`, DESTs are inside the new root. */
  readonly ops?: readonly FsOp[];
  /** pivot_root() into this directory, so nothing of the host's tree stays reachable. */
  readonly rootfs?: string;
  /** chroot() into this directory (unshare --root), after any pivot. */
  readonly root?: string;
  /** Working directory of the program (unshare --wd); '/' after `root` when not given. */
  readonly wd?: string;
}

function existingDir(step: string, path: string): string {
  if (!statOf(step, path).isDirectory()) throw new NsError({ errno: 20, code: 'ENOTDIR', syscall: 'stat', path, step });
  return posix.resolve(path);
}

/**
 * Setup step: a new mount namespace. In the child, in this order: propagation on / (phase
 * 'propagation', before any mount so none leaks out), the bind of `rootfs` onto itself and
 * the filesystem ops (phase 'mounts'), pivot_root and chroot (phase 'root'), then the working
 * directory and proc (phase 'after-root').
 * @throws NsError EUSAGE for invalid options; ENOENT/ENOTDIR naming the step and path for a
 *   source or root that does not exist.
 */
export function mount(options: MountOptions = {}): Step {
  const propagation = parsePropagation(options.propagation ?? 'private');
  const rootfs = options.rootfs !== undefined ? existingDir('--rootfs', options.rootfs) : undefined;
  if (rootfs !== undefined && propagation === 'shared') {
    // pivot_root(2): new_root and its parent mount must not have shared propagation.
    throw usageError('--rootfs: pivot_root needs a non-shared root; use --propagation private or slave');
  }
  const child: PhasedOp[] = [];
  if (propagation !== 'unchanged') {
    child.push({ op: 'mount', target: '/', flags: sys.MS.REC | PROPAGATION_FLAG[propagation], phase: 'propagation', step: '--propagation' });
  }
  if (rootfs !== undefined) {
    // pivot_root(2) wants new_root to be a mount point: a recursive bind of the directory onto
    // itself makes it one and keeps whatever is mounted below it.
    child.push({ op: 'mount', source: rootfs, target: rootfs, flags: sys.MS.BIND | sys.MS.REC, phase: 'mounts', step: '--rootfs' });
  }
  child.push(...compileFsOps(options.ops ?? [], rootfs));
  if (rootfs !== undefined) child.push({ op: 'pivot-root', newRoot: rootfs, phase: 'root', step: '--rootfs' });
  if (options.root !== undefined) {
    if (options.root === '') throw usageError('--root: directory must not be empty');
    child.push({ op: 'chroot', path: options.root, phase: 'root', step: '--root' });
  }
  const wd = options.wd ?? (options.root !== undefined ? '/' : undefined);
  if (wd !== undefined) {
    if (wd === '') throw usageError('--wd: directory must not be empty');
    child.push({ op: 'chdir', path: wd, phase: 'after-root', step: '--wd' });
  }
  if (options.mountProc !== undefined && options.mountProc !== false) {
    const dir = options.mountProc === true ? '/proc' : options.mountProc;
    if (dir === '') throw usageError('--mount-proc: directory must not be empty');
    if (procNeedsPrivate(propagation, dir, rootfs !== undefined || options.root !== undefined)) {
      // util-linux: when / was not made private, make DIR private so the new proc does not
      // propagate onto the host's /proc through a shared peer group.
      child.push({ op: 'mount', target: dir, flags: sys.MS.REC | sys.MS.PRIVATE, phase: 'after-root', step: '--mount-proc' });
    }
    // Source "proc", as util-linux and bubblewrap mount it (mountinfo shows it).
    child.push({ op: 'mount', source: 'proc', target: dir, fstype: 'proc', flags: sys.MS.NOSUID | sys.MS.NODEV | sys.MS.NOEXEC,
                 phase: 'after-root', step: '--mount-proc' });
  }
  return { name: 'ns-mount', create: ['mnt'], child };
}

/**
 * Whether the proc mount point must be made private first. util-linux tries and ignores
 * EINVAL (DIR is not a mount point); the exec stage cannot ignore errors, so we ask the
 * caller's mount table, which the child's starts as a copy of. After a root change DIR is in
 * the new tree, where util-linux does not do it either.
 */
function procNeedsPrivate(propagation: Propagation, dir: string, rootChanged: boolean): boolean {
  if (propagation === 'private' || propagation === 'slave' || rootChanged || !dir.startsWith('/')) return false;
  try {
    return isMountPoint(dir);
  } catch (e) {
    if ((e as NsError).code === 'ENOENT') return false; // the kernel will report it at mount time
    throw e;
  }
}

/* ---- in-process helpers: they act on the calling thread's mount namespace (see runInside) ---- */

/** Changes the propagation of the mount at path (and, if recursive, every mount below it). */
export function setPropagation(path: string, mode: Exclude<Propagation, 'unchanged'> | 'unbindable', options: { recursive?: boolean } = {}): void {
  const flag = mode === 'unbindable' ? sys.MS.UNBINDABLE : PROPAGATION_FLAG[mode];
  sys.mount(null, path, null, flag | (options.recursive ? sys.MS.REC : 0));
}

/**
 * Bind-mounts source on target (recursively unless told otherwise). readOnly remounts the
 * new mount, and each submount a recursive bind brought along, read-only, keeping their
 * nosuid/nodev/noexec (a bind remount sets exactly the flags it is given: mount(2)).
 */
export function bindMount(source: string, target: string, options: { recursive?: boolean; readOnly?: boolean } = {}): void {
  const recursive = options.recursive ?? true;
  const location = locate(source);
  const remounts = options.readOnly ? readOnlyRemounts(location, locate(target).resolved, recursive) : [];
  sys.mount(location.resolved, target, null, sys.MS.BIND | (recursive ? sys.MS.REC : 0));
  try {
    for (const r of remounts) sys.mount(null, r.target, null, r.flags);
  } catch (e) {
    // Half read-only is worse than none: take the bind away again before reporting.
    sys.umount2(target, sys.MNT.DETACH);
    throw e;
  }
}

/** umount2(2); `detach` (MNT_DETACH) also takes away everything mounted below it. */
export function unmount(target: string, options: { detach?: boolean } = {}): void {
  sys.umount2(target, options.detach ? sys.MNT.DETACH : 0);
}
