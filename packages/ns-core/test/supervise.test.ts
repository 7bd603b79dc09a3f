/**
 * Supervisors, checked from outside: execInPlace() with `supervise` keeps the caller's pid as
 * the supervisor (nsx-init, outside every namespace) and the program runs past its fork; a
 * detached spawn() supervisor outlives its caller in a session of its own, its program on a
 * copy of the caller's memory; a supervised program may get a pty the supervisor relays.
 */
import { expect } from 'chai';
import { spawn as nodeSpawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileInPlace, compileSpawn, Namespace, spawn, supervisorWords, type NsError } from '../src/index';
import { childrenOf, commOf as comm, gone, isAlive, nsInode, scratchDir, sessionOf, waitFor } from 'ns-test-kit';

const TAG = `nsxs${process.pid}`;
const CORE = JSON.stringify(join(__dirname, '../src/index.js'));
const stdio = new Map([[0, 0], [1, 1], [2, 2]]);

const scratch = scratchDir(TAG);

let scripts = 0;
/** A script that runs `body` with `core` loaded; `execInPlace` calls are JavaScript source. */
function script(body: string): string {
  const file = join(scratch(), `script-${++scripts}.js`);
  writeFileSync(file, `const core = require(${CORE});\n${body}\n`);
  return file;
}
const inPlace = (argv: readonly string[], options: string) => script(
  `try { core.execInPlace(${JSON.stringify(argv)}, ${options}); }\n`
  + 'catch (e) { console.error(JSON.stringify({ code: e.code, message: e.message })); process.exit(99); }');

const exited = (p: ChildProcess) => new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
  if (p.exitCode !== null || p.signalCode !== null) resolve({ code: p.exitCode, signal: p.signalCode });
  else p.once('exit', (code, signal) => resolve({ code, signal }));
});
/** kcmp(2) KCMP_VM: 0 when two processes share one address space. */
function sameMemory(a: number, b: number): boolean {
  const r = spawnSync('python3', ['-c', `import ctypes,sys; sys.stdout.write(str(ctypes.CDLL(None).syscall(312, ${a}, ${b}, 1, 0, 0)))`], { encoding: 'utf8' });
  expect(r.status, r.stderr).to.equal(0);
  return r.stdout === '0';
}
const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

describe('supervise: the plan', () => {
  it('words for nsx-init in order: how to wait, then the cleanup, on-exit last', () => {
    expect(supervisorWords({ session: true, signalAsCode: true, onExitReports: true, exitFile: '/run/x/exit', reportLeftCgroups: 'prog', terminal: { input: 0 },
      onExit: ['/bin/hook', 'a'],
      cleanup: [{ userns: 7 }, { rmtree: '/var/c' }, { rmcgroup: '/sys/fs/cgroup/c/d' }, { rmdir: '/sys/fs/cgroup/c' }, { unlink: '/run/x/state' },
        { release: { state: '/run/x/c.json', id: 'ab', exitFile: '/run/x/c.json.exit.ab' } }] }))
      .to.deep.equal(['session', 'signal-as-code', 'report', 'exit-file', '/run/x/exit', 'left-report', 'prog', 'pty', '1', '0', 'userns', '7', 'rmtree', '/var/c',
        'rmcgroup', '/sys/fs/cgroup/c/d', 'rmdir', '/sys/fs/cgroup/c', 'unlink', '/run/x/state', 'release', '/run/x/c.json', 'ab', '/run/x/c.json.exit.ab',
        'on-exit', '/bin/hook', 'a']);
  });

  for (const words of [['release', '/run/x/c.json', 'ab'], ['release'], ['left-report'], ['rmcgroup', '/x', 'left-report']]) {
    it(`nsx-init fails closed on the words ${JSON.stringify(words)} (an argument missing): 125, the program killed, no cleanup run`, async () => {
      const program = nodeSpawn('sleep', ['30'], { stdio: 'ignore' });
      const end = exited(program);
      const r = spawnSync(join(__dirname, '../../build/nsx-init'), ['supervise', String(program.pid), '0', '0', '-', ...words], { encoding: 'utf8', timeout: 20000 });
      expect([r.status, r.signal]).to.deep.equal([125, null]);
      expect(await end).to.deep.equal({ code: null, signal: 'SIGKILL' });
    });
  }

  it('refuses, before anything runs, what cannot work (EUSAGE)', () => {
    const refused = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as NsError).code;
      }
      return 'accepted';
    };
    expect(refused(() => compileInPlace(['true'], { supervise: { detach: true } }, stdio, 1)), 'detach in place').to.equal('EUSAGE');
    expect(refused(() => supervisorWords({ cleanup: [{ userns: -1 }] })), 'a negative fd').to.equal('EUSAGE');
    expect(refused(() => supervisorWords({ cleanup: [{ unlink: '' }] })), 'an empty path').to.equal('EUSAGE');
    expect(refused(() => compileInPlace(['true'], { create: ['user'], supervise: {}, steps: [{ name: 'm',
      parent: [{ action: 'write-proc', file: 'uid_map', data: '0 0 1', step: '--map-root-user' }] }] }, stdio, 1)), 'a parent action in place')
      .to.equal('EUSAGE');
    expect(refused(() => compileSpawn(['true'], { steps: [{ name: 'p', unshareInChild: ['pid'] }], supervise: {} }, stdio)), 'pid unshared past the supervisor')
      .to.equal('EUSAGE');
  });

  it('a terminal: a console socket right before the supervisor\'s fork, the terminal past every fork', () => {
    const { plan } = compileSpawn(['sh'], { create: ['uts'], supervise: { terminal: { sizeFrom: 0 } } }, stdio);
    const names = plan.ops.map((o) => o.op);
    expect(names.indexOf('console-socket')).to.equal(names.indexOf('fork') - 1);
    expect(names.indexOf('terminal')).to.be.greaterThan(names.indexOf('fork'));
    expect(names.indexOf('terminal')).to.be.lessThan(names.indexOf('exec'));
  });
});

describe('execInPlace with a supervisor: this process waits, in C, keeping its pid', () => {
  it('the launcher\'s pid is the supervisor outside the namespaces; exit code, exit file and cleanup as the program ended', async () => {
    const cg = join(scratch(), 'cg');
    const state = join(scratch(), 'state');
    const exitFile = join(scratch(), 'exit-code');
    mkdirSync(cg);
    writeFileSync(state, 'x');
    const p = nodeSpawn(process.execPath, [inPlace(['sh', '-c', 'hostname; read x; exit 7'], `{ create: ['uts', 'pid'],
      steps: [{ name: 'h', child: [{ op: 'sethostname', name: '${TAG}', phase: 'namespaces' }] }],
      supervise: { exitFile: ${JSON.stringify(exitFile)}, cleanup: [{ rmdir: ${JSON.stringify(cg)} }, { unlink: ${JSON.stringify(state)} }] } }`)],
    { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    try {
      await waitFor('the program', () => comm(p.pid!) === 'ns-supervise' && childrenOf(p.pid!).some((c) => comm(c) === 'sh'));
      const [program] = childrenOf(p.pid!);
      for (const k of ['uts', 'pid', 'mnt']) expect(nsInode(p.pid!, k), `the supervisor's ${k}`).to.equal(nsInode('self', k));
      expect(nsInode(program!, 'uts')).not.to.equal(nsInode('self', 'uts'));
      expect(readFileSync(`/proc/${program}/status`, 'utf8')).to.match(/^NSpid:\s+\d+\s+1$/m);
      expect(existsSync(exitFile), 'no exit file while the program runs').to.equal(false);
      p.stdin!.end('\n');
      expect(await exited(p)).to.deep.equal({ code: 7, signal: null });
    } finally {
      p.kill('SIGKILL');
    }
    expect(out).to.equal(`${TAG}\n`);
    expect(readFileSync(exitFile, 'utf8')).to.equal('7\n');
    expect(existsSync(cg), 'rmdir').to.equal(false);
    expect(existsSync(state), 'unlink').to.equal(false);
  });

  it('a program killed by signal N: the exit file says 128+N and the supervisor dies of N', () => {
    const exitFile = join(scratch(), 'exit-signal');
    const r = spawnSync(process.execPath, [inPlace(['sh', '-c', 'kill -USR2 $$'], `{ create: ['uts'], supervise: { exitFile: ${JSON.stringify(exitFile)} } }`)],
      { encoding: 'utf8', timeout: 20000 });
    expect(r.stderr).to.equal('');
    expect(r.signal).to.equal('SIGUSR2');
    expect(readFileSync(exitFile, 'utf8')).to.equal(`${128 + 12}\n`);
    // As a shell reports it.
    const sh = spawnSync('sh', ['-c', `${process.execPath} ${inPlace(['sh', '-c', 'kill -TERM $$'], "{ supervise: {} }")}; echo $?`], { encoding: 'utf8', timeout: 20000 });
    expect(sh.stdout).to.equal('143\n');
  });

  it('signalAsCode: a program killed by signal N, the supervisor exits 128+N (docker\'s status) and is not killed', () => {
    const r = spawnSync(process.execPath, [inPlace(['sh', '-c', 'kill -USR2 $$'], '{ create: [\'uts\'], supervise: { signalAsCode: true } }')],
      { encoding: 'utf8', timeout: 20000 });
    expect([r.status, r.signal, r.stderr]).to.deep.equal([128 + 12, null, '']);
  });

  for (const [program, reports, expected] of [
    ['exit 0', true, [125, 'left: 0\n']], ['exit 7', true, [7, 'left: 7\n']], ['exit 0', false, [0, '']],
  ] as const) {
    it(`onExitReports ${reports}: the on-exit command's stderr is ${reports ? 'ours' : 'not'}; after '${program}' and its exit 125, the supervisor exits ${expected[0]}`, () => {
      const hook = ['/bin/sh', '-c', 'echo "left: $1" >&2; exit 125', 'hook'];
      const r = spawnSync(process.execPath, [inPlace(['sh', '-c', program], `{ create: ['uts'], supervise: { onExitReports: ${reports}, onExit: ${JSON.stringify(hook)} } }`)],
        { encoding: 'utf8', timeout: 20000 });
      expect([r.status, r.stderr]).to.deep.equal(expected);
    });
  }

  describe('release: an auto-removed state file, without an on-exit program', () => {
    const ID = 'a1'.repeat(32);
    /** A state file holding `id` (among other text, across a 4 KiB read boundary), its exit file, and the supervisor run in place over `sh -c program`. */
    function ended(program: string, id: string, setup: (state: string) => void = () => undefined) {
      const dir = join(scratch(), `release-${++scripts}`);
      mkdirSync(dir);
      const state = join(dir, 'c.json');
      const exitFile = `${state}.exit.${ID}`;
      writeFileSync(state, `{"pad": "${'p'.repeat(4090)}", "id": "${id}"}\n`);
      setup(state);
      const r = spawnSync(process.execPath, [inPlace(['sh', '-c', program], `{ create: ['uts'], supervise: { cleanup: [{ release: ${JSON.stringify({ state, id: ID, exitFile })} }] } }`)],
        { encoding: 'utf8', timeout: 20000 });
      return { r, state, exitFile };
    }

    it('ours and nobody waits: the state and the exit file go, the status is the program\'s', () => {
      const { r, state, exitFile } = ended('exit 6', ID);
      expect([r.status, r.stderr]).to.deep.equal([6, '']);
      expect(existsSync(state), 'the state').to.equal(false);
      expect(existsSync(exitFile), 'the exit file').to.equal(false);
    });

    it('a live waiter (STATE.wait.PID): both stay, the exit file saying the code; a dead waiter\'s file is removed instead', () => {
      const dead = spawnSync('true').pid!;
      const live = ended('exit 4', ID, (state) => writeFileSync(`${state}.wait.${process.pid}`, '{}'));
      expect(live.r.status).to.equal(4);
      expect(existsSync(live.state), 'the state').to.equal(true);
      expect(readFileSync(live.exitFile, 'utf8')).to.equal('4\n');
      const gone = ended('exit 0', ID, (state) => writeFileSync(`${state}.wait.${dead}`, '{}'));
      expect(gone.r.status).to.equal(0);
      expect(existsSync(gone.state), 'the state').to.equal(false);
      expect(existsSync(`${gone.state}.wait.${dead}`), 'the dead waiter\'s file').to.equal(false);
    });

    it('a state that no longer holds our id (another container\'s now): it stays, our exit file goes', () => {
      const { r, state, exitFile } = ended('exit 0', 'b2'.repeat(32));
      expect(r.status).to.equal(0);
      expect(readFileSync(state, 'utf8')).to.include('b2'.repeat(32));
      expect(existsSync(exitFile)).to.equal(false);
    });
  });

  for (const [program, expected] of [['exit 0', 125], ['exit 3', 3]] as const) {
    it(`reportLeftCgroups: a directory rmcgroup could not remove is named on one line; after '${program}' the supervisor exits ${expected}`, () => {
      // Not a cgroup, and not empty: rmdir fails (ENOTEMPTY), as for a cgroup kept by a child group.
      const kept = join(scratch(), `kept-${++scripts}`);
      mkdirSync(join(kept, 'child'), { recursive: true });
      const gone = join(scratch(), `gone-${scripts}`);
      mkdirSync(gone);
      const r = spawnSync(process.execPath, [inPlace(['sh', '-c', program], `{ create: ['uts'], supervise: { reportLeftCgroups: 'prog',
        cleanup: [{ rmcgroup: ${JSON.stringify(kept)} }, { rmcgroup: ${JSON.stringify(gone)} }] } }`)], { encoding: 'utf8', timeout: 20000 });
      expect([r.status, r.stderr]).to.deep.equal([expected, `prog: the container ended, but ${kept} could not be removed (rmdir: ENOTEMPTY); remove it by hand\n`]);
      expect(existsSync(gone)).to.equal(false);
    });
  }

  for (const session of [false, true]) {
    it(`a signal sent to the supervisor reaches the program once${session ? ' (program in a session of its own)' : ''}`, async () => {
      const got = join(scratch(), `got-${session}`);
      const stop = join(scratch(), `stop-${session}`);
      const p = nodeSpawn(process.execPath, [inPlace(['sh', '-c', `trap 'echo USR1 >> ${got}' USR1; trap 'echo TERM >> ${got}; exit 9' TERM; `
        + `echo ready >> ${got}; while [ ! -e ${stop} ]; do sleep 0.02; done`],
      `{ create: ['uts'], supervise: { session: ${session} }, ${session ? "steps: [{ name: 's', child: [{ op: 'setsid', phase: 'fork' }] }]" : ''} }`)],
      { stdio: 'ignore' });
      try {
        await waitFor('the traps', () => lines(got).includes('ready'));
        process.kill(p.pid!, 'SIGUSR1');
        await waitFor('USR1 passed on', () => lines(got).includes('USR1'));
        await new Promise((r) => setTimeout(r, 200));
        process.kill(p.pid!, 'SIGTERM');
        expect(await exited(p)).to.deep.equal({ code: 9, signal: null });
        expect(lines(got)).to.deep.equal(['ready', 'USR1', 'TERM']);
      } finally {
        writeFileSync(stop, '');
        p.kill('SIGKILL');
      }
    });
  }

  it('rmtree removes a tree without following a symlink out of it or emptying a filesystem mounted inside', async () => {
    const tree = join(scratch(), 'tree');
    const outside = join(scratch(), 'outside');
    mkdirSync(join(tree, 'a/b/c'), { recursive: true });
    mkdirSync(join(tree, 'mnt'));
    mkdirSync(outside);
    writeFileSync(join(outside, 'keep'), 'k');
    for (let i = 0; i < 300; i++) writeFileSync(join(tree, 'a/b', `f${i}`), 'x'); // more than one getdents buffer
    writeFileSync(join(tree, 'a/b/c/deep'), 'x');
    symlinkSync(outside, join(tree, 'a/link-dir'));
    symlinkSync(join(outside, 'keep'), join(tree, 'link-file'));
    expect(spawnSync('mount', ['-t', 'tmpfs', TAG, join(tree, 'mnt')]).status).to.equal(0);
    try {
      writeFileSync(join(tree, 'mnt/on-tmpfs'), 'x');
      const r = spawnSync(process.execPath, [inPlace(['true'], `{ supervise: { cleanup: [{ rmtree: ${JSON.stringify(tree)} }] } }`)],
        { encoding: 'utf8', timeout: 20000 });
      expect(r.stderr).to.equal('');
      expect(r.status).to.equal(0);
      expect(readFileSync(join(outside, 'keep'), 'utf8'), 'the symlinks\' targets').to.equal('k');
      expect(readFileSync(join(tree, 'mnt/on-tmpfs'), 'utf8'), 'the mount\'s contents').to.equal('x');
      expect(spawnSync('find', [tree], { encoding: 'utf8' }).stdout.trim().split('\n').sort(),
        'all but the mount point and its parent').to.deep.equal([tree, join(tree, 'mnt'), join(tree, 'mnt/on-tmpfs')]);
    } finally {
      spawnSync('umount', [join(tree, 'mnt')]);
    }
    const r = spawnSync(process.execPath, [inPlace(['true'], `{ supervise: { cleanup: [{ rmtree: ${JSON.stringify(tree)} }] } }`)], { timeout: 20000 });
    expect(r.status).to.equal(0);
    expect(existsSync(tree), 'once nothing is mounted there').to.equal(false);
  });
});

describe('a supervisor\'s cleanup in a user namespace (userns FD)', () => {
  it('joins it for the words after it: the on-exit program runs there', async () => {
    const holder = await spawn(['sleep', '20'], { create: ['user'], stdio: 'ignore', steps: [{ name: 'map', parent: [
      { action: 'write-proc', file: 'uid_map', data: '0 0 1' }, { action: 'write-proc', file: 'setgroups', data: 'deny' },
      { action: 'write-proc', file: 'gid_map', data: '0 0 1' }] }] });
    const where = join(scratch(), 'hook-userns');
    const ns = Namespace.ofPid(holder.pid, 'user');
    try {
      const child = await spawn(['true'], { create: ['uts'], stdio: 'ignore', supervise: { cleanup: [{ userns: ns.fd }],
        onExit: ['/bin/sh', '-c', `readlink /proc/self/ns/user > ${where}`, 'hook'] } });
      expect(await child.exited).to.deep.equal({ code: 0, signal: null });
      expect(readFileSync(where, 'utf8').trim()).to.equal(`user:[${nsInode(holder.pid, 'user')}]`);
    } finally {
      ns.close();
      holder.kill('SIGKILL');
      await holder.exited;
    }
  });
});

describe('spawn with a detached supervisor: the container outlives its caller', () => {
  for (const how of ['exits', 'is SIGKILLed'] as const) {
    it(`the supervisor and its program run on when the caller ${how}, in a session of their own, then clean up`, async () => {
      const stop = join(scratch(), `detach-stop-${how.length}`);
      const state = join(scratch(), `detach-state-${how.length}`);
      const exitFile = join(scratch(), `detach-exit-${how.length}`);
      writeFileSync(state, 'x');
      const caller = nodeSpawn(process.execPath, [script(`(async () => {
        const c = await core.spawn(['sh', '-c', 'while [ ! -e ${stop} ]; do sleep 0.02; done; exit 4'], { create: ['uts', 'mnt'], stdio: 'ignore',
          supervise: { detach: true, exitFile: ${JSON.stringify(exitFile)}, cleanup: [{ unlink: ${JSON.stringify(state)} }] } });
        console.log(JSON.stringify({ supervisor: c.pid, program: c.programPid }));
        ${how === 'exits' ? 'process.exit(0);' : 'setInterval(() => {}, 1000);'}
      })();`)], { stdio: ['ignore', 'pipe', 'inherit'], detached: false });
      let out = '';
      caller.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
      const { supervisor, program } = await waitFor('the pids', () => (out.includes('\n') ? JSON.parse(out) as { supervisor: number; program: number } : undefined));
      try {
        expect(comm(supervisor)).to.equal('ns-supervise');
        expect(sessionOf(supervisor)).to.deep.equal({ sid: supervisor, pgrp: supervisor });
        expect(sessionOf(supervisor)!.sid, 'the caller\'s session (ours)').not.to.equal(sessionOf(process.pid)!.sid);
        if (how === 'is SIGKILLed') caller.kill('SIGKILL');
        await exited(caller);
        await new Promise((r) => setTimeout(r, 200));
        expect(isAlive(supervisor), 'the supervisor').to.equal(true);
        expect(isAlive(program), 'the program').to.equal(true);
        expect(existsSync(state)).to.equal(true);
        writeFileSync(stop, '');
        expect(await gone(supervisor, 5000)).to.equal(true);
        expect(readFileSync(exitFile, 'utf8')).to.equal('4\n');
        expect(existsSync(state)).to.equal(false);
      } finally {
        writeFileSync(stop, '');
        caller.kill('SIGKILL');
      }
    });
  }

  it('its program starts on a copy of the caller\'s memory, never on the caller\'s own (kcmp KCMP_VM)', async () => {
    for (const detach of [false, true]) {
      const fifo = join(scratch(), `fifo-${detach}`);
      expect(spawnSync('mkfifo', [fifo]).status).to.equal(0);
      // The program's process blocks before its exec, opening the FIFO, until we read it.
      const pending = spawn(['true'], { create: ['uts'], stdio: 'ignore', waitForExec: 'async',
        steps: [{ name: 'park', child: [{ op: 'write-file', path: fifo, data: 'x', phase: 'final' }] }], supervise: { detach } });
      try {
        const supervisor = await waitFor('the supervisor', () => childrenOf().find((c) => comm(c) === 'ns-supervise' && childrenOf(c).length === 1));
        const [program] = childrenOf(supervisor);
        expect(sameMemory(process.pid, program!), `detach: ${detach}`).to.equal(!detach);
      } finally {
        readFileSync(fifo);
      }
      const child = await pending;
      expect(await child.exited).to.deep.equal({ code: 0, signal: null });
    }
  });
});

/** Runs `command` under `script -qec` (a terminal of its own), input written as the output asks for it. */
async function underScript(command: string, dialogue: (out: () => string, write: (s: string) => void) => Promise<void>): Promise<{ out: string; code: number | null }> {
  const p = nodeSpawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  try {
    await dialogue(() => out, (s) => p.stdin!.write(s));
    p.stdin!.end();
    const { code } = await exited(p);
    return { out: out.replace(/\r\n/g, '\n'), code };
  } finally {
    p.kill('SIGKILL');
  }
}

describe('a supervised program\'s terminal, relayed by the supervisor', () => {
  it('the program\'s tty is a pty of its own, output relayed, exit status right, the caller\'s terminal mode restored', async () => {
    const launcher = inPlace(['sh', '-c', 'echo "tty=$(tty)"; echo "size=$(stty size)"; exit 3'],
      "{ create: ['uts'], supervise: { terminal: { input: 0, sizeFrom: 0 } } }");
    const r = await underScript(`stty rows 33 cols 77; echo "outer=$(tty)"; echo "before=$(stty -g)"; ${process.execPath} ${launcher}; echo "rc=$?"; echo "after=$(stty -g)"`,
      async (out) => { await waitFor('the end', () => out().includes('after=')); });
    const field = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(r.out)?.[1];
    expect(field('tty'), r.out).to.match(/^\/dev\/pts\/\d+$/);
    expect(field('tty')).not.to.equal(field('outer'));
    expect(field('size'), 'the size of the caller\'s terminal').to.equal('33 77');
    expect(field('rc')).to.equal('3');
    expect(field('after')).to.equal(field('before'));
    expect(r.code).to.equal(0);
  });

  it('a devpts of its own (a container\'s): the program\'s tty is its first pty, owned as asked', async () => {
    const launcher = inPlace(['sh', '-c', 'echo "tty=$(tty) pts=$(ls /dev/pts | tr "\\n" " ")owner=$(stat -c %u:%g:%a "$(tty)")"'],
      `{ create: ['uts', 'mnt'], steps: [{ name: 'pts', child: [
        { op: 'mount', target: '/', flags: ['REC', 'PRIVATE'], phase: 'propagation' },
        { op: 'mount', source: 'devpts', target: '/dev/pts', fstype: 'devpts', data: 'newinstance,ptmxmode=0666,mode=0620', phase: 'mounts' }] }],
        supervise: { terminal: { input: 0, ptmx: '/dev/pts/ptmx', owner: { uid: 65534, gid: 5 } } } }`);
    const r = await underScript(`${process.execPath} ${launcher}; echo "rc=$?"`, async (out) => { await waitFor('the end', () => out().includes('rc=')); });
    expect(r.out).to.match(/^tty=\/dev\/pts\/0 pts=0 ptmx owner=65534:5:620$/m);
    expect(r.out).to.match(/^rc=0$/m);
  });

  it('raw while it runs: ^C typed reaches the program once, through its own terminal', async () => {
    const stop = join(scratch(), 'tty-stop');
    const launcher = inPlace(['sh', '-c', `trap 'echo got-INT' INT; stty -a | grep -o -- '-\\?isig' | head -1; echo ready; while [ ! -e ${stop} ]; do sleep 0.02; done; exit 5`],
      "{ create: ['uts'], supervise: { terminal: { input: 0 } } }");
    const r = await underScript(`echo "outer=$(stty -a | grep -o -- '-\\?icanon' | head -1)"; ${process.execPath} ${launcher}; echo "rc=$?"; echo "end=$(stty -a | grep -o -- '-\\?icanon' | head -1)"`,
      async (out, write) => {
        await waitFor('the program', () => out().includes('ready'));
        write('\x03');
        await waitFor('the signal', () => out().includes('got-INT'));
        await new Promise((res) => setTimeout(res, 300));
        writeFileSync(stop, '');
        await waitFor('the end', () => out().includes('end='));
      });
    expect(r.out.match(/got-INT/g)).to.have.length(1);
    expect(r.out).to.match(/^isig$/m); // the program's own terminal is cooked
    expect(r.out).to.match(/^rc=5$/m);
    expect(r.out).to.match(/^outer=icanon$/m);
    expect(r.out).to.match(/^end=icanon$/m);
  });
});
