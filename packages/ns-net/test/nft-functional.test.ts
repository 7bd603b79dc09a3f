/**
 * Traffic through the engine's rules, all inside private network namespaces made here:
 *
 *   client netns              "host" netns (the engine's table, forwarding on)        server netns
 *   eth0 10.201.1.2/24  ---  hc0 10.201.1.1/24         hs0 10.202.1.1/24  ---  eth0 10.202.1.2/24
 *        fd00:201::2/64           fd00:201::1/64           fd00:202::1/64             fd00:202::2/64
 *
 * Both ends route everything through the host, so without NAT the server answers the client
 * directly and sees its address: the difference the rules make is visible in what the
 * server reports as the peer of each connection.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { IFF } from '../src/codec';
import {
  NftEngine, forwardingEnable, networkRules, publishRules, publishSysctls, sysctlApply, sysctlPath, sysctlRead, sysctlRestore,
  sysctlWrite, type PublishSpec,
} from '../src/nft';
import { veth } from '../src/verbs';
import { caught, throwaway, type Throwaway } from './helpers';
import { connectFrom, nftThrowaway, peerEchoServer, stop, type NftThrowaway } from './nft-helpers';

const PORT = 8000;

interface Topology {
  readonly host: NftThrowaway;
  readonly client: Throwaway;
  readonly server: Throwaway;
  readonly engine: NftEngine;
}

async function topology(): Promise<Topology> {
  const host = await nftThrowaway();
  const client = await throwaway();
  const server = await throwaway();
  host.rtnl.linkAdd(veth({ name: 'hc0', peer: { name: 'eth0', netnsFd: client.ns.fd } }));
  host.rtnl.linkAdd(veth({ name: 'hs0', peer: { name: 'eth0', netnsFd: server.ns.fd } }));
  const side = (t: Throwaway, dev: string, v4: string, v6: string, gw?: [string, string]) => {
    t.rtnl.loopbackUp();
    t.rtnl.addrAdd(dev, v4);
    t.rtnl.addrAdd(dev, v6, { noDad: true });
    t.rtnl.linkSetUp(dev);
    if (gw) {
      t.rtnl.routeAdd({ dst: 'default', gateway: gw[0] });
      t.rtnl.routeAdd({ dst: 'default', gateway: gw[1] });
    }
  };
  side(host, 'hc0', '10.201.1.1/24', 'fd00:201::1/64');
  side(host, 'hs0', '10.202.1.1/24', 'fd00:202::1/64');
  side(client, 'eth0', '10.201.1.2/24', 'fd00:201::2/64', ['10.201.1.1', 'fd00:201::1']);
  side(server, 'eth0', '10.202.1.2/24', 'fd00:202::2/64', ['10.202.1.1', 'fd00:202::1']);
  expect(host.rtnl.linkByName('hc0').flags & IFF.UP).to.equal(IFF.UP);
  return { host, client, server, engine: new NftEngine(host.nft, { table: `nn${process.pid}` }) };
}

describe('nft engine: traffic between network namespaces', function () {
  this.timeout(60000);
  let topo: Topology;
  let servers: ChildProcess[];
  beforeEach(async () => {
    topo = await topology();
    servers = [];
  });
  afterEach(async () => {
    for (const s of servers) await stop(s);
    await topo.host.close();
    await topo.client.close();
    await topo.server.close();
  });
  const serve = async (t: Throwaway, port = PORT) => { servers.push(await peerEchoServer(t, port)); };

  it('forwardingEnable turns on routing in the namespace given and reports what it changed', () => {
    const { host } = topo;
    // A new namespace copies init_net's ip_forward (devconf_inherit_init_net 0): start from off
    // whatever the machine's own setting is (a container runner on it turns it on).
    sysctlWrite('net.ipv4.ip_forward', '0', host.ns);
    sysctlWrite('net.ipv6.conf.all.forwarding', '0', host.ns);
    expect(sysctlRead('net.ipv4.ip_forward', host.ns)).to.equal('0');
    const changes = forwardingEnable({ ipv6: true, netns: host.ns });
    expect(changes.map((c) => [c.key, c.before, c.after, c.changed])).to.deep.equal([
      ['net.ipv4.ip_forward', '0', '1', true], ['net.ipv6.conf.all.forwarding', '0', '1', true],
    ]);
    expect(host.nftCli('list', 'ruleset')).to.equal('');
    expect(forwardingEnable({ ipv6: true, netns: host.ns }).map((c) => c.changed)).to.deep.equal([false, false]);
    sysctlRestore(changes, host.ns);
    expect([sysctlRead('net.ipv4.ip_forward', host.ns), sysctlRead('net.ipv6.conf.all.forwarding', host.ns)]).to.deep.equal(['0', '0']);
    // Per-interface keys, the sysctl(8) way for names with dots; bad keys say what was wrong.
    expect(sysctlPath('net.ipv4.conf.eth0/100.route_localnet')).to.equal('/proc/sys/net/ipv4/conf/eth0.100/route_localnet');
    expect(sysctlRead('net.ipv4.conf.hc0.forwarding', host.ns)).to.equal('0');
    expect(caught(() => sysctlRead('net.ipv4.conf.nosuchif.forwarding', host.ns))).to.include({ code: 'ENOENT', path: '/proc/sys/net/ipv4/conf/nosuchif/forwarding' });
    expect(caught(() => sysctlWrite('net..ip_forward', '1', host.ns)).code).to.equal('EUSAGE');
  });

  it("masquerade: the client reaches a server routed through the host, which sees the host's address (IPv4 and IPv6)", async () => {
    const { host, client, server, engine } = topo;
    forwardingEnable({ ipv6: true, netns: host.ns });
    await serve(server);
    expect(connectFrom(client, '10.202.1.2', PORT)).to.equal('10.201.1.2');
    expect(connectFrom(client, 'fd00:202::2', PORT)).to.equal('fd00:201::2');

    engine.apply('net-c', networkRules({ ifname: 'hc0', subnets: ['10.201.1.0/24', 'fd00:201::/64'] }));
    expect(connectFrom(client, '10.202.1.2', PORT)).to.equal('10.202.1.1');
    expect(connectFrom(client, 'fd00:202::2', PORT)).to.equal('fd00:202::1');

    // The rules go with their owner, and the table with the last one.
    expect(engine.remove('net-c')).to.deep.equal({ removed: 7, tableDeleted: true });
    expect(host.nftCli('list', 'ruleset')).to.equal('');
    expect(connectFrom(client, '10.202.1.2', PORT)).to.equal('10.201.1.2');
  });

  it('DNAT: a published port reaches the container from outside, from the host via 127.0.0.1 and its own address, and from the container itself', async () => {
    const { host, client, server, engine } = topo;
    forwardingEnable({ netns: host.ns });
    await serve(server);
    const spec: PublishSpec = { proto: 'tcp', hostPort: 8080, address: '10.202.1.2', port: PORT, ifname: 'hs0' };
    engine.apply('ctr', publishRules(spec));
    // From outside the source stays the client's, as with docker's DNAT.
    expect(connectFrom(client, '10.201.1.1', 8080)).to.equal('10.201.1.2');
    expect(connectFrom(client, '10.201.1.1', 8081)).to.equal('error: ECONNREFUSED');
    // From the host itself to one of its addresses: DNAT in output.
    expect(connectFrom(host, '10.201.1.1', 8080)).to.equal('10.201.1.1');
    // To 127.0.0.1 the kernel will not route a loopback source off lo until route_localnet...
    expect(connectFrom(host, '127.0.0.1', 8080)).to.match(/^error: /);
    const changes = sysctlApply(publishSysctls(spec), host.ns);
    expect(changes.map((c) => [c.key, c.before, c.after])).to.deep.equal([['net.ipv4.conf.hs0.route_localnet', '0', '1']]);
    // ...and then the loopback source is masqueraded to the host's address on that side.
    expect(connectFrom(host, '127.0.0.1', 8080)).to.equal('10.202.1.1');
    // The container reaching its own published port (hairpin) is masqueraded too.
    expect(connectFrom(server, '10.202.1.1', 8080)).to.equal('10.202.1.1');

    engine.remove('ctr');
    expect(connectFrom(host, '127.0.0.1', 8080)).to.equal('error: ECONNREFUSED');
    expect(host.nftCli('list', 'ruleset')).to.equal('');
  });

  it('DNAT bound to one host address, and over IPv6', async () => {
    const { host, client, server, engine } = topo;
    forwardingEnable({ ipv6: true, netns: host.ns });
    await serve(server);
    engine.apply('ctr', [
      ...publishRules({ proto: 'tcp', hostPort: 8080, hostAddress: '10.201.1.1', address: '10.202.1.2', port: PORT, ifname: 'hs0' }),
      ...publishRules({ proto: 'tcp', hostPort: 8443, address: 'fd00:202::2', port: PORT, ifname: 'hs0' }),
    ]);
    expect(connectFrom(client, '10.201.1.1', 8080)).to.equal('10.201.1.2');
    // The host's other address does not publish it.
    expect(connectFrom(host, '10.202.1.1', 8080)).to.equal('error: ECONNREFUSED');
    expect(connectFrom(client, 'fd00:201::1', 8443)).to.equal('fd00:201::2');
  });

  it('an internal network has no egress and no ingress, yet its published ports answer', async () => {
    const { host, client, server, engine } = topo;
    forwardingEnable({ netns: host.ns });
    await serve(server);
    await serve(client, PORT + 1);
    expect(connectFrom(server, '10.201.1.2', PORT + 1)).to.equal('10.202.1.2');
    engine.apply('int', networkRules({ ifname: 'hs0', subnets: ['10.202.1.0/24'], internal: true }));
    expect(connectFrom(server, '10.201.1.2', PORT + 1)).to.equal('error: ETIMEDOUT');
    expect(connectFrom(client, '10.202.1.2', PORT)).to.equal('error: ETIMEDOUT');
    // The host itself still talks to it (docker's internal networks keep the bridge address).
    expect(connectFrom(host, '10.202.1.2', PORT)).to.equal('10.202.1.1');
    engine.apply('ctr', publishRules({ proto: 'tcp', hostPort: 8080, address: '10.202.1.2', port: PORT, ifname: 'hs0' }));
    expect(connectFrom(client, '10.201.1.1', 8080)).to.equal('10.201.1.2');
  });

  it('two networks are isolated from each other, but published ports cross', async () => {
    const { host, client, server, engine } = topo;
    forwardingEnable({ netns: host.ns });
    await serve(server);
    engine.apply('net-c', networkRules({ ifname: 'hc0', subnets: ['10.201.1.0/24'] }));
    engine.apply('net-s', networkRules({ ifname: 'hs0', subnets: ['10.202.1.0/24'] }));
    expect(connectFrom(client, '10.202.1.2', PORT)).to.equal('error: ETIMEDOUT');
    engine.apply('ctr', publishRules({ proto: 'tcp', hostPort: 8080, address: '10.202.1.2', port: PORT, ifname: 'hs0' }));
    // Leaving by hs0, the client's subnet is masqueraded, as docker's `-s SUBNET ! -o BRIDGE`.
    expect(connectFrom(client, '10.201.1.1', 8080)).to.equal('10.202.1.1');
    // Without isolation, B still takes no new connection from elsewhere, whatever the order
    // of the networks' rules (net-c's `iifname accept` now comes before net-s's rules)...
    engine.apply('net-c', networkRules({ ifname: 'hc0', subnets: ['10.201.1.0/24'], isolate: false }));
    engine.apply('net-s', networkRules({ ifname: 'hs0', subnets: ['10.202.1.0/24'], isolate: false }));
    engine.apply('net-c', networkRules({ ifname: 'hc0', subnets: ['10.201.1.0/24'], isolate: false }));
    expect(connectFrom(client, '10.202.1.2', PORT)).to.equal('error: ETIMEDOUT');
    // ...until it allows ingress: then the networks route to each other (masqueraded on the way out).
    engine.apply('net-s', networkRules({ ifname: 'hs0', subnets: ['10.202.1.0/24'], isolate: false, ingress: true }));
    expect(connectFrom(client, '10.202.1.2', PORT)).to.equal('10.202.1.1');
  });

  it('a network takes no new connection routed in from elsewhere, while the host reaches it and it reaches out', async () => {
    const { host, client, server, engine } = topo;
    forwardingEnable({ netns: host.ns });
    await serve(server);
    await serve(client, PORT + 1);
    // Before: the host routes the client straight to the server's address.
    expect(connectFrom(client, '10.202.1.2', PORT)).to.equal('10.201.1.2');
    engine.apply('net-s', networkRules({ ifname: 'hs0', subnets: ['10.202.1.0/24'] }));
    expect(connectFrom(client, '10.202.1.2', PORT)).to.equal('error: ETIMEDOUT');
    expect(connectFrom(host, '10.202.1.2', PORT)).to.equal('10.202.1.1');
    // Its own connections out, and their replies, pass (masqueraded).
    expect(connectFrom(server, '10.201.1.2', PORT + 1)).to.equal('10.201.1.1');
    const drop = host.nftCli('list', 'chain', 'inet', engine.table, 'isolate');
    expect(drop).to.match(/oifname "hs0" iifname != "hs0" ct state invalid,new,untracked drop comment "net-s"/);
  });

  it('forward policy drop: nothing is routed but what the networks allow', async () => {
    const { host, client, server } = topo;
    forwardingEnable({ netns: host.ns });
    await serve(server);
    await serve(client, PORT + 1);
    const strict = new NftEngine(host.nft, { table: `nn${process.pid}`, forwardPolicy: 'drop' });
    strict.apply('net-c', networkRules({ ifname: 'hc0', subnets: ['10.201.1.0/24'] }));
    // The client's network may go out (and its replies come back)...
    expect(connectFrom(client, '10.202.1.2', PORT)).to.equal('10.202.1.1');
    // ...the server's side, not a network of ours, may not start anything.
    expect(connectFrom(server, '10.201.1.2', PORT + 1)).to.equal('error: ETIMEDOUT');
  });
});
