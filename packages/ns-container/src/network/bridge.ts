/**
 * A network on the host (the runner's network namespace): its bridge with the gateway address,
 * forwarding as docker enables it, and its rules in ns-net's nf_tables engine (masquerade out,
 * forward accepts, isolation from the other networks; none of the egress for --internal).
 * Everything is idempotent: every run makes sure its network is whole, so a bridge deleted by
 * hand, or a network used from another network namespace, comes back as defined.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { NsError } from 'ns-core';
import { bridge, forwardingEnable, networkRules, NftEngine, NftHandle, RtnlHandle } from 'ns-net';
import { ipv4ToInt } from './addresses';
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
 * Makes the network's bridge (with its gateway address, up) and rules exist. `stamp`: a file
 * where the ruleset generation they were last found whole at is kept, to skip reading them.
 * Forwarding: net.ipv4.ip_forward=1, as docker sets it; the engine's forward chain keeps its
 * accept policy (see the report on docker's drop policy).
 */
export function ensureNetwork(config: NetworkConfig, stamp?: string): void {
  RtnlHandle.current().use((rtnl) => {
    // Every run passes here: a bridge that is whole already costs two requests (the link, its
    // addresses), a new one is made and then checked like one made by another runner.
    let link = ignoring(['ENODEV'], () => rtnl.linkByName(config.bridge));
    if (!link) {
      // EEXIST: made by another runner meanwhile.
      ignoring(['EEXIST'], () => rtnl.linkAdd(bridge({ name: config.bridge })));
      link = rtnl.linkByName(config.bridge);
    }
    if (link.kind !== undefined && link.kind !== 'bridge') {
      throw new NsError({ errno: 17, code: 'EEXIST', message: `network ${config.name}: ${config.bridge} exists and is not a bridge (${link.kind})` });
    }
    const gateway = { address: config.gateway, prefixlen: NetworkStore.prefixlenOf(config) };
    const addresses = rtnl.addrList({ link: link.index });
    if (!addresses.some((a) => a.local === gateway.address)) ignoring(['EEXIST'], () => rtnl.addrAdd(config.bridge, `${gateway.address}/${gateway.prefixlen}`));
    if (config.subnet6 !== undefined && config.gateway6 !== undefined && !addresses.some((a) => a.local === config.gateway6 || a.address === config.gateway6)) {
      const cidr = `${config.gateway6}/${config.subnet6.split('/')[1]}`;
      // No duplicate address detection: the bridge's address is ours by definition, and DAD
      // would hold it "tentative" (unusable as a source or gateway) for a second or more.
      ignoring(['EEXIST'], () => rtnl.addrAdd(config.bridge, cidr, { noDad: true }));
    }
    if ((link.flags & IFF_UP) === 0) rtnl.linkSetUp(config.bridge);
  });
  if (!config.internal) forwardingEnable({ ipv6: config.subnet6 !== undefined });
  NftHandle.current().use((nft) => {
    // The ruleset's generation moves with every change to it: the same generation in the
    // same network namespace as when the rules were last found whole means they still are.
    const netns = statSync('/proc/self/ns/net').ino;
    const seen = stamp ? readStamp(stamp) : undefined;
    if (seen === `${netns}:${nft.nftGenid()}`) return;
    new NftEngine(nft).apply(rulesOwner(config), networkRules({
      ifname: config.bridge, subnets: [config.subnet, ...(config.subnet6 !== undefined ? [config.subnet6] : [])], internal: config.internal,
    }));
    if (stamp) writeStamp(stamp, `${netns}:${nft.nftGenid()}`);
  });
}

function readStamp(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    // None yet (or unreadable): the rules are checked.
    return undefined;
  }
}

function writeStamp(file: string, text: string): void {
  try {
    writeFileSync(file, text, { mode: 0o600 });
  } catch {
    // Only an optimisation: the next run checks the rules again.
  }
}

/** IFF_UP of <linux/if.h>. */
const IFF_UP = 1;

/** Deletes the network's rules (the table with the last owner's) and its bridge, if there. */
export function removeNetworkObjects(config: NetworkConfig): void {
  NftHandle.current().use((nft) => new NftEngine(nft).remove(rulesOwner(config)));
  RtnlHandle.current().use((rtnl) => ignoring(['ENODEV'], () => rtnl.linkDel(config.bridge)));
}

/** The host end's name: 'nsv' and the container's address in hex, unique while leased (networks never overlap). */
export function hostInterfaceOf(address: string): string {
  return `nsv${(ipv4ToInt(address, 'address').value >>> 0).toString(16).padStart(8, '0')}`;
}
