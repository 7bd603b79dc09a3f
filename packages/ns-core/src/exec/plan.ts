/**
 * From what a caller asks for (namespaces to create or join, setup steps contributed by the
 * per-kind packages, stdio, environment) to the ordered ops the exec stage runs. Pure: no fd
 * is opened and no syscall made here, so plans are tested without privileges.
 */
import { basename } from 'node:path';
import { constants } from 'node:os';
import { inheritedEnvironment } from '../bytes';
import { usageError } from '../errors';
import { kindInfo, kindsToString, KIND_NAMES, nsProcPath, type NamespaceKind } from '../kinds';
import type { Namespace } from '../namespace';
import type { ChildOp, ExecPlan, ExitCodes } from './ops';
import { MAX_FORK_WORDS } from './protocol';

/**
 * When a step's in-child ops run, in this order. Kernel rules decide it: 'pre-namespaces'
 * runs before any namespace is joined or unshared (--owner's setuid, so the new user
 * namespace belongs to that user); 'namespaces' right after them (time offsets must be
 * written before anything runs in the namespace); propagation before any mount (or mounts
 * leak to the host); mounts before the root changes; fork after the filesystem is ready but
 * before ids drop; ids last but for no_new_privs and the final chdir.
 */
export const PHASES = ['pre-namespaces', 'namespaces', 'propagation', 'mounts', 'root', 'after-root', 'fork', 'identity', 'final'] as const;
export type Phase = (typeof PHASES)[number];

export type PhasedOp = ChildOp & { readonly phase: Phase };

/** What the parent may do while the child waits between "namespaces made" and "go". */
export interface ParentContext {
  /** Pid of the child (in the caller's pid namespace). */
  readonly pid: number;
  readonly pidfd: number;
}

/**
 * What the parent does at the sync point, as data: spawn() does it from Node, and the in-place
 * stage (execInPlace) from a helper it forks before any namespace changes, left where it began.
 */
export type DataParentAction =
  /** Write /proc/PID/<file> (uid_map, gid_map, setgroups, timens_offsets) in one write. */
  | { readonly action: 'write-proc'; readonly file: string; readonly data: string; readonly step?: string }
  /** Run a helper; the string '{pid}' in argv is replaced. Only newuidmap/newgidmap use this. */
  | { readonly action: 'run'; readonly argv: readonly string[]; readonly step?: string }
  /**
   * Bind the child's namespace of `kind` (pid_for_children, time_for_children for those kinds)
   * onto `file`, creating it if missing: `unshare --net=FILE`. If the program never runs, the
   * binding and a file made for it are taken away again.
   */
  | { readonly action: 'bind-ns'; readonly kind: NamespaceKind; readonly file: string; readonly step?: string };

export type ParentAction =
  | DataParentAction
  /**
   * Anything else (move a link into the child's netns, join a cgroup), in JavaScript: spawn()
   * only. `data`: the same work as data, which execInPlace() runs instead.
   */
  | { readonly action: 'call'; readonly step: string; readonly run: (ctx: ParentContext) => void | Promise<void>;
      readonly data?: DataParentAction };

/**
 * One package's contribution to a spawn: data describing namespaces and ops, plus optional
 * parent-side actions and cleanup. ns-user's `user({ mapRoot: true })` returns one of these.
 */
export interface Step {
  readonly name: string;
  /** New namespaces this step needs. */
  readonly create?: readonly NamespaceKind[];
  /** New namespaces made by unshare() in the child (the child itself stays outside pid/time ones). */
  readonly unshareInChild?: readonly NamespaceKind[];
  readonly child?: readonly PhasedOp[];
  readonly parent?: readonly ParentAction[];
  /**
   * Create every new namespace by unshare() inside the child rather than by clone(), as
   * util-linux does: needed when 'pre-namespaces' ops must run first (--owner), or when the
   * child itself must stay outside new pid/time namespaces (unshare without --fork).
   */
  readonly createInChild?: boolean;
  /** Signal for the program if the launcher dies (PR_SET_PDEATHSIG, --kill-child). */
  readonly killWithParent?: NodeJS.Signals;
  /**
   * A cgroup v2 directory the child starts in: clone3()'s CLONE_INTO_CGROUP where the kernel
   * has it (5.7), else the child's first op, writing 0 to its cgroup.procs. Moving a process by
   * cgroup.procs takes the kernel's global threadgroup lock for writing, whose first taker waits
   * for an RCU grace period (8-20 ms measured here); a process born there takes none. A cgroup
   * namespace the plan makes is then unshared by the child, so that this cgroup is its root.
   */
  readonly startInCgroup?: string;
  /**
   * Runs after the child exited, or after the spawn failed (`execed` false: the program never
   * ran), to remove what the step made outside.
   */
  readonly cleanup?: (ctx: ParentContext | undefined, outcome: { readonly execed: boolean }) => void | Promise<void>;
}

/** An existing namespace to join: a handle, or a pidfd with the kinds to take from it. */
export type JoinTarget = Namespace | { readonly pidfd: number; readonly kinds: readonly NamespaceKind[] };

export type StdioSpec = 'inherit' | 'ignore' | 'pipe' | number;

export interface SpawnOptions {
  /** New namespaces, in addition to those the steps ask for. */
  readonly create?: readonly NamespaceKind[];
  readonly join?: readonly JoinTarget[];
  readonly steps?: readonly Step[];
  /** Environment: an object like process.env or 'K=V' strings. Default process.env. */
  readonly env?: NodeJS.ProcessEnv | readonly string[];
  /** Working directory in the child, applied last (inside any new root). */
  readonly cwd?: string;
  readonly stdio?: StdioSpec | readonly [StdioSpec, StdioSpec, StdioSpec];
  /** Extra fds for the child: child fd number -> caller's fd. */
  readonly fds?: Readonly<Record<number, number>>;
  /** Signal the child (or the program, past a fork) gets if the calling thread dies. */
  readonly killWithParent?: NodeJS.Signals | false;
  /** argv[0] as the program sees it, if different from the file run. */
  readonly argv0?: string;
  /**
   * How to wait for the child to exec: 'blocking' (default) reads the status pipe on this
   * thread, as libuv's own uv_spawn does, which is fastest; 'async' never blocks the event
   * loop, for plans whose steps may take long (network filesystems, FUSE served by this process).
   */
  readonly waitForExec?: 'blocking' | 'async';
  /** Signals the program starts with ignored, as the launcher's caller had them (nohup). */
  readonly ignoreSignals?: readonly NodeJS.Signals[];
  /**
   * Leave a small C supervisor (nsx-init) outside the new namespaces as the child: it waits for
   * the program, passes signals on, cleans up, and exits with the program's status, so no
   * JavaScript need stay alive for a running program (the container runner).
   */
  readonly supervise?: SuperviseOptions;
  /**
   * spawn() only. false: the stage does not report the ids of the child's namespaces, and
   * NsChild.namespaces stays empty. The report is a write to the status pipe before exec, which
   * wakes the caller once more per spawn (~7% of a spawn's time on two loaded CPUs): for callers
   * that never read the ids. Default true.
   */
  readonly reportNamespaces?: boolean;
}

/**
 * What a supervisor removes once the program is gone, in order: an empty directory (a cgroup),
 * a file (state), a directory with all it holds (a container's writable layer: never following
 * a symlink, never entering another filesystem), or, before the entries that need it, a user
 * namespace to join by fd (its ids own files the caller's own ids may not remove).
 */
export type SuperviseCleanup =
  | { readonly rmdir: string } | { readonly unlink: string } | { readonly rmtree: string } | { readonly userns: number }
  /** A cgroup: what the program left in it killed (cgroup.kill), then removed. */
  | { readonly rmcgroup: string }
  /**
   * An auto-removed container's end without a second program: the exit code goes to `exitFile`,
   * then the `state` file goes with it unless a live process waits for it (`state`.wait.PID) or
   * it no longer holds `id` (a new container took the name).
   */
  | { readonly release: { readonly state: string; readonly id: string; readonly exitFile: string } };

export interface SuperviseOptions {
  /** Done in order once the program is gone. */
  readonly cleanup?: readonly SuperviseCleanup[];
  /**
   * A cgroup v2 directory the program's process starts in, past the supervisor's fork (which
   * stays outside: it removes the group once the program is gone). See Step.startInCgroup for
   * why; a cgroup namespace the plan makes is then unshared by the program, rooted there.
   */
  readonly cgroup?: string;
  /** Then run (a path, not searched for) with the exit code appended, and waited for. */
  readonly onExit?: readonly string[];
  /**
   * The on-exit command writes to the supervisor's stderr (else /dev/null), and its exit code
   * N != 0 becomes the supervisor's when the program exited 0 (a program's own failure stays
   * its status): what it found the cleanup could not remove fails the run, as in docker.
   */
  readonly onExitReports?: boolean;
  /**
   * A cgroup the rmcgroup words could not remove is named on the supervisor's stderr, on one line
   * that starts with this program name, and a program's 0 becomes 125 (docker fails a run whose
   * cleanup failed): what an on-exit command would report, without starting one.
   */
  readonly reportLeftCgroups?: string;
  /** Signals passed on to the program; default RELAYED_SIGNALS. */
  readonly forward?: readonly NodeJS.Signals[];
  /**
   * The program has a session of its own (a container's init calls setsid, a terminal's program
   * does): a terminal's ^C or hangup reaches only the supervisor, which passes it on too.
   */
  readonly session?: boolean;
  /**
   * A program killed by signal N: the supervisor exits 128+N instead of dying of N (docker's
   * status; a shell would otherwise report the runner as killed). Default: as util-linux's
   * waiting parent, it dies of the same signal.
   */
  readonly signalAsCode?: boolean;
  /** Once the program is gone, its exit code ("N\n", 128+N for signal N) goes to this file, before the cleanup. */
  readonly exitFile?: string;
  /** A pseudo-terminal for the program, relayed by the supervisor (`docker run -t`). */
  readonly terminal?: TerminalOptions;
  /**
   * spawn() only: the supervisor starts a session of its own (setsid), and its grandchild gets a
   * copy of the caller's memory instead of sharing it, so that the container outlives the caller
   * and nothing of the caller's memory is ever charged to (or OOM-killed with) its cgroup.
   */
  readonly detach?: boolean;
}

/** The pty a supervised program gets: its stdin, stdout, stderr and controlling terminal. */
export interface TerminalOptions {
  /** Child fd the program's output is copied to (default 1). */
  readonly output?: number;
  /** Child fd copied to the program's terminal as typed (raw mode while it runs, if a terminal); none by default. */
  readonly input?: number;
  /** The pty multiplexer in the program's root (default /dev/ptmx: a devpts of its own, so `tty` names /dev/pts/N). */
  readonly ptmx?: string;
  /** Owner of the terminal, as the program's ids (default: as opened). */
  readonly owner?: { readonly uid: number; readonly gid: number };
  /** Child fd whose terminal size the pty starts with (default: none, 0x0; the supervisor follows SIGWINCH). */
  readonly sizeFrom?: number;
}

/** How the process that waits for a forked program treats signals sent to it. */
export interface ForkPolicy {
  /** Passed on to the program. */
  readonly forward?: readonly NodeJS.Signals[];
  /** Ignored. Every other signal acts on the waiting process by default, as on util-linux's. */
  readonly ignore?: readonly NodeJS.Signals[];
}

/** What execInPlace() takes: spawn()'s options for a program that replaces the calling process. */
export interface InPlaceOptions extends Omit<SpawnOptions, 'waitForExec'> {
  // supervise: this process (its pid kept) becomes the supervisor, outside every namespace; the
  // program runs past its fork. Parent actions cannot run then (their pid is the program's, not
  // known when the plan is made): prepare a user namespace first and join it.
  // detach is spawn()'s: the caller's shell waits for this process.
  // stdio: as spawn()'s, but for 'pipe', which is refused: nothing would be left to read the other end.
  /**
   * Run the program as a child and wait for it in C (unshare --fork): true for util-linux's
   * policy (SIGINT and SIGTERM ignored), or a policy. A new pid namespace implies it, as the
   * program is in one only past a fork. Without a fork the program keeps our pid.
   */
  readonly fork?: boolean | ForkPolicy;
  /** Names the tool in error messages ("ns-unshare: mount /proc failed: ..."). Default: the script's name. */
  readonly programName?: string;
  /** Exit status when the program cannot start; default util-linux's 1, 126 and 127. */
  readonly exitCodes?: Partial<ExitCodes>;
  /** bubblewrap's --info-fd: the program's pid and namespace ids, as one JSON object. */
  readonly infoFd?: number;
  /** bubblewrap's --json-status-fd: that object as a line, then {"exit-code": N} if a process waits. */
  readonly statusFd?: number;
  /** Namespace ids known before the start (ns-enter's targets), for those the stage cannot stat. */
  readonly knownNamespaceIds?: Partial<Record<NamespaceKind, number>>;
}

/** util-linux's exit codes when the program does not start. */
export const UTIL_LINUX_EXIT_CODES: ExitCodes = { failure: 1, cannotExecute: 126, notFound: 127 };

/** What REPORT_NS stats, in KIND_NAMES order: the for-children entries where a kind has one. */
export const REPORTED_NS_PATHS: readonly string[] = KIND_NAMES.map((k) => nsProcPath('self', k, true));

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const PR_SET_PDEATHSIG = 1;

export function envToList(env: NodeJS.ProcessEnv | readonly string[]): string[] {
  if (Array.isArray(env)) return [...(env as readonly string[])];
  return Object.entries(env as NodeJS.ProcessEnv)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
}

/** Candidate files for argv[0], searched like execvp(3) but inside the child's final view. */
export function programCandidates(file: string, env: readonly string[] | 'inherit'): string[] {
  if (file.includes('/')) return [file];
  const pathVar = (env === 'inherit' ? process.env['PATH'] : env.find((e) => e.startsWith('PATH='))?.slice(5)) ?? DEFAULT_PATH;
  return pathVar.split(':').map((dir) => `${dir || '.'}/${file}`);
}

/**
 * Kernel rule for joining: a user namespace first when it grants the rights to join the
 * others, last when entering it drops rights we still need. nsenter(1) settles this by
 * trying everything softly, then retrying what failed; so do we, in the child.
 */
export function joinOps(join: readonly JoinTarget[], programStaysOutsidePid = false, sharesMemory = true): ChildOp[] {
  const handles = join.filter((j): j is Namespace => !('pidfd' in j));
  const pidfds = join.filter((j): j is { pidfd: number; kinds: readonly NamespaceKind[] } => 'pidfd' in j);
  const ops: ChildOp[] = [];
  const late: ChildOp[] = [];
  // setns(pidfd, flags) switches every kind at once and atomically (setns(2), Linux 5.8).
  const joinsTime = join.some((j) => ('pidfd' in j ? j.kinds.includes('time') : j.kind === 'time'));
  // The fork a time join needs would put the program inside a joined pid namespace; when it must
  // stay outside (nsenter -F), the pid join waits until after that fork, so only children enter.
  // A stage with memory of its own (in place) joins time itself, as nsenter does, and needs no fork.
  const deferPid = joinsTime && programStaysOutsidePid && sharesMemory;
  for (const p of pidfds) {
    const now = p.kinds.filter((k) => k !== 'time' && !(deferPid && k === 'pid'));
    if (now.length) ops.push({ op: 'setns', fd: p.pidfd, kinds: now, step: `join ${kindsToString(now)}` });
    const after = p.kinds.filter((k) => k === 'time' || (deferPid && k === 'pid'));
    if (after.length) late.push({ op: 'setns', fd: p.pidfd, kinds: after, step: `join ${kindsToString(after)}` });
  }
  const ordered = [...handles].sort((a, b) => KIND_NAMES.indexOf(a.kind) - KIND_NAMES.indexOf(b.kind));
  const isLate = (h: Namespace) => h.kind === 'time' || (deferPid && h.kind === 'pid');
  for (const h of ordered.filter(isLate)) late.push({ op: 'setns', fd: h.fd, kinds: [h.kind], step: `join ${h.kind}` });
  const early = ordered.filter((h) => !isLate(h));
  if (early.length === 1 || !early.some((h) => h.kind === 'user')) {
    for (const h of early) ops.push({ op: 'setns', fd: h.fd, kinds: [h.kind], step: `join ${h.kind}` });
  } else {
    early.forEach((h, slot) => ops.push({ op: 'setns', fd: h.fd, kinds: [h.kind], mode: 'soft', slot, step: `join ${h.kind}` }));
    early.forEach((h, slot) => ops.push({ op: 'setns', fd: h.fd, kinds: [h.kind], mode: 'retry', slot, step: `join ${h.kind}` }));
  }
  if (late.length && sharesMemory) {
    // timens_install refuses a task that shares its memory (EUSERS), as the stage's child
    // shares Node's: a copy-on-write grandchild joins the time namespace (after user, whose
    // capabilities it needs) and goes on; the child stays behind and relays.
    ops.push({ op: 'fork', init: false, forward: RELAYED_SIGNALS, privateMemory: true, step: 'join time' });
  }
  ops.push(...late);
  return ops;
}

/**
 * What a stay-behind relay passes on: every signal it can catch, since the tools it stands in
 * for (nsenter, unshare without --fork) exec in place and the program gets whatever is sent.
 * SIGCHLD is the relay's own; SIGKILL and SIGSTOP cannot be caught.
 */
export const RELAYED_SIGNALS: readonly NodeJS.Signals[] = (Object.keys(constants.signals) as NodeJS.Signals[])
  .filter((s) => !['SIGKILL', 'SIGSTOP', 'SIGCHLD'].includes(s) && constants.signals[s] < 32);

export interface CompiledSpawn {
  readonly plan: ExecPlan;
  /** Parent actions to run at the single sync point (empty: the plan has no SYNC). */
  readonly parentActions: readonly ParentAction[];
  readonly created: readonly NamespaceKind[];
  readonly unsharedInChild: readonly NamespaceKind[];
  readonly hasSync: boolean;
  /** The cgroup v2 directory clone3() creates the child in (a step's startInCgroup). */
  readonly cgroup?: string;
}

/** What the machine offers the plan, found out once by spawn(): compiling reads nothing. */
export interface StageAbilities {
  /** clone3() has CLONE_INTO_CGROUP. */
  readonly cloneIntoCgroup: boolean;
}

/**
 * Validates and orders everything into an ExecPlan for spawn(). `fdMap` (child fd -> caller
 * fd) comes from the caller's stdio resolution.
 * @throws NsError EUSAGE for conflicting or invalid requests.
 */
export function compileSpawn(argv: readonly string[], options: SpawnOptions, fdMap: ReadonlyMap<number, number>,
                             abilities: StageAbilities = { cloneIntoCgroup: true }): CompiledSpawn {
  return compile(argv, options, fdMap, undefined, abilities);
}

/**
 * The plan execInPlace() hands to nsx: the same ops for a stage that runs in this very process
 * (pid `pid`) after it execs, with the labels and hints it prints failures with. New namespaces
 * are all unshared in place; a fork (asked for, or implied by a new pid namespace) leaves
 * nsx-init waiting; the parent actions are done by a helper nsx forks first.
 * @throws NsError EUSAGE for invalid requests, and for a step whose parent action is JavaScript.
 */
export function compileInPlace(argv: readonly string[], options: InPlaceOptions, fdMap: ReadonlyMap<number, number>,
                               pid: number): CompiledSpawn {
  return compile(argv, options, fdMap, { pid, options }, { cloneIntoCgroup: false });
}

/**
 * What compileSpawn() made its plan of, copied: spawn() keeps one compiled and encoded plan per
 * options object and reuses it while planInputsUnchanged() says the object (however its caller
 * changed it in place), the argv, the fd map and PATH still hold the same data. Functions (a
 * step's cleanup, a JavaScript parent action) count by identity; undefined when the options
 * hold what a copy cannot stand for (a Namespace handle or another class's object, a cycle).
 */
export interface PlanInputs {
  /** argv then the options, depth first: markers for arrays, objects and Buffers, then their contents. */
  readonly data: readonly unknown[];
  readonly fds: readonly number[];
  readonly path: string | undefined;
}

// Flat, so that checking is one pass over an array (2.5x faster than walking a copy's objects).
const ARRAY = Symbol('array');
const OBJECT = Symbol('object');
const BUFFER = Symbol('buffer');

const isPlain = (v: object) => {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

function flatten(v: unknown, out: unknown[], depth: number): boolean {
  if (typeof v !== 'object' || v === null) {
    out.push(v);
    return true;
  }
  if (depth > 16) return false; // a cycle, or nothing a plan is made of
  if (Array.isArray(v)) {
    out.push(ARRAY, v.length);
    for (const e of v) if (!flatten(e, out, depth + 1)) return false;
    return true;
  }
  if (Buffer.isBuffer(v)) {
    out.push(BUFFER, Buffer.from(v));
    return true;
  }
  if (!isPlain(v)) return false;
  const keys = Object.keys(v);
  out.push(OBJECT, keys.length);
  for (const k of keys) {
    out.push(k);
    if (!flatten((v as Record<string, unknown>)[k], out, depth + 1)) return false;
  }
  return true;
}

/** Whether v holds what flat[at.i...] was flattened from; advances at.i past it. */
function matches(flat: readonly unknown[], at: { i: number }, v: unknown): boolean {
  const c = flat[at.i++];
  if (c === ARRAY) {
    const n = flat[at.i++] as number;
    if (!Array.isArray(v) || v.length !== n) return false;
    for (let j = 0; j < n; j++) if (!matches(flat, at, v[j])) return false;
    return true;
  }
  if (c === OBJECT) {
    const n = flat[at.i++] as number;
    if (typeof v !== 'object' || v === null || Array.isArray(v) || !isPlain(v)) return false;
    let own = 0;
    for (const _ in v) own++;
    if (own !== n) return false;
    for (let j = 0; j < n; j++) {
      const k = flat[at.i++] as string;
      if (!Object.prototype.hasOwnProperty.call(v, k) || !matches(flat, at, (v as Record<string, unknown>)[k])) return false;
    }
    return true;
  }
  if (c === BUFFER) return Buffer.isBuffer(v) && (flat[at.i++] as Buffer).equals(v);
  return c === v || (Number.isNaN(c) && Number.isNaN(v));
}

const fdList = (fdMap: ReadonlyMap<number, number>) => [...fdMap].flat();
/**
 * PATH decides the exec candidates when the program is searched for in the inherited
 * environment (programCandidates), and only then is it read: a process.env read is ~4 us cold.
 */
const searchPath = (argv: readonly string[], options: SpawnOptions) =>
  (options.env === undefined && !argv[0]?.includes('/') ? process.env['PATH'] : undefined);

export function planInputs(argv: readonly string[], options: SpawnOptions, fdMap: ReadonlyMap<number, number>): PlanInputs | undefined {
  const data: unknown[] = [];
  if (!flatten(argv, data, 0) || !flatten(options, data, 0)) return undefined;
  return { data, fds: fdList(fdMap), path: searchPath(argv, options) };
}

export function planInputsUnchanged(inputs: PlanInputs, argv: readonly string[], options: SpawnOptions,
                                    fdMap: ReadonlyMap<number, number>): boolean {
  if (inputs.path !== searchPath(argv, options) || inputs.fds.length !== fdMap.size * 2) return false;
  let i = 0;
  for (const [target, source] of fdMap) {
    if (inputs.fds[i++] !== target || inputs.fds[i++] !== source) return false;
  }
  const at = { i: 0 };
  return matches(inputs.data, at, argv) && matches(inputs.data, at, options);
}

interface InPlace {
  readonly pid: number;
  readonly options: InPlaceOptions;
}

const PR_SET_PDEATHSIG_OP = (signal: number): ChildOp => ({ op: 'prctl', option: PR_SET_PDEATHSIG, args: [signal], step: 'kill with parent' });

function compile(argv: readonly string[], options: SpawnOptions | InPlaceOptions, fdMap: ReadonlyMap<number, number>,
                 inPlace: InPlace | undefined, abilities: StageAbilities): CompiledSpawn {
  if (argv.length === 0 || argv[0] === '') throw usageError('no program given');
  const steps = options.steps ?? [];
  const supervise = options.supervise;
  const startIn = steps.filter((s) => s.startInCgroup !== undefined);
  if (startIn.length > 1) throw usageError(`steps '${startIn[0]!.name}' and '${startIn[1]!.name}' both give a cgroup to start in`);
  const cgroup = startIn[0]?.startInCgroup;
  if (cgroup !== undefined && supervise) {
    throw usageError(`${startIn[0]!.name}: a supervised program joins its cgroup past the supervisor's fork (a write-file op), not at clone()`);
  }
  if (inPlace && supervise?.detach) throw usageError('supervise.detach: a detached supervisor is spawn()\'s; in place, the caller waits for this process');
  const created = new Set<NamespaceKind>(options.create ?? []);
  const unshared = new Set<NamespaceKind>();
  for (const s of steps) {
    for (const k of s.create ?? []) created.add(k);
    for (const k of s.unshareInChild ?? []) unshared.add(k);
  }
  // Kinds clone() cannot make are unshared in the child instead (time: see kinds.ts).
  for (const k of [...created]) {
    if (kindInfo(k).createdBy === 'unshare') {
      created.delete(k);
      unshared.add(k);
    }
  }
  for (const k of unshared) created.delete(k);
  // clone() would root a new cgroup namespace at the caller's cgroup (cgroup_namespaces(7)).
  if (cgroup !== undefined && created.delete('cgroup')) unshared.add('cgroup');
  // A new pid namespace the program must be inside: in place, only a fork gets it there.
  const programInNewPid = created.has('pid');
  // In place every namespace is unshared (nsx is this very process) but a supervisor's: it stays
  // outside and clones its program into them, so that a new pid namespace holds the program as PID 1.
  if ((inPlace && !supervise) || steps.some((s) => s.createInChild)) {
    for (const k of created) unshared.add(k);
    created.clear();
  }
  const joined = new Set<NamespaceKind>();
  for (const j of options.join ?? []) {
    for (const k of 'pidfd' in j ? j.kinds : [j.kind]) {
      if (created.has(k) || unshared.has(k)) throw usageError(`cannot both create and join a ${k} namespace`);
      joined.add(k);
    }
  }
  const parentActions = steps.flatMap((s) => s.parent ?? []);

  const ops: ChildOp[] = [];
  const killWithParent = options.killWithParent || steps.find((s) => s.killWithParent)?.killWithParent;
  const deathSignal = killWithParent ? constants.signals[killWithParent] : undefined;
  if (killWithParent && !deathSignal) throw usageError(`unknown signal ${killWithParent}`);
  if (inPlace) ops.push(...reportingOps(inPlace.options));
  // In place the process is the launcher itself, whose parent is the caller's shell: only a
  // forked program gets PR_SET_PDEATHSIG, as util-linux sets it for --kill-child. A detached
  // supervisor must outlive its caller: only its program gets it (relative to the supervisor).
  else if (deathSignal && !supervise?.detach) ops.push(PR_SET_PDEATHSIG_OP(deathSignal));
  if (options.ignoreSignals?.length) ops.push({ op: 'ignore-signals', signals: options.ignoreSignals, step: 'ignored signals' });
  // Only the fds the caller maps reach the program; dup2 through stashed copies so that
  // overlapping maps (1->2, 2->1) cannot clobber each other.
  ops.push({ op: 'cloexec-from', fd: 3, step: 'close fds' });
  let slot = 0;
  const placements: ChildOp[] = [];
  for (const [target, source] of [...fdMap].sort((a, b) => a[0] - b[0])) {
    if (!Number.isInteger(target) || target < 0 || target > 65000) throw usageError(`invalid child fd ${target}`);
    ops.push({ op: 'fd-stash', fd: source, slot, step: `fd ${target}` });
    placements.push({ op: 'fd-place', slot, target, step: `fd ${target}` });
    slot++;
  }
  ops.push(...placements);
  if (supervise) ops.push(...supervisorOps(supervise, created, unshared, deathSignal));
  const phased = steps.flatMap((s) => s.child ?? []);
  if (supervise && unshared.has('pid') && !phased.some((o) => o.op === 'fork')) {
    // unshare(CLONE_NEWPID) moves only the caller's children (pid_namespaces(7)).
    throw usageError('a supervised program in a pid namespace unshared past the supervisor needs a fork into it: pid({ init: true })');
  }
  if (inPlace && supervise && parentActions.length) {
    throw usageError(`${parentActions[0]!.step ?? parentActions[0]!.action}: a supervised program in place has no parent to act at the sync `
      + 'point (its pid is not known when the plan is made): prepare the namespace first and join it');
  }
  const forksOf = (o: ChildOp): ChildOp => (inPlace && o.op === 'fork' ? withCallerIgnored(o, options.ignoreSignals) : o);
  // Supervised, the program is past the supervisor's fork already, and a step's fork puts it in its pid namespace.
  const policy = inPlace && !supervise ? forkPolicy(inPlace.options, programInNewPid) : undefined;
  const helper = inPlace ? helperStages(parentActions, inPlace.pid, policy !== undefined) : undefined;
  if (helper?.ops.length) ops.push(...helper.ops);
  const cloneIntoCgroup = cgroup !== undefined && !inPlace && abilities.cloneIntoCgroup;
  if (cgroup !== undefined && !cloneIntoCgroup) {
    ops.push({ op: 'write-file', path: `${cgroup.replace(/\/+$/, '')}/cgroup.procs`, data: '0', step: startIn[0]!.name });
  }
  for (const op of phased) if (op.phase === 'pre-namespaces' && op.op !== 'seccomp') ops.push(stripPhase(op));
  // A step that wants the program inside a joined pid namespace asks for a relay fork.
  ops.push(...joinOps(options.join ?? [], !phased.some((o) => o.op === 'fork' && !o.init), !inPlace).map(forksOf));
  if (unshared.size) ops.push({ op: 'unshare', kinds: [...unshared], step: `unshare ${kindsToString(unshared)}` });

  // A round trip to the parent only when it has work to do while the child waits.
  const hasSync = !inPlace && parentActions.length > 0;
  if (hasSync) ops.push({ op: 'sync', step: 'wait for parent' });
  if (helper?.beforeFork) ops.push({ op: 'helper-sync', step: helper.beforeFork, last: !helper.afterFork });

  // The namespaces are final once joins, unshares and the 'namespaces' phase are done: report
  // their ids now, while /proc is still the caller's (a pivot_root may hide it later).
  const reportAfter = 'namespaces';
  // A time join already left the program one fork down, inside every joined namespace: a
  // relay fork asked for by a step (to enter a pid namespace) would only add a level.
  const forkedByJoin = ops.some((o) => o.op === 'fork' && !o.supervise);
  const filter = seccompOp(phased);
  for (const phase of PHASES) {
    if (phase === 'pre-namespaces') continue;
    if (phase === 'identity' && filter?.requires === 'cap-sys-admin') ops.push(filter);
    for (const op of phased) {
      if (op.phase !== phase || op.op === 'seccomp' || (forkedByJoin && op.op === 'fork' && !op.init)) continue;
      ops.push(forksOf(stripPhase(op)));
    }
    if (phase === reportAfter && !inPlace && (options as SpawnOptions).reportNamespaces !== false) {
      ops.push({ op: 'report-ns', paths: REPORTED_NS_PATHS, step: 'report namespaces' });
    }
    if (phase === reportAfter && inPlace) {
      ops.push(...infoOps(inPlace.options));
      if (policy) ops.push(...inPlaceFork(policy, options.ignoreSignals, deathSignal));
      if (helper?.afterFork) ops.push({ op: 'helper-sync', step: helper.afterFork, last: true });
    }
    if (phase === 'fork' && deathSignal && phased.some((o) => o.op === 'fork')) {
      // PDEATHSIG is per process: the program past a fork needs its own.
      ops.push(PR_SET_PDEATHSIG_OP(deathSignal));
    }
    // Past every fork (the program's own process), in its root, before its ids drop.
    if (phase === 'fork' && supervise?.terminal) ops.push(terminalOp(supervise.terminal));
  }
  if (options.cwd !== undefined) ops.push({ op: 'chdir', path: options.cwd, step: 'working directory' });
  if (filter?.requires === 'no-new-privs') ops.push(filterAfterNoNewPrivs(ops, filter));

  // In place the environment is written out (the stage's own, nsx's, is empty), the inherited
  // one from the bytes the kernel gave this process: process.env has lost those that are not UTF-8.
  const env = options.env !== undefined ? envToList(options.env) : inPlace ? inheritedEnvironment() : 'inherit';
  const progArgv = options.argv0 !== undefined ? [options.argv0, ...argv.slice(1)] : [...argv];
  ops.push({ op: 'exec', paths: programCandidates(argv[0]!, env), argv: progArgv, env, file: argv[0]!, step: 'exec' });

  const fdFloor = Math.max(2, ...fdMap.keys()) + 1;
  const cloneKinds = supervise ? [] : KIND_NAMES.filter((k) => created.has(k));
  return {
    plan: { cloneKinds, fdFloor, ops, ...(inPlace ? { labels: true } : {}) },
    parentActions: inPlace ? [] : parentActions,
    created: KIND_NAMES.filter((k) => created.has(k)),
    unsharedInChild: KIND_NAMES.filter((k) => unshared.has(k)),
    hasSync,
    ...(cloneIntoCgroup ? { cgroup } : {}),
  };
}

/**
 * spawn()'s supervisor: the child forks the program into the new namespaces (clone flags on the
 * fork) and stays outside them as nsx-init in supervise mode, with the cleanup as its words.
 */
function supervisorOps(supervise: SuperviseOptions, created: Set<NamespaceKind>, unshared: Set<NamespaceKind>,
                       deathSignal: number | undefined): ChildOp[] {
  // A cgroup namespace cloned at the fork would be rooted at the supervisor's cgroup.
  if (supervise.cgroup !== undefined && created.delete('cgroup')) unshared.add('cgroup');
  const cloneKinds = KIND_NAMES.filter((k) => created.has(k));
  // Cloned into them here, so the child itself (the supervisor) needs none.
  created.clear();
  return [
    // A hangup of the caller's terminal, or its process group's signals, must not reach a detached one.
    ...(supervise.detach ? [{ op: 'setsid' as const, step: 'detach' }] : []),
    ...(supervise.terminal ? [{ op: 'console-socket' as const, step: 'terminal' }] : []),
    ...(supervise.cgroup !== undefined ? [{ op: 'fork-cgroup' as const, path: supervise.cgroup, step: 'supervise.cgroup' }] : []),
    { op: 'fork', init: false, forward: supervise.forward ?? RELAYED_SIGNALS, supervise: supervisorWords(supervise), cloneKinds,
      ...(supervise.detach ? { privateMemory: true } : {}), step: 'supervise' },
    ...(deathSignal ? [PR_SET_PDEATHSIG_OP(deathSignal)] : []),
  ];
}

/** nsx-init's words for a supervisor (native/init.c): how to wait, then the cleanup, on-exit last. */
export function supervisorWords(supervise: SuperviseOptions): string[] {
  const words: string[] = [];
  if (supervise.session) words.push('session');
  if (supervise.signalAsCode) words.push('signal-as-code');
  if (supervise.onExitReports) words.push('report');
  if (supervise.exitFile !== undefined) words.push('exit-file', supervise.exitFile);
  if (supervise.reportLeftCgroups !== undefined) words.push('left-report', supervise.reportLeftCgroups);
  if (supervise.terminal) {
    const t = supervise.terminal;
    words.push('pty', String(t.output ?? 1), t.input === undefined ? '-' : String(t.input));
  }
  for (const c of supervise.cleanup ?? []) {
    if ('rmdir' in c) words.push('rmdir', c.rmdir);
    else if ('unlink' in c) words.push('unlink', c.unlink);
    else if ('rmtree' in c) words.push('rmtree', c.rmtree);
    else if ('rmcgroup' in c) words.push('rmcgroup', c.rmcgroup);
    else if ('release' in c) words.push('release', c.release.state, c.release.id, c.release.exitFile);
    else {
      if (!Number.isInteger(c.userns) || c.userns < 0) throw usageError(`supervise: userns ${String(c.userns)} is not a file descriptor`);
      words.push('userns', String(c.userns));
    }
  }
  if (supervise.onExit?.length) words.push('on-exit', ...supervise.onExit);
  if (words.includes('') || words.length > MAX_FORK_WORDS) throw usageError(`supervise: ${words.length} words, or an empty one (at most ${MAX_FORK_WORDS})`);
  return words;
}

function terminalOp(t: TerminalOptions): ChildOp {
  return { op: 'terminal', ptmx: t.ptmx ?? '/dev/ptmx', ...(t.sizeFrom !== undefined ? { sizeFrom: t.sizeFrom } : {}),
           ...(t.owner ? { owner: t.owner } : {}), step: 'terminal' };
}

/** In place: ERRORS first, so that every later failure is printed as the CLI would print it. */
function reportingOps(options: InPlaceOptions): ChildOp[] {
  const program = options.programName ?? (process.argv[1] ? basename(process.argv[1]).replace(/\.js$/, '') : 'node');
  return [{ op: 'errors', program, exitCodes: { ...UTIL_LINUX_EXIT_CODES, ...options.exitCodes }, step: 'errors' }];
}

/** In place: --info-fd/--json-status-fd, written by the stage; ids the caller knows go first, as spawn()'s reporters merge them. */
function infoOps(options: InPlaceOptions): ChildOp[] {
  if (options.infoFd === undefined && options.statusFd === undefined) return [];
  const known = options.knownNamespaceIds ?? {};
  const order = [...KIND_NAMES.filter((k) => known[k] !== undefined), ...KIND_NAMES.filter((k) => known[k] === undefined)];
  return [{
    op: 'info', step: 'info',
    ...(options.infoFd !== undefined ? { infoFd: options.infoFd } : {}),
    ...(options.statusFd !== undefined ? { statusFd: options.statusFd } : {}),
    ids: order.map((k) => [`${k}-namespace`, known[k] ?? nsProcPath('self', k, true)] as const),
  }];
}

/** unshare --fork's waiting parent: it ignores SIGINT and SIGTERM (util-linux 2.36+), forwards nothing. */
const UNSHARE_FORK_POLICY: ForkPolicy = { forward: [], ignore: ['SIGINT', 'SIGTERM'] };

/** Whether the program runs past a fork in place, and with which policy: asked for, or implied by a new pid namespace. */
function forkPolicy(options: InPlaceOptions, programInNewPid: boolean): ForkPolicy | undefined {
  if (options.fork && typeof options.fork === 'object') return options.fork;
  return options.fork || programInNewPid ? UNSHARE_FORK_POLICY : undefined;
}

/** Signals the caller ignored stay ignored in every process that waits, and are never passed on. */
function withCallerIgnored<T extends ChildOp & { op: 'fork' }>(op: T, ignored: readonly NodeJS.Signals[] | undefined): T {
  if (!ignored?.length) return op;
  const kept: readonly NodeJS.Signals[] = ignored.filter((s) => s !== 'SIGCHLD');
  return { ...op, forward: op.forward.filter((s) => !kept.includes(s)), ignore: [...new Set([...(op.ignore ?? []), ...kept])] };
}

/**
 * Kernel rule (pid_namespaces(7)): unshare(CLONE_NEWPID) moves only the caller's children, so
 * the program is in a new pid namespace only past a fork; and the first process in it must
 * exist before /proc/PID/ns/pid_for_children can be opened (for --pid=FILE). The fork comes
 * right after the namespaces exist, before any mount: proc mounted for the new namespace must
 * be mounted from inside it. The program past it gets PR_SET_PDEATHSIG (--kill-child).
 */
function inPlaceFork(policy: ForkPolicy, ignored: readonly NodeJS.Signals[] | undefined, deathSignal: number | undefined): ChildOp[] {
  const fork = withCallerIgnored({ op: 'fork' as const, init: false, forward: policy.forward ?? [], ignore: policy.ignore ?? [], step: 'fork' }, ignored);
  return [fork, ...(deathSignal ? [PR_SET_PDEATHSIG_OP(deathSignal)] : [])];
}

/**
 * The helper's ops, in stages. Kernel rule (user_namespaces(7)): the maps of a new user namespace
 * are written from outside once it exists, before anything runs in it: the first stage runs right
 * after the unshare. util-linux binds --KIND=FILE after its fork (pid_for_children appears only
 * with the namespace's first process): with a fork, the bindings are a second stage after it.
 */
function helperStages(actions: readonly ParentAction[], pid: number, forks: boolean):
  { ops: ChildOp[]; beforeFork?: string; afterFork?: string } {
  const data = actions.map((a) => {
    if (a.action !== 'call') return a;
    if (a.data) return a.data;
    throw usageError(`${a.step}: this step runs JavaScript at the sync point, which cannot run once the program has `
      + 'replaced this process; use spawn()');
  });
  const late: DataParentAction[] = forks ? data.filter((a) => a.action === 'bind-ns') : [];
  const early = data.filter((a) => !late.includes(a));
  const stages = [early, late].filter((s) => s.length);
  if (!stages.length) return { ops: [] };
  const body = stages.flatMap((stage) => [{ op: 'helper-stage' } as ChildOp, ...stage.map((a) => helperOp(a, pid))]);
  const name = (stage: readonly DataParentAction[]) => stage.map((a) => a.step ?? a.action).join(', ');
  return {
    ops: [{ op: 'helper-fork', count: body.length, step: 'helper' }, ...body],
    ...(early.length ? { beforeFork: name(early) } : {}),
    ...(late.length ? { afterFork: name(late) } : {}),
  };
}

/** One parent action as the helper's op, naming what runParentAction() names when spawn() does it. */
function helperOp(action: DataParentAction, pid: number): ChildOp {
  switch (action.action) {
    case 'write-proc':
      return { op: 'write-file', path: `/proc/${pid}/${action.file}`, data: action.data, step: action.step ?? action.file };
    case 'run': {
      const argv = action.argv.map((a) => a.replaceAll('{pid}', String(pid)));
      return { op: 'run-helper', paths: programCandidates(argv[0]!, 'inherit'), argv, fallback: `Command failed: ${argv.join(' ')}`,
               step: action.step ?? 'run' };
    }
    case 'bind-ns':
      return { op: 'bind-ns', source: nsProcPath(pid, action.kind, true), target: action.file, create: true,
               step: action.step ?? `persist ${action.kind}` };
  }
}

const PR_SET_NO_NEW_PRIVS = 38;

/** The plan's one seccomp filter, if a step brought one. */
function seccompOp(phased: readonly PhasedOp[]): Extract<ChildOp, { op: 'seccomp' }> | undefined {
  const filters = phased.filter((o) => o.op === 'seccomp');
  if (filters.length > 1) throw usageError('only one seccomp filter per spawn');
  return filters[0] ? (stripPhase(filters[0]) as Extract<ChildOp, { op: 'seccomp' }>) : undefined;
}

/**
 * seccomp(2) installs a filter only for a task with no_new_privs or CAP_SYS_ADMIN in its user
 * namespace (EACCES otherwise): a filter must not be able to fool a setuid program it execs.
 * With no_new_privs the filter goes last, right before exec, so that it constrains the
 * program and none of the exec stage's own steps. ('cap-sys-admin' filters go before the
 * identity phase instead, while the capabilities are still held, as runc does without
 * noNewPrivileges; every later step then runs under the filter.)
 * @throws NsError EUSAGE if nothing in the plan sets no_new_privs before the filter.
 */
function filterAfterNoNewPrivs(ops: readonly ChildOp[], filter: ChildOp): ChildOp {
  const nnp = ops.some((o) => o.op === 'prctl' && o.option === PR_SET_NO_NEW_PRIVS && o.args?.[0] === 1);
  if (!nnp) {
    throw usageError(`${filter.step ?? 'seccomp'}: the filter needs no_new_privs (PR_SET_NO_NEW_PRIVS) set before it, or requires: 'cap-sys-admin'`);
  }
  return filter;
}

function stripPhase(op: PhasedOp): ChildOp {
  const { phase: _phase, ...rest } = op;
  return rest as ChildOp;
}
