import { expect } from 'chai';
import { Namespace } from 'ns-core';
import { AF, IFF } from '../src/codec';
import { RtnlHandle, bridge, veth } from '../src/verbs';
import { caught, throwaway, type Throwaway } from './helpers';

type IpLink = { ifname: string; ifindex: number; flags: string[]; mtu: number; master?: string; operstate: string };
type IpAddr = { ifname: string; addr_info: { family: string; local: string; prefixlen: number; address?: string; broadcast?: string; scope: string; label?: string }[] };
type IpRoute = { dst: string; gateway?: string; dev: string; metric?: number; scope?: string; protocol?: string };

describe('verbs against the kernel (checked with ip)', () => {
  let t: Throwaway;
  beforeEach(async () => { t = await throwaway(); });
  afterEach(async () => { await t.close(); });

  it('links: add veth and bridge, master, mtu, up, rename, delete', () => {
    const h = t.rtnl;
    h.loopbackUp();
    h.linkAdd(veth({ name: 'va', peer: 'vb', mtu: 1400 }));
    h.linkAdd(bridge({ name: 'br0' }));
    h.linkSetMaster('va', 'br0');
    h.linkSetMtu('vb', 1300);
    h.linkSetUp('va');
    h.linkSetName('vb', 'vc');
    let links = t.ipJson<IpLink[]>('link', 'show');
    const by = (n: string) => links.find((l) => l.ifname === n);
    expect(by('lo')!.flags).to.include('UP');
    expect(by('va')).to.include({ mtu: 1400, master: 'br0' });
    expect(by('va')!.flags).to.include('UP');
    expect(by('vc')).to.include({ mtu: 1300 });
    expect(by('vb')).to.equal(undefined);
    // What we read agrees with what ip reads.
    expect(h.linkList().map((l) => [l.index, l.name, l.mtu, l.kind ?? null]))
      .to.deep.equal(links.map((l) => [l.ifindex, l.ifname, l.mtu, l.ifname === 'lo' ? null : l.ifname === 'br0' ? 'bridge' : 'veth']));
    expect(h.linkByName('va')).to.include({ master: by('br0')!.ifindex, kind: 'veth', link: by('vc')!.ifindex });
    h.linkSetMaster('va', null);
    h.linkSetDown('va');
    expect(h.linkByIndex(by('va')!.ifindex).flags & IFF.UP).to.equal(0);
    expect(t.ipJson<IpLink[]>('link', 'show', 'dev', 'va')[0]!.master).to.equal(undefined);
    h.linkDel('vc');
    links = t.ipJson<IpLink[]>('link', 'show');
    expect(links.map((l) => l.ifname)).to.deep.equal(['lo', 'br0']); // the peer went with it
  });

  it('a veth whose peer is created directly in another namespace, and a link moved by fd', async () => {
    const other = await throwaway();
    try {
      t.rtnl.linkAdd(veth({ name: 'out0', peer: { name: 'in0', netnsFd: other.ns.fd } }));
      expect(other.ipJson<IpLink[]>('link', 'show').map((l) => l.ifname)).to.deep.equal(['lo', 'in0']);
      expect(t.rtnl.linkByName('out0').linkNetnsid).to.be.a('number');
      // (A bridge could not move: the kernel marks it netns-local.)
      t.rtnl.linkAdd(veth({ name: 'mv0', peer: 'mv1' }));
      t.rtnl.linkSetNsFd('mv1', other.ns.fd);
      expect(other.rtnl.linkList().map((l) => l.name)).to.deep.equal(['lo', 'in0', 'mv1']);
      expect(t.rtnl.linkList().map((l) => l.name)).to.deep.equal(['lo', 'out0', 'mv0']);
      const bridgeMove = caught(() => { t.rtnl.linkAdd(bridge({ name: 'br0' })); t.rtnl.linkSetNsFd('br0', other.ns.fd); });
      expect(bridgeMove.code).to.equal('EINVAL');
      expect(bridgeMove.message).to.match(/netns is immutable/);
    } finally {
      await other.close();
    }
  });

  it('addresses: IPv4 and IPv6 add, list, delete', () => {
    const h = t.rtnl;
    h.linkAdd(veth({ name: 'va', peer: 'vb' }));
    h.addrAdd('va', '10.1.2.3/24', { broadcast: true, label: 'va:x' });
    h.addrAdd('va', '10.1.3.3/32', { peer: '10.1.3.4' });
    h.addrAdd('va', '2001:db8::1/64', { noDad: true });
    const ip = t.ipJson<IpAddr[]>('addr', 'show', 'dev', 'va')[0]!.addr_info;
    expect(ip.slice(0, 3)).to.deep.equal([
      { ...ip[0], family: 'inet', local: '10.1.2.3', prefixlen: 24, broadcast: '10.1.2.255', scope: 'global', label: 'va:x' },
      { ...ip[1], family: 'inet', local: '10.1.3.3', address: '10.1.3.4', prefixlen: 32, scope: 'global' },
      { ...ip[2], family: 'inet6', local: '2001:db8::1', prefixlen: 64, scope: 'global' },
    ]);
    const index = h.linkByName('va').index;
    const ours = h.addrList({ link: index });
    expect(ours.every((a) => a.index === index)).to.equal(true);
    expect(ours.map((a) => [a.local, a.prefixlen])).to.deep.include.members([['10.1.2.3', 24], ['10.1.3.3', 32], ['2001:db8::1', 64]]);
    expect(h.addrList({ link: index, family: AF.INET6 }).every((a) => a.family === AF.INET6)).to.equal(true);
    h.addrDel('va', '10.1.2.3/24');
    h.addrDel(index, '2001:db8::1/64');
    const left = t.ipJson<IpAddr[]>('addr', 'show', 'dev', 'va')[0]!.addr_info.map((a) => a.local);
    expect(left).to.include('10.1.3.3').and.not.include('10.1.2.3').and.not.include('2001:db8::1');
    expect(caught(() => h.addrDel('va', '10.1.2.3/24'))).to.include({ code: 'EADDRNOTAVAIL' });
  });

  it('routes: add, replace, default gateway, delete (IPv4 and IPv6)', () => {
    const h = t.rtnl;
    h.linkAdd(veth({ name: 'va', peer: 'vb' }));
    h.linkSetUp('va');
    h.linkSetUp('vb');
    h.addrAdd('va', '10.1.2.3/24');
    h.addrAdd('va', '2001:db8::1/64', { noDad: true });
    h.routeAdd({ dst: 'default', gateway: '10.1.2.1' });
    h.routeAdd({ dst: '10.9.0.0/16', dev: 'va', metric: 5 });
    h.routeReplace({ dst: '10.9.0.0/16', dev: 'va', metric: 5, gateway: '10.1.2.9' });
    h.routeAdd({ dst: 'default', gateway: '2001:db8::5' });
    const ip = t.ipJson<IpRoute[]>('route', 'show');
    expect(ip).to.deep.include({ dst: 'default', gateway: '10.1.2.1', dev: 'va', flags: [] });
    expect(ip).to.deep.include({ dst: '10.9.0.0/16', gateway: '10.1.2.9', dev: 'va', metric: 5, flags: [] });
    expect(ip).to.have.length(3);
    expect(t.ipJson<IpRoute[]>('-6', 'route', 'show').find((r) => r.dst === 'default')).to.include({ gateway: '2001:db8::5' });
    const ours = h.routeList();
    expect(ours.map((r) => [r.dst ?? 'default', r.dstLen, r.gateway ?? null, r.metric ?? null])).to.deep.equal([
      ['default', 0, '10.1.2.1', null], ['10.1.2.0', 24, null, null], ['10.9.0.0', 16, '10.1.2.9', 5]]);
    expect(h.routeList({ family: AF.INET6 }).some((r) => r.gateway === '2001:db8::5')).to.equal(true);
    h.routeDel({ dst: '10.9.0.0/16' });
    h.routeDel({ dst: 'default', family: AF.INET });
    expect(t.ipJson<IpRoute[]>('route', 'show').map((r) => r.dst)).to.deep.equal(['10.1.2.0/24']);
    expect(caught(() => h.routeDel({ dst: '10.9.0.0/16' }))).to.include({ code: 'ESRCH' });
  });

  it('rejects bad CIDRs and interface names before any request is sent', () => {
    // A closed handle fails any request with EBADF: EUSAGE proves nothing was sent.
    const closed = RtnlHandle.at(t.ns);
    closed.close();
    const usage = (fn: () => unknown, pattern: RegExp) => {
      const err = caught(fn);
      expect(err.code, err.message).to.equal('EUSAGE');
      expect(err.message).to.match(pattern);
    };
    usage(() => closed.addrAdd(1, '10.0.0.1/33'), /invalid prefix length/);
    usage(() => closed.addrAdd(1, '10.0.0.256/24'), /not an IPv4 or IPv6 address/);
    usage(() => closed.addrAdd(1, '10.0.0.1/24', { peer: '2001:db8::1' }), /peer: .* is not in the family/);
    usage(() => closed.routeAdd({ dst: 'default', gateway: 'nowhere' }), /gateway: 'nowhere' is not an IPv4 or IPv6 address/);
    usage(() => closed.routeAdd({ dst: '10.0.0.0/8', gateway: '2001:db8::1' }), /gateway: .* is not in the family/);
    usage(() => closed.linkAdd(veth({ name: 'a-name-of-16-byt', peer: 'p' })), /veth name: 'a-name-of-16-byt' is 16 bytes, longer than 15/);
    usage(() => closed.linkAdd(bridge({ name: 'a/b' })), /contains '\/'/);
    usage(() => closed.linkSetUp('has space'), /contains/);
    usage(() => closed.linkSetName(1, '..'), /not a valid interface name/);
    expect(caught(() => closed.linkSetUp(1))).to.include({ code: 'EBADF' });
  });

  it('RtnlHandle.at takes a raw fd without taking it over', () => {
    const ns = Namespace.ofPid(t.child.pid, 'net');
    try {
      RtnlHandle.at(ns.fd).use((h) => expect(h.linkList().map((l) => l.name)).to.deep.equal(['lo']));
      expect(ns.closed).to.equal(false);
      expect(Namespace.ofPid(t.child.pid, 'net').use((again) => again.equals(ns))).to.equal(true);
    } finally {
      ns.close();
    }
  });
});
