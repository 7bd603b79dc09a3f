/**
 * `--network veth`: a veth pair of the container's own to the host, on a private /30 leased
 * from the state directory (a file per /30, made with O_EXCL).
 */
import { closeSync, openSync } from 'node:fs';
import { posix } from 'node:path';
import { NsError, usageError } from 'ns-core';
import { RtnlHandle } from 'ns-net';
import { removeFile } from '../runner/state';
import { AF_INET, intToIpv4, ipv4ToInt } from './addresses';

/**
 * --network: 'none' (lo only), 'host' (ours), 'veth' (a /30 of its own to the host), or the
 * name of a network ('bridge', docker's default one, or one made by `ns-run network create`).
 */
export type NetworkMode = 'none' | 'host' | 'veth' | (string & {});

export interface Subnet {
  /** The /30's network address, which names the lease. */
  readonly network: string;
  /** The host end's address (the container's gateway). */
  readonly host: string;
  /** The container's address. */
  readonly peer: string;
  /** Name of the host end: 'nsr' and the /30's number in hex, unique while leased. */
  readonly hostInterface: string;
}

/**
 * Where default /30s come from: a /16 of RFC 1918 space that common tools leave alone
 * (Docker takes 172.17+/16, podman 10.88/16, libvirt 192.168.122/24).
 */
export const DEFAULT_SUBNET_POOL = '10.231.0.0/16';
/** The container's end of the veth. */
export const CONTAINER_INTERFACE = 'eth0';

/** The addresses of the /30 that starts at `network`. */
export function subnetAt(network: number): Subnet {
  return { network: intToIpv4(network), host: intToIpv4(network + 1), peer: intToIpv4(network + 2),
           hostInterface: `nsr${(network >>> 2).toString(16)}` };
}

/** --subnet: a /30 given by its network address (10.231.7.8/30). @throws NsError EUSAGE. */
export function parseSubnet(text: string): number {
  const { value, prefixlen } = ipv4ToInt(text, '--subnet');
  if (prefixlen !== 30) throw usageError(`--subnet: '${text}' must be a /30 (a host end and a container end)`);
  if ((value & 3) !== 0) throw usageError(`--subnet: '${text}' is not the network address of its /30 (${intToIpv4((value & ~3) >>> 0)}/30)`);
  return value >>> 0;
}

/** Private /30s in use by addresses on our links: those are never leased. */
function subnetsInUse(): Set<number> {
  return RtnlHandle.current().use((rtnl) => new Set(rtnl.addrList({ family: AF_INET })
    .map((a) => a.local)
    .filter((a): a is string => a !== undefined)
    .map((a) => (ipv4ToInt(a, 'address').value & ~3) >>> 0)));
}

/**
 * Leases a /30 by creating its file in `dir` with O_EXCL: the requested one, or the first
 * free one of the pool, starting at a point derived from our pid so concurrent runners rarely
 * try the same one first. The caller removes the file when the container is gone; `onLeased`
 * hears of it as soon as it is created.
 * @throws NsError EADDRINUSE when the requested /30 or the whole pool is taken.
 */
export function leaseSubnet(dir: string, requested?: number, onLeased: (file: string) => void = () => undefined): Subnet & { lease: string } {
  const inUse = subnetsInUse();
  const tryLease = (network: number): (Subnet & { lease: string }) | undefined => {
    if (inUse.has(network)) return undefined;
    const subnet = subnetAt(network);
    const lease = posix.join(dir, subnet.network);
    try {
      closeSync(openSync(lease, 'wx', 0o600));
    } catch (e) {
      // Leased by another container: try the next.
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
      throw e;
    }
    // Only now is the file ours to remove (told any earlier, a janitor could take another's).
    onLeased(lease);
    return { ...subnet, lease };
  };
  if (requested !== undefined) {
    const got = tryLease(requested);
    if (!got) throw new NsError({ errno: 98, code: 'EADDRINUSE', message: `--subnet: ${intToIpv4(requested)}/30 is in use` });
    return got;
  }
  const pool = ipv4ToInt(DEFAULT_SUBNET_POOL, 'pool');
  const blocks = 2 ** (30 - pool.prefixlen);
  const start = process.pid % blocks;
  for (let i = 0; i < blocks; i++) {
    const got = tryLease((pool.value + ((start + i) % blocks) * 4) >>> 0);
    if (got) return got;
  }
  throw new NsError({ errno: 98, code: 'EADDRINUSE', message: `no free /30 left in ${DEFAULT_SUBNET_POOL}; give one with --subnet` });
}

export function releaseSubnet(lease: string): void {
  removeFile(lease);
}

