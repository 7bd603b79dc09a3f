/**
 * What the ns-run tests share: a busybox root filesystem, running the CLI (as root, as
 * nobody, inside a throwaway network namespace), and snapshots of what a container may leave
 * on the host (mounts, links, cgroups, state files).
 */
import { expect } from 'chai';
import { execFileSync, spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { Socket, type SocketConstructorOpts } from 'node:net';
import { join } from 'node:path';
import { Namespace, runInside, sys } from 'ns-core';
import { NOBODY, waitFor as until } from 'ns-test-kit';

export { busyboxRootfs, isAlive as alive, NOBODY, removeTree, ThrowawayUser, waitFor as until } from 'ns-test-kit';

export const CLI = join(__dirname, '../../bin/ns-run.js');
/** The installed command (package.json's bin): `node -- ns-run.js`, so Node takes none of ns-run's words. */
export const LAUNCHER = join(__dirname, '../../bin/ns-run');
/** The rootless cases run as nobody, as CI has no other ordinary user. */
export const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];

/**
 * A network namespace of the test's own, held by a sleeping process (unshare(1) as an
 * oracle-side tool), with lo up: runners started in it put their veth host ends and
 * published ports here, never in the machine's namespace.
 */
export class Netns {
  readonly holder: ChildProcess;

  constructor() {
    this.holder = spawn('unshare', ['--net', 'sh', '-c', 'ip link set lo up && exec sleep 600'], { stdio: 'ignore' });
  }

  get pid(): number {
    return this.holder.pid!;
  }

  /** Waits until lo is up in it. */
  async ready(): Promise<this> {
    await until('the test netns', () => spawnSync('nsenter', ['-t', String(this.pid), '-n', 'ip', '-br', 'link', 'show', 'lo'], { encoding: 'utf8' }).stdout.includes('UP'));
    return this;
  }

  /** argv run inside. */
  wrap(argv: readonly string[]): string[] {
    return ['nsenter', '-t', String(this.pid), '-n', ...argv];
  }

  /**
   * Connects to 127.0.0.1:port in here and resolves with all it is sent ('' if refused). The
   * socket is made during a brief stay in the namespace (ns-core's runInside) and keeps it.
   */
  fetch(port: number): Promise<string> {
    const fd = Namespace.ofPid(this.pid, 'net').use((ns) => runInside([ns], () => sys.socket.socket(2, 1, 0)));
    return new Promise((resolve) => {
      let data = '';
      // manualStart: reading before the connect is made could end the socket (see netnsDialer).
      const sock = new Socket({ fd, readable: true, writable: true, manualStart: true } as SocketConstructorOpts);
      sock.on('data', (d: Buffer) => { data += d.toString(); });
      sock.on('error', () => resolve(data)); // refused or reset: what came, if anything
      sock.on('close', () => resolve(data));
      sock.connect(port, '127.0.0.1');
    });
  }

  links(): string[] {
    return execFileSync('nsenter', ['-t', String(this.pid), '-n', 'ip', '-br', 'link'], { encoding: 'utf8' })
      .split('\n').filter(Boolean).map((l) => l.split(/\s+/)[0]!).sort();
  }

  close(): void {
    this.holder.kill('SIGKILL');
  }
}

/**
 * "The outer world": a network namespace with a veth (`hostEnd`, `hostAddress`/30) to the
 * namespace `host` runs commands in, its peer eth0 at `outerAddress`, and a TCP server there
 * on port 7000 that answers each client with the address it sees: egress is checked there,
 * routed through the host rather than the host's own loopback. Made with ip(8) as the oracle.
 */
export class OuterWorld {
  static readonly PORT = 7000;
  readonly #outer: ChildProcess;
  #server: ChildProcess | undefined;

  private constructor(readonly hostEnd: string, readonly hostAddress: string, readonly outerAddress: string, outer: ChildProcess) {
    this.#outer = outer;
  }

  static async make(host: (argv: string[]) => unknown, hostEnd: string, hostAddress: string, outerAddress: string): Promise<OuterWorld> {
    const world = new OuterWorld(hostEnd, hostAddress, outerAddress, spawn('unshare', ['--net', 'sleep', '600'], { stdio: 'ignore' }));
    try {
      const pid = world.#outer.pid!;
      await until('the outer netns', () => existsSync(`/proc/${pid}/ns/net`) && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep');
      host(['ip', 'link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(pid)]);
      host(['ip', 'addr', 'add', `${hostAddress}/30`, 'dev', hostEnd]);
      host(['ip', 'link', 'set', hostEnd, 'up']);
      for (const argv of [['ip', 'addr', 'add', `${outerAddress}/30`, 'dev', 'eth0'], ['ip', 'link', 'set', 'eth0', 'up'], ['ip', 'link', 'set', 'lo', 'up']]) {
        execFileSync('nsenter', ['-t', String(pid), '-n', ...argv]);
      }
      const server = world.#server = spawn('nsenter', ['-t', String(pid), '-n', process.execPath, '-e',
        `require("net").createServer((s) => s.end(s.remoteAddress + "\\n")).listen(${OuterWorld.PORT}, () => console.log("listening"))`], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise((resolve) => server.stdout!.once('data', resolve));
      return world;
    } catch (e) {
      world.close();
      throw e;
    }
  }

  get pid(): number {
    return this.#outer.pid!;
  }

  /** Ends the server and the namespace; its veth goes with it. */
  close(): void {
    this.#server?.kill('SIGKILL');
    this.#outer.kill('SIGKILL');
  }
}

export interface CliOptions {
  /** Run as nobody (setpriv). */
  readonly rootless?: boolean;
  /** Run in this network namespace. */
  readonly netns?: Netns;
  readonly input?: string;
}

function wrap(args: readonly string[], options: CliOptions): string[] {
  const argv = [...(options.rootless ? AS_NOBODY : []), LAUNCHER, ...args];
  return options.netns ? options.netns.wrap(argv) : argv;
}

/** The output of a run that must have succeeded (its stderr in the failure message otherwise). */
export function ok(r: SpawnSyncReturns<string>): string {
  expect(r.status, `ns-run failed (${r.status}): ${r.stderr}`).to.equal(0);
  return r.stdout;
}

/** Runs ns-run to completion. */
export function cli(args: readonly string[], options: CliOptions = {}): SpawnSyncReturns<string> {
  const argv = wrap(args, options);
  return spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', input: options.input ?? '', cwd: '/', timeout: 30_000 });
}

export interface Started {
  readonly proc: ChildProcess;
  stdout: string;
  stderr: string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts ns-run (or, with raw, any argv) in the background; stdin stays open until the test ends it. */
export function start(args: readonly string[], options: CliOptions & { raw?: boolean } = {}): Started {
  const argv = options.raw ? (options.netns ? options.netns.wrap(args) : [...args]) : wrap(args, options);
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], cwd: '/' });
  const started: Started = {
    proc, stdout: '', stderr: '',
    exit: new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal }))),
  };
  proc.stdout!.on('data', (d: Buffer) => { started.stdout += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { started.stderr += d.toString(); });
  return started;
}

/** State directory of a user, as ns-run chooses it (no XDG_RUNTIME_DIR in these tests). */
export function stateDir(rootless: boolean): string {
  return rootless ? `/tmp/ns-run-${NOBODY}` : '/run/ns-run';
}

export interface ContainerStateJson {
  name: string;
  id?: string;
  status: string;
  init?: { pid: number };
  program?: { pid: number };
  address?: string;
  hostAddress?: string;
  hostInterface?: string;
  cgroups: string[];
}

export function readState(name: string, rootless = false): ContainerStateJson | undefined {
  const file = join(stateDir(rootless), 'containers', `${name}.json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ContainerStateJson;
  } catch {
    return undefined; // not there (yet, or any more), or being replaced: the caller polls
  }
}

/**
 * The named container's state as `ns-run ps --json` (run as its user) shows it: what every
 * reader of the state sees, the pids of the init and the program included (a foreground
 * container's supervisor is ns-run's process, become C: no TypeScript wrote them in the file).
 */
export function shownState(name: string, rootless = false): (ContainerStateJson & { state: string }) | undefined {
  const r = cli(['ps', '-a', '--json'], { rootless });
  if (r.status !== 0) return undefined;
  return (JSON.parse(r.stdout) as (ContainerStateJson & { state: string })[]).find((c) => c.name === name);
}

/** Waits until the named container runs (its program started); its state. */
export async function running(name: string, rootless = false): Promise<ContainerStateJson> {
  let state: ContainerStateJson | undefined;
  await until(`container ${name} to run`, () => {
    if (readState(name, rootless)?.status !== 'running') return false; // cheap, before a CLI run
    const shown = shownState(name, rootless);
    return shown?.state === 'running' && shown.program !== undefined && (state = shown) !== undefined;
  });
  return state!;
}

/** A name unique to this test process. */
export function uniqueName(tag: string): string {
  return `t${process.pid}-${tag}`;
}

/** What a container could leave behind on the host, as seen from outside. */
export interface Snapshot {
  readonly mounts: string[];
  readonly cgroups: string[];
  readonly stateFiles: string[];
  readonly links: string[];
}

/** cgroup directories whose name includes `tag`, in every hierarchy mounted. */
export function cgroupDirs(tag: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // a cgroup removed while we walk
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const path = join(dir, e.name);
      if (e.name.includes(tag)) out.push(path);
      if (depth < 6) walk(path, depth + 1);
    }
  };
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const type = f[f.indexOf('-') + 1];
    if (type === 'cgroup' || type === 'cgroup2') walk(f[4]!, 0);
  }
  return out.sort();
}

function files(dir: string): string[] {
  try {
    return readdirSync(dir).map((f) => join(dir, f)).sort();
  } catch {
    return []; // no state directory yet
  }
}

/**
 * Mounts at or below `paths` (where a leaked container mount would show: its rootfs, the
 * staging directories) and every proc/sysfs/devpts/tmpfs mount made by a user namespace of
 * ours (uid= of a mapped id in its options); cgroups named with `tag`; this user's state files
 * and leases of container `tag` (all with 'never'; see leasesOf); links of `netns` (if given).
 */
export function snapshot(tag: string, paths: readonly string[], rootless = false, netns?: Netns): Snapshot {
  // Other tests on this machine mount their own scratch directories under /tmp: only what
  // could be ours counts (a staging tmpfs is exactly at its directory).
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')).filter((f) => {
    const point = f[4]!;
    const superOptions = f[f.indexOf('-') + 3] ?? '';
    return paths.some((p) => point === p || (p.split('/').length > 2 && point.startsWith(`${p}/`))) ||
      /(^|,)uid=(\d{10}|65534)(,|$)/.test(superOptions); // a range of root's containers (from 1000000000), or nobody
  }).map((f) => `${f[4]} ${f[f.indexOf('-') + 1]}`).sort();
  const dir = stateDir(rootless);
  // Other tests' containers come and go in the same state directory: a named container's own
  // files are those with its name ('never': a test that expects none at all looks at every one).
  const containers = files(join(dir, 'containers')).filter((f) => tag === 'never' || f.includes(`/${tag}.`));
  return { mounts, cgroups: cgroupDirs(tag), stateFiles: [...containers, ...leasesOf(tag, rootless)], links: netns ? netns.links() : [] };
}

/** Lease files seen named in a container's state (its reclaim record), by container name. */
const seenLeases = new Map<string, Set<string>>();

/**
 * The subnet and id range leases of container `tag` (every one with 'never'): other tests'
 * and other runs' containers lease and release theirs meanwhile. An id range's file names its
 * holder; a subnet's is empty, so it counts as ours once our state has named it (a snapshot
 * taken while the container exists), for as long as the file is there.
 */
function leasesOf(tag: string, rootless: boolean): string[] {
  const dir = stateDir(rootless);
  const all = [...files(join(dir, 'subnets')), ...files(join(dir, 'idranges')).filter((f) => !f.endsWith('/.lock'))];
  if (tag === 'never') return all;
  const seen = seenLeases.get(tag) ?? new Set<string>();
  seenLeases.set(tag, seen);
  // (An id range's file names its holder: another container may lease the same range once ours is gone.)
  for (const f of (readState(tag, rootless) as { reclaim?: { leases?: string[] } } | undefined)?.reclaim?.leases ?? []) seen.add(f);
  const holder = (f: string) => {
    try {
      return (JSON.parse(readFileSync(f, 'utf8')) as { name?: string }).name;
    } catch {
      return undefined; // a subnet's empty file, or removed meanwhile
    }
  };
  return all.filter((f) => (f.includes('/subnets/') ? seen.has(f) : holder(f) === tag));
}

export function uidMapOf(pid: number): string {
  return readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split(/\s+/).join(' ');
}

export function statusField(pid: number, field: string): string {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  if (!line) throw new Error(`no ${field} in /proc/${pid}/status`);
  return line.slice(field.length + 1).trim();
}
