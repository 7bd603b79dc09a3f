/**
 * The rootless default network (issue 13): an ordinary user's container without --network
 * gets egress through pasta in its own network namespace, as podman's rootless default has
 * it; a server on the host's 127.0.0.1 is reached at the default gateway's address (pasta's
 * --map-gw, what podman's pasta users get); -p works on it; pasta ends with the run, and with
 * ns-run when that is SIGKILLed. Without pasta on PATH (or without /dev/net/tun for the
 * user) a one-line note, once, and lo only. As a throwaway user (test-kit's ThrowawayUser,
 * /etc/subuid restored byte for byte); checked from outside as root.
 */
import { expect } from 'chai';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { openTunToUsers, processesOf } from 'ns-test-kit';
import { LAUNCHER, removeTree, start, ThrowawayUser, until, type Started } from './helpers';

describe('ns-run rootless default network: pasta (issue 13)', function () {
  this.timeout(120_000);
  let user: ThrowawayUser;
  let bin: string;
  const started: Started[] = [];
  /** Undoes the test's opening of /dev/net/tun to users, if it had to. */
  let restoreTun = () => {};

  before(() => {
    user = new ThrowawayUser('pst');
    // What a PATH without pasta still needs: node for the launcher, newuidmap for the user's block.
    bin = mkdtempSync(`/tmp/ns-run-test-${process.pid}-nopasta-`);
    chmodSync(bin, 0o755);
    for (const tool of [process.execPath, '/usr/bin/newuidmap', '/usr/bin/newgidmap']) symlinkSync(tool, join(bin, tool.split('/').at(-1)!));
  });

  afterEach(() => restoreTun());

  after(async () => {
    for (const c of started) c.proc.kill('SIGKILL');
    await Promise.all(started.map((c) => c.exit));
    rmSync(stateRoot(), { recursive: true, force: true });
    if (bin) removeTree(bin);
    await user?.remove();
  });

  const stateRoot = () => `/tmp/ns-run-${user.uid}`;
  const containerFiles = () => (existsSync(join(stateRoot(), 'containers')) ? readdirSync(join(stateRoot(), 'containers')) : []);
  /** The user's pasta processes (passt's binary runs as passt.avx2 where the CPU has it). */
  const pastas = () => processesOf(user.uid).filter((pid) => {
    try {
      return /^pas(ta|st)/.test(readFileSync(`/proc/${pid}/comm`, 'utf8')) && readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z';
    } catch {
      return false;
    }
  });

  function run(args: readonly string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
    const a = user.argv(['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), LAUNCHER, ...args]);
    return spawnSync(a[0]!, a.slice(1), { encoding: 'utf8', cwd: '/', timeout: 60_000 });
  }
  function background(args: readonly string[]): Started {
    const c = start(user.argv([LAUNCHER, ...args]), { raw: true });
    started.push(c);
    return c;
  }
  /** As run(), but not blocking this process's event loop: for a server of the test's to answer meanwhile. */
  function runAsync(args: readonly string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const c = background(args);
    return c.exit.then(({ code }) => ({ status: code, stdout: c.stdout, stderr: c.stderr }));
  }

  /** pasta opens /dev/net/tun as the user: opened to users for a test where the host made it 0600. */
  async function openTun(): Promise<void> {
    restoreTun = await openTunToUsers(() => user.run(['sh', '-c', 'test -r /dev/net/tun -a -w /dev/net/tun']).status === 0);
  }

  /**
   * A server of this process's on the host's 127.0.0.1 that answers with the peer's address, and
   * the address a container reaches it at through pasta: the host's default gateway.
   */
  async function hostServer(port: number): Promise<{ gateway: string; close: () => void }> {
    const route = readFileSync('/proc/net/route', 'utf8').split('\n').map((l) => l.split('\t')).find((f) => f[1] === '00000000');
    expect(route, 'this machine has a default route, which pasta copies').to.not.equal(undefined);
    const server = createServer((s) => s.end(`seen ${s.remoteAddress}\n`));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
    return { gateway: Buffer.from(route![2]!, 'hex').reverse().join('.'), close: () => server.close() };
  }
  const port = (n: number) => 27000 + ((process.pid * 3 + n) % 20000);

  it('without --network: egress through pasta, the host\'s loopback at the gateway, names resolved through pasta; pasta gone after', async () => {
    await openTun();
    const host = await hostServer(port(0));
    try {
      // A name the host's resolver answers (the host's getent, the oracle): the container's answer is the same.
      const name = 'deb.debian.org';
      const resolved = spawnSync('getent', ['ahostsv4', name], { encoding: 'utf8' }).stdout.split(/\s/)[0];
      expect(resolved, `the host resolves ${name}`).to.match(/^\d+\.\d+\.\d+\.\d+$/);
      const r = await runAsync(['--', 'sh', '-c', `ip -o link | wc -l; wget -q -T 3 -t 2 -O - http://${host.gateway}:${port(0)}/; `
        + `grep nameserver /etc/resolv.conf; getent ahostsv4 ${name} | head -1 | cut -d' ' -f1`]);
      expect(r.stderr).to.equal('');
      expect(r.stdout).to.match(new RegExp(`^2\nseen (::ffff:)?127\\.0\\.0\\.1\nnameserver 169\\.254\\.1\\.1\n${resolved!.replace(/\./g, '\\.')}\n$`));
      expect(r.status).to.equal(0);
    } finally {
      host.close();
    }
    expect(readFileSync(join(stateRoot(), 'pasta-resolv.conf'), 'utf8')).to.match(/^# written by ns-run\n(.*\n)*nameserver /);
    // pasta ended with the supervisor (PDEATHSIG): nothing of the run is left.
    await until('pasta to end', () => pastas().length === 0);
    expect(containerFiles()).to.deep.equal([]);
  });

  it('-p on it: a published port reaches the container\'s server (the runner waits in Node then), egress too', async () => {
    await openTun();
    const host = await hostServer(port(1));
    const published = port(2);
    try {
      const server = 'import socket; s = socket.socket(); s.bind(("0.0.0.0", 8000)); s.listen(); print("up", flush=True); '
        + 'c, _ = s.accept(); c.sendall(b"from the container\\n"); c.close()';
      const c = background(['-p', `127.0.0.1:${published}:8000`, '--', 'sh', '-c',
        `wget -q -T 3 -t 2 -O - http://${host.gateway}:${port(1)}/ && exec python3 -c '${server}'`]);
      await until('the container\'s server', () => c.stdout.includes('up\n') || c.proc.exitCode !== null);
      expect(c.stdout, c.stderr).to.match(/^seen (::ffff:)?127\.0\.0\.1\nup\n$/);
      const answer = await new Promise<string>((resolve, reject) => {
        let got = '';
        const s = createConnection(published, '127.0.0.1');
        s.on('data', (d) => { got += d.toString(); });
        s.on('end', () => resolve(got));
        s.on('error', reject);
      });
      expect(answer).to.equal('from the container\n');
      expect((await c.exit).code).to.equal(0);
      expect(c.stderr).to.equal('');
    } finally {
      host.close();
    }
    await until('pasta to end', () => pastas().length === 0);
    expect(containerFiles()).to.deep.equal([]);
  });

  it('SIGKILL of ns-run: pasta ends with it, at once; the next call removes the state', async () => {
    await openTun();
    const c = background(['--', 'sh', '-c', 'echo up; exec sleep 60']);
    await until('the container', () => c.stdout.includes('up\n') || c.proc.exitCode !== null);
    expect(pastas(), c.stderr).to.have.length(1);
    const [pasta] = pastas();
    c.proc.kill('SIGKILL');
    await c.exit;
    await until('pasta to end', () => !pastas().includes(pasta!));
    await until('the container to end', () => processesOf(user.uid).length === 0);
    expect(run(['ps', '-a']).status).to.equal(0);
    expect(containerFiles()).to.deep.equal([]);
  });

  it('without pasta on PATH: one note on stderr, once, and lo only', () => {
    expect(() => accessSync(join(bin, 'pasta'), constants.X_OK)).to.throw();
    const r = run(['--', 'sh', '-c', 'ip -o link | wc -l'], { PATH: bin });
    expect([r.stdout, r.stderr, r.status]).to.deep.equal(['1\n',
      'ns-run: note: no egress: pasta (Debian\'s passt package) is not on PATH; the container has lo only\n', 0]);
    // With pasta on PATH but --network none asked for: no note.
    const none = run(['--network', 'none', '--', 'true']);
    expect([none.stderr, none.status]).to.deep.equal(['', 0]);
  });

  it('-d: lo only for now, said once; --network pasta -d is refused', () => {
    const detached = run(['-d', '--rm', '--', 'true']);
    expect(detached.stderr).to.match(/^ns-run: note: no egress for a detached container yet .*\n$/);
    expect(detached.status).to.equal(0);
    const refused = run(['-d', '--network', 'pasta', '--', 'true']);
    expect([refused.status, refused.stderr]).to.deep.equal([125, 'ns-run: --network pasta: not with --detach yet (pasta ends with the runner that waits in the foreground); use a network (--network NAME)\n']);
  });
});
