/**
 * A foreground container without Node (NS_RUN_IN_PLACE=1, opt-in for now): ns-run plans and
 * does the host work, then becomes the container's C supervisor in place, keeping its pid;
 * no Node process stays while the program runs. Checked from outside: the process tree under
 * ns-run's pid, the exit status, forwarded signals, and nothing left afterwards.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxRootfs, LAUNCHER, removeTree, stateDir, uniqueName, until } from './helpers';

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
  const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NS_RUN_IN_PLACE: '1' } });
  const run: Run = { pid: p.pid!, out: '', exit: new Promise((resolve) => p.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null)))) };
  p.stdout!.on('data', (d: Buffer) => { run.out += d.toString(); });
  return run;
}

for (const rootless of [false, true]) {
  describe(`ns-run in place (NS_RUN_IN_PLACE=1)${rootless ? ', rootless' : ', as root'}`, () => {
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

    it('exit codes: the program\'s, and 127 for a program the root lacks', async () => {
      const code = startInPlace(['--rootfs', rootfs, '--', 'sh', '-c', 'exit 7'], rootless);
      expect(await code.exit).to.equal(7);
      const missing = startInPlace(['--rootfs', rootfs, '--', 'no-such-program'], rootless);
      expect(await missing.exit).to.equal(127);
    });
  });
}
