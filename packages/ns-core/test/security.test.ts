/**
 * Security defaults of the exec stage, each with a control showing the test can tell: no fd of
 * Node's reaches the program (cloexec-from); a child that changes its ids in Node's memory
 * leaves Node dumpable after it execs, and unreachable by ptrace while it shares that memory;
 * a program started with killWithParent does not outlive its launcher (PR_SET_PDEATHSIG).
 */
import { expect } from 'chai';
import { spawn as nodeSpawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, sys, type SpawnOptions } from '../src/index';
import { libc } from '../src/sys/native';
import { gone } from 'ns-test-kit';

const fcntl = libc.func('int fcntl(int fd, int cmd, int arg)');
const { prctl } = sys;
const F_SETFD = 2;
const CORE = JSON.stringify(join(__dirname, '../src/index.js'));

/** The fds a running process holds, read from outside (listing from inside opens one more). */
function fdsOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/fd`).map(Number).sort((a, b) => a - b);
}

/**
 * The fds `sleep` holds once it sleeps. At start-up it may open a locale file for a moment, so
 * the list is read until two readings agree while it is asleep; a leaked fd never goes away.
 */
async function fdsOfProgram(options: SpawnOptions): Promise<number[]> {
  const child = await spawn(['sleep', '10'], options);
  try {
    let last: number[] = [];
    for (let i = 0; i < 200; i++) {
      const asleep = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]![0] === 'S';
      const now = fdsOf(child.pid);
      if (asleep && now.join() === last.join()) return now;
      last = now;
      await new Promise((r) => setTimeout(r, 5));
    }
    return last;
  } finally {
    child.kill('SIGKILL');
    await child.exited;
  }
}

describe('security defaults', () => {
  describe('no fd of Node\'s leaks into the program', () => {
    let inheritable: number;
    before(() => {
      // An fd without close-on-exec, as native addons and inherited descriptors may leave.
      inheritable = openSync('/dev/null', 'r');
      expect(fcntl(inheritable, F_SETFD, 0)).to.equal(0);
      const flags = /flags:\s+(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${inheritable}`, 'utf8'))![1]!;
      expect(parseInt(flags, 8) & 0o2000000, 'O_CLOEXEC is off').to.equal(0);
    });
    after(() => closeSync(inheritable));

    it('control: a plain exec (libuv\'s spawn) hands that fd to the program', async () => {
      const child = nodeSpawn('sleep', ['10'], { stdio: 'ignore' });
      try {
        expect(fdsOf(child.pid!)).to.include(inheritable);
      } finally {
        child.kill('SIGKILL');
      }
    });

    it('spawn gives the program fds 0-2 only, whatever Node holds', async () => {
      expect(await fdsOfProgram({ create: ['uts'], stdio: ['ignore', 'pipe', 'ignore'] })).to.deep.equal([0, 1, 2]);
    });

    it('and an fd passed on purpose arrives only at the number asked for', async () => {
      expect(await fdsOfProgram({ stdio: 'ignore', fds: { 7: inheritable } })).to.deep.equal([0, 1, 2, 7]);
    });
  });

  describe('a child that changes its ids while it shares Node\'s memory', () => {
    const PR_GET_DUMPABLE = 3;
    const asNobody = (argv: readonly string[]) => spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...argv], { encoding: 'utf8' });
    const dropToNobody = (phase: 'identity' | 'pre-namespaces') => [
      { op: 'setgid' as const, gid: 65534, phase }, { op: 'setuid' as const, uid: 65534, phase }];

    it('leaves the launcher dumpable once it has exec\'d (its /proc files stay its own)', async () => {
      expect(prctl(PR_GET_DUMPABLE)).to.equal(1);
      const child = await spawn(['true'], { steps: [{ name: 'drop', child: dropToNobody('identity') }] });
      await child.exited;
      expect(prctl(PR_GET_DUMPABLE)).to.equal(1);
    });

    it('control: another process of uid 65534 may read that user\'s processes\' memory maps', async () => {
      const sleeper = nodeSpawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sleep', '10'], { stdio: 'ignore' });
      try {
        await new Promise((r) => setTimeout(r, 50));
        const pid = Number(readFileSync(`/proc/${sleeper.pid}/task/${sleeper.pid}/children`, 'utf8').trim() || sleeper.pid);
        expect(asNobody(['cat', `/proc/${pid}/environ`]).status).to.equal(0);
      } finally {
        sleeper.kill('SIGKILL');
      }
    });

    it('a relay left running as uid 65534 keeps Node\'s memory out of that user\'s reach', async () => {
      // The stay-behind half of a fork outlives the exec: it is uid 65534, and it must not be a
      // way into Node's memory (either it has a memory of its own, or the kernel's
      // non-dumpable mark keeps uid 65534 from reading it).
      const child = await spawn(['sleep', '10'], { steps: [{ name: 'relay as nobody', child: [
        ...dropToNobody('pre-namespaces'), { op: 'fork', init: false, forward: ['SIGTERM'], phase: 'fork' }] }] });
      try {
        expect(readFileSync(`/proc/${child.pid}/status`, 'utf8')).to.match(/^Uid:\s+65534\b/m);
        const node = realpathSync(process.execPath);
        const r = asNobody(['cat', `/proc/${child.pid}/maps`]);
        if (r.status === 0) expect(r.stdout, 'the relay\'s memory is Node\'s').not.to.contain(node);
        else expect(r.stderr).to.contain('Permission denied');
      } finally {
        child.kill('SIGKILL');
        await child.exited;
      }
      expect(prctl(PR_GET_DUMPABLE), 'once nothing shares Node\'s memory').to.equal(1);
    });
  });

  describe('no orphaned program survives its launcher when asked (killWithParent)', () => {
    /** Starts a launcher that spawns `sleep`, returns the program's pid, then SIGKILLs the launcher. */
    async function orphanAfterLauncherDies(spawnOptions: string): Promise<number> {
      const script = `
        const { spawn } = require(${CORE});
        spawn(['sleep', '30'], ${spawnOptions}).then((c) => console.log(String(c.programPid ?? c.pid)));`;
      const launcher = nodeSpawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      const pid = await new Promise<number>((r) => launcher.stdout!.once('data', (d: Buffer) => r(Number(d.toString()))));
      expect(readFileSync(`/proc/${pid}/comm`, 'utf8').trim()).to.equal('sleep');
      launcher.kill('SIGKILL');
      await new Promise((r) => launcher.once('exit', r));
      return pid;
    }


    it('control: without it, the program outlives a SIGKILLed launcher', async () => {
      const pid = await orphanAfterLauncherDies("{ create: ['uts'] }");
      try {
        expect(await gone(pid, 300)).to.equal(false);
      } finally {
        process.kill(pid, 'SIGKILL');
      }
    });

    it('killWithParent: the program gets the signal when the launcher dies', async () => {
      expect(await gone(await orphanAfterLauncherDies("{ create: ['uts'], killWithParent: 'SIGTERM' }"))).to.equal(true);
    });

    it('a step asking for it (--kill-child) has the same effect, past a fork into a pid namespace', async () => {
      const pid = await orphanAfterLauncherDies(`{ create: ['pid'], steps: [{ name: 'kill-child', killWithParent: 'SIGKILL',
        child: [{ op: 'fork', init: true, forward: ['SIGTERM'], phase: 'fork' }] }] }`);
      expect(await gone(pid)).to.equal(true);
    });
  });
});
