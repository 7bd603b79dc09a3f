/**
 * ns-run: the container runner's CLI. Thin: parsing here, meaning in ../run.
 *
 *   ns-run [options] [--] [program [args...]]     run a container (also: ns-run run ...)
 *   ns-run ps [--json]                            running containers
 *   ns-run exec [options] NAME [program...]       a program in a running container
 *   ns-run stop [-t SECONDS] NAME...              SIGTERM, then SIGKILL
 *   ns-run kill [-s SIGNAL] NAME...               a signal (default SIGKILL)
 *
 * A subcommand is recognised only as the first word: `ns-run -- ps` runs ps in a container.
 */
import { constants } from 'node:os';
import {
  exitLike, failAndExit, normalizeGetopt, programArgs, runToCompletion, usageError, yargsBase, type GetoptSpec,
} from 'ns-core';
import {
  DEFAULT_PROGRAM, DEFAULT_SUBNET_POOL, DEFAULT_USERNS_RANGE, listContainers, planExec, runContainer, signalContainer, stopContainer,
  StateStore, type ContainerOptions, type NetworkMode,
} from '../run';
import { parseFd, parseSignalName, statusReporters } from './common';

const PROG = 'ns-run';

const RUN_GETOPT: GetoptSpec = {
  short: { v: 'volume', w: 'workdir', e: 'env', u: 'user', p: 'publish', m: 'memory', h: 'help', V: 'version' },
  optional: new Set(),
  required: new Set(['name', 'rootfs', 'volume', 'tmpfs', 'workdir', 'env', 'env-file', 'user', 'hostname', 'userns-range',
    'network', 'subnet', 'publish', 'memory', 'pids-limit', 'cpus', 'cap-add', 'cap-drop', 'info-fd', 'json-status-fd']),
};

/** Repeatable options: yargs gives one value as a string, several as an array. */
function list(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

function last(value: unknown): string | undefined {
  return Array.isArray(value) ? (value.at(-1) as string | undefined) : (value as string | undefined);
}

/**
 * Signals the runner passes to the container's init, which passes them to the program. The
 * container is a session of its own, so a terminal's keys (SIGINT, SIGQUIT) reach only us.
 */
const FORWARDED: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

async function run(argv: readonly string[]): Promise<void> {
  const parsed = yargsBase(PROG, normalizeGetopt(argv, RUN_GETOPT))
    .usage(`Usage:\n ${PROG} [options] [--] [<program> [<argument>...]]\n ${PROG} ps|exec|stop|kill ...\n\n`
      + 'Run a program in a container: new user, mount, pid, network, uts, ipc and cgroup namespaces, an init '
      + 'as PID 1, its own /proc, a minimal /dev, a read-only /sys, lo up. Without --rootfs the root is the '
      + 'host\'s / read-only with a private /tmp, /run and home. Rootless when run by an ordinary user.')
    .option('name', { type: 'string', describe: 'name of the container (default nsr-<random>)' })
    .option('rootfs', { type: 'string', describe: 'root filesystem directory (default: the host\'s / read-only)' })
    .option('read-only', { type: 'boolean', describe: 'mount the rootfs read-only (with a private /tmp and /run)' })
    .option('volume', { type: 'string', describe: '-v SRC:DEST[:ro|rw]: bind a host path (repeatable)' })
    .option('tmpfs', { type: 'string', describe: 'an empty writable directory at DEST (repeatable)' })
    .option('workdir', { type: 'string', describe: '-w: working directory inside (default /)' })
    .option('env', { type: 'string', describe: '-e KEY=VALUE, or KEY to pass your value (repeatable)' })
    .option('env-file', { type: 'string', describe: 'KEY=VALUE lines to add to the environment (repeatable)' })
    .option('user', { type: 'string', describe: '-u UID[:GID] or NAME[:GROUP] inside (default 0:0)' })
    .option('hostname', { type: 'string', describe: 'hostname inside (default: the name)' })
    .option('userns-range', { type: 'string', describe: `as root: INNER:OUTER:COUNT ids mapped (default ${DEFAULT_USERNS_RANGE})` })
    .option('network', { type: 'string', describe: 'none (lo only), host, or veth (default veth as root, else none)' })
    .option('subnet', { type: 'string', describe: `the veth's /30 (default: a free one of ${DEFAULT_SUBNET_POOL})` })
    .option('publish', { type: 'string', describe: '-p [HOST_IP:]HOST_PORT:CONTAINER_PORT: forward TCP (repeatable)' })
    .option('memory', { type: 'string', describe: '-m: memory limit (bytes, or K/M/G suffix)' })
    .option('pids-limit', { type: 'string', describe: 'most processes and threads' })
    .option('cpus', { type: 'string', describe: 'CPU bandwidth in CPUs (e.g. 0.5)' })
    .option('cap-add', { type: 'string', describe: 'keep a capability beyond the default set (or ALL; repeatable)' })
    .option('cap-drop', { type: 'string', describe: 'drop a capability of the default set (or ALL; repeatable)' })
    .option('info-fd', { type: 'string', describe: 'write the init\'s pid and namespace ids as JSON to <fd>' })
    .option('json-status-fd', { type: 'string', describe: 'write JSON lines about the container (start, exit) to <fd>' })
    .parseSync();

  const pending: NodeJS.Signals[] = [];
  let deliver: ((sig: NodeJS.Signals) => void) | undefined;
  for (const sig of FORWARDED) {
    process.on(sig, () => {
      if (deliver) deliver(sig);
      else pending.push(sig);
    });
  }
  try {
    const network = last(parsed.network);
    const options: ContainerOptions = {
      ...(last(parsed.name) !== undefined ? { name: last(parsed.name)! } : {}),
      ...(last(parsed.rootfs) !== undefined ? { rootfs: last(parsed.rootfs)! } : {}),
      ...(parsed.readOnly ? { readOnly: true } : {}),
      volumes: list(parsed.volume),
      tmpfs: list(parsed.tmpfs),
      ...(last(parsed.workdir) !== undefined ? { workdir: last(parsed.workdir)! } : {}),
      env: list(parsed.env),
      envFiles: list(parsed.envFile),
      ...(last(parsed.user) !== undefined ? { user: last(parsed.user)! } : {}),
      ...(last(parsed.hostname) !== undefined ? { hostname: last(parsed.hostname)! } : {}),
      ...(last(parsed.usernsRange) !== undefined ? { usernsRange: last(parsed.usernsRange)! } : {}),
      ...(network !== undefined ? { network: network as NetworkMode } : {}),
      ...(last(parsed.subnet) !== undefined ? { subnet: last(parsed.subnet)! } : {}),
      publish: list(parsed.publish),
      ...(last(parsed.memory) !== undefined ? { memory: last(parsed.memory)! } : {}),
      ...(last(parsed.pidsLimit) !== undefined ? { pidsLimit: last(parsed.pidsLimit)! } : {}),
      ...(last(parsed.cpus) !== undefined ? { cpus: last(parsed.cpus)! } : {}),
      capAdd: list(parsed.capAdd),
      capDrop: list(parsed.capDrop),
    };
    const reporters = statusReporters(
      last(parsed.infoFd) !== undefined ? parseFd('--info-fd', last(parsed.infoFd)!) : undefined,
      last(parsed.jsonStatusFd) !== undefined ? parseFd('--json-status-fd', last(parsed.jsonStatusFd)!) : undefined);
    const program = programArgs(parsed);
    const container = await runContainer(program.length ? program : DEFAULT_PROGRAM, options);
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
  } catch (e) {
    failAndExit(PROG, e);
  }
}

function formatUptime(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  return `${Math.floor(seconds / 3600)}h`;
}

function ps(argv: readonly string[]): void {
  const parsed = yargsBase(`${PROG} ps`, argv)
    .usage(`Usage:\n ${PROG} ps [--json]\n\nList your running containers.`)
    .option('json', { type: 'boolean', describe: 'one JSON array of the containers\' state' })
    .parseSync();
  try {
    if (programArgs(parsed).length) throw usageError(`ps: unexpected argument '${programArgs(parsed)[0]}'`);
    const containers = listContainers(new StateStore());
    if (parsed.json) {
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
  } catch (e) {
    failAndExit(PROG, e);
  }
}

const EXEC_GETOPT: GetoptSpec = {
  short: { e: 'env', w: 'workdir', u: 'user', h: 'help' }, optional: new Set(), required: new Set(['env', 'workdir', 'user']),
};

async function exec(argv: readonly string[]): Promise<void> {
  const parsed = yargsBase(`${PROG} exec`, normalizeGetopt(argv, EXEC_GETOPT))
    .usage(`Usage:\n ${PROG} exec [options] <name> [<program> [<argument>...]]\n\n`
      + 'Run a program in every namespace and cgroup of a running container, with its identity and privileges.')
    .option('env', { type: 'string', describe: '-e KEY=VALUE on top of the container\'s environment (repeatable)' })
    .option('workdir', { type: 'string', describe: '-w: working directory inside' })
    .option('user', { type: 'string', describe: '-u UID[:GID] inside (default: the container\'s)' })
    .parseSync();
  let plan: ReturnType<typeof planExec> | undefined;
  try {
    const [name, ...program] = programArgs(parsed);
    if (!name) throw usageError('exec: which container? (ns-run exec NAME [program...])');
    plan = planExec(name, {
      env: list(parsed.env),
      ...(last(parsed.workdir) !== undefined ? { workdir: last(parsed.workdir)! } : {}),
      ...(last(parsed.user) !== undefined ? { user: last(parsed.user)! } : {}),
    });
    const held = plan.opened;
    exitLike(await runToCompletion(program.length ? program : DEFAULT_PROGRAM, plan.spawn, {
      signals: 'forward', onStart: () => held.close(),
    }));
  } catch (e) {
    plan?.opened.close();
    failAndExit(PROG, e);
  }
}

async function stop(argv: readonly string[]): Promise<void> {
  const parsed = yargsBase(`${PROG} stop`, normalizeGetopt(argv, { short: { t: 'time', h: 'help' }, optional: new Set(), required: new Set(['time']) }))
    .usage(`Usage:\n ${PROG} stop [-t SECONDS] <name>...\n\nSIGTERM to each container, SIGKILL after SECONDS (default 10).`)
    .option('time', { type: 'string', describe: '-t: seconds to wait before SIGKILL' })
    .parseSync();
  try {
    const names = programArgs(parsed);
    if (!names.length) throw usageError('stop: which container?');
    const time = last(parsed.time) ?? '10';
    if (!/^\d+(\.\d+)?$/.test(time)) throw usageError(`--time: '${time}' is not a number of seconds`);
    await Promise.all(names.map((n) => stopContainer(n, { timeoutMs: Number(time) * 1000 })));
  } catch (e) {
    failAndExit(PROG, e);
  }
}

function kill(argv: readonly string[]): void {
  const parsed = yargsBase(`${PROG} kill`, normalizeGetopt(argv, { short: { s: 'signal', h: 'help' }, optional: new Set(), required: new Set(['signal']) }))
    .usage(`Usage:\n ${PROG} kill [-s SIGNAL] <name>...\n\nSend a signal (default SIGKILL) to each container's init, which passes it on.`)
    .option('signal', { type: 'string', describe: '-s: signal name' })
    .parseSync();
  try {
    const names = programArgs(parsed);
    if (!names.length) throw usageError('kill: which container?');
    const signal = parseSignalName(last(parsed.signal) ?? 'SIGKILL');
    for (const n of names) signalContainer(n, signal);
  } catch (e) {
    failAndExit(PROG, e);
  }
}

export async function main(argv: readonly string[]): Promise<void> {
  const [first, ...rest] = argv;
  switch (first) {
    case 'run': return run(rest);
    case 'ps': return ps(rest);
    case 'exec': return exec(rest);
    case 'stop': return stop(rest);
    case 'kill': return kill(rest);
    default: return run(argv);
  }
}
