/**
 * Networks as state. A network's definition lives as long as the network (docker keeps them
 * across reboots): /var/lib/ns-run/networks/NAME.json. What its containers hold lives as long
 * as they run: /run/ns-run/networks/NAME/ with
 *
 *   lock          flock(2)ed by whoever reads or changes the leases (one writer at a time)
 *   leases.json   [{ container, address, aliases, hostInterface, owner }] replaced by rename(2)
 *   hosts         the network's names, rewritten in place under the lock
 *
 * and /run/ns-run/networks/.containers/CONTAINER.hosts, the names of every network a container
 * is on, which it binds on /etc/hosts (rewritten in place whenever one of those networks'
 * leases change).
 *   resolv.conf   the host's resolvers a container can reach
 *
 * A lease's owner is the runner that holds it, by pid and pidfd inode (state.ts ProcessRef):
 * a lease whose owner is gone (SIGKILLed runner) is stale, and whoever takes the lock next
 * drops it. An ordinary user's store is in their state directory (network-defs/, networks/),
 * their networks in their rootless network namespace (rootless.ts).
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { posix } from 'node:path';
import { NsError, sys, usageError } from 'ns-core';
import { codec, parseCidr } from 'ns-net';
import { defaultStateRoot, isAlive, privateDir, randomHex, removeFile, type ProcessRef } from '../runner/state';
import { intToIpv4, ipv4ToInt } from './addresses';

export const NETWORK_VERSION = 1;
/** docker's name for the default network; `none` and `host` are modes, not networks. */
export const DEFAULT_NETWORK = 'bridge';
/** Names that are modes of --network rather than networks. */
export const RESERVED_NETWORK_NAMES: readonly string[] = ['none', 'host', 'veth', 'pasta', 'default'];
/**
 * The default network's subnet, and the pool user networks' /24s come from: RFC 1918 space
 * common tools leave alone (docker 172.17+/16, podman 10.88/16; ns-run's /30s 10.231/16).
 */
export const DEFAULT_NETWORK_SUBNET = '10.230.0.0/16';
export const NETWORK_POOL = '10.232.0.0/16';
const POOL_PREFIX = 24;

export interface NetworkConfig {
  readonly version: number;
  readonly name: string;
  /** 12 hex digits, stable for the network's life (docker shows 12 of its id). */
  readonly id: string;
  /** The host's bridge: `nsbr0` for the default network, `nsbr-` and 10 hex of the id otherwise. */
  readonly bridge: string;
  /** IPv4 CIDR, network address first ("10.232.3.0/24"). */
  readonly subnet: string;
  /** The bridge's address, the containers' default route. */
  readonly gateway: string;
  /** IPv6 beside IPv4 (--ipv6): the subnet ("fd12:3456:789a::/64") and the bridge's address in it. */
  readonly subnet6?: string;
  readonly gateway6?: string;
  /** No egress: no masquerade, no forwarding out (docker's --internal). */
  readonly internal: boolean;
  readonly created: string;
}

export interface Lease {
  readonly container: string;
  readonly address: string;
  /** On an IPv6 network: the address at the same offset in subnet6. */
  readonly address6?: string;
  /** Other names the container answers to on this network (--network-alias). */
  readonly aliases: readonly string[];
  /** The host end of its veth, a port of the bridge. */
  readonly hostInterface: string;
  readonly owner: ProcessRef;
}

export interface NetworkDirs {
  /** Definitions: NAME.json. */
  readonly config: string;
  /** Runtime state: NAME/{lock,leases.json,hosts,resolv.conf}. */
  readonly run: string;
}

/** Docker's rule for network names. */
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

export function validateNetworkName(name: string, option = 'network'): string {
  if (!NAME_RE.test(name)) throw usageError(`${option}: '${name}' must be 1-63 characters of [a-zA-Z0-9_.-], starting with a letter or digit`);
  return name;
}

/**
 * Where root's networks are, or an ordinary user's: in their state directory (made private
 * if it is not there yet), the networks themselves in their rootless network namespace.
 */
export function defaultNetworkDirs(euid = process.geteuid!()): NetworkDirs {
  if (euid !== 0) return rootlessNetworkDirs(privateDir(defaultStateRoot(euid)));
  return { config: '/var/lib/ns-run/networks', run: '/run/ns-run/networks' };
}

/** An ordinary user's network directories, in their state directory. */
export function rootlessNetworkDirs(stateRoot: string): NetworkDirs {
  return { config: posix.join(stateRoot, 'network-defs'), run: posix.join(stateRoot, 'networks') };
}

/** The state directory an ordinary user's network directories are in. */
export function stateRootOf(dirs: NetworkDirs): string {
  return posix.dirname(dirs.run);
}

function fsError(e: unknown, syscall: string, path: string): NsError {
  return NsError.from(e, { syscall, path });
}

/**
 * mkdir -p. Runtime directories are 0711: a root runner's container root is another host user
 * (its user namespace range), which binds hosts and resolv.conf from here and must be able to
 * search the way to them (rootfs.ts checks); nothing here can be listed by others.
 */
function mkdirs(path: string, mode = 0o700): void {
  try {
    mkdirSync(path, { recursive: true, mode });
  } catch (e) {
    throw fsError(e, 'mkdir', path);
  }
}

/** Writes a file whole: readers see the old or the new one (rename(2)). */
export function replaceFile(path: string, text: string, mode = 0o600): void {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, text, { mode, flag: 'w' });
    renameSync(temp, path);
  } catch (e) {
    removeFile(temp);
    throw fsError(e, 'rename', path);
  }
}

/** Runs fn holding an exclusive flock(2) on `path` (created if missing); released however fn ends. */
export function withLock<T>(path: string, fn: () => T): T {
  let fd: number;
  try {
    fd = openSync(path, 'a', 0o600);
  } catch (e) {
    throw fsError(e, 'open', path);
  }
  try {
    sys.flock(fd, sys.LOCK_EX);
    return fn();
  } finally {
    // Closing the last fd of the open file description releases the lock.
    closeSync(fd);
  }
}

export function bridgeNameOf(name: string, id: string): string {
  return name === DEFAULT_NETWORK ? 'nsbr0' : `nsbr-${id.slice(0, 10)}`;
}

/** The usable addresses of an IPv4 subnet, as numbers: all but the network, the gateway (first) and broadcast. */
function hostRange(subnet: string): { first: number; last: number; network: number; prefixlen: number } {
  const { value, prefixlen } = ipv4ToInt(subnet, 'subnet');
  const size = 2 ** (32 - prefixlen);
  return { network: value >>> 0, prefixlen, first: (value + 2) >>> 0, last: (value + size - 2) >>> 0 };
}

/** Whether two subnets share an address (never across families). */
function overlaps(a: string, b: string): boolean {
  const x = parseCidr(a, 'subnet');
  const y = parseCidr(b, 'subnet');
  if (x.family !== y.family) return false;
  const prefix = Math.min(x.prefixlen, y.prefixlen);
  return codec.networkOf(x.bytes, prefix).equals(codec.networkOf(y.bytes, prefix));
}

/**
 * --subnet6: an IPv6 network by its network address, with at least as many host bits as
 * the IPv4 subnet (each container's IPv6 address is its IPv4 one's offset in it).
 * @throws NsError EUSAGE.
 */
export function parseNetworkSubnet6(text: string, hostBits4: number): string {
  const cidr = parseCidr(text, '--subnet6');
  if (cidr.family !== 10) throw usageError(`--subnet6: '${text}' is not an IPv6 network`);
  if (cidr.prefixlen < 16 || 128 - cidr.prefixlen < hostBits4) {
    throw usageError(`--subnet6: '${text}' must be a /16 to /${128 - hostBits4} (as many host addresses as the IPv4 subnet)`);
  }
  const network = codec.networkOf(cidr.bytes, cidr.prefixlen);
  if (!network.equals(cidr.bytes)) throw usageError(`--subnet6: '${text}' is not the network address of its subnet (${codec.formatIp(network)}/${cidr.prefixlen})`);
  return `${cidr.address}/${cidr.prefixlen}`;
}

/** The address `offset` past an IPv6 network's (whose host bits are zero, so no carry leaves them). */
export function ipv6At(subnet6: string, offset: number): string {
  const bytes = Buffer.from(parseCidr(subnet6, 'subnet6').bytes);
  bytes.writeUInt32BE((bytes.readUInt32BE(12) + offset) >>> 0, 12);
  return codec.formatIp(bytes);
}

/** A container's IPv6 address: its IPv4 address's offset in the IPv4 subnet, in subnet6. */
export function address6Of(config: NetworkConfig, address: string): string | undefined {
  if (config.subnet6 === undefined) return undefined;
  return ipv6At(config.subnet6, ((ipv4ToInt(address, 'address').value - ipv4ToInt(config.subnet, 'subnet').value) >>> 0));
}

/**
 * --subnet of `network create`: an IPv4 network by its network address, /8 to /30 (a
 * gateway and at least one container).
 * @throws NsError EUSAGE.
 */
export function parseNetworkSubnet(text: string): string {
  const { value, prefixlen } = ipv4ToInt(text, '--subnet');
  if (prefixlen < 8 || prefixlen > 30) throw usageError(`--subnet: '${text}' must be a /8 to /30`);
  const mask = (~0 << (32 - prefixlen)) >>> 0;
  if (((value & mask) >>> 0) !== value >>> 0) throw usageError(`--subnet: '${text}' is not the network address of its subnet (${intToIpv4((value & mask) >>> 0)}/${prefixlen})`);
  return `${intToIpv4(value >>> 0)}/${prefixlen}`;
}

/** The networks: definitions and leases, under `dirs`. */
export class NetworkStore {
  readonly dirs: NetworkDirs;

  constructor(dirs: NetworkDirs = defaultNetworkDirs()) {
    this.dirs = dirs;
  }

  configFile(name: string): string {
    return posix.join(this.dirs.config, `${validateNetworkName(name)}.json`);
  }

  runDir(name: string): string {
    return posix.join(this.dirs.run, validateNetworkName(name));
  }

  hostsFile(name: string): string {
    return posix.join(this.runDir(name), 'hosts');
  }

  /**
   * A container's own /etc/hosts: its every network's names (a container on two networks
   * sees the peers of both). Below a directory no network name can have (they start with a
   * letter or digit).
   */
  containerHostsFile(container: string): string {
    return posix.join(this.dirs.run, '.containers', `${validateNetworkName(container, 'container')}.hosts`);
  }

  /** Where ensureNetwork() keeps the ruleset generation it last found the rules whole at. */
  rulesStampFile(name: string): string {
    return posix.join(this.runDir(name), 'rules.genid');
  }

  resolvConfFile(name: string): string {
    return posix.join(this.runDir(name), 'resolv.conf');
  }

  /** Every network's definition, by name. */
  list(): NetworkConfig[] {
    let names: string[];
    try {
      names = readdirSync(this.dirs.config).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw fsError(e, 'scandir', this.dirs.config);
    }
    return names.filter((n) => NAME_RE.test(n)).sort().flatMap((n) => {
      try {
        return [this.read(n)];
      } catch (e) {
        // Removed between listing and reading.
        if ((e as NsError).code === 'ENOENT') return [];
        throw e;
      }
    });
  }

  /** @throws NsError ENOENT "no such network". */
  read(name: string): NetworkConfig {
    const file = this.configFile(name);
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as NetworkConfig;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NsError({ errno: 2, code: 'ENOENT', path: file, message: `network ${name} not found` });
      throw fsError(e, 'open', file);
    }
  }

  /** The network's definition; the default network is made on first use. */
  get(name: string): NetworkConfig {
    try {
      return this.read(name);
    } catch (e) {
      if ((e as NsError).code !== 'ENOENT' || name !== DEFAULT_NETWORK) throw e;
      try {
        return this.create(DEFAULT_NETWORK, { subnet: DEFAULT_NETWORK_SUBNET });
      } catch (e2) {
        // Made by a concurrent runner.
        if ((e2 as NsError).code === 'EEXIST') return this.read(name);
        throw e2;
      }
    }
  }

  /**
   * Defines a network: the given subnet, or the first /24 of NETWORK_POOL that no network has
   * and no address of ours is in (`inUse`: the host's IPv4 networks).
   * @throws NsError EEXIST for a taken name, EUSAGE for a reserved one or an overlapping subnet.
   */
  create(name: string, options: { subnet?: string; internal?: boolean; ipv6?: boolean; subnet6?: string; inUse?: readonly string[] } = {}): NetworkConfig {
    validateNetworkName(name);
    if (RESERVED_NETWORK_NAMES.includes(name)) throw usageError(`'${name}' is a --network mode, not a network name`);
    if (options.subnet6 !== undefined && !options.ipv6) throw usageError('--subnet6: only with --ipv6');
    mkdirs(this.dirs.config);
    return withLock(posix.join(this.dirs.config, '.lock'), () => {
      const file = this.configFile(name);
      const others = this.list();
      if (others.some((n) => n.name === name)) throw new NsError({ errno: 17, code: 'EEXIST', path: file, message: `network with name ${name} already exists` });
      let subnet: string;
      if (options.subnet !== undefined) {
        subnet = parseNetworkSubnet(options.subnet);
        const clash = others.find((n) => overlaps(n.subnet, subnet));
        if (clash) throw usageError(`--subnet: ${subnet} overlaps network ${clash.name}'s ${clash.subnet}`);
      } else {
        subnet = this.#freeSubnet([...others.map((n) => n.subnet), ...(options.inUse ?? [])]);
      }
      const id = randomHex(6);
      let subnet6: string | undefined;
      if (options.ipv6) {
        // Default: a unique local /64 (RFC 4193) from the network's id, as podman picks one.
        subnet6 = parseNetworkSubnet6(options.subnet6 ?? `fd${id.slice(0, 2)}:${id.slice(2, 6)}:${id.slice(6, 10)}::/64`, 32 - ipv4ToInt(subnet, 'subnet').prefixlen);
        const s6 = subnet6;
        const clash = others.find((n) => n.subnet6 !== undefined && overlaps(n.subnet6, s6));
        if (clash) throw usageError(`--subnet6: ${subnet6} overlaps network ${clash.name}'s ${clash.subnet6}`);
      }
      const config: NetworkConfig = {
        version: NETWORK_VERSION, name, id, bridge: bridgeNameOf(name, id), subnet,
        gateway: intToIpv4((ipv4ToInt(subnet, 'subnet').value + 1) >>> 0),
        ...(subnet6 !== undefined ? { subnet6, gateway6: ipv6At(subnet6, 1) } : {}),
        internal: options.internal ?? false, created: new Date().toISOString(),
      };
      try {
        writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      } catch (e) {
        throw fsError(e, 'open', file);
      }
      return config;
    });
  }

  #freeSubnet(taken: readonly string[]): string {
    const pool = ipv4ToInt(NETWORK_POOL, 'pool');
    const blocks = 2 ** (POOL_PREFIX - pool.prefixlen);
    for (let i = 0; i < blocks; i++) {
      const candidate = `${intToIpv4((pool.value + i * 2 ** (32 - POOL_PREFIX)) >>> 0)}/${POOL_PREFIX}`;
      if (!taken.some((t) => overlaps(t, candidate))) return candidate;
    }
    throw new NsError({ errno: 98, code: 'EADDRINUSE', message: `no free /${POOL_PREFIX} left in ${NETWORK_POOL}; give one with --subnet` });
  }

  /** Removes the definition and the runtime directory (the caller checked it is unused). */
  delete(name: string): void {
    withLock(posix.join(this.dirs.config, '.lock'), () => removeFile(this.configFile(name)));
    rmSync(this.runDir(name), { recursive: true, force: true });
  }

  /**
   * Runs `remove` under the network's lease lock if no live container holds a lease (so no
   * run can lease between the check and the removal), then deletes the network's state.
   * @throws NsError EBUSY naming the containers.
   */
  deleteUnused(config: NetworkConfig, remove: () => void): void {
    const dir = this.runDir(config.name);
    mkdirs(dir, 0o711);
    withLock(posix.join(dir, 'lock'), () => {
      const users = this.#readLeases(config.name).filter((l) => isAlive(l.owner));
      if (users.length) {
        const names = users.map((u) => u.container).join(', ');
        throw new NsError({ errno: 16, code: 'EBUSY', message: `network ${config.name} is in use by container${users.length > 1 ? 's' : ''} ${names}; stop ${users.length > 1 ? 'them' : 'it'} first` });
      }
      remove();
      withLock(posix.join(this.dirs.config, '.lock'), () => removeFile(this.configFile(config.name)));
    });
    rmSync(dir, { recursive: true, force: true });
  }

  /**
   * Runs fn on the network's live leases under its lock: stale ones (owner gone) are dropped
   * first; what fn returns as `leases` is written back, and the hosts file with it.
   */
  withLeases<T>(config: NetworkConfig, fn: (leases: Lease[]) => { leases?: Lease[]; result: T }): T {
    const dir = this.runDir(config.name);
    mkdirs(dir, 0o711);
    return withLock(posix.join(dir, 'lock'), () => {
      // Removed (network rm) while we waited for the lock: nothing may be leased on it now.
      if (!existsSync(this.configFile(config.name))) {
        throw new NsError({ errno: 2, code: 'ENOENT', path: this.configFile(config.name), message: `network ${config.name} not found` });
      }
      const stored = this.#readLeases(config.name);
      const live = stored.filter((l) => isAlive(l.owner));
      const { leases, result } = fn(live);
      const next = leases ?? live;
      if (next.length !== stored.length || leases) {
        replaceFile(posix.join(dir, 'leases.json'), `${JSON.stringify(next, null, 2)}\n`);
      }
      this.#writeHosts(config, next);
      // Whoever was or is on this network: their own files change with its leases.
      this.#writeContainerHosts([...new Set([...stored, ...next].map((l) => l.container))]);
      return result;
    });
  }

  /** Leases as last written, without taking the lock or dropping stale ones (for ls/inspect). */
  leasesOf(name: string): Lease[] {
    return this.#readLeases(name);
  }

  #readLeases(name: string): Lease[] {
    const file = posix.join(this.runDir(name), 'leases.json');
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as Lease[];
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw fsError(e, 'open', file);
    }
  }

  /**
   * The network's names as /etc/hosts lines. Written in place (truncate and write), not by
   * rename: containers have this file bound on their /etc/hosts, and a bind mount holds the
   * inode it was made with.
   */
  #writeHosts(config: NetworkConfig, leases: readonly Lease[]): void {
    writeInPlace(this.hostsFile(config.name), hostsText(leases));
  }

  /**
   * Rewrites the own hosts files of `containers` from every network's leases as written:
   * a container's networks in name order, each with its members' lines. A container on no
   * network any more loses its file (a bind of it keeps the inode it was made with). Under a
   * lock of their own, taken inside a network's (never the other way round): two networks'
   * writers must not each write what they read before the other's change.
   */
  #writeContainerHosts(containers: readonly string[]): void {
    if (!containers.length) return;
    const dir = posix.dirname(this.containerHostsFile(containers[0]!));
    mkdirs(dir, 0o711);
    withLock(posix.join(dir, 'lock'), () => {
      const byNetwork = this.list().map((n) => this.#readLeases(n.name));
      for (const container of containers) {
        const file = this.containerHostsFile(container);
        const networks = byNetwork.filter((leases) => leases.some((l) => l.container === container));
        if (!networks.length) removeFile(file);
        else writeInPlace(file, hostsText(networks.flat()));
      }
    });
  }

  /** A free address of the network (not the gateway, not one of `leases`). */
  static freeAddress(config: NetworkConfig, leases: readonly Lease[]): string {
    const range = hostRange(config.subnet);
    const taken = new Set(leases.map((l) => ipv4ToInt(l.address, 'lease').value >>> 0));
    for (let a = range.first; a <= range.last; a++) if (!taken.has(a)) return intToIpv4(a);
    throw new NsError({ errno: 98, code: 'EADDRINUSE', message: `network ${config.name}: every address of ${config.subnet} is leased` });
  }

  static prefixlenOf(config: NetworkConfig): number {
    return hostRange(config.subnet).prefixlen;
  }
}

/** /etc/hosts lines for leases: localhost, then each lease's addresses with its names. */
function hostsText(leases: readonly Lease[]): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback',
                 ...leases.flatMap((l) => [l.address, ...(l.address6 !== undefined ? [l.address6] : [])]
                   .map((a) => `${a}\t${[l.container, ...l.aliases].join(' ')}`))];
  return `${lines.join('\n')}\n`;
}

/** Truncates and writes, keeping the inode (a bind mount of the file holds it). */
function writeInPlace(file: string, text: string): void {
  try {
    writeFileSync(file, text, { mode: 0o644 });
  } catch (e) {
    throw fsError(e, 'open', file);
  }
}

/**
 * resolv.conf for a container: the host's, without loopback nameservers (127.0.0.53 of
 * systemd-resolved, a local dnsmasq), which a container's own loopback does not reach; if none
 * is left, docker's fallback of public resolvers. An internal network has no route to any.
 * With `forwardedTo` (pasta's DNS forward address) that address alone: pasta sends what
 * reaches it to the host's first resolver, loopback or not, and rewrites that resolver's
 * answers to come from it, so a client connected to the resolver itself (glibc's is) would
 * never see them.
 */
export function containerResolvConf(hostText: string, internal: boolean, forwardedTo?: string): string {
  const lines = hostText.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.startsWith(';'));
  const isLoopback = (l: string) => /^nameserver\s+(127\.|::1\b|0\.0\.0\.0)/.test(l);
  const servers = forwardedTo !== undefined ? [`nameserver ${forwardedTo}`] : lines.filter((l) => l.startsWith('nameserver') && !isLoopback(l));
  const rest = lines.filter((l) => !l.startsWith('nameserver'));
  const chosen = internal ? [] : servers.length ? servers : ['nameserver 8.8.8.8', 'nameserver 8.8.4.4'];
  return `# written by ns-run\n${[...rest, ...chosen].join('\n')}\n`;
}

/** The host's resolv.conf ('' when the host has none: the container gets the fallback). */
export function readHostResolvConf(hostFile = '/etc/resolv.conf'): string {
  try {
    return readFileSync(hostFile, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(e, 'open', hostFile);
    return '';
  }
}

/**
 * Replaced only when it changes: a container starting meanwhile holds a clone of the file's
 * mount to attach on its /etc/resolv.conf, and move_mount(2) refuses a tree whose root was
 * unlinked (ENOENT), which every rename over it by another container's start would do.
 */
export function replaceIfChanged(file: string, text: string, mode = 0o644): void {
  if (readIfThere(file) !== text) replaceFile(file, text, mode);
}

export function writeResolvConf(store: NetworkStore, config: NetworkConfig, hostFile = '/etc/resolv.conf'): string {
  const file = store.resolvConfFile(config.name);
  mkdirs(posix.dirname(file), 0o711);
  replaceIfChanged(file, containerResolvConf(readHostResolvConf(hostFile), config.internal));
  return file;
}

function readIfThere(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fsError(e, 'open', file);
  }
}
