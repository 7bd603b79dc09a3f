/**
 * execInPlace(): a Node process replaced by the program through nsx, checked from outside:
 * the pid is kept and the program has the launcher's namespaces (util-linux nsenter -t finds
 * them), a fork leaves only nsx-init waiting (small), signals and exit statuses pass as
 * util-linux's would, the helper writes maps and binds namespaces from where the launcher
 * started, --info-fd/--json-status-fd are written by C, and a failure prints the very line
 * TypeScript's formatError() prints for the same op.
 */
import { expect } from 'chai';
import { spawn as nodeSpawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  compileInPlace, encodePlan, KIND_NAMES, opError, spawn, type ChildOp, type InPlaceOptions,
} from '../src/index';
import { formatError } from '../src/cli-kit';
import { execStage } from '../src/exec/native';
import { SYSCALLS } from '../src/exec/protocol';
import { mountPoints as mounts, nsInode, scratchDir } from 'ns-test-kit';

const TAG = `nsxi${process.pid}`;
const CORE = JSON.stringify(join(__dirname, '../src/index.js'));

const scratch = scratchDir(TAG);

let scripts = 0;
/** A script that calls execInPlace(argv, options); `options` is JavaScript source. */
function launcher(argv: readonly string[], options: string, prelude = ''): string {
  const file = join(scratch(), `launch-${++scripts}.js`);
  writeFileSync(file, `const core = require(${CORE});\n${prelude}\n`
    + `try { core.execInPlace(${JSON.stringify(argv)}, ${options}); }\n`
    + 'catch (e) { console.error(JSON.stringify({ code: e.code, message: e.message })); process.exit(99); }\n');
  return file;
}

interface Ran { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

function run(argv: readonly string[], options: string, prelude = '', stdio?: 'inherit-extra'): Ran {
  const r = spawnSync(process.execPath, [launcher(argv, options, prelude)], {
    encoding: 'utf8', timeout: 20000, ...(stdio ? { stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] } : {}),
  });
  return { status: r.status, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) };
}

function start(argv: readonly string[], options: string): ChildProcess {
  return nodeSpawn(process.execPath, [launcher(argv, options)], { stdio: ['ignore', 'pipe', 'pipe'] });
}

const comm = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const exited = (p: ChildProcess) => new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
  if (p.exitCode !== null || p.signalCode !== null) resolve({ code: p.exitCode, signal: p.signalCode });
  else p.once('exit', (code, signal) => resolve({ code, signal }));
});

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function rssKib(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

const hostname = (name: string) => `{ name: 'h', child: [{ op: 'sethostname', name: ${JSON.stringify(name)}, phase: 'namespaces', step: '--hostname' }] }`;

describe('execInPlace: the program replaces the launcher', () => {
  it('keeps the pid: the program is the launcher, in its new namespaces, and nsenter -t enters them', async () => {
    const p = start(['sleep', '20'], `{ create: ['uts', 'ipc', 'net'], steps: [${hostname(TAG)}] }`);
    try {
      await until('the program', () => comm(p.pid!) === 'sleep');
      for (const k of ['uts', 'ipc', 'net']) expect(nsInode(p.pid!, k), k).not.to.equal(nsInode('self', k));
      for (const k of ['mnt', 'pid', 'user']) expect(nsInode(p.pid!, k), k).to.equal(nsInode('self', k));
      const r = spawnSync('nsenter', ['-t', String(p.pid), '-u', 'hostname'], { encoding: 'utf8' });
      expect(r.stdout).to.equal(`${TAG}\n`);
      expect(childrenOf(p.pid!), 'no helper or relay left as a child').to.deep.equal([]);
    } finally {
      p.kill('SIGKILL');
    }
    expect(await exited(p)).to.deep.equal({ code: null, signal: 'SIGKILL' });
  });

  it('without a fork a new pid namespace holds only the children, as unshare -p without -f', () => {
    const r = run(['sh', '-c', 'echo $$; sh -c "echo \\$\\$"'], `{ steps: [{ name: 'p', unshareInChild: ['pid'] }] }`);
    expect(r.stderr).to.equal('');
    const [self, child] = r.stdout.trim().split('\n').map(Number);
    expect(self).to.be.greaterThan(1);
    expect(child).to.equal(1);
  });

  it('a new pid namespace forks: nsx-init stays with the launcher\'s pid, small, and the program is PID 1', async () => {
    const p = start(['sleep', '20'], `{ create: ['pid', 'mnt'], steps: [{ name: 'proc', child: [
      { op: 'mount', target: '/', flags: ['REC', 'PRIVATE'], phase: 'propagation' },
      { op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', phase: 'after-root' }] }] }`);
    try {
      // The relay execs nsx-init while the program starts: either may come first.
      await until('the program', () => comm(p.pid!) === 'ns-relay' && childrenOf(p.pid!).some((c) => comm(c) === 'sleep'));
      const [program] = childrenOf(p.pid!);
      expect(readlinkSync(`/proc/${program}/ns/pid`)).to.equal(readlinkSync(`/proc/${p.pid}/ns/pid_for_children`));
      expect(readFileSync(`/proc/${program}/status`, 'utf8')).to.match(/^NSpid:\s+\d+\s+1$/m);
      // What waits is a few pages of freestanding C, not a Node process (which holds 40+ MiB).
      expect(rssKib(p.pid!)).to.be.lessThan(200);
    } finally {
      p.kill('SIGKILL'); // the relay: the program, PID 1 of its namespace, goes with the namespace
    }
    await exited(p);
  });

  it('exit statuses and fatal signals come back as the program ended, with and without a fork', () => {
    for (const fork of ['false', 'true']) {
      expect(run(['sh', '-c', 'exit 7'], `{ fork: ${fork} }`).status, `fork ${fork}`).to.equal(7);
      const killed = run(['sh', '-c', 'kill -USR2 $$'], `{ fork: ${fork} }`);
      expect(killed.signal, `fork ${fork}`).to.equal('SIGUSR2');
    }
  });

  it('the relay passes on what its policy forwards, ignores what it ignores, and dies of the rest by default', async () => {
    const script = 'trap "echo got USR1" USR1; trap "echo got USR2" USR2; while :; do sleep 0.05; done';
    const p = start(['sh', '-c', script], `{ fork: { forward: ['SIGUSR1'], ignore: ['SIGUSR2'] } }`);
    let out = '';
    p.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    await until('the program', () => childrenOf(p.pid!).length === 1 && comm(p.pid!) === 'ns-relay');
    const [program] = childrenOf(p.pid!);
    await new Promise((r) => setTimeout(r, 100)); // the traps are set
    process.kill(p.pid!, 'SIGUSR1');
    await until('USR1 forwarded', () => out.includes('got USR1'));
    process.kill(p.pid!, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, 150));
    expect(out).not.to.include('got USR2');
    expect(comm(p.pid!)).to.equal('ns-relay');
    process.kill(p.pid!, 'SIGHUP');
    expect(await exited(p)).to.deep.equal({ code: null, signal: 'SIGHUP' });
    expect(comm(program!), 'the program runs on, as under util-linux unshare -f').to.equal('sh');
    process.kill(program!, 'SIGKILL');
  });

  it('signals the caller ignored stay ignored in the program and in the relay', async () => {
    const sigign = (pid: number | 'self') => BigInt(`0x${/^SigIgn:\s+([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]}`);
    const hup = 1n << 0n;
    const plain = run(['grep', '^SigIgn', '/proc/self/status'], `{ ignoreSignals: ['SIGHUP'] }`);
    expect(BigInt(`0x${plain.stdout.split(/\s+/)[1]}`)).to.equal(hup); // and not Node's SIGPIPE
    const p = start(['sleep', '20'], `{ fork: true, ignoreSignals: ['SIGHUP'] }`);
    try {
      await until('the program', () => childrenOf(p.pid!).length === 1 && comm(p.pid!) === 'ns-relay');
      expect(sigign(p.pid!) & hup).to.equal(hup);
      expect(sigign(childrenOf(p.pid!)[0]!) & hup).to.equal(hup);
    } finally {
      p.kill('SIGKILL');
    }
    await exited(p);
  });

  it('stdio reaches the program as the caller gave it: open across the exec, and blocking though Node made it a stream', () => {
    // Reading process.stdout.columns makes libuv set O_NONBLOCK on a pipe; the flag is the pipe's.
    const r = run(['sh', '-c', 'grep ^flags /proc/self/fdinfo/1; echo to-stderr >&2'], '{}', 'void process.stdout.columns;');
    expect(r.stderr).to.equal('to-stderr\n');
    const flags = parseInt(r.stdout.split(/\s+/)[1]!, 8);
    expect(flags & 0o4000, 'O_NONBLOCK').to.equal(0);
  });

  it('argv0 as given: a login shell sees "-sh" as $0', () => {
    const r = run(['/bin/sh', '-c', 'echo $0'], `{ argv0: '-sh' }`);
    expect(r.stdout).to.equal('-sh\n');
  });

  it('writes --info-fd (then closes it) and --json-status-fd, and the exit code when a process waits', () => {
    const readFds = (fork: boolean) => {
      const r = spawnSync(process.execPath, [launcher(['sh', '-c', 'echo $$; exit 3'], `{ create: ['uts', 'net'], fork: ${fork}, infoFd: 3, statusFd: 4 }`)],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] });
      return { r, info: String(r.output[3]), status: String(r.output[4]) };
    };
    const plain = readFds(false);
    expect(plain.r.status).to.equal(3);
    const info = JSON.parse(plain.info) as Record<string, number>;
    expect(plain.info).to.match(/^\{\n {2}"child-pid": \d+,\n {2}"user-namespace": \d+,/);
    expect(info['child-pid']).to.equal(Number(plain.r.stdout.trim()), 'the program is the launcher');
    expect(Object.keys(info)).to.deep.equal(['child-pid', ...KIND_NAMES.map((k) => `${k}-namespace`)]);
    expect(info['net-namespace']).not.to.equal(nsInode('self', 'net'));
    expect(info['mnt-namespace']).to.equal(nsInode('self', 'mnt'));
    expect(plain.status).to.equal(`${JSON.stringify(info)}\n`); // no process waits: no exit code
    const forked = readFds(true);
    const line = forked.status.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(line).to.have.length(2);
    expect(line[0]!['child-pid']).to.not.equal(forked.r.pid);
    expect(line[1]).to.deep.equal({ 'exit-code': 3 });
  });

  it('refuses, before anything runs, a step whose parent action is JavaScript, and stdio pipes (EUSAGE)', () => {
    const r = run(['true'], `{ steps: [{ name: 'js', parent: [{ action: 'call', step: '--veth', run: () => {} }] }] }`);
    expect(r.status).to.equal(99);
    expect(JSON.parse(r.stderr)).to.deep.include({ code: 'EUSAGE' }).and.to.satisfy((e: { message: string }) => e.message.startsWith('--veth: '));
    const pipe = run(['true'], `{ stdio: 'pipe' }`);
    expect(JSON.parse(pipe.stderr)).to.include({ code: 'EUSAGE' });
  });

  it('a call action with a data form runs in place: the data form', () => {
    const r = run(['cat', '/proc/self/uid_map'], `{ create: ['user'], steps: [{ name: 'm', parent: [
      { action: 'call', step: 'js', run: () => { throw new Error('not here'); }, data: { action: 'write-proc', file: 'uid_map', data: '0 0 1' } }] }] }`);
    expect(r.stderr).to.equal('');
    expect(r.stdout.trim().split(/\s+/)).to.deep.equal(['0', '0', '1']);
  });
});

describe('execInPlace: parent actions by the helper, from outside the new namespaces', () => {
  it('writes a range map as root, with setgroups first', () => {
    const r = run(['sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups'], `{ create: ['user'], steps: [{ name: 'm', parent: [
      { action: 'write-proc', file: 'setgroups', data: 'deny' },
      { action: 'write-proc', file: 'uid_map', data: '0 100000 65536\\n' }, { action: 'write-proc', file: 'gid_map', data: '0 100000 65536\\n' }] }] }`);
    expect(r.stderr).to.equal('');
    expect(r.stdout.split(/\s+/).filter(Boolean)).to.deep.equal(['0', '100000', '65536', '0', '100000', '65536', 'deny']);
  });

  it('runs a program for the pid and waits (as newuidmap), and names its stderr when it fails', () => {
    const ok = run(['cat', '/proc/self/uid_map'], `{ create: ['user'], steps: [{ name: 'm', parent: [
      { action: 'run', argv: ['sh', '-c', 'echo "0 0 1" > /proc/$0/uid_map', '{pid}'], step: '--map-users' }] }] }`);
    expect(ok.stderr).to.equal('');
    expect(ok.stdout.trim().split(/\s+/)).to.deep.equal(['0', '0', '1']);
    const bad = run(['true'], `{ programName: 'tool', create: ['user'], steps: [{ name: 'm', parent: [
      { action: 'run', argv: ['sh', '-c', 'echo "  newuidmap: uid range [0-1) -> [5-6) not allowed  " >&2; exit 1'], step: '--map-users' }] }] }`);
    expect(bad.status).to.equal(1);
    expect(bad.stderr).to.equal('tool: --map-users: sh failed: newuidmap: uid range [0-1) -> [5-6) not allowed\n');
  });

  it('binds all eight kinds onto files (pid_for_children past the fork) that util-linux nsenter enters', async () => {
    // A mount namespace file may not sit on a shared mount (the kernel refuses): a private directory.
    const home = join(scratch(), 'persist');
    mkdirSync(home);
    spawnSync('mount', ['--bind', home, home]);
    spawnSync('mount', ['--make-private', home]);
    const files = Object.fromEntries(KIND_NAMES.map((k) => [k, join(home, `persist-${k}`)]));
    const binds = KIND_NAMES.map((k) => `{ action: 'bind-ns', kind: '${k}', file: ${JSON.stringify(files[k])} }`).join(', ');
    const p = start(['sleep', '20'], `{ create: ${JSON.stringify(KIND_NAMES)}, fork: true, steps: [{ name: 'persist', parent: [${binds},
      { action: 'write-proc', file: 'uid_map', data: '0 0 1' }, { action: 'write-proc', file: 'gid_map', data: '0 0 1' }] }] }`);
    try {
      await until('the program', () => comm(p.pid!) === 'ns-relay' && childrenOf(p.pid!).some((c) => comm(c) === 'sleep'));
      // Its only child but for a helper that may not be reaped yet: the one that is sleep.
      const program = childrenOf(p.pid!).find((c) => comm(c) === 'sleep');
      for (const k of KIND_NAMES) {
        const name = k === 'pid' ? 'pid' : k === 'time' ? 'time' : k;
        const r = spawnSync('nsenter', [`--${k === 'mnt' ? 'mount' : k}=${files[k]}`, 'true'], { encoding: 'utf8' });
        expect(r.status, `nsenter --${k}=FILE: ${r.stderr}`).to.equal(0);
        expect(nsInodeOfFile(files[k]!), k).to.equal(nsInode(program!, name));
      }
    } finally {
      p.kill('SIGKILL');
      await exited(p);
      for (const k of KIND_NAMES) spawnSync('umount', ['-l', files[k]!]);
      spawnSync('umount', ['-l', home]);
    }
  });

  it('a failure after the helper bound a namespace takes the binding and the file it made away again', () => {
    const file = join(scratch(), `persist-gone-${TAG}`);
    for (const [argv, code] of [[['/no/such/program'], 127], [['true'], 1]] as const) {
      const r = run(argv, `{ programName: 'tool', create: ['net', 'mnt'], steps: [{ name: 'p', parent: [{ action: 'bind-ns', kind: 'net', file: ${JSON.stringify(file)} }],
        child: ${code === 1 ? `[{ op: 'chdir', path: '/no/such/dir', phase: 'final', step: '--wd' }]` : '[]'} }] }`);
      expect(r.status, r.stderr).to.equal(code);
      // The launcher's exit waits for the helper's undo: gone by the time the status is known.
      expect(existsSync(file)).to.equal(false);
      // Counted by mount point: other suites on this machine mount things meanwhile.
      expect(mounts().filter((m) => m === file)).to.deep.equal([]);
    }
  });
});

function nsInodeOfFile(file: string): number {
  const r = spawnSync('stat', ['-L', '-c', '%i', file], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}

describe('execInPlace: the stage prints the line formatError() prints', () => {
  /** A plan with an op of every kind the in-place stage runs, helper ops included. */
  function everyKindPlan(): { ops: readonly ChildOp[]; bytes: Buffer } {
    const options: InPlaceOptions = {
      programName: 'ns-unshare', create: ['user', 'mnt', 'net', 'pid'], fork: true, infoFd: 3, cwd: '/w',
      join: [{ pidfd: 9, kinds: ['uts', 'time'] }],
      steps: [{
        name: 'all',
        parent: [{ action: 'write-proc', file: 'uid_map', data: '0 0 1', step: '--map-users' },
          { action: 'run', argv: ['newuidmap', '{pid}', '0', '1', '1'], step: '--map-auto' },
          { action: 'bind-ns', kind: 'net', file: '/run/x' }],
        child: [
          { op: 'mount', target: '/', flags: ['REC', 'PRIVATE'], phase: 'propagation', step: '--propagation' },
          { op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', phase: 'after-root', step: '--mount-proc' },
          { op: 'umount', target: '/mnt', phase: 'mounts' }, { op: 'mkdir', path: '/d', phase: 'mounts', step: '--mkdir' },
          { op: 'mkfile', path: '/f', phase: 'mounts' }, { op: 'symlink', target: 'a', path: '/l', phase: 'mounts' },
          { op: 'mount-fd', fd: 7, target: '/m', phase: 'mounts' }, { op: 'pivot-root', newRoot: '/r', phase: 'root', step: '--rootfs' },
          { op: 'chroot', path: '/c', phase: 'root', step: '--root' }, { op: 'fchdir', fd: 8, phase: 'after-root' },
          { op: 'sethostname', name: 'h', phase: 'namespaces', step: '--hostname' }, { op: 'setdomainname', name: 'd', phase: 'namespaces' },
          { op: 'write-file', path: '/proc/self/timens_offsets', data: '1 1 0', phase: 'namespaces', step: '--monotonic' },
          { op: 'link-up', name: 'lo', phase: 'namespaces', step: 'loopback' },
          { op: 'fork', init: true, forward: ['SIGTERM'], phase: 'fork', step: '--init' }, { op: 'setsid', phase: 'fork' },
          { op: 'setgroups', gids: [1], phase: 'identity' }, { op: 'setgid', gid: 1, phase: 'identity', step: '--setgid' },
          { op: 'setuid', uid: 1, phase: 'identity', step: '--setuid' }, { op: 'prctl', option: 38, args: [1], phase: 'identity' },
          { op: 'capset', effective: 0n, permitted: 0n, inheritable: 0n, phase: 'identity' },
          { op: 'ambient-all', phase: 'identity', step: '--keep-caps' }, { op: 'bounding-keep', keep: 0n, phase: 'identity' },
        ],
      }],
      ignoreSignals: ['SIGHUP'],
    };
    const { plan } = compileInPlace(['/bin/prog', 'x'], options, new Map([[0, 0], [1, 1], [2, 2]]), 4242);
    return { ops: plan.ops, bytes: encodePlan(plan) };
  }

  function rendered(bytes: Buffer, op: number, errno: number, syscall: number, text?: string): string {
    const out = Buffer.alloc(8192);
    const n = execStage().renderError(bytes, bytes.length, op, errno, syscall, text ?? null, out, out.length);
    expect(n, 'nsx_render_error').to.be.greaterThan(0);
    return out.subarray(0, n).toString();
  }

  it('for every op kind, errno and syscall the stage can report', () => {
    const { ops, bytes } = everyKindPlan();
    const kinds = new Set(ops.map((o) => o.op));
    // Every op the in-place compiler emits is in the plan (REPORT_NS and SYNC are the library's).
    for (const k of ['errors', 'helper-fork', 'helper-stage', 'helper-sync', 'write-file', 'run-helper', 'bind-ns', 'setns', 'unshare',
      'fork', 'info', 'exec', 'ignore-signals', 'cloexec-from', 'fd-stash', 'fd-place', 'mount', 'chdir', 'link-up']) {
      expect(kinds.has(k as ChildOp['op']), k).to.equal(true);
    }
    let compared = 0;
    for (let i = 0; i < ops.length; i++) {
      for (const errno of [1, 2, 13, 16, 22, 28, 87, 95, 117, 133, 150]) {
        for (let sys = 0; sys < SYSCALLS.length; sys++) {
          const expected = `${formatError('ns-unshare', opError(ops, i, errno, sys))}\n`;
          expect(rendered(bytes, i, errno, sys), `op ${i} (${ops[i]!.op}) errno ${errno} ${SYSCALLS[sys]}`).to.equal(expected);
          compared++;
        }
      }
      const text = 'newuidmap: write to uid_map failed: Operation not permitted';
      expect(rendered(bytes, i, 0, 0, text), `op ${i} with helper output`).to.equal(`${formatError('ns-unshare', opError(ops, i, 0, 0, text))}\n`);
    }
    expect(compared).to.be.greaterThan(10000);
  });

  it('end to end: a real failure of each kind prints that line and exits 1, 126 or 127', () => {
    const pid = '(?<pid>\\d+)';
    const plainFile = join(scratch(), 'not-executable');
    writeFileSync(plainFile, '#!/bin/sh\n', { mode: 0o644 });
    const cases: [string, string[], string, number, RegExp][] = [
      ['mount', ['true'], `{ create: ['mnt'], steps: [{ name: 'b', child: [{ op: 'mount', source: '/no/src', target: '/mnt', flags: ['BIND'], phase: 'mounts', step: '--bind' }] }] }`,
        1, /^tool: --bind: mount \/no\/src -> \/mnt failed: ENOENT \(no such file or directory\)\n$/],
      ['open, not write', ['true'], `{ steps: [{ name: 'w', child: [{ op: 'write-file', path: '/no/such/file', data: 'x', phase: 'final', step: '--load-interp' }] }] }`,
        1, /^tool: --load-interp: open \/no\/such\/file failed: ENOENT \(no such file or directory\)\n$/],
      ['setns with a hint', ['true'], `{ join: [{ pidfd: 0, kinds: ['uts'] }] }`,
        1, /^tool: join uts: setns\(uts\) failed: EINVAL \(invalid argument\)\n$/],
      ['no such program', ['/no/such/prog'], '{}', 127, /^tool: failed to execute \/no\/such\/prog: ENOENT \(no such file or directory\)\n$/],
      ['not executable', [plainFile], '{}', 126, new RegExp(`^tool: failed to execute ${plainFile}: EACCES \\(permission denied\\)\\n$`)],
      ['a helper write', ['true'], `{ create: ['user'], steps: [{ name: 'm', parent: [{ action: 'write-proc', file: 'uid_map', data: '0 0 0' }] }] }`,
        1, new RegExp(`^tool: uid_map: write /proc/${pid}/uid_map failed: EINVAL \\(invalid argument\\)\\n$`)],
    ];
    for (const [what, argv, options, status, line] of cases) {
      const r = run(argv, options.replace(/^\{/, "{ programName: 'tool', exitCodes: { failure: 1 }, "));
      expect(r.stderr, what).to.match(line);
      expect(r.status, what).to.equal(status);
    }
    const ns = run(['true'], "{ programName: 'tool', exitCodes: { failure: 125 }, create: ['mnt'], steps: [{ name: 'b', child: [{ op: 'umount', target: '/no/such', phase: 'mounts' }] }] }");
    expect(ns.status, 'ns-run style exit codes come from the plan').to.equal(125);
  });
});

describe('spawn with a supervisor (the container runner\'s)', () => {
  it('waits outside the namespaces, cleans up, runs the on-exit program with the status, and exits as the program did', async () => {
    const cg = join(scratch(), `sv-dir-${TAG}`);
    const state = join(scratch(), `sv-state-${TAG}`);
    const hook = join(scratch(), `sv-hook-${TAG}`);
    mkdirSync(cg);
    writeFileSync(state, 'x');
    const child = await spawn(['sh', '-c', 'hostname; sleep 0.2; exit 7'], {
      create: ['uts', 'pid', 'mnt', 'user'], stdio: ['ignore', 'pipe', 'inherit'],
      steps: [{ name: 'h', child: [{ op: 'sethostname', name: TAG, phase: 'namespaces' }],
        parent: [{ action: 'write-proc', file: 'uid_map', data: '0 0 1' }, { action: 'write-proc', file: 'gid_map', data: '0 0 1' }] }],
      supervise: { cleanup: [{ rmdir: cg }, { unlink: state }], onExit: ['/bin/sh', '-c', `echo "$1" > ${hook}`, 'hook'] },
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    expect(comm(child.pid)).to.equal('ns-supervise');
    for (const k of ['uts', 'pid', 'mnt', 'user']) expect(nsInode(child.pid, k), `the supervisor's ${k}`).to.equal(nsInode('self', k));
    expect(child.programPid).to.be.a('number');
    expect(nsInode(child.programPid!, 'uts')).not.to.equal(nsInode('self', 'uts'));
    expect(readFileSync(`/proc/${child.programPid}/uid_map`, 'utf8').trim().split(/\s+/)).to.deep.equal(['0', '0', '1']);
    expect(await child.exited).to.deep.equal({ code: 7, signal: null });
    expect(out).to.equal(`${TAG}\n`);
    expect(existsSync(cg)).to.equal(false);
    expect(existsSync(state)).to.equal(false);
    expect(readFileSync(hook, 'utf8')).to.equal('7\n');
  });

  it('a program killed by a signal: the supervisor dies of it too, after its cleanup', async () => {
    const state = join(scratch(), `sv-state2-${TAG}`);
    writeFileSync(state, 'x');
    const child = await spawn(['sh', '-c', 'kill -TERM $$'], { create: ['uts'], supervise: { cleanup: [{ unlink: state }] } });
    expect(await child.exited).to.deep.equal({ code: null, signal: 'SIGTERM' });
    expect(existsSync(state)).to.equal(false);
  });

  it('passes signals on to the program', async () => {
    const child = await spawn(['sh', '-c', 'trap "exit 5" USR1; while :; do sleep 0.05; done'], { create: ['uts'], supervise: {} });
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGUSR1');
    expect(await child.exited).to.deep.equal({ code: 5, signal: null });
  });
});

describe('execInPlace of nsx itself', () => {
  it('refuses a plan fd that is not a sealed memfd', () => {
    const nsx = join(__dirname, '../../build/nsx');
    const r = spawnSync(nsx, ['0'], { encoding: 'utf8', input: 'x' });
    expect(r.status).to.equal(125);
    expect(r.stderr).to.match(/^nsx: the plan must come in a sealed memfd/);
  });

  it('refuses a plan with clone flags: in place, every namespace is unshared', () => {
    const bytes = encodePlan({ cloneKinds: ['uts'], fdFloor: 3, ops: [{ op: 'exec', paths: ['/bin/true'], argv: ['true'], env: [] }] });
    const file = launcher([], '{}', `
      const fs = require('fs'); const sys = core.sys; sys.setCloexec(2, false);
      const fd = sys.memfdCreate('p'); fs.writeSync(fd, Buffer.from(${JSON.stringify([...bytes])}));
      sys.addSeals(fd, 15); sys.setCloexec(fd, false);
      sys.execve(${JSON.stringify(join(__dirname, '../../build/nsx'))}, ['nsx', String(fd)], []);`);
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8' });
    expect(r.stderr).to.equal('nsx: plan rejected: ns_flags at byte 8\n');
    expect(r.status).to.equal(125);
  });
});
