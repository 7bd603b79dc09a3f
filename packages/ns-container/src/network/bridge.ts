/**
 * A network on the host (the runner's network namespace): its bridge with the gateway address,
 * forwarding as docker enables it, and its rules in ns-net's nf_tables engine (masquerade out,
 * forward accepts, isolation from the other networks; none of the egress for --internal).
 * Everything is idempotent: every run makes sure its network is whole, so a bridge deleted by
 * hand, or a network used from another network namespace, comes back as defined.
 */
import { NsError } from 'ns-core';
import { bridge, forwardingEnable, networkRules, NftEngine, NftHandle, RtnlHandle } from 'ns-net';
import { AF_INET, ipv4ToInt } from './addresses';
import { NetworkStore, type NetworkConfig } from './store';

/** The owner of a network's rules in the engine's table (one owner per network). */
export function rulesOwner(config: NetworkConfig): string {
  return `ns-run network ${config.name}`;
}

function ignoring<T>(codes: readonly string[], fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (codes.includes((e as NsError).code)) return undefined;
    throw e;
  }
}

/**
 * Makes the network's bridge (with its gateway address, up) and rules exist.
 * Forwarding: net.ipv4.ip_forward=1, as docker sets it; the engine's forward chain keeps its
 * accept policy (see the report on docker's drop policy).
 */
export function ensureNetwork(config: NetworkConfig): void {
  RtnlHandle.current().use((rtnl) => {
    // EEXIST: made by another runner (or an earlier one): it is checked below like a new one.
    ignoring(['EEXIST'], () => rtnl.linkAdd(bridge({ name: config.bridge })));
    const link = rtnl.linkByName(config.bridge);
    if (link.kind !== undefined && link.kind !== 'bridge') {
      throw new NsError({ errno: 17, code: 'EEXIST', message: `network ${config.name}: ${config.bridge} exists and is not a bridge (${link.kind})` });
    }
    const gateway = { address: config.gateway, prefixlen: NetworkStore.prefixlenOf(config) };
    const has = rtnl.addrList({ link: link.index, family: AF_INET }).some((a) => a.local === gateway.address);
    if (!has) ignoring(['EEXIST'], () => rtnl.addrAdd(config.bridge, `${gateway.address}/${gateway.prefixlen}`));
    if (config.subnet6 !== undefined && config.gateway6 !== undefined) {
      const cidr = `${config.gateway6}/${config.subnet6.split('/')[1]}`;
      // No duplicate address detection: the bridge's address is ours by definition, and DAD
      // would hold it "tentative" (unusable as a source or gateway) for a second or more.
      ignoring(['EEXIST'], () => rtnl.addrAdd(config.bridge, cidr, { noDad: true }));
    }
    rtnl.linkSetUp(config.bridge);
  });
  if (!config.internal) forwardingEnable({ ipv6: config.subnet6 !== undefined });
  NftHandle.current().use((nft) => {
    new NftEngine(nft).apply(rulesOwner(config), networkRules({
      ifname: config.bridge, subnets: [config.subnet, ...(config.subnet6 !== undefined ? [config.subnet6] : [])], internal: config.internal,
    }));
  });
}

/** Deletes the network's rules (the table with the last owner's) and its bridge, if there. */
export function removeNetworkObjects(config: NetworkConfig): void {
  NftHandle.current().use((nft) => new NftEngine(nft).remove(rulesOwner(config)));
  RtnlHandle.current().use((rtnl) => ignoring(['ENODEV'], () => rtnl.linkDel(config.bridge)));
}

/** The host end's name: 'nsv' and the container's address in hex, unique while leased (networks never overlap). */
export function hostInterfaceOf(address: string): string {
  return `nsv${(ipv4ToInt(address, 'address').value >>> 0).toString(16).padStart(8, '0')}`;
}
