/**
 * What every nstools CLI shares: util-linux exit codes, one-line error messages, running a
 * program to completion with signals passed on, and re-raising the program's fatal signal.
 * Libraries never print or exit; only these helpers, called from cli.ts files, do.
 */
import { constants } from 'node:os';
import { basename } from 'node:path';
import { NsError, usageError } from './errors';
import { spawn, exitCodeOf, type ExitStatus, type NsChild } from './exec/spawn';
import type { SpawnOptions } from './exec/plan';

/** util-linux's exit codes: 1 for usage and setup errors, 126/127 when exec fails. */
export const EXIT = { FAILURE: 1, CANNOT_EXECUTE: 126, NOT_FOUND: 127 } as const;

/** Exit status a CLI uses for an error. */
export function exitCodeForError(err: unknown): number {
  if (err instanceof NsError && err.syscall === 'execve') {
    return err.code === 'ENOENT' ? EXIT.NOT_FOUND : EXIT.CANNOT_EXECUTE;
  }
  return EXIT.FAILURE;
}

/** "ns-unshare: mount /proc failed: EPERM (...) (hint: ...)", one line; no stack trace. */
export function formatError(prog: string, err: unknown): string {
  if (err instanceof NsError) {
    if (err.syscall === 'execve') {
      // util-linux words it as "failed to execute sh: No such file or directory".
      return `${prog}: failed to execute ${err.path ?? 'program'}: ${err.message.replace(/^.*failed: /, '')}`;
    }
    // One line, as util-linux reports errors: scripts reading the first line of stderr keep the hint.
    return `${prog}: ${err.message}${err.hint && err.code !== 'EUSAGE' ? ` (hint: ${err.hint})` : ''}`;
  }
  if (err instanceof Error) return `${prog}: ${err.message}`;
  return `${prog}: ${String(err)}`;
}

/** Prints the error and exits with the matching status. */
export function failAndExit(prog: string, err: unknown): never {
  process.stderr.write(`${formatError(prog, err)}\n`);
  process.exit(exitCodeForError(err));
}

/** The program to run when none is given: $SHELL, else /bin/sh (as unshare(1) does). */
export function defaultProgram(args: readonly string[]): string[] {
  if (args.length) return [...args];
  return [process.env['SHELL'] || '/bin/sh'];
}

/**
 * The program and the argv[0] it sees: the arguments, or with none $SHELL (else /bin/sh) as a
 * login shell, argv[0] "-" and its basename ("-bash"), as util-linux's exec_shell() runs it.
 */
export function programOrLoginShell(args: readonly string[]): { readonly argv: string[]; readonly argv0?: string } {
  if (args.length) return { argv: [...args] };
  const shell = process.env['SHELL'] || '/bin/sh';
  return { argv: [shell], argv0: `-${basename(shell)}` };
}

const FORWARDED: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT'];

export interface RunOptions {
  /**
   * 'forward': pass the launcher's signals to the program, as if the program had replaced it
   * (util-linux without --fork execs in place). 'ignore': SIGINT/SIGTERM do not stop the launcher
   * (unshare --fork since 2.36); the terminal delivers them to the program's process group anyway.
   * A list: forward exactly those (unshare --forward-signals: SIGINT and SIGTERM); any other
   * signal keeps its default action on the launcher.
   */
  readonly signals?: 'forward' | 'ignore' | readonly NodeJS.Signals[];
  /** Called once the program runs (for --info-fd, status fds). */
  readonly onStart?: (child: NsChild) => void;
  readonly onExit?: (child: NsChild, status: ExitStatus) => void;
}

/** Spawns, waits, and resolves with the status the CLI should end with. */
export async function runToCompletion(argv: readonly string[], options: SpawnOptions, run: RunOptions = {}): Promise<ExitStatus> {
  const mode: RunOptions['signals'] = run.signals ?? 'forward';
  let child: NsChild | undefined;
  const pending: NodeJS.Signals[] = [];
  const handlers = new Map<NodeJS.Signals, () => void>();
  const handled = Array.isArray(mode) ? mode : mode === 'ignore' ? ['SIGINT', 'SIGTERM'] : FORWARDED;
  for (const sig of handled) {
    const h = () => {
      if (mode === 'ignore') return;
      if (child) child.kill(sig);
      else pending.push(sig);
    };
    handlers.set(sig, h);
    process.on(sig, h);
  }
  try {
    child = await spawn(argv, options);
    for (const sig of pending) child.kill(sig);
    run.onStart?.(child);
    const status = await child.exited;
    run.onExit?.(child, status);
    return status;
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
  }
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
 * Shared yargs settings: util-linux-like parsing that stops at the program's name.
 * `booleanNegation: false` for tools with real --no-X options (nsenter --no-fork).
 */
export function yargsBase(prog: string, argv: readonly string[], settings: { booleanNegation?: boolean } = {}) {
  // Loaded here, not at the top, so library users never pay for yargs.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const yargs = require('yargs/yargs') as typeof import('yargs/yargs');
  const words = [...argv];
  const instance = yargs(words);
  return instance
    .scriptName(prog)
    // No dot notation: getopt has none, and yargs would turn `-T../x` or `--tree.a=1` into objects.
    .parserConfiguration({ 'halt-at-non-option': true, 'populate--': true, 'camel-case-expansion': true,
                           'strip-dashed': true, 'short-option-groups': true, 'unknown-options-as-args': false,
                           'dot-notation': false, 'boolean-negation': settings.booleanNegation ?? true })
    .strict()
    .check((parsed) => {
      // getOptions() is yargs API its typings leave out: the options as declared, read at parse time.
      checkGetoptForms(words, parsed, (instance as unknown as { getOptions(): GetoptOptions }).getOptions());
      return true;
    })
    .help('help').alias('help', 'h')
    .version('version', 'display version', `${prog} from nstools ${VERSION}`).alias('version', 'V')
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) failAndExit(prog, err);
      process.stderr.write(`${prog}: ${msg}\nTry '${prog} --help' for more information.\n`);
      process.exit(EXIT.FAILURE);
    });
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * What getopt_long(3) refuses and yargs would quietly take: an argument to a flag
 * (`--keep-caps=1` reads as false in yargs, so the flag was silently off), and `--no-X` for an
 * option with a value (yargs' boolean negation gives the option the value false).
 * @throws NsError EUSAGE naming the option as typed.
 */
interface GetoptOptions {
  boolean: string[];
  string: string[];
  number: string[];
}

function checkGetoptForms(words: readonly string[], parsed: Record<string, unknown>, options: GetoptOptions): void {
  const flags = new Set(options.boolean);
  const valued = [...options.string, ...options.number];
  for (const key of valued) {
    // 'strip-dashed' leaves only the camelCase key of a dashed option.
    const value = parsed[key] ?? parsed[key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())];
    if (typeof value === 'boolean' || (Array.isArray(value) && value.some((v) => typeof v === 'boolean'))) {
      throw usageError(`unrecognized option '--no-${key}'`);
    }
  }
  // Our words end where the program's begin (yargs put those under '--').
  const program = (parsed['--'] as unknown[] | undefined)?.length ?? 0;
  for (const word of words.slice(0, words.length - program)) {
    if (word === '--') break;
    const m = /^--([^=]+)=/.exec(word);
    if (m && flags.has(kebab(m[1]!))) throw usageError(`option '--${m[1]}' doesn't allow an argument`);
  }
}

/** Positional program args from a halt-at-non-option parse ('--' included). */
export function programArgs(parsed: { _: (string | number)[]; '--'?: (string | number)[] }): string[] {
  return [...parsed._, ...(parsed['--'] ?? [])].map(String);
}

export const VERSION = '0.1.0';

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
