/**
 * Running containers as their state files describe them: listing, entering (`exec`) and
 * signalling. A container is addressed through pidfds of its init, checked against the
 * pidfs inode recorded at start, so a recycled pid is never entered or signalled.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { NsError, seccomp, sys, type SpawnOptions, type Step } from 'ns-core';
import { detectCgroupLayout, removeRecordedGroup, selfJoinOps } from 'ns-cgroup';
import { openTargets, planEnter, type OpenedTargets } from 'ns-core';
import { readAccountsInRoot, resolveUser, securityStep, type Accounts } from './identity';
import { seccompCacheDir, seccompFilter } from './options';
import type * as NsImage from 'ns-image';
import { isAlive, removeFile, signalRef, StateStore, type ContainerState, type ProcessRef, type SkippedState } from './state';

export interface ContainerInfo extends ContainerState {
  /** Seconds since the container was created. */
  readonly uptime: number;
  /** docker's State.Status: created, running, exited, or dead (its runner died without recording its end). */
  readonly state: 'created' | 'running' | 'exited' | 'dead';
}

/** What a state file says, checked against the processes it names. */
export function liveStatus(s: ContainerState): ContainerInfo['state'] {
  if (s.status === 'exited') return 'exited';
  // Ended, and its runner or supervisor is recording that: exited.
  // An in-place container whose init has not forked yet is still being made.
  if (s.status === 'running' && s.inPlace && !s.init && isAlive(s.supervisor)) return 'created';
  if (s.status === 'running') return isAlive(s.init) ? 'running' : isAlive(s.runner) || isAlive(s.supervisor) ? 'exited' : 'dead';
  return isAlive(s.runner) ? 'created' : 'dead';
}

function infoOf(s: ContainerState, now: number): ContainerInfo {
  return { ...s, uptime: Math.max(0, Math.round((now - Date.parse(s.created)) / 1000)), state: liveStatus(s) };
}

/**
 * Containers of this user: those running (or being set up by a live runner), or with `all`
 * every recorded one (docker ps -a), and the state files that could not be read. Dead
 * containers that were to be removed at their end go first (reclaimDead).
 */
export function scanContainers(store = new StateStore(), options: { all?: boolean } = {}): { containers: ContainerInfo[]; skipped: SkippedState[] } {
  const now = Date.now();
  const { failed } = reclaimDead(store);
  const { states, skipped } = store.scan();
  const containers = states.map((s) => infoOf(s, now)).filter((c) => options.all || c.state === 'running' || c.state === 'created');
  return { containers, skipped: [...failed, ...skipped] };
}

/** ns-image is loaded only when a container has an image root: most calls never need its tar and registry code. */
function imageStore(root: string): NsImage.ImageStore {
  return (require('ns-image') as typeof NsImage).ImageStore.open({ root });
}

/**
 * What a container whose runner or supervisor was killed (SIGKILL: nothing of it ran its
 * cleanup) left, removed by the next ns-run call: for one that was to go at its end (--rm, every
 * foreground run), its subnet lease, its cgroups, its image root and its state. Its processes died with
 * the supervisor (PR_SET_PDEATHSIG at every level), its mounts, network namespace and veth
 * with them. Checked by pidfd and pidfs inode (liveStatus), never by pid alone. Kept ones
 * (-d without --rm) stay, shown as dead, until `rm`. @returns the names reclaimed, and those whose leftovers could not all go yet (kept for the next call).
 */
export function reclaimDead(store: StateStore): { reclaimed: string[]; failed: SkippedState[] } {
  const reclaimed: string[] = [];
  const failed: SkippedState[] = [];
  for (const s of store.scan().states) {
    if (abandonedExit(store, s)) {
      store.remove(s.name, s.id);
      reclaimed.push(s.name);
      continue;
    }
    if (!s.autoRemove || liveStatus(s) !== 'dead') continue;
    try {
      reclaimLeftovers(store, s);
    } catch (e) {
      // What cannot go now (a cgroup something outside still holds) stays recorded, for the
      // next call to try again; said, and the other containers still reclaimed and listed.
      if (!(e instanceof NsError)) throw e;
      failed.push({ file: store.fileOf(s.name), reason: `what the dead container ${s.name} left cannot be removed yet: ${e.message}` });
      continue;
    }
    store.remove(s.name, s.id);
    reclaimed.push(s.name);
  }
  return { reclaimed, failed };
}

/**
 * An in-place container whose supervisor recorded its exit and then left the state for a waiter
 * that has died since (or was killed between the two): everything else it had went before the
 * exit was recorded, so only the state is left to remove.
 */
function abandonedExit(store: StateStore, s: ContainerState): boolean {
  return s.status === 'exited' && (s.autoRemove ?? false) && (s.inPlace ?? false) && !isAlive(s.runner) && !store.hasWaiters(s.name);
}

/**
 * What a dead container's runner made and never removed: its cgroups (what is left in them
 * killed first), its veth host ends, its subnet lease, its image root. Each is looked for,
 * and one already gone is what we wanted.
 */
function reclaimLeftovers(store: StateStore, s: ContainerState): void {
  const r = s.reclaim ?? {};
  if (s.forwarder) signalRef(s.forwarder, constants.signals.SIGKILL);
  // Every recorded directory is the container's own: what is left in each is killed, then
  // they go deepest first (ns-cgroup's removal of a recorded group, as ns-run-oci's delete).
  const cgroups = Array.isArray(r.cgroups) ? r.cgroups : [];
  removeRecordedGroup(cgroups, cgroups);
  for (const link of Array.isArray(r.links) ? r.links : []) removeLink(link);
  for (const lease of [...Array.isArray(r.leases) ? r.leases : [], subnetLeaseOf(store, s)]) if (lease !== undefined) removeFile(lease);
  // ns-image and the network module load only here, for a dead container that had them: not with every start-up.
  if (s.image) imageStore(s.image.store).removeContainerRoot(s.name);
  if (s.attachment || (s.ports.length && process.geteuid!() === 0)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const network = require('../network') as typeof import('../network');
    if (s.attachment) network.releaseLease(s.attachment.network, { container: s.name, address: s.attachment.address });
    // Its published ports' DNAT rules (their holder, its runner, is gone).
    if (s.ports.length && process.geteuid!() === 0) network.reclaimStalePublished();
  }
}

/** Deletes a host veth end if it is still there (its namespace's teardown usually took it). */
function removeLink(name: string): void {
  if (!existsSync(`/sys/class/net/${name}`)) return;
  // Loaded here: only a runner that died with a veth needs netlink (and koffi) at all.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { RtnlHandle } = require('ns-net') as typeof import('ns-net');
  RtnlHandle.current().use((rtnl) => {
    try {
      rtnl.linkDel(name);
    } catch (e) {
      // Gone with the container's network namespace meanwhile.
      if ((e as { code?: string }).code !== 'ENODEV') throw e;
    }
  });
}

/** --network veth: the lease file of the container's /30 (p2p.ts names it by the /30's network address). */
function subnetLeaseOf(store: StateStore, s: ContainerState): string | undefined {
  if (s.network !== 'veth' || s.address === undefined || !/^\d+\.\d+\.\d+\.\d+$/.test(s.address)) return undefined;
  const octets = s.address.split('.').map(Number);
  octets[3] = octets[3]! & ~3;
  return `${store.subnetsDir}/${octets.join('.')}`;
}

/** Containers of this user that are running (or being set up by a live runner). */
export function listContainers(store = new StateStore()): ContainerInfo[] {
  return scanContainers(store).containers;
}

/**
 * `ns-run wait`: until the container has ended; its exit code (docker's). Registered as a
 * waiter first, so that an auto-removed container's state stays until it is read here.
 * @throws NsError ENOENT for no such container; EIO when it ended without its status recorded.
 */
export async function waitContainer(nameOrId: string, store = new StateStore()): Promise<number> {
  const name = store.resolve(nameOrId).name;
  const waiter = store.addWaiter(name);
  let state: ContainerState | undefined;
  try {
    for (;;) {
      try {
        state = store.read(name);
      } catch (e) {
        if ((e as NsError).code !== 'ENOENT') throw e;
        state = undefined;
      }
      if (state?.status === 'exited') return state.exitCode ?? 0;
      if (!state || liveStatus(state) === 'dead') {
        throw new NsError({ errno: 5, code: 'EIO', message: `container ${nameOrId} ended without its exit status being recorded (its runner died)` });
      }
      await sleep(WAIT_POLL_MS);
    }
  } finally {
    removeFile(waiter);
    // The last waiter of an auto-removed container removes its state, which its runner left for us.
    if (state?.status === 'exited' && state.autoRemove && !store.hasWaiters(name)) store.release(name, state.runner);
  }
}

/** How often `wait` reads the state: the state file is the one place a non-parent learns the status. */
const WAIT_POLL_MS = 50;

/**
 * `ns-run rm [-f]`: a container that is not running is removed (its state, and what it left:
 * its image root); a running one only with force, by SIGKILL, once its runner has removed it.
 * @throws NsError ENOENT for no such container; EBUSY when it runs and force is not given.
 */
export async function removeContainer(nameOrId: string, options: { force?: boolean; store?: StateStore } = {}): Promise<string> {
  const store = options.store ?? new StateStore();
  const state = store.resolve(nameOrId);
  const status = liveStatus(state);
  if (status === 'running' || status === 'created') {
    if (!options.force) {
      throw new NsError({ errno: 16, code: 'EBUSY', message: `cannot remove container ${state.name}: it is ${status}; stop it first, or use rm -f` });
    }
    try {
      signalContainer(state.name, 'SIGKILL', { stateDir: store.root });
    } catch (e) {
      if ((e as NsError).code !== 'ESRCH') throw e;
    }
    while (isAlive(state.init) || (state.status === 'creating' && isAlive(state.runner))) await sleep(20);
  }
  // Its runner (or a detached one's supervisor) removes what it made and then the state
  // (unless a waiter reads it, or it is kept for rm): wait for it.
  await ended(store, state);
  const left = stateOf(store, state.name);
  if (left && left.runner.inode === state.runner.inode) {
    // Its runner or supervisor died before its cleanup (an exited one's ran: what it named may be another's now).
    if (liveStatus(left) === 'dead') reclaimLeftovers(store, left);
    store.remove(left.name, left.id);
  }
  return state.name;
}

function stateOf(store: StateStore, name: string): ContainerState | undefined {
  try {
    return store.read(name);
  } catch (e) {
    if ((e as NsError).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** An exited state a runner keeps (for a waiter, or a container without --rm): its runner is done with it. */
function isExitedKept(store: StateStore, name: string): boolean {
  const s = stateOf(store, name);
  return s?.status === 'exited' && store.hasWaiters(name);
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
export async function planExec(name: string, options: ExecOptions = {}): Promise<ExecPlan> {
  const store = new StateStore(options.stateDir);
  const state = runningContainer(store, name);
  // The program's namespaces are the init's; its pidfd is the one we may use: the init is not
  // dumpable (securityStep), and joining by pidfd takes ptrace access to the target.
  const target = state.program && isAlive(state.program) ? state.program : state.init;
  const ids = options.user !== undefined ? resolveUser(options.user, await containerAccounts(target)) : { uid: state.uid, gid: state.gid };
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
    const joinCgroups: Step = { name: 'ns-run exec cgroup',
                                child: state.cgroups.length ? selfJoinOps(state.cgroups, detectCgroupLayout(), 'pre-namespaces', 'cgroup') : [] };
    const env = new Map<string, string>();
    for (const e of [...state.env, ...(options.env ?? [])]) env.set(e.split('=')[0]!, e);
    const capabilities = BigInt(`0x${state.capabilities}`);
    // The container's own filter, as docker gives `exec` (an exec'd process outside it would undo it).
    const filter = state.seccomp !== undefined ? seccompFilter(state.seccomp, capabilities, seccompCacheDir(store.root)) : undefined;
    return {
      opened,
      spawn: {
        ...planned.spawn,
        env: [...env.values()],
        steps: [...(planned.spawn.steps ?? []), joinCgroups,
                securityStep({ ...ids, setgroupsAllowed: state.setgroupsAllowed }, capabilities), ...(filter ? [seccomp(filter)] : [])],
      },
    };
  } catch (e) {
    opened.close();
    throw e;
  }
}

/**
 * The container's account files, through its process's root (proc(5): /proc/PID/root),
 * resolved and read inside it without following anything out (identity.ts). The root is
 * opened first and the process checked after: a pid reused in between is not the container.
 */
async function containerAccounts(target: ProcessRef): Promise<Accounts> {
  const root = sys.openRaw(`/proc/${target.pid}/root`, sys.O_PATH | sys.O_DIRECTORY);
  try {
    if (!isAlive(target)) throw new NsError({ errno: 3, code: 'ESRCH', message: 'the container stopped while its accounts were read' });
    return await readAccountsInRoot(root);
  } finally {
    sys.closeFd(root);
  }
}

/** Sends a signal to the container's init, which passes it on to the program (SIGKILL ends them all). */
export function signalContainer(name: string, signal: NodeJS.Signals = 'SIGKILL', options: { stateDir?: string } = {}): void {
  const state = runningContainer(new StateStore(options.stateDir), name);
  const number = constants.signals[signal];
  if (number === undefined) throw new NsError({ errno: 22, code: 'EUSAGE', message: `unknown signal ${signal}` });
  const fd = sys.pidfdOpen(state.init.pid);
  try {
    // The pidfd we signal through is the recorded process (pidfs inode), not whatever has its pid now.
    if (fstatSync(fd).ino !== state.init.inode || !isAlive(state.init)) {
      throw new NsError({ errno: 3, code: 'ESRCH', message: `container ${name} is not running` });
    }
    checkNamespaceInit(name, state.init.pid, fd);
    sys.pidfdSendSignal(fd, number);
  } finally {
    sys.closeFd(fd);
  }
}

/**
 * A container's init is PID 1 of a pid namespace of its own: NSpid in /proc/PID/status
 * (proc(5)) lists its pid in each namespace, ours first and 1 last. A state file naming any
 * other process (an ordinary one of the user, planted or stale) does not make us signal it.
 * The status read is the pidfd's process only if that process still lives after it (its pid
 * cannot be reused while it does): signal 0 through the pidfd checks that.
 */
function checkNamespaceInit(name: string, pid: number, pidfd: number): void {
  let nspid: string[] = [];
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('NSpid:'));
    nspid = line ? line.slice('NSpid:'.length).trim().split(/\s+/) : [];
  } catch (e) {
    // Gone meanwhile: checked below through the pidfd.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' && (e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
  if (!sys.pidfdSendSignal(pidfd, 0)) throw new NsError({ errno: 3, code: 'ESRCH', message: `container ${name} is not running` });
  if (nspid.length < 2 || nspid[nspid.length - 1] !== '1') {
    throw new NsError({ errno: 1, code: 'EPERM', message: `container ${name}: its recorded init (pid ${pid}) is not the init of a pid namespace of its own; ` +
                        'refusing to signal it (a stale or forged state file)' });
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
  await ended(store, state);
}

/** Until the runner or supervisor of the container `state` describes is done with it. */
async function ended(store: StateStore, state: ContainerState): Promise<void> {
  const mine = () => {
    const now = stateOf(store, state.name);
    return now !== undefined && now.id === state.id && now.runner.inode === state.runner.inode;
  };
  while (isAlive(state.supervisor)) await sleep(20);
  while (isAlive(state.runner) && mine() && !isExitedKept(store, state.name)) await sleep(20);
}

/**
 * `ns-run logs [-f]`: what a detached container wrote; with follow, what it goes on writing
 * until it has ended (then the rest).
 * @throws NsError ENOENT for no such container, or one without a log (it ran in the foreground).
 */
export async function followLog(store: StateStore, nameOrId: string, follow: boolean, write: (chunk: Buffer) => void): Promise<void> {
  const state = store.resolve(nameOrId);
  const file = store.logOf(state.name);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NsError({ errno: 2, code: 'ENOENT', path: file, message: `container ${state.name} has no log: only a detached one (-d) does` });
    }
    throw NsError.from(e, { syscall: 'open', path: file });
  }
  try {
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      let n: number;
      while ((n = readSync(fd, buf, 0, buf.length, null)) > 0) write(Buffer.from(buf.subarray(0, n)));
      if (!follow) return;
      const now = stateOf(store, state.name);
      if (!now || now.id !== state.id || !['running', 'created'].includes(liveStatus(now))) {
        // Ended: what it wrote last is in the file already; read it and stop.
        while ((n = readSync(fd, buf, 0, buf.length, null)) > 0) write(Buffer.from(buf.subarray(0, n)));
        return;
      }
      await sleep(LOG_POLL_MS);
    }
  } finally {
    closeSync(fd);
  }
}

/** How often `logs -f` looks for more output. */
const LOG_POLL_MS = 100;
