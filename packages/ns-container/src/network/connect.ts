/**
 * `network connect|disconnect NETWORK CONTAINER`: another network for a running container,
 * as docker adds one: a veth whose peer is born in the container's network namespace (eth1,
 * eth2, ...), a port of the network's bridge, with the container's address on it; no default
 * route (the first network keeps it, as on docker). The lease is held by the container's
 * runner, so it goes stale with it and is reclaimed like the first network's.
 *
 * The container's /etc/hosts is a file of its own with every network's names (store.ts
 * containerHostsFile), rewritten in place: once connected, it sees the new network's members
 * by name, and they see it.
 */
import { Namespace, NsError } from 'ns-core';
import { RtnlHandle, veth } from 'ns-net';
import { runningContainer } from '../runner/lifecycle';
import { isAlive, StateStore } from '../runner/state';
import { prepareNetwork, releaseNetwork, type AttachmentInfo } from './index';
import { defaultNetworkDirs, NetworkStore, type NetworkDirs } from './store';

/** The first ethN the namespace lacks. */
function freeInterface(inside: RtnlHandle): string {
  const names = new Set(inside.linkList().map((l) => l.name));
  for (let n = 0; ; n++) if (!names.has(`eth${n}`)) return `eth${n}`;
}

/**
 * Attaches a running container to a network.
 * @throws NsError ENOENT (container, network), ESRCH (not running), EEXIST (already on it).
 */
export function connectContainer(network: string, container: string, options: { aliases?: readonly string[]; stateDir?: string; dirs?: NetworkDirs } = {}): AttachmentInfo {
  if (process.geteuid!() !== 0) {
    // The veth would have to be made from inside the user's rootless namespace and the
    // container's at once (rootless.ts does that only for a namespace it makes).
    throw new NsError({ errno: 95, code: 'EOPNOTSUPP', message: `network connect: not yet for an ordinary user's containers (start ${container} with --network ${network})` });
  }
  const state = runningContainer(new StateStore(options.stateDir), container);
  if (state.network === 'host') throw new NsError({ errno: 22, code: 'EINVAL', message: `container ${container} uses the host's network: it cannot be connected to a network` });
  const netns = Namespace.ofPid(state.init.pid, 'net');
  try {
    // Opened, then checked: a pid reused between reading the state and opening is not entered.
    if (!isAlive(state.init)) throw new NsError({ errno: 3, code: 'ESRCH', message: `container ${container} is not running` });
    const attachment = prepareNetwork({ network, container, aliases: options.aliases ?? [], owner: state.supervisor ?? state.runner, ...(options.dirs ? { dirs: options.dirs } : {}) });
    const v = attachment.veth;
    try {
      RtnlHandle.at(netns).use((inside) => RtnlHandle.current().use((host) => {
        const nsIf = freeInterface(inside);
        host.linkAdd(veth({ name: v.hostIf, peer: { name: nsIf, netnsFd: netns.fd } }));
        host.linkSetMaster(v.hostIf, v.master!);
        for (const cidr of [v.peerAddress, ...(v.morePeerAddresses ?? [])]) inside.addrAdd(nsIf, cidr, { noDad: true });
        host.linkSetUp(v.hostIf);
        inside.linkSetUp(nsIf);
      }));
    } catch (e) {
      // Nothing half made stays: the pair (if it exists) and the lease go.
      RtnlHandle.current().use((host) => {
        try {
          host.linkDel(v.hostIf);
        } catch (e2) {
          if ((e2 as NsError).code !== 'ENODEV') throw e2;
        }
      });
      releaseNetwork(attachment);
      throw e;
    }
    return attachment.inspect;
  } finally {
    netns.close();
  }
}

/**
 * Takes a container off a network: its veth and its lease (the hosts file with it).
 * @throws NsError ENOENT for an unknown network or a container not on it.
 */
export function disconnectContainer(network: string, container: string, dirs: NetworkDirs = defaultNetworkDirs()): void {
  if (process.geteuid!() !== 0) {
    throw new NsError({ errno: 95, code: 'EOPNOTSUPP', message: 'network disconnect: not yet for an ordinary user\'s containers' });
  }
  const store = new NetworkStore(dirs);
  const config = store.read(network);
  const lease = store.withLeases(config, (leases) => ({ result: leases.find((l) => l.container === container) }));
  if (!lease) throw new NsError({ errno: 2, code: 'ENOENT', message: `container ${container} is not connected to network ${network}` });
  RtnlHandle.current().use((host) => {
    try {
      host.linkDel(lease.hostInterface);
    } catch (e) {
      // Gone with the container's network namespace already.
      if ((e as NsError).code !== 'ENODEV') throw e;
    }
  });
  releaseNetwork({ network: config, lease, dirs });
}
