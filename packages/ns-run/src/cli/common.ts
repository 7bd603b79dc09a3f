/** Parsing, signals and reporting shared by ns-unshare, ns-enter and ns-run. */
import { closeSync, fstatSync, readFileSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import {
  EXIT, formatError, normalizeGetopt, usageError, type GetoptSpec, type InPlaceOptions, type NamespaceKind, type NsChild,
  type RunOptions, type yargsBase,
} from 'ns-core';

/** yargs option declarations (typed through ns-core, which owns the yargs dependency). */
export type OptionTable = Parameters<ReturnType<typeof yargsBase>['options']>[0];

/**
 * What ns-unshare and ns-enter hand execInPlace() besides their plan: the fds they were started
 * with (the program's, as util-linux's program keeps them), the signals their caller ignored,
 * --info-fd/--json-status-fd (written by the stage), their name and util-linux's exit codes.
 */
export function launchInPlace(prog: string, inherited: Readonly<Record<number, number>>, planned: Readonly<Record<number, number>> | undefined,
                              ignoreSignals: readonly NodeJS.Signals[], infoFd: number | undefined, statusFd: number | undefined): InPlaceOptions {
  return {
    fds: { ...inherited, ...planned }, ignoreSignals, programName: prog,
    exitCodes: { failure: EXIT.FAILURE, cannotExecute: EXIT.CANNOT_EXECUTE, notFound: EXIT.NOT_FOUND },
    ...(infoFd !== undefined ? { infoFd } : {}), ...(statusFd !== undefined ? { statusFd } : {}),
  };
}

/** util-linux signame_to_signum: case-insensitive, optional SIG prefix. */
export function parseSignalName(value: string): NodeJS.Signals {
  const upper = value.toUpperCase();
  const name = (upper.startsWith('SIG') ? upper : `SIG${upper}`) as NodeJS.Signals;
  if (constants.signals[name] === undefined) throw usageError(`unknown signal: ${value}`);
  return name;
}

/** Seconds, negative and fractional allowed (util-linux 2.40). */
export function parseOffset(option: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw usageError(`${option}: failed to parse offset: '${value}'`);
  return n;
}

/** A number stays a number; a name is resolved later by the library against /etc. */
export function parseIdOrName(value: string): number | string {
  return /^\d+$/.test(value) ? Number(value) : value;
}

export function parseFd(option: string, value: string): number {
  const fd = Number(value);
  if (!/^\d+$/.test(value) || fd > 1 << 20) throw usageError(`${option}: invalid file descriptor '${value}'`);
  try {
    fstatSync(fd);
  } catch {
    throw usageError(`${option}: file descriptor ${fd} is not open`);
  }
  return fd;
}

function childInfo(child: NsChild, known: Partial<Record<NamespaceKind, number>>): Record<string, number> {
  const info: Record<string, number> = { 'child-pid': child.programPid ?? child.pid };
  for (const [kind, id] of Object.entries({ ...known, ...child.namespaces })) info[`${kind}-namespace`] = id;
  return info;
}

/**
 * bubblewrap's machine interfaces: --info-fd gets one JSON object once the program runs (then
 * is closed); --json-status-fd gets that object as a line, then {"exit-code": N} at the end.
 * `known`: ids the caller knows already, for kinds the child could not report.
 */
export function statusReporters(infoFd?: number, statusFd?: number,
                                known: Partial<Record<NamespaceKind, number>> = {}): Pick<RunOptions, 'onStart' | 'onExit'> {
  if (infoFd === undefined && statusFd === undefined) return {};
  return {
    onStart: (child) => {
      const info = childInfo(child, known);
      if (infoFd !== undefined) {
        writeSync(infoFd, `${JSON.stringify(info, null, 2)}\n`);
        closeSync(infoFd);
      }
      if (statusFd !== undefined) writeSync(statusFd, `${JSON.stringify(info)}\n`);
    },
    onExit: (_child, status) => {
      if (statusFd === undefined) return;
      const code = status.code ?? 128 + (status.signal ? constants.signals[status.signal] ?? 0 : 0);
      writeSync(statusFd, `${JSON.stringify({ 'exit-code': code })}\n`);
    },
  };
}

/**
 * getopt_long(3) rules that normalizeGetopt leaves to us: a long option may be abbreviated to
 * any unambiguous prefix (`--map-root` is --map-root-user, and scripts do use such forms); a
 * required argument that is missing is an error rather than an empty value; and a required
 * argument is taken whatever it looks like (`-t -5`, `--wd -dir`), so it is attached with '='
 * before yargs, which would read a separate "-5" as an option. Then normalizeGetopt rewrites
 * the words for yargs.
 * @param longNames every long option the tool has, flags included.
 * @throws NsError EUSAGE with getopt's wording.
 */
export function parseGetopt(argv: readonly string[], spec: GetoptSpec, longNames: readonly string[]): string[] {
  const out: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--' || !word.startsWith('-') || word === '-') break; // the program starts here
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      const typed = eq < 0 ? word.slice(2) : word.slice(2, eq);
      const name = resolveLongName(typed, longNames);
      if (spec.required.has(name) && eq < 0) {
        if (i + 1 >= argv.length) throw usageError(`option '--${name}' requires an argument`);
        out.push(`--${name}=${argv[++i]}`);
      } else {
        out.push(`--${name}${eq < 0 ? '' : word.slice(eq)}`);
      }
      continue;
    }
    let cluster = '-';
    for (let j = 1; j < word.length; j++) {
      const letter = word[j]!;
      const long = spec.short[letter];
      if (long && spec.required.has(long)) {
        const attached = word.slice(j + 1);
        if (!attached && i + 1 >= argv.length) throw usageError(`option requires an argument -- '${letter}'`);
        if (cluster !== '-') out.push(cluster);
        cluster = '';
        out.push(`--${long}=${attached || argv[++i]}`);
        break;
      }
      cluster += letter;
      // An unknown letter is left for yargs to name; an optional argument takes the rest.
      if (!long || (spec.optional.has(long) && spec.shortOptional?.has(letter))) {
        cluster += word.slice(j + 1);
        break;
      }
    }
    if (cluster && cluster !== '-') out.push(cluster);
  }
  return normalizeGetopt([...out, ...argv.slice(i)], spec);
}

/** parseGetopt, or util-linux's two-line usage error ("Try '... --help'") and exit 1. */
export function parseGetoptOrExit(prog: string, argv: readonly string[], spec: GetoptSpec, longNames: readonly string[]): string[] {
  try {
    return parseGetopt(argv, spec, longNames);
  } catch (e) {
    process.stderr.write(`${formatError(prog, e)}\nTry '${prog} --help' for more information.\n`);
    process.exit(EXIT.FAILURE);
  }
}

/** An exact long name, or the one long name `typed` is a prefix of (getopt_long's abbreviations). */
function resolveLongName(typed: string, longNames: readonly string[]): string {
  if (longNames.includes(typed) || typed === '') return typed;
  const matches = longNames.filter((n) => n.startsWith(typed));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw usageError(`option '--${typed}' is ambiguous; possibilities: ${matches.map((m) => `'--${m}'`).join(' ')}`);
  }
  return typed; // unknown: yargs names it
}

/**
 * How the launcher treats signals sent to its own pid, so that it acts as util-linux's
 * process would:
 * - 'program': util-linux execs the program in place of itself (unshare without --fork,
 *   nsenter without a fork), so every signal sent to the launcher is the program's.
 * - 'fork': unshare --fork; SIGINT and SIGTERM are blocked (2.36+), others act by default.
 * - 'fork-forward': unshare --fork --forward-signals (2.42): SIGINT/SIGTERM are passed on.
 * - 'fork-default': nsenter's forking parent handles nothing: every signal acts by default.
 */
export type SignalPolicy = 'program' | 'fork' | 'fork-forward' | 'fork-default';

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

/**
 * Signals a terminal sends to its whole foreground process group (termios(3): ^C, ^\\, and a
 * resize). The program shares our process group, so when we are in the foreground it got them
 * from the terminal already: passing them on would deliver a ^C twice (a REPL would act on
 * both). util-linux's program, having replaced unshare, gets it once.
 */
const TERMINAL_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGQUIT', 'SIGWINCH'];

/** Whether our process group is the foreground one of our controlling terminal (proc(5): tty_nr, tpgid). */
function inTerminalForeground(): boolean {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const [, , pgrp, , ttyNr, tpgid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  return ttyNr !== 0 && tpgid === pgrp;
}

export interface LauncherSignals {
  /** runToCompletion's `signals` option, completing the policy. */
  readonly signals: NonNullable<RunOptions['signals']>;
  /** Call from onStart: the running child, for the signals handled here. */
  attach(child: NsChild): void;
  /** Call once the program ended. */
  dispose(): void;
}

/**
 * Installs the policy's own handlers now (before the spawn, so nothing is missed). `ignored`:
 * the signals our caller ignored (nohup's SIGHUP), which Node reset to their defaults; a
 * waiting util-linux parent still ignores them, so must we.
 */
export function launcherSignals(policy: SignalPolicy, ignored: readonly NodeJS.Signals[] = []): LauncherSignals {
  const handlers = new Map<NodeJS.Signals, () => void>();
  let child: NsChild | undefined;
  const pending: NodeJS.Signals[] = [];
  if (policy !== 'program') {
    for (const sig of ignored) if (sig !== 'SIGCHLD') handlers.set(sig, () => undefined);
  }
  if (policy === 'program') {
    for (const sig of TERMINAL_SIGNALS) {
      handlers.set(sig, () => {
        if (inTerminalForeground()) return; // the terminal told the program itself
        if (child) child.kill(sig);
        else pending.push(sig);
      });
    }
  } else {
    for (const sig of NODE_DISPOSITIONS) if (!ignored.includes(sig)) handlers.set(sig, () => dieOf(sig));
  }
  for (const [sig, h] of handlers) process.on(sig, h);
  // An empty list: runToCompletion handles nothing, so every other signal acts by default.
  const signals: NonNullable<RunOptions['signals']> = policy === 'program' ? PROGRAM_SIGNALS.filter((s) => !TERMINAL_SIGNALS.includes(s))
    : policy === 'fork' ? 'ignore' : policy === 'fork-forward' ? ['SIGINT', 'SIGTERM'] : [];
  return {
    signals,
    attach: (c) => {
      child = c;
      for (const sig of pending.splice(0)) c.kill(sig);
    },
    dispose: () => {
      for (const [sig, h] of handlers) process.off(sig, h);
    },
  };
}

