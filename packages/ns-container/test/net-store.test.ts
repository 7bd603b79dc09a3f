/**
 * Networks as state (network/store.ts), in directories of the test's own: definitions,
 * subnets without overlap, leases under the lock with stale owners dropped, the hosts file,
 * resolv.conf. No network objects are made here (see ns-run's network tests for those).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  address6Of, containerResolvConf, isAlive, parseNetworkSubnet6, NetworkStore, parseNetworkSubnet, DEFAULT_NETWORK, DEFAULT_NETWORK_SUBNET, NETWORK_POOL,
  type Lease, type ProcessRef,
} from '../src';
import { processRef } from '../src/runner/state';

function caught(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected an error');
}

/** A ref to a process that has exited: its pid may be reused, its pidfd inode cannot. */
function goneRef(): ProcessRef {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return { pid: Number(r.stdout), inode: 1 };
}

describe('network store', () => {
  let base: string;
  let store: NetworkStore;

  beforeEach(() => {
    base = mkdtempSync('/tmp/ns-container-net-store-');
    store = new NetworkStore({ config: join(base, 'lib'), run: join(base, 'run') });
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('gives each network a free /24 of the pool, skipping the host\'s networks, and refuses overlaps and taken names', () => {
    expect(NETWORK_POOL).to.equal('10.232.0.0/16');
    const a = store.create('a', { inUse: ['10.232.0.77/24'] });
    expect(a).to.include({ name: 'a', subnet: '10.232.1.0/24', gateway: '10.232.1.1', internal: false });
    expect(a.bridge).to.equal(`nsbr-${a.id.slice(0, 10)}`);
    expect(store.create('b', { internal: true })).to.include({ subnet: '10.232.0.0/24', internal: true });
    expect(caught(() => store.create('c', { subnet: '10.232.1.128/25' })).message).to.equal("--subnet: 10.232.1.128/25 overlaps network a's 10.232.1.0/24");
    expect(caught(() => store.create('a')).code).to.equal('EEXIST');
    expect(caught(() => store.create('none')).message).to.match(/'none' is a --network mode/);
    expect(store.list().map((n) => n.name)).to.deep.equal(['a', 'b']);
    expect(statSync(store.configFile('a')).mode & 0o777).to.equal(0o600);
  });

  it('defines the default network on first use, with docker\'s name', () => {
    expect(caught(() => store.read(DEFAULT_NETWORK)).message).to.equal('network bridge not found');
    expect(store.get(DEFAULT_NETWORK)).to.include({ name: 'bridge', bridge: 'nsbr0', subnet: DEFAULT_NETWORK_SUBNET });
  });

  it('puts IPv6 beside IPv4: a unique local /64 by default, each address at its IPv4 offset', () => {
    const net = store.create('six', { ipv6: true, subnet: '10.251.0.0/24' });
    expect(net.subnet6).to.match(/^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/);
    expect(net.gateway6).to.equal(net.subnet6!.replace('::/64', '::1'));
    expect(address6Of(net, '10.251.0.2')).to.equal(net.subnet6!.replace('::/64', '::2'));
    expect(address6Of(store.create('four'), '10.232.0.2')).to.equal(undefined);
    expect(caught(() => store.create('x', { ipv6: true, subnet6: net.subnet6! })).message).to.match(/overlaps network six's/);
    expect(caught(() => store.create('y', { subnet6: 'fd00::/64' })).message).to.equal('--subnet6: only with --ipv6');
    expect(caught(() => parseNetworkSubnet6('fd00::/120', 16)).message).to.match(/must be a \/16 to \/112/);
    expect(caught(() => parseNetworkSubnet6('fd00::1/64', 8)).message).to.match(/not the network address of its subnet \(fd00::\/64\)/);
    expect(caught(() => parseNetworkSubnet6('10.0.0.0/8', 8)).message).to.match(/not an IPv6 network/);
  });

  it('parses --subnet by its network address', () => {
    expect(parseNetworkSubnet('10.9.0.0/16')).to.equal('10.9.0.0/16');
    expect(caught(() => parseNetworkSubnet('10.9.0.1/16')).message).to.match(/not the network address of its subnet \(10\.9\.0\.0\/16\)/);
    expect(caught(() => parseNetworkSubnet('10.9.0.0/31')).message).to.match(/must be a \/8 to \/30/);
    expect(caught(() => parseNetworkSubnet('fd00::/64')).message).to.match(/not an IPv4 network/);
  });

  it('leases addresses after the gateway, drops leases whose owner is gone, and writes the hosts file', () => {
    const net = store.create('n', { subnet: '10.250.0.0/29' });
    const lease = (container: string, owner: ProcessRef, aliases: string[] = []): Lease => store.withLeases(net, (leases) => {
      const made = { container, address: NetworkStore.freeAddress(net, leases), aliases, hostInterface: 'x', owner };
      return { leases: [...leases, made], result: made };
    });
    const me = processRef(process.pid);
    const dead = goneRef();
    expect(isAlive(dead)).to.equal(false);
    expect(lease('one', me, ['uno']).address).to.equal('10.250.0.2');
    expect(lease('ghost', dead).address).to.equal('10.250.0.3');
    expect(store.leasesOf('n').map((l) => l.container)).to.deep.equal(['one', 'ghost']);
    // The next writer drops the ghost, so its address is free again.
    expect(lease('two', me).address).to.equal('10.250.0.3');
    expect(readFileSync(store.hostsFile('n'), 'utf8')).to.equal(
      '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.250.0.2\tone uno\n10.250.0.3\ttwo\n');
    lease('three', me);
    lease('four', me);
    lease('five', me);
    // A /29 has six hosts: the gateway and five containers.
    expect(caught(() => lease('six', me)).message).to.equal('network n: every address of 10.250.0.0/29 is leased');
    expect(caught(() => lease('six', me)).code).to.equal('EADDRINUSE');
  });

  it('gives containers the host\'s resolvers they can reach, none on an internal network', () => {
    const host = '# managed\nnameserver 127.0.0.53\nnameserver 10.1.2.3\nsearch example.org\noptions ndots:2\n';
    expect(containerResolvConf(host, false)).to.equal('# written by ns-run\nsearch example.org\noptions ndots:2\nnameserver 10.1.2.3\n');
    expect(containerResolvConf('nameserver 127.0.0.53\n', false)).to.equal('# written by ns-run\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n');
    expect(containerResolvConf(host, true)).to.equal('# written by ns-run\nsearch example.org\noptions ndots:2\n');
    // On pasta, its DNS forward address alone (to the host's first resolver, loopback or not).
    expect(containerResolvConf(host, false, '169.254.1.1')).to.equal('# written by ns-run\nsearch example.org\noptions ndots:2\nnameserver 169.254.1.1\n');
    expect(containerResolvConf('nameserver 10.1.2.3\n', false, '169.254.1.1')).to.equal('# written by ns-run\nnameserver 169.254.1.1\n');
  });
});
