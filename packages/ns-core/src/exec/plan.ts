/**
 * From what a caller asks for (namespaces to create or join, setup steps contributed by the
 * per-kind packages, stdio, environment) to the ordered ops the exec stage runs. Pure: no fd
 * is opened and no syscall made here, so plans are tested without privileges.
 */
import { constants } from 'node:os';
import { usageError } from '../errors';
import { kindInfo, kindsToString, KIND_NAMES, nsProcPath, type NamespaceKind } from '../kinds';
import type { Namespace } from '../namespace';
import type { ChildOp, ExecPlan } from './ops';

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

export type ParentAction =
  /** Write /proc/PID/<file> (uid_map, gid_map, setgroups, timens_offsets) in one write. */
  | { readonly action: 'write-proc'; readonly file: string; readonly data: string; readonly step?: string }
  /** Run a helper; the string '{pid}' in argv is replaced. Only newuidmap/newgidmap use this. */
  | { readonly action: 'run'; readonly argv: readonly string[]; readonly step?: string }
  /** Anything else (move a link into the child's netns, join a cgroup). */
  | { readonly action: 'call'; readonly step: string; readonly run: (ctx: ParentContext) => void | Promise<void> };

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
}

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
export function joinOps(join: readonly JoinTarget[], programStaysOutsidePid = false): ChildOp[] {
  const handles = join.filter((j): j is Namespace => !('pidfd' in j));
  const pidfds = join.filter((j): j is { pidfd: number; kinds: readonly NamespaceKind[] } => 'pidfd' in j);
  const ops: ChildOp[] = [];
  const late: ChildOp[] = [];
  // setns(pidfd, flags) switches every kind at once and atomically (setns(2), Linux 5.8).
  const joinsTime = join.some((j) => ('pidfd' in j ? j.kinds.includes('time') : j.kind === 'time'));
  // The fork a time join needs would put the program inside a joined pid namespace; when it must
  // stay outside (nsenter -F), the pid join waits until after that fork, so only children enter.
  const deferPid = joinsTime && programStaysOutsidePid;
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
  if (late.length) {
    // timens_install refuses a task that shares its memory (EUSERS), as the stage's child
    // shares Node's: a copy-on-write grandchild joins the time namespace (after user, whose
    // capabilities it needs) and goes on; the child stays behind and relays.
    ops.push({ op: 'fork', init: false, forward: RELAYED_SIGNALS, privateMemory: true, step: 'join time' }, ...late);
  }
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
}

/**
 * Validates and orders everything into an ExecPlan. `fdMap` (child fd -> caller fd) comes from
 * the caller's stdio resolution.
 * @throws NsError EUSAGE for conflicting or invalid requests.
 */
export function compileSpawn(argv: readonly string[], options: SpawnOptions, fdMap: ReadonlyMap<number, number>): CompiledSpawn {
  if (argv.length === 0 || argv[0] === '') throw usageError('no program given');
  const steps = options.steps ?? [];
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
  if (steps.some((s) => s.createInChild)) {
    for (const k of created) unshared.add(k);
    created.clear();
  }
  for (const k of unshared) created.delete(k);
  const joined = new Set<NamespaceKind>();
  for (const j of options.join ?? []) {
    for (const k of 'pidfd' in j ? j.kinds : [j.kind]) {
      if (created.has(k) || unshared.has(k)) throw usageError(`cannot both create and join a ${k} namespace`);
      joined.add(k);
    }
  }

  const ops: ChildOp[] = [];
  const killWithParent = options.killWithParent || steps.find((s) => s.killWithParent)?.killWithParent;
  const deathSignal = killWithParent ? constants.signals[killWithParent] : undefined;
  if (killWithParent && !deathSignal) throw usageError(`unknown signal ${killWithParent}`);
  if (deathSignal) ops.push({ op: 'prctl', option: PR_SET_PDEATHSIG, args: [deathSignal], step: 'kill with parent' });
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
  const phased = steps.flatMap((s) => s.child ?? []);
  for (const op of phased) if (op.phase === 'pre-namespaces' && op.op !== 'seccomp') ops.push(stripPhase(op));
  // A step that wants the program inside a joined pid namespace asks for a relay fork.
  ops.push(...joinOps(options.join ?? [], !phased.some((o) => o.op === 'fork' && !o.init)));
  if (unshared.size) ops.push({ op: 'unshare', kinds: [...unshared], step: `unshare ${kindsToString(unshared)}` });

  // A round trip to the parent only when it has work to do while the child waits.
  const parentActions = steps.flatMap((s) => s.parent ?? []);
  const hasSync = parentActions.length > 0;
  if (hasSync) ops.push({ op: 'sync', step: 'wait for parent' });

  // The namespaces are final once joins, unshares and the 'namespaces' phase are done: report
  // their ids now, while /proc is still the caller's (a pivot_root may hide it later).
  const reportAfter = 'namespaces';
  // A time join already left the program one fork down, inside every joined namespace: a
  // relay fork asked for by a step (to enter a pid namespace) would only add a level.
  const forkedByJoin = ops.some((o) => o.op === 'fork');
  const filter = seccompOp(phased);
  for (const phase of PHASES) {
    if (phase === 'pre-namespaces') continue;
    if (phase === 'identity' && filter?.requires === 'cap-sys-admin') ops.push(filter);
    for (const op of phased) {
      if (op.phase !== phase || op.op === 'seccomp' || (forkedByJoin && op.op === 'fork' && !op.init)) continue;
      ops.push(stripPhase(op));
    }
    if (phase === reportAfter) ops.push({ op: 'report-ns', paths: REPORTED_NS_PATHS, step: 'report namespaces' });
    if (phase === 'fork' && deathSignal && phased.some((o) => o.op === 'fork')) {
      // PDEATHSIG is per process: the program past a fork needs its own.
      ops.push({ op: 'prctl', option: PR_SET_PDEATHSIG, args: [deathSignal], step: 'kill with parent' });
    }
  }
  if (options.cwd !== undefined) ops.push({ op: 'chdir', path: options.cwd, step: 'working directory' });
  if (filter?.requires === 'no-new-privs') ops.push(filterAfterNoNewPrivs(ops, filter));

  const env = options.env === undefined ? 'inherit' : envToList(options.env);
  const progArgv = options.argv0 !== undefined ? [options.argv0, ...argv.slice(1)] : [...argv];
  ops.push({ op: 'exec', paths: programCandidates(argv[0]!, env), argv: progArgv, env, step: 'exec' });

  const fdFloor = Math.max(2, ...fdMap.keys()) + 1;
  return {
    plan: { cloneKinds: KIND_NAMES.filter((k) => created.has(k)), fdFloor, ops },
    parentActions,
    created: KIND_NAMES.filter((k) => created.has(k)),
    unsharedInChild: KIND_NAMES.filter((k) => unshared.has(k)),
    hasSync,
  };
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
