/**
 * A failure injected at each step of a spawn, from the parent's stdio set-up to the exec, and
 * the launcher killed outright: each time spawn must report the step that failed and leave
 * the host as it found it (host-snapshot.ts: mounts of pid 1's namespace, /run/netns, links,
 * cgroup directories, tagged processes, our children and fds).
 */
import { expect } from 'chai';
import { execFileSync, spawn as nodeSpawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Namespace, NsError, spawn, sys, type SpawnOptions, type Step } from '../src/index';
import { cgroup2Root, hostSnapshot, leaksSince, settledLeaks, stageProcessesIn } from 'ns-test-kit';

/** On everything these tests create, so leaksSince can tell it from other suites' objects. */
const TAG = `nsxf${process.pid}`;
const CORE = JSON.stringify(join(__dirname, '../src/index.js'));

/**
 * Host objects a parent action makes while the child waits, as ns-net and ns-cgroup steps do:
 * a cgroup directory, a /run/netns entry bound to the child's netns, a veth pair. The step's
 * cleanup removes whatever was made; the tests check spawn always calls it.
 */
function hostObjects(n: string): { make: (pid: number) => void; cleanup: () => void } {
  const cgroup = join(cgroup2Root(), `${TAG}-${n}`);
  const netns = `/run/netns/${TAG}-${n}`;
  const link = `${TAG}${n}`;
  const made: (() => void)[] = [];
  return {
    make(pid) {
      mkdirSync(cgroup);
      made.push(() => rmdirSync(cgroup));
      mkdirSync('/run/netns', { recursive: true });
      writeFileSync(netns, '');
      made.push(() => unlinkSync(netns));
      sys.mount(`/proc/${pid}/ns/net`, netns, null, ['BIND']);
      made.push(() => sys.umount2(netns, sys.MNT.DETACH));
      // The peer is made inside the child's netns, as ns-net makes it (no move between namespaces).
      execFileSync('ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', String(pid)]);
      made.push(() => execFileSync('ip', ['link', 'del', link]));
    },
    cleanup() {
      for (const undo of made.splice(0).reverse()) undo();
    },
  };
}

function killTagged(): void {
  for (const line of hostSnapshot(TAG).tagged) {
    try {
      process.kill(Number(line.split(' ')[0]), 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** A launcher script in the tagged directory, so its processes (and the stage's child, which
 * shares its command line until exec) are tagged too. */
function writeLauncher(dir: string, name: string, body: string): string {
  const file = join(dir, `${name}.js`);
  writeFileSync(file, `const core = require(${CORE});\n${body}\n`);
  chmodSync(file, 0o644);
  return file;
}

describe('faults injected into spawn leave nothing behind', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), `${TAG}-`));
    chmodSync(dir, 0o755); // the unprivileged launcher reads its script here
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** A test that also compares host snapshots taken before and after it. */
  function fault(title: string, inject: () => Promise<void> | void): void {
    it(title, async () => {
      const snapshot = hostSnapshot(TAG);
      await inject();
      const leaks = await settledLeaks(() => leaksSince(snapshot, hostSnapshot(TAG), TAG));
      killTagged(); // so that a failure here leaves nothing running either
      expect(leaks, 'left behind').to.deep.equal([]);
    });
  }

  /** Expects spawn to reject with an NsError having these fields. */
  async function expectFailure(argv: readonly string[], options: SpawnOptions, fields: Partial<Record<keyof NsError, unknown>>): Promise<void> {
    let error: unknown;
    try {
      const child = await spawn(argv, options);
      await child.exited;
    } catch (e) {
      error = e;
    }
    expect(error, 'spawn should have failed').to.be.instanceOf(NsError);
    expect(error).to.include(fields);
  }

  const privateMounts = (target: string): Step => ({ name: 'mounts', child: [
    { op: 'mount', target: '/', flags: ['REC', 'PRIVATE'], phase: 'propagation' },
    { op: 'mkdir', path: target, existOk: true, phase: 'mounts' },
    { op: 'mount', source: 'tmpfs', target, fstype: 'tmpfs', phase: 'mounts', step: 'tmpfs' },
  ] });

  fault('before clone: an invalid option, with stdio pipes open', async () => {
    let cleaned = 0;
    await expectFailure(['true'], { stdio: 'pipe', killWithParent: 'SIGNOPE' as NodeJS.Signals,
      steps: [{ name: 'c', cleanup: () => { cleaned++; } }] }, { code: 'EUSAGE' });
    expect(cleaned).to.equal(1);
  });

  fault('before clone: the exec stage is missing (NSX_EXEC_STAGE names no file)', () => {
    const launcher = writeLauncher(dir, 'no-stage', `
      const fds = () => require('fs').readdirSync('/proc/self/fd').length;
      const before = fds(); let cleaned = 0;
      core.spawn(['true'], { stdio: 'pipe', steps: [{ name: 'c', cleanup: () => { cleaned++; } }] })
        .catch((e) => console.log(JSON.stringify({ code: e.code, cleaned, leakedFds: fds() - before })));`);
    const r = spawnSync(process.execPath, [launcher], { encoding: 'utf8', env: { ...process.env, NSX_EXEC_STAGE: join(dir, 'none.so') } });
    expect(JSON.parse(r.stdout)).to.deep.equal({ code: 'ENOEXECSTAGE', cleaned: 1, leakedFds: 0 });
  });

  fault('clone: creating a mount namespace without privilege (EPERM), as uid 65534', () => {
    const launcher = writeLauncher(dir, 'eperm', `
      const fds = () => require('fs').readdirSync('/proc/self/fd').length;
      (async () => {
        const out = {}; const before = fds();
        // clone() itself is refused: no user namespace to hold the privilege.
        await core.spawn(['true'], { create: ['mnt'], stdio: 'pipe' }).catch((e) => { out.clone = [e.code, e.syscall]; });
        // In a user namespace it may clone, but mounting proc needs a pid namespace it owns.
        const uid = process.getuid(), gid = process.getgid();
        await core.spawn(['true'], { create: ['user', 'mnt'], steps: [{ name: 'map', parent: [
            { action: 'write-proc', file: 'uid_map', data: '0 ' + uid + ' 1' },
            { action: 'write-proc', file: 'setgroups', data: 'deny' },
            { action: 'write-proc', file: 'gid_map', data: '0 ' + gid + ' 1' }],
          child: [{ op: 'mount', target: '/', flags: ['REC', 'PRIVATE'], phase: 'propagation' },
                  { op: 'mount', source: 'proc', target: ${JSON.stringify(join(dir))}, fstype: 'proc', phase: 'mounts', step: '--mount-proc' }] }] })
          .catch((e) => { out.mount = [e.code, e.syscall, e.step]; });
        out.leakedFds = fds() - before;
        console.log(JSON.stringify(out));
      })();`);
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, launcher], { encoding: 'utf8' });
    expect(r.stderr).to.equal('');
    expect(JSON.parse(r.stdout)).to.deep.equal({ clone: ['EPERM', 'clone'], mount: ['EPERM', 'mount', '--mount-proc'], leakedFds: 0 });
  });

  fault('in the child: an fd to pass that is not open (EBADF)', async () => {
    await expectFailure(['true'], { fds: { 5: 999_999 } }, { code: 'EBADF', syscall: 'dup', step: 'fd 5' });
  });

  fault('in the child: setns into a namespace of the wrong kind (EINVAL)', async () => {
    const net = Namespace.ofPid('self', 'net');
    try {
      const mislabelled = { kind: 'uts', fd: net.fd, id: net.id, dev: net.dev } as unknown as Namespace;
      await expectFailure(['true'], { join: [mislabelled] }, { code: 'EINVAL', syscall: 'setns' });
    } finally {
      net.close();
    }
  });

  fault('in the child: unshare after dropping to uid 65534 (EPERM)', async () => {
    await expectFailure(['true'], { steps: [{ name: 'drop', create: ['mnt'], createInChild: true,
      child: [{ op: 'setuid', uid: 65534, phase: 'pre-namespaces', step: 'drop' }] }] }, { code: 'EPERM', syscall: 'unshare' });
  });

  fault('at the sync point: a uid_map the kernel refuses (EINVAL)', async () => {
    await expectFailure(['true'], { create: ['user'], steps: [{ name: 'map', parent: [
      { action: 'write-proc', file: 'uid_map', data: '0 0 0\n' }] }] }, { code: 'EINVAL', step: 'uid_map' });
  });

  fault('at the sync point: a helper that fails (as newuidmap would)', async () => {
    await expectFailure(['true'], { create: ['user'], steps: [{ name: 'map', parent: [
      { action: 'run', argv: ['sh', '-c', 'echo "newuidmap: uid range not allowed" >&2; exit 1', '{pid}'], step: 'uid map' }] }] },
    { step: 'uid map', syscall: 'exec' });
  });

  fault('at the sync point: a parent action throws after making a cgroup, a netns entry and a link', async () => {
    const objects = hostObjects('a');
    let cleaned = 0;
    await expectFailure(['true'], { create: ['net', 'mnt'], steps: [
      { name: 'objects', parent: [{ action: 'call', step: 'make', run: ({ pid }) => objects.make(pid) }],
        cleanup: () => { cleaned++; objects.cleanup(); } },
      { name: 'configure', parent: [{ action: 'call', step: 'configure', run: () => {
        throw new NsError({ errno: 19, syscall: 'sendmsg', step: 'configure' });
      } }] },
    ] }, { code: 'ENODEV', step: 'configure' });
    expect(cleaned).to.equal(1);
  });

  fault('at the sync point: a cgroup write the kernel refuses (EINVAL)', async () => {
    const group = join(cgroup2Root(), `${TAG}-w`);
    await expectFailure(['true'], { steps: [{ name: 'cgroup',
      parent: [{ action: 'call', step: '--cgroup-path', run: () => {
        mkdirSync(group);
        writeFileSync(join(group, 'cgroup.procs'), 'not-a-pid');
      } }],
      cleanup: () => rmdirSync(group) }] }, { code: 'EINVAL', step: '--cgroup-path' });
  });

  fault('at the sync point: the child is killed while it waits (EPIPE on the go byte)', async () => {
    await expectFailure(['true'], { create: ['uts'], steps: [{ name: 'kill', parent: [{ action: 'call', step: 'kill', run: ({ pid, pidfd }) => {
      sys.pidfdSendSignal(pidfd, 9);
      // The go byte must find the pipe closed: wait for the child to be gone.
      const pause = new Int32Array(new SharedArrayBuffer(4));
      while (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z') Atomics.wait(pause, 0, 0, 1);
    } }] }] }, { code: 'EPIPE' });
  });

  fault('after the sync point: a mount fails once the parent made host objects (ENOENT)', async () => {
    const objects = hostObjects('b');
    await expectFailure(['true'], { create: ['net', 'mnt'], steps: [
      { name: 'objects', parent: [{ action: 'call', step: 'make', run: ({ pid }) => objects.make(pid) }], cleanup: () => objects.cleanup() },
      privateMounts(join(dir, 'm1')),
      { name: 'bad', child: [{ op: 'mount', source: join(dir, 'no-such'), target: join(dir, 'm1'), flags: ['BIND'], phase: 'mounts', step: '--bind' }] },
    ] }, { code: 'ENOENT', syscall: 'mount', step: '--bind' });
  });

  fault('changing root: pivot_root onto a directory that is not a mount point', async () => {
    mkdirSync(join(dir, 'root'));
    await expectFailure(['true'], { create: ['mnt'], steps: [privateMounts(join(dir, 'm2')),
      { name: 'root', child: [{ op: 'pivot-root', newRoot: join(dir, 'root'), phase: 'root', step: '--root' }] }] },
    { syscall: 'pivot_root', step: '--root' });
  });

  fault('past a fork: the program one level down does not exist (ENOENT), as PID 1 of a new pid namespace', async () => {
    await expectFailure([`/no/such/${TAG}`], { create: ['pid', 'mnt'], steps: [privateMounts(join(dir, 'm3')),
      { name: 'init', child: [{ op: 'fork', init: true, forward: ['SIGTERM'], phase: 'fork' }] }] },
    { code: 'ENOENT', syscall: 'execve' });
  });

  fault('at exec: the program does not exist, after mounts in a new mount namespace (ENOENT)', async () => {
    await expectFailure([`/no/such/${TAG}`], { create: ['mnt', 'uts', 'ipc', 'net', 'cgroup'], steps: [privateMounts(join(dir, 'm4'))] },
      { code: 'ENOENT', syscall: 'execve', step: 'exec' });
  });

  fault('the launcher is SIGKILLed while the child waits at the sync point', async () => {
    const launcher = writeLauncher(dir, 'killed', `
      core.sys.prctl(1, 9); // PR_SET_PDEATHSIG: should this test die before it kills us, go too
      core.spawn(['true'], { create: ['user', 'mnt', 'uts', 'ipc', 'net', 'pid', 'cgroup'], steps: [
        { name: 'mounts', child: [{ op: 'mount', target: '/', flags: ['REC', 'PRIVATE'], phase: 'propagation' },
          { op: 'mount', source: 'tmpfs', target: ${JSON.stringify(dir)}, fstype: 'tmpfs', phase: 'mounts' }] },
        { name: 'map', parent: [{ action: 'write-proc', file: 'uid_map', data: '0 0 1' },
          { action: 'call', step: 'hang', run: ({ pid }) => { console.log(String(pid)); return new Promise(() => {}); } }] }] });`);
    const proc = nodeSpawn(process.execPath, [launcher], { stdio: ['ignore', 'pipe', 'ignore'] });
    const childPid = await new Promise<number>((resolve) => proc.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString()))));
    // The child is parked in read() on the go pipe, in all its new namespaces.
    expect(readFileSync(`/proc/${childPid}/cmdline`, 'utf8')).to.contain(TAG);
    proc.kill('SIGKILL');
    await new Promise((r) => proc.once('exit', r));
    // afterEach: the child saw EOF on the go pipe and exited (tagged processes are gone).
  });
});

/**
 * The same for the in-place path: the launcher execs nsx, whose helper (a process of the
 * original namespaces) binds files and writes maps. Whatever fails, or whoever is killed, the
 * host ends as it was: no binding, no file the helper made, no stage process left running.
 */
describe('faults injected into execInPlace leave nothing behind', () => {
  let dir: string;
  let home: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), `${TAG}i-`));
    chmodSync(dir, 0o755);
    // Mount namespaces may be bound only on a private mount; the rest go there too.
    home = join(dir, 'files');
    mkdirSync(home);
    execFileSync('mount', ['--bind', home, home]);
    execFileSync('mount', ['--make-private', home]);
  });
  after(() => {
    spawnSync('umount', ['-R', '-l', home]);
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * What the in-place stage leaves running, in the sessions of this test's launchers (each one
   * a session of its own).
   */
  const sessions = new Set<number>();
  const stageProcesses = () => stageProcessesIn(sessions);
  /** A launcher run in a session of its own: setsid(1), not a group leader under spawnSync, calls setsid() itself, keeping its pid. */
  const inSession = (file: string, env: NodeJS.ProcessEnv = process.env) => {
    const r = spawnSync('setsid', ['--wait', process.execPath, file], { encoding: 'utf8', timeout: 20000, env });
    sessions.add(r.pid);
    return r;
  };

  /** Runs a launcher calling execInPlace with `options` (JavaScript source), comparing the host before and after. */
  function fault(title: string, inject: (launch: (argv: readonly string[], options: string, prelude?: string) => string) => Promise<void> | void): void {
    it(title, async () => {
      const snapshot = hostSnapshot(TAG);
      const stage = new Set(stageProcesses());
      let n = 0;
      // Fds are counted before anything prints: Node opens its event loop's fds on first output.
      await inject((argv, options, prelude = '') => writeLauncher(dir, `in-place-${++n}`, `${prelude}
        const fds = () => require('fs').readdirSync('/proc/self/fd').length; const before = fds();
        try { core.execInPlace(${JSON.stringify(argv)}, { programName: 'tool', ...${options} }); }
        catch (e) { const leakedFds = fds() - before; console.log(JSON.stringify({ thrown: e.code, leakedFds })); }`));
      const leaks = await settledLeaks(() => [
        ...leaksSince(snapshot, hostSnapshot(TAG), TAG),
        ...stageProcesses().filter((p) => !stage.has(p)).map((p) => `stage process ${p}`),
        ...readdirSync(home).map((f) => `file ${f}`),
      ]);
      killTagged();
      expect(leaks, 'left behind').to.deep.equal([]);
    });
  }

  const run = (file: string) => inSession(file);
  const bindNet = (file: string) => `{ action: 'bind-ns', kind: 'net', file: ${JSON.stringify(join(home, file))} }`;

  fault('before the exec: a step that needs JavaScript, with stdio to open and a step cleanup', (launch) => {
    const r = run(launch(['true'], `{ stdio: 'ignore', steps: [{ name: 'js', parent: [{ action: 'call', step: '--veth', run: () => {} }],
      cleanup: () => { globalThis.cleaned = true; } }] }`, "process.on('exit', () => console.log(globalThis.cleaned ? 'cleaned' : 'not cleaned'));"));
    expect(r.stdout.trim().split('\n')).to.deep.equal([JSON.stringify({ thrown: 'EUSAGE', leakedFds: 0 }), 'cleaned']);
  });

  fault('before the exec: nsx is missing (NSX_EXEC names no file)', (launch) => {
    const file = launch(['true'], `{ create: ['uts'], stdio: 'ignore' }`);
    const r = inSession(file, { ...process.env, NSX_EXEC: join(dir, 'no-nsx') });
    expect(r.stdout).to.equal(`${JSON.stringify({ thrown: 'ENOEXECSTAGE', leakedFds: 0 })}\n`);
  });

  fault('the execve of nsx itself fails (EACCES): Node goes on with its fds as they were', (launch) => {
    const notExecutable = join(dir, 'nsx-not-executable');
    writeFileSync(notExecutable, '', { mode: 0o644 });
    const cloexec = "const cloexec = () => [0, 1, 2].map((fd) => (parseInt(/^flags:\\s+(\\d+)$/m.exec(require('fs').readFileSync('/proc/self/fdinfo/' + fd, 'utf8'))[1], 8) & 0o2000000) !== 0);"
      + "const was = JSON.stringify(cloexec()); process.on('exit', () => console.log(JSON.stringify(cloexec()) === was ? 'fds as they were' : 'fds changed'));";
    const r = inSession(launch(['true'], `{ create: ['uts'], fork: true }`, cloexec), { ...process.env, NSX_EXEC: notExecutable });
    expect(r.stdout.trim().split('\n')).to.deep.equal([JSON.stringify({ thrown: 'EACCES', leakedFds: 0 }), 'fds as they were']);
  });

  fault('after the helper bound a namespace and wrote the maps: a mount fails (ENOENT)', (launch) => {
    const r = run(launch(['true'], `{ create: ['user', 'mnt', 'net'], steps: [{ name: 's', parent: [${bindNet('a')},
      { action: 'write-proc', file: 'uid_map', data: '0 0 1' }, { action: 'write-proc', file: 'gid_map', data: '0 0 1' }],
      child: [{ op: 'mount', source: ${JSON.stringify(join(dir, 'no-such'))}, target: '/mnt', flags: ['BIND'], phase: 'mounts', step: '--bind' }] }] }`));
    expect(r.stderr).to.equal(`tool: --bind: mount ${join(dir, 'no-such')} -> /mnt failed: ENOENT (no such file or directory)\n`);
    expect(r.status).to.equal(1);
  });

  fault('the second binding fails (its directory is missing): the first is taken back', (launch) => {
    const missing = join(home, 'no-dir', 'b');
    const r = run(launch(['true'], `{ create: ['net', 'uts'], steps: [{ name: 's', parent: [${bindNet('a')},
      { action: 'bind-ns', kind: 'uts', file: ${JSON.stringify(missing)} }] }] }`));
    expect(r.stderr).to.equal(`tool: persist uts: open ${missing} failed: ENOENT (no such file or directory)\n`);
    expect(r.status).to.equal(1);
  });

  fault('past the fork: the program does not exist (ENOENT, 127), with a binding made after the fork', (launch) => {
    const r = run(launch([`/no/such/${TAG}`], `{ create: ['pid', 'mnt', 'net'], steps: [{ name: 's', parent: [${bindNet('a')},
      { action: 'bind-ns', kind: 'pid', file: ${JSON.stringify(join(home, 'p'))} }] }] }`));
    expect(r.stderr).to.equal(`tool: failed to execute /no/such/${TAG}: ENOENT (no such file or directory)\n`);
    expect(r.status).to.equal(127);
  });

  fault('the helper\'s program fails (as newuidmap refusing a range)', (launch) => {
    const r = run(launch(['true'], `{ create: ['user', 'net'], steps: [{ name: 's', parent: [${bindNet('a')},
      { action: 'run', argv: ['sh', '-c', 'echo "newuidmap: uid range [0-1) -> [1-2) not allowed" >&2; exit 1', '{pid}'], step: '--map-users' }] }] }`));
    expect(r.stderr).to.equal('tool: --map-users: sh failed: newuidmap: uid range [0-1) -> [1-2) not allowed\n');
    expect(r.status).to.equal(1);
  });

  for (const [where, phase] of [['after the helper bound a namespace', 'mounts'], ['before the helper did anything', 'pre-namespaces']] as const) {
    fault(`the launcher is SIGKILLed ${where} (blocked on a FIFO)`, async (launch) => {
      const fifo = join(dir, `fifo-${phase}`);
      execFileSync('mkfifo', [fifo]);
      const p = nodeSpawn(process.execPath, [launch(['true'], `{ create: ['net', 'mnt'], steps: [{ name: 's', parent: [${bindNet(`k-${phase}`)}],
        child: [{ op: 'write-file', path: ${JSON.stringify(fifo)}, data: 'x', phase: '${phase}' }] }] }`)], { stdio: 'ignore', detached: true });
      sessions.add(p.pid!);
      // The open of the FIFO blocks until a reader comes: nsx is parked there.
      const comm = () => { try { return readFileSync(`/proc/${p.pid}/comm`, 'utf8').trim(); } catch { return ''; } };
      const bound = () => readFileSync('/proc/self/mountinfo', 'utf8').includes(join(home, `k-${phase}`));
      for (let i = 0; i < 500 && !(comm() === 'nsx' && (phase !== 'mounts' || bound())); i++) await new Promise((r) => setTimeout(r, 10));
      expect(comm()).to.equal('nsx');
      if (phase === 'mounts') expect(bound(), 'bound before the kill').to.equal(true);
      p.kill('SIGKILL');
      await new Promise((r) => p.once('exit', r));
      rmSync(fifo);
    });
  }
});
