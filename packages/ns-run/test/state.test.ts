/**
 * Containers as state (issue 13's docker habits): ps [-a] [-q] [--format json], inspect, wait,
 * rm [-f], --name, --rm; the state directory (/run/ns-run as root, the user's runtime
 * directory rootless) refused unless the user's and closed; a corrupt entry reported and
 * skipped. Checked from outside: the processes, the state files, exit statuses.
 */
import { expect } from 'chai';
import { spawn as nodeSpawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, fstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { sys } from 'ns-core';
import { join } from 'node:path';
import { scratchDir } from 'ns-test-kit';
import { alive, AS_NOBODY, busyboxRootfs, cli, LAUNCHER, NOBODY, readState, removeTree, running, start, uniqueName, until, ok } from './helpers';

let rootfs: string;
const volume = scratchDir(`ns-run-test-${process.pid}-vol`);

before(() => {
  rootfs = busyboxRootfs();
});

after(() => removeTree(rootfs));

const STATE_FILES = '/run/ns-run/containers';

describe('ns-run: containers as state', () => {
  it('ps, ps -q, ps --format json and inspect show a running container; --rm removes it at its end', async () => {
    const name = uniqueName('ps');
    const c = start(['--name', name, '--rm', '--rootfs', rootfs, '--network', 'none', '--memory', '64M', '-v', `${volume()}:/data:ro`,
      '--', 'sh', '-c', 'read line; exit 7']);
    const state = await running(name);
    const id = (state as unknown as { id: string }).id;
    expect(id).to.match(/^[0-9a-f]{64}$/);
    const table = ok(cli(['ps'])).split('\n');
    expect(table[0]).to.match(/^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$/);
    expect(table).to.satisfy((rows: string[]) => rows.some((r) => new RegExp(`^${id.slice(0, 12)}  +${rootfs}  +"sh -c read line; exit 7"  +.*  +Up .*  +${name}$`).test(r)));
    expect(ok(cli(['ps', '-q'])).split('\n')).to.include(id.slice(0, 12));
    const json = ok(cli(['ps', '--format', 'json'])).trim().split('\n').map((l) => JSON.parse(l)).find((j) => j.Names === name);
    expect(json).to.include({ ID: id.slice(0, 12), State: 'running', Pid: state.init!.pid, Command: 'sh -c read line; exit 7' });

    const [inspected] = JSON.parse(ok(cli(['inspect', id.slice(0, 10)])));
    expect(inspected.Id).to.equal(id);
    expect(inspected.Name).to.equal(`/${name}`);
    expect(inspected.State).to.include({ Status: 'running', Running: true, Pid: state.init!.pid, ExitCode: 0 });
    expect(inspected.State.StartedAt).to.match(/^\d{4}-\d\d-\d\dT/);
    expect(inspected.Config).to.include({ Hostname: name, WorkingDir: '/' });
    expect(inspected.Config.Cmd).to.deep.equal(['sh', '-c', 'read line; exit 7']);
    expect(inspected.HostConfig).to.include({ AutoRemove: true, NetworkMode: 'none', Memory: '64M' });
    expect(inspected.Mounts).to.deep.equal([{ Type: 'bind', Source: volume(), Destination: '/data', RW: false }]);

    c.proc.stdin!.end('go\n');
    expect((await c.exit).code).to.equal(7);
    await until('the state file to go', () => readState(name) === undefined);
    expect(ok(cli(['ps', '-a']))).to.not.include(name);
  });

  it('wait prints the exit code of a container that ends while it waits, and its state goes after', async () => {
    const name = uniqueName('wait');
    const c = start(['--name', name, '--rootfs', rootfs, '--network', 'none', '--', 'sh', '-c', 'read line; exit 42']);
    await running(name);
    const w = start(['wait', name]);
    await until('the waiter to register', () => spawnSync('sh', ['-c', `ls ${STATE_FILES}/${name}.json.wait.* 2>/dev/null`]).status === 0);
    c.proc.stdin!.end('go\n');
    expect((await c.exit).code).to.equal(42);
    expect((await w.exit).code).to.equal(0);
    expect(w.stdout).to.equal('42\n');
    expect(readState(name)).to.equal(undefined);
    expect(existsSync(STATE_FILES) && spawnSync('sh', ['-c', `ls ${STATE_FILES}/${name}.*`]).status).to.not.equal(0);
  });

  it('rm refuses a running container (125), rm -f kills it and removes it', async () => {
    const name = uniqueName('rm');
    const c = start(['--name', name, '--rootfs', rootfs, '--network', 'none', '--', 'sleep', '60']);
    const state = await running(name);
    const refused = cli(['rm', name]);
    expect(refused.status).to.equal(125);
    expect(refused.stderr).to.equal(`ns-run rm: cannot remove container ${name}: it is running; stop it first, or use rm -f\n`);
    expect(alive(state.init!.pid)).to.equal(true);
    expect(ok(cli(['rm', '-f', name]))).to.equal(`${name}\n`);
    expect((await c.exit).code).to.equal(137);
    expect(readState(name)).to.equal(undefined);
    const gone = cli(['rm', name]);
    expect([gone.status, gone.stderr]).to.deep.equal([125, `ns-run rm: no such container: ${name}\n`]);
  });

  // In place, ns-run's own process ends as the C supervisor: it records the exit and removes the
  // state itself (its `release` word), without a second Node (issue 13).
  it('the end of a foreground container runs no second program: the supervisor records it and removes the state', () => {
    const name = uniqueName('noreap');
    const trace = spawnSync('strace', ['-f', '-qq', '-e', 'trace=execve', '-e', 'signal=none', LAUNCHER, '--name', name, '--rootfs', rootfs,
      '--network', 'none', '--pids-limit', '20', '--', 'sh', '-c', 'exit 9'], { encoding: 'utf8', cwd: '/' });
    expect(trace.status, trace.stderr).to.equal(9);
    const nodes = trace.stderr.split('\n').filter((l) => /execve\("[^"]*\/node", .* = 0$/.test(l));
    expect(nodes, 'Node started once: ns-run itself').to.have.length(1);
    expect(trace.stderr).to.include('execve("/bin/sh", ["sh", "-c", "exit 9"]');
    expect(trace.stderr).to.not.include('reap-main');
    expect(readState(name)).to.equal(undefined);
    expect(spawnSync('sh', ['-c', `ls ${STATE_FILES}/${name}.* 2>/dev/null`]).stdout.toString()).to.equal('');
  });

  /**
   * ns-run as nobody with a state directory of the test's own ($XDG_RUNTIME_DIR): no other ns-run
   * on this machine (another checkout's, whose reclaim would not know an exit file) reads it.
   */
  function privateUser() {
    const runtime = mkdtempSync(`/tmp/ns-run-test-${process.pid}-own-`);
    chownSync(runtime, NOBODY, NOBODY);
    chmodSync(runtime, 0o700);
    const env = { ...process.env, XDG_RUNTIME_DIR: runtime };
    const argv = (args: readonly string[]) => [...AS_NOBODY, LAUNCHER, ...args];
    const containers = join(runtime, 'ns-run', 'containers');
    return {
      containers,
      run: (args: readonly string[]) => spawnSync(AS_NOBODY[0]!, argv(args).slice(1), { encoding: 'utf8', env, cwd: '/' }),
      start: (args: readonly string[]) => {
        const proc = nodeSpawn(AS_NOBODY[0]!, argv(args).slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env, cwd: '/' });
        const done = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
        return { proc, done };
      },
      state: (name: string) => {
        try {
          return JSON.parse(readFileSync(join(containers, `${name}.json`), 'utf8')) as { id: string; status: string };
        } catch {
          return undefined;
        }
      },
      remove: () => removeTree(runtime),
    };
  }
  const psLine = (out: string, name: string) => out.split('\n').find((l) => l.endsWith(name));

  it('a live waiter keeps an ended foreground container: ps -a shows it exited, wait prints its code; once no waiter lives, the next call removes it', async () => {
    const user = privateUser();
    const name = uniqueName('kept');
    const holder = nodeSpawn(AS_NOBODY[0]!, [...AS_NOBODY.slice(1), 'sleep', '60'], { stdio: 'ignore' });
    try {
      const c = user.start(['--name', name, '--rootfs', rootfs, '--network', 'none', '--', 'sh', '-c', 'read line; exit 5']);
      await until('the container to run', () => / Up /.test(psLine(user.run(['ps', '-a']).stdout, name) ?? ''));
      const id = user.state(name)!.id;
      // A waiter as `ns-run wait` registers one (NAME.json.wait.PID, its ProcessRef), that is not
      // going to read the state: the supervisor must keep it for it.
      await until('the holder to be nobody\'s sleep', () => existsSync(`/proc/${holder.pid}`) && readFileSync(`/proc/${holder.pid}/comm`, 'utf8') === 'sleep\n');
      const pidfd = sys.pidfdOpen(holder.pid!);
      const waiter = join(user.containers, `${name}.json.wait.${holder.pid}`);
      writeFileSync(waiter, JSON.stringify({ pid: holder.pid, inode: fstatSync(pidfd).ino }), { mode: 0o600 });
      chownSync(waiter, NOBODY, NOBODY);
      sys.closeFd(pidfd);
      c.proc.stdin!.end('go\n');
      expect(await c.done).to.equal(5);
      expect(user.state(name)?.id, 'the state, kept for the waiter').to.equal(id);
      expect(psLine(ok(user.run(['ps', '-a'])), name)).to.match(/ Exited \(5\) /);
      expect(JSON.parse(ok(user.run(['inspect', name])))[0].State).to.include({ Status: 'exited', Running: false, ExitCode: 5 });
      expect(ok(user.run(['wait', name]))).to.equal('5\n');
      // The other waiter still lives: its state stays.
      expect(user.state(name)?.id).to.equal(id);
      holder.kill('SIGKILL');
      await until('the holder to end', () => !alive(holder.pid!));
      expect(ok(user.run(['ps', '-a']))).to.not.include(name);
      expect(readdirSync(user.containers).filter((f) => f.startsWith(`${name}.`))).to.deep.equal([]);
    } finally {
      holder.kill('SIGKILL');
      user.remove();
    }
  });

  it('a name taken over while a foreground container runs: its supervisor leaves the new state alone', async () => {
    const user = privateUser();
    const name = uniqueName('taken');
    try {
      const c = user.start(['--name', name, '--rootfs', rootfs, '--network', 'none', '--', 'sh', '-c', 'read line; exit 0']);
      await until('the container to run', () => / Up /.test(psLine(user.run(['ps', '-a']).stdout, name) ?? ''));
      const id = user.state(name)!.id;
      // What a new container's claim would put there (the supervisor cannot be told apart from a
      // stale one by the name alone): the same file, another id.
      const file = join(user.containers, `${name}.json`);
      const other = { ...JSON.parse(readFileSync(file, 'utf8')), id: 'cd'.repeat(32) };
      writeFileSync(`${file}.swap`, JSON.stringify(other), { mode: 0o600 });
      chownSync(`${file}.swap`, NOBODY, NOBODY);
      renameSync(`${file}.swap`, file);
      c.proc.stdin!.end('go\n');
      expect(await c.done).to.equal(0);
      expect(user.state(name)?.id, 'the new state').to.equal(other.id);
      expect(existsSync(`${file}.exit.${id}`), 'the old container\'s exit file').to.equal(false);
    } finally {
      user.remove();
    }
  });

  it('rm -f of a running foreground container, then a new one of the same name: the old supervisor\'s end does not touch it', async () => {
    const name = uniqueName('again');
    const first = start(['--name', name, '--rootfs', rootfs, '--network', 'none', '--', 'sleep', '60']);
    const old = await running(name);
    expect(ok(cli(['rm', '-f', name]))).to.equal(`${name}\n`);
    const second = start(['--name', name, '--rootfs', rootfs, '--network', 'none', '--', 'sh', '-c', 'read line; exit 3']);
    const now = await running(name);
    expect((await first.exit).code).to.equal(137);
    expect(now.id).to.not.equal(old.id);
    expect(readState(name)?.id).to.equal(now.id);
    expect(ok(cli(['ps'])).split('\n').find((l) => l.endsWith(name))).to.match(/ Up /);
    second.proc.stdin!.end('go\n');
    expect((await second.exit).code).to.equal(3);
    expect(readState(name)).to.equal(undefined);
  });

  it('an in-place container killed between recording its exit and removing its state: the next call removes the state only', () => {
    const name = uniqueName('halfend');
    const id = 'ef'.repeat(32);
    const file = join(STATE_FILES, `${name}.json`);
    const dead = spawnSync('true').pid!;
    mkdirSync(STATE_FILES, { recursive: true, mode: 0o700 });
    // Its runner, the supervisor, is gone (pid of an ended process, inode 0: no process has it).
    const ref = { pid: dead, inode: 0 };
    writeFileSync(file, JSON.stringify({
      version: 1, name, id, created: new Date().toISOString(), status: 'running', runner: ref, supervisor: ref, inPlace: true, autoRemove: true,
      argv: ['true'], rootfs: null, network: 'none', ports: [], namespaces: [], cgroups: [], env: [],
      workdir: '/', uid: 0, gid: 0, setgroupsAllowed: false, capabilities: '0',
    }), { mode: 0o600 });
    writeFileSync(`${file}.exit.${id}`, '4\n', { mode: 0o600 });
    try {
      expect(ok(cli(['ps', '-a']))).to.not.include(name);
      expect(existsSync(file)).to.equal(false);
      expect(existsSync(`${file}.exit.${id}`)).to.equal(false);
    } finally {
      rmSync(file, { force: true });
      rmSync(`${file}.exit.${id}`, { force: true });
    }
  });

  it('an exit file left without its state, or beside another container\'s state of the name, is swept by the next call', async () => {
    const name = uniqueName('orphanexit');
    const file = join(STATE_FILES, `${name}.json`);
    mkdirSync(STATE_FILES, { recursive: true, mode: 0o700 });
    const orphan = `${file}.exit.${'12'.repeat(32)}`;
    writeFileSync(orphan, '0\n', { mode: 0o600 });
    const c = start(['--name', name, '--rootfs', rootfs, '--network', 'none', '--', 'sh', '-c', 'read line; exit 0']);
    const state = await running(name);
    try {
      // The state of the name is another container's: the orphan goes, a file of this one's id would stay.
      const mine = `${file}.exit.${state.id}`;
      writeFileSync(mine, '', { mode: 0o600 });
      const r = cli(['ps', '-a']);
      expect([r.status, r.stderr]).to.deep.equal([0, '']);
      expect(existsSync(orphan), 'the orphaned exit file').to.equal(false);
      expect(existsSync(mine), 'the running container\'s (empty: not ended)').to.equal(true);
      expect(r.stdout.split('\n').find((l) => l.endsWith(name))).to.match(/ Up /);
    } finally {
      c.proc.stdin!.end('go\n');
      expect((await c.exit).code).to.equal(0);
      rmSync(orphan, { force: true });
    }
    expect(readState(name)).to.equal(undefined);
    expect(spawnSync('sh', ['-c', `ls ${STATE_FILES}/${name}.* 2>/dev/null`]).stdout.toString()).to.equal('');
  });

  it('ps -a shows a container whose runner died as dead, and rm removes it', () => {
    const name = uniqueName('dead');
    const file = join(STATE_FILES, `${name}.json`);
    mkdirSync(STATE_FILES, { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify({
      version: 1, name, id: 'ab'.repeat(32), created: new Date().toISOString(), status: 'running', runner: { pid: 1, inode: 0 },
      init: { pid: 1, inode: 0 }, argv: ['sleep', '1'], rootfs: null, network: 'none', ports: [], namespaces: [], cgroups: [], env: [],
      workdir: '/', uid: 0, gid: 0, setgroupsAllowed: false, capabilities: '0',
    }), { mode: 0o600 });
    try {
      expect(ok(cli(['ps']))).to.not.include(name);
      expect(ok(cli(['ps', '-a'])).split('\n').find((l) => l.endsWith(name))).to.match(/ Dead +/);
      expect(JSON.parse(ok(cli(['inspect', name])))[0].State).to.include({ Status: 'dead', Running: false, Pid: 0 });
      expect(ok(cli(['rm', name]))).to.equal(`${name}\n`);
      expect(existsSync(file)).to.equal(false);
    } finally {
      removeTree(file);
    }
  });

  it('a corrupt state file is reported and skipped, never a crash', () => {
    const files = [join(STATE_FILES, `${uniqueName('corrupt')}.json`), join(STATE_FILES, `${uniqueName('shape')}.json`)];
    mkdirSync(STATE_FILES, { recursive: true, mode: 0o700 });
    writeFileSync(files[0]!, '{"name": "half', { mode: 0o600 });
    writeFileSync(files[1]!, '{"name": 3}', { mode: 0o600 });
    try {
      const r = cli(['ps', '-a']);
      expect(r.status).to.equal(0);
      expect(r.stdout.split('\n')[0]).to.match(/^CONTAINER ID/);
      expect(r.stderr).to.include(`ns-run ps: skipped ${files[0]}: ${files[0]}: not JSON`);
      expect(r.stderr).to.include(`ns-run ps: skipped ${files[1]}: ${files[1]}: not the state of a container`);
    } finally {
      for (const f of files) removeTree(f);
    }
  });

  it('a state write cut off by SIGKILL (its temporary file left) is swept by the next call; a live writer\'s is kept', () => {
    mkdirSync(STATE_FILES, { recursive: true, mode: 0o700 });
    const dead = spawnSync('true').pid!;
    const name = uniqueName('torn');
    const torn = join(STATE_FILES, `${name}.json.${dead}.tmp`);
    const live = join(STATE_FILES, `${name}.json.${process.pid}.tmp`);
    writeFileSync(torn, '{"name": "to', { mode: 0o600 });
    writeFileSync(live, '{"name": "to', { mode: 0o600 });
    try {
      const r = cli(['ps', '-a']);
      expect([r.status, r.stderr]).to.deep.equal([0, '']);
      expect(existsSync(torn), 'the dead writer\'s temporary file').to.equal(false);
      expect(existsSync(live), 'the live writer\'s temporary file').to.equal(true);
    } finally {
      for (const f of [torn, live]) removeTree(f);
    }
  });

  it('refuses a state directory open to others (rootless: in $XDG_RUNTIME_DIR)', () => {
    const runtime = mkdtempSync(`/tmp/ns-run-test-${process.pid}-xdg-`);
    try {
      chownSync(runtime, NOBODY, NOBODY);
      chmodSync(runtime, 0o700);
      mkdirSync(join(runtime, 'ns-run'), { mode: 0o755 });
      chownSync(join(runtime, 'ns-run'), NOBODY, NOBODY);
      chmodSync(join(runtime, 'ns-run'), 0o755);
      const listable = spawnSync(AS_NOBODY[0]!, [...AS_NOBODY.slice(1), LAUNCHER, 'ps'], { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: runtime } });
      expect(listable.stderr).to.equal(`ns-run ps: state directory ${runtime}/ns-run must be a directory owned by uid ${NOBODY} with mode 0700 or 0711\n`);
      chmodSync(join(runtime, 'ns-run'), 0o711);
      mkdirSync(join(runtime, 'ns-run', 'containers'), { mode: 0o777 });
      chownSync(join(runtime, 'ns-run', 'containers'), NOBODY, NOBODY);
      chmodSync(join(runtime, 'ns-run', 'containers'), 0o777);
      const env = { ...process.env, XDG_RUNTIME_DIR: runtime };
      const ps = spawnSync(AS_NOBODY[0]!, [...AS_NOBODY.slice(1), LAUNCHER, 'ps'], { encoding: 'utf8', env });
      expect(ps.stderr).to.equal(`ns-run ps: state directory ${runtime}/ns-run/containers must be a directory owned by uid ${NOBODY} with mode 0700\n`);
      expect(ps.status).to.equal(125);
      const run = spawnSync(AS_NOBODY[0]!, [...AS_NOBODY.slice(1), LAUNCHER, '--rootfs', rootfs, 'true'], { encoding: 'utf8', env });
      expect(run.stderr).to.match(/state directory \S+\/containers must be a directory owned by uid 65534 with mode 0700/);
      expect(run.status).to.equal(125);
      chmodSync(join(runtime, 'ns-run', 'containers'), 0o700);
      const fine = spawnSync(AS_NOBODY[0]!, [...AS_NOBODY.slice(1), LAUNCHER, '--rootfs', rootfs, '--network', 'none', 'true'], { encoding: 'utf8', env });
      expect([fine.status, fine.stderr]).to.deep.equal([0, '']);
    } finally {
      removeTree(runtime);
    }
  });
});
