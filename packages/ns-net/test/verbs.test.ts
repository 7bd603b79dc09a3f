import { expect } from 'chai';
import { Namespace } from 'ns-core';
import { AF, IFF, RT_SCOPE } from '../src/codec';
import { ipShow } from '../src/show';
import { RtnlHandle, bridge, macvlan, nsidGet, nsidList, nsidSet, veth } from '../src/verbs';
import { caught, throwaway, type Throwaway } from './helpers';

type IpLink = { ifname: string; ifindex: number; flags: string[]; mtu: number; master?: string; operstate: string };
type IpAddr = { ifname: string; addr_info: { family: string; local: string; prefixlen: number; address?: string; broadcast?: string; scope: string; label?: string }[] };
type IpRoute = { dst: string; gateway?: string; dev: string; metric?: number; scope?: string; protocol?: string };

/** A veth pair, up, with 10.1.2.3/24 and 2001:db8::1/64 on va: somewhere for routes to go. */
function routable(h: RtnlHandle): RtnlHandle {
  h.linkAdd(veth({ name: 'va', peer: 'vb' }));
  h.linkSetUp('va');
  h.linkSetUp('vb');
  h.addrAdd('va', '10.1.2.3/24');
  h.addrAdd('va', '2001:db8::1/64', { noDad: true });
  return h;
}

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
    const h = routable(t.rtnl);
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

  it('linkSet: several changes in one request; a move by pid and by namespace name; linkDelete', async () => {
    const other = await throwaway();
    try {
      const h = t.rtnl;
      h.linkAdd(veth({ name: 'va', peer: 'vb' }));
      h.linkAdd(bridge({ name: 'br0' }));
      h.linkSet('va', { up: true, mtu: 1280, master: 'br0', address: '02:00:00:00:11:01', txqlen: 500 });
      const [va] = t.ipJson<(IpLink & { address: string; txqlen: number })[]>('link', 'show', 'dev', 'va');
      expect(va).to.include({ mtu: 1280, master: 'br0', address: '02:00:00:00:11:01', txqlen: 500 });
      expect(va!.flags).to.include('UP');
      h.linkSet('va', { master: null, up: false, name: 'vz' });
      const [vz] = t.ipJson<IpLink[]>('link', 'show', 'dev', 'vz');
      expect(vz!.master).to.equal(undefined);
      expect(vz!.flags).not.to.include('UP');
      h.linkSet('vb', { netns: { pid: other.child.pid } });
      expect(other.ipJson<IpLink[]>('link', 'show').map((l) => l.ifname)).to.deep.equal(['lo', 'vb']);
      expect(caught(() => h.linkSet('vz', { mtu: 0 }))).to.include({ code: 'EUSAGE' });
      expect(caught(() => h.linkSet('nosuch', { up: true }))).to.include({ code: 'ENODEV' });
      expect(caught(() => h.linkSet('vz', { netns: { name: 'nn-no-such-ns' } }))).to.include({ code: 'ENOENT' });
      h.linkDelete('vz');
      expect(other.ipJson<IpLink[]>('link', 'show').map((l) => l.ifname)).to.deep.equal(['lo']);
      expect(caught(() => h.linkDelete('vz'))).to.include({ code: 'ENODEV' });
    } finally {
      await other.close();
    }
  });

  it('bridge() options and macvlan() modes reach the kernel (ip -d -j shows them)', () => {
    const h = t.rtnl;
    h.linkAdd(bridge({ name: 'br0', stpState: 1, forwardDelay: 400, helloTime: 150, ageingTime: 6000 }));
    type Detailed = { ifname: string; linkinfo?: { info_kind: string; info_data?: Record<string, unknown> } };
    const [br] = t.ipJson<Detailed[]>('-d', 'link', 'show', 'dev', 'br0');
    expect(br!.linkinfo!.info_data).to.include({ stp_state: 1, forward_delay: 400, hello_time: 150, ageing_time: 6000 });
    h.linkAdd(veth({ name: 'va', peer: 'vb' }));
    h.linkAdd(macvlan({ name: 'mv0', link: 'va', mode: 'private' }));
    h.linkAdd(macvlan({ name: 'mv1', link: 'va' }));
    const byName = new Map(t.ipJson<(Detailed & { link?: string })[]>('-d', 'link').map((l) => [l.ifname, l]));
    expect(byName.get('mv0')).to.include({ link: 'va' });
    expect(byName.get('mv0')!.linkinfo).to.include({ info_kind: 'macvlan' });
    expect(byName.get('mv0')!.linkinfo!.info_data).to.include({ mode: 'private' });
    expect(byName.get('mv1')!.linkinfo!.info_data).to.include({ mode: 'vepa' }); // the kernel's default
    expect(caught(() => bridge({ name: 'br1', priority: 70000 }))).to.include({ code: 'EUSAGE' });
    expect(caught(() => macvlan({ name: 'mv2', link: 'va', mode: 'nosuch' as 'bridge' }))).to.include({ code: 'EUSAGE' });
    expect(caught(() => h.linkAdd(macvlan({ name: 'mv3', link: 'nosuch' })))).to.include({ code: 'ENODEV' });
  });

  it('addresses: peer, brd + and -, label, scope, metric, noprefixroute, lifetimes; replace; IPv6-only flags ignored for IPv4', () => {
    const h = t.rtnl;
    h.linkAdd(veth({ name: 'va', peer: 'vb' }));
    h.addrAdd('va', '10.1.2.3/24', { broadcast: '+', label: 'va:x', noDad: true });
    h.addrAdd('va', '10.1.3.3/25', { broadcast: '-', scope: RT_SCOPE.LINK, metric: 77 });
    h.addrAdd('va', '2001:db8::7/64', { noDad: true, noPrefixRoute: true });
    h.addrAdd('va', '10.1.4.4/24', { validLft: 3600, preferredLft: 1800 });
    type Info = { local: string; broadcast?: string; label?: string; scope: string; metric?: number; noprefixroute?: boolean; valid_life_time: number; preferred_life_time: number; nodad?: boolean };
    const info = () => new Map(t.ipJson<{ addr_info: Info[] }[]>('addr', 'show', 'dev', 'va')[0]!.addr_info.map((a) => [a.local, a]));
    let by = info();
    expect(by.get('10.1.2.3')).to.include({ broadcast: '10.1.2.255', label: 'va:x', scope: 'global' });
    expect(by.get('10.1.2.3')!.nodad).to.equal(undefined);
    expect(by.get('10.1.3.3')).to.include({ broadcast: '10.1.3.0', scope: 'link', metric: 77 });
    expect(by.get('2001:db8::7')).to.include({ noprefixroute: true, nodad: true });
    expect(by.get('10.1.4.4')!.valid_life_time).to.be.within(3590, 3600);
    h.addrReplace('va', '10.1.4.4/24', { validLft: 'forever', preferredLft: 'forever' });
    by = info();
    expect(by.get('10.1.4.4')!.valid_life_time).to.equal(0xffffffff);
    expect(caught(() => h.addrAdd('va', '10.1.2.3/24'))).to.include({ code: 'EEXIST' });
    expect(caught(() => h.addrAdd('va', '10.1.5.5/24', { validLft: 10, preferredLft: 20 }))).to.include({ code: 'EUSAGE' });
    expect(caught(() => h.addrAdd('va', '2001:db8::8/64', { broadcast: '+' }))).to.include({ code: 'EUSAGE' });
  });

  it('addrFlush: by link, family, scope, label and prefix, until none is left; addrDelete of a peer address', () => {
    const h = t.rtnl;
    h.linkAdd(veth({ name: 'va', peer: 'vb' }));
    for (const c of ['10.1.2.3/24', '10.1.2.4/24', '10.1.3.3/24']) h.addrAdd('va', c);
    h.addrAdd('va', '10.1.4.4/24', { label: 'va:x' });
    h.addrAdd('va', '10.1.5.5/24', { scope: RT_SCOPE.LINK });
    h.addrAdd('va', '10.1.6.6/32', { peer: '10.1.6.7/32' });
    h.addrAdd('va', '2001:db8::1/64', { noDad: true });
    h.addrAdd('vb', '10.2.2.2/24');
    const left = (dev: string) => t.ipJson<{ addr_info: { local: string }[] }[]>('addr', 'show', 'dev', dev)[0]!.addr_info.map((a) => a.local);
    expect(h.addrFlush({ link: 'va', label: 'va:x' })).to.equal(1);
    expect(h.addrFlush({ link: 'va', scope: RT_SCOPE.LINK, family: AF.INET })).to.equal(1);
    expect(h.addrFlush({ to: '10.1.3.0/24' })).to.equal(1);
    h.addrDelete('va', '10.1.6.6/32', { peer: '10.1.6.7/32' });
    expect(left('va')).to.have.members(['10.1.2.3', '10.1.2.4', '2001:db8::1']);
    // Deleting the primary takes the secondary with it here (no promotion): still counted as flushed.
    expect(h.addrFlush({ link: 'va', family: AF.INET })).to.be.within(1, 2);
    expect(left('va')).to.deep.equal(['2001:db8::1']);
    expect(left('vb')).to.deep.equal(['10.2.2.2']);
    expect(h.addrFlush({ link: 'va' })).to.equal(1);
    expect(h.addrFlush({ link: 'va' })).to.equal(0);
  });

  it('routes: tables above 255, types, metric, src, mtu, pref, onlink; IPv6 without a gateway has scope universe; routeGet', () => {
    const h = routable(t.rtnl);
    h.routeAdd({ dst: '10.8.0.0/16', gateway: '10.1.2.1', table: 1000, metric: 7, protocol: 4 });
    h.routeAdd({ dst: '10.6.0.0/16', type: 'blackhole' });
    h.routeAdd({ dst: '10.5.0.0/16', type: 'unreachable', metric: 3 });
    h.routeAdd({ dst: '10.4.0.0/16', gateway: '10.1.2.1', prefsrc: '10.1.2.3', mtu: 1300 });
    h.routeAdd({ dst: '10.3.0.0/16', gateway: '10.200.0.1', dev: 'va', onlink: true });
    h.routeAdd({ dst: '2001:db8:2::/48', dev: 'va', pref: 'high' });
    type R = { dst: string; gateway?: string; type?: string; metric?: number; protocol?: string; prefsrc?: string; scope?: string; flags: string[]; pref?: string; metrics?: { mtu: number }[] };
    const routes = (...args: string[]) => new Map(t.ipJson<R[]>('route', 'show', ...args).map((r) => [r.dst, r]));
    expect(routes('table', '1000').get('10.8.0.0/16')).to.include({ gateway: '10.1.2.1', metric: 7, protocol: 'static' });
    const main = routes();
    expect(main.get('10.6.0.0/16')).to.include({ type: 'blackhole' });
    expect(main.get('10.5.0.0/16')).to.include({ type: 'unreachable', metric: 3 });
    expect(main.get('10.4.0.0/16')).to.deep.include({ prefsrc: '10.1.2.3', metrics: [{ mtu: 1300 }] });
    expect(main.get('10.3.0.0/16')!.flags).to.include('onlink');
    const v6 = new Map(t.ipJson<R[]>('-6', '-d', 'route').map((r) => [r.dst, r]));
    expect(v6.get('2001:db8:2::/48')).to.include({ scope: 'global', pref: 'high' });
    const got = h.routeGet({ to: '10.4.1.1' });
    expect(got).to.include({ gateway: '10.1.2.1', prefsrc: '10.1.2.3', table: 254 });
    expect(got.oif).to.equal(h.linkByName('va').index);
    expect(h.routeGet({ to: '10.1.2.9', from: '10.1.2.3', oif: 'va' })).to.include({ dst: '10.1.2.9', gateway: undefined });
    h.routeDelete({ dst: '10.8.0.0/16', table: 1000 });
    expect(routes('table', 'all').has('10.8.0.0/16')).to.equal(false);
    expect(caught(() => h.routeGet({ to: '2001:db8:9::1' }))).to.include({ code: 'ENETUNREACH' });
  });

  it('routeAdd without a destination is an EUSAGE NsError, not a TypeError (and nothing is sent)', () => {
    const closed = RtnlHandle.at(t.ns);
    closed.close();
    for (const spec of [{}, { dst: '' }, { dst: undefined }, { gateway: '10.0.0.1' }] as never[]) {
      const err = caught(() => closed.routeAdd(spec));
      expect(err.code, JSON.stringify(spec)).to.equal('EUSAGE');
      expect(err.message).to.match(/a destination is required/);
    }
    expect(caught(() => closed.routeGet({} as never))).to.include({ code: 'EUSAGE' });
    expect(caught(() => closed.routeAdd({ dst: '10.0.0.0/8', type: 'bogus' as 'unicast' }))).to.include({ code: 'EUSAGE' });
  });

  it('peer namespace ids: nsidSet with a number and auto, nsidList, nsidGet, nsidOf', async () => {
    const [p1, p2] = [await throwaway(), await throwaway()];
    try {
      nsidSet(t.rtnl.socket, p1.ns.fd, 17);
      nsidSet(t.rtnl.socket, p2.ns.fd, -1);
      const ids = nsidList(t.rtnl.socket).map((e) => e.nsid);
      expect(ids).to.include(17);
      const auto = t.rtnl.nsidOf(p2.ns)!;
      expect(ids).to.include(auto);
      expect(nsidGet(t.rtnl.socket, 17)).to.deep.equal({ nsid: 17 });
      expect(caught(() => nsidGet(t.rtnl.socket, 99))).to.include({ code: 'ENOENT' });
      expect(caught(() => nsidSet(t.rtnl.socket, p1.ns.fd, 18))).to.include({ code: 'EEXIST' });
    } finally {
      await p1.close();
      await p2.close();
    }
  });

  it('ipShow(): the text and JSON ip prints, from a handle', () => {
    t.rtnl.linkAdd(veth({ name: 'va', peer: 'vb', address: '02:00:00:00:22:01' }));
    t.rtnl.addrAdd('va', '10.1.2.3/24');
    for (const [object, o, args] of [
      ['link', {}, ['link']], ['link', { json: true }, ['-j', 'link']], ['addr', { dev: 'va' }, ['addr', 'show', 'dev', 'va']],
      ['addr', { brief: true }, ['-br', 'addr']], ['route', { json: true, pretty: true }, ['-j', '-p', 'route']],
      ['link', { details: true }, ['-d', 'link']],
    ] as const) {
      expect(ipShow(t.rtnl, object, o), args.join(' ')).to.equal(t.ip(...args));
    }
    expect(caught(() => ipShow(t.rtnl, 'link', { dev: 'nosuch' }))).to.include({ code: 'ENODEV' });
  });
});
