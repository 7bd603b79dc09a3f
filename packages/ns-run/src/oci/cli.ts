/**
 * ns-run-oci: an OCI runtime with runc's command line, as podman (through conmon) and
 * containerd's shim call it. Thin: the operations are ns-container's OciRuntime.
 *
 *   ns-run-oci [--root DIR] [--log FILE] [--log-format text|json] [--systemd-cgroup] COMMAND ...
 *
 * Errors go to stderr (one line) and, with --log, to FILE as runc writes it (json: one object a
 * line with level, msg and time; containerd shows the last line's msg).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { NsError, usageError, writeAll } from 'ns-core';
import { failAndExit, formatError, runCommands, scriptArguments, STANDARD_OPTIONS, type CommandSpec, type ParsedArgs } from 'ns-core/cli';
import { OCI_VERSION, OciRuntime, stateText, type ContainerSpec } from 'ns-container/oci';

const PROG = 'ns-run-oci';

/** What create and run (create + start + wait + delete) take: the same bundle and the same hand-over of the container. */
const CREATE_OPTIONS: CommandSpec['options'] = [
  { long: 'bundle', short: 'b', arg: 'required', metavar: '<dir>', help: 'the bundle (config.json and the root), default .', complete: 'dir' },
  { long: 'pid-file', arg: 'required', metavar: '<file>', help: 'write the container process\'s pid there', complete: 'file' },
  { long: 'console-socket', arg: 'required', metavar: '<path>', help: 'where to send the terminal\'s master (process.terminal)' },
  { long: 'no-pivot', help: 'MS_MOVE the root over / and chroot, rather than pivot_root (a root on ramfs)' },
  ...STANDARD_OPTIONS,
];

export const OCI_COMMAND: CommandSpec = {
  prog: PROG,
  usage: ['[--root <dir>] [--log <file>] [--log-format text|json] [--systemd-cgroup] <command> [<argument>...]'],
  summary: 'An OCI runtime (runtime-spec ' + OCI_VERSION + ') with runc\'s command line, for podman and containerd.',
  options: [...STANDARD_OPTIONS],
  commands: [
    { prog: `${PROG} create`, usage: ['[options] <id>'], summary: 'Create a container from a bundle, its program parked before execve.',
      options: CREATE_OPTIONS },
    { prog: `${PROG} start`, usage: ['<id>'], summary: 'Let a created container\'s program execve.', options: [...STANDARD_OPTIONS] },
    { prog: `${PROG} state`, usage: ['<id>'], summary: 'Print the container\'s state (runtime-spec JSON).', options: [...STANDARD_OPTIONS] },
    { prog: `${PROG} kill`, usage: ['[--all] <id> [<signal>]'], summary: 'Send a signal (default SIGTERM; a number or a name) to the container.',
      options: [{ long: 'all', short: 'a', help: 'every process of the container (its pid namespace)' }, ...STANDARD_OPTIONS] },
    { prog: `${PROG} delete`, usage: ['[--force] <id>'], summary: 'Remove a stopped or created container (--force: a running one, killed first).',
      options: [{ long: 'force', short: 'f', help: 'kill a running container first; a missing one is no error' }, ...STANDARD_OPTIONS] },
    { prog: `${PROG} run`, usage: ['[options] <id>'], summary: 'Create and start a container, wait for it, delete it; exit as its program did.',
      options: CREATE_OPTIONS },
    { prog: `${PROG} exec`, usage: ['[options] <id> [<program> [<argument>...]]'], stopAtOperand: true,
      summary: 'Run another process in a running container (process.json, or the program and options given).',
      options: [
        { long: 'process', short: 'p', arg: 'required', metavar: '<file>', help: 'the process, as config.json\'s "process"', complete: 'file' },
        { long: 'detach', short: 'd', help: 'return once it runs (its pid in --pid-file)' },
        { long: 'pid-file', arg: 'required', metavar: '<file>', help: 'write its pid there', complete: 'file' },
        { long: 'cwd', arg: 'required', metavar: '<dir>', help: 'working directory inside (default /)' },
        { long: 'env', short: 'e', arg: 'required', metavar: '<key>=<value>', help: 'a variable (repeatable)' },
        { long: 'tty', short: 't', help: 'a terminal: its master goes to --console-socket' },
        { long: 'console-socket', arg: 'required', metavar: '<path>', help: 'where to send the terminal\'s master' },
        ...STANDARD_OPTIONS,
      ] },
    { prog: `${PROG} ps`, usage: ['[--format table|json] <id>'], summary: 'List the container\'s processes (host pids).',
      options: [{ long: 'format', short: 'f', arg: 'required', metavar: 'table|json', help: 'json: one array of pids (default table)', complete: ['table', 'json'] },
                ...STANDARD_OPTIONS] },
    { prog: `${PROG} pause`, usage: ['<id>'], summary: 'Freeze every process of a running container (its cgroup\'s freezer).', options: [...STANDARD_OPTIONS] },
    { prog: `${PROG} resume`, usage: ['<id>'], summary: 'Thaw a paused container.', options: [...STANDARD_OPTIONS] },
    { prog: `${PROG} features`, usage: [''], summary: 'Print what this runtime supports (runtime-spec features JSON).', options: [...STANDARD_OPTIONS] },
  ],
};

interface Globals {
  root: string;
  log?: string;
  logFormat: 'text' | 'json';
}

/** The options before the command (runc's global flags), as `--opt value` or `--opt=value`. */
export function parseGlobals(argv: readonly string[]): { globals: Globals; rest: string[] } {
  const globals: Globals = { root: process.geteuid!() === 0 ? '/run/ns-run-oci' : `${process.env['XDG_RUNTIME_DIR'] ?? `/run/user/${process.getuid!()}`}/ns-run-oci`, logFormat: 'text' };
  let i = 0;
  for (; i < argv.length; i++) {
    const word = argv[i]!;
    if (!word.startsWith('--') || word === '--help' || word === '--version') break;
    const [name, inline] = word.includes('=') ? [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)] : [word, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw usageError(`${name}: needs a value`);
      return v;
    };
    if (name === '--root') globals.root = value();
    else if (name === '--log') globals.log = value();
    else if (name === '--log-format') {
      const f = value();
      if (f !== 'text' && f !== 'json') throw usageError(`--log-format: '${f}' is not text or json`);
      globals.logFormat = f;
    } else if (name === '--systemd-cgroup' || name === '--debug') {
      // Accepted: cgroupsPath in the slice:prefix:name form is taken as a cgroupfs path.
    } else if (name === '--criu' || name === '--rootless') value();
    else throw usageError(`unknown global option '${name}'`);
  }
  return { globals, rest: argv.slice(i) };
}

/** An error as runc logs it: json `{"level":"error","msg":...,"time":...}` a line, or text. */
function logError(globals: Globals, message: string): void {
  if (!globals.log) return;
  const time = new Date().toISOString();
  const line = globals.logFormat === 'json' ? JSON.stringify({ level: 'error', msg: message, time })
    : `time="${time}" level=error msg=${JSON.stringify(message)}`;
  try {
    appendFileSync(globals.log, `${line}\n`);
  } catch {
    // The log is a courtesy: stderr has the error too.
  }
}

function oneId(args: ParsedArgs, command: string): string {
  if (args.operands.length !== 1) throw usageError(`${command}: expected one container id, got ${args.operands.length}`);
  return args.operands[0]!;
}

/** A signal as runc takes it: a number, or a name with or without SIG. */
export function parseOciSignal(value: string): number {
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    if (n < 1 || n > 64) throw usageError(`kill: '${value}' is not a signal number`);
    return n;
  }
  const name = value.toUpperCase().startsWith('SIG') ? value.toUpperCase() : `SIG${value.toUpperCase()}`;
  const n = (constants.signals as Record<string, number>)[name];
  if (n === undefined) throw usageError(`kill: unknown signal '${value}'`);
  return n;
}

export function main(argv: readonly string[] = scriptArguments()): Promise<void> {
  let parsed: ReturnType<typeof parseGlobals>;
  try {
    parsed = parseGlobals(argv);
  } catch (e) {
    failAndExit(PROG, e);
  }
  const { globals, rest } = parsed;
  const runtime = new OciRuntime({ root: globals.root });
  // Every failure is logged for the engine before runCli prints it and exits non-zero.
  const logged = (fn: (args: ParsedArgs) => void | Promise<void>) => async (args: ParsedArgs) => {
    try {
      await fn(args);
    } catch (e) {
      logError(globals, formatError(PROG, e).replace(`${PROG}: `, ''));
      throw e;
    }
  };
  return runCommands(OCI_COMMAND, rest, {
    create: logged(async (args) => {
      const id = oneId(args, 'create');
      await runtime.locked(id, () => runtime.create(id, {
        bundle: args.last('bundle') ?? '.', ...(args.last('pid-file') !== undefined ? { pidFile: args.last('pid-file')! } : {}),
        ...(args.last('console-socket') !== undefined ? { consoleSocket: args.last('console-socket')! } : {}),
        ...(args.has('no-pivot') ? { noPivot: true } : {}),
      }));
      // The parked process is on its own now; our pending spawn() must not keep us.
      process.exit(0);
    }),
    start: logged(async (args) => {
      const id = oneId(args, 'start');
      await runtime.locked(id, () => runtime.start(id));
    }),
    state: logged(async (args) => {
      const id = oneId(args, 'state');
      const state = await runtime.locked(id, () => runtime.state(id));
      writeAll(1, `${stateText(state)}\n`);
    }),
    kill: logged(async (args) => {
      if (args.operands.length < 1 || args.operands.length > 2) throw usageError('kill: expected <id> [<signal>]');
      const [id, signal] = args.operands as [string, string | undefined];
      const n = parseOciSignal(signal ?? 'SIGTERM');
      await runtime.locked(id, () => (args.has('all') ? runtime.killAll(id, n) : runtime.kill(id, n)));
    }),
    delete: logged(async (args) => {
      const id = oneId(args, 'delete');
      await runtime.locked(id, () => runtime.delete(id, args.has('force')));
    }),
    run: logged(async (args) => {
      const id = oneId(args, 'run');
      const code = await runtime.run(id, {
        bundle: args.last('bundle') ?? '.', ...(args.last('pid-file') !== undefined ? { pidFile: args.last('pid-file')! } : {}),
        ...(args.last('console-socket') !== undefined ? { consoleSocket: args.last('console-socket')! } : {}),
        ...(args.has('no-pivot') ? { noPivot: true } : {}),
      });
      process.exit(code);
    }),
    exec: logged(async (args) => {
      const [id, ...argv] = args.operands;
      if (id === undefined) throw usageError('exec: which container?');
      let processSpec: Parameters<OciRuntime['exec']>[1];
      const file = args.last('process');
      if (file !== undefined) {
        processSpec = JSON.parse(readFileSync(file, 'utf8')) as NonNullable<ContainerSpec['process']>;
        if (args.has('tty')) processSpec = { ...processSpec, terminal: true };
      } else {
        if (!argv.length) throw usageError('exec: a program, or --process <file>');
        // The rest (user, capabilities, env) is the container's own process's, as runc takes it.
        processSpec = { args: argv, cwd: args.last('cwd') ?? '/', terminal: args.has('tty'), ...(args.all('env').length ? { env: args.all('env') } : {}) };
      }
      const code = await runtime.locked(id, () => runtime.exec(id, processSpec, {
        ...(args.has('detach') ? { detach: true } : {}), ...(args.last('pid-file') !== undefined ? { pidFile: args.last('pid-file')! } : {}),
        ...(args.last('console-socket') !== undefined ? { consoleSocket: args.last('console-socket')! } : {}),
      }));
      process.exit(code);
    }),
    ps: logged(async (args) => {
      const id = oneId(args, 'ps');
      const format = args.last('format') ?? 'table';
      if (format !== 'table' && format !== 'json') throw usageError(`ps: --format '${format}' is not table or json`);
      const pids = await runtime.locked(id, () => runtime.processes(id));
      writeAll(1, format === 'json' ? `${JSON.stringify(pids)}\n` : `PID\n${pids.map((p) => `${p}\n`).join('')}`);
    }),
    pause: logged(async (args) => {
      const id = oneId(args, 'pause');
      await runtime.locked(id, () => runtime.pause(id));
    }),
    resume: logged(async (args) => {
      const id = oneId(args, 'resume');
      await runtime.locked(id, () => runtime.resume(id));
    }),
    features: logged(() => {
      writeAll(1, `${JSON.stringify(runtime.features(), null, 2)}\n`);
    }),
  }).catch((e: unknown) => {
    if (e instanceof NsError) failAndExit(PROG, e);
    throw e;
  });
}
