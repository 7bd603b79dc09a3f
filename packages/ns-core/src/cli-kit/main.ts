/**
 * The frame of every nstools CLI: parse with the command's table, answer --help and --version,
 * run the handler, and report failures as one line with the tool's exit codes. Libraries
 * never print or exit; only this module and launch.ts do.
 */
import { encodeText } from '../bytes';
import { NsError } from '../errors';
import { getopt, GetoptError, type ParsedArgs } from './getopt';
import { renderHelp, renderVersion } from './help';
import type { CommandSpec } from './table';

/** Exit statuses a family of tools uses. */
export interface ExitCodes {
  /** A command line getopt or the tool refused. */
  readonly usage: number;
  /** Anything that failed before the program ran. */
  readonly failure: number;
  /** The program exists but could not be executed (EACCES, ENOEXEC...). */
  readonly cannotExecute: number;
  readonly notFound: number;
}

/** util-linux: 1 for usage and setup errors, 126/127 when exec fails. */
export const UTIL_LINUX_EXITS: ExitCodes = { usage: 1, failure: 1, cannotExecute: 126, notFound: 127 };
/** docker run: 125 for the runner's own errors, 126/127 when the program cannot run. */
export const DOCKER_EXITS: ExitCodes = { usage: 125, failure: 125, cannotExecute: 126, notFound: 127 };

/** Exit status a CLI uses for an error. */
export function exitCodeForError(err: unknown, exits: ExitCodes = UTIL_LINUX_EXITS): number {
  if (err instanceof NsError && err.syscall === 'execve') {
    return err.code === 'ENOENT' ? exits.notFound : exits.cannotExecute;
  }
  if (err instanceof NsError && err.code === 'EUSAGE') return exits.usage;
  return exits.failure;
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

/** Writes text to stderr as the bytes it stands for (escaped non-UTF-8 bytes restored). */
export function writeStderr(text: string): void {
  process.stderr.write(encodeText(text));
}

/**
 * Prints the error and exits with the matching status. A command-line error also gets
 * util-linux's "Try '--help'" line, as errtryhelp() prints after getopt's own message.
 */
export function failAndExit(prog: string, err: unknown, exits: ExitCodes = UTIL_LINUX_EXITS): never {
  writeStderr(`${formatError(prog, err)}\n${err instanceof GetoptError ? `Try '${prog} --help' for more information.\n` : ''}`);
  process.exit(exitCodeForError(err, exits));
}

export interface CliOptions {
  readonly exits?: ExitCodes;
}

/** The command being run and its exit codes, for the launch path's messages (launch.ts). */
export let currentCommand: { readonly prog: string; readonly exits: ExitCodes } | undefined;

/**
 * Parses argv with the command's table and runs the handler; --help and --version are
 * answered here. Never returns normally from a failure: it prints one line and exits.
 */
export async function runCli(command: CommandSpec, argv: readonly string[],
                             handler: (args: ParsedArgs) => void | Promise<void>, options: CliOptions = {}): Promise<void> {
  const exits = options.exits ?? UTIL_LINUX_EXITS;
  let args: ParsedArgs;
  try {
    args = getopt(argv, command);
  } catch (e) {
    failAndExit(command.prog, e, exits);
  }
  const last = args.events[args.events.length - 1];
  if (last?.spec.immediate && last.spec.long === 'help') {
    process.stdout.write(renderHelp(command));
    process.exit(0);
  }
  if (last?.spec.immediate && last.spec.long === 'version') {
    process.stdout.write(renderVersion(command.prog.split(' ')[0]!));
    process.exit(0);
  }
  currentCommand = { prog: command.prog, exits };
  try {
    await handler(args);
  } catch (e) {
    failAndExit(command.prog, e, exits);
  }
}

/**
 * A CLI with subcommands (ns-run run|ps|exec...): the first word names the command, whose own
 * table parses the rest. `fallback` runs when there is no first word or it is an option
 * (`ns-run -- sh`); any other word must name a command, so a verb this tool lacks is refused
 * rather than run as a program.
 */
export async function runCommands(root: CommandSpec, argv: readonly string[],
                                  handlers: Readonly<Record<string, (args: ParsedArgs) => void | Promise<void>>>,
                                  options: CliOptions & { readonly fallback?: string } = {}): Promise<void> {
  const exits = options.exits ?? UTIL_LINUX_EXITS;
  const [first, ...rest] = argv;
  const sub = root.commands?.find((c) => c.prog === `${root.prog} ${first}`);
  if (sub && handlers[first!]) return runCli(sub, rest, handlers[first!]!, options);
  if (first === '--help' || first === '-h') {
    process.stdout.write(renderHelp(root));
    process.exit(0);
  }
  if (first === '--version' || first === '-V') {
    process.stdout.write(renderVersion(root.prog));
    process.exit(0);
  }
  const fallback = options.fallback !== undefined ? root.commands?.find((c) => c.prog === `${root.prog} ${options.fallback}`) : undefined;
  if (fallback && handlers[options.fallback!] && (first === undefined || first.startsWith('-'))) {
    return runCli({ ...fallback, prog: root.prog }, argv, handlers[options.fallback!]!, options);
  }
  if (first === undefined) failAndExit(root.prog, new GetoptError('no command given'), exits);
  failAndExit(root.prog, new GetoptError(`unknown command '${first}'${suggestion(root, first)}`), exits);
}

/**
 * " (did you mean 'run'?)" for a mistyped command, from yargs' command recommender. yargs is
 * loaded only here, on the error path: the commands themselves parse with getopt, so a
 * correct command line never pays for it. (`require('yargs')` is its CommonJS entry; the
 * 'yargs/yargs' subpath is a file Node 26 reads as an ES module.)
 */
function suggestion(root: CommandSpec, word: string): string {
  const names = (root.commands ?? []).map((c) => c.prog.slice(root.prog.length + 1));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const yargs = require('yargs') as (args: string[]) => YargsLike;
  let failure = '';
  let parser = yargs([word]).scriptName(root.prog).help(false).version(false).strictCommands().recommendCommands()
    .parserConfiguration({ 'parse-numbers': false, 'parse-positional-numbers': false })
    .exitProcess(false).fail((msg: string | null) => { failure = msg ?? ''; });
  for (const name of names) parser = parser.command(name, '');
  parser.parse();
  const recommended = /Did you mean (\S+?)\?/.exec(failure)?.[1];
  return recommended && names.includes(recommended) ? ` (did you mean '${recommended}'?)` : '';
}

/** The part of yargs' builder this module uses (its full typings are a dev dependency). */
interface YargsLike {
  scriptName(name: string): YargsLike;
  help(enable: boolean): YargsLike;
  version(enable: boolean): YargsLike;
  strictCommands(): YargsLike;
  recommendCommands(): YargsLike;
  parserConfiguration(config: Record<string, boolean>): YargsLike;
  exitProcess(enable: boolean): YargsLike;
  fail(fn: (msg: string | null) => void): YargsLike;
  command(name: string, describe: string): YargsLike;
  parse(): unknown;
}
