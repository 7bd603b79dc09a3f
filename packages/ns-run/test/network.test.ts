/**
 * ns-run networks, as root, through the CLI, checked from outside. Every runner runs in a
 * network namespace of the test's (helpers' Netns), so the bridges, veths, nf_tables rules
 * and sysctls are made there and go with it: the machine's own ruleset is never touched.
 * Networks are named per test process; their state files are removed in `after`.
 */
import { expect } from 'chai';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxRootfs, cli, Netns, removeTree, running, start, uniqueName, until, type Started } from './helpers';

const CONFIG_DIR = '/var/lib/ns-run/networks';
const RUN_DIR = '/run/ns-run/networks';

let rootfs: string;
let www: string;
let netns: Netns;
const networks: string[] = [];
const containers: Started[] = [];

async function setUp(): Promise<void> {
  rootfs = busyboxRootfs();
  www = mkdtempSync(`/tmp/ns-run-test-${process.pid}-www-`);
  chmodSync(www, 0o755);
  writeFileSync(join(www, 'index.html'), 'hello from the server\n', { mode: 0o644 });
  // busybox httpd's CGI: the client's address as the server sees it.
  mkdirSync(join(www, 'cgi-bin'), { mode: 0o755 });
  writeFileSync(join(www, 'cgi-bin', 'addr'), '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$REMOTE_ADDR"\n', { mode: 0o755 });
  netns = await new Netns().ready();
}

/**
 * The bridges, veths and rules go with the test's network namespace; what is left is state
 * files, removed directly (no CLI call that a loaded machine could make slow).
 */
async function tearDown(): Promise<void> {
  for (const c of containers) c.proc.kill('SIGKILL');
  await Promise.all(containers.map((c) => c.exit));
  netns?.close();
  for (const n of networks) {
    rmSync(join(CONFIG_DIR, `${n}.json`), { force: true });
    rmSync(join(RUN_DIR, n), { recursive: true, force: true });
  }
  // The containers' own hosts files (a killed runner's stay until its networks are touched).
  const own = join(RUN_DIR, '.containers');
  for (const f of existsSync(own) ? readdirSync(own) : []) if (f.startsWith(uniqueName(''))) rmSync(join(own, f), { force: true });
  if (rootfs) removeTree(rootfs);
  if (www) removeTree(www);
}

function ok(r: ReturnType<typeof cli>): string {
  expect(r.status, `ns-run failed (${r.status}): ${r.stderr}`).to.equal(0);
  return r.stdout;
}

/** A network of this test process, removed in `after` if the test did not. */
function network(tag: string, ...options: string[]): string {
  const name = uniqueName(tag);
  networks.push(name);
  ok(cli(['network', 'create', ...options, name], { netns }));
  return name;
}

/** A container in the background, on `net`, until the test ends it. */
async function background(net: string, name: string, script: string, extra: readonly string[] = []): Promise<Started> {
  const c = start(['--network', net, '--name', name, '--rootfs', rootfs, '-v', `${www}:/data:ro`, ...extra, '--', 'sh', '-c', script], { netns });
  containers.push(c);
  await running(name);
  return c;
}

/**
 * wget from a new container on `net`, retried for up to 4 s (the server may still be
 * starting). The client runs on the embedded default root (the host's GNU wget), whose -T
 * bounds each try: busybox-static 1.35's wget dies of SIGSEGV when given -T, and without it a
 * try at an unreachable address waits for the kernel's TCP connect timeout.
 */
function fetchFrom(net: string, url: string, tries = 20): ReturnType<typeof cli> {
  return cli(['--network', net, '--', 'sh', '-c',
              `for i in $(seq ${tries}); do wget -q -T 1 -t 1 -O - ${url} && exit 0; sleep 0.2; done; exit 1`], { netns });
}

function netnsRun(argv: readonly string[]): string {
  return execFileSync(netns.wrap(argv)[0]!, netns.wrap(argv).slice(1), { encoding: 'utf8' });
}

function leases(net: string): { container: string; address: string }[] {
  try {
    return JSON.parse(readFileSync(join(RUN_DIR, net, 'leases.json'), 'utf8')) as { container: string; address: string }[];
  } catch {
    return [];
  }
}

const HTTPD = 'exec httpd -f -p 80 -h /data';

describe('ns-run networks (as root, in a network namespace of the test\'s)', function () {
  this.timeout(60_000);
  before(setUp);
  after(tearDown);

  it('two containers on one network: httpd in one answers wget http://NAME/ and its alias from the other', async () => {
    const net = network('web');
    const server = uniqueName('srv');
    await background(net, server, HTTPD, ['--network-alias', 'www-alias']);
    expect(fetchFrom(net, `http://${server}/`).stdout).to.equal('hello from the server\n');
    expect(fetchFrom(net, 'http://www-alias/').stdout).to.equal('hello from the server\n');
  });

  it('-d on a network: answers by name after its CLI exited, its lease held by its supervisor; rm -f gives the lease back', async () => {
    const net = network('detached');
    const server = uniqueName('dsrv');
    ok(cli(['run', '-d', '--network', net, '--name', server, '--rootfs', rootfs, '-v', `${www}:/data:ro`, '--', 'sh', '-c', HTTPD], { netns }));
    try {
      expect(fetchFrom(net, `http://${server}/`).stdout).to.equal('hello from the server\n');
      const [lease] = leases(net) as unknown as { container: string; owner: { pid: number } }[];
      expect(lease!.container).to.equal(server);
      expect(readFileSync(`/proc/${lease!.owner.pid}/comm`, 'utf8').trim()).to.equal('ns-supervise');
    } finally {
      ok(cli(['rm', '-f', server], { netns }));
    }
    expect(leases(net)).to.deep.equal([]);
  });

  it('keeps every member\'s /etc/hosts current: a running container sees one that joins later', async () => {
    const net = network('hosts');
    const first = uniqueName('first');
    const later = uniqueName('later');
    const watcher = await background(net, first, `until grep -q "${later}" /etc/hosts; do sleep 0.1; done; grep "${later}" /etc/hosts; sleep 600`);
    const joined = await background(net, later, 'sleep 600');
    await until('the first container to see the later one', () => watcher.stdout.includes(later));
    const address = leases(net).find((l) => l.container === later)!.address;
    expect(watcher.stdout).to.equal(`${address}\t${later}\n`);
    joined.proc.kill('SIGTERM');
    await joined.exit;
    expect(readFileSync(join(RUN_DIR, net, 'hosts'), 'utf8')).to.not.include(later);
  });

  it('a container on another network cannot reach it, by address or by name', async () => {
    const net = network('here');
    const other = network('there');
    const server = uniqueName('isolated');
    await background(net, server, HTTPD);
    const address = leases(net).find((l) => l.container === server)!.address;
    expect(fetchFrom(net, `http://${address}/`).stdout).to.equal('hello from the server\n');
    const fromOther = fetchFrom(other, `http://${address}/`, 2);
    expect(fromOther.status).to.equal(1);
    expect(fromOther.stdout).to.equal('');
    // Its name is not in the other network's hosts file.
    const byName = cli(['--network', other, '--', 'sh', '-c', `getent hosts ${server}; echo status=$?`], { netns });
    expect(byName.stdout).to.equal('status=2\n');
  });

  it('IPv6 between two containers on an --ipv6 network, by address and by name', async () => {
    const net = network('six', '--ipv6', '--subnet', '10.243.4.0/24', '--subnet6', 'fd42:7:7::/64');
    const server = uniqueName('srv6');
    await background(net, server, HTTPD);
    const [info] = JSON.parse(ok(cli(['network', 'inspect', net], { netns }))) as { EnableIPv6: boolean; IPAM: { Config: object[] }; Containers: Record<string, { IPv6Address: string }> }[];
    expect(info!.EnableIPv6).to.equal(true);
    expect(info!.IPAM.Config).to.deep.equal([{ Subnet: '10.243.4.0/24', Gateway: '10.243.4.1' }, { Subnet: 'fd42:7:7::/64', Gateway: 'fd42:7:7::1' }]);
    expect(info!.Containers[server]!.IPv6Address).to.equal('fd42:7:7::2/64');
    expect(fetchFrom(net, 'http://[fd42:7:7::2]/').stdout).to.equal('hello from the server\n');
    const byName = ok(cli(['--network', net, '--', 'sh', '-c', `getent ahostsv6 ${server} | head -1; ip -6 route show default`], { netns }));
    expect(byName).to.match(new RegExp(`^fd42:7:7::2 +STREAM ${server}\n` + 'default via fd42:7:7::1 dev eth0'));
  });

  it('connects a running container to another network and disconnects it', async () => {
    const home = network('home');
    const guest = network('guest');
    const server = uniqueName('roamer');
    await background(home, server, HTTPD);
    expect(fetchFrom(guest, `http://${server}/`, 1).status).to.equal(1);
    ok(cli(['network', 'connect', '--alias', 'roaming', guest, server], { netns }));
    const lease = leases(guest).find((l) => l.container === server)!;
    expect(lease).to.not.equal(undefined);
    expect(fetchFrom(guest, `http://${server}/`).stdout).to.equal('hello from the server\n');
    expect(fetchFrom(guest, 'http://roaming/').stdout).to.equal('hello from the server\n');
    const again = cli(['network', 'connect', guest, server], { netns });
    expect([again.status, again.stderr]).to.deep.equal([1, `ns-run network connect: network ${guest}: a container named ${server} is attached already (${lease.address})\n`]);

    ok(cli(['network', 'disconnect', guest, server], { netns }));
    expect(leases(guest)).to.deep.equal([]);
    expect(readFileSync(join(RUN_DIR, guest, 'hosts'), 'utf8')).to.not.include(server);
    expect(fetchFrom(guest, `http://${lease.address}/`, 1).status).to.equal(1);
    // Still on its first network.
    expect(fetchFrom(home, `http://${server}/`).stdout).to.equal('hello from the server\n');
    const gone = cli(['network', 'disconnect', guest, server], { netns });
    expect([gone.status, gone.stderr]).to.deep.equal([1, `ns-run network disconnect: container ${server} is not connected to network ${guest}\n`]);
  });

  it('a container on two networks is reached by name from both and sees the peers of both in its /etc/hosts', async () => {
    const left = network('left');
    const right = network('right');
    const both = uniqueName('both');
    const leftPeer = uniqueName('lpeer');
    const rightPeer = uniqueName('rpeer');
    await background(left, leftPeer, 'sleep 600');
    await background(right, rightPeer, 'sleep 600');
    // Serves, and once connected to the right network, says what its /etc/hosts holds of both peers.
    const c = await background(left, both, `httpd -p 80 -h /data; until grep -q "${rightPeer}" /etc/hosts; do sleep 0.1; done; ` +
      `for n in ${leftPeer} ${rightPeer}; do grep -w $n /etc/hosts; done; sleep 600`);
    ok(cli(['network', 'connect', right, both], { netns }));
    await until('the container to see the right network\'s peer', () => c.stdout.split('\n').length > 2);
    const address = (net: string, name: string) => leases(net).find((l) => l.container === name)!.address;
    expect(c.stdout.split('\n').map((l) => l.split(/\s+/).join(' '))).to.deep.equal([
      `${address(left, leftPeer)} ${leftPeer}`, `${address(right, rightPeer)} ${rightPeer}`, '']);
    expect(fetchFrom(left, `http://${both}/`).stdout).to.equal('hello from the server\n');
    expect(fetchFrom(right, `http://${both}/`).stdout).to.equal('hello from the server\n');
    // Its own file, not either network's: those still list their own members only.
    expect(readFileSync(join(RUN_DIR, right, 'hosts'), 'utf8')).to.not.include(leftPeer);
    ok(cli(['network', 'disconnect', right, both], { netns }));
    const own = readFileSync(join(RUN_DIR, '.containers', `${both}.hosts`), 'utf8');
    expect(own).to.include(leftPeer).and.not.include(rightPeer);
  });

  it('publishes a port of a container on a network (-p), reached from the host', async () => {
    const net = network('pub');
    const port = 21000 + (process.pid % 20000);
    const c = start(['--network', net, '--rootfs', rootfs, '-p', `${port}:8080`, '--', 'nc', '-l', '-p', '8080', '-e', 'echo', 'published'], { netns });
    containers.push(c);
    let reply = '';
    await until('the published port to answer', async () => (reply = await netns.fetch(port)) !== '');
    expect(reply).to.equal('published\n');
    expect((await c.exit).code).to.equal(0);
  });

  describe('egress, to a TCP server in another network namespace routed through the host', () => {
    let outer: ChildProcess;
    let server: ChildProcess;
    const hostEnd = `vo${process.pid}`;
    const hostAddress = '10.241.7.1';
    const outerAddress = '10.241.7.2';

    before(async () => {
      // The outer world: a namespace with a veth to the test's "host" namespace, and a server
      // there that answers each client with the address it sees.
      outer = spawn('unshare', ['--net', 'sleep', '600'], { stdio: 'ignore' });
      await until('the outer netns', () => existsSync(`/proc/${outer.pid}/ns/net`) && readFileSync(`/proc/${outer.pid}/comm`, 'utf8').trim() === 'sleep');
      netnsRun(['ip', 'link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(outer.pid)]);
      netnsRun(['ip', 'addr', 'add', `${hostAddress}/30`, 'dev', hostEnd]);
      netnsRun(['ip', 'link', 'set', hostEnd, 'up']);
      const inOuter = (argv: string[]) => execFileSync('nsenter', ['-t', String(outer.pid), '-n', ...argv]);
      inOuter(['ip', 'addr', 'add', `${outerAddress}/30`, 'dev', 'eth0']);
      inOuter(['ip', 'link', 'set', 'eth0', 'up']);
      inOuter(['ip', 'link', 'set', 'lo', 'up']);
      server = spawn('nsenter', ['-t', String(outer.pid), '-n', process.execPath, '-e',
        'require("net").createServer((s) => s.end(s.remoteAddress + "\\n")).listen(7000, () => console.log("listening"))'], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise((resolve) => server.stdout!.once('data', resolve));
    });

    after(() => {
      server?.kill('SIGKILL');
      outer?.kill('SIGKILL');
    });

    const connect = (net: string) => cli(['--network', net, '--rootfs', rootfs, '--', 'sh', '-c', `nc -w 2 ${outerAddress} 7000 </dev/null`], { netns });

    it('reaches it from a normal network, seen there with the host\'s address (masquerade)', () => {
      const net = network('egress');
      expect(ok(connect(net))).to.equal(`::ffff:${hostAddress}\n`);
    });

    /** The published-port rules of container `name` in the test's ruleset. */
    const publishRulesOf = (name: string) => netnsRun(['nft', 'list', 'ruleset']).split('\n').filter((l) => l.includes(`"ns-run publish ${name} `));
    /** wget from the outer namespace, through the host's address: routed in, not from the host. */
    const fromOutside = (url: string) => execFileSync('nsenter', ['-t', String(outer.pid), '-n', 'sh', '-c',
      `for i in $(seq 20); do wget -q -T 1 -t 1 -O - ${url} && exit 0; sleep 0.2; done; exit 1`], { encoding: 'utf8' });

    for (const mode of ['network', 'veth'] as const) {
      it(`publishes -p by DNAT as root (--network ${mode}): httpd answers another netns routed via the host, seeing its address; the rules go with the container`, async () => {
        const net = mode === 'network' ? network('dnat') : 'veth';
        const name = uniqueName(`dnat-${mode}`);
        const port = 22000 + (process.pid % 20000) + (mode === 'veth' ? 1 : 0);
        await background(net, name, HTTPD, ['-p', `${port}:80`]);
        // The client's own address reaches the server: no proxy stands between them (a proxy's
        // connection would come from the gateway).
        expect(fromOutside(`http://${hostAddress}:${port}/cgi-bin/addr`)).to.equal(`[::ffff:${outerAddress}]\n`);
        expect(fromOutside(`http://${hostAddress}:${port}/`)).to.equal('hello from the server\n');
        // From the host itself, at 127.0.0.1 (output chain, route_localnet, masquerade).
        expect(netnsRun(['wget', '-q', '-T', '2', '-t', '1', '-O', '-', `http://127.0.0.1:${port}/`])).to.equal('hello from the server\n');
        const rules = publishRulesOf(name);
        expect(rules.some((l) => l.includes(`tcp dport ${port} dnat ip to`) && l.includes(':80'))).to.equal(true);
        const c = containers.at(-1)!;
        c.proc.kill('SIGTERM');
        await c.exit;
        expect(publishRulesOf(name)).to.deep.equal([]);
      });
    }

    it('the host reaches a container by its address; a connection routed in from elsewhere does not, but for its published port', async () => {
      const net = network('ingress', '--subnet', '10.243.7.0/24');
      const name = uniqueName('ingress');
      const port = 25000 + (process.pid % 20000);
      await background(net, name, HTTPD, ['-p', `${port}:80`]);
      const address = leases(net).find((l) => l.container === name)!.address;
      expect(netnsRun(['wget', '-q', '-T', '2', '-t', '1', '-O', '-', `http://${address}/`])).to.equal('hello from the server\n');
      // The outer world has a route to the network through the host: the rules, not the lack
      // of a route, keep it out.
      execFileSync('nsenter', ['-t', String(outer.pid), '-n', 'ip', 'route', 'replace', '10.243.7.0/24', 'via', hostAddress]);
      const direct = spawnSync('nsenter', ['-t', String(outer.pid), '-n', 'wget', '-q', '-T', '2', '-t', '1', '-O', '-', `http://${address}/`], { encoding: 'utf8' });
      expect([direct.status, direct.stdout]).to.deep.equal([4, '']);
      expect(netnsRun(['nft', 'list', 'chain', 'inet', 'nstools', 'isolate'])).to.match(/iifname != "nsbr-\w+" ct state invalid,new,untracked drop comment "ns-run network /);
      expect(fromOutside(`http://${hostAddress}:${port}/`)).to.equal('hello from the server\n');
    });

    it('the DNAT rules of a SIGKILLed runner are dropped by the next ns-run call; a port a live container publishes is refused', async () => {
      const net = network('dnatkill');
      const name = uniqueName('dnat-killed');
      const port = 24000 + (process.pid % 20000);
      const c = await background(net, name, HTTPD, ['-p', `${port}:80`]);
      expect(fromOutside(`http://${hostAddress}:${port}/`)).to.equal('hello from the server\n');
      const taken = cli(['--network', net, '--rootfs', rootfs, '-p', `${port}:80`, '--', 'true'], { netns });
      expect([taken.status, taken.stderr]).to.deep.equal([125, `ns-run: --publish: listen 0.0.0.0:${port} failed: EADDRINUSE (address already in use)\n`]);
      c.proc.kill('SIGKILL');
      await c.exit;
      expect(publishRulesOf(name)).to.have.length.above(0);
      ok(cli(['network', 'ls'], { netns }));
      expect(publishRulesOf(name)).to.deep.equal([]);
    });

    it('does not from an --internal network (no route out, no masquerade)', () => {
      const net = network('internal', '--internal');
      const r = connect(net);
      expect(r.stdout).to.equal('');
      expect(r.status).to.not.equal(0);
      // Its members still reach each other (the bridge), and its rules hold no masquerade.
      const rules = netnsRun(['nft', 'list', 'table', 'inet', 'nstools']);
      expect(rules).to.include(`comment "ns-run network ${net}"`);
      expect(rules.split('\n').filter((l) => l.includes(`"ns-run network ${net}"`) && l.includes('masquerade'))).to.deep.equal([]);
    });
  });

  describe('network ls, inspect, rm', () => {
    it('lists and inspects a network with its containers, refuses rm while one runs, removes everything after', async () => {
      const net = network('life', '--subnet', '10.242.9.0/24');
      const name = uniqueName('member');
      const c = await background(net, name, 'sleep 600', ['--network-alias', 'member-alias']);
      const listed = ok(cli(['network', 'ls', '--format', 'json'], { netns })).trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
      expect(listed.find((n) => n['Name'] === net)).to.include({ Driver: 'bridge', Internal: 'false', Subnet: '10.242.9.0/24' });
      const [info] = JSON.parse(ok(cli(['network', 'inspect', net], { netns }))) as { IPAM: { Config: { Subnet: string; Gateway: string }[] }; Containers: Record<string, { IPv4Address: string; Aliases: string[] }>; Options: Record<string, string> }[];
      expect(info!.IPAM.Config).to.deep.equal([{ Subnet: '10.242.9.0/24', Gateway: '10.242.9.1' }]);
      expect(info!.Containers[name]).to.deep.equal({ Name: name, IPv4Address: '10.242.9.2/24', IPv6Address: '', Aliases: ['member-alias'] });
      const bridge = info!.Options['com.docker.network.bridge.name']!;
      expect(netns.links()).to.include(bridge);

      const refused = cli(['network', 'rm', net], { netns });
      expect(refused.status).to.equal(1);
      expect(refused.stderr).to.equal(`ns-run network rm: network ${net} is in use by container ${name}; stop it first\n`);

      c.proc.kill('SIGTERM');
      await c.exit;
      expect(leases(net)).to.deep.equal([]);
      expect(ok(cli(['network', 'rm', net], { netns }))).to.equal(`${net}\n`);
      expect(netns.links()).to.not.include(bridge);
      expect(existsSync(join(CONFIG_DIR, `${net}.json`))).to.equal(false);
      expect(existsSync(join(RUN_DIR, net))).to.equal(false);
      expect(netnsRun(['nft', 'list', 'ruleset'])).to.not.include(`ns-run network ${net}"`);
    });

    it('reclaims the lease of a SIGKILLed runner: the next command sees the network free', async () => {
      const net = network('killed');
      const name = uniqueName('victim');
      const c = await background(net, name, 'sleep 600');
      expect(leases(net).map((l) => l.container)).to.deep.equal([name]);
      const hostEnd = (leases(net)[0] as unknown as { hostInterface: string }).hostInterface;
      expect(netns.links().some((l) => l.startsWith(`${hostEnd}@`))).to.equal(true);
      c.proc.kill('SIGKILL');
      await c.exit;
      // The lease file still names it (nobody has looked yet); its owner is gone.
      expect(leases(net).map((l) => l.container)).to.deep.equal([name]);
      const [info] = JSON.parse(ok(cli(['network', 'inspect', net], { netns }))) as { Containers: object }[];
      expect(info!.Containers).to.deep.equal({});
      expect(leases(net)).to.deep.equal([]);
      await until('the killed container\'s veth to go', () => !netns.links().some((l) => l.startsWith(`${hostEnd}@`)));
      expect(ok(cli(['network', 'rm', net], { netns }))).to.equal(`${net}\n`);
    });

    it('refuses bad input with one line and exit 1, making nothing', () => {
      const cases: [string[], RegExp][] = [
        [['network', 'create', '--subnet', '10.242.10.1/24', uniqueName('bad')], /is not the network address of its subnet \(10\.242\.10\.0\/24\)/],
        [['network', 'create', 'host'], /'host' is a --network mode, not a network name/],
        [['network', 'create', 'bad/name'], /'bad\/name' must be 1-63 characters/],
        [['network', 'rm', uniqueName('nosuch')], /network t\d+-nosuch not found/],
        [['network', 'rm', 'bridge'], /^ns-run network rm: bridge is a pre-defined network and cannot be removed$/m],
        [['network', 'inspect', uniqueName('nosuch')], /network t\d+-nosuch not found/],
        [['--network', uniqueName('nosuch'), '--rootfs', rootfs, 'true'], /network t\d+-nosuch not found/],
        [['--network-alias', 'x', '--network', 'none', 'true'], /--network-alias: only on a network/],
      ];
      for (const [args, message] of cases) {
        const r = cli(args, { netns });
        expect(r.stderr.split('\n').filter(Boolean), args.join(' ')).to.have.length(1);
        expect(r.stderr, args.join(' ')).to.match(message);
        expect(r.status, args.join(' ')).to.equal(args[0] === 'network' ? 1 : 125);
      }
      expect(existsSync(join(CONFIG_DIR, `${uniqueName('bad')}.json`))).to.equal(false);
    });
  });
});
