/**
 * The container's cgroups, built from ns-cgroup's CgroupGroup as a small delegated subtree
 * (in every hierarchy a limit needs, and v2 when mounted):
 *
 *   <runner's cgroup>/ns-run-NAME-PID/          no processes; its cgroup.procs is the container root's
 *   <runner's cgroup>/ns-run-NAME-PID/init      the init (PID 1), under no limit
 *   <runner's cgroup>/ns-run-NAME-PID/payload   the limits; the program and all it starts
 *
 * Why the init stays out of the limits: it is the exec stage's child and shares the runner's
 * memory, so the OOM killer would rate it by the runner's size, pick it, and kill every
 * process sharing that memory (oom_kill_process), the runner included. So the parent puts the
 * init in `init`, and the program, right after the fork, moves itself into `payload` (writing
 * 0 to cgroup.procs moves the writer: cgroups(7)) and only then unshares its cgroup namespace,
 * whose root is where it is at that moment (cgroup_namespaces(7)). cgroup v2 lets a process
 * move another only with write access to the common ancestor's cgroup.procs, hence that file
 * (and payload's) belong to the container's root. Relative to the runner's own cgroup, the
 * container stays within every limit the runner is under.
 */
import { chownSync, existsSync } from 'node:fs';
import { NsError, type ExitStatus, type PhasedOp, type Step } from 'ns-core';
import {
  CgroupGroup, cgroupIn, detectCgroupLayout, directoryOf, hierarchiesFor, parseLimits, planLimitWrites, readProcessCgroups,
  removeGroupDirectories, selfJoinOps, type CgroupLimits, type LeftGroupDirectory,
} from 'ns-cgroup';

export interface ContainerCgroup {
  /** The parent's part (made while the child waits) and the init's cgroup. */
  readonly step: Step;
  /** The same directories made and limits written, with no process moved (a holder's, in place). */
  readonly makeStep: Step;
  /**
   * In place, the container's first process past the supervisor's fork is born in `init`'s
   * v2 directory (the supervisor's `cgroup`) and joins its v1 ones by these ops.
   */
  readonly initCgroup?: string;
  readonly initOps: readonly PhasedOp[];
  /**
   * The program's process is born in `payload`'s v2 directory (a FORK_CGROUP before the init's
   * fork); these ops, right after the fork, join the v1 ones, then make a cgroup namespace.
   */
  readonly programCgroup?: string;
  readonly programOps: readonly PhasedOp[];
  /** The payload directories (one per hierarchy), where `exec` puts new processes. */
  readonly payload: readonly string[];
  /** Every directory made, deepest last, for a dead runner's reclaim. */
  readonly all: readonly string[];
  /** What the cleanup could not remove (filled once the container has ended), with why. */
  readonly leftovers: Leftover[];
}

/** A directory the cleanup had to leave, and the error that kept it. */
export type Leftover = LeftGroupDirectory;

/**
 * The container ended, but some of what it had could not be removed: its status is kept, the
 * leftovers named (docker reports a failed removal and exits non-zero; so do we).
 */
export class LeftoversError extends NsError {
  readonly status: ExitStatus;
  readonly leftovers: readonly Leftover[];

  constructor(status: ExitStatus, leftovers: readonly Leftover[]) {
    const first = leftovers[0]!.error;
    super({ errno: first.errno, code: first.code, ...(first.syscall ? { syscall: first.syscall } : {}), path: leftovers[0]!.path,
            message: `the container ended, but ${leftovers.map((l) => l.path).join(', ')} could not be removed ` +
                     `(${first.syscall ?? 'rmdir'}: ${first.code}); remove ${leftovers.length > 1 ? 'them' : 'it'} by hand` });
    this.status = status;
    this.leftovers = leftovers;
  }
}

function hint(e: unknown, option: string): never {
  const err = NsError.from(e);
  if (err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS') {
    throw new NsError({ errno: Math.abs(err.errno), code: err.code, ...(err.path ? { path: err.path } : {}), step: option,
                        message: `${option}: ${err.message}`,
                        hint: 'cgroup limits need a cgroup you may write: run as root, or in a cgroup v2 subtree delegated to you' });
  }
  throw e;
}

/**
 * Plans the subtree `name` with the limits; `containerRoot` owns the files the program writes
 * (its host uid and gid), undefined when that is the caller anyway.
 * @throws NsError EUSAGE for bad limits, before anything exists.
 */
export function containerCgroup(name: string, limits: CgroupLimits, containerRoot: { uid: number; gid: number } | undefined): ContainerCgroup {
  const parsed = parseLimits(limits);
  const layout = detectCgroupLayout();
  const controllers = planLimitWrites(parsed, layout).map((w) => w.controller);
  const own = readProcessCgroups('self');
  const tops = hierarchiesFor(layout, controllers).map((h) => {
    const base = cgroupIn(own, h);
    if (base === undefined) throw new NsError({ errno: 2, code: 'ENOENT', path: h.mountPoint, message: `cgroup: the runner has no cgroup in ${h.mountPoint}` });
    return directoryOf(h, `${base.replace(/\/+$/, '')}/${name}`);
  });
  const payload = tops.map((t) => `${t}/payload`);
  const made: CgroupGroup[] = [];
  const leftovers: Leftover[] = [];
  const make = (): CgroupGroup => {
    const work = CgroupGroup.open(`${name}/payload`, { layout, controllers });
    made.push(work);
    work.setLimits(parsed);
    const init = CgroupGroup.open(`${name}/init`, { layout, controllers });
    made.unshift(init);
    if (containerRoot) {
      for (const dir of [...tops, ...payload]) chownSync(`${dir}/cgroup.procs`, containerRoot.uid, containerRoot.gid);
      // The program joins a v1 payload through `tasks` (selfJoinOps).
      for (const dir of payload) if (existsSync(`${dir}/tasks`)) chownSync(`${dir}/tasks`, containerRoot.uid, containerRoot.gid);
    }
    return init;
  };
  const option = limits.memory !== undefined ? '--memory' : limits.pidsMax !== undefined ? '--pids-limit' : '--cpus';
  const cleanup = async () => {
    // init first, then payload, whose removal takes the subtree's top with it.
    for (const group of made.splice(0)) {
      try {
        await group.remove({ killLeftovers: true });
      } catch {
        // Kept by something (a child cgroup made from outside, a process that will not die):
        // the rest of the group, in its other hierarchies, is removed still; what stays is named.
        leftovers.push(...removeLeftCgroups(group.created));
      }
    }
  };
  const step: Step = {
    name: 'ns-run cgroup',
    parent: [{ action: 'call', step: 'cgroup', run: ({ pid }) => { try { make().addProcess(pid); } catch (e) { hint(e, option); } } }],
    cleanup,
  };
  // A holder moved into `init` would take the kernel's global threadgroup lock and wait for a
  // grace period (8-20 ms) only to be killed: the relay joins by itself (initOps).
  const makeStep: Step = {
    name: 'ns-run cgroup',
    parent: [{ action: 'call', step: 'cgroup', run: () => { try { make(); } catch (e) { hint(e, option); } } }],
    cleanup,
  };
  const inV2 = (d: string) => layout.v2 !== undefined && d.startsWith(`${layout.v2.mountPoint.replace(/\/+$/, '')}/`);
  const inits = tops.map((t) => `${t}/init`);
  const initCgroup = inits.find(inV2);
  const initOps = selfJoinOps(inits.filter((d) => d !== initCgroup), layout, 'pre-namespaces', 'cgroup');
  const programCgroup = payload.find(inV2);
  const programOps: PhasedOp[] = [
    ...selfJoinOps(payload.filter((d) => d !== programCgroup), layout, 'propagation', 'cgroup'),
    { op: 'unshare', kinds: ['cgroup'], phase: 'propagation', step: 'cgroup namespace' },
  ];
  return { step, makeStep, ...(initCgroup !== undefined ? { initCgroup } : {}), initOps, ...(programCgroup !== undefined ? { programCgroup } : {}), programOps, payload, all: [...tops, ...payload, ...tops.map((t) => `${t}/init`)], leftovers };
}

/**
 * The directories of `dirs` still there once a supervisor's rmcgroup words ran (a foreground
 * container in place), or once a group's own removal failed: removed now if they can be
 * (ns-cgroup owns how), else named with the error that kept them.
 */
export function removeLeftCgroups(dirs: readonly string[]): Leftover[] {
  return removeGroupDirectories(dirs);
}
