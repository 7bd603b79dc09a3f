/**
 * The process model, seen from outside: ns-unshare and ns-enter become the program (its pid is
 * the launcher's, its namespaces the new ones), so each tool set enters the other's targets by
 * `-t $!`; with a fork the process left waiting is a few KiB of C, not Node; and no Node
 * process remains once the program runs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { expect } from 'chai';
import { bin } from './cli';
import { childrenOf, isAlive, waitFor } from 'ns-test-kit';

const comm = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

function rssKib(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

/** Every process below pid (and pid itself), but for those named `except`: what a launcher keeps. */
function kept(pid: number, except: string): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...childrenOf(all[i]!));
  return all.filter((p) => comm(p) !== except);
}

/** Starts `argv` in the background, as `argv &` in a shell: its pid is `$!`. */
async function background(argv: readonly string[], ready: (pid: number) => boolean): Promise<ChildProcess> {
  const p = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', cwd: '/tmp' });
  await waitFor(`${argv.join(' ')} to be ready`, () => (ready(p.pid!) ? true : undefined));
  return p;
}

const stop = async (p: ChildProcess) => {
  p.kill('SIGKILL');
  if (p.exitCode === null && p.signalCode === null) await new Promise((r) => p.once('exit', r));
};

const hostname = (args: readonly string[]) => spawnSync(args[0]!, [...args.slice(1), 'hostname'], { encoding: 'utf8' });

describe('the program replaces the launcher: $! round trips between the tool sets', () => {
  for (const [maker, enterer] of [['ns-unshare', 'nsenter'], ['unshare', 'ns-enter'], ['ns-unshare', 'ns-enter']] as const) {
    it(`${maker} -u -n ... & then ${enterer} -t $! -u: the program's namespaces`, async () => {
      const name = `rt-${maker}-${enterer}-${process.pid}`.slice(0, 60);
      const launcher = maker === 'unshare' ? 'unshare' : bin('ns-unshare');
      const p = await background([launcher, '-u', '-n', '--', 'sh', '-c', `hostname ${name}; exec sleep 60`], (pid) => comm(pid) === 'sleep');
      try {
        expect(childrenOf(p.pid!), 'nothing runs below the program').to.deep.equal([]);
        expect(readlinkSync(`/proc/${p.pid}/ns/net`)).not.to.equal(readlinkSync('/proc/self/ns/net'));
        const r = hostname([enterer === 'nsenter' ? 'nsenter' : bin('ns-enter'), '-t', String(p.pid), '-u']);
        expect(r.stderr).to.equal('');
        expect(r.stdout).to.equal(`${name}\n`);
      } finally {
        await stop(p);
      }
    });
  }

  it('ns-enter -t PID -u ... &: the program is $!, inside the target\'s uts namespace', async () => {
    const target = await background(['unshare', '-u', 'sh', '-c', 'hostname target-of-enter; exec sleep 60'], (pid) => comm(pid) === 'sleep');
    try {
      const p = await background([bin('ns-enter'), '-t', String(target.pid), '-u', '--', 'sleep', '60'], (pid) => comm(pid) === 'sleep');
      try {
        expect(readlinkSync(`/proc/${p.pid}/ns/uts`)).to.equal(readlinkSync(`/proc/${target.pid}/ns/uts`));
        expect(hostname(['nsenter', '-t', String(p.pid), '-u']).stdout).to.equal('target-of-enter\n');
      } finally {
        await stop(p);
      }
    } finally {
      await stop(target);
    }
  });
});

describe('what a launcher keeps while the program runs', () => {
  it('ns-unshare -Urpf --mount-proc sleep keeps one small C process (ns-relay), less than util-linux unshare keeps', async () => {
    const held: Record<string, { comms: string[]; kib: number }> = {};
    for (const launcher of ['unshare', bin('ns-unshare')]) {
      // Ready once the program runs and the launcher is what it stays as (ns-relay execs meanwhile).
      const p = await background([launcher, '-Urpf', '--mount-proc', 'sleep', '60'],
        (pid) => kept(pid, '').some((q) => comm(q) === 'sleep') && ['unshare', 'ns-relay'].includes(comm(pid)));
      try {
        const procs = kept(p.pid!, 'sleep');
        held[launcher] = { comms: procs.map(comm), kib: procs.reduce((sum, q) => sum + rssKib(q), 0) };
      } finally {
        await stop(p);
      }
    }
    const ours = held[bin('ns-unshare')]!;
    const theirs = held['unshare']!;
    expect(ours.comms, 'no Node process remains').to.deep.equal(['ns-relay']);
    expect(theirs.comms).to.deep.equal(['unshare']);
    expect(ours.kib, `ours ${ours.kib} KiB, util-linux ${theirs.kib} KiB`).to.be.lessThan(theirs.kib / 2);
  });

  it('ns-enter -p keeps one small C process, as nsenter keeps its forking parent', async () => {
    const target = await background(['unshare', '-pf', '--mount-proc', 'sleep', '60'], (pid) => childrenOf(pid).length === 1);
    try {
      const [inner] = childrenOf(target.pid!);
      const p = await background([bin('ns-enter'), '-t', String(inner), '-p', '-m', '--', 'sleep', '60'],
        (pid) => comm(pid) === 'ns-relay' && childrenOf(pid).some((q) => comm(q) === 'sleep'));
      try {
        expect(rssKib(p.pid!)).to.be.lessThan(512);
        const [program] = childrenOf(p.pid!);
        expect(readlinkSync(`/proc/${program}/ns/pid`)).to.equal(readlinkSync(`/proc/${inner}/ns/pid`));
      } finally {
        await stop(p);
      }
      expect(isAlive(p.pid!)).to.equal(false);
    } finally {
      await stop(target);
    }
  });
});
