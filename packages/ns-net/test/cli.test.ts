import { expect } from 'chai';
import { execFileSync, spawn as spawnProcess, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { spawn, sys } from 'ns-core';
import { net } from '../src/step';
import { RtnlHandle, veth } from '../src/verbs';
import { hostHasLink, uniqueName, uniqueSubnet } from './helpers';
import { childrenOf, commOf as comm, waitFor } from 'ns-test-kit';

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
      // No process waits to delete it: the namespace's teardown (a kernel work queue) takes the pair.
      await waitFor('the pair to go with the namespace', () => !hostHasLink(hostIf));
    });

    it('in place: the program keeps the launcher\'s pid (no Node waits) in the namespace made for it, the pair going with it', async () => {
      const hostIf = uniqueName('p');
      const s = uniqueSubnet();
      const proc = spawnProcess(process.execPath, [CLI, '--veth', `${hostIf}:eth0`, '--address', `${s.host}/30`, '--peer-address', `${s.peer}/30`,
        '--gateway', '--', 'sleep', '20'], { stdio: 'ignore' });
      try {
        await waitFor('the program', () => comm(proc.pid!) === 'sleep');
        expect(childrenOf(proc.pid!), 'nothing else').to.deep.equal([]);
        const inside = (...args: string[]) => execFileSync('nsenter', ['-t', String(proc.pid), '-n', 'ip', '-j', ...args], { encoding: 'utf8' });
        const eth0 = (JSON.parse(inside('addr', 'show', 'eth0')) as { operstate: string; addr_info: { family: string; local: string }[] }[])[0]!;
        expect(eth0.addr_info.filter((a) => a.family === 'inet').map((a) => a.local)).to.deep.equal([s.peer]);
        expect((JSON.parse(inside('route', 'show', 'default')) as { gateway: string }[])[0]!.gateway).to.equal(s.host);
        expect(JSON.parse(inside('link', 'show', 'lo'))[0].flags).to.include('UP');
        expect(hostHasLink(hostIf)).to.equal(true);
      } finally {
        proc.kill('SIGKILL');
      }
      await exitOf(proc);
      await waitFor('the pair to go with the namespace', () => !hostHasLink(hostIf));
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
      await waitFor('the pair to go with the namespace', () => !hostHasLink(hostIf));
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

  describe('ip grammar or run form: decided by the first word after the options', () => {
    it('an object ns-net speaks, by ip\'s prefixes, is ip\'s grammar; after -- it is a program', () => {
      expect(ok('l', 'sh', 'lo')).to.equal(ip('l', 'sh', 'lo'));
      expect(ok('-j', 'li', 'show', 'lo')).to.equal(ip('-j', 'li', 'show', 'lo'));
      // (coreutils has a program named link: "netns" is one no PATH has.)
      const prog = nsNet('--', 'netns', 'list');
      expect(prog.status).to.equal(127);
      expect(prog.stderr).to.match(/^ns-net: failed to execute netns: ENOENT/);
      const linkProgram = nsNet('--', 'link');
      expect([linkProgram.status, linkProgram.stderr]).to.deep.equal([1, "link: missing operand\nTry 'link --help' for more information.\n"]);
    });

    it('a program whose name only begins like an object runs as the program (tc is not tcpmetrics)', () => {
      const r = nsNet('tc', '-V');
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^tc utility/);
      // And it ran in a new namespace: its lo is the only link.
      expect(JSON.parse(ok('ip', '-j', 'link')).map((l: { ifname: string }) => l.ifname)).to.deep.equal(['lo']);
    });

    it('an ip object ns-net does not speak, written in full, is refused by name', () => {
      const r = nsNet('neighbor', 'show');
      expect([r.status, r.stdout, r.stderr]).to.deep.equal([1, '', 'ns-net: "ip neighbor" is not supported\n']);
    });

    it('the run form\'s own options keep it the run form, whatever follows', () => {
      const r = nsNet('--no-loopback', 'ip', '-j', 'link', 'show', 'lo');
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/"flags":\["LOOPBACK"\]/);
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
      expect(json(ok('-j', 'netns', 'list'))).to.have.deep.members(json(ip('-j', 'netns', 'list')));
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
      expect(taken.stderr).to.equal(`Cannot create namespace file "/run/netns/${name}": File exists\n`);
      expect(mountedAt(`${RUN_DIR}/${name}`)).to.equal(1);
      expect(ip('-n', name, 'link', 'show')).to.match(/lo:/); // the first is intact
      for (const bad of ['..', 'a/b', 'x'.repeat(256), '']) {
        const r = nsNet('netns', 'add', bad);
        expect(r.status, bad).to.equal(255);
        expect(r.stderr).to.equal(`Invalid netns name "${bad}"\n`);
      }
      const gone = netnsName('g');
      const attach = nsNet('netns', 'attach', gone, '999999999');
      expect(attach.status).to.equal(1);
      expect(attach.stderr).to.equal(`Bind /proc/999999999/ns/net -> /run/netns/${gone} failed: No such file or directory\n`);
      expect(existsSync(`${RUN_DIR}/${gone}`)).to.equal(false);
      const expected: [string[], number, string][] = [
        [['netns', 'delete', gone], 1, `Cannot remove namespace file "/run/netns/${gone}": No such file or directory\n`],
        [['netns', 'exec', gone, 'true'], 255, `Cannot open network namespace "${gone}": No such file or directory\n`],
        [['-n', gone, 'link'], 255, `Cannot open network namespace "${gone}": No such file or directory\n`],
        [['netns', 'pids', gone], 1, 'Cannot open network namespace: No such file or directory\n'],
      ];
      for (const [args, status, stderr] of expected) {
        const r = nsNet(...args);
        expect([r.status, r.stderr], args.join(' ')).to.deep.equal([status, stderr]);
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
});
