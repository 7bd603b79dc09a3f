import { expect } from 'chai';
import { stopChild } from 'ns-test-kit';
import { execFileSync } from 'node:child_process';
import { compileSpawn, Namespace, spawn, type NsError } from 'ns-core';
import { net } from '../src/step';
import { RtnlHandle, veth } from '../src/verbs';
import { hostHasLink, uniqueName, uniqueSubnet } from './helpers';

type IpAddr = { ifname: string; flags: string[]; link_netnsid?: number; addr_info: { family: string; local: string; prefixlen: number }[] };

/** `ip -j ARGS` inside a process's network namespace. */
function ipIn<T>(pid: number, ...args: string[]): T {
  return JSON.parse(execFileSync('nsenter', ['-t', String(pid), '-n', 'ip', '-j', ...args], { encoding: 'utf8' })) as T;
}

function hostAddresses(): string[] {
  return (JSON.parse(execFileSync('ip', ['-j', 'addr', 'show'], { encoding: 'utf8' })) as IpAddr[])
    .flatMap((l) => l.addr_info.map((a) => a.local));
}

describe('net() step', () => {
  describe('plan (no privileges)', () => {
    it('asks for a new net namespace and one parent action while the child waits', () => {
      const step = net({ veth: { hostIf: 'h0', nsIf: 'eth0', address: '10.200.0.1/30', peerAddress: '10.200.0.2/30', gateway: true } });
      expect(step.create).to.deep.equal(['net']);
      expect(step.parent).to.have.length(1);
      expect(step.parent![0]).to.include({ action: 'call', step: '--veth' });
      expect(step.cleanup).to.be.a('function');
      const { plan, hasSync } = compileSpawn(['true'], { steps: [step] }, new Map());
      expect(plan.cloneKinds).to.deep.equal(['net']);
      expect(hasSync).to.equal(true);
    });

    it('needs no parent action without loopback or veth, and no cleanup without veth', () => {
      expect(net({ loopback: false }).parent).to.equal(undefined);
      expect(net().parent).to.equal(undefined);
      expect(net().child![0]).to.include({ op: 'link-up', name: 'lo', step: 'loopback' });
      expect(net().cleanup).to.equal(undefined);
    });

    it('rejects bad names and addresses before anything exists', () => {
      const v = { hostIf: 'h0', nsIf: 'eth0', address: '10.200.0.1/30', peerAddress: '10.200.0.2/30' };
      const usage = (o: Parameters<typeof net>[0], pattern: RegExp) =>
        expect(() => net(o)).to.throw(pattern).with.property('code', 'EUSAGE');
      usage({ veth: { ...v, hostIf: 'x'.repeat(16) } }, /--veth: 'x+' is 16 bytes, longer than 15/);
      usage({ veth: { ...v, nsIf: 'a:b' } }, /--veth: 'a:b' contains/);
      usage({ veth: { ...v, address: '10.200.0.1/33' } }, /--address: .* invalid prefix length/);
      usage({ veth: { ...v, peerAddress: '10.200.0.300/30' } }, /--peer-address: .* not an IPv4 or IPv6 address/);
      usage({ veth: { ...v, peerAddress: 'fd00::2/64' } }, /--peer-address: fd00::2\/64 is not in the family of --address/);
    });
  });

  describe('against the kernel', () => {
    it('gives the program its own namespace with lo up', async () => {
      const child = await spawn(['sleep', '60'], { steps: [net()] });
      try {
        expect(child.namespaces.net).to.be.a('number').and.not.equal(Namespace.ofPid('self', 'net').use((n) => n.id));
        const links = ipIn<{ ifname: string; flags: string[] }[]>(child.pid, 'link', 'show');
        expect(links.map((l) => l.ifname)).to.deep.equal(['lo']);
        expect(links[0]!.flags).to.include('UP');
      } finally {
        await stopChild(child);
      }
    });

    it('links the namespace to this one with a veth, addresses, and a default route; removes it at exit', async () => {
      const hostIf = uniqueName('h');
      const s = uniqueSubnet();
      const child = await spawn(['sleep', '60'], { steps: [net({ veth: {
        hostIf, nsIf: 'eth0', address: `${s.host}/30`, peerAddress: `${s.peer}/30`, gateway: true } })] });
      try {
        const inside = ipIn<IpAddr[]>(child.pid, 'addr', 'show', 'dev', 'eth0')[0]!;
        expect(inside.flags).to.include('UP');
        expect(inside.addr_info.filter((a) => a.family === 'inet')).to.deep.equal([{ ...inside.addr_info[0], local: s.peer, prefixlen: 30 }]);
        expect(ipIn<{ dst: string; gateway?: string }[]>(child.pid, 'route', 'show')).to.deep.include({ dst: 'default', gateway: s.host, dev: 'eth0', flags: [] });
        const host = (JSON.parse(execFileSync('ip', ['-j', 'addr', 'show', 'dev', hostIf], { encoding: 'utf8' })) as IpAddr[])[0]!;
        expect(host.flags).to.include('UP');
        expect(host.link_netnsid).to.be.a('number'); // the peer lives in another namespace
        expect(host.addr_info.map((a) => a.local)).to.include(s.host);
      } finally {
        await stopChild(child);
      }
      expect(hostHasLink(hostIf)).to.equal(false);
      expect(hostAddresses()).not.to.include(s.host);
    });

    it('a host name already taken: fails at --veth, leaves the existing link alone and makes nothing', async () => {
      const taken = uniqueName('t');
      RtnlHandle.current().use((h) => h.linkAdd(veth({ name: taken, peer: uniqueName('u') })));
      try {
        const s = uniqueSubnet();
        const err = await spawn(['sleep', '60'], { steps: [net({ veth: { hostIf: taken, nsIf: 'eth0', address: `${s.host}/30`, peerAddress: `${s.peer}/30` } })] })
          .then(() => { throw new Error('spawn should have failed'); }, (e: NsError) => e);
        expect(err).to.include({ code: 'EEXIST', step: '--veth' });
        expect(err.message).to.match(/^--veth: ip link add nn\d+t type veth failed: EEXIST/);
        expect(hostHasLink(taken)).to.equal(true);
        expect(hostAddresses()).not.to.include(s.host);
      } finally {
        RtnlHandle.current().use((h) => h.linkDel(taken));
      }
    });

    it('a failure after the pair exists (unreachable gateway) reports the step and removes the pair', async () => {
      const hostIf = uniqueName('g');
      const s = uniqueSubnet();
      // /32 on both ends: the gateway is not on any prefix inside, so the route is refused.
      const err = await spawn(['sleep', '60'], { steps: [net({ veth: {
        hostIf, nsIf: 'eth0', address: `${s.host}/32`, peerAddress: `${s.peer}/32`, gateway: true } })] })
        .then(() => { throw new Error('spawn should have failed'); }, (e: NsError) => e);
      expect(err).to.include({ code: 'ENETUNREACH', step: '--gateway' });
      expect(err.message).to.match(/^--gateway: ip route add default via .* failed: ENETUNREACH .*: Nexthop has invalid gateway/);
      expect(hostHasLink(hostIf)).to.equal(false);
      expect(hostAddresses()).not.to.include(s.host);
    });

    it('a spawn that fails after the setup (no such program) removes the pair too', async () => {
      const hostIf = uniqueName('x');
      const s = uniqueSubnet();
      const err = await spawn(['/no/such/program'], { steps: [net({ veth: {
        hostIf, nsIf: 'eth0', address: `${s.host}/30`, peerAddress: `${s.peer}/30` } })] })
        .then(() => { throw new Error('spawn should have failed'); }, (e: NsError) => e);
      expect(err).to.include({ code: 'ENOENT', syscall: 'execve' });
      expect(hostHasLink(hostIf)).to.equal(false);
    });

    it('IPv6 pairs are usable at once (no DAD wait)', async () => {
      const hostIf = uniqueName('6');
      const child = await spawn(['sleep', '60'], { steps: [net({ veth: {
        hostIf, nsIf: 'eth0', address: `fd00:${process.pid.toString(16)}::1/64`, peerAddress: `fd00:${process.pid.toString(16)}::2/64`, gateway: true } })] });
      try {
        const inside = ipIn<{ addr_info: Record<string, unknown>[] }[]>(child.pid, '-6', 'addr', 'show', 'dev', 'eth0')[0]!;
        const global = inside.addr_info.find((a) => a['scope'] === 'global')!;
        expect(global).to.include({ local: `fd00:${process.pid.toString(16)}::2`, nodad: true });
        expect(global['tentative']).to.equal(undefined);
        expect(ipIn<{ dst: string; gateway?: string }[]>(child.pid, '-6', 'route', 'show').find((r) => r.dst === 'default'))
          .to.include({ gateway: `fd00:${process.pid.toString(16)}::1` });
      } finally {
        await stopChild(child);
      }
      expect(hostHasLink(hostIf)).to.equal(false);
    });
  });
});
