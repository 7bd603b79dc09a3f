/**
 * Filesystem steps in the style of bubblewrap: an ordered list of mounts, directories and
 * symlinks that the exec stage performs in the child's new mount namespace, in the order the
 * caller gave them, creating missing destinations on the way as bwrap does.
 */
import { posix } from 'node:path';
import * as sys from 'ns-core/sys';
import { NsError, usageError } from 'ns-core/errors';
import type { ChildOp } from 'ns-core/exec/ops';
import type { PhasedOp } from 'ns-core/exec/plan';
import { inStep, statOf } from './errors';
import { locate, mountsBelow, perMountFlags, type PathLocation } from './mountinfo';

export type FsOp =
  /** Recursive bind mount of SRC on DEST; `readOnly` remounts it and every submount read-only. */
  | { readonly op: 'bind'; readonly source: string; readonly dest: string; readonly readOnly?: boolean }
  /** A new tmpfs, mode `perms` (default 0755) and at most `size` bytes. */
  | { readonly op: 'tmpfs'; readonly dest: string; readonly size?: number; readonly perms?: number }
  /**
   * A new proc. Within the caller's pid namespace it shows every process, and /proc/PID/root
   * of each leads back to the host's tree: pair it with a new pid namespace to confine.
   */
  | { readonly op: 'proc'; readonly dest: string }
  /** A read-only sysfs (of the child's network namespace). */
  | { readonly op: 'sysfs'; readonly dest: string }
  /** A minimal /dev: a few host device nodes, a private devpts, shm (at most `shmSize` bytes), stdio symlinks. */
  | { readonly op: 'dev'; readonly dest: string; readonly shmSize?: number }
  | { readonly op: 'dir'; readonly dest: string; readonly perms?: number }
  | { readonly op: 'symlink'; readonly target: string; readonly dest: string }
  /**
   * overlayfs with LOWER dirs (first is topmost), writes going to UPPER, WORK on UPPER's
   * filesystem; without upper and work, a read-only overlay of the lower dirs alone. `userxattr`:
   * whiteouts and opaque dirs in user.overlay.* xattrs, as an overlay mounted in a user
   * namespace must read them (overlayfs.rst: "userxattr").
   */
  | { readonly op: 'overlay'; readonly lower: readonly string[]; readonly upper?: string; readonly work?: string; readonly dest: string;
      readonly userxattr?: boolean }
  /** Non-recursive read-only remount of what is mounted at DEST. */
  | { readonly op: 'remount-ro'; readonly dest: string };

/** The command-line spelling of an op, used to label its errors. */
export function optionOf(op: FsOp): string {
  return op.op === 'bind' && op.readOnly ? '--ro-bind' : `--${op.op}`;
}

const { MS } = sys;
const TMPFS_FLAGS = MS.NOSUID | MS.NODEV;
const PROC_FLAGS = MS.NOSUID | MS.NODEV | MS.NOEXEC;
const SYSFS_FLAGS = MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC;
/** bwrap's --dev: the character devices every program expects, bound from the host. */
const DEV_NODES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'] as const;
const DEV_SYMLINKS: readonly [string, string][] = [
  ['fd', '/proc/self/fd'], ['stdin', '/proc/self/fd/0'], ['stdout', '/proc/self/fd/1'], ['stderr', '/proc/self/fd/2'],
];
/**
 * A devpts of its own (newinstance) so ptys made inside are not the host's; ptmxmode=0666 so
 * /dev/ptmx (a symlink to pts/ptmx) works for everyone; mode=620 as devpts(5) recommends.
 */
const DEVPTS_OPTIONS = 'newinstance,ptmxmode=0666,mode=620';

/** Checks a DEST given on the command line: absolute, so its place under a new root is clear. */
export function checkDest(option: string, dest: string): string {
  if (!dest.startsWith('/')) throw usageError(`${option}: destination '${dest}' must be an absolute path`);
  return posix.normalize(dest);
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

/**
 * Turns the ops into exec-stage ops for phase 'mounts'. With a new root, every DEST is a
 * path inside it (mounted under `rootfs` before the pivot); sources stay host paths. Sources
 * are resolved now, in the caller's mount table, which the child's namespace starts as a
 * copy of (mount_namespaces(7)); that is also where the mounts a read-only bind must
 * remount are found.
 */
export function compileFsOps(ops: readonly FsOp[], rootfs?: string): PhasedOp[] {
  const base = rootfs ?? '/';
  const at = (dest: string) => (base === '/' ? dest : posix.join(base, dest));
  const out: PhasedOp[] = [];
  /** Per-mount flags of what these ops mounted, for a later --remount-ro of the same DEST. */
  const mountedFlags = new Map<string, number>();

  const emit = (step: string, op: ChildOp) => out.push({ ...op, phase: 'mounts', step });
  /** mkdir -p of what lies between the root and target, as bwrap's mkdir_with_parents. */
  const parents = (step: string, target: string) => {
    const rel = posix.relative(base, posix.dirname(target));
    let dir = base;
    for (const part of rel ? rel.split('/') : []) {
      dir = posix.join(dir, part);
      emit(step, { op: 'mkdir', path: dir, mode: 0o755, existOk: true });
    }
  };
  const mountDir = (step: string, target: string) => {
    parents(step, target);
    emit(step, { op: 'mkdir', path: target, mode: 0o755, existOk: true });
  };

  for (const op of ops) {
    const step = optionOf(op);
    const target = at(checkDest(step, op.dest));
    switch (op.op) {
      case 'bind': {
        const isDir = statOf(step, op.source).isDirectory();
        const { resolved, mount } = inStep(step, () => locate(op.source));
        if (isDir) mountDir(step, target);
        else {
          parents(step, target);
          emit(step, { op: 'mkfile', path: target, mode: 0o444 });
        }
        emit(step, { op: 'mount', source: resolved, target, flags: MS.BIND | MS.REC });
        const flags = perMountFlags(mount) | (op.readOnly ? MS.RDONLY : 0);
        if (op.readOnly) {
          for (const r of readOnlyRemounts({ resolved, mount }, target, isDir)) emit(step, { op: 'mount', ...r });
        }
        mountedFlags.set(target, flags);
        break;
      }
      case 'tmpfs': {
        const perms = op.perms ?? 0o755;
        mountDir(step, target);
        emit(step, { op: 'mount', target, fstype: 'tmpfs', flags: TMPFS_FLAGS,
                     data: `mode=${octal(perms)}${op.size !== undefined ? `,size=${op.size}` : ''}` });
        mountedFlags.set(target, TMPFS_FLAGS);
        break;
      }
      case 'proc':
        mountDir(step, target);
        emit(step, { op: 'mount', source: 'proc', target, fstype: 'proc', flags: PROC_FLAGS });
        mountedFlags.set(target, PROC_FLAGS);
        break;
      case 'sysfs':
        mountDir(step, target);
        emit(step, { op: 'mount', target, fstype: 'sysfs', flags: SYSFS_FLAGS });
        mountedFlags.set(target, SYSFS_FLAGS);
        break;
      case 'dev':
        mountDir(step, target);
        emit(step, { op: 'mount', target, fstype: 'tmpfs', flags: TMPFS_FLAGS, data: 'mode=0755' });
        for (const node of DEV_NODES) {
          emit(step, { op: 'mkfile', path: `${target}/${node}`, mode: 0o444 });
          emit(step, { op: 'mount', source: `/dev/${node}`, target: `${target}/${node}`, flags: MS.BIND });
        }
        for (const [name, link] of DEV_SYMLINKS) emit(step, { op: 'symlink', target: link, path: `${target}/${name}` });
        emit(step, { op: 'mkdir', path: `${target}/shm`, mode: 0o755 });
        emit(step, { op: 'mount', target: `${target}/shm`, fstype: 'tmpfs', flags: TMPFS_FLAGS,
                     data: `mode=1777${op.shmSize !== undefined ? `,size=${op.shmSize}` : ''}` });
        emit(step, { op: 'mkdir', path: `${target}/pts`, mode: 0o755 });
        emit(step, { op: 'mount', target: `${target}/pts`, fstype: 'devpts', flags: MS.NOSUID | MS.NOEXEC, data: DEVPTS_OPTIONS });
        emit(step, { op: 'symlink', target: 'pts/ptmx', path: `${target}/ptmx` });
        mountedFlags.set(target, TMPFS_FLAGS);
        break;
      case 'dir':
        parents(step, target);
        emit(step, { op: 'mkdir', path: target, mode: op.perms ?? 0o755, existOk: true });
        break;
      case 'symlink':
        if (op.target === '') throw usageError(`${step}: empty link target`);
        parents(step, target);
        emit(step, { op: 'symlink', target: op.target, path: target });
        break;
      case 'overlay': {
        const data = overlayData(step, op);
        mountDir(step, target);
        emit(step, { op: 'mount', target, fstype: 'overlay', flags: 0, data });
        mountedFlags.set(target, 0);
        break;
      }
      case 'remount-ro': {
        const flags = mountedFlags.get(target) ?? flagsOfMountAt(target);
        emit(step, { op: 'mount', target, flags: MS.BIND | MS.REMOUNT | MS.RDONLY | flags });
        mountedFlags.set(target, flags | MS.RDONLY);
        break;
      }
    }
  }
  return out;
}

/**
 * The remounts that make a recursive bind of `source` on `target` read-only throughout.
 * A bind mount starts with its source's per-mount flags, and MS_REMOUNT|MS_BIND sets exactly
 * the flags given (mount(2)), so each repeats its nosuid/nodev/noexec; MS_RDONLY applies to
 * one mount only, so bwrap walks the submounts and so do we (skipping unbindable ones, which
 * MS_REC does not copy). Read the table before binding: a target below the source would
 * otherwise show up as a submount of its own.
 */
export function readOnlyRemounts(source: PathLocation, target: string, recursive: boolean): { target: string; flags: number }[] {
  const remount = MS.BIND | MS.REMOUNT | MS.RDONLY;
  const out = [{ target, flags: remount | perMountFlags(source.mount) }];
  if (!recursive) return out;
  const strip = source.resolved === '/' ? 0 : source.resolved.length;
  for (const sub of mountsBelow(source.resolved)) {
    if (!sub.propagation.unbindable) out.push({ target: target + sub.mountPoint.slice(strip), flags: remount | perMountFlags(sub) });
  }
  return out;
}

/** Per-mount flags of what is mounted at path in the caller's table; 0 if nothing is (yet). */
function flagsOfMountAt(path: string): number {
  try {
    const { resolved, mount } = locate(path);
    return mount.mountPoint === resolved ? perMountFlags(mount) : 0;
  } catch (e) {
    // Not there yet (an earlier op may create it in the child): the kernel will judge the remount.
    if ((e as NsError).code === 'ENOENT') return 0;
    throw e;
  }
}

/**
 * overlayfs's mount data. Its option parser splits on ',' and lowerdir on ':', so paths with
 * those characters cannot be passed safely; they are refused rather than escaped.
 */
function overlayData(step: string, op: Extract<FsOp, { op: 'overlay' }>): string {
  if (op.lower.length === 0) throw usageError(`${step}: at least one lower directory is needed`);
  if ((op.upper === undefined) !== (op.work === undefined)) throw usageError(`${step}: an upper directory needs a work directory, and the other way round`);
  // overlayfs(5): a read-only overlay of lower dirs alone needs at least two of them.
  if (op.upper === undefined && op.lower.length < 2) throw usageError(`${step}: a read-only overlay needs at least two lower directories`);
  const resolve = (dir: string) => {
    if (/[,:\\]/.test(dir)) throw usageError(`${step}: '${dir}' contains ',', ':' or '\\', which overlayfs options cannot carry`);
    if (!statOf(step, dir).isDirectory()) {
      throw new NsError({ errno: 20, code: 'ENOTDIR', syscall: 'stat', path: dir, step });
    }
    return inStep(step, () => locate(dir)).resolved;
  };
  const options = [`lowerdir=${op.lower.map(resolve).join(':')}`];
  if (op.upper !== undefined) options.push(`upperdir=${resolve(op.upper)}`, `workdir=${resolve(op.work!)}`);
  if (op.userxattr) options.push('userxattr');
  return options.join(',');
}
