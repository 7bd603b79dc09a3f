/**
 * A foreground container without Node (the default): ns-run plans and
 * does the host work, then becomes the container's C supervisor in place, keeping its pid;
 * no Node process stays while the program runs. Checked from outside: the process tree under
 * ns-run's pid, the exit status, forwarded signals, and nothing left afterwards.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { alive, busyboxRootfs, cgroupDirs, cli, LAUNCHER, ok, removeTree, running, stateDir, ThrowawayUser, uniqueName, until } from './helpers';

let rootfs: string;

before(() => {
  rootfs = busyboxRootfs();
});

after(() => removeTree(rootfs));

const comm = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

function tree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    try {
      all.push(...readFileSync(`/proc/${all[i]}/task/${all[i]}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number));
    } catch {
      // gone meanwhile
    }
  }
  return all;
}

interface Run { readonly pid: number; out: string; readonly exit: Promise<number | null> }

function startInPlace(args: readonly string[], rootless = false): Run {
  const argv = [...(rootless ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : []), LAUNCHER, ...args];
  const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const run: Run = { pid: p.pid!, out: '', exit: new Promise((resolve) => p.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null)))) };
  p.stdout!.on('data', (d: Buffer) => { run.out += d.toString(); });
  return run;
}

/** cgroup directories of container `name` (ns-run-NAME-PID, in any hierarchy), from outside. */
const cgroupsOf = (name: string) => cgroupDirs(`ns-run-${name}-`);

describe('ns-run in place with limits (as root)', () => {
  it('--memory and --pids-limit: no Node stays; the program in the payload cgroup, the supervisor outside; all removed at the end', async () => {
    const name = uniqueName('inplace-cg');
    const run = startInPlace(['--name', name, '--rootfs', rootfs, '--network', 'none', '--memory', '64M', '--pids-limit', '50', '--',
      'sh', '-c', 'echo started; read x < /dev/null; sleep 30 & wait']);
    const state = await running(name);
    const names = tree(run.pid).map(comm);
    expect(names[0]).to.equal('ns-supervise');
    expect(names).to.not.include('node');
    expect(cgroupsOf(name).length).to.be.greaterThan(0);
    // In every hierarchy (v1 memory and pids, and v2 where the relay and the program were born).
    for (const hierarchy of [/^\d+:memory:/, /^\d+:pids:/, /^0::/]) {
      const groupOf = (pid: number) => readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => hierarchy.test(l))!.split(':')[2]!;
      expect(groupOf(state.program!.pid), String(hierarchy)).to.match(new RegExp(`/ns-run-${name}-${run.pid}/payload$`));
      expect(groupOf(state.init!.pid), String(hierarchy)).to.match(new RegExp(`/ns-run-${name}-${run.pid}/init$`));
      expect(groupOf(run.pid), String(hierarchy)).to.not.include(`ns-run-${name}`);
    }
    process.kill(run.pid, 'SIGTERM');
    expect(await run.exit).to.equal(143);
    expect(cgroupsOf(name)).to.deep.equal([]);
  });

  it('SIGKILL of the supervisor: the next call removes the cgroups it left', async () => {
    const name = uniqueName('inplace-cgk');
    const run = startInPlace(['--name', name, '--rootfs', rootfs, '--network', 'none', '--memory', '64M', '--', 'sleep', '60']);
    const state = await running(name);
    process.kill(run.pid, 'SIGKILL');
    await run.exit;
    await until('the container to die', () => !alive(state.init!.pid));
    expect(cgroupsOf(name).length, 'no cleanup ran').to.be.greaterThan(0);
    ok(cli(['ps', '-a']));
    expect(cgroupsOf(name)).to.deep.equal([]);
  });
});

describe('ns-run in place on a network, as an ordinary user', function () {
  this.timeout(120_000);
  let user: ThrowawayUser;
  before(() => { user = new ThrowawayUser('inpnet'); });
  after(async () => {
    // The user's rootless network namespace holder outlives the runs (network/rootless.ts).
    const root = `/tmp/ns-run-${user.uid}`;
    try {
      process.kill((JSON.parse(readFileSync(join(root, 'netns.json'), 'utf8')) as { pid: number }).pid, 'SIGKILL');
    } catch {
      // none made, or gone already
    }
    rmSync(root, { recursive: true, force: true });
    await user?.remove();
  });

  it('joins the network\'s namespaces from its helper: no Node stays, eth0 is addressed, the status is the program\'s', async () => {
    const net = uniqueName('inpnet');
    const as = (args: readonly string[]) => user.argv([LAUNCHER, ...args]);
    const succeeds = (args: readonly string[]) => {
      const [file, ...rest] = as(args);
      const r = spawnSync(file!, rest, { encoding: 'utf8', cwd: '/' });
      expect(r.status, r.stderr).to.equal(0);
    };
    succeeds(['network', 'create', net]);
    const argv = as(['--network', net, '--', 'sh', '-c', 'ip -o -4 addr show eth0 | grep -c inet; sleep 30']);
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'], cwd: '/' });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    const exit = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
    await until('the program to start', () => out === '1\n');
    // setpriv execs ns-run in its own process: its pid is the supervisor's.
    const names = tree(p.pid!).map(comm);
    expect(names[0]).to.equal('ns-supervise');
    expect(names).to.not.include('node');
    process.kill(p.pid!, 'SIGTERM');
    expect(await exit).to.equal(143);
    succeeds(['network', 'rm', net]);
  });
});

for (const rootless of [false, true]) {
  describe(`ns-run in place${rootless ? ', rootless' : ', as root'}`, () => {
    it('no Node process stays: ns-run\'s pid is the C supervisor; the exit status is the program\'s; nothing is left', async () => {
      const name = uniqueName(`inplace${rootless ? 'r' : ''}`);
      const run = startInPlace(['--name', name, '--rootfs', rootfs, '--', 'sh', '-c', 'echo "uid=$(id -u) pid=$$"; read x < /dev/null; sleep 30 & wait'], rootless);
      await until('the program', () => run.out.includes('uid='));
      await until('sleep', () => tree(run.pid).some((p) => comm(p) === 'sleep'));
      const names = tree(run.pid).map(comm);
      expect(names[0]).to.equal('ns-supervise');
      expect(names).to.not.include('node');
      expect(run.out).to.match(/^uid=0 pid=2\n/);
      const file = join(stateDir(rootless), 'containers', `${name}.json`);
      expect(existsSync(file)).to.equal(true);
      process.kill(run.pid, 'SIGTERM');
      expect(await run.exit).to.equal(143);
      await until('the state to go', () => !existsSync(file));
      if (!rootless) expect(readdirSync('/sys/class/net').filter((l) => l.startsWith('nsr'))).to.satisfy((l: string[]) => l.every((x) => !x.includes(name)));
    });

    it('SIGKILL of the supervisor takes the container down; the next call reclaims its state (and, as root, its subnet lease)', async () => {
      const name = uniqueName(`inplace-kill${rootless ? 'r' : ''}`);
      const run = startInPlace(['--name', name, '--rootfs', rootfs, ...(rootless ? [] : ['--network', 'veth']), '--', 'sleep', '60'], rootless);
      const state = await running(name, rootless);
      const file = join(stateDir(rootless), 'containers', `${name}.json`);
      const leases = () => readdirSync(join(stateDir(rootless), 'subnets'));
      const address = (JSON.parse(readFileSync(file, 'utf8')) as { address?: string }).address;
      const lease = address?.replace(/\d+$/, (d) => String(Number(d) & ~3));
      if (!rootless) expect(leases()).to.include(lease);
      process.kill(run.pid, 'SIGKILL');
      expect(await run.exit).to.equal(-1);
      await until('the container to die', () => !alive(state.init!.pid) && !alive(state.program!.pid));
      // No cleanup of its ran: the state stays until the next ns-run call (this one, or any
      // other's on this machine), which reclaims it.
      expect(ok(cli(['ps', '-a'], { rootless }))).to.not.include(name);
      expect(existsSync(file)).to.equal(false);
      if (!rootless) expect(leases()).to.not.include(lease);
    });

    it('a program killed from outside (kill -9 of PID 1): ns-run exits 137 as docker, not killed itself', async () => {
      const name = uniqueName(`inplace-k9${rootless ? 'r' : ''}`);
      const run = startInPlace(['--name', name, '--rootfs', rootfs, '--', 'sleep', '60'], rootless);
      const state = await running(name, rootless);
      process.kill(state.init!.pid, 'SIGKILL');
      expect(await run.exit).to.equal(137);
    });

    it('exit codes: the program\'s, and 127 for a program the root lacks', async () => {
      const code = startInPlace(['--rootfs', rootfs, '--', 'sh', '-c', 'exit 7'], rootless);
      expect(await code.exit).to.equal(7);
      const missing = startInPlace(['--rootfs', rootfs, '--', 'no-such-program'], rootless);
      expect(await missing.exit).to.equal(127);
    });
  });
}
