/**
 * ns-run networks as an ordinary user (test-kit's ThrowawayUser, its /etc/subuid lines
 * restored byte for byte): the user's networks live in their rootless network namespace, held
 * by a process of theirs; two containers on one network reach each other by name, one on
 * another network does not; network rm; nothing left after. Checked from outside as root.
 */
import { expect } from 'chai';
import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { busyboxRootfs, LAUNCHER, removeTree, ThrowawayUser, uniqueName, until, type Started } from './helpers';

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
    const holder = holderPid();
    if (holder !== undefined) {
      try {
        process.kill(holder, 'SIGKILL');
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
  function holderPid(): number | undefined {
    try {
      return (JSON.parse(readFileSync(join(stateRoot(), 'netns.json'), 'utf8')) as { pid: number }).pid;
    } catch {
      return undefined;
    }
  }

  const argv = (args: readonly string[]) => user.argv([LAUNCHER, ...args]);
  function run(args: readonly string[]): SpawnSyncReturns<string> {
    const a = argv(args);
    return spawnSync(a[0]!, a.slice(1), { encoding: 'utf8', cwd: '/', timeout: 60_000 });
  }
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

  it('egress through pasta: a container on a network reaches a server of the host\'s (pasta maps the gateway to the host)', async function () {
    // pasta opens /dev/net/tun as the user: Debian's udev makes it 0666, this kind of host 0600.
    // As a Debian host's users would have it, for this test only; its own mode comes back after.
    const tunMode = statSync('/dev/net/tun').mode & 0o7777;
    if (user.run(['sh', '-c', 'test -r /dev/net/tun -a -w /dev/net/tun']).status !== 0) {
      chmodSync('/dev/net/tun', 0o666);
      restoreTun = () => chmodSync('/dev/net/tun', tunMode);
    }
    const route = readFileSync('/proc/net/route', 'utf8').split('\n').map((l) => l.split('\t')).find((f) => f[1] === '00000000');
    if (!route) {
      process.stderr.write('      skipped: the host has no default route, which pasta\'s gateway mapping needs\n');
      this.skip();
    }
    const gateway = Buffer.from(route![2]!, 'hex').reverse().join('.');
    const server = createServer((s) => s.end(`seen ${s.remoteAddress}\n`));
    const port = 26000 + (process.pid % 20000);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
    try {
      const net = uniqueName('regress');
      ok(run(['network', 'create', net]));
      const r = run(['--network', net, '--', 'sh', '-c', `wget -q -T 2 -t 3 -O - http://${gateway}:${port}/ || nc -w 2 ${gateway} ${port} </dev/null`]);
      expect(r.stdout, r.stderr).to.match(/^seen (::ffff:)?127\.0\.0\.1\n$/);
      ok(run(['network', 'rm', net]));
    } finally {
      server.close();
    }
  });

  it('two containers on a network reach each other by name; another network cannot; rm removes the bridge; nothing is left', async () => {
    const net = uniqueName('rweb');
    const other = uniqueName('rother');
    // Ours only: other tests on this machine make and remove links of their own meanwhile.
    const ourLinks = () => readdirSync('/sys/class/net').filter((l) => /^ns(br|v)/.test(l)).sort();
    const hostLinks = ourLinks();
    ok(run(['network', 'create', net]));
    ok(run(['network', 'create', other]));
    const pid = holderPid()!;
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).to.match(new RegExp(`\nUid:\t${user.uid}\t`));
    const listed = ok(run(['network', 'ls', '--format', 'json'])).trim().split('\n').map((l) => JSON.parse(l) as { Name: string });
    expect(listed.map((n) => n.Name)).to.include.members([net, other]);

    const server = uniqueName('rsrv');
    const port = 27000 + (process.pid % 20000);
    const srv = background(['--network', net, '--name', server, '--rootfs', rootfs, '-v', `${www}:/data:ro`, '-p', `127.0.0.1:${port}:80`, '--', 'httpd', '-f', '-p', '80', '-h', '/data']);
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
    // The host's own namespace never had any of it.
    expect(ourLinks()).to.deep.equal(hostLinks);
  });
});
