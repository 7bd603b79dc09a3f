import { expect } from 'chai';
import { spawn as nodeSpawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileInPlace, compileSpawn, liveChildren, NsError, spawn } from 'ns-core';
import { commOf as comm, descendantsOf, gone, waitFor } from 'ns-test-kit';
import {
  CgroupGroup, cgroup, supervisedCgroup, cgroupIn, detectCgroupLayout, directoryOf, hierarchiesFor, hierarchyFor, parseBytes,
  parseCgroupMounts, parseCpus, parseLimits, parsePidsMax, parseProcCgroup, planLimitWrites, readProcessCgroups,
  removeGroupDirectories, removeRecordedGroup, startInGroupStep,
  type CgroupHierarchy, type CgroupLayout,
} from '../src/index';

const CLI = join(__dirname, '../../bin/ns-cgroup.js');
const BIN = join(__dirname, '../../../../node_modules/.bin');
const TAG = `nstest-${process.pid}`;

const HYBRID_MOUNTINFO = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  '50 31 0:32 /sub /mnt/memory\\040copy rw,relatime - cgroup cgroup rw,memory',
].join('\n');
const KNOWN = ['cpu', 'cpuacct', 'memory', 'pids', 'hugetlb'];
const hybrid = parseCgroupMounts(HYBRID_MOUNTINFO, KNOWN, () => ['hugetlb']);
const pureV2 = parseCgroupMounts('29 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate', KNOWN, () => ['cpu', 'memory', 'pids']);

function cli(args: readonly string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

/** Every hierarchy's directory for this process's own cgroup: where relative groups go. */
function ownDirectories(layout: CgroupLayout): string[] {
  const own = readProcessCgroups('self');
  return [...(layout.v2 ? [layout.v2] : []), ...layout.v1]
    .map((h) => ({ h, path: cgroupIn(own, h) }))
    .filter((x): x is { h: CgroupHierarchy; path: string } => x.path !== undefined)
    .map(({ h, path }) => directoryOf(h, path));
}

/** Groups of ours (named after this test process) left anywhere under our own cgroups. */
function leftovers(layout: CgroupLayout): string[] {
  return ownDirectories(layout).flatMap((d) => readdirSync(d).filter((n) => n.startsWith(TAG) || n.startsWith(`ns-cgroup-${process.pid}-`)).map((n) => join(d, n)));
}

const cmdline = (pid: number) => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim(); } catch { return ''; } };

/** The directory the process is in, in the hierarchy carrying `controller` (seen from outside). */
function groupDirOf(pid: number, layout: CgroupLayout, controller: string): string {
  const h = hierarchyFor(layout, controller)!;
  return directoryOf(h, cgroupIn(readProcessCgroups(pid), h)!);
}

describe('ns-cgroup', () => {
  describe('layout, limits and plan (no privileges)', () => {
    it('reads v1 hierarchies and the v2 mount from mountinfo, controllers from /proc/cgroups', () => {
      expect(hybrid.v2).to.deep.equal({ version: 2, mountPoint: '/sys/fs/cgroup/unified', root: '/', controllers: ['hugetlb'] });
      expect(hybrid.v1.map((h) => [h.mountPoint, h.controllers.join(',')])).to.deep.equal([
        ['/sys/fs/cgroup/cpu', 'cpu'], ['/sys/fs/cgroup/memory', 'memory'], ['/sys/fs/cgroup/pids', 'pids'],
        ['/sys/fs/cgroup/systemd', 'name=systemd']]);
      const escaped = parseCgroupMounts(HYBRID_MOUNTINFO.split('\n').at(-1)!, KNOWN, () => []);
      expect(escaped.v1[0]).to.deep.include({ mountPoint: '/mnt/memory copy', root: '/sub' });
      expect(pureV2.v1).to.deep.equal([]);
    });

    it('parses /proc/PID/cgroup and maps cgroup paths to directories', () => {
      const lines = parseProcCgroup('4:memory:/a/b\n1:cpu,cpuacct:/\n0::/user.slice\n');
      expect(lines[1]).to.deep.equal({ hierarchyId: 1, controllers: ['cpu', 'cpuacct'], path: '/' });
      expect(cgroupIn(lines, hybrid.v2!)).to.equal('/user.slice');
      expect(cgroupIn(lines, hybrid.v1[1]!)).to.equal('/a/b');
      expect(directoryOf(hybrid.v1[1]!, '/a/b')).to.equal('/sys/fs/cgroup/memory/a/b');
      const bound: CgroupHierarchy = { version: 1, mountPoint: '/m', root: '/sub', controllers: ['memory'] };
      expect(directoryOf(bound, '/sub/x')).to.equal('/m/x');
      expect(() => directoryOf(bound, '/other')).to.throw(/cgroup \/other is not visible under \/m/);
    });

    it('parses limits and names option and value when they are wrong', () => {
      expect(parseBytes('--memory', '64M')).to.equal(64 * 2 ** 20);
      expect(parseBytes('--memory', '1.5GiB')).to.equal(1.5 * 2 ** 30);
      expect(parseBytes('--memory', 4096)).to.equal(4096);
      expect(parseBytes('--memory', 'max')).to.equal('max');
      expect(parsePidsMax('--pids-max', '5')).to.equal(5);
      expect(parseCpus('--cpus', '0.5')).to.deep.equal({ quotaUs: 50000, periodUs: 100000 });
      expect(() => parseBytes('--memory', '12Q')).to.throw("--memory: '12Q' is not a size in bytes");
      expect(() => parseBytes('--memory', '0')).to.throw(/'0' is not a size/);
      expect(() => parsePidsMax('--pids-max', '0')).to.throw("--pids-max: '0' is not a positive number of tasks or max");
      expect(() => parseCpus('--cpus', '0.001')).to.throw("--cpus: '0.001' is not a number of CPUs of at least 0.01");
      expect(() => parseCpus('--cpus', '-1')).to.throw(/'-1' is not a number of CPUs/).with.property('code', 'EUSAGE');
    });

    it('writes v1 files where v1 holds the controller, v2 files where v2 offers it', () => {
      const limits = parseLimits({ memory: '16M', pidsMax: 5, cpus: 1.5 });
      expect(planLimitWrites(limits, hybrid).map((w) => `${w.hierarchy.mountPoint}/${w.file}=${w.value}`)).to.deep.equal([
        '/sys/fs/cgroup/memory/memory.limit_in_bytes=16777216', '/sys/fs/cgroup/pids/pids.max=5',
        '/sys/fs/cgroup/cpu/cpu.cfs_period_us=100000', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us=150000']);
      expect(planLimitWrites(limits, pureV2).map((w) => `${w.file}=${w.value}`)).to.deep.equal([
        'memory.max=16777216', 'pids.max=5', 'cpu.max=150000 100000']);
      expect(() => planLimitWrites(parseLimits({ pidsMax: 5 }), { v1: [] }))
        .to.throw('--pids-max: no pids controller here').with.property('code', 'ENOTSUP');
    });

    it('a group spans v2 plus the v1 hierarchies of its limits', () => {
      expect(hierarchiesFor(hybrid, ['memory']).map((h) => h.mountPoint)).to.deep.equal(['/sys/fs/cgroup/unified', '/sys/fs/cgroup/memory']);
      expect(hierarchiesFor(pureV2, ['memory', 'pids'])).to.deep.equal([pureV2.v2]);
      expect(hierarchiesFor({ v1: hybrid.v1 }, []).map((h) => h.mountPoint)).to.not.include('/sys/fs/cgroup/systemd');
    });

    it('plans: no group -> clone a cgroup namespace; a group -> move first, unshare after the parent is done', () => {
      expect(compileSpawn(['true'], { steps: [cgroup()] }, new Map()).plan.cloneKinds).to.deep.equal(['cgroup']);
      const { plan, parentActions } = compileSpawn(['true'], { steps: [cgroup({ pidsMax: 3 })] }, new Map());
      expect(plan.cloneKinds).to.deep.equal([]);
      expect(parentActions.map((a) => a.action)).to.deep.equal(['call']);
      const ops = plan.ops.map((o) => o.op);
      expect(ops.indexOf('sync')).to.be.lessThan(ops.indexOf('unshare'));
      expect(ops.indexOf('unshare')).to.be.lessThan(ops.indexOf('exec'));
      expect(() => cgroup({ path: 'a/../b' })).to.throw(/--cgroup-path: 'a\/..\/b' is not a cgroup path/);
    });

    it('in place: the program\'s own process makes, limits and joins the group before its cgroup namespace; a supervisor removes it', () => {
      const { step, cleanup } = supervisedCgroup({ path: `${TAG}-plan/a`, pidsMax: 3 });
      const layout = detectCgroupLayout();
      const ops = step.child!;
      const kinds = ops.map((o) => (o.op === 'write-file' ? `${o.op} ${o.path.split('/').pop()}` : o.op));
      const hierarchies = hierarchiesFor(layout, ['pids']);
      const dirs = hierarchies.length;
      // The process moves itself: cgroup.procs in v2, tasks in v1 (a thread moving itself takes no global lock).
      const joins = hierarchies.map((h) => `write-file ${h.version === 2 ? 'cgroup.procs' : 'tasks'}`);
      expect(kinds).to.deep.equal([...Array(2 * dirs).fill('mkdir'), 'write-file pids.max', ...joins, 'unshare']);
      expect(ops.every((o) => o.phase === (o.op === 'unshare' ? 'namespaces' : 'pre-namespaces'))).to.equal(true);
      expect(ops.filter((o) => o.op === 'write-file' && /\/(cgroup\.procs|tasks)$/.test(o.path)).every((o) => o.op === 'write-file' && o.data === '0')).to.equal(true);
      // Deepest first, v2's first (its cgroup.kill ends what v1's groups hold too).
      const removed = cleanup.map((c) => ('rmcgroup' in c ? c.rmcgroup : ''));
      expect(removed).to.have.length(2 * dirs);
      expect(removed[0]).to.match(new RegExp(`^${layout.v2 ? layout.v2.mountPoint : '/'}.*/${TAG}-plan/a$`));
      expect(removed[1]).to.match(new RegExp(`/${TAG}-plan$`));
      const { plan } = compileInPlace(['true'], { steps: [step], supervise: { cleanup } }, new Map(), 1);
      const order = plan.ops.map((o) => o.op);
      expect(order.indexOf('fork'), 'the supervisor stays outside the group').to.be.lessThan(order.indexOf('mkdir'));
      expect(supervisedCgroup({}).cleanup, 'no group: nothing to remove').to.deep.equal([]);
    });
  });

  describe('startInGroupStep: a process born in its group', () => {
    it('starts in the v2 directory by clone3, and writes 0 to tasks in each v1 one (no pid moved)', () => {
      const dirs = ['/sys/fs/cgroup/unified/g', '/sys/fs/cgroup/cpu/g', '/sys/fs/cgroup/memory/a/g'];
      const step = startInGroupStep(dirs, hybrid, 'linux.cgroupsPath');
      expect(step.startInCgroup).to.equal('/sys/fs/cgroup/unified/g');
      expect(step.child).to.deep.equal(['/sys/fs/cgroup/cpu/g', '/sys/fs/cgroup/memory/a/g'].map((d) => (
        { op: 'write-file', path: `${d}/tasks`, data: '0', phase: 'pre-namespaces', step: 'linux.cgroupsPath' })));
      const v2only = startInGroupStep(['/sys/fs/cgroup/g'], pureV2, 's');
      expect(v2only).to.deep.equal({ name: 's', startInCgroup: '/sys/fs/cgroup/g', child: [] });
      // A v1 mount below the v2 one (never seen, but the deepest mount decides).
      const nested = parseCgroupMounts(['1 0 0:1 / /c rw - cgroup2 cgroup2 rw', '2 1 0:2 / /c/pids rw - cgroup cgroup rw,pids'].join('\n'), KNOWN, () => []);
      expect(startInGroupStep(['/c/pids/g', '/c/g'], nested, 's').startInCgroup).to.equal('/c/g');
    });

    it('against the kernel: the program is in the group in every hierarchy from its start, its cgroup namespace rooted there', async () => {
      const layout = detectCgroupLayout();
      const group = CgroupGroup.open(`${TAG}-born`, { layout, controllers: ['memory', 'pids', 'cpu'] });
      try {
        const dirs = group.directories.map((d) => d.dir);
        const step = startInGroupStep(dirs, layout, 'born');
        const child = await spawn(['sleep', '10'], { steps: [step] });
        try {
          for (const d of dirs) expect(readFileSync(`${d}/cgroup.procs`, 'utf8').trim(), d).to.equal(String(child.pid));
        } finally {
          child.kill('SIGKILL');
          await child.exited;
        }
        const inNs = await spawn(['cat', '/proc/self/cgroup'], { create: ['cgroup'], steps: [step], stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        inNs.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
        await inNs.exited;
        await new Promise((r) => setImmediate(r));
        const lines = out.trim().split('\n');
        // Each hierarchy it joined shows '/' (the namespace's root); name=systemd stays as it was.
        expect(lines.filter((l) => !l.includes('name=')).every((l) => l.endsWith(':/')), out).to.equal(true);
      } finally {
        await group.remove();
      }
    });
  });

  describe('against the kernel', () => {
    const layout = detectCgroupLayout();
    afterEach(() => {
      expect(liveChildren()).to.equal(0);
      expect(leftovers(layout)).to.deep.equal([]);
    });

    it('detects this machine consistently: every hierarchy is mounted and has the files its version has', () => {
      for (const h of [...(layout.v2 ? [layout.v2] : []), ...layout.v1]) {
        expect(existsSync(join(h.mountPoint, 'cgroup.procs')), h.mountPoint).to.equal(true);
      }
      if (layout.v2) {
        expect(layout.v2.controllers).to.deep.equal(readFileSync(join(layout.v2.mountPoint, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean));
      }
      for (const c of ['memory', 'pids', 'cpu']) expect(hierarchyFor(layout, c), c).to.not.equal(undefined);
    });

    it('the program sees its group as / like unshare -C run in it; outside, it is in the group', async () => {
      const group = `${TAG}-joined`;
      const existing = CgroupGroup.open(group, { layout });
      const dirs = existing.directories.map((d) => d.dir);
      try {
        const ours = cli(['--cgroup-path', group, '--', 'cat', '/proc/self/cgroup']);
        const moveSelf = dirs.map((d) => `echo $$ > ${d}/cgroup.procs`).join(' && ');
        const theirs = spawnSync('sh', ['-c', `${moveSelf} && exec unshare -C cat /proc/self/cgroup`], { encoding: 'utf8' });
        expect(ours.stderr).to.equal('');
        expect(ours.stdout).to.equal(theirs.stdout);
        expect(ours.stdout.trim().split('\n').every((l) => l.endsWith(':/'))).to.equal(true);

        const child = await spawn(['sleep', '10'], { steps: [cgroup({ path: group })] });
        try {
          const seen = readProcessCgroups(child.pid);
          for (const d of dirs) expect(readFileSync(`${d}/cgroup.procs`, 'utf8').split('\n')).to.include(String(child.pid));
          expect(seen.some((c) => c.path.endsWith(`/${group}`))).to.equal(true);
        } finally {
          child.kill('SIGKILL');
          await child.exited;
        }
        for (const d of dirs) expect(existsSync(d), `${d} joined, so kept`).to.equal(true);
      } finally {
        await existing.remove();
      }
    });

    it('pids.max=5: a shell cannot fork a fifth child; what it left behind is killed and the group removed', async () => {
      const marker = `3${process.pid % 1000}.5`;
      const script = `for i in 1 2 3 4 5 6; do sleep ${marker} & echo started $i; done; wait`;
      const child = await spawn(['sh', '-c', script], { steps: [cgroup({ pidsMax: 5 })], stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout!.on('data', (b: Buffer) => { out += b; });
      child.stderr!.on('data', (b: Buffer) => { err += b; });
      const status = await child.exited;
      expect(out.trim().split('\n')).to.deep.equal(['started 1', 'started 2', 'started 3', 'started 4']);
      expect(err).to.match(/fork/i);
      expect(status.code).to.not.equal(0);
      expect(spawnSync('pgrep', ['-f', `sleep ${marker}`]).status, 'no sleep left running').to.equal(1);
    });

    it('--memory: a hog is killed by the OOM killer inside the group', () => {
      const res = cli(['--memory', '16M', '--', 'sh', '-c', 'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo survived']);
      expect(res.stdout).to.equal('');
      expect(res.signal ?? res.status).to.be.oneOf(['SIGKILL', 137]);
      expect(cli(['--memory', '64M', '--', 'sh', '-c', 'x=$(head -c 1000000 /dev/zero | tr "\\0" a); echo survived']).stdout).to.equal('survived\n');
    });

    it('--cpus and --pids-max are visible from outside in the files the kernel reads', async () => {
      const limits = parseLimits({ cpus: '0.5', pidsMax: 7 });
      const child = await spawn(['sleep', '10'], { steps: [cgroup({ cpus: '0.5', pidsMax: 7, path: `${TAG}-limits/inner` })] });
      try {
        for (const w of planLimitWrites(limits, layout)) {
          expect(readFileSync(join(groupDirOf(child.pid, layout, w.controller), w.file), 'utf8').trim(), w.file).to.equal(w.value);
        }
        expect(groupDirOf(child.pid, layout, 'pids').endsWith(`/${TAG}-limits/inner`)).to.equal(true);
      } finally {
        child.kill('SIGKILL');
        await child.exited;
      }
    });

    it('a limit the kernel refuses fails the spawn naming the option, and leaves no group behind', async () => {
      try {
        await spawn(['true'], { steps: [cgroup({ memory: '32M', pidsMax: 99999999 })] });
        expect.fail('expected EINVAL');
      } catch (e) {
        expect(e).to.be.instanceOf(NsError).and.include({ code: 'EINVAL', step: '--pids-max' });
      }
      const res = cli(['--pids-max', '99999999', 'true']);
      expect(res.status).to.equal(1);
      expect(res.stderr).to.match(/^ns-cgroup: --pids-max: write \S+\/pids\.max failed: EINVAL/);
    });

    it('bad input exits 1 with one line naming the option and value, creating nothing', () => {
      for (const [args, message] of [
        [['--memory', 'lots'], "ns-cgroup: --memory: 'lots' is not a size in bytes"],
        [['--pids-max', 'x'], "ns-cgroup: --pids-max: 'x' is not a positive number"],
        [['--cpus', 'half'], "ns-cgroup: --cpus: 'half' is not a number of CPUs"],
        [['--cgroup-path', `${TAG}/../x`], `ns-cgroup: --cgroup-path: '${TAG}/../x' is not a cgroup path`],
      ] as const) {
        const res = cli([...args, 'true']);
        expect(res.status).to.equal(1);
        expect(res.stderr.trim().split('\n')).to.have.length(1);
        expect(res.stderr.startsWith(message), res.stderr).to.equal(true);
      }
      expect(cli(['--net', 'true']).status).to.equal(1);
      expect(cli(['sh', '-c', 'exit 5']).status).to.equal(5);
    });

    it('CgroupGroup: created levels only are removed; removing a busy group needs killLeftovers', async () => {
      const group = CgroupGroup.open(`${TAG}-api/a/b`, { layout, controllers: ['pids'] });
      expect(group.created.length).to.equal(3 * group.directories.length);
      const child = await spawn(['sleep', '10'], {});
      try {
        group.addProcess(child.pid);
        expect(group.processes()).to.deep.equal([child.pid]);
        try {
          await group.remove();
          expect.fail('expected EBUSY');
        } catch (e) {
          expect((e as NsError).code).to.equal('EBUSY');
        }
        await group.remove({ killLeftovers: true });
        expect((await child.exited).signal).to.equal('SIGKILL');
        expect(group.created).to.deep.equal([]);
      } finally {
        child.kill('SIGKILL');
        await child.exited;
      }
    });

    it('removeGroupDirectories: deepest first; busy ones named and the rest still removed; recorded leaves killed, a shared level kept', async () => {
      const h = hierarchiesFor(layout, ['pids'])[0]!;
      const top = directoryOf(h, `${cgroupIn(readProcessCgroups('self'), h)!.replace(/\/+$/, '')}/${TAG}-rm`);
      const [leaf, other] = [`${top}/leaf`, `${top}/other`];
      for (const dir of [top, leaf, other]) mkdirSync(dir);
      const child = await spawn(['sleep', '10'], {});
      try {
        writeFileSync(`${leaf}/cgroup.procs`, String(child.pid));
        const left = removeGroupDirectories([top, leaf, `${top}/never-made`, other]);
        expect(left.map((l) => [l.path, l.error.code, l.error.syscall])).to.deep.equal([[leaf, 'EBUSY', 'rmdir'], [top, 'EBUSY', 'rmdir']]);
        expect(existsSync(other)).to.equal(false);
        mkdirSync(other);
        // top still holds `other`, made by someone else: shared, so kept without an error.
        removeRecordedGroup([top, leaf], [leaf]);
        expect((await child.exited).signal).to.equal('SIGKILL');
        expect([existsSync(leaf), existsSync(top)]).to.deep.equal([false, true]);
        expect(() => removeRecordedGroup([top], [top])).to.throw(NsError).with.property('code', 'EBUSY');
      } finally {
        child.kill('SIGKILL');
        await child.exited;
        for (const dir of [leaf, other, top]) if (existsSync(dir)) rmdirSync(dir);
      }
    });

    it('in place: no Node process while the program runs; the group goes with it, also after SIGKILL, and so does what it left', async () => {
      const marker = `4${process.pid % 1000}.25`;
      const p = nodeSpawn(process.execPath, [CLI, '--pids-max', '9', '--', 'sh', '-c', `sleep ${marker} & exec sleep ${marker}1`], { stdio: 'ignore' });
      const program = await waitFor('the program', () => descendantsOf(p.pid!).find((c) => comm(c) === 'sleep' && cmdline(c).endsWith(`${marker}1`)));
      // The background sleep is sh's fork until its own exec, which may come after the program's.
      await waitFor('the background sleep', () => descendantsOf(p.pid!).some((c) => comm(c) === 'sleep' && cmdline(c).endsWith(`${marker}`)));
      try {
        const tree = [p.pid!, ...descendantsOf(p.pid!)];
        expect(tree.map(comm).sort()).to.deep.equal(['ns-supervise', 'sleep', 'sleep']);
        const dir = groupDirOf(program, layout, 'pids');
        expect(dir.endsWith(`/ns-cgroup-${p.pid}-1`), dir).to.equal(true);
        expect(readFileSync(join(dir, 'pids.max'), 'utf8')).to.equal('9\n');
        expect(readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim().split('\n')).to.have.length(2);
        expect(groupDirOf(p.pid!, layout, 'pids'), 'the supervisor stays outside').not.to.equal(dir);
        process.kill(program, 'SIGKILL');
        const status = await new Promise((r) => p.once('exit', (code, signal) => r(signal ?? code)));
        expect(status).to.equal('SIGKILL');
        expect(existsSync(dir)).to.equal(false);
        expect(spawnSync('pgrep', ['-f', `sleep ${marker}`]).status, 'what it left was killed').to.equal(1);
      } finally {
        p.kill('SIGKILL');
        await gone(p.pid!);
      }
    });

    it('rootless under ns-user -r as nobody: same view as unshare -rC', () => {
      const asNobody = (argv: string[]) => spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...argv], { encoding: 'utf8', cwd: '/' });
      const ours = asNobody([join(BIN, 'ns-user'), '-r', '--', join(BIN, 'ns-cgroup'), '--', 'cat', '/proc/self/cgroup']);
      const theirs = asNobody(['unshare', '-rC', 'cat', '/proc/self/cgroup']);
      expect(ours.stderr).to.equal('');
      expect(ours.stdout).to.equal(theirs.stdout);
      expect(ours.stdout.trim().split('\n').every((l) => l.endsWith(':/'))).to.equal(true);
    });
  });
});
