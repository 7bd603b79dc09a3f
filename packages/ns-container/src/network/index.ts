/**
 * Container networks: what `ns-run --network NAME` and `ns-run network ...` mean.
 *
 * A network is a bridge on the host with a gateway address, a subnet its containers lease
 * addresses from, and rules in ns-net's nf_tables engine (masquerade and forward accepts;
 * none of those for --internal; isolation from the other networks always). Each container
 * attached to it gets a veth: the host end a port of the bridge, the peer (eth0) born inside
 * the container's network namespace with its address and a default route via the gateway.
 * Its names (the container's name and --network-alias) are in the network's hosts file and in
 * each member's own hosts file (every network it is on), which ns-run keeps current and binds
 * on the member's /etc/hosts; resolv.conf is the host's minus loopback resolvers. State: store.ts.
 *
 * The runner's calls, in order:
 *
 *   const att = prepareNetwork({ network: 'web', container: 'api', aliases: ['db'] });
 *     // the bridge and rules exist, an address is leased (owner: this process, by pidfd)
 *   spawn(argv, { steps: [..., net({ loopback: true, veth: att.veth }) ] })
 *     // the veth: made by net()'s step at the sync point, peer born inside the new netns
 *   bind att.files.hosts (the container's own) on /etc/hosts, att.files.resolvConf on /etc/resolv.conf (read-only)
 *   record att.inspect in the container's state
 *   ...the container ends...
 *   releaseNetwork(att)   // lease gone, hosts file rewritten; the veth went with the netns
 *
 * Why today's runner has the veth made at net()'s sync point rather than in a network
 * namespace prepared before the stage runs: the container's user namespace is made by
 * clone(), and a process in a new user namespace may no longer setns(2) into a network
 * namespace owned by the host's (CAP_SYS_ADMIN there is gone); joining first needs every
 * namespace unshared by the child after the joins (createInChild), a change to the
 * container's pid layout the runner owns. The runner uses spawn(), whose parent can act at
 * the sync point. An in-place runner (no JavaScript at a sync point) uses prepareNetns(att)
 * instead: the namespace made and wired from the main thread, then `join: [prepared.netns]`
 * with createInChild (netns.ts; tested in net-netns.test.ts).
 *
 * A runner killed by SIGKILL leaves its lease: reclaimStale() (also run by every
 * prepareNetwork and every `network` command) drops leases whose owner is gone (pid + pidfd
 * inode), and the hosts file with them.
 */
import { writeFileSync } from 'node:fs';
import { posix } from 'node:path';
import { RtnlHandle, type VethOptions } from 'ns-net';
import { NsError } from 'ns-core';
import { resolveInRoot } from '../runner/inroot';
import { processRef, type ProcessRef } from '../runner/state';
import { AF_INET } from './addresses';
import { ensureNetwork, hostInterfaceOf, removeNetworkObjects } from './bridge';
import { reclaimStalePublished } from './dnat';
import { ensureNetworkInside, removeNetworkInside, rootlessNetns } from './rootless';
import {
  address6Of, defaultNetworkDirs, stateRootOf, NetworkStore, writeResolvConf, DEFAULT_NETWORK, RESERVED_NETWORK_NAMES,
  type Lease, type NetworkConfig, type NetworkDirs,
} from './store';

export {
  address6Of, containerResolvConf, defaultNetworkDirs, rootlessNetworkDirs, parseNetworkSubnet, parseNetworkSubnet6, validateNetworkName, NetworkStore, DEFAULT_NETWORK,
  DEFAULT_NETWORK_SUBNET, NETWORK_POOL, RESERVED_NETWORK_NAMES, type Lease, type NetworkConfig, type NetworkDirs,
} from './store';
export { ensureNetwork, hostInterfaceOf, removeNetworkObjects, rulesOwner } from './bridge';
export { DEFAULT_SUBNET_POOL, leaseSubnet, parseSubnet, releaseSubnet, subnetAt, CONTAINER_INTERFACE, type NetworkMode, type Subnet } from './p2p';
export { forwardArgs } from './inside';
export { defaultNetwork, pastaResolvConfVolume, withPasta, PASTA_NETWORK, type DefaultNetwork } from './pasta';
export { parsePublish, netnsDialer, spliceSockets, PortProxy, PROXY_LIMITS, type Dialer, type ProxyLimits, type PublishSpec } from './publish';
export { addPublished, enableLocalnet, publishOwner, reclaimStalePublished, removePublished, type PublishTarget } from './dnat';

/** Whether --network names a network (rather than the none/host/veth modes). */
export function isNetworkName(mode: string): boolean {
  return !RESERVED_NETWORK_NAMES.includes(mode);
}

export interface PrepareOptions {
  readonly network: string;
  readonly container: string;
  readonly aliases?: readonly string[];
  /** Who holds the lease (default: this process). */
  readonly owner?: ProcessRef;
  readonly dirs?: NetworkDirs;
  /**
   * The network is made elsewhere (in a rootless network namespace: ensureNetworkInside):
   * only the lease and the files here.
   */
  readonly madeElsewhere?: boolean;
}

/** What inspect shows of a container's attachment (docker's NetworkSettings.Networks[NAME], in part). */
export interface AttachmentInfo {
  readonly network: string;
  readonly networkId: string;
  readonly address: string;
  readonly prefixlen: number;
  readonly gateway: string;
  readonly address6?: string;
  readonly prefixlen6?: number;
  readonly gateway6?: string;
  readonly aliases: readonly string[];
  readonly hostInterface: string;
}

export interface Attachment {
  readonly network: NetworkConfig;
  readonly lease: Lease;
  /** For ns-net's net() step: the pair, the host end a port of the bridge. */
  readonly veth: VethOptions;
  /** Host files to bind read-only into the container. */
  readonly files: { readonly hosts: string; readonly resolvConf: string };
  readonly inspect: AttachmentInfo;
  readonly dirs: NetworkDirs;
}

/**
 * Makes the network whole on the host (bridge, rules; the default `bridge` network defined on
 * first use), leases an address for the container and adds its names to the hosts file.
 * @throws NsError ENOENT for an unknown network, EEXIST when the name is on the network already,
 *   EADDRINUSE when the subnet is full, EPERM for an ordinary user.
 */
export function prepareNetwork(options: PrepareOptions): Attachment {
  const dirs = options.dirs ?? defaultNetworkDirs();
  const store = new NetworkStore(dirs);
  const config = store.get(options.network);
  if (!options.madeElsewhere) ensureNetwork(config, store.rulesStampFile(config.name));
  const resolvConf = writeResolvConf(store, config);
  const owner = options.owner ?? processRef(process.pid);
  const aliases = [...new Set(options.aliases ?? [])].filter((a) => a !== options.container);
  const lease = store.withLeases(config, (leases) => {
    const clash = leases.find((l) => l.container === options.container);
    if (clash) {
      throw new NsError({ errno: 17, code: 'EEXIST', message: `network ${config.name}: a container named ${options.container} is attached already (${clash.address})` });
    }
    const address = NetworkStore.freeAddress(config, leases);
    const address6 = address6Of(config, address);
    const made: Lease = { container: options.container, address, ...(address6 !== undefined ? { address6 } : {}), aliases, hostInterface: hostInterfaceOf(address), owner };
    return { leases: [...leases, made], result: made };
  });
  const prefixlen = NetworkStore.prefixlenOf(config);
  const v6 = lease.address6 !== undefined && config.subnet6 !== undefined && config.gateway6 !== undefined
    ? { address6: lease.address6, prefixlen6: Number(config.subnet6.split('/')[1]), gateway6: config.gateway6 } : undefined;
  return {
    network: config, lease, dirs,
    veth: {
      hostIf: lease.hostInterface, nsIf: 'eth0', peerAddress: `${lease.address}/${prefixlen}`, master: config.bridge, gateway: config.gateway,
      ...(v6 ? { morePeerAddresses: [`${v6.address6}/${v6.prefixlen6}`], gateway6: v6.gateway6 } : {}),
    },
    files: { hosts: store.containerHostsFile(options.container), resolvConf },
    inspect: {
      network: config.name, networkId: config.id, address: lease.address, prefixlen, gateway: config.gateway, ...(v6 ?? {}), aliases,
      hostInterface: lease.hostInterface,
    },
  };
}

/**
 * The files a network binds need something to be bound on. A root filesystem without
 * /etc/hosts or /etc/resolv.conf gets an empty one, made here by the runner (as docker makes
 * them in a container's layer): the stage binds as the container's root, which a root
 * runner maps to another host user that may not write the rootfs' /etc. Resolved inside the
 * root (a symlink there cannot lead out). Nothing is made where /etc itself is missing.
 */
export function bindTargets(rootfs: string, dests: readonly string[] = ['/etc/hosts', '/etc/resolv.conf']): void {
  for (const dest of dests) {
    const r = resolveInRoot(rootfs, dest, '--network');
    if (r.kind !== undefined) continue;
    const parent = resolveInRoot(rootfs, posix.dirname(r.inside), '--network');
    if (parent.kind !== 'dir') continue;
    try {
      writeFileSync(posix.join(rootfs, r.inside), '', { flag: 'wx', mode: 0o644 });
    } catch (e) {
      // Made by a concurrent runner of the same rootfs.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw NsError.from(e, { syscall: 'open', path: posix.join(rootfs, r.inside) });
    }
  }
}

/**
 * A lease passes to another process (a detached container's supervisor, known only once the
 * container runs): it stays live as long as that one does.
 */
export function handOverLease(attachment: Pick<Attachment, 'network' | 'lease' | 'dirs'>, owner: ProcessRef): void {
  const { container, address } = attachment.lease;
  new NetworkStore(attachment.dirs).withLeases(attachment.network, (leases) => ({
    leases: leases.map((l) => (l.container === container && l.address === address ? { ...l, owner } : l)), result: undefined,
  }));
}

/**
 * releaseNetwork by the network's name, for a process that has only the container's state
 * (a supervisor's on-exit command, a dead runner's reclaim). A network removed meanwhile holds nothing.
 */
export function releaseLease(network: string, lease: Pick<Lease, 'container' | 'address'>, dirs: NetworkDirs = defaultNetworkDirs()): void {
  let config: NetworkConfig;
  try {
    config = new NetworkStore(dirs).get(network);
  } catch (e) {
    if ((e as NsError).code === 'ENOENT') return;
    throw e;
  }
  releaseNetwork({ network: config, lease, dirs });
}

/** Gives the lease back and takes the names out of the hosts file. Idempotent. */
export function releaseNetwork(attachment: Pick<Attachment, 'network' | 'dirs'> & { readonly lease: Pick<Lease, 'container' | 'address'> }): void {
  const store = new NetworkStore(attachment.dirs);
  const { container, address } = attachment.lease;
  try {
    store.withLeases(attachment.network, (leases) => ({
      leases: leases.filter((l) => !(l.container === container && l.address === address)), result: undefined,
    }));
  } catch (e) {
    // The network went already (network rm cannot take a network in use, but a hand-made mess can).
    if ((e as NsError).code !== 'ENOENT') throw e;
  }
}

/**
 * Drops every lease whose owner is gone, in every network (the hosts files with them), and
 * the published ports of containers whose holder is gone.
 * @returns the leases dropped, by network.
 */
export function reclaimStale(dirs: NetworkDirs = defaultNetworkDirs()): { network: string; container: string; address: string }[] {
  const store = new NetworkStore(dirs);
  const dropped: { network: string; container: string; address: string }[] = [];
  for (const config of store.list()) {
    const before = store.leasesOf(config.name);
    if (!before.length) continue;
    const live = store.withLeases(config, (leases) => ({ result: leases }));
    for (const l of before) if (!live.some((x) => x.container === l.container && x.address === l.address)) dropped.push({ network: config.name, container: l.container, address: l.address });
  }
  // An ordinary user publishes no ports by DNAT (and may not read the host's ruleset).
  if (!rootlessUser()) reclaimStalePublished();
  return dropped;
}

export interface NetworkInfo extends NetworkConfig {
  /** Containers attached now (stale leases dropped first). */
  readonly containers: readonly { readonly name: string; readonly address: string; readonly address6?: string; readonly aliases: readonly string[] }[];
}

/** A network and who is on it. @throws NsError ENOENT. */
export function inspectNetwork(name: string, dirs: NetworkDirs = defaultNetworkDirs()): NetworkInfo {
  const store = new NetworkStore(dirs);
  const config = name === DEFAULT_NETWORK ? store.get(name) : store.read(name);
  const leases = store.withLeases(config, (l) => ({ result: l }));
  return { ...config, containers: leases.map((l) => ({ name: l.container, address: l.address, ...(l.address6 !== undefined ? { address6: l.address6 } : {}), aliases: l.aliases })) };
}

/** Every network (the default one included, defined if it was not yet). */
export function listNetworks(dirs: NetworkDirs = defaultNetworkDirs()): NetworkInfo[] {
  const store = new NetworkStore(dirs);
  store.get(DEFAULT_NETWORK);
  return store.list().map((c) => inspectNetwork(c.name, dirs));
}

/** The host's IPv4 networks (addresses on our links), which a new network must not overlap. */
function hostNetworks(): string[] {
  return RtnlHandle.current().use((rtnl) => rtnl.addrList({ family: AF_INET })
    .filter((a) => a.local !== undefined && !a.local.startsWith('127.'))
    .map((a) => `${a.local}/${a.prefixlen}`));
}

/** Whether `dirs` are an ordinary user's, whose networks live in their rootless namespace. */
function rootlessUser(): boolean {
  return process.geteuid!() !== 0;
}

/**
 * `network create`: defines it and makes its bridge and rules at once (docker does too); for
 * an ordinary user, inside their rootless network namespace (made on first use).
 * @throws NsError EEXIST, EUSAGE (reserved name, bad or overlapping subnet).
 */
export async function createNetwork(name: string, options: { subnet?: string; internal?: boolean; ipv6?: boolean; subnet6?: string } = {}, dirs: NetworkDirs = defaultNetworkDirs()): Promise<NetworkConfig> {
  const store = new NetworkStore(dirs);
  const config = store.create(name, { ...options, inUse: hostNetworks() });
  const rootless = rootlessUser() ? await rootlessNetns(stateRootOf(dirs)) : undefined;
  try {
    if (rootless) await ensureNetworkInside(rootless, config);
    else ensureNetwork(config);
  } catch (e) {
    // Nothing half made stays: the rules, the bridge and the definition go.
    try {
      if (rootless) await removeNetworkInside(rootless, config);
      else removeNetworkObjects(config);
    } finally {
      store.delete(name);
    }
    throw e;
  } finally {
    rootless?.close();
  }
  return config;
}

/**
 * `network rm`: refused while a live container is attached (checked under the lease lock, so
 * no run leases in between), and for the default network, as docker refuses; the rules, the
 * bridge, the leases and the definition go. An ordinary user's: the definition goes under
 * the lock (no run can lease after), the bridge and rules in their namespace after it.
 * @throws NsError ENOENT, EBUSY naming the containers, EPERM for `bridge`.
 */
export async function removeNetwork(name: string, dirs: NetworkDirs = defaultNetworkDirs()): Promise<void> {
  if (name === DEFAULT_NETWORK) {
    throw new NsError({ errno: 1, code: 'EPERM', message: `${name} is a pre-defined network and cannot be removed` });
  }
  const store = new NetworkStore(dirs);
  const config = store.read(name);
  if (!rootlessUser()) {
    store.deleteUnused(config, () => removeNetworkObjects(config));
    return;
  }
  store.deleteUnused(config, () => undefined);
  const rootless = await rootlessNetns(stateRootOf(dirs));
  try {
    await removeNetworkInside(rootless, config);
  } finally {
    rootless.close();
  }
}

export { connectContainer, disconnectContainer } from './connect';
export { prepareNetns, type PreparedNetns } from './netns';
export {
  attachInside, attachRootless, ensureNetworkInside, holderFile, removeNetworkInside, rootlessNetns,
  type RootlessAttachment, type RootlessNetns,
} from './rootless';
