/**
 * ns-run-oci's linux.resources under linux.cgroupsPath, read from outside: the program's own
 * /proc/PID/cgroup names its group in every hierarchy, the interface files there hold what
 * config.json asked, and after delete (also after a SIGKILLed create) no directory is left.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxRootfs, waitFor } from 'ns-test-kit';
import { ROOT } from './cli';

const OURS = join(ROOT, 'packages/ns-run/bin/ns-run-oci');

/** The host's cgroup mounts: v1 hierarchies by controller and the unified one. */
function hierarchies(): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const [fstype, , superOptions] = post.split(' ');
    const mountPoint = pre.split(' ')[4]!;
    if (fstype === 'cgroup2') out.set('', mountPoint);
    if (fstype === 'cgroup') for (const o of superOptions!.split(',')) if (!['rw', 'ro', 'relatime', 'nosuid', 'nodev', 'noexec'].includes(o)) out.set(o, mountPoint);
  }
  return out;
}

/** /proc/PID/cgroup as directories on the host: controller ('' for v2) -> directory. */
function groupDirs(pid: number): Map<string, string> {
  const mounts = hierarchies();
  const out = new Map<string, string>();
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n')) {
    const [, controllers, path] = line.split(':') as [string, string, string];
    for (const c of controllers === '' ? [''] : controllers.split(',')) {
      const m = mounts.get(c);
      if (m && !c.startsWith('name=')) out.set(c, join(m, path));
    }
  }
  return out;
}

function oci(root: string, args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(OURS, ['--root', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('ns-run-oci: linux.resources under cgroupsPath', function () {
  this.timeout(60000);
  let work: string;
  let root: string;
  const top = `nstools-oci-cg-${process.pid}`;

  function bundle(args: readonly string[], change: (spec: Record<string, any>) => void): string {
    rmSync(join(work, 'config.json'), { force: true });
    spawnSync('runc', ['spec', '--bundle', work]);
    const spec = JSON.parse(readFileSync(join(work, 'config.json'), 'utf8'));
    spec.process.terminal = false;
    spec.process.args = args;
    spec.process.capabilities = { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] };
    change(spec);
    writeFileSync(join(work, 'config.json'), JSON.stringify(spec));
    return work;
  }

  function leftovers(): string[] {
    return [...hierarchies().values()].map((m) => join(m, top)).filter((d) => existsSync(d));
  }

  before(() => {
    work = mkdtempSync(`/tmp/nstools-test-${process.pid}-ocicg-`);
    root = join(work, 'state');
    busyboxRootfs({ dir: join(work, 'rootfs') });
  });
  after(() => {
    for (const id of ['cg1', 'cg2', 'cg3', 'cg4']) oci(root, ['delete', '--force', id]);
    for (const d of leftovers().reverse()) spawnSync('rmdir', ['-p', '--ignore-fail-on-non-empty', join(d, 'leaf')]);
    rmSync(work, { recursive: true, force: true });
  });

  it('create: the parked program is in its group in every hierarchy, the limits there are config.json\'s; delete removes every level it made', () => {
    const path = `/${top}/parent/leaf`;
    bundle(['sleep', '60'], (spec) => {
      spec.linux.cgroupsPath = path;
      spec.linux.resources = {
        memory: { limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20 }, pids: { limit: 50 }, cpu: { shares: 512, quota: 50000, period: 100000 },
        devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 4, minor: 64, access: 'rw' }],
      };
    });
    // The container keeps create's stdio: its stderr to a file, not a pipe that would stay open.
    const errors = openSync(join(work, 'create.err'), 'w');
    const created = spawnSync(OURS, ['--root', root, 'create', '--bundle', work, '--pid-file', join(work, 'pid'), 'cg1'], { stdio: ['ignore', 'ignore', errors], timeout: 20000 });
    closeSync(errors);
    expect(created.status, readFileSync(join(work, 'create.err'), 'utf8')).to.equal(0);
    const pid = Number(readFileSync(join(work, 'pid'), 'utf8'));
    const dirs = groupDirs(pid);
    const v1 = [...hierarchies().keys()].filter((c) => c !== '' && !c.startsWith('name='));
    for (const c of [...v1, ...(hierarchies().has('') ? [''] : [])]) expect(dirs.get(c), `hierarchy '${c}'`).to.match(new RegExp(`/${top}/parent/leaf$`));
    const read = (c: string, file: string) => readFileSync(join(dirs.get(c)!, file), 'utf8').trim();
    expect(read('memory', 'memory.limit_in_bytes')).to.equal(String(64 << 20));
    expect(read('memory', 'memory.soft_limit_in_bytes')).to.equal(String(32 << 20));
    // OCI's swap is memory plus swap, as v1's memsw counts it (this host accounts swap)
    expect(read('memory', 'memory.memsw.limit_in_bytes')).to.equal(String(128 << 20));
    expect(read('pids', 'pids.max')).to.equal('50');
    expect(read('cpu', 'cpu.shares')).to.equal('512');
    expect(read('cpu', 'cpu.cfs_quota_us')).to.equal('50000');
    expect(read('cpu', 'cpu.cfs_period_us')).to.equal('100000');
    // deny-all, the spec's allow, then the runtime's default devices (null, zero, pts...), as runc leaves them.
    const devices = read('devices', 'devices.list').split('\n');
    expect(devices).to.include('c 4:64 rw');
    expect(devices).to.include('c 1:3 rwm');
    expect(devices).to.not.include('a *:* rwm');
    // the cpuset a new v1 group starts without, copied from its parent so the process could join
    expect(read('cpuset', 'cpuset.cpus')).to.equal(readFileSync(join(hierarchies().get('cpuset')!, 'cpuset.cpus'), 'utf8').trim());
    expect(oci(root, ['start', 'cg1']).status).to.equal(0);
    const del = oci(root, ['delete', '--force', 'cg1']);
    expect(del.status, del.stderr).to.equal(0);
    expect(leftovers()).to.deep.equal([]);
    // gone, or a zombie its new parent (the test's reaper, not ours) has yet to reap
    expect(existsSync(`/proc/${pid}`) ? readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] : 'gone').to.be.oneOf(['gone', 'Z']);
  });

  it('a cgroup namespace is rooted at the group (made after the move); exec joins the group; run cleans up', () => {
    bundle(['sh', '-c', 'cat /proc/self/cgroup | grep -c ":/$"; grep -c memory /proc/self/cgroup'], (spec) => {
      spec.linux.cgroupsPath = `/${top}`;
      spec.linux.namespaces.push({ type: 'cgroup' });
    });
    const r = oci(root, ['run', '--bundle', work, 'cg2']);
    expect(r.status, r.stderr).to.equal(0);
    // every line of /proc/self/cgroup is '/' inside (the v1 name=systemd one too, which we do not make, is outside the group: it shows its real path)
    const [rooted, memoryLines] = r.stdout.trim().split('\n').map(Number);
    expect(memoryLines).to.equal(1);
    expect(rooted).to.be.at.least(hierarchies().size - 1);
    expect(leftovers()).to.deep.equal([]);

    bundle(['sleep', '60'], (spec) => { spec.linux.cgroupsPath = `/${top}`; });
    expect(spawnSync(OURS, ['--root', root, 'create', '--bundle', work, '--pid-file', join(work, 'pid'), 'cg3'], { stdio: 'ignore', timeout: 20000 }).status).to.equal(0);
    expect(oci(root, ['start', 'cg3']).status).to.equal(0);
    const exec = oci(root, ['exec', 'cg3', 'cat', '/proc/self/cgroup']);
    expect(exec.status, exec.stderr).to.equal(0);
    expect(exec.stdout).to.match(new RegExp(`memory:/${top}\n`));
    expect(oci(root, ['delete', '--force', 'cg3']).status).to.equal(0);
    expect(leftovers()).to.deep.equal([]);
  });

  it('a bad resource names the field and leaves nothing; a create SIGKILLed once it made its group is reclaimed by delete --force', async () => {
    bundle(['sleep', '60'], (spec) => { spec.linux.cgroupsPath = `/${top}`; spec.linux.resources = { pids: { limit: 'many' } }; });
    const bad = oci(root, ['create', '--bundle', work, 'cg4']);
    expect(bad.status).to.not.equal(0);
    expect(bad.stderr).to.include('linux.resources.pids.limit');
    expect(leftovers()).to.deep.equal([]);
    expect(existsSync(join(root, 'cg4'))).to.equal(false);

    // A createRuntime hook that outlasts the test holds create past its group's making: the
    // SIGKILL lands mid-create however fast create is (it was once slow enough not to need it).
    bundle(['sleep', '60'], (spec) => {
      spec.linux.cgroupsPath = `/${top}`;
      spec.linux.resources = { pids: { limit: 10 } };
      spec.hooks = { createRuntime: [{ path: '/bin/sleep', args: ['sleep', '30'] }] };
    });
    const child = spawn(OURS, ['--root', root, 'create', '--bundle', work, 'cg4'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
    await waitFor('create made its group', () => leftovers().length > 0, 20000);
    child.kill('SIGKILL');
    expect(await exited, 'create was killed, not done').to.equal('SIGKILL');
    const del = oci(root, ['delete', '--force', 'cg4']);
    expect(del.status, del.stderr).to.equal(0);
    await waitFor('no group left', () => leftovers().length === 0, 5000);
    expect(existsSync(join(root, 'cg4'))).to.equal(false);
  });

  it('pause freezes the program (it stops counting), state says paused, resume thaws it; pause twice, resume when running and exec when paused fail as runc\'s do; delete --force of a paused one', async () => {
    const counter = join(work, 'count');
    bundle(['sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /data/count; sleep 0.05; done'], (spec) => {
      spec.linux.cgroupsPath = `/${top}`;
      spec.mounts.push({ destination: '/data', type: 'bind', source: work, options: ['rbind'] });
    });
    expect(spawnSync(OURS, ['--root', root, 'create', '--bundle', work, '--pid-file', join(work, 'pid'), 'cg1'], { stdio: 'ignore', timeout: 20000 }).status).to.equal(0);
    const pid = Number(readFileSync(join(work, 'pid'), 'utf8'));
    expect(oci(root, ['resume', 'cg1']).status, 'resume a created one').to.not.equal(0);
    expect(oci(root, ['start', 'cg1']).status).to.equal(0);
    await waitFor('counting', () => existsSync(counter) && Number(readFileSync(counter, 'utf8')) > 2);
    const paused = oci(root, ['pause', 'cg1']);
    expect(paused.status, paused.stderr).to.equal(0);
    expect(paused.stdout).to.equal('');
    expect(JSON.parse(oci(root, ['state', 'cg1']).stdout).status).to.equal('paused');
    const freezer = groupDirs(pid).get('freezer')!;
    expect(readFileSync(join(freezer, 'freezer.state'), 'utf8').trim()).to.equal('FROZEN');
    const at = readFileSync(counter, 'utf8');
    await new Promise((r) => setTimeout(r, 400));
    expect(readFileSync(counter, 'utf8'), 'no count while frozen').to.equal(at);
    expect(oci(root, ['pause', 'cg1']).status, 'pause twice').to.not.equal(0);
    expect(oci(root, ['exec', 'cg1', 'true']).status, 'exec while paused').to.not.equal(0);
    expect(oci(root, ['delete', 'cg1']).status, 'delete while paused, without --force').to.not.equal(0);
    expect(oci(root, ['resume', 'cg1']).status).to.equal(0);
    expect(JSON.parse(oci(root, ['state', 'cg1']).stdout).status).to.equal('running');
    await waitFor('counting again', () => readFileSync(counter, 'utf8') !== at);
    expect(oci(root, ['resume', 'cg1']).status, 'resume a running one').to.not.equal(0);
    expect(oci(root, ['pause', 'cg1']).status).to.equal(0);
    const del = oci(root, ['delete', '--force', 'cg1']);
    expect(del.status, del.stderr).to.equal(0);
    expect(leftovers()).to.deep.equal([]);
  });

  it('ps lists the processes of the container\'s group (the host\'s pid namespace shared: not the host\'s), kill --all ends them all', async () => {
    bundle(['sh', '-c', 'sleep 600 & sleep 600 & wait'], (spec) => {
      spec.linux.cgroupsPath = `/${top}`;
      spec.linux.namespaces = spec.linux.namespaces.filter((n: { type: string }) => n.type !== 'pid');
    });
    expect(spawnSync(OURS, ['--root', root, 'create', '--bundle', work, '--pid-file', join(work, 'pid'), 'cg2'], { stdio: 'ignore', timeout: 20000 }).status).to.equal(0);
    const pid = Number(readFileSync(join(work, 'pid'), 'utf8'));
    expect(oci(root, ['start', 'cg2']).status).to.equal(0);
    const group = join(hierarchies().get('pids')!, top, 'cgroup.procs');
    await waitFor('two sleeps', () => readFileSync(group, 'utf8').trim().split('\n').length === 3);
    const ps = oci(root, ['ps', '--format', 'json', 'cg2']);
    expect(ps.status, ps.stderr).to.equal(0);
    const listed = JSON.parse(ps.stdout) as number[];
    expect(listed[0]).to.equal(pid);
    expect([...listed].sort((a, b) => a - b)).to.deep.equal(readFileSync(group, 'utf8').trim().split('\n').map(Number).sort((a, b) => a - b));
    expect(oci(root, ['kill', '--all', 'cg2', 'KILL']).status).to.equal(0);
    await waitFor('the group empty', () => readFileSync(group, 'utf8').trim() === '');
    expect(oci(root, ['delete', 'cg2']).status).to.equal(0);
    expect(leftovers()).to.deep.equal([]);
  });
});
