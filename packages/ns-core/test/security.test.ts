/**
 * Security defaults of the exec stage, each with a control showing the test can tell: no fd of
 * Node's reaches the program (cloexec-from), and a program started with killWithParent does
 * not outlive its launcher (PR_SET_PDEATHSIG).
 */
import { expect } from 'chai';
import { spawn as nodeSpawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, type SpawnOptions } from '../src/index';
import { libc } from '../src/sys/native';

const fcntl = libc.func('int fcntl(int fd, int cmd, int arg)');
const F_SETFD = 2;
const CORE = JSON.stringify(join(__dirname, '../src/index.js'));

/** The fds a running process holds, read from outside (listing from inside opens one more). */
function fdsOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/fd`).map(Number).sort((a, b) => a - b);
}

async function fdsOfProgram(options: SpawnOptions): Promise<number[]> {
  const child = await spawn(['sleep', '10'], options);
  try {
    return fdsOf(child.pid);
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

    /** True once the process is gone; the kernel signals it as the launcher exits, so it goes at once. */
    async function gone(pid: number, waitMs = 3000): Promise<boolean> {
      for (let i = 0; i < waitMs / 10; i++) {
        if (!existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] === 'Z') return true;
        await new Promise((r) => setTimeout(r, 10));
      }
      return false;
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
