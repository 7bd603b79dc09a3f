/**
 * Published ports as root, as docker publishes them with userland-proxy=false: DNAT rules in
 * ns-net's engine (`inet nstools`: prerouting for traffic from outside, output for the host's
 * own, masquerade for connections from the host's loopback and for the container reaching
 * its own port), plus route_localnet on the interface towards the container so that
 * 127.0.0.1:PORT works from the host. No process of ours carries the bytes.
 *
 * The rules' owner names the container and the process that holds them (pid and pidfd
 * inode, as a lease's owner): `ns-run publish NAME PID:INODE`. They go when the container
 * does (its runner removes them; a janitor when the runner was killed) and, should both be
 * gone, the next ns-run that publishes or touches a network drops rules whose holder is gone
 * (reclaimStalePublished).
 *
 * The host port is also held by a listening socket in the runner (the caller's PortProxy,
 * which never dials): docker too binds a published port to reserve it, so that a host
 * program that has it already fails the run (EADDRINUSE), and a later one cannot take it.
 */
import { NsError } from 'ns-core';
import { NftEngine, NftHandle, publishRules, publishSysctls, sysctlApply, type EngineRule, type PublishSpec as EnginePublishSpec } from 'ns-net';
import { isAlive, type ProcessRef } from '../runner/state';
import type { PublishSpec } from './publish';

const OWNER_PREFIX = 'ns-run publish ';

/** The engine owner of a container's published ports. */
export function publishOwner(container: string, holder: ProcessRef): string {
  return `${OWNER_PREFIX}${container} ${holder.pid}:${holder.inode}`;
}

/** The holder a publish owner names, or undefined for another kind of owner. */
export function holderOf(owner: string): ProcessRef | undefined {
  const m = /^ns-run publish \S+ (\d+):(\d+)$/.exec(owner);
  return m ? { pid: Number(m[1]), inode: Number(m[2]) } : undefined;
}

export interface PublishTarget {
  readonly container: string;
  /** Who holds the rules (the runner, or a detached container's supervisor). */
  readonly holder: ProcessRef;
  /** The container's address and the host's interface towards it (bridge or veth host end). */
  readonly address: string;
  readonly ifname: string;
  readonly ports: readonly PublishSpec[];
}

/** A port as the engine publishes it (0.0.0.0 is "every address of the host"). */
function engineSpec(p: PublishSpec, target: Pick<PublishTarget, 'address' | 'ifname'>): EnginePublishSpec {
  return {
    proto: 'tcp', hostPort: p.hostPort, address: target.address, port: p.containerPort, ifname: target.ifname,
    ...(p.hostAddress !== '0.0.0.0' ? { hostAddress: p.hostAddress } : {}),
  };
}

/** The engine's rules for a container's ports. */
export function publishedRules(target: Pick<PublishTarget, 'address' | 'ifname' | 'ports'>): EngineRule[] {
  return target.ports.flatMap((p) => publishRules(engineSpec(p, target)));
}

/**
 * route_localnet on the interface towards the container (127.0.0.1:PORT from the host). The
 * interface must exist: a veth's host end is made at the spawn's sync point, so a caller with
 * one sets this once the container runs.
 */
export function enableLocalnet(target: Pick<PublishTarget, 'address' | 'ifname' | 'ports'>): void {
  const settings = new Map(target.ports.flatMap((p) => publishSysctls(engineSpec(p, target))).map((s) => [s.key, s]));
  sysctlApply([...settings.values()]);
}

/**
 * Adds the container's DNAT rules; a live container's rules for the same port refuse it
 * (after dropping those of holders that are gone).
 * @returns the owner, for removePublished.
 * @throws NsError EADDRINUSE naming the port and the container that has it.
 */
export function addPublished(target: PublishTarget): string {
  if (!target.ports.length) return '';
  const owner = publishOwner(target.container, target.holder);
  NftHandle.current().use((nft) => {
    const engine = new NftEngine(nft);
    dropStale(engine);
    for (const listed of engine.list()) {
      if (listed.owner === undefined || holderOf(listed.owner) === undefined || listed.owner === owner) continue;
      const rule = listed.rule;
      if (!rule || !('nat' in rule.action) || rule.action.nat !== 'dnat') continue;
      const dport = rule.matches.find((m) => m.match === 'dport');
      const daddr = rule.matches.find((m) => m.match === 'daddr');
      const theirs = daddr && 'cidr' in daddr ? daddr.cidr : '0.0.0.0';
      const clash = dport && 'port' in dport && target.ports.find((p) => dport.port === p.hostPort
        && (theirs === '0.0.0.0' || p.hostAddress === '0.0.0.0' || p.hostAddress === theirs));
      if (clash) {
        throw new NsError({ errno: 98, code: 'EADDRINUSE', step: '--publish', message: `--publish ${clash.hostPort}: the port is published by container ${listed.owner.split(' ')[2]} already` });
      }
    }
    engine.apply(owner, publishedRules(target));
  });
  return owner;
}

/** Removes an owner's rules (the table with the last owner's). Idempotent. */
export function removePublished(owner: string): void {
  if (!owner) return;
  NftHandle.current().use((nft) => new NftEngine(nft).remove(owner));
}

function dropStale(engine: NftEngine): string[] {
  const stale = engine.owners().filter((o) => {
    const holder = holderOf(o);
    return holder !== undefined && !isAlive(holder);
  });
  for (const o of stale) engine.remove(o);
  return stale;
}

/**
 * Drops the published ports of containers whose holder is gone (a runner and its janitor
 * both killed). Without a table (nothing published, no network yet) it makes nothing.
 * @returns the owners dropped.
 */
export function reclaimStalePublished(): string[] {
  return NftHandle.current().use((nft) => dropStale(new NftEngine(nft)));
}
