import { expect } from 'chai';
import { spawnSync, spawn as nodeSpawn } from 'node:child_process';
import { chmodSync, closeSync, constants, copyFileSync, fstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  KIND_NAMES, Namespace, NsError, liveChildren, pollPipe, seccomp, spawn, sys, type NamespaceKind, type PhasedOp, type Step,
} from '../src/index';
import { execStage } from '../src/exec/native';
import { childrenOf, freshNodeRun, gone, mountPoints as mounts, nsInode, openFds, programOutput, stateOf, waitFor } from 'ns-test-kit';

/** A single-id user namespace map, written by the parent: enough for ns-core's own tests. */
function mapSelf(uid = process.getuid!(), gid = process.getgid!()): Step {
  return {
    name: 'test-map', create: ['user'],
    parent: [
      { action: 'write-proc', file: 'uid_map', data: `0 ${uid} 1\n` },
      { action: 'write-proc', file: 'setgroups', data: 'deny' },
      { action: 'write-proc', file: 'gid_map', data: `0 ${gid} 1\n` },
    ],
  };
}


const procName = (k: NamespaceKind) => (k === 'pid' ? 'pid_for_children' : k === 'time' ? 'time_for_children' : k);

describe('spawn', () => {
  describe('new namespaces, checked from outside', () => {
    const host = Object.fromEntries(KIND_NAMES.map((k) => [k, nsInode('self', k)]));

    for (const kind of KIND_NAMES) {
      it(`creates exactly a new ${kind} namespace`, async () => {
        const child = await spawn(['sleep', '10'], { create: [kind] });
        try {
          for (const k of KIND_NAMES) {
            const inode = nsInode(child.pid, procName(k));
            if (k === kind) expect(inode, k).not.to.equal(host[k]);
            else expect(inode, k).to.equal(host[k]);
          }
          expect(child.namespaces[kind]).to.equal(nsInode(child.pid, procName(kind)));
        } finally {
          child.kill('SIGKILL');
          await child.exited;
        }
      });
    }

    it('creates all eight together, and a program inside sees pid 1 and its own /proc', async () => {
      const steps: Step[] = [mapSelf(), { name: 'proc', child: [
        { op: 'mount', target: '/', flags: ['REC', 'PRIVATE'], phase: 'propagation' },
        { op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', flags: ['NOSUID', 'NODEV', 'NOEXEC'], phase: 'mounts', step: '--mount-proc' },
      ] }];
      const child = await spawn(['sh', '-c', 'echo $$; ls /proc | grep -c "^[0-9]"; id -u'],
        { create: [...KIND_NAMES], steps, stdio: ['ignore', 'pipe', 'inherit'] });
      // Ids were captured while the child waited at the sync point, before it could exit.
      const outside = KIND_NAMES.filter((k) => child.namespaces[k] === host[k]);
      const r = await programOutput(child);
      expect(outside).to.deep.equal([]);
      const [pid, nprocs, uid] = r.out.trim().split('\n');
      expect(pid).to.equal('1');
      expect(Number(nprocs)).to.be.within(1, 3);
      expect(uid).to.equal('0');
    });

    it('waits for exec without blocking the event loop when asked (waitForExec: async)', async () => {
      // The child blocks before exec opening a FIFO for writing; only a timer of ours opening
      // it for reading lets it go on, which a blocked event loop could never run.
      const dir = mkdtempSync(join(tmpdir(), 'nsx-'));
      const fifo = join(dir, 'fifo');
      expect(spawnSync('mkfifo', [fifo]).status).to.equal(0);
      let reader = -1;
      const timer = setTimeout(() => { reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK); }, 20);
      try {
        const child = await spawn(['true'], { waitForExec: 'async', steps: [{ name: 'slow', child: [
          { op: 'mkfile', path: fifo, phase: 'final' }] }] });
        expect(reader).to.be.greaterThan(-1);
        expect(await child.exited).to.deep.equal({ code: 0, signal: null });
      } finally {
        clearTimeout(timer);
        if (reader >= 0) closeSync(reader);
        rmSync(dir, { recursive: true });
      }
    });

    it('waitForExec: async reads the status pipe without loading node:net, records and errors as blocking does', () => {
      // A fresh process: this one has loaded node:net long ago (mocha, stdio pipes).
      const script = `
        const { spawn } = require(${JSON.stringify(join(__dirname, '../src/index.js'))});
        const fds = () => require('fs').readdirSync('/proc/self/fd').length;
        (async () => {
          const before = fds();
          const ok = await spawn(['true'], { waitForExec: 'async', create: ['user', 'uts'], steps: [{ name: 'map', parent: [
            { action: 'write-proc', file: 'uid_map', data: '0 ' + process.getuid() + ' 1' },
            { action: 'write-proc', file: 'setgroups', data: 'deny' },
            { action: 'write-proc', file: 'gid_map', data: '0 ' + process.getgid() + ' 1' }] }] });
          const status = await ok.exited;
          const failed = await spawn(['/no/such/program'], { waitForExec: 'async', create: ['uts'] }).then(() => 'spawned', (e) => e.code + ' ' + e.step);
          report({ status, uts: typeof ok.namespaces.uts, failed, fdsLeft: fds() - before });
        })().catch((e) => { console.error(e); process.exit(9); });`;
      const { added, value } = freshNodeRun(script);
      expect(value).to.deep.equal({ status: { code: 0, signal: null }, uts: 'number', failed: 'ENOENT exec', fdsLeft: 0 });
      expect(added).to.not.include('net');
    });

    it('reports namespace ids even when the new root has no /proc', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'nsx-root-'));
      copyFileSync('/bin/busybox', join(dir, 'busybox'));
      chmodSync(join(dir, 'busybox'), 0o755);
      try {
        const child = await spawn(['/busybox', 'true'], { create: ['mnt', 'uts'], steps: [{ name: 'root', child: [
          { op: 'chroot', path: dir, phase: 'root' }, { op: 'chdir', path: '/', phase: 'after-root' }] }] });
        expect(await child.exited).to.deep.equal({ code: 0, signal: null });
        expect(child.namespaces.uts).to.be.a('number').and.not.equal(host['uts']);
        expect(child.namespaces.net).to.equal(host['net']);
      } finally {
        rmSync(dir, { recursive: true });
      }
    });

    it('reportNamespaces: false runs the same program and reports no ids', async () => {
      const child = await spawn(['sh', '-c', 'readlink /proc/self/ns/uts'], { create: ['uts'], reportNamespaces: false, stdio: ['ignore', 'pipe', 'inherit'] });
      expect(child.namespaces).to.deep.equal({});
      const r = await programOutput(child);
      expect(r.code).to.equal(0);
      expect(r.out.trim()).to.match(/^uts:\[\d+\]$/).and.not.equal(`uts:[${host['uts']}]`);
    });

    it('writes time offsets before exec: /proc/uptime inside is shifted', async () => {
      const child = await spawn(['cat', '/proc/uptime'], {
        create: ['time'], stdio: ['ignore', 'pipe', 'inherit'],
        steps: [{ name: 'offsets', child: [{ op: 'write-file', path: '/proc/self/timens_offsets', data: 'boottime 86400 0', phase: 'namespaces' }] }],
      });
      const r = await programOutput(child);
      const inside = Number(r.out.split(' ')[0]);
      const outside = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
      expect(inside - outside).to.be.within(86390, 86410);
    });

    it('works rootless: an unprivileged uid gets a user namespace with itself as root', () => {
      const script = `
        const { spawn } = require(${JSON.stringify(join(__dirname, '../src/index.js'))});
        (async () => {
          const c = await spawn(['sh', '-c', 'id -u; cat /proc/self/uid_map'], { create: ['user', 'mnt', 'uts', 'ipc', 'net', 'pid', 'cgroup'], stdio: 'inherit',
            steps: [{ name: 'map', parent: [
              { action: 'write-proc', file: 'uid_map', data: '0 ' + process.getuid() + ' 1' },
              { action: 'write-proc', file: 'setgroups', data: 'deny' },
              { action: 'write-proc', file: 'gid_map', data: '0 ' + process.getgid() + ' 1' }] }] });
          const s = await c.exited; process.exit(s.code);
        })().catch((e) => { console.error(e.code, e.message); process.exit(9); });`;
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
      expect(r.stderr).to.equal('');
      expect(r.stdout.split('\n')[0]).to.equal('0');
      expect(r.stdout).to.match(/^\s*0\s+65534\s+1\s*$/m);
      expect(r.status).to.equal(0);
    });
  });

  describe('joining a running target', () => {
    let target: ReturnType<typeof nodeSpawn>;
    before(async () => {
      target = nodeSpawn('unshare', ['--uts', '--ipc', '--net', '--mount', '--fork', 'sh', '-c', 'hostname target-box; exec sleep 60']);
      // unshare --fork: its child is the sleeper; wait until it has renamed the host.
      for (let i = 0; i < 100; i++) {
        const kids = readFileSync(`/proc/${target.pid}/task/${target.pid}/children`, 'utf8').trim();
        if (kids && readFileSync(`/proc/${kids}/comm`, 'utf8').trim() === 'sleep') break;
        await new Promise((r) => setTimeout(r, 10));
      }
    });
    after(() => {
      target.kill('SIGKILL');
    });
    const targetPid = () => Number(readFileSync(`/proc/${target.pid}/task/${target.pid}/children`, 'utf8').trim());

    it('by namespace handles', async () => {
      const pid = targetPid();
      const handles = (['uts', 'net', 'ipc', 'mnt'] as const).map((k) => Namespace.ofPid(pid, k));
      try {
        const child = await spawn(['hostname'], { join: handles, stdio: ['ignore', 'pipe', 'inherit'] });
        for (const k of ['uts', 'net', 'ipc', 'mnt'] as const) expect(child.namespaces[k]).to.equal(nsInode(pid, k));
        expect((await programOutput(child)).out.trim()).to.equal('target-box');
      } finally {
        for (const h of handles) h.close();
      }
    });

    it('by pidfd, all kinds at once', async () => {
      const pid = targetPid();
      const pidfd = sys.pidfdOpen(pid);
      try {
        const child = await spawn(['hostname'], { join: [{ pidfd, kinds: ['uts', 'net', 'ipc', 'mnt'] }], stdio: ['ignore', 'pipe', 'inherit'] });
        expect((await programOutput(child)).out.trim()).to.equal('target-box');
      } finally {
        sys.closeFd(pidfd);
      }
    });

    it('joins a pid namespace: the program, one fork down, is inside it', async () => {
      const holder = await spawn(['sleep', '10'], { create: ['pid'] });
      const pidns = Namespace.ofPid(holder.pid, 'pid');
      try {
        const child = await spawn(['sh', '-c', 'echo $$'], { join: [pidns], stdio: ['ignore', 'pipe', 'inherit'],
          steps: [{ name: 'fork', child: [{ op: 'fork', init: false, forward: ['SIGTERM'], phase: 'fork' }] }] });
        const r = await programOutput(child);
        expect(r.out.trim()).to.equal('2'); // the holder is 1
        expect(r.code).to.equal(0);
      } finally {
        pidns.close();
        holder.kill('SIGKILL');
        await holder.exited;
      }
    });
  });

  describe('a child born in a cgroup (startInCgroup)', () => {
    const v2 = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' '))
      .find((f) => f[f.indexOf('-') + 1] === 'cgroup2')?.[4];
    const ownV2 = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'))?.slice(3);
    let dir: string;
    let name: string;

    beforeEach(function () {
      if (!v2 || ownV2 === undefined) this.skip(); // says why: no cgroup2 mount here
      name = `nstools-spawn-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
      dir = `${v2}${ownV2 === '/' ? '' : ownV2}/${name}`;
      mkdirSync(dir);
    });
    afterEach(async () => {
      if (!dir) return;
      // A killed supervisor's program may still be on its way out.
      writeFileSync(`${dir}/cgroup.kill`, '1');
      await waitFor(`${dir} empty`, () => readFileSync(`${dir}/cgroup.procs`, 'utf8') === '', 2000);
      rmdirSync(dir);
    });

    it('runs from its first instruction in the cgroup, and a cgroup namespace it makes is rooted there', async () => {
      expect(execStage().canCloneIntoCgroup(), 'this kernel (6.18) has CLONE_INTO_CGROUP').to.equal(1);
      const seen = await programOutput(await spawn(['cat', '/proc/self/cgroup'], { steps: [{ name: 'cg', startInCgroup: dir }], stdio: ['ignore', 'pipe', 'inherit'] }));
      expect(seen.out.split('\n')).to.include(`0::${ownV2 === '/' ? '' : ownV2}/${name}`);
      const inNs = await programOutput(await spawn(['cat', '/proc/self/cgroup'], { create: ['cgroup'], steps: [{ name: 'cg', startInCgroup: dir }], stdio: ['ignore', 'pipe', 'inherit'] }));
      expect(inNs.out.split('\n')).to.include('0::/');
      expect(readFileSync(`${dir}/cgroup.procs`, 'utf8')).to.equal('');
    });

    const cgroupOf = (pid: number) => readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'))!.slice(3);
    const inDir = `${ownV2 === '/' ? '' : ownV2}/`;
    /** The program (past a fork) is in the test's cgroup, the process that forked it is not; both then go. */
    async function expectProgramInside(child: Awaited<ReturnType<typeof spawn>>): Promise<void> {
      try {
        expect(cgroupOf(child.programPid!)).to.equal(`${inDir}${name}`);
        expect(cgroupOf(child.pid)).to.equal(ownV2);
      } finally {
        child.kill('SIGKILL');
        await child.exited;
      }
    }

    it('supervise.cgroup: the program starts in it, the supervisor stays outside', async () => {
      await expectProgramInside(await spawn(['sleep', '10'], { create: ['pid'], supervise: { cgroup: dir }, stdio: 'ignore', reportNamespaces: false }));
    });

    it('a fork-cgroup op: the next fork\'s child starts in it, the staying half does not', async () => {
      const steps: Step[] = [{ name: 'init', create: ['pid'], child: [
        { op: 'fork-cgroup', path: dir, phase: 'fork', step: 'program cgroup' },
        { op: 'fork', init: true, forward: ['SIGTERM'], phase: 'fork', step: 'init' },
      ] }];
      await expectProgramInside(await spawn(['sleep', '10'], { steps, stdio: 'ignore', reportNamespaces: false }));
      // A directory that is not there fails the spawn at the op, naming it.
      const missing: Step[] = [{ ...steps[0]!, child: [{ ...steps[0]!.child![0]!, path: `${dir}/missing` } as PhasedOp, steps[0]!.child![1]!] }];
      try {
        await spawn(['true'], { steps: missing, stdio: 'ignore' });
        expect.fail('spawn should have failed');
      } catch (e) {
        expect(e).to.include({ code: 'ENOENT', syscall: 'open', path: `${dir}/missing`, step: 'program cgroup' });
      }
    });

    it('where clone3 is refused (ENOSYS, a kernel before 5.7 or 5.3): the process moves itself first, as it did before', async () => {
      // A Node whose clone3 fails with ENOSYS, as an old kernel's would (glibc falls back to clone()).
      const filter = seccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }] });
      const core = JSON.stringify(join(__dirname, '../src/index.js'));
      const probe = `const c = require(${core}); const fs = require('fs');
        const of = (pid) => fs.readFileSync('/proc/' + pid + '/cgroup', 'utf8').split('\\n').find((l) => l.startsWith('0::')).slice(3);
        (async () => {
          const a = await c.spawn(['sleep', '10'], { steps: [{ name: 'cg', startInCgroup: ${JSON.stringify(dir)} }], stdio: 'ignore' });
          const b = await c.spawn(['sleep', '10'], { create: ['pid'], supervise: { cgroup: ${JSON.stringify(dir)} }, stdio: 'ignore' });
          console.log(JSON.stringify({ direct: of(a.pid), program: of(b.programPid), supervisor: of(b.pid),
                                       probe: require(${JSON.stringify(join(__dirname, '../src/exec/native.js'))}).execStage().canCloneIntoCgroup() }));
          a.kill('SIGKILL'); b.kill('SIGKILL'); await a.exited; await b.exited;
        })();`;
      const child = await spawn([process.execPath, '-e', probe], { steps: [filter], stdio: ['ignore', 'pipe', 'inherit'] });
      const r = await programOutput(child);
      expect(r.code).to.equal(0);
      expect(JSON.parse(r.out)).to.deep.equal({ direct: `${inDir}${name}`, program: `${inDir}${name}`, supervisor: ownV2, probe: 0 });
    });

    it('names the cgroup and the step when it cannot be joined, and leaves no fd or child', async () => {
      const fdsBefore = openFds().sort();
      const children = liveChildren();
      try {
        await spawn(['true'], { steps: [{ name: 'the group', startInCgroup: `${dir}/missing` }] });
        expect.fail('spawn should have failed');
      } catch (e) {
        expect(e).to.be.instanceOf(NsError);
        expect(e).to.include({ code: 'ENOENT', path: `${dir}/missing`, step: 'the group' });
      }
      // A directory that is no cgroup: clone3 itself refuses it (EBADF).
      const notCgroup = mkdtempSync(join(tmpdir(), 'nsx-'));
      try {
        await spawn(['true'], { steps: [{ name: 'the group', startInCgroup: notCgroup }] });
        expect.fail('spawn should have failed');
      } catch (e) {
        expect(e).to.be.instanceOf(NsError);
        expect(e).to.include({ code: 'EBADF', syscall: 'clone3', path: notCgroup, step: 'the group' });
        expect((e as NsError).message).to.contain(notCgroup);
      } finally {
        rmdirSync(notCgroup);
      }
      expect(openFds().sort()).to.deep.equal(fdsBefore);
      expect(liveChildren()).to.equal(children);
    });
  });

  describe('failures come back as NsError', () => {
    it('exec ENOENT names the program and the exec step', async () => {
      try {
        await spawn(['/no/such/program'], { create: ['uts'] });
        expect.fail('spawn should have failed');
      } catch (e) {
        const err = e as NsError;
        expect(err).to.be.instanceOf(NsError);
        expect(err).to.include({ code: 'ENOENT', syscall: 'execve', step: 'exec', path: '/no/such/program' });
      }
    });

    it('exec EACCES for a file that is not executable', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'nsx-'));
      writeFileSync(join(dir, 'script'), '#!/bin/sh\n', { mode: 0o644 });
      try {
        await spawn([join(dir, 'script')]);
        expect.fail('spawn should have failed');
      } catch (e) {
        expect(e).to.include({ code: 'EACCES', syscall: 'execve' });
      } finally {
        rmSync(dir, { recursive: true });
      }
    });

    it('a failure after a fork is reported by the program half, for init and relay alike', async () => {
      for (const init of [true, false]) {
        for (let i = 0; i < 20; i++) {
          try {
            await spawn(['/no/such/program'], { create: ['pid'], steps: [{ name: 'f', child: [{ op: 'fork', init, forward: ['SIGTERM'], phase: 'fork' }] }] });
            expect.fail(`spawn should have failed (init: ${init}, try ${i})`);
          } catch (e) {
            expect(e).to.include({ code: 'ENOENT', syscall: 'execve', step: 'exec' });
          }
        }
      }
    });

    it('a mount failure in the child names the step, syscall and paths', async () => {
      try {
        await spawn(['true'], { create: ['mnt'], steps: [{ name: 'bind', child: [
          { op: 'mount', target: '/', flags: ['REC', 'PRIVATE'], phase: 'propagation' },
          { op: 'mount', source: '/no/such/source', target: '/mnt', flags: ['BIND'], phase: 'mounts', step: '--bind' },
        ] }] });
        expect.fail('spawn should have failed');
      } catch (e) {
        expect(e).to.include({ code: 'ENOENT', syscall: 'mount', step: '--bind', path: '/no/such/source', dest: '/mnt' });
        expect((e as Error).message).to.equal('--bind: mount /no/such/source -> /mnt failed: ENOENT (no such file or directory)');
      }
    });

    it('a failing parent action kills the child and runs cleanups', async () => {
      let cleaned = 0;
      try {
        await spawn(['sleep', '10'], { create: ['net'], steps: [{ name: 'bad', parent: [
          { action: 'call', step: 'configure', run: () => { throw new NsError({ errno: 1, syscall: 'sendmsg', step: 'configure' }); } }],
        cleanup: () => { cleaned++; } }] });
        expect.fail('spawn should have failed');
      } catch (e) {
        expect(e).to.include({ code: 'EPERM', step: 'configure' });
      }
      expect(cleaned).to.equal(1);
      expect(childrenOf().filter((c) => stateOf(c) === 'Z')).to.deep.equal([]);
    });
  });

  describe('process handling', () => {
    it('passes exit codes and signals through', async () => {
      expect(await (await spawn(['sh', '-c', 'exit 42'])).exited).to.deep.equal({ code: 42, signal: null });
      const c = await spawn(['sleep', '10'], { create: ['pid'] });
      c.kill('SIGKILL');
      expect(await c.exited).to.deep.equal({ code: null, signal: 'SIGKILL' });
      expect(c.kill('SIGTERM')).to.equal(false);
    });

    it('an init reaps orphans and forwards signals, exiting 128+N as PID 1', async () => {
      const c = await spawn(['sh', '-c', 'for i in 1 2 3 4 5; do (sleep 0.05 &) ; done; trap "exit 3" TERM; sleep 10 & wait'],
        { create: ['pid'], steps: [{ name: 'init', child: [{ op: 'fork', init: true, forward: ['SIGTERM'], phase: 'fork' }] }] });
      await new Promise((r) => setTimeout(r, 300));
      const zombies = childrenOf(c.pid).filter((p) => stateOf(p) === 'Z');
      expect(zombies).to.deep.equal([]);
      c.kill('SIGTERM');
      expect(await c.exited).to.deep.equal({ code: 3, signal: null });
    });

    it("the init a fork leaves behind has its own memory: the program cannot reach the launcher's", async () => {
      // Sharing Node's memory, it exposed the launcher through /proc/1/mem (found by the runner work).
      for (const init of [true, false]) {
        const child = await spawn(['sh', '-c', 'cat /proc/1/maps; echo; cat /proc/1/cmdline'], {
          create: ['pid', 'mnt'], stdio: ['ignore', 'pipe', 'inherit'], steps: [{ name: 'init', child: [
            { op: 'mount', target: '/', flags: ['REC', 'PRIVATE'], phase: 'propagation' },
            { op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', phase: 'mounts' },
            { op: 'fork', init, forward: ['SIGTERM'], phase: 'fork' }] }] });
        const r = await programOutput(child);
        expect(r.code).to.equal(0);
        expect(r.out).to.match(/nsx-init/);
        expect(r.out).not.to.match(/libnsexec|\/node\b|libc\.so/);
        expect(r.out.trim().split('\n').length).to.be.lessThan(12);
      }
    });

    it('kills the program when the launcher dies (PR_SET_PDEATHSIG past the fork)', async () => {
      const script = `
        const { spawn } = require(${JSON.stringify(join(__dirname, '../src/index.js'))});
        spawn(['sleep', '30'], { create: ['pid'], killWithParent: 'SIGKILL',
          steps: [{ name: 'f', child: [{ op: 'fork', init: false, forward: [], phase: 'fork' }] }] })
          .then((c) => { console.log(String(c.programPid)); });`;
      const launcher = nodeSpawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      const programPid = await new Promise<number>((r) => launcher.stdout!.once('data', (d: Buffer) => r(Number(d.toString()))));
      expect(readFileSync(`/proc/${programPid}/comm`, 'utf8').trim()).to.equal('sleep');
      launcher.kill('SIGKILL');
      await new Promise((r) => launcher.once('exit', r));
      expect(await gone(programPid)).to.equal(true);
    });

    it('runs what the options say now: one options object changed between spawns is planned again', async () => {
      const name = { op: 'sethostname' as const, name: 'first', phase: 'namespaces' as const };
      const options = { create: ['uts'] as NamespaceKind[], stdio: ['ignore', 'pipe', 'ignore'] as const, steps: [{ name: 'h', child: [name] }] };
      expect((await programOutput(await spawn(['hostname'], options))).out.trim()).to.equal('first');
      expect((await programOutput(await spawn(['hostname'], options))).out.trim()).to.equal('first');
      name.name = 'second';
      expect((await programOutput(await spawn(['hostname'], options))).out.trim()).to.equal('second');
    });

    it('gives the program exactly the fds it was given', async () => {
      const c = await spawn(['sh', '-c', 'ls /proc/self/fd | sort -n | tr "\\n" " "'], { stdio: ['ignore', 'pipe', 'ignore'] });
      // 0-2, plus the fd ls uses to read the directory.
      expect((await programOutput(c)).out.trim()).to.equal('0 1 2 3');
    });
  });

  it('2000 spawns, some failing on purpose, leave no fd, zombie, mount or stack behind', async function () {
    this.timeout(120000);
    // Earlier tests' child stdio sockets may still be closing: start from a table that holds still.
    let fdsBefore = openFds().sort();
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const now = openFds().sort();
      if (now.join() === fdsBefore.join()) break;
      fdsBefore = now;
    }
    // Other suites on this machine mount under their own directories meanwhile: compare the
    // mount points these spawns could disturb (the root they make private in their own
    // namespaces, /proc, the target that never exists).
    const watched = () => mounts().filter((m) => ['/', '/proc', '/no/such/dir'].includes(m));
    const mountsBefore = watched();
    let failures = 0;
    for (let i = 0; i < 2000; i++) {
      try {
        if (i % 10 === 3) {
          await spawn(['/no/such/program'], { create: ['uts'] });
        } else if (i % 10 === 7) {
          await spawn(['true'], { create: ['mnt'], steps: [{ name: 'bad', child: [
            { op: 'mount', target: '/', flags: ['REC', 'PRIVATE'], phase: 'propagation' },
            { op: 'mount', source: 'proc', target: '/no/such/dir', fstype: 'proc', phase: 'mounts' }] }] });
        } else {
          const c = await spawn(['true'], i % 2 ? { create: ['mnt', 'pid', 'uts', 'ipc'], stdio: 'ignore' } : { steps: [mapSelf()] });
          await c.exited;
        }
      } catch (e) {
        expect(e).to.be.instanceOf(NsError);
        failures++;
      }
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(failures).to.equal(400);
    expect(liveChildren()).to.equal(0);
    expect(execStage().liveRegions()).to.equal(0);
    expect(childrenOf()).to.deep.equal([]);
    // Differences, not whole tables, so a failure names the mount or fd that appeared.
    const now = watched();
    expect(now.filter((m) => !mountsBefore.includes(m)), 'mounts added').to.deep.equal([]);
    expect(mountsBefore.filter((m) => !now.includes(m)), 'mounts removed').to.deep.equal([]);
    const fds = openFds();
    expect(fds.filter((f) => !fdsBefore.includes(f)), 'fds opened').to.deep.equal([]);
    // Sockets of earlier tests' children (stdio nobody read to the end) close when Node gets
    // round to them, whenever that is: only the kinds of fd spawn itself handles count here.
    expect(fdsBefore.filter((f) => !fds.includes(f) && !f.includes('->socket:')), 'fds closed').to.deep.equal([]);
  });

  describe('pollPipe', () => {
    const closed = (fd: number) => { try { fstatSync(fd); return false; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EBADF'; } };

    it('hands over what is written, in order, across empty spells, and closes the fd at EOF', async () => {
      const [r, w] = sys.pipe();
      const chunks: string[] = [];
      const done = pollPipe(r, (c) => { chunks.push(c.toString()); });
      // Each write waits for the previous one to have been read: the pipe was empty meanwhile.
      for (const word of ['a', 'b', 'c']) {
        writeSync(w, word);
        while (chunks.length < ['a', 'b', 'c'].indexOf(word) + 1) await new Promise((res) => setTimeout(res, 1));
      }
      closeSync(w);
      await done;
      expect(chunks).to.deep.equal(['a', 'b', 'c']);
      expect(closed(r)).to.equal(true);
    });

    it('stops before EOF when asked, and closes the fd', async () => {
      const [r, w] = sys.pipe();
      let seen = 0;
      const done = pollPipe(r, () => { seen++; }, () => seen > 0);
      writeSync(w, 'x');
      await done;
      expect(seen).to.equal(1);
      expect(closed(r)).to.equal(true);
      closeSync(w);
    });

    it('rejects with what onChunk threw, and closes the fd', async () => {
      const [r, w] = sys.pipe();
      writeSync(w, 'x');
      const err = await pollPipe(r, () => { throw new Error('boom'); }).then(() => undefined, (e: Error) => e.message);
      expect(err).to.equal('boom');
      expect(closed(r)).to.equal(true);
      closeSync(w);
    });

    it('rejects with the read error on an fd that is not readable', async () => {
      const [r, w] = sys.pipe();
      closeSync(r);
      const err = await pollPipe(w, () => undefined).then(() => undefined, (e: NodeJS.ErrnoException) => e.code);
      expect(err).to.equal('EBADF');
      expect(closed(w)).to.equal(true);
    });
  });
});
