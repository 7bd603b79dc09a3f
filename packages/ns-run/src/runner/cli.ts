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
import { usageError, type ExitStatus } from 'ns-core';
import {
  DOCKER_EXITS, exitLike, launch, runCommands, scriptArguments, STANDARD_OPTIONS, type CommandSpec, type ParsedArgs,
} from 'ns-core/cli';
import { parseSignal } from 'ns-pid';
import {
  defaultNetwork, DEFAULT_PROGRAM, DEFAULT_SUBNET_POOL, followLog, LeftoversError, inspectContainer, planExec, removeContainer, runContainer, scanContainers,
  signalContainer, stopContainer, StateStore, waitContainer, type ContainerInfo, type ContainerOptions, type NetworkMode,
} from 'ns-container';
import { parseFd, statusReporters } from '../common/options';
import { images, IMAGE_COMMANDS, load, openStore, pull, rmi, since, STORAGE_OPTION } from './images';
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
    { long: 'rm', help: 'remove the container when it exits (what a foreground run always does)' },
    { long: 'detach', short: 'd', help: 'run in the background: print the id, exit 0; output to its log (ns-run logs)' },
    { long: 'tty', short: 't', help: 'a pseudo-terminal of its own (tty is /dev/pts/N inside), relayed to yours' },
    { long: 'interactive', short: 'i', help: 'with -t: what you type reaches it (your terminal raw meanwhile)' },
    { long: 'rootfs', arg: 'required', metavar: '<dir>', help: 'root filesystem directory (default: the host\'s / read-only)', complete: 'dir' },
    { long: 'read-only', help: 'mount the rootfs read-only (with a private /tmp and /run)' },
    { long: 'entrypoint', arg: 'required', metavar: '<program>', help: 'the image\'s entrypoint replaced (\'\' clears it)' },
    STORAGE_OPTION,
    { long: 'volume', short: 'v', arg: 'required', metavar: '<src>:<dest>[:ro|rw]', help: 'bind a host path (repeatable)' },
    { long: 'tmpfs', arg: 'required', metavar: '<dest>[:<options>]', help: 'an empty writable directory at <dest>; options size=N[k|m|g] (default 64m), mode=OCTAL, ro, noexec (repeatable)' },
    { long: 'shm-size', arg: 'required', metavar: '<bytes>', help: 'what /dev/shm may hold (bytes, or K/M/G suffix; default 64M)' },
    { long: 'workdir', short: 'w', arg: 'required', metavar: '<dir>', help: 'working directory inside (default /)' },
    { long: 'env', short: 'e', arg: 'required', metavar: '<key>=<value>', help: 'set a variable, or <key> to pass your value (repeatable)' },
    { long: 'env-file', arg: 'required', metavar: '<file>', help: 'KEY=VALUE lines to add to the environment (repeatable)', complete: 'file' },
    { long: 'user', short: 'u', arg: 'required', metavar: '<uid>[:<gid>]', help: 'UID[:GID] or NAME[:GROUP] inside (default 0:0)' },
    { long: 'hostname', arg: 'required', metavar: '<name>', help: 'hostname inside (default: the name)' },
    { long: 'userns-range', arg: 'required', metavar: '<inner>:<outer>:<count>', help: 'as root: ids mapped (default: a free range of 65536 from 1000000000 on; host id 0 only with --userns=host)' },
    { long: 'userns', arg: 'required', metavar: 'host|auto', help: 'as root: host: the container\'s ids are the host\'s (its root reads what host root reads); ' +
      'default auto: a 65536-id range of its own', complete: ['host', 'auto', 'private'] },
    { long: 'network', arg: 'required', metavar: 'none|host|veth|pasta|<network>',
      help: 'none (lo only), host, veth, pasta (egress through pasta), or a network (bridge: the default one); default veth as root, else pasta when it can run, else none',
      complete: ['none', 'host', 'veth', 'pasta', 'bridge'] },
    { long: 'network-alias', arg: 'required', metavar: '<name>', help: 'another name of the container on its network (repeatable)' },
    { long: 'subnet', arg: 'required', metavar: '<cidr>', help: `the veth's /30 (default: a free one of ${DEFAULT_SUBNET_POOL})` },
    { long: 'publish', short: 'p', arg: 'required', metavar: '[<ip>:]<host_port>:<container_port>', help: 'forward TCP (repeatable)' },
    { long: 'memory', short: 'm', arg: 'required', metavar: '<bytes>', help: 'memory limit (bytes, or K/M/G suffix)' },
    { long: 'pids-limit', arg: 'required', metavar: '<n>', help: 'most processes and threads' },
    { long: 'cpus', arg: 'required', metavar: '<cpus>', help: 'CPU bandwidth in CPUs (e.g. 0.5)' },
    { long: 'cap-add', arg: 'required', metavar: '<cap>', help: 'keep a capability beyond the default set (or ALL; repeatable)' },
    { long: 'cap-drop', arg: 'required', metavar: '<cap>', help: 'drop a capability of the default set (or ALL; repeatable)' },
    { long: 'security-opt', arg: 'required', metavar: 'seccomp=unconfined|<file>', help: 'the seccomp profile: none, or a docker/OCI profile file (default: ns-core\'s default profile)' },
    { long: 'info-fd', arg: 'required', metavar: '<fd>', help: 'write the init\'s pid and namespace ids as JSON to <fd>' },
    { long: 'json-status-fd', arg: 'required', metavar: '<fd>', help: 'write JSON lines about the container (start, exit) to <fd>' },
    ...STANDARD_OPTIONS,
  ],
};

const PS_COMMAND: CommandSpec = {
  prog: `${PROG} ps`, usage: ['[-a] [-q] [--format json]'], summary: 'List your running containers (-a: every one recorded).',
  options: [
    { long: 'all', short: 'a', help: 'exited and dead containers too' },
    { long: 'quiet', short: 'q', help: 'ids only' },
    { long: 'format', arg: 'required', metavar: 'table|json', help: 'json: one JSON object per container and line', complete: ['table', 'json'] },
    { long: 'json', help: 'one JSON array of the containers\' state files' },
    ...STANDARD_OPTIONS,
  ],
};

const STATE_COMMANDS: CommandSpec[] = [
  { prog: `${PROG} logs`, usage: ['[-f] <name>|<id>'], summary: 'The output of a detached container (-f: follow it until the container ends).',
    options: [{ long: 'follow', short: 'f', help: 'keep printing what it writes, until it ends' }, ...STANDARD_OPTIONS] },
  { prog: `${PROG} inspect`, usage: ['<name>|<id>...'], summary: 'Containers\' state and configuration, as a JSON array in docker\'s shape.',
    stopAtOperand: false, options: [...STANDARD_OPTIONS] },
  { prog: `${PROG} rm`, usage: ['[-f] <name>|<id>...'], summary: 'Remove containers that are not running (-f: kill running ones first).',
    stopAtOperand: false, options: [{ long: 'force', short: 'f', help: 'SIGKILL a running container, then remove it' }, ...STANDARD_OPTIONS] },
  { prog: `${PROG} wait`, usage: ['<name>|<id>...'], summary: 'Wait until each container has ended; print its exit code.',
    stopAtOperand: false, options: [...STANDARD_OPTIONS] },
];

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
  commands: [RUN_COMMAND, PS_COMMAND, ...STATE_COMMANDS, EXEC_COMMAND, STOP_COMMAND, KILL_COMMAND, ...IMAGE_COMMANDS, NETWORK_COMMAND],
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
  // Without --network: the library's default, and when it gives no egress, why (once, one line).
  const chosen = value('network') === undefined ? defaultNetwork(process.geteuid!() === 0, { detach: args.has('detach') }) : undefined;
  if (chosen?.note) process.stderr.write(`${PROG}: note: ${chosen.note}\n`);
  const network = value('network') ?? chosen?.mode;
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
    ...(value('shm-size') !== undefined ? { shmSize: value('shm-size')! } : {}),
    ...(value('workdir') !== undefined ? { workdir: value('workdir')! } : {}),
    env: args.all('env'),
    envFiles: args.all('env-file'),
    ...(value('user') !== undefined ? { user: value('user')! } : {}),
    ...(value('hostname') !== undefined ? { hostname: value('hostname')! } : {}),
    ...(value('userns-range') !== undefined ? { usernsRange: value('userns-range')! } : {}),
    ...(value('userns') !== undefined ? { userns: value('userns')! } : {}),
    ...(network !== undefined ? { network: network as NetworkMode } : {}),
    networkAliases: args.all('network-alias'),
    ...(value('subnet') !== undefined ? { subnet: value('subnet')! } : {}),
    publish: args.all('publish'),
    ...(value('memory') !== undefined ? { memory: value('memory')! } : {}),
    ...(value('pids-limit') !== undefined ? { pidsLimit: value('pids-limit')! } : {}),
    ...(value('cpus') !== undefined ? { cpus: value('cpus')! } : {}),
    capAdd: args.all('cap-add'),
    capDrop: args.all('cap-drop'),
    securityOpts: args.all('security-opt'),
    ...(args.has('detach') ? { detach: true, autoRemove: args.has('rm') } : {}),
    ...(args.has('tty') ? { terminal: { input: args.has('interactive') } } : {}),
  };
  // This process becomes the container's C supervisor (pid kept; runContainer never returns
  // then). Not with --info-fd/--json-status-fd: they report the init's pid and namespace ids,
  // which exist only past the supervisor's fork, where no TypeScript is left to learn them.
  const inPlace = !args.has('info-fd') && !args.has('json-status-fd');
  if (args.has('detach')) {
    const container = await runContainer(image !== undefined ? command : command.length ? command : DEFAULT_PROGRAM, options);
    process.stdout.write(`${container.id}\n`);
    process.exit(0);
  }
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
  const container = await runContainer(image !== undefined ? command : command.length ? command : DEFAULT_PROGRAM,
                                       inPlace ? { ...options, inPlace: true } : options);
  deliver = (sig) => container.kill(sig);
  for (const sig of pending.splice(0)) deliver(sig);
  reporters.onStart?.(container.child);
  let status: ExitStatus;
  try {
    status = await container.exited;
  } catch (e) {
    if (!(e instanceof LeftoversError)) throw e;
    // Named on stderr; the program's failure is still its status, a success becomes ours (125).
    process.stderr.write(`${PROG}: ${e.message}\n`);
    reporters.onExit?.(container.child, e.status);
    const code = e.status.signal ? 128 + (constants.signals[e.status.signal] ?? 0) : e.status.code ?? 0;
    return exitLike({ code: code || DOCKER_EXITS.failure, signal: null });
  }
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

/** docker ps's STATUS: "Up 5 seconds", "Exited (3) 2 minutes ago", "Created", "Dead". */
function statusText(c: ContainerInfo, now = Date.now()): string {
  if (c.state === 'running') return `Up ${since(c.startedAt ?? c.created, now).replace(/ ago$/, '')}`;
  if (c.state === 'exited') return `Exited (${c.exitCode ?? '?'}) ${c.finishedAt ? since(c.finishedAt, now) : ''}`.trimEnd();
  return c.state === 'created' ? 'Created' : 'Dead';
}

function ps(args: ParsedArgs): void {
  if (args.operands.length) throw usageError(`ps: unexpected argument '${args.operands[0]}'`);
  const format = args.last('format') ?? 'table';
  if (format !== 'table' && format !== 'json') throw usageError(`--format: '${format}' is not table or json`);
  const { containers, skipped } = scanContainers(new StateStore(), { all: args.has('all') });
  for (const s of skipped) process.stderr.write(`ns-run ps: skipped ${s.file}: ${s.reason}\n`);
  const shortId = (c: ContainerInfo) => (c.id ?? '').slice(0, 12) || c.name;
  if (args.has('quiet')) {
    for (const c of containers) process.stdout.write(`${shortId(c)}\n`);
    return;
  }
  if (args.has('json')) {
    process.stdout.write(`${JSON.stringify(containers, null, 2)}\n`);
    return;
  }
  const ports = (c: ContainerInfo) => c.ports.map((p) => `${p.hostAddress}:${p.hostPort}->${p.containerPort}/tcp`).join(', ');
  const image = (c: ContainerInfo) => c.image?.reference ?? c.rootfs ?? '(host /)';
  if (format === 'json') {
    for (const c of containers) {
      process.stdout.write(`${JSON.stringify({
        ID: shortId(c), Image: image(c), Command: c.argv.join(' '), CreatedAt: c.created, State: c.state, Status: statusText(c),
        Ports: ports(c), Names: c.name, Networks: c.network, Pid: c.state === 'running' ? c.init?.pid ?? 0 : 0,
      })}\n`);
    }
    return;
  }
  const rows = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'], ...containers.map((c) => [
    shortId(c), image(c), JSON.stringify(c.argv.join(' ')), since(c.created), statusText(c), ports(c), c.name,
  ])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(`${r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 2))).join('')}\n`);
}

function needNames(args: ParsedArgs, command: string): readonly string[] {
  if (!args.operands.length) throw usageError(`${command}: which container?`);
  return args.operands;
}

function inspect(args: ParsedArgs): void {
  const store = new StateStore();
  const found = needNames(args, 'inspect').map((n) => inspectContainer(store.resolve(n)));
  process.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
}

async function rm(args: ParsedArgs): Promise<void> {
  for (const n of needNames(args, 'rm')) process.stdout.write(`${await removeContainer(n, { force: args.has('force') })}\n`);
}

async function logs(args: ParsedArgs): Promise<void> {
  const [name, extra] = needNames(args, 'logs');
  if (extra !== undefined) throw usageError(`logs: one container at a time ('${extra}' is one too many)`);
  await followLog(new StateStore(), name!, args.has('follow'), (chunk) => process.stdout.write(chunk));
}

async function wait(args: ParsedArgs): Promise<void> {
  const codes = await Promise.all(needNames(args, 'wait').map((n) => waitContainer(n)));
  for (const code of codes) process.stdout.write(`${code}\n`);
}

/** ns-run exec's supervisor: the program's status as docker reports it, signals passed on (RELAYED_SIGNALS). */
const EXEC_SUPERVISOR = { signalAsCode: true } as const;

async function exec(args: ParsedArgs): Promise<void> {
  const [name, ...program] = args.operands;
  if (!name) throw usageError('exec: which container? (ns-run exec NAME [program...])');
  const workdir = args.last('workdir');
  const user = args.last('user');
  const plan = await planExec(name, { env: args.all('env'), ...(workdir !== undefined ? { workdir } : {}), ...(user !== undefined ? { user } : {}) });
  try {
    // The fds of the container's namespaces go with the exec: the stage closes them before the program's.
    // Under a C supervisor that stays outside the container (this pid): a program killed by
    // signal N ends the exec with 128+N, docker exec's status (137 for SIGKILL), where
    // nsenter's waiting process would die of N itself.
    await launch(program.length ? program : DEFAULT_PROGRAM, { ...plan.spawn, supervise: EXEC_SUPERVISOR }, { signals: 'program' });
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
    run: (args) => run(args, argv), ps, inspect, logs, rm, wait, exec, stop, kill, load, pull, images, rmi, network,
  }, { exits: DOCKER_EXITS, fallback: 'run' });
}
