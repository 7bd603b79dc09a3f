/**
 * Running synchronous code inside other namespaces from Node's main thread, and always
 * coming back. Only kinds a multithreaded process may switch are allowed (DESIGN.md §2).
 */
import { closeSync, openSync } from 'node:fs';
import { NsError } from './errors';
import { kindsToString, type NamespaceKind } from './kinds';
import { Namespace } from './namespace';
import { CLONE_FS, setns, unshare } from './sys/sched';
import { fchdirRaw, chrootRaw } from './sys/fs';

const O_PATH_DIR_CLOEXEC = 0o10000000 | 0o200000 | 0o2000000;

/** Why some kinds are refused, for the error users see. */
const REFUSED: Partial<Record<NamespaceKind, string>> = {
  user: 'the kernel refuses setns into a user namespace from a multithreaded process (Node always is); spawn a child that joins it instead',
  time: 'the kernel refuses setns into a time namespace from a multithreaded process; spawn a child that joins it instead',
};

let fsUnshared = false;

/**
 * Runs fn with the calling thread inside the given namespaces, then restores the caller's.
 * fn must be synchronous: the libuv threadpool never follows these switches, so any async
 * I/O started inside would run in the caller's namespaces. For 'pid' only children change.
 * For 'mnt' the thread's fs info is unshared first (once, irreversibly): setns(2) requires it,
 * and from then on process.chdir() no longer moves libuv's threadpool.
 * @throws NsError EINVAL for user/time; whatever setns(2) reports.
 */
export function runInside<T>(targets: readonly Namespace[], fn: () => T): T {
  for (const ns of targets) {
    const why = REFUSED[ns.kind];
    if (why) throw new NsError({ errno: 22, syscall: 'setns', namespaces: [ns.kind], message: `cannot enter a ${ns.kind} namespace in-process: ${why}` });
  }
  const kinds = [...new Set(targets.map((t) => t.kind))];
  if (kinds.length !== targets.length) {
    throw new NsError({ errno: 22, code: 'EUSAGE', message: `runInside: one namespace per kind (${kindsToString(kinds)})` });
  }
  const saved: Namespace[] = [];
  let rootFd = -1;
  let cwdFd = -1;
  try {
    for (const kind of kinds) saved.push(Namespace.ofPid('self', kind, kind === 'pid'));
    if (kinds.includes('mnt')) {
      if (!fsUnshared) {
        unshare([], CLONE_FS);
        fsUnshared = true;
      }
      rootFd = openSync('/', O_PATH_DIR_CLOEXEC);
      cwdFd = openSync('.', O_PATH_DIR_CLOEXEC);
    }
  } catch (e) {
    for (const s of saved) s.close();
    throw e;
  }
  const entered: Namespace[] = [];
  try {
    for (const ns of targets) {
      setns(ns.fd, [ns.kind]);
      entered.push(ns);
    }
    return fn();
  } finally {
    restore(saved, entered, rootFd, cwdFd);
  }
}

/** Switches back to the saved namespaces; failing to do so leaves the process unusable. */
function restore(saved: Namespace[], entered: Namespace[], rootFd: number, cwdFd: number): void {
  try {
    for (const ns of saved) {
      if (!entered.some((e) => e.kind === ns.kind)) continue;
      setns(ns.fd, [ns.kind]);
    }
    if (rootFd >= 0) {
      // setns(mnt) moved root and cwd to the namespace's root; put the caller's back.
      fchdirRaw(rootFd);
      chrootRaw('.');
      fchdirRaw(cwdFd);
    }
  } catch (e) {
    const err = NsError.from(e);
    throw new NsError({ errno: Math.abs(err.errno), syscall: err.syscall ?? 'setns',
                        message: `could not restore the caller's namespaces: ${err.message}` });
  } finally {
    for (const ns of saved) ns.close();
    if (rootFd >= 0) closeSync(rootFd);
    if (cwdFd >= 0) closeSync(cwdFd);
  }
}

/** Kinds a multithreaded process may unshare on its main thread and switch back from. */
export type InProcessKind = 'net' | 'uts' | 'ipc' | 'cgroup';

/**
 * Runs fn with the calling thread in new namespaces of the given kinds, then restores the
 * caller's. Whatever fn leaves holding them (a bind mount of /proc/thread-self/ns/net, an
 * open socket) keeps them alive: `ip netns add` without a helper process.
 */
export function runInNew<T>(kinds: readonly InProcessKind[], fn: () => T): T {
  const saved = kinds.map((k) => Namespace.ofPid('self', k));
  try {
    unshare(kinds);
  } catch (e) {
    for (const s of saved) s.close();
    throw e;
  }
  try {
    return fn();
  } finally {
    restore(saved, saved, -1, -1);
  }
}
