/**
 * Detached containers (-d): the container outlives the shell that started it under a C
 * supervisor of its own (its own session, no Node process), its output in a log; ps, logs,
 * inspect, wait, stop and rm [-f] from later commands; --rm; rootless too. Checked from
 * outside: processes, sessions, state files, cgroups.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { alive, busyboxRootfs, cli, LAUNCHER, ok, removeTree, stateDir, uniqueName, until } from './helpers';

let rootfs: string;

before(() => {
  rootfs = busyboxRootfs();
});

after(() => removeTree(rootfs));

/** What 127.0.0.1:port sends before it closes ('' if refused). */
function fetchLocal(port: number): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const sock = connect(port, '127.0.0.1');
    sock.on('data', (d: Buffer) => { data += d.toString(); });
    sock.on('error', () => resolve(data));
    sock.on('close', () => resolve(data));
    sock.end();
  });
}

/** `sh -c 'ns-run ARGS'`: the launching shell ends before the test looks. */
function fromShell(args: readonly string[], rootless = false): string {
  const quoted = args.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const argv = [...(rootless ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : []), 'sh', '-c', `${LAUNCHER} ${quoted}`];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
  expect([r.status, r.stderr]).to.deep.equal([0, '']);
  return r.stdout;
}

function sessionOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
}

function cgroupDirs(name: string): string[] {
  return ['/sys/fs/cgroup/unified', '/sys/fs/cgroup/pids', '/sys/fs/cgroup/memory'].flatMap((h) => {
    try {
      return readdirSync(h).filter((d) => d.startsWith(`ns-run-${name}-`)).map((d) => join(h, d));
    } catch {
      return [];
    }
  });
}

describe('ns-run -d: detached containers', () => {
  it('outlives the shell that started it; ps, logs, inspect, then rm -f removes everything', async () => {
    const name = uniqueName('det');
    const out = fromShell(['run', '-d', '--name', name, '--rootfs', rootfs, '--pids-limit', '50', '--',
      'sh', '-c', 'echo hello; echo oops >&2; exec sleep 60']);
    expect(out).to.match(/^[0-9a-f]{64}\n$/);
    const id = out.trim();
    const [info] = JSON.parse(ok(cli(['inspect', name])));
    expect(info.Id).to.equal(id);
    expect(info.State).to.include({ Status: 'running', Running: true });
    expect(info.HostConfig.AutoRemove).to.equal(false);
    const init = info.State.Pid as number;
    expect(alive(init)).to.equal(true);
    // Its supervisor: a session of its own, a child of no process of ours, no Node.
    const file = JSON.parse(readFileSync(join(stateDir(false), 'containers', `${name}.json`), 'utf8'));
    const supervisor = file.supervisor.pid as number;
    expect(readFileSync(`/proc/${supervisor}/comm`, 'utf8')).to.equal('ns-supervise\n');
    expect(sessionOf(supervisor)).to.equal(supervisor);
    expect(ok(cli(['ps'])).split('\n').find((l) => l.endsWith(name))).to.match(new RegExp(`^${id.slice(0, 12)}  .*  Up `));
    await until('its output in the log', () => ok(cli(['logs', name])) === 'hello\noops\n');
    expect(cgroupDirs(name)).to.not.deep.equal([]);
    expect(ok(cli(['rm', '-f', name]))).to.equal(`${name}\n`);
    expect(alive(init)).to.equal(false);
    expect(alive(supervisor)).to.equal(false);
    expect(existsSync(join(stateDir(false), 'containers', `${name}.json`))).to.equal(false);
    expect(existsSync(join(stateDir(false), 'containers', `${name}.log`))).to.equal(false);
    expect(cgroupDirs(name)).to.deep.equal([]);
  });

  it('is kept after its end: wait gives its status, ps -a shows it exited, logs -f ends, rm removes it; --rm removes it by itself', async () => {
    const name = uniqueName('kept');
    fromShell(['run', '-d', '--name', name, '--rootfs', rootfs, '--', 'sh', '-c', 'echo one; sleep 0.3; echo two; exit 3']);
    expect(ok(cli(['logs', '-f', name]))).to.equal('one\ntwo\n');
    expect(ok(cli(['wait', name]))).to.equal('3\n');
    await until('the exit recorded', () => /Exited \(3\)/.test(ok(cli(['ps', '-a'])).split('\n').find((l) => l.endsWith(name)) ?? ''));
    const [info] = JSON.parse(ok(cli(['inspect', name])));
    expect(info.State).to.include({ Status: 'exited', Running: false, ExitCode: 3 });
    const again = cli(['run', '-d', '--name', name, '--rootfs', rootfs, '--', 'true']);
    expect([again.status, again.stderr]).to.deep.equal([125, `ns-run run: a container named '${name}' already exists\n`]);
    expect(ok(cli(['rm', name]))).to.equal(`${name}\n`);
    expect(ok(cli(['ps', '-a']))).to.not.include(name);

    const gone = uniqueName('gone');
    fromShell(['run', '-d', '--rm', '--name', gone, '--rootfs', rootfs, '--', 'sh', '-c', 'exit 0']);
    await until('an auto-removed container to go', () => !existsSync(join(stateDir(false), 'containers', `${gone}.json`)));
  });

  it('stop -t 1 ends one that ignores SIGTERM with SIGKILL: exit code 137', async () => {
    const name = uniqueName('stop');
    fromShell(['run', '-d', '--name', name, '--rootfs', rootfs, '--memory', '64M', '--', 'sh', '-c', 'trap "" TERM; echo up; sleep 60']);
    await until('it to run', () => ok(cli(['logs', name])) === 'up\n');
    ok(cli(['stop', '-t', '1', name]));
    expect(ok(cli(['wait', name]))).to.equal('137\n');
    ok(cli(['rm', name]));
    expect(cgroupDirs(name)).to.deep.equal([]);
  });

  for (const rootless of [false, true]) {
    it(`-dit: a pty of its own while detached, what it writes there in its log; wait gives its status${rootless ? ' (as nobody)' : ''}`, async () => {
      const name = uniqueName(`dit${rootless ? 'r' : ''}`);
      // (Rootless, --network none: the default's note on stderr, no egress when detached, is not the subject.)
      fromShell(['run', '-dit', '--name', name, '--rootfs', rootfs, ...(rootless ? ['--network', 'none'] : []), '--', 'sh', '-c', 'tty; [ -t 0 ] && [ -t 1 ] && echo both-terminals; exit 4'], rootless);
      expect(ok(cli(['wait', name], { rootless }))).to.equal('4\n');
      // The terminal's line discipline turns \n into \r\n, as docker logs shows a -t container's.
      expect(ok(cli(['logs', name], { rootless }))).to.match(/^\/dev\/pts\/\d+\r\nboth-terminals\r\n$/);
      expect(ok(cli(['rm', name], { rootless }))).to.equal(`${name}\n`);
      expect(existsSync(join(stateDir(rootless), 'containers', `${name}.json`))).to.equal(false);
    });
  }

  for (const rootless of [false, true]) {
    it(`-d -p: the published port answers after the launching shell is gone; rm -f stops its forwarder${rootless ? ' (as nobody)' : ''}`, async () => {
      const name = uniqueName(`dp${rootless ? 'r' : ''}`);
      const port = 24000 + (process.pid % 20000) + (rootless ? 1 : 0);
      fromShell(['run', '-d', '--name', name, '--rootfs', rootfs, '--network', 'none', '-p', `${port}:8080`, '--', 'sh', '-c',
        'while :; do echo hello | nc -l -p 8080; done'], rootless);
      let forwarder: { pid: number } | undefined;
      try {
        let reply = '';
        await until('the port to answer', async () => (reply = await fetchLocal(port)) !== '');
        expect(reply).to.equal('hello\n');
        // Again (nc listens anew after each connection): the forwarder serves more than one.
        await until('the port to answer again', async () => (await fetchLocal(port)) === 'hello\n');
        forwarder = (JSON.parse(readFileSync(join(stateDir(rootless), 'containers', `${name}.json`), 'utf8')) as { forwarder?: { pid: number } }).forwarder;
        expect(forwarder, 'the forwarder is recorded').to.not.equal(undefined);
        expect(alive(forwarder!.pid)).to.equal(true);
      } finally {
        expect(ok(cli(['rm', '-f', name], { rootless }))).to.equal(`${name}\n`);
      }
      await until('the forwarder to stop', () => !alive(forwarder!.pid));
      expect(await fetchLocal(port)).to.equal('');
    });
  }

  it('rootless: the same, as nobody', async () => {
    const name = uniqueName('rl');
    const id = fromShell(['run', '-d', '--name', name, '--rootfs', rootfs, '--network', 'none', '--', 'sh', '-c', 'echo $(id -u) inside; sleep 60'], true).trim();
    await until('its output', () => ok(cli(['logs', name], { rootless: true })) === '0 inside\n');
    expect(ok(cli(['ps', '-q'], { rootless: true })).split('\n')).to.include(id.slice(0, 12));
    expect(ok(cli(['rm', '-f', name], { rootless: true }))).to.equal(`${name}\n`);
    expect(existsSync(join(stateDir(true), 'containers', `${name}.json`))).to.equal(false);
  });
});
