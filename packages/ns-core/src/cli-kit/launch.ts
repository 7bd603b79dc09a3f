/**
 * How every nstools CLI starts its program: one launch path and one signal policy. A CLI
 * parses and plans, then calls launch() with the program, the spawn options and the policy of
 * the util-linux tool it stands for. The process then becomes the exec stage (execInPlace):
 * without a fork the program keeps this pid, with one a few KiB of C wait for it; Node leaves.
 * A supervised plan (ns-cgroup's group to remove) leaves its supervisor, C too, with this pid.
 * Only a plan with a step that must run JavaScript while the child waits (today ns-run's
 * runner: ns-container's cgroup and loopback steps) keeps Node as the waiting parent, with
 * the same policy applied by the handlers below.
 */
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { basename } from 'node:path';
import { execInPlace } from '../exec/in-place';
import { spawn, exitCodeOf, type ExitStatus, type NsChild } from '../exec/spawn';
import type { ForkPolicy, InPlaceOptions, SpawnOptions } from '../exec/plan';
import type { NamespaceKind } from '../kinds';
import { currentCommand } from './main';

/**
 * How the launcher treats signals sent to it, so that it acts as util-linux's process would:
 * - 'program': util-linux execs the program in place of itself (unshare without --fork,
 *   nsenter without a fork), so every signal sent to the launcher is the program's.
 * - 'fork': unshare --fork; SIGINT and SIGTERM are ignored (2.36+), others act by default.
 * - 'fork-forward': unshare --fork --forward-signals (2.42): SIGINT/SIGTERM are passed on.
 * - 'fork-default': nsenter's forking parent handles nothing: every signal acts by default
 *   (its fork is planned by the caller, as nsenter -p forks only to enter the pid namespace).
 */
export type SignalPolicy = 'program' | 'fork' | 'fork-forward' | 'fork-default';

export interface LaunchOptions {
  readonly signals: SignalPolicy;
  /** Names the tool in errors the exec stage prints (default: the command runCli runs). */
  readonly programName?: string;
  /** Exit statuses when the program cannot start (default: those of the command runCli runs). */
  readonly exitCodes?: { readonly failure: number; readonly cannotExecute: number; readonly notFound: number };
  /** Signals the launcher's caller ignored (nohup): they stay ignored in the program. */
  readonly ignoreSignals?: readonly NodeJS.Signals[];
  /** bubblewrap's --info-fd and --json-status-fd, written by the exec stage. */
  readonly infoFd?: number;
  readonly statusFd?: number;
  /** Namespace ids known before the start (ns-enter's targets), for those the stage cannot stat. */
  readonly knownNamespaceIds?: Partial<Record<NamespaceKind, number>>;
}

/** The program to run when none is given: `$SHELL` (else /bin/sh) as a login shell, as unshare(1) and nsenter(1) do. */
export function defaultProgram(args: readonly string[]): { argv: string[]; argv0?: string } {
  if (args.length) return { argv: [...args] };
  const shell = process.env['SHELL'] || '/bin/sh';
  return { argv: [shell], argv0: `-${basename(shell)}` };
}

const FORK_POLICIES: Record<SignalPolicy, boolean | ForkPolicy | undefined> = {
  'program': undefined,
  'fork': true,
  'fork-forward': { forward: ['SIGINT', 'SIGTERM'] },
  'fork-default': undefined,
};

/** Whether a step must run JavaScript while the child waits: a parent action with no data form. */
function needsJavaScript(options: SpawnOptions): boolean {
  return (options.steps ?? []).some((s) => (s.parent ?? []).some((a) => a.action === 'call' && !a.data));
}

/**
 * Runs the program (none: the login shell of defaultProgram) under the policy. Returns never:
 * the process becomes the program, or ends the way the program ended.
 * @throws NsError if the program could not be started (nothing is left behind then).
 */
export async function launch(argv: readonly string[], spawnOptions: SpawnOptions, options: LaunchOptions): Promise<never> {
  const program = defaultProgram(argv);
  if (needsJavaScript(spawnOptions)) return launchAndWait(program, spawnOptions, options);
  const fork = FORK_POLICIES[options.signals];
  const programName = options.programName ?? currentCommand?.prog;
  const exitCodes = options.exitCodes ?? currentCommand?.exits;
  const inPlace: InPlaceOptions = {
    ...spawnOptions,
    ...(program.argv0 !== undefined ? { argv0: program.argv0 } : {}),
    ...(programName !== undefined ? { programName } : {}),
    ...(exitCodes ? { exitCodes: { failure: exitCodes.failure, cannotExecute: exitCodes.cannotExecute, notFound: exitCodes.notFound } } : {}),
    ...(options.ignoreSignals?.length ? { ignoreSignals: options.ignoreSignals } : {}),
    ...(options.infoFd !== undefined ? { infoFd: options.infoFd } : {}),
    ...(options.statusFd !== undefined ? { statusFd: options.statusFd } : {}),
    ...(options.knownNamespaceIds ? { knownNamespaceIds: options.knownNamespaceIds } : {}),
    ...(fork !== undefined ? { fork } : {}),
  };
  return execInPlace(program.argv, inPlace);
}

/**
 * Everything a process sent a signal by kill(1) would act on, except what cannot be caught
 * (SIGKILL, SIGSTOP), what the launcher needs itself (SIGCHLD), the synchronous faults
 * (SIGSEGV, SIGBUS, SIGFPE, SIGILL: Node must not survive its own), and job control stops,
 * which the terminal sends to the whole process group anyway.
 */
const PROGRAM_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT', 'SIGALRM', 'SIGPIPE',
  'SIGVTALRM', 'SIGPROF', 'SIGXCPU', 'SIGXFSZ', 'SIGURG', 'SIGIO', 'SIGPWR',
];

/**
 * Signals whose disposition Node changes from the default at start-up: SIGUSR1 starts the
 * inspector (a debugger listening on 127.0.0.1:9229), SIGPIPE and SIGXFSZ are ignored.
 * util-linux's waiting parent dies of them; so must we, or a signal opens a debugger in a
 * root-owned launcher.
 */
const NODE_DISPOSITIONS: readonly NodeJS.Signals[] = ['SIGUSR1', 'SIGPIPE', 'SIGXFSZ'];

/**
 * Signals a terminal sends to its whole foreground process group (termios(3): ^C, ^\\, and a
 * resize). The program shares our process group, so when we are in the foreground it got them
 * from the terminal already: passing them on would deliver a ^C twice. util-linux's program,
 * having replaced unshare, gets it once.
 */
const TERMINAL_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGQUIT', 'SIGWINCH'];

/** Whether our process group is the foreground one of our controlling terminal (proc(5): tty_nr, tpgid). */
function inTerminalForeground(): boolean {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const [, , pgrp, , ttyNr, tpgid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  return ttyNr !== 0 && tpgid === pgrp;
}

/**
 * Restores the default action of `sig` and sends it to ourselves. libuv puts SIG_DFL back
 * when the last listener of a signal goes (uv__signal_unregister_handler), which is the only
 * way to undo Node's own dispositions without native code.
 */
function dieOf(sig: NodeJS.Signals): void {
  const noop = () => undefined;
  process.on(sig, noop);
  process.removeAllListeners(sig);
  process.kill(process.pid, sig);
}

/** The launcher's own handlers for a policy, installed before the spawn so nothing is missed. */
function installPolicy(policy: SignalPolicy, ignored: readonly NodeJS.Signals[]) {
  const handlers = new Map<NodeJS.Signals, () => void>();
  let child: NsChild | undefined;
  const pending: NodeJS.Signals[] = [];
  const toChild = (sig: NodeJS.Signals) => {
    if (child) child.kill(sig);
    else pending.push(sig);
  };
  if (policy !== 'program') {
    // A waiting util-linux parent keeps ignoring what its caller ignored (nohup's SIGHUP).
    for (const sig of ignored) if (sig !== 'SIGCHLD') handlers.set(sig, () => undefined);
    for (const sig of NODE_DISPOSITIONS) if (!ignored.includes(sig)) handlers.set(sig, () => dieOf(sig));
  }
  if (policy === 'program') {
    for (const sig of PROGRAM_SIGNALS) {
      handlers.set(sig, TERMINAL_SIGNALS.includes(sig) ? () => {
        if (!inTerminalForeground()) toChild(sig); // else the terminal told the program itself
      } : () => toChild(sig));
    }
  } else if (policy === 'fork') {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) if (!handlers.has(sig)) handlers.set(sig, () => undefined);
  } else if (policy === 'fork-forward') {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) handlers.set(sig, () => toChild(sig));
  }
  for (const [sig, h] of handlers) process.on(sig, h);
  return {
    attach(c: NsChild) {
      child = c;
      for (const sig of pending.splice(0)) c.kill(sig);
    },
    dispose() {
      for (const [sig, h] of handlers) process.off(sig, h);
    },
  };
}

/** The launch for a plan that needs JavaScript at the sync point: Node waits, with the same policy. */
async function launchAndWait(program: { argv: string[]; argv0?: string }, spawnOptions: SpawnOptions, options: LaunchOptions): Promise<never> {
  const signals = installPolicy(options.signals, options.ignoreSignals ?? []);
  let status: ExitStatus;
  try {
    const child = await spawn(program.argv, {
      ...spawnOptions,
      ...(program.argv0 !== undefined ? { argv0: program.argv0 } : {}),
      ...(options.ignoreSignals?.length ? { ignoreSignals: options.ignoreSignals } : {}),
    });
    signals.attach(child);
    status = await child.exited;
  } finally {
    signals.dispose();
  }
  return exitLike(status);
}

/**
 * Ends the launcher the way the program ended: the same code, or death by the same signal, so a
 * shell or supervisor sees the wait status (and core-dump message) util-linux's exec'd program
 * would give. A listener added and removed hands a signal Node manages (or ignores, as SIGPIPE)
 * back to its default action; kill(2) of a fault signal kills Node like any other.
 */
export function exitLike(status: ExitStatus): never {
  if (status.signal) {
    const sig = status.signal;
    if (sig !== 'SIGKILL' && sig !== 'SIGSTOP') {
      process.on(sig, () => undefined); // SIGKILL/SIGSTOP take no listener and need no restoring
      process.removeAllListeners(sig);
    }
    try {
      process.kill(process.pid, sig);
    } catch {
      // a signal this platform lacks: the numeric status below
    }
    process.exit(128 + (constants.signals[sig] ?? 0));
  }
  process.exit(exitCodeOf(status));
}

/**
 * Signals the launcher's caller had ignored (nohup, `trap '' INT`). Node resets them to the
 * default at start-up, before any JavaScript runs, so the bin shim reads SigIgn from
 * /proc/self/status first and passes it in NSTOOLS_SIGIGN; util-linux's program keeps them
 * across exec, and so should ours. The variable is removed so the program's environment is
 * the caller's.
 */
export function inheritedIgnoredSignals(env: NodeJS.ProcessEnv = process.env): NodeJS.Signals[] {
  const hex = env['NSTOOLS_SIGIGN'];
  delete env['NSTOOLS_SIGIGN'];
  if (!hex || !/^[0-9a-fA-F]{1,16}$/.test(hex)) return [];
  const mask = BigInt(`0x${hex}`);
  return (Object.entries(constants.signals) as [NodeJS.Signals, number][])
    .filter(([name, n]) => n < 65 && name !== 'SIGKILL' && name !== 'SIGSTOP' && ((mask >> BigInt(n - 1)) & 1n) === 1n)
    .map(([name]) => name);
}
