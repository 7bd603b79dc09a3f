/**
 * ns-run: the container runner's CLI. Thin: parsing here, meaning in ../run.
 *
 *   ns-run [options] [--] [program [args...]]     a program in a container on the host's root read-only
 *   ns-run run [options] IMAGE [command [args...]] an image's container (docker run); with --rootfs or
 *                                                 `run [options] -- program`, as without `run`
 *   ns-run load|pull|images|rmi                   images (see images.ts)
 *   ns-run ps [--json]                            running containers
 *   ns-run exec [options] NAME [program...]       a program in a running container
 *   ns-run stop [-t SECONDS] NAME...              SIGTERM, then SIGKILL
 *   ns-run kill [-s SIGNAL] NAME...               a signal (default SIGKILL)
 *
 * A subcommand is recognised only as the first word: `ns-run -- ps` runs ps in a container.
 */
import { constants } from 'node:os';
import { usageError } from 'ns-core';
import {
  DOCKER_EXITS, exitLike, launch, runCommands, scriptArguments, STANDARD_OPTIONS, type CommandSpec, type ParsedArgs,
} from 'ns-core/cli';
import { parseSignal } from 'ns-pid';
import {
  DEFAULT_PROGRAM, DEFAULT_SUBNET_POOL, DEFAULT_USERNS_RANGE, listContainers, planExec, runContainer, signalContainer, stopContainer,
  StateStore, type ContainerOptions, type NetworkMode,
} from 'ns-container';
import { parseFd, statusReporters } from '../common/options';
import { images, IMAGE_COMMANDS, load, openStore, pull, rmi, STORAGE_OPTION } from './images';
import { network, NETWORK_COMMAND } from './network';

const PROG = 'ns-run';

const RUN_COMMAND: CommandSpec = {
  prog: `${PROG} run`,
  usage: ['[options] <image> [<command> [<argument>...]]', '[options] [--rootfs <dir>] -- [<program> [<argument>...]]'],
  summary: 'Run an image (its Entrypoint, Cmd, Env, WorkingDir and User, on an overlay of its layers with a\n'
    + 'writable layer of the container\'s own), or a program on a root directory or the host\'s, in a container:\n'
    + 'new user, mount, pid, network, uts, ipc and cgroup namespaces, an init'
    + ' as PID 1, its own /proc, a minimal /dev, a read-only /sys, lo up. Without --rootfs the root is the\n'
    + 'host\'s / read-only with a private /tmp, /run and home. Rootless when run by an ordinary user.',
  options: [
    { long: 'name', arg: 'required', metavar: '<name>', help: 'name of the container (default nsr-<random>)' },
    { long: 'rootfs', arg: 'required', metavar: '<dir>', help: 'root filesystem directory (default: the host\'s / read-only)', complete: 'dir' },
    { long: 'read-only', help: 'mount the rootfs read-only (with a private /tmp and /run)' },
    { long: 'entrypoint', arg: 'required', metavar: '<program>', help: 'the image\'s entrypoint replaced (\'\' clears it)' },
    STORAGE_OPTION,
    { long: 'volume', short: 'v', arg: 'required', metavar: '<src>:<dest>[:ro|rw]', help: 'bind a host path (repeatable)' },
    { long: 'tmpfs', arg: 'required', metavar: '<dest>', help: 'an empty writable directory at <dest> (repeatable)' },
    { long: 'workdir', short: 'w', arg: 'required', metavar: '<dir>', help: 'working directory inside (default /)' },
    { long: 'env', short: 'e', arg: 'required', metavar: '<key>=<value>', help: 'set a variable, or <key> to pass your value (repeatable)' },
    { long: 'env-file', arg: 'required', metavar: '<file>', help: 'KEY=VALUE lines to add to the environment (repeatable)', complete: 'file' },
    { long: 'user', short: 'u', arg: 'required', metavar: '<uid>[:<gid>]', help: 'UID[:GID] or NAME[:GROUP] inside (default 0:0)' },
    { long: 'hostname', arg: 'required', metavar: '<name>', help: 'hostname inside (default: the name)' },
    { long: 'userns-range', arg: 'required', metavar: '<inner>:<outer>:<count>', help: `as root: ids mapped (default ${DEFAULT_USERNS_RANGE})` },
    { long: 'network', arg: 'required', metavar: 'none|host|veth|<network>', help: 'none (lo only), host, veth, or a network (bridge: the default one); default veth as root, else none',
      complete: ['none', 'host', 'veth', 'bridge'] },
    { long: 'network-alias', arg: 'required', metavar: '<name>', help: 'another name of the container on its network (repeatable)' },
    { long: 'subnet', arg: 'required', metavar: '<cidr>', help: `the veth's /30 (default: a free one of ${DEFAULT_SUBNET_POOL})` },
    { long: 'publish', short: 'p', arg: 'required', metavar: '[<ip>:]<host_port>:<container_port>', help: 'forward TCP (repeatable)' },
    { long: 'memory', short: 'm', arg: 'required', metavar: '<bytes>', help: 'memory limit (bytes, or K/M/G suffix)' },
    { long: 'pids-limit', arg: 'required', metavar: '<n>', help: 'most processes and threads' },
    { long: 'cpus', arg: 'required', metavar: '<cpus>', help: 'CPU bandwidth in CPUs (e.g. 0.5)' },
    { long: 'cap-add', arg: 'required', metavar: '<cap>', help: 'keep a capability beyond the default set (or ALL; repeatable)' },
    { long: 'cap-drop', arg: 'required', metavar: '<cap>', help: 'drop a capability of the default set (or ALL; repeatable)' },
    { long: 'info-fd', arg: 'required', metavar: '<fd>', help: 'write the init\'s pid and namespace ids as JSON to <fd>' },
    { long: 'json-status-fd', arg: 'required', metavar: '<fd>', help: 'write JSON lines about the container (start, exit) to <fd>' },
    ...STANDARD_OPTIONS,
  ],
};

const PS_COMMAND: CommandSpec = {
  prog: `${PROG} ps`, usage: ['[--json]'], summary: 'List your running containers.',
  options: [{ long: 'json', help: 'one JSON array of the containers\' state' }, ...STANDARD_OPTIONS],
};

const EXEC_COMMAND: CommandSpec = {
  prog: `${PROG} exec`, usage: ['[options] <name> [<program> [<argument>...]]'],
  summary: 'Run a program in every namespace and cgroup of a running container, with its identity and privileges.',
  options: [
    { long: 'env', short: 'e', arg: 'required', metavar: '<key>=<value>', help: 'on top of the container\'s environment (repeatable)' },
    { long: 'workdir', short: 'w', arg: 'required', metavar: '<dir>', help: 'working directory inside' },
    { long: 'user', short: 'u', arg: 'required', metavar: '<uid>[:<gid>]', help: 'UID[:GID] inside (default: the container\'s)' },
    ...STANDARD_OPTIONS,
  ],
};

const STOP_COMMAND: CommandSpec = {
  prog: `${PROG} stop`, usage: ['[-t <seconds>] <name>...'], summary: 'SIGTERM to each container, SIGKILL after <seconds> (default 10).',
  stopAtOperand: false,
  options: [{ long: 'time', short: 't', arg: 'required', metavar: '<seconds>', help: 'seconds to wait before SIGKILL' }, ...STANDARD_OPTIONS],
};

const KILL_COMMAND: CommandSpec = {
  prog: `${PROG} kill`, usage: ['[-s <signal>] <name>...'],
  summary: 'Send a signal (default SIGKILL) to each container\'s init, which passes it on.',
  stopAtOperand: false,
  options: [{ long: 'signal', short: 's', arg: 'required', metavar: '<signal>', help: 'signal name', complete: 'signal' }, ...STANDARD_OPTIONS],
};

export const RUNNER_COMMAND: CommandSpec = {
  prog: PROG,
  usage: ['[options] [--] [<program> [<argument>...]]', '<command> [options] ...'],
  summary: 'A small docker run: a program in a container of its own. Without a command, `run` is meant.',
  seeAlso: ['ns-unshare(1)', 'docker-run(1)'],
  options: RUN_COMMAND.options,
  commands: [RUN_COMMAND, PS_COMMAND, EXEC_COMMAND, STOP_COMMAND, KILL_COMMAND, ...IMAGE_COMMANDS, NETWORK_COMMAND],
};

/**
 * `ns-run run IMAGE ...` is docker's form; `ns-run run -- program`, `ns-run run --rootfs DIR
 * program` and `ns-run [options] program` (no `run`) keep the host-root form.
 */
function imageOperand(argv: readonly string[], args: ParsedArgs): boolean {
  if (argv[0] !== 'run' || args.has('rootfs') || !args.operands.length) return false;
  const dash = argv.indexOf('--');
  return !(dash >= 0 && argv.length - dash - 1 === args.operands.length);
}

async function run(args: ParsedArgs, argv: readonly string[]): Promise<void> {
  const value = (name: string) => args.last(name);
  const network = value('network');
  const imageForm = imageOperand(argv, args);
  if (!imageForm && (args.has('entrypoint') || args.has('storage'))) {
    throw usageError(`${args.has('entrypoint') ? '--entrypoint' : '--storage'}: only with an image (ns-run run [options] IMAGE [COMMAND...])`);
  }
  const image = imageForm ? args.operands[0] : undefined;
  const command = imageForm ? args.operands.slice(1) : [...args.operands];
  const options: ContainerOptions = {
    ...(image !== undefined ? { image: {
      store: openStore(args), reference: image, ...(value('entrypoint') !== undefined ? { entrypoint: value('entrypoint')! } : {}),
    } } : {}),
    ...(value('name') !== undefined ? { name: value('name')! } : {}),
    ...(value('rootfs') !== undefined ? { rootfs: value('rootfs')! } : {}),
    ...(args.has('read-only') ? { readOnly: true } : {}),
    volumes: args.all('volume'),
    tmpfs: args.all('tmpfs'),
    ...(value('workdir') !== undefined ? { workdir: value('workdir')! } : {}),
    env: args.all('env'),
    envFiles: args.all('env-file'),
    ...(value('user') !== undefined ? { user: value('user')! } : {}),
    ...(value('hostname') !== undefined ? { hostname: value('hostname')! } : {}),
    ...(value('userns-range') !== undefined ? { usernsRange: value('userns-range')! } : {}),
    ...(network !== undefined ? { network: network as NetworkMode } : {}),
    networkAliases: args.all('network-alias'),
    ...(value('subnet') !== undefined ? { subnet: value('subnet')! } : {}),
    publish: args.all('publish'),
    ...(value('memory') !== undefined ? { memory: value('memory')! } : {}),
    ...(value('pids-limit') !== undefined ? { pidsLimit: value('pids-limit')! } : {}),
    ...(value('cpus') !== undefined ? { cpus: value('cpus')! } : {}),
    capAdd: args.all('cap-add'),
    capDrop: args.all('cap-drop'),
  };
  const reporters = statusReporters(
    value('info-fd') !== undefined ? parseFd('--info-fd', value('info-fd')!) : undefined,
    value('json-status-fd') !== undefined ? parseFd('--json-status-fd', value('json-status-fd')!) : undefined);
  const pending: NodeJS.Signals[] = [];
  let deliver: ((sig: NodeJS.Signals) => void) | undefined;
  for (const sig of FORWARDED) {
    process.on(sig, () => {
      if (deliver) deliver(sig);
      else pending.push(sig);
    });
  }
  const container = await runContainer(image !== undefined ? command : command.length ? command : DEFAULT_PROGRAM, options);
  // The container's init shares our memory, argv area included: what its /proc/1/cmdline
  // (and `ps` inside) shows is our title. Name the container rather than our paths.
  process.title = `ns-run ${container.name}`;
  deliver = (sig) => container.kill(sig);
  for (const sig of pending.splice(0)) deliver(sig);
  reporters.onStart?.(container.child);
  const status = await container.exited;
  reporters.onExit?.(container.child, status);
  // The init exits 128+N when the program dies of signal N; the init itself dies of a signal
  // only when killed from outside (SIGKILL), which is the container's status, not ours to
  // re-raise (a shell would print "Killed" about the runner): end with 128+N, as Docker does.
  exitLike(status.signal ? { code: 128 + (constants.signals[status.signal] ?? 0), signal: null } : status);
}

/**
 * Signals the runner passes to the container's init, which passes them to the program. The
 * container is a session of its own, so a terminal's keys (SIGINT, SIGQUIT) reach only us.
 */
const FORWARDED: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

function formatUptime(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  return `${Math.floor(seconds / 3600)}h`;
}

function ps(args: ParsedArgs): void {
  {
    if (args.operands.length) throw usageError(`ps: unexpected argument '${args.operands[0]}'`);
    const containers = listContainers(new StateStore());
    if (args.has('json')) {
      process.stdout.write(`${JSON.stringify(containers, null, 2)}\n`);
      return;
    }
    const rows = [['NAME', 'PID', 'UPTIME', 'NETWORK', 'PORTS', 'COMMAND'], ...containers.map((c) => [
      c.name, String(c.init?.pid ?? '-'), c.status === 'running' ? formatUptime(c.uptime) : c.status,
      c.address ?? c.network, c.ports.map((p) => `${p.hostAddress}:${p.hostPort}->${p.containerPort}`).join(',') || '-',
      c.argv.join(' '),
    ])];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) process.stdout.write(`${r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}\n`);
  }
}

async function exec(args: ParsedArgs): Promise<void> {
  const [name, ...program] = args.operands;
  if (!name) throw usageError('exec: which container? (ns-run exec NAME [program...])');
  const workdir = args.last('workdir');
  const user = args.last('user');
  const plan = planExec(name, { env: args.all('env'), ...(workdir !== undefined ? { workdir } : {}), ...(user !== undefined ? { user } : {}) });
  try {
    // The fds of the container's namespaces go with the exec: the stage closes them before the program's.
    await launch(program.length ? program : DEFAULT_PROGRAM, plan.spawn, { signals: 'program' });
  } finally {
    plan.opened.close();
  }
}

async function stop(args: ParsedArgs): Promise<void> {
  const names = args.operands;
  if (!names.length) throw usageError('stop: which container?');
  const time = args.last('time') ?? '10';
  if (!/^\d+(\.\d+)?$/.test(time)) throw usageError(`--time: '${time}' is not a number of seconds`);
  await Promise.all(names.map((n) => stopContainer(n, { timeoutMs: Number(time) * 1000 })));
}

function kill(args: ParsedArgs): void {
  const names = args.operands;
  if (!names.length) throw usageError('kill: which container?');
  const signal = parseSignal('--signal', args.last('signal') ?? 'SIGKILL');
  for (const n of names) signalContainer(n, signal);
}

export function main(argv: readonly string[] = scriptArguments()): Promise<void> {
  return runCommands(RUNNER_COMMAND, argv, {
    run: (args) => run(args, argv), ps, exec, stop, kill, load, pull, images, rmi, network,
  }, { exits: DOCKER_EXITS, fallback: 'run' });
}
