import { expect } from 'chai';
import { execFileSync, spawn as spawnProcess, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Namespace, runInside, spawn, sys } from 'ns-core';
import { AF } from '../src/codec';
import { netnsOpen } from '../src/netns';
import { net } from '../src/step';
import { RtnlHandle, bridge, veth } from '../src/verbs';
import { hostHasLink, uniqueName, uniqueSubnet } from './helpers';

const CLI = join(__dirname, '../../bin/ns-net.js');
const RUN_DIR = '/run/netns';

function nsNet(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

function ok(...args: string[]): string {
  const r = nsNet(...args);
  expect(r.status, `ns-net ${args.join(' ')}: ${r.stderr}`).to.equal(0);
  return r.stdout;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

/** Lines a process prints, one at a time. */
function lines(proc: ChildProcess): () => Promise<string> {
  const queue: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => (waiting.length ? waiting.shift()!(l) : queue.push(l)));
  return () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiting.push(resolve)));
}

function exitOf(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (proc.exitCode !== null ? resolve(proc.exitCode) : proc.on('exit', (code) => resolve(code))));
}

/** Everything a TCP connection to host:port sends back after we send `hello`. */
function fetch(host: string, port: number, hello: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, host, () => sock.write(hello));
    let data = '';
    sock.on('data', (d) => { data += d.toString(); });
    sock.on('end', () => resolve(data));
    sock.on('error', reject);
  });
}

function mountedAt(path: string): number {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === path).length;
}

describe('ns-net CLI', () => {
  // /run/netns is shared state: if these tests made it, they take it away again when empty.
  const runDirExisted = existsSync(RUN_DIR);
  const runDirMounted = mountedAt(RUN_DIR) > 0;
  const names: string[] = [];
  const netnsName = (suffix: string) => {
    const n = uniqueName(suffix);
    names.push(n);
    return n;
  };

  after(() => {
    for (const n of names) {
      if (existsSync(`${RUN_DIR}/${n}`)) spawnSync('ip', ['netns', 'delete', n]);
    }
    if (!runDirMounted && existsSync(RUN_DIR) && readdirSync(RUN_DIR).length === 0) {
      while (mountedAt(RUN_DIR) > 0) sys.umount2(RUN_DIR, sys.MNT.DETACH);
      if (!runDirExisted) rmdirSync(RUN_DIR);
    }
  });

  describe('run form', () => {
    it('a TCP server inside ns-net --veth answers a client here', async () => {
      const hostIf = uniqueName('s');
      const s = uniqueSubnet();
      const server = `const s = require('net').createServer((c) => c.on('data', (d) => { c.end('inside got ' + d); s.close(); }));
        s.listen(0, '${s.peer}', () => console.log(String(s.address().port)));`;
      const proc = spawnProcess(process.execPath, [CLI, '--veth', `${hostIf}:eth0`, '--address', `${s.host}/30`, '--peer-address', `${s.peer}/30`,
        '--', process.execPath, '-e', server], { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        const port = Number(await lines(proc)());
        expect(await fetch(s.peer, port, 'ping')).to.equal('inside got ping');
        expect(await exitOf(proc)).to.equal(0);
      } finally {
        proc.kill('SIGKILL');
      }
      expect(hostHasLink(hostIf)).to.equal(false);
    });

    it('a client inside reaches a server here through the host end (--gateway)', async () => {
      const hostIf = uniqueName('c');
      const s = uniqueSubnet();
      const client = `console.log('ready');
        process.stdin.once('data', (port) => {
          const c = require('net').connect(Number(port), '${s.host}', () => c.write('from inside'));
          c.on('data', (d) => { console.log(String(d)); process.exit(0); });
        });`;
      const proc = spawnProcess(process.execPath, [CLI, '--veth', `${hostIf}:eth0`, '--address', `${s.host}/30`, '--peer-address', `${s.peer}/30`,
        '--gateway', '--', process.execPath, '-e', client], { stdio: ['pipe', 'pipe', 'inherit'] });
      let server: Server | undefined;
      try {
        const next = lines(proc);
        expect(await next()).to.equal('ready');
        // Only now does the host end, and so the address to listen on, exist.
        server = createServer((c) => c.on('data', (d) => c.end(`host got ${String(d)}`)));
        await new Promise<void>((resolve) => server!.listen(0, s.host, resolve));
        proc.stdin!.write(`${(server.address() as { port: number }).port}\n`);
        expect(await next()).to.equal('host got from inside');
        expect(await exitOf(proc)).to.equal(0);
      } finally {
        server?.close();
        proc.kill('SIGKILL');
      }
      expect(hostHasLink(hostIf)).to.equal(false);
    });

    it('lo is up unless --no-loopback; the exit status passes through', () => {
      expect(ok('--', 'ip', '-j', 'link', 'show', 'lo')).to.match(/"flags":\["LOOPBACK","UP","LOWER_UP"\]/);
      expect(ok('--no-loopback', 'ip', '-j', 'link', 'show', 'lo')).to.match(/"flags":\["LOOPBACK"\]/);
      expect(nsNet('sh', '-c', 'exit 7').status).to.equal(7);
      expect(nsNet('/no/such/program').status).to.equal(127);
    });

    it('bad input: exit 1, one line naming the option, nothing created', () => {
      const hostIf = uniqueName('b');
      const cases: [string[], RegExp][] = [
        [['--veth', `${hostIf}:eth0`, '--address', '10.200.0.1/33', '--peer-address', '10.200.0.2/30', 'true'], /^ns-net: --address: .*invalid prefix length/],
        [['--veth', `${hostIf}:eth0`, '--address', '10.200.0.1/30', '--peer-address', 'nonsense', 'true'], /^ns-net: --peer-address: 'nonsense' is not/],
        [['--veth', `${hostIf}:an-interface-name`, '--address', '10.200.0.1/30', '--peer-address', '10.200.0.2/30', 'true'], /^ns-net: --veth: 'an-interface-name' is 17 bytes, longer than 15/],
        [['--veth', hostIf, '--address', '10.200.0.1/30', '--peer-address', '10.200.0.2/30', 'true'], /^ns-net: --veth: '.*' is not HOST_IF:NS_IF/],
        [['--address', '10.200.0.1/30', 'true'], /^ns-net: --address needs --veth/],
        [['--veth', `${hostIf}:eth0`, 'true'], /^ns-net: --veth needs --address/],
      ];
      for (const [args, pattern] of cases) {
        const r = nsNet(...args);
        expect(r.status, args.join(' ')).to.equal(1);
        expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1);
        expect(r.stderr).to.match(pattern);
      }
      expect(hostHasLink(hostIf)).to.equal(false);
    });

    it('a host interface name that is taken: exit 1 naming --veth, the existing link untouched', () => {
      const taken = uniqueName('k');
      RtnlHandle.current().use((h) => h.linkAdd(veth({ name: taken, peer: uniqueName('l') })));
      try {
        const r = nsNet('--veth', `${taken}:eth0`, '--address', '10.200.0.1/30', '--peer-address', '10.200.0.2/30', 'true');
        expect(r.status).to.equal(1);
        expect(r.stderr).to.match(/^ns-net: --veth: ip link add nn\d+k type veth failed: EEXIST/);
        expect(hostHasLink(taken)).to.equal(true);
      } finally {
        RtnlHandle.current().use((h) => h.linkDel(taken));
      }
    });
  });

  describe('netns: the same /run/netns as ip netns', () => {
    it('ns-net netns add shows in ip netns list, ip netns add in ns-net netns list; ids as ip prints them', () => {
      const ours = netnsName('a');
      const theirs = netnsName('b');
      ok('netns', 'add', ours);
      ip('netns', 'add', theirs);
      expect(ip('netns', 'list').split('\n')).to.include(ours);
      expect(ok('netns', 'list').split('\n')).to.include(theirs);
      // An nsid, once assigned, shows as "(id: N)" in both.
      ip('netns', 'set', ours, 'auto');
      const mine = (out: string) => out.split('\n').filter((l) => l.startsWith(ours) || l.startsWith(theirs)).sort();
      expect(mine(ok('netns', 'list'))).to.deep.equal(mine(ip('netns', 'list')));
      expect(mine(ok('netns', 'list'))).to.include.members([theirs]).and.satisfy((l: string[]) => l.some((x) => /^nn\d+a \(id: \d+\)$/.test(x)));
      const json = (out: string) => (JSON.parse(out) as { name: string }[]).filter((n) => n.name === ours || n.name === theirs);
      expect(json(ok('netns', 'list', '--json'))).to.have.deep.members(json(ip('-j', 'netns', 'list')));
      // ip works on ours and we on theirs; a delete by either tool unmounts and removes.
      expect(ip('-n', ours, '-j', 'link', 'show')).to.match(/"ifname":"lo"/);
      ok('netns', 'delete', theirs);
      ip('netns', 'delete', ours);
      expect(ok('netns', 'list').split('\n')).not.to.include.members([ours, theirs]);
      expect(mountedAt(`${RUN_DIR}/${ours}`) + mountedAt(`${RUN_DIR}/${theirs}`)).to.equal(0);
      expect(existsSync(`${RUN_DIR}/${ours}`) || existsSync(`${RUN_DIR}/${theirs}`)).to.equal(false);
    });

    it('/run/netns is a shared mount point, as ip makes it', () => {
      ok('netns', 'add', netnsName('m'));
      const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === RUN_DIR)!;
      expect(line).to.match(/ shared:\d+/);
    });

    it('attach, identify, pids: as ip reports them', async () => {
      const name = netnsName('p');
      const child = await spawn(['sleep', '60'], { steps: [net()] });
      try {
        ok('netns', 'attach', name, String(child.pid));
        expect(ok('netns', 'identify', String(child.pid))).to.equal(ip('netns', 'identify', String(child.pid)));
        expect(ok('netns', 'identify', String(child.pid)).trim().split('\n')).to.include(name);
        expect(ok('netns', 'pids', name)).to.equal(ip('netns', 'pids', name));
        expect(ok('netns', 'pids', name).trim().split('\n')).to.include(String(child.pid));
        expect(ok('netns', 'identify').split('\n')).not.to.include(name); // we are elsewhere
      } finally {
        child.kill('SIGKILL');
        await child.exited;
      }
      ok('netns', 'delete', name);
    });

    it('exec: the named namespace, a fresh /sys, and /etc/netns/NAME bound over /etc, as ip netns exec', () => {
      const name = netnsName('e');
      ok('netns', 'add', name);
      const etc = `/etc/netns/${name}`;
      const etcRootExisted = existsSync('/etc/netns');
      mkdirSync(etc, { recursive: true });
      try {
        writeFileSync(`${etc}/hostname`, `inside-${name}\n`);
        const script = 'ls /sys/class/net; cat /etc/hostname; readlink /proc/self/ns/net';
        const ours = ok('netns', 'exec', name, 'sh', '-c', script);
        expect(ours).to.equal(ip('netns', 'exec', name, 'sh', '-c', script));
        expect(ours.split('\n').slice(0, 2)).to.deep.equal(['lo', `inside-${name}`]);
        expect(readFileSync('/etc/hostname', 'utf8')).not.to.equal(`inside-${name}\n`); // nothing leaked out
        expect(nsNet('netns', 'exec', name, 'sh', '-c', 'exit 3').status).to.equal(3);
      } finally {
        rmSync(etc, { recursive: true });
        if (!etcRootExisted) rmSync('/etc/netns', { recursive: true });
      }
    });

    it('failures report and leave nothing: taken name, bad names, gone process, missing netns', () => {
      const name = netnsName('f');
      ok('netns', 'add', name);
      const taken = nsNet('netns', 'add', name);
      expect(taken.status).to.equal(1);
      expect(taken.stderr).to.match(new RegExp(`^ns-net: open /run/netns/${name} failed: EEXIST`));
      expect(mountedAt(`${RUN_DIR}/${name}`)).to.equal(1);
      expect(ip('-n', name, 'link', 'show')).to.match(/lo:/); // the first is intact
      for (const bad of ['..', 'a/b', 'x'.repeat(256), '']) {
        const r = nsNet('netns', 'add', bad);
        expect(r.status, bad).to.equal(1);
        expect(r.stderr).to.match(/^ns-net: invalid netns name/);
      }
      const gone = netnsName('g');
      const attach = nsNet('netns', 'attach', gone, '999999999');
      expect(attach.status).to.equal(1);
      expect(attach.stderr).to.match(/^ns-net: mount \/proc\/999999999\/ns\/net -> \/run\/netns\/nn\d+g failed: ENOENT/);
      expect(existsSync(`${RUN_DIR}/${gone}`)).to.equal(false);
      for (const args of [['netns', 'delete', gone], ['netns', 'exec', gone, 'true'], ['-n', gone, 'link'], ['netns', 'pids', gone]]) {
        const r = nsNet(...args);
        expect(r.status, args.join(' ')).to.equal(1);
        expect(r.stderr).to.match(new RegExp(`/run/netns/${gone}.*ENOENT`));
      }
      ok('netns', 'delete', name);
    });

    it('a stale name (a file with no namespace on it) is listed without an id and can be deleted', () => {
      const stale = netnsName('z');
      ok('netns', 'add', netnsName('y')); // makes sure /run/netns exists
      writeFileSync(`${RUN_DIR}/${stale}`, '');
      expect(ok('netns', 'list').split('\n')).to.include(stale);
      ok('netns', 'delete', stale);
      expect(existsSync(`${RUN_DIR}/${stale}`)).to.equal(false);
    });
  });

  describe('link, addr, route: the same as ip -j on the same namespace', () => {
    const name = uniqueName('s');
    before(async () => {
      names.push(name);
      ok('netns', 'add', name);
      const other = netnsName('o');
      ok('netns', 'add', other);
      const ns = netnsOpen(name);
      const otherNs = netnsOpen(other);
      try {
        // Without DAD no address is "tentative" for a moment, so both tools see the same.
        runInside([ns], () => {
          writeFileSync('/proc/sys/net/ipv6/conf/all/accept_dad', '0');
          writeFileSync('/proc/sys/net/ipv6/conf/default/accept_dad', '0');
        });
        RtnlHandle.at(ns).use((h) => {
          h.loopbackUp();
          h.linkAdd(veth({ name: 'va', peer: 'vb' }));
          h.linkAdd(veth({ name: 'vx', peer: { name: 'vy', netnsFd: otherNs.fd } }));
          h.linkAdd(bridge({ name: 'br0' }));
          h.linkSetMaster('vb', 'br0');
          h.linkSetMtu('va', 1400);
          for (const l of ['va', 'vb', 'vx', 'br0']) h.linkSetUp(l);
          h.addrAdd('va', '10.1.2.3/24', { broadcast: true, label: 'va:x' });
          h.addrAdd('va', '10.1.3.3/32', { peer: '10.1.3.4' });
          h.addrAdd('va', '2001:db8::1/64', { noDad: true });
          h.routeAdd({ dst: 'default', gateway: '10.1.2.1' });
          h.routeAdd({ dst: '10.9.0.0/16', dev: 'va', metric: 5 });
          h.routeAdd({ dst: 'default', gateway: '2001:db8::5' });
        });
        RtnlHandle.at(otherNs).use((h) => h.linkSetUp('vy'));
        // Carrier and operstate follow a moment later (the kernel's linkwatch work): wait until
        // the links have settled so that both tools read the same state.
        for (let tries = 0; ; tries++) {
          const states = JSON.parse(ip('-n', name, '-j', 'link', 'show')) as { ifname: string; operstate: string }[];
          if (states.filter((l) => l.ifname !== 'lo').every((l) => l.operstate === 'UP')) break;
          if (tries === 100) throw new Error(`links did not come up: ${JSON.stringify(states)}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      } finally {
        ns.close();
        otherNs.close();
      }
    });

    for (const args of [['link'], ['addr'], ['route'], ['-6', 'route'], ['-4', 'addr'], ['-6', 'addr'], ['addr', 'show', 'dev', 'va'], ['link', 'show', 'br0'], ['route', 'show', 'dev', 'va']]) {
      it(`${args.join(' ')}: JSON and text`, () => {
        expect(JSON.parse(ok('-n', name, '-j', ...args))).to.deep.equal(JSON.parse(ip('-n', name, '-j', ...args)));
        expect(ok('-n', name, ...args)).to.equal(ip('-n', name, ...args));
      });
    }

    it('options after the object work too; an unknown device is ENODEV', () => {
      expect(ok('link', 'show', '--netns', name, '--json')).to.equal(ok('-n', name, '-j', 'link'));
      const r = nsNet('-n', name, 'link', 'show', 'nosuchdev');
      expect(r.status).to.equal(1);
      expect(r.stderr).to.match(/^ns-net: ip link show dev nosuchdev failed: ENODEV/);
    });

    it('the library reads the same namespace the same way (routeList of all families)', () => {
      const all = netnsOpen(name).use((ns) => RtnlHandle.at(ns).use((h) => h.routeList({ family: AF.UNSPEC })));
      expect(all.filter((r) => r.dst === undefined).map((r) => r.gateway).sort()).to.deep.equal(['10.1.2.1', '2001:db8::5']);
      expect(Namespace.open(`${RUN_DIR}/${name}`, 'net').use((ns) => ns.kind)).to.equal('net');
    });
  });
});
