/**
 * /proc/PID/mountinfo (proc(5)): the mount table of a process's mount namespace, with the
 * propagation peer groups that decide where a mount made in one namespace also appears.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import * as sys from 'ns-core/sys';
import { NsError, readText } from 'ns-core/errors';

/** Propagation of one mount, from mountinfo's optional fields (mount_namespaces(7)). */
export interface MountPropagation {
  /** Peer group this mount shares events with (`shared:N`). */
  readonly shared?: number;
  /** Peer group this mount receives events from (`master:N`): a slave. */
  readonly master?: number;
  /** Nearest dominant peer group visible here, when the master is not (`propagate_from:N`). */
  readonly propagateFrom?: number;
  readonly unbindable: boolean;
}

export interface MountEntry {
  readonly mountId: number;
  readonly parentId: number;
  /** st_dev of the filesystem, "major:minor". */
  readonly device: string;
  /** Path within the filesystem that forms this mount's root (a bind mount's source). */
  readonly root: string;
  readonly mountPoint: string;
  /** Per-mount options: rw/ro, nosuid, nodev, noexec, atime... */
  readonly mountOptions: readonly string[];
  readonly propagation: MountPropagation;
  readonly fsType: string;
  readonly source: string;
  /** Per-superblock options (size=, mode=, ...). */
  readonly superOptions: readonly string[];
}

/** 'shared', 'slave', 'shared,slave', 'private' or 'unbindable', as findmnt prints PROPAGATION. */
export type PropagationName = 'shared' | 'slave' | 'shared,slave' | 'private' | 'unbindable';

/** The kernel writes space, tab, newline and backslash in paths as \ooo (seq_path, proc(5)). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function parseOptional(fields: readonly string[]): MountPropagation {
  let shared: number | undefined;
  let master: number | undefined;
  let propagateFrom: number | undefined;
  let unbindable = false;
  for (const f of fields) {
    const [tag, value] = f.split(':');
    if (tag === 'shared') shared = Number(value);
    else if (tag === 'master') master = Number(value);
    else if (tag === 'propagate_from') propagateFrom = Number(value);
    else if (tag === 'unbindable') unbindable = true;
    // Other tags may come with newer kernels; proc(5) says to ignore the ones we do not know.
  }
  return {
    ...(shared !== undefined ? { shared } : {}),
    ...(master !== undefined ? { master } : {}),
    ...(propagateFrom !== undefined ? { propagateFrom } : {}),
    unbindable,
  };
}

/** Parses mountinfo text. @throws NsError EINVAL naming the line if one is malformed. */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line !== '') entries.push(parseMountinfoLine(line));
  }
  return entries;
}

function parseMountinfoLine(line: string): MountEntry {
  const fields = line.split(' ');
  const dash = fields.indexOf('-', 6);
  if (dash < 0 || fields.length < dash + 4) {
    throw new NsError({ errno: 22, code: 'EINVAL', syscall: 'read', path: 'mountinfo', message: `malformed mountinfo line: ${line}` });
  }
  return {
    mountId: Number(fields[0]),
    parentId: Number(fields[1]),
    device: fields[2]!,
    root: unescape(fields[3]!),
    mountPoint: unescape(fields[4]!),
    mountOptions: fields[5]!.split(','),
    propagation: parseOptional(fields.slice(6, dash)),
    fsType: fields[dash + 1]!,
    source: unescape(fields[dash + 2]!),
    superOptions: fields[dash + 3]!.split(','),
  };
}

/**
 * The line of one mount id, parsed alone: a container's compile locates a dozen paths, and
 * parsing the whole table for each was half of every lookup.
 */
function mountWithId(text: string, mountId: number): MountEntry | undefined {
  const key = `${mountId} `;
  for (let at = 0; at < text.length;) {
    const end = text.indexOf('\n', at);
    const stop = end < 0 ? text.length : end;
    if (text.startsWith(key, at)) return parseMountinfoLine(text.slice(at, stop));
    at = stop + 1;
  }
  return undefined;
}

/**
 * The mount table of a process's mount namespace; 'self' is the calling thread's, which
 * differs from the process's inside ns-core's runInside([mnt namespace]).
 */
export function readMountinfo(pid: number | 'self' = 'self'): MountEntry[] {
  const path = pid === 'self' ? '/proc/thread-self/mountinfo' : `/proc/${pid}/mountinfo`;
  return parseMountinfo(readText(path));
}

export function propagationName(p: MountPropagation): PropagationName {
  if (p.unbindable) return 'unbindable';
  if (p.shared !== undefined && p.master !== undefined) return 'shared,slave';
  if (p.shared !== undefined) return 'shared';
  if (p.master !== undefined) return 'slave';
  return 'private';
}

/** mountinfo's per-mount options as MS_* bits that a bind remount must repeat to keep them. */
export function perMountFlags(entry: MountEntry): number {
  const bits: Record<string, number> = {
    ro: sys.MS.RDONLY, nosuid: sys.MS.NOSUID, nodev: sys.MS.NODEV, noexec: sys.MS.NOEXEC, nosymfollow: sys.MS.NOSYMFOLLOW,
  };
  return entry.mountOptions.reduce((acc, o) => acc | (bits[o] ?? 0), 0);
}

/** Where a path leads for the calling thread: its resolved form and the mount it lives on. */
export interface PathLocation {
  /** The path as the kernel resolved it (symlinks followed), as mountinfo spells mount points. */
  readonly resolved: string;
  readonly mount: MountEntry;
}

/**
 * Resolves a path the way the kernel does (symlinks, stacked mounts) through an O_PATH fd:
 * its /proc/thread-self/fd link gives the resolved path and its fdinfo the mnt_id (proc(5)).
 * @throws NsError ENOENT (or what open(2) says) naming the path.
 */
export function locate(path: string): PathLocation {
  const fd = sys.openRaw(path, sys.O_PATH);
  let resolved: string;
  let mntId: number;
  try {
    resolved = readlinkSync(`/proc/thread-self/fd/${fd}`);
    mntId = Number(/^mnt_id:\s*(\d+)/m.exec(readFileSync(`/proc/thread-self/fdinfo/${fd}`, 'utf8'))?.[1]);
  } finally {
    sys.closeFd(fd);
  }
  const mount = mountWithId(readText('/proc/thread-self/mountinfo'), mntId);
  if (!mount) throw new NsError({ errno: 2, code: 'ENOENT', syscall: 'mountinfo', path, message: `no mount with id ${mntId} for ${path}` });
  return { resolved, mount };
}

/** The mount a path lives on (the top one, where mounts are stacked). */
export function mountOf(path: string): MountEntry {
  return locate(path).mount;
}

/** True if something is mounted on path itself, not merely on a directory above it. */
export function isMountPoint(path: string): boolean {
  const { resolved, mount } = locate(path);
  return mount.mountPoint === resolved;
}

/** Mounts strictly below a directory, in mountinfo order (parents before children). */
export function mountsBelow(dir: string, entries: readonly MountEntry[] = readMountinfo()): MountEntry[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return entries.filter((e) => e.mountPoint.startsWith(prefix));
}
