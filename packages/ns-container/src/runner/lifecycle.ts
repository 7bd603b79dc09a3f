/**
 * Running containers as their state files describe them: listing, entering (`exec`) and
 * signalling. A container is addressed through pidfds of its init, checked against the
 * pidfs inode recorded at start, so a recycled pid is never entered or signalled.
 */
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { NsError, sys, type SpawnOptions, type Step } from 'ns-core';
import { openTargets, planEnter, type OpenedTargets } from 'ns-core';
import { resolveUser, securityStep } from './identity';
import { resolveInRoot } from './inroot';
import { isAlive, StateStore, type ContainerState } from './state';

export interface ContainerInfo extends ContainerState {
  /** Seconds since the container was created. */
  readonly uptime: number;
}

/** Containers of this user that are running (or being set up by a live runner). */
export function listContainers(store = new StateStore()): ContainerInfo[] {
  const now = Date.now();
  return store.list()
    .filter((s) => (s.status === 'running' ? isAlive(s.init) : isAlive(s.runner)))
    .map((s) => ({ ...s, uptime: Math.max(0, Math.round((now - Date.parse(s.created)) / 1000)) }));
}

export function runningContainer(store: StateStore, name: string): ContainerState & { init: NonNullable<ContainerState['init']> } {
  const state = store.read(name);
  if (state.status !== 'running' || !state.init || !isAlive(state.init)) {
    throw new NsError({ errno: 3, code: 'ESRCH', message: `container ${name} is not running` });
  }
  return state as ContainerState & { init: NonNullable<ContainerState['init']> };
}

export interface ExecOptions {
  /** -e KEY=VALUE on top of the container's environment. */
  readonly env?: readonly string[];
  /** -w: working directory inside (default: the container's). */
  readonly workdir?: string;
  /** -u UID[:GID] inside (default: the container's). */
  readonly user?: string;
  readonly stateDir?: string;
}

export interface ExecPlan {
  readonly spawn: SpawnOptions;
  /** The fds the plan refers to: close once the program runs, or if spawning failed. */
  readonly opened: OpenedTargets;
}

/**
 * Entering every namespace of a running container, as its processes are: ns-enter's plan for
 * the init's namespaces (joined at once through its pidfd; setns(2) with CLONE_NEWNS puts us at
 * the namespace's root, which pivot_root made the container's), a fork into its pid namespace,
 * its cgroups, then the container's identity and privileges (securityStep).
 * @throws NsError ENOENT for an unknown name, ESRCH when it is not running.
 */
export function planExec(name: string, options: ExecOptions = {}): ExecPlan {
  const store = new StateStore(options.stateDir);
  const state = runningContainer(store, name);
  // The program's namespaces are the init's; its pidfd is the one we may use: the init is not
  // dumpable (securityStep), and joining by pidfd takes ptrace access to the target.
  const target = state.program && isAlive(state.program) ? state.program : state.init;
  const ids = options.user !== undefined ? resolveUser(options.user, containerAccounts(target.pid)) : { uid: state.uid, gid: state.gid };
  const enter = {
    target: target.pid, targetInode: target.inode, preserveCredentials: true,
    namespaces: Object.fromEntries(state.namespaces.map((k) => [k, true as const])),
    wdns: options.workdir ?? state.workdir,
  };
  const opened = openTargets(enter);
  try {
    const planned = planEnter(enter, opened);
    // The process moves itself ("0" is the writer) before it enters anything, while the host's
    // cgroup tree is still the one it sees: data, which spawn() and execInPlace() both run.
    const joinCgroups: Step = { name: 'ns-run exec cgroup', child: state.cgroups.map((dir) => ({
      op: 'write-file' as const, path: `${dir}/cgroup.procs`, data: '0', phase: 'pre-namespaces' as const, step: 'cgroup',
    })) };
    const env = new Map<string, string>();
    for (const e of [...state.env, ...(options.env ?? [])]) env.set(e.split('=')[0]!, e);
    return {
      opened,
      spawn: {
        ...planned.spawn,
        env: [...env.values()],
        steps: [...(planned.spawn.steps ?? []), joinCgroups,
                securityStep({ ...ids, setgroupsAllowed: state.setgroupsAllowed }, BigInt(`0x${state.capabilities}`))],
      },
    };
  } catch (e) {
    opened.close();
    throw e;
  }
}

/**
 * The container's account files, through its process's root (proc(5): /proc/PID/root), and
 * resolved inside it: an absolute symlink there must not lead to our own files.
 */
function containerAccounts(pid: number): { passwd: string; group: string } {
  const root = `/proc/${pid}/root`;
  const read = (file: string) => {
    const r = resolveInRoot(root, file, '--user');
    // An image without the file: only numeric ids can be used, as resolveUser then says.
    return r.kind === 'file' ? readFileSync(`${root}${r.inside}`, 'utf8') : '';
  };
  return { passwd: read('/etc/passwd'), group: read('/etc/group') };
}

/** Sends a signal to the container's init, which passes it on to the program (SIGKILL ends them all). */
export function signalContainer(name: string, signal: NodeJS.Signals = 'SIGKILL', options: { stateDir?: string } = {}): void {
  const state = runningContainer(new StateStore(options.stateDir), name);
  const number = constants.signals[signal];
  if (number === undefined) throw new NsError({ errno: 22, code: 'EUSAGE', message: `unknown signal ${signal}` });
  const fd = sys.pidfdOpen(state.init.pid);
  try {
    if (!isAlive(state.init)) throw new NsError({ errno: 3, code: 'ESRCH', message: `container ${name} is not running` });
    sys.pidfdSendSignal(fd, number);
  } finally {
    sys.closeFd(fd);
  }
}

/**
 * SIGTERM, then SIGKILL after `timeoutMs` if the container is still there (docker stop), and
 * waits until its runner has removed it.
 */
export async function stopContainer(name: string, options: { timeoutMs?: number; stateDir?: string } = {}): Promise<void> {
  const store = new StateStore(options.stateDir);
  const state = runningContainer(store, name);
  signalContainer(name, 'SIGTERM', options);
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  while (isAlive(state.init) && Date.now() < deadline) await sleep(20);
  if (isAlive(state.init)) {
    try {
      signalContainer(name, 'SIGKILL', options);
    } catch (e) {
      // It exited on its own between the check and the signal: stopped, as asked.
      if ((e as NsError).code !== 'ESRCH') throw e;
    }
  }
  // The runner removes the state file last, after everything else the container had.
  while (isAlive(state.runner) && store.list().some((s) => s.name === name && s.runner.inode === state.runner.inode)) await sleep(20);
}
