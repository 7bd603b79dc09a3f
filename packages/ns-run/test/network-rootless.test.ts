/**
 * ns-run networks as an ordinary user (test-kit's ThrowawayUser, its /etc/subuid lines
 * restored byte for byte): the user's networks live in their rootless network namespace, held
 * by a process of theirs; two containers on one network reach each other by name, one on
 * another network does not; network rm; nothing left after. Checked from outside as root.
 */
import { expect } from 'chai';
import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { openTunToUsers } from 'ns-test-kit';
import { busyboxRootfs, LAUNCHER, OuterWorld, removeTree, ThrowawayUser, uniqueName, until, type Started } from './helpers';

describe('ns-run networks as an ordinary user (rootless network namespace)', function () {
  this.timeout(120_000);
  let user: ThrowawayUser;
  let rootfs: string;
  let www: string;
  const started: Started[] = [];

  before(() => {
    user = new ThrowawayUser('rnet');
    rootfs = busyboxRootfs();
    // As an image's: an ordinary user's runner cannot make them in root's rootfs.
    for (const f of ['hosts', 'resolv.conf']) writeFileSync(join(rootfs, 'etc', f), '', { flag: 'a', mode: 0o644 });
    www = mkdtempSync(`/tmp/ns-run-test-${process.pid}-rwww-`);
    chmodSync(www, 0o755);
    writeFileSync(join(www, 'index.html'), 'hello from a rootless server\n', { mode: 0o644 });
  });

  after(async () => {
    for (const c of started) c.proc.kill('SIGKILL');
    await Promise.all(started.map((c) => c.exit));
    // The holder, and pasta: it would outlive the holder, holding its namespace.
    for (const pid of [holderPid(), pastaPid()]) {
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    rmSync(stateRoot(), { recursive: true, force: true });
    if (rootfs) removeTree(rootfs);
    if (www) removeTree(www);
    await user?.remove();
  });

  const stateRoot = () => `/tmp/ns-run-${user.uid}`;
  function holderRecord(): { pid: number; pasta?: { pid: number } } | undefined {
    try {
      return JSON.parse(readFileSync(join(stateRoot(), 'netns.json'), 'utf8')) as { pid: number; pasta?: { pid: number } };
    } catch {
      return undefined;
    }
  }
  const holderPid = () => holderRecord()?.pid;
  const pastaPid = () => holderRecord()?.pasta?.pid;

  const argv = (args: readonly string[]) => user.argv([LAUNCHER, ...args]);
  function run(args: readonly string[]): SpawnSyncReturns<string> {
    const a = argv(args);
    return spawnSync(a[0]!, a.slice(1), { encoding: 'utf8', cwd: '/', timeout: 60_000 });
  }
  /** As run(), but not blocking this process's event loop: for a server of the test's to answer meanwhile. */
  function runAsync(args: readonly string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const c = background(args);
    return c.exit.then(({ code }) => ({ status: code, stdout: c.stdout, stderr: c.stderr }));
  }
  /** Removes networks a test made, whether or not it got as far as removing them itself. */
  const removeNetworks = (...nets: string[]) => {
    const left = nets.filter((n) => existsSync(join(stateRoot(), 'networks', n)));
    if (left.length > 0) run(['network', 'rm', ...left]);
  };
  function ok(r: SpawnSyncReturns<string>): string {
    expect(r.status, `ns-run failed (${r.status}): ${r.stderr}`).to.equal(0);
    return r.stdout;
  }
  function background(args: readonly string[]): Started {
    const a = argv(args);
    const proc = spawn(a[0]!, a.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], cwd: '/' });
    const c: Started = { proc, stdout: '', stderr: '', exit: new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal }))) };
    proc.stdout!.on('data', (d: Buffer) => { c.stdout += d.toString(); });
    proc.stderr!.on('data', (d: Buffer) => { c.stderr += d.toString(); });
    started.push(c);
    return c;
  }
  const fetchFrom = (net: string, url: string, tries = 20) => run(['--network', net, '--', 'sh', '-c',
    `for i in $(seq ${tries}); do wget -q -T 1 -t 1 -O - ${url} && exit 0; sleep 0.2; done; exit 1`]);
  const leases = (net: string) => {
    try {
      return JSON.parse(readFileSync(join(stateRoot(), 'networks', net, 'leases.json'), 'utf8')) as { container: string; address: string }[];
    } catch {
      return [];
    }
  };
  /** Undoes the test's opening of /dev/net/tun to users, if it had to. */
  let restoreTun = () => {};
  after(() => restoreTun());
  const inHolder = (args: string[]) => execFileSync('nsenter', ['-t', String(holderPid()), '-n', ...args], { encoding: 'utf8' });

  /** pasta opens /dev/net/tun as the user: opened to users for a test where the host made it 0600. */
  async function openTun(): Promise<void> {
    restoreTun = await openTunToUsers(() => user.run(['sh', '-c', 'test -r /dev/net/tun -a -w /dev/net/tun']).status === 0);
  }
  /** The pasta process of a holder: its pid, if it runs and is pasta attached to that holder. */
  const pastaOf = (holder: number, pid: number | undefined) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
      return argv[0]!.endsWith('/pasta') && argv.at(-1) === String(holder) ? pid : undefined;
    } catch {
      return undefined;
    }
  };

  /**
   * A server of this process's on the host's 127.0.0.1 that answers with the peer's address, and
   * the address a container reaches it at through pasta (the host's default gateway, which pasta
   * maps to the host); undefined without a default route.
   */
  async function hostServer(port: number): Promise<{ gateway: string; close: () => void } | undefined> {
    const route = readFileSync('/proc/net/route', 'utf8').split('\n').map((l) => l.split('\t')).find((f) => f[1] === '00000000');
    if (!route) return undefined;
    const server = createServer((s) => s.end(`seen ${s.remoteAddress}\n`));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
    return { gateway: Buffer.from(route[2]!, 'hex').reverse().join('.'), close: () => server.close() };
  }

  /** For a test of egress through pasta: /dev/net/tun opened to users and hostServer(port), or the test skipped without one. */
  async function egressServer(test: Mocha.Context, port: number): Promise<{ gateway: string; close: () => void }> {
    await openTun();
    const host = await hostServer(port);
    if (!host) {
      process.stderr.write('      skipped: the host has no default route, which pasta\'s gateway mapping needs\n');
      test.skip();
    }
    return host!;
  }

  it('egress through pasta: a container on a network reaches a server of the host\'s (pasta maps the gateway to the host)', async function () {
    const port = 26000 + (process.pid % 20000);
    const host = await egressServer(this, port);
    const { gateway } = host;
    const net = uniqueName('regress');
    try {
      ok(run(['network', 'create', net]));
      // The server is this process's: the container runs without blocking its event loop.
      const r = await runAsync(['--network', net, '--', 'sh', '-c', `wget -q -T 2 -t 3 -O - http://${gateway}:${port}/`]);
      expect(r.stdout, r.stderr).to.match(/^seen (::ffff:)?127\.0\.0\.1\n$/);
      expect(r.status).to.equal(0);
      ok(run(['network', 'rm', net]));
    } finally {
      host.close();
      removeNetworks(net);
      restoreTun();
    }
  });

  it('an --internal network has no egress; IPv6 between two containers of an --ipv6 network, by address and by name', async function () {
    const port = 28000 + (process.pid % 20000);
    const host = await egressServer(this, port);
    const { gateway } = host;
    const internal = uniqueName('rint');
    const six = uniqueName('rsix');
    const srv6 = uniqueName('rsrv6');
    try {
      ok(run(['network', 'create', '--internal', internal]));
      // The same request that reaches the host's server from a normal network (the egress test above).
      const r = await runAsync(['--network', internal, '--', 'sh', '-c', `wget -q -T 2 -t 1 -O - http://${gateway}:${port}/`]);
      expect(r.stdout).to.equal('');
      expect(r.status).to.not.equal(0);
      ok(run(['network', 'create', '--ipv6', '--subnet', '10.243.9.0/24', '--subnet6', 'fd42:9:9::/64', six]));
      ok(run(['-d', '--network', six, '--name', srv6, '--rootfs', rootfs, '-v', `${www}:/data:ro`, '--', 'httpd', '-f', '-p', '80', '-h', '/data']));
      const r6 = run(['--network', six, '--', 'sh', '-c',
        `for i in $(seq 25); do wget -q -T 1 -t 1 -O - 'http://[fd42:9:9::2]/' && break; sleep 0.2; done; getent ahostsv6 ${srv6} | head -1`]);
      expect(r6.stdout, r6.stderr).to.match(new RegExp(`^hello from a rootless server\nfd42:9:9::2 +STREAM ${srv6}\n$`));
    } finally {
      host.close();
      run(['rm', '-f', srv6]);
      removeNetworks(internal, six);
      restoreTun();
    }
  });

  it('two containers on a network reach each other by name; another network cannot; rm removes the bridge; nothing is left', async () => {
    const net = uniqueName('rweb');
    const other = uniqueName('rother');
    // Ours only: other tests on this machine make and remove links of their own meanwhile.
    const ourLinks = () => readdirSync('/sys/class/net').filter((l) => /^ns(br|v)/.test(l)).sort();
    const hostLinks = ourLinks();
    let running: Started | undefined;
    try {
      ok(run(['network', 'create', net]));
      ok(run(['network', 'create', other]));
      const pid = holderPid()!;
      expect(readFileSync(`/proc/${pid}/status`, 'utf8')).to.match(new RegExp(`\nUid:\t${user.uid}\t`));
      const listed = ok(run(['network', 'ls', '--format', 'json'])).trim().split('\n').map((l) => JSON.parse(l) as { Name: string });
      expect(listed.map((n) => n.Name)).to.include.members([net, other]);

      const server = uniqueName('rsrv');
      const port = 27000 + (process.pid % 20000);
      const srv = running = background(['--network', net, '--name', server, '--rootfs', rootfs, '-v', `${www}:/data:ro`, '-p', `127.0.0.1:${port}:80`, '--', 'httpd', '-f', '-p', '80', '-h', '/data']);
      await until('the server to lease its address', () => leases(net).some((l) => l.container === server) || srv.proc.exitCode !== null, 20_000);
      expect(srv.proc.exitCode, srv.stderr).to.equal(null);
      const byName = fetchFrom(net, `http://${server}/`);
      expect([byName.status, byName.stdout], byName.stderr).to.deep.equal([0, 'hello from a rootless server\n']);
      // Its published port, through the forwarder in its namespaces, from the host.
      const published = spawnSync('wget', ['-q', '-T', '2', '-t', '3', '-O', '-', `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
      expect(published.stdout, published.stderr).to.equal('hello from a rootless server\n');
      const address = leases(net).find((l) => l.container === server)!.address;
      const fromOther = fetchFrom(other, `http://${address}/`, 2);
      expect(fromOther.stdout).to.equal('');
      expect(fromOther.status).to.equal(1);

      const connect = run(['network', 'connect', other, server]);
      expect([connect.status, connect.stderr]).to.deep.equal([1, `ns-run network connect: network connect: not yet for an ordinary user's containers (start ${server} with --network ${other})\n`]);
      const busy = run(['network', 'rm', net]);
      expect([busy.status, busy.stderr]).to.deep.equal([1, `ns-run network rm: network ${net} is in use by container ${server}; stop it first\n`]);
      srv.proc.kill('SIGTERM');
      await srv.exit;
      expect(leases(net)).to.deep.equal([]);
      const [info] = JSON.parse(ok(run(['network', 'inspect', net]))) as { Options: Record<string, string> }[];
      const bridge = info!.Options['com.docker.network.bridge.name']!;
      expect(inHolder(['ip', '-o', 'link'])).to.include(bridge);
      expect(ok(run(['network', 'rm', net, other]))).to.equal(`${net}\n${other}\n`);
      expect(inHolder(['ip', '-o', 'link'])).to.not.include(bridge);
      expect(inHolder(['nft', 'list', 'ruleset'])).to.equal('');
      expect(existsSync(join(stateRoot(), 'networks', net))).to.equal(false);
    } finally {
      running?.proc.kill('SIGKILL');
      await running?.exit;
      removeNetworks(net, other);
    }
    // The host's own namespace never had any of it.
    expect(ourLinks()).to.deep.equal(hostLinks);
  });

  it('two detached containers (-d) on a network: httpd in one answers wget http://NAME/ from the other after both CLIs exited; rm -f gives the leases back', async () => {
    const net = uniqueName('rdet');
    const server = uniqueName('rdsrv');
    const client = uniqueName('rdcli');
    try {
      ok(run(['network', 'create', net]));
      ok(run(['-d', '--network', net, '--name', server, '--rootfs', rootfs, '-v', `${www}:/data:ro`, '--', 'httpd', '-f', '-p', '80', '-h', '/data']));
      ok(run(['-d', '--network', net, '--name', client, '--', 'sh', '-c',
              `for i in $(seq 50); do wget -q -T 1 -t 1 -O - http://${server}/ && exit 0; sleep 0.2; done; exit 1`]));
      expect(ok(run(['wait', client])).trim()).to.equal('0');
      expect(ok(run(['logs', client]))).to.equal('hello from a rootless server\n');
      expect(leases(net).map((l) => l.container)).to.include(server);
    } finally {
      const removed = run(['rm', '-f', server, client]);
      expect([removed.status, removed.stderr]).to.deep.equal([0, '']);
    }
    expect(leases(net)).to.deep.equal([]);
    removeNetworks(net);
    expect(existsSync(join(stateRoot(), 'networks', net))).to.equal(false);
  });

  it('egress through pasta to a server in another network namespace routed through the host, seen there with the host\'s address', async () => {
    await openTun();
    // The outer world: a veth from the host's own namespace (root's ip(8), as the oracle).
    const subnet = `198.18.${process.pid % 250}`;
    const world = await OuterWorld.make((a) => execFileSync(a[0]!, a.slice(1)), `pst${process.pid}`, `${subnet}.1`, `${subnet}.2`);
    const net = uniqueName('rout');
    try {
      ok(run(['network', 'create', net]));
      const r = await runAsync(['--network', net, '--', 'sh', '-c', `wget -q -T 2 -t 3 -O - http://${subnet}.2:${OuterWorld.PORT}/`]);
      // pasta's connection is a socket of the user's on the host: the host's address on that route.
      expect(r.stdout, r.stderr).to.equal(`::ffff:${subnet}.1\n`);
      expect(r.status).to.equal(0);
    } finally {
      removeNetworks(net);
      world.close();
      restoreTun();
    }
  });

  it('a holder that is gone is made again by the next use, and its pasta (which would hold the dead namespace) is ended', async () => {
    await openTun();
    const net = uniqueName('rstale');
    try {
      ok(run(['network', 'create', net]));
      const old = holderRecord()!;
      expect(pastaOf(old.pid, old.pasta?.pid), 'the holder\'s pasta runs').to.be.a('number');
      process.kill(old.pid, 'SIGKILL');
      await until('the holder to end', () => !existsSync(`/proc/${old.pid}/cmdline`) || readFileSync(`/proc/${old.pid}/cmdline`, 'utf8') === '');
      expect(pastaOf(old.pid, old.pasta!.pid), 'pasta outlives its holder by itself').to.equal(old.pasta!.pid);
      ok(run(['network', 'inspect', net]));
      ok(run(['--network', net, '--', 'true']));
      const now = holderRecord()!;
      expect(now.pid).to.not.equal(old.pid);
      await until('the old holder\'s pasta to end', () => pastaOf(old.pid, old.pasta!.pid) === undefined);
      expect(pastaOf(now.pid, now.pasta?.pid), 'the new holder\'s pasta runs').to.be.a('number');
    } finally {
      removeNetworks(net);
      restoreTun();
    }
  });
});
