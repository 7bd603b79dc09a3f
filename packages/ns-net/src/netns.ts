/**
 * Named network namespaces with `ip netns`'s conventions, so that either tool sees the other's:
 * /run/netns is a shared mount point (bound on itself if it was not one), and each NAME in it
 * is an empty file with a network namespace bind-mounted on it (ip-netns(8)).
 */
import { closeSync, mkdirSync, openSync, opendirSync, readdirSync, statSync, unlinkSync, type Stats } from 'node:fs';
import * as sys from 'ns-core/sys';
import { NsError, usageError } from 'ns-core/errors';
import type { PhasedOp, Step } from 'ns-core/exec/plan';
import { runInNew } from 'ns-core/inside';
import { nsProcPath } from 'ns-core/kinds';
import { Namespace } from 'ns-core/namespace';
import { RtnlHandle } from './verbs/handle';

/** NETNS_RUN_DIR of Debian's iproute2. */
export const NETNS_RUN_DIR = '/run/netns';
/** Per-namespace files `ip netns exec` binds over /etc. */
export const NETNS_ETC_DIR = '/etc/netns';
/** NAME_MAX: a name is one directory entry. */
const NAME_MAX = 255;

export interface NamedNetns {
  readonly name: string;
  /** The id the caller's namespace gives it (RTM_GETNSID), as `ip netns list` shows "(id: N)". */
  readonly id?: number;
}

/** iproute2's rule: not empty, not '.' or '..', no '/', at most NAME_MAX bytes. @throws NsError EUSAGE. */
export function validateNetnsName(name: string): void {
  const bytes = Buffer.byteLength(name);
  if (bytes === 0 || bytes > NAME_MAX || name.includes('/') || name.includes('\0') || name === '.' || name === '..') {
    throw usageError(`invalid netns name '${name}': it must be 1-${NAME_MAX} bytes, without '/', and not '.' or '..'`);
  }
}

export function netnsPath(name: string): string {
  validateNetnsName(name);
  return `${NETNS_RUN_DIR}/${name}`;
}

/** A node:fs error as an NsError naming the syscall and path (anything else unchanged). */
function asNsError(e: unknown, syscall: string, path: string): unknown {
  const err = e as NodeJS.ErrnoException;
  if (err.errno === undefined) return e;
  return new NsError({ errno: Math.abs(err.errno), code: err.code ?? 'EUNKNOWN', syscall, path });
}

function fsCall<T>(syscall: string, path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw asNsError(e, syscall, path);
  }
}

/**
 * Makes /run/netns a shared mount point, as `ip netns add` does: then unmounting a name in one
 * mount namespace unmounts it in all, and the network namespace can be freed (ipnetns.c).
 * Done under an exclusive flock(2) on the directory, as ip takes it: two tools making the
 * mount point at once would stack bind mounts on it (Debian bug #949235). Like ip, a lock
 * that cannot be taken is no reason to fail.
 */
function prepareRunDir(): void {
  try {
    mkdirSync(NETNS_RUN_DIR, { mode: 0o755 });
  } catch (e) {
    // Already there (made by us or by ip): that is the normal case.
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw asNsError(e, 'mkdir', NETNS_RUN_DIR);
  }
  const lock = sys.openRaw(NETNS_RUN_DIR, sys.O_DIRECTORY);
  try {
    try {
      sys.flock(lock, sys.LOCK_EX);
    } catch {
      // ip warns and goes on without the lock.
    }
    for (let bound = false; ;) {
      try {
        sys.mount(null, NETNS_RUN_DIR, null, sys.MS.SHARED | sys.MS.REC);
        return;
      } catch (e) {
        // EINVAL: not a mount point yet (mount(2) only changes propagation of mount points).
        if ((e as NsError).code !== 'EINVAL' || bound) throw e;
        sys.mount(NETNS_RUN_DIR, NETNS_RUN_DIR, null, sys.MS.BIND | sys.MS.REC);
        bound = true;
      }
    }
  } finally {
    // Closing the fd releases the lock.
    sys.closeFd(lock);
  }
}

/** Creates the empty file a namespace is bound on; EEXIST if the name is taken. */
function createNameFile(path: string): void {
  // O_EXCL: the name is ours, or the call fails, as with `ip netns add`.
  fsCall('open', path, () => closeSync(openSync(path, 'wx', 0)));
}

/** Undoes a name: detach the bind mount (if any) and remove the file. */
function removeName(path: string): void {
  try {
    sys.umount2(path, sys.MNT.DETACH);
  } catch (e) {
    // EINVAL: nothing is mounted there (a half-made or stale name); the file still goes.
    if ((e as NsError).code !== 'EINVAL') throw e;
  }
  fsCall('unlink', path, () => unlinkSync(path));
}

/** Makes /run/netns ready and takes the name: its path, an empty file of ours. */
function claimName(name: string): string {
  const path = netnsPath(name);
  prepareRunDir();
  createNameFile(path);
  return path;
}

/** After a failure, gives the name back (nothing stays behind) and rethrows. */
function releaseAndThrow(path: string, e: unknown): never {
  try {
    removeName(path);
  } catch (cleanupError) {
    throw new NsError({ errno: Math.abs((e as NsError).errno ?? 5), code: (e as NsError).code ?? 'EIO', path,
                        message: `${(e as Error).message}; and removing ${path} failed: ${(cleanupError as Error).message}` });
  }
  throw e;
}

/**
 * Equivalent to: `ip netns add NAME`. A short-lived child is cloned into a new network
 * namespace; while it waits, its /proc/PID/ns/net is bound on /run/netns/NAME, then it exits
 * and the bind mount keeps the namespace alive.
 * @throws NsError EUSAGE for an invalid name, EEXIST if the name is taken.
 */
export async function netnsAdd(name: string): Promise<void> {
  const path = claimName(name);
  try {
    // Node's main thread may unshare a network namespace and switch back (DESIGN.md): the bind
    // mount keeps the new one alive, with no process to spawn (~1 ms instead of ~3).
    runInNew(['net'], () => sys.mount('/proc/thread-self/ns/net', path, null, sys.MS.BIND));
  } catch (e) {
    releaseAndThrow(path, e);
  }
}

/**
 * Equivalent to: `ip netns attach NAME PID`: names the network namespace of a running process.
 * @throws NsError EEXIST if the name is taken; ENOENT if there is no such process.
 */
export function netnsAttach(name: string, pid: number): void {
  if (!Number.isInteger(pid) || pid <= 0) throw usageError(`netns attach: '${pid}' is not a pid`);
  const path = claimName(name);
  try {
    sys.mount(nsProcPath(pid, 'net', false), path, null, sys.MS.BIND);
  } catch (e) {
    releaseAndThrow(path, e);
  }
}

/**
 * Equivalent to: `ip netns delete NAME`: the namespace itself lives on while processes or
 * open fds use it.
 * @throws NsError ENOENT if there is no such name.
 */
export function netnsDelete(name: string): void {
  const path = netnsPath(name);
  fsCall('stat', path, () => statSync(path));
  removeName(path);
}

/** Opens a named namespace (caller closes it). @throws NsError ENOENT naming the file. */
export function netnsOpen(name: string): Namespace {
  return Namespace.open(netnsPath(name), 'net');
}

/**
 * Names in /run/netns in readdir(3) order, as ip walks them (netns_foreach()): ip prints the
 * last of several names of one namespace and runs `-all` in this order; none if it does not exist.
 * @throws NsError if it cannot be read.
 */
export function netnsNames(): string[] {
  let dir;
  try {
    dir = opendirSync(NETNS_RUN_DIR);
  } catch (e) {
    // No directory: nothing was ever named (ip netns list prints nothing too).
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw asNsError(e, 'opendir', NETNS_RUN_DIR);
  }
  const out: string[] = [];
  try {
    for (let entry = dir.readSync(); entry; entry = dir.readSync()) out.push(entry.name);
  } finally {
    dir.closeSync();
  }
  return out;
}

/**
 * Equivalent to: `ip netns list`: names, with the id the caller's namespace (or the one
 * `rtnl` is bound to) gives each, if any.
 */
export function netnsList(rtnl?: RtnlHandle): NamedNetns[] {
  const list = netnsNames();
  if (list.length === 0) return [];
  if (!rtnl) return RtnlHandle.current().use((h) => netnsList(h));
  return list.flatMap((name): NamedNetns[] => {
    const path = `${NETNS_RUN_DIR}/${name}`;
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      // Deleted while we listed it: it is no longer a name.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw asNsError(e, 'open', path);
    }
    try {
      const id = rtnl.nsidOf(fd);
      return [id === undefined ? { name } : { name, id }];
    } catch (e) {
      // EINVAL: no namespace is bound on the file (a stale name); ip lists it without an id.
      if ((e as NsError).code === 'EINVAL') return [{ name }];
      throw e;
    } finally {
      closeSync(fd);
    }
  });
}

function sameFile(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** stat(2), or undefined for a file that vanished or that we may not see. */
function statIfThere(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (e) {
    // Processes exit and names go while we scan; EACCES for other users' processes as non-root.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES') return undefined;
    throw e;
  }
}

/** Equivalent to: `ip netns identify [PID]`: the names bound to that process's network namespace. */
export function netnsIdentify(pid: number | 'self' = 'self'): string[] {
  const target = fsCall('stat', nsProcPath(pid, 'net', false), () => statSync(nsProcPath(pid, 'net', false)));
  return netnsNames().filter((n) => {
    const st = statIfThere(`${NETNS_RUN_DIR}/${n}`);
    return st !== undefined && sameFile(st, target);
  });
}

/** Equivalent to: `ip netns pids NAME`: the processes in that namespace. */
export function netnsPids(name: string): number[] {
  const path = netnsPath(name);
  const target = fsCall('stat', path, () => statSync(path));
  return readdirSync('/proc')
    .filter((e) => /^[0-9]+$/.test(e))
    .map(Number)
    .sort((a, b) => a - b)
    .filter((pid) => {
      const st = statIfThere(nsProcPath(pid, 'net', false));
      return st !== undefined && sameFile(st, target);
    });
}

/**
 * The pieces for running a program like `ip netns exec NAME`: join the named network
 * namespace, and in a new mount namespace (made a slave of / so nothing propagates back)
 * mount a sysfs that shows this namespace's devices and bind each /etc/netns/NAME/FILE over
 * /etc/FILE. Pass both to spawn(): `spawn(argv, { join: [join], steps: [step] })`; close
 * `join` once the program has started.
 * @throws NsError ENOENT if there is no such name.
 */
export function netnsExec(name: string): { join: Namespace; step: Step } {
  const join = netnsOpen(name);
  try {
    const etc = `${NETNS_ETC_DIR}/${name}`;
    let files: string[] = [];
    try {
      files = readdirSync(etc);
    } catch (e) {
      // No per-namespace configuration: nothing to bind.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw asNsError(e, 'opendir', etc);
    }
    const step = `netns exec ${name}`;
    const child: PhasedOp[] = [
      { op: 'mount', target: '/', flags: sys.MS.SLAVE | sys.MS.REC, phase: 'propagation', step },
      // sysfs shows the devices of the network namespace that mounts it (sysfs(5)).
      { op: 'umount', target: '/sys', flags: sys.MNT.DETACH, phase: 'mounts', step },
      { op: 'mount', source: name, target: '/sys', fstype: 'sysfs', flags: 0, phase: 'mounts', step },
      ...files.map((f): PhasedOp => ({ op: 'mount', source: `${etc}/${f}`, target: `/etc/${f}`, flags: sys.MS.BIND, phase: 'mounts', step })),
    ];
    return { join, step: { name: step, create: ['mnt'], child } };
  } catch (e) {
    join.close();
    throw e;
  }
}
