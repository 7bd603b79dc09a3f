/**
 * Races: a target that exits (and whose pid is given to another process) between being opened
 * and being joined; many spawns at once; SIGINT/SIGTERM reaching a launcher at any moment.
 */
import { expect } from 'chai';
import { spawn as nodeSpawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NsError, spawn, sys, type NsChild, type Step } from '../src/index';
import { cgroup2Root, hostSnapshot, leaksSince, settledLeaks } from 'ns-test-kit';
import { nsInode } from 'ns-test-kit';

const TAG = `nsxr${process.pid}`;
const CORE = JSON.stringify(join(__dirname, '../src/index.js'));
const CORE_CLI = JSON.stringify(join(__dirname, '../src/cli-kit/index.js'));

const hostname = (name: string): Step => ({ name: 'uts', create: ['uts'], child: [{ op: 'sethostname', name, phase: 'namespaces' }] });

async function output(child: NsChild): Promise<{ out: string; code: number | null }> {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  const { code } = await child.exited;
  await new Promise((r) => setImmediate(r));
  return { out, code };
}

describe('races', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), `${TAG}-`));
    chmodSync(dir, 0o755);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('joining through a pidfd never enters a recycled pid', () => {
    it('a target that exited and was reaped, its pid now another process\'s: the join fails', async () => {
      // Inside a pid namespace of its own, the script is the only process making pids, so
      // ns_last_pid can hand the target's pid to the next process for certain.
      const script = join(dir, 'recycle.js');
      writeFileSync(script, `
        const core = require(${CORE});
        const fs = require('fs');
        const uts = (name) => ({ name, create: ['uts'], child: [{ op: 'sethostname', name, phase: 'namespaces' }] });
        (async () => {
          const target = await core.spawn(['sleep', '100'], { steps: [uts('target')] });
          const pidfd = core.sys.pidfdOpen(target.pid);
          target.kill('SIGKILL');
          await target.exited;
          fs.writeFileSync('/proc/sys/kernel/ns_last_pid', String(target.pid - 1));
          const other = await core.spawn(['sleep', '100'], { steps: [uts('other')] });
          const out = { recycled: other.pid === target.pid };
          // By number, the pid now leads to the other process's namespace...
          out.byNumberIsOther = core.Namespace.ofPid(target.pid, 'uts').use((ns) => ns.id === other.namespaces.uts);
          // ...by the pidfd opened before, it leads nowhere.
          try {
            const c = await core.spawn(['hostname'], { join: [{ pidfd, kinds: ['uts'] }], stdio: ['ignore', 'pipe', 'inherit'] });
            out.entered = await new Promise((r) => { let s = ''; c.stdout.on('data', (d) => { s += d; }); c.stdout.on('end', () => r(s.trim())); });
          } catch (e) {
            out.refused = [e.code, e.syscall];
          }
          core.sys.closeFd(pidfd);
          other.kill('SIGKILL');
          await other.exited;
          console.log(JSON.stringify(out));
        })().catch((e) => { console.error(e.stack); process.exit(2); });`);
      const child = await spawn([process.execPath, script], {
        create: ['pid', 'mnt'], stdio: ['ignore', 'pipe', 'inherit'],
        steps: [{ name: 'pid namespace with its /proc', child: [
          { op: 'mount', target: '/', flags: ['REC', 'PRIVATE'], phase: 'propagation' },
          { op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', phase: 'mounts' },
          { op: 'fork', init: true, forward: ['SIGTERM'], phase: 'fork' }] }],
      });
      const { out, code } = await output(child);
      expect(code).to.equal(0);
      expect(JSON.parse(out)).to.deep.equal({ recycled: true, byNumberIsOther: true, refused: ['ESRCH', 'setns'] });
    });

    it('a target that exited but is not reaped yet (a zombie): the join fails', async () => {
      // sleep never reaps the background child sh left it: that child stays a zombie.
      const parent = await spawn(['sh', '-c', 'true & exec sleep 100'], {});
      try {
        let zombie = 0;
        for (let i = 0; i < 300 && !zombie; i++) {
          const kid = readFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8').trim();
          if (kid && readFileSync(`/proc/${kid}/stat`, 'utf8').split(') ')[1]![0] === 'Z') zombie = Number(kid);
          else await new Promise((r) => setTimeout(r, 10));
        }
        expect(zombie, 'a zombie child').to.be.greaterThan(0);
        const pidfd = sys.pidfdOpen(zombie); // the pid is still taken: this succeeds
        try {
          await spawn(['true'], { join: [{ pidfd, kinds: ['uts', 'net'] }] });
          expect.fail('joined the namespaces of a process that has exited');
        } catch (e) {
          expect(e).to.be.instanceOf(NsError);
          expect(e).to.include({ code: 'ESRCH', syscall: 'setns' });
        } finally {
          sys.closeFd(pidfd);
        }
      } finally {
        parent.kill('SIGKILL');
        await parent.exited;
      }
    });
  });

  it('50 spawns started at once each get their own namespaces, output and exit code', async function () {
    this.timeout(60_000);
    const snapshot = hostSnapshot(TAG);
    const uid = process.getuid!();
    const gid = process.getgid!();
    // Each waits for its stdin to close, so all 50 hold their namespaces at once (an ended
    // namespace's inode number is given to the next one made).
    const children = await Promise.all(Array.from({ length: 50 }, (_, i) => spawn(['sh', '-c', `hostname; read x; exit ${i}`, TAG], {
      create: ['mnt', 'ipc', 'pid', 'net', ...(i % 2 ? ['user' as const] : [])],
      stdio: ['pipe', 'pipe', 'inherit'],
      // Half wait for exec without blocking, so their parent actions interleave with other spawns.
      waitForExec: i % 3 ? 'blocking' : 'async',
      steps: [hostname(`${TAG}-${i}`), ...(i % 2 ? [{ name: 'map', parent: [
        { action: 'write-proc' as const, file: 'uid_map', data: `0 ${uid} 1` },
        { action: 'write-proc' as const, file: 'setgroups', data: 'deny' },
        { action: 'write-proc' as const, file: 'gid_map', data: `0 ${gid} 1` }] }] : [])],
    })));
    const ids = children.map((c) => c.namespaces);
    for (const c of children) c.stdin!.end();
    const results = await Promise.all(children.map(output));
    results.forEach((r, i) => expect(r, `spawn ${i}`).to.deep.equal({ out: `${TAG}-${i}\n`, code: i }));
    for (const kind of ['uts', 'mnt', 'ipc', 'pid', 'net'] as const) {
      const ofKind = ids.map((n) => n[kind]);
      expect(new Set(ofKind).size, kind).to.equal(50);
      expect(ofKind, kind).not.to.include(nsInode('self', kind));
    }
    expect(new Set(ids.filter((_, i) => i % 2).map((n) => n.user)).size).to.equal(25);
    expect(await settledLeaks(() => leaksSince(snapshot, hostSnapshot(TAG), TAG))).to.deep.equal([]);
  });

  it('SIGINT or SIGTERM to a launcher at any moment leaves nothing behind', async function () {
    this.timeout(60_000);
    // A launcher as the CLIs are: launch() (signals forwarded to the program once it runs, held
    // until then), a step whose parent action makes a cgroup and whose cleanup removes it.
    const group = join(cgroup2Root(), `${TAG}-sig`);
    const launcher = join(dir, 'launcher.js');
    writeFileSync(launcher, `
      const cli = require(${CORE_CLI});
      const fs = require('fs');
      const group = ${JSON.stringify(group)} + '-' + process.argv[2];
      cli.launch(['sh', '-c', 'sleep 0.2; exit 0', ${JSON.stringify(TAG)}], { create: ['mnt', 'uts'], steps: [{ name: 'cgroup',
        parent: [{ action: 'call', step: 'cgroup', run: async ({ pid }) => {
          fs.mkdirSync(group);
          fs.writeFileSync(group + '/cgroup.procs', String(pid));
          await new Promise((r) => setTimeout(r, 30)); // a slow parent action widens the window
        } }],
        // rmdir can meet EBUSY for a moment after the group's last process was reaped (as
        // ns-cgroup's remove() knows): retry briefly. ENOENT: the action never made it.
        cleanup: async () => {
          for (let attempt = 0; ; attempt++) {
            try { fs.rmdirSync(group); return; } catch (e) {
              if (e.code === 'ENOENT') return;
              if (e.code !== 'EBUSY' || attempt > 200) throw e;
              await new Promise((r) => setTimeout(r, 10));
            }
          }
        } }] }, { signals: 'program' })
        .catch((e) => cli.failAndExit('launcher', e));`);
    const snapshot = hostSnapshot(TAG);
    // Moments: fixed delays from the start, plus two found by watching: as soon as the group
    // exists (the child waits at the sync point), and once the program runs.
    type When = number | 'group made' | 'program running';
    const runs: { signal: NodeJS.Signals; when: When }[] = [];
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      for (const when of [0, 50, 100, 150, 200, 300, 'group made', 'program running'] as const) runs.push({ signal, when });
    }
    const ends: string[] = [];
    for (let i = 0; i < runs.length; i += 4) {
      ends.push(...await Promise.all(runs.slice(i, i + 4).map(({ signal, when }, j) => new Promise<string>((resolve) => {
        const proc = nodeSpawn(process.execPath, [launcher, String(i + j)], { stdio: 'ignore' });
        let ended = false;
        proc.once('exit', (code, sig) => {
          ended = true;
          resolve(`${signal}@${when}: ${sig ?? code}`);
        });
        const reached = () => (when === 'group made' ? existsSync(`${group}-${i + j}`)
          : hostSnapshot(TAG).tagged.some((p) => p.includes('sleep 0.2')));
        void (async () => {
          if (typeof when === 'number') await new Promise((r) => setTimeout(r, when));
          else while (!ended && !reached()) await new Promise((r) => setTimeout(r, 2));
          if (!ended) proc.kill(signal);
        })();
      }))));
    }
    // Each launcher ended by the signal (forwarded to the program, or before it ran) or, if the
    // signal came after the program's end, normally; what it made is gone either way.
    for (const end of ends) expect(end).to.match(/: (SIGINT|SIGTERM|0)$/);
    expect(await settledLeaks(() => leaksSince(snapshot, hostSnapshot(TAG), TAG))).to.deep.equal([]);
  });
});

