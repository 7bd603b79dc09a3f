/**
 * ns-pid: PID namespaces. The program runs as PID 1 of a new PID namespace (or under a minimal
 * init that is), optionally with its own /proc; plus readers for a process's pid in every
 * nested namespace and for the tree of pid namespaces.
 */
import { readdirSync } from 'node:fs';
import { constants } from 'node:os';
import { NsError, readText, usageError } from 'ns-core/errors';
import type { PhasedOp, Step } from 'ns-core/exec/plan';
import { Namespace } from 'ns-core/namespace';
import { mount } from 'ns-mount';

/**
 * What the `--init` process passes on to the program: the job-control and termination signals
 * a terminal or supervisor sends (bubblewrap's and tini's set). SIGCHLD is the init's own.
 */
export const INIT_FORWARDED_SIGNALS: readonly NodeJS.Signals[] =
  ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

export interface PidOptions {
  /**
   * Mount a new proc filesystem for the namespace at this directory (`true`: /proc), inside a
   * new mount namespace whose mounts are made private first, as unshare --mount-proc does.
   * When you also use ns-mount's `mount` step, give `mountProc` to that step instead, so its
   * propagation choice is the only one made.
   */
  readonly mountProc?: boolean | string;
  /**
   * A minimal init is PID 1 and the program PID 2: it reaps every orphan, forwards
   * INIT_FORWARDED_SIGNALS to the program and exits with its status (128+N for signal N,
   * since PID 1 cannot die of a signal it sends itself: pid_namespaces(7)).
   */
  readonly init?: boolean;
  /** Signal the program gets when the launcher dies (unshare --kill-child). */
  readonly killChild?: NodeJS.Signals;
}

/**
 * Parses a signal name as util-linux does (signame_to_signum): case-insensitive, with or
 * without the SIG prefix; numbers are refused as unshare refuses them.
 * @throws NsError EUSAGE naming the option.
 */
export function parseSignal(option: string, value: string): NodeJS.Signals {
  const upper = value.trim().toUpperCase();
  const name = (upper.startsWith('SIG') ? upper : `SIG${upper}`) as NodeJS.Signals;
  if (!/^SIG[A-Z0-9]+$/.test(name) || constants.signals[name] === undefined) {
    throw usageError(`${option}: unknown signal '${value}'`);
  }
  return name;
}

/** Setup step: a new PID namespace in which the program (or, with `init`, a minimal init) is PID 1. */
export function pid(options: PidOptions = {}): Step {
  const child: PhasedOp[] = [];
  let procDir: string | undefined;
  if (options.mountProc !== undefined && options.mountProc !== false) {
    procDir = options.mountProc === true ? '/proc' : options.mountProc;
    // ns-mount's --mount-proc, with / private first, as unshare --mount-proc does by default: or
    // the new proc would also appear on the host's /proc through a shared peer group.
    // Each op is ours to name: the user asked for --mount-proc, not for a propagation.
    child.push(...(mount({ propagation: 'private', mountProc: procDir }).child ?? []).map((op) => ({ ...op, step: '--mount-proc' })));
  }
  if (options.init) {
    child.push({ op: 'fork', init: true, forward: INIT_FORWARDED_SIGNALS, phase: 'fork', step: '--init' });
  }
  if (options.killChild !== undefined && constants.signals[options.killChild] === undefined) {
    throw usageError(`--kill-child: unknown signal '${options.killChild}'`);
  }
  return {
    name: 'ns-pid',
    create: procDir !== undefined ? ['mnt', 'pid'] : ['pid'],
    child,
    ...(options.killChild !== undefined ? { killWithParent: options.killChild } : {}),
  };
}

/**
 * The pid of a process in every pid namespace it is visible in, outermost first (the
 * namespace of the /proc we read) down to its own: the NSpid line of /proc/PID/status.
 * @throws NsError ENOENT when the process does not exist.
 */
export function nsPids(processId: number | 'self'): number[] {
  const path = `/proc/${processId}/status`;
  const status = readText(path);
  const line = status.split('\n').find((l) => l.startsWith('NSpid:'));
  // NSpid exists since Linux 4.1; without it the only pid we know is the one /proc uses.
  if (!line) return [processId === 'self' ? process.pid : processId];
  return line.slice('NSpid:'.length).trim().split(/\s+/).map(Number);
}

/**
 * Ids of the pid namespaces from the one a process lives in (or, with forChildren, the one
 * its children will get) up to the caller's own, innermost first. The kernel stops the walk
 * at the caller's namespace: NS_GET_PARENT answers EPERM beyond it (ioctl_ns(2)).
 */
export function pidNamespaceChain(processId: number | 'self', forChildren = false): number[] {
  const ids: number[] = [];
  let ns = Namespace.ofPid(processId, 'pid', forChildren);
  try {
    for (;;) {
      ids.push(ns.id);
      let parent: Namespace;
      try {
        parent = ns.parent();
      } catch (e) {
        if ((e as NsError).code === 'EPERM') return ids; // the caller's own namespace: the top we may see
        throw e;
      }
      ns.close();
      ns = parent;
    }
  } finally {
    ns.close();
  }
}

/** One pid namespace in the tree pidNamespaceTree() builds. */
export interface PidNamespaceNode {
  /** nsfs inode number, as /proc/PID/ns/pid shows it. */
  readonly id: number;
  /** The parent's id, or null for the caller's own namespace (the root of what it may see). */
  readonly parent: number | null;
  /** Processes in this namespace, by their pid in the caller's namespace, ascending. */
  readonly pids: number[];
  readonly children: PidNamespaceNode[];
}

/**
 * The pid namespaces below (and including) the caller's, arranged by parent: every namespace
 * that holds a process we may inspect in our /proc, and the ancestors linking it to ours.
 */
export function pidNamespaceTree(): PidNamespaceNode[] {
  const nodes = new Map<number, PidNamespaceNode>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let chain: number[];
    try {
      chain = pidNamespaceChain(Number(entry));
    } catch (e) {
      const code = (e as NsError).code;
      // ENOENT/ESRCH: it exited between readdir and open. EACCES: /proc/PID/ns needs ptrace
      // read access (proc(5)), which even root lacks for some processes (e.g. non-dumpable
      // ones in another user namespace). Either way it is not in the answer.
      if (code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES') continue;
      throw e;
    }
    chain.forEach((id, i) => {
      if (!nodes.has(id)) nodes.set(id, { id, parent: chain[i + 1] ?? null, pids: [], children: [] });
    });
    nodes.get(chain[0]!)!.pids.push(Number(entry));
  }
  const roots: PidNamespaceNode[] = [];
  for (const node of nodes.values()) {
    node.pids.sort((a, b) => a - b);
    if (node.parent === null) roots.push(node);
    else nodes.get(node.parent)!.children.push(node);
  }
  return roots;
}
