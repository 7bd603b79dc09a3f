/** Address verbs, named after `ip addr`. */
import { NsError, usageError } from 'ns-core/errors';
import type { AddrAttr, AddrMessage } from '../codec/addr';
import { attrValue } from '../codec/attr';
import { AF, IFA_F, NLM_F, RTM, RT_SCOPE } from '../codec/constants';
import { formatIp, networkOf, parseAddress, parseCidr, type Cidr } from '../codec/ip';
import type { NetlinkSocket } from '../transport/socket';
import { indexOf, linkList, type LinkRef } from './link';

/** An address as the kernel reports it (RTM_NEWADDR). */
export interface Address {
  readonly family: number;
  readonly index: number;
  readonly prefixlen: number;
  /** All IFA_F_* flags (IFA_FLAGS when present, else the 8 bits of ifa_flags). */
  readonly flags: number;
  readonly scope: number;
  /** The address itself (IFA_LOCAL, or IFA_ADDRESS where the kernel sends only that: IPv6). */
  readonly local: string | undefined;
  /** IFA_ADDRESS: the peer on point-to-point links; otherwise equal to local. */
  readonly address: string | undefined;
  readonly broadcast: string | undefined;
  readonly label: string | undefined;
  /** Seconds, 0xffffffff for forever. */
  readonly validLifetime: number | undefined;
  readonly preferredLifetime: number | undefined;
  readonly message: AddrMessage;
}

export interface AddrOptions {
  /** Peer address (a prefix) of a point-to-point address (`ip addr add A peer P`). */
  readonly peer?: string;
  /**
   * Broadcast address; '+' (or true) sets the host bits of the prefix, '-' clears them
   * (`brd +`, `brd -`). IPv4 only.
   */
  readonly broadcast?: string | true;
  readonly anycast?: string;
  readonly label?: string;
  /** Skip IPv6 duplicate address detection so the address is usable at once (`nodad`); ignored for IPv4. */
  readonly noDad?: boolean;
  /** IPv6: usable while DAD runs (`optimistic`). */
  readonly optimistic?: boolean;
  /** IPv6 mobile home address (`home`). */
  readonly home?: boolean;
  /** IPv6: make temporary addresses from this prefix (`mngtmpaddr`). */
  readonly manageTempAddr?: boolean;
  /** Do not add the prefix route (`noprefixroute`). */
  readonly noPrefixRoute?: boolean;
  /** Join the multicast group (`autojoin`); the address must be multicast. */
  readonly autoJoin?: boolean;
  /** RT_SCOPE_*; default: host for 127.0.0.0/8, else global, as `ip` chooses. */
  readonly scope?: number;
  /** Metric of the prefix route (`metric N`). */
  readonly metric?: number;
  /** Seconds, or 'forever' (the default). */
  readonly validLft?: number | 'forever';
  readonly preferredLft?: number | 'forever';
}

export function toAddress(message: AddrMessage): Address {
  const a = message.attrs;
  const address = attrValue(a, 'address');
  const cache = attrValue(a, 'cacheinfo');
  return {
    family: message.family, index: message.index, prefixlen: message.prefixlen,
    flags: attrValue(a, 'flags') ?? message.flags, scope: message.scope,
    local: attrValue(a, 'local') ?? address, address, broadcast: attrValue(a, 'broadcast'),
    label: attrValue(a, 'label'), validLifetime: cache?.valid, preferredLifetime: cache?.preferred, message,
  };
}

/** Equivalent to: `ip addr show [dev $link]` (filtered by the kernel: strict dump checking). */
export function addrList(nl: NetlinkSocket, filter: { link?: number; family?: number } = {}): Address[] {
  const body: AddrMessage = { family: filter.family ?? AF.UNSPEC, prefixlen: 0, flags: 0, scope: 0, index: filter.link ?? 0, attrs: [] };
  return nl.dump({ type: RTM.GETADDR, flags: 0, kind: 'addr', body }, 'ip addr show')
    .flatMap((m) => (m.kind === 'addr' ? [toAddress(m.body)] : []));
}

function cidrOf(cidr: Cidr | string, option: string): Cidr {
  return typeof cidr === 'string' ? parseCidr(cidr, option) : cidr;
}

const FOREVER = 0xffffffff;

function lifetime(v: number | 'forever' | undefined, option: string): number {
  if (v === undefined || v === 'forever') return FOREVER;
  if (!Number.isInteger(v) || v < 0 || v > FOREVER) throw usageError(`${option}: ${v} is not a number of seconds`);
  return v;
}

/**
 * The IFA_F_* flags a caller may set (the rest only the kernel sets). The IPv6-only ones are
 * left out for an IPv4 address, as ip leaves them out (with a warning): a caller can ask for
 * `noDad` on every address of a pair without knowing its family.
 */
function requestedFlags(o: AddrOptions, family: number): number {
  let flags = 0;
  if (family === AF.INET6) {
    if (o.noDad) flags |= IFA_F.NODAD;
    if (o.optimistic) flags |= IFA_F.OPTIMISTIC;
    if (o.home) flags |= IFA_F.HOMEADDRESS;
    if (o.manageTempAddr) flags |= IFA_F.MANAGETEMPADDR;
  }
  if (o.noPrefixRoute) flags |= IFA_F.NOPREFIXROUTE;
  if (o.autoJoin) flags |= IFA_F.MCAUTOJOIN;
  return flags;
}

/** The host bits of an IPv4 prefix all set (`brd +`) or all clear (`brd -`); none for /31 and /32. */
function broadcastOf(cidr: Cidr, set: boolean): string | undefined {
  // ip computes a broadcast only where the prefix leaves two host bits or more (ipaddress.c).
  if (cidr.prefixlen > 30) return undefined;
  const net = Buffer.from(cidr.bytes);
  for (let bit = cidr.prefixlen; bit < 32; bit++) {
    if (set) net[bit >> 3]! |= 0x80 >> (bit & 7);
    else net[bit >> 3]! &= ~(0x80 >> (bit & 7));
  }
  return formatIp(net);
}

/**
 * The request body `ip addr add/del` sends: IFA_LOCAL, the peer or the address again as
 * IFA_ADDRESS, then broadcast, label, lifetimes. A peer's prefix length is the one that counts.
 */
function addrMessage(index: number, cidr: Cidr, options: AddrOptions, del: boolean): AddrMessage {
  // In the order ip sends them for `ADDR [peer P] [brd B] [anycast A] [label L] [metric M]
  // [FLAGS]`: what is written, then the address again when there is no peer, then a
  // computed broadcast, then lifetimes.
  const attrs: AddrAttr[] = [{ kind: 'local', value: cidr.address }];
  const peer = options.peer !== undefined ? parseCidr(options.peer, 'peer') : undefined;
  if (peer && peer.family !== cidr.family) throw usageError(`peer: ${options.peer} is not in the family of ${cidr.address}`);
  if (peer) attrs.push({ kind: 'address', value: peer.address });
  const v4 = cidr.family === AF.INET;
  const b = options.broadcast;
  const computed = b === true || b === '+' || b === '-';
  if (b !== undefined && !v4) throw usageError('broadcast: only IPv4 addresses have one');
  if (b !== undefined && !computed) attrs.push({ kind: 'broadcast', value: parseAddress(b, 'broadcast').address });
  if (options.anycast !== undefined) attrs.push({ kind: 'anycast', value: parseAddress(options.anycast, 'anycast').address });
  if (options.label !== undefined) attrs.push({ kind: 'label', value: options.label });
  if (options.metric !== undefined) {
    if (!Number.isInteger(options.metric) || options.metric < 0 || options.metric > 0xffffffff) throw usageError(`metric: ${options.metric} is not a number`);
    attrs.push({ kind: 'rtPriority', value: options.metric });
  }
  const flags = requestedFlags(options, cidr.family);
  if (options.autoJoin && !(v4 ? (cidr.bytes[0]! & 0xf0) === 0xe0 : cidr.bytes[0] === 0xff)) throw usageError('autojoin needs multicast address');
  // ifa_flags holds 8 bits; the others only fit IFA_FLAGS (ip sends that only when needed).
  if (flags > 0xff) attrs.push({ kind: 'flags', value: flags });
  if (!peer) attrs.push({ kind: 'address', value: cidr.address });
  if (computed && !del) {
    const brd = broadcastOf(peer ?? cidr, b !== '-');
    if (brd !== undefined) attrs.push({ kind: 'broadcast', value: brd });
  }
  if (options.validLft !== undefined || options.preferredLft !== undefined) {
    const valid = lifetime(options.validLft, 'valid_lft');
    const preferred = lifetime(options.preferredLft, 'preferred_lft');
    if (valid === 0) throw usageError('valid_lft is zero');
    if (valid < preferred) throw usageError('preferred_lft is greater than valid_lft');
    attrs.push({ kind: 'cacheinfo', value: { preferred, valid, cstamp: 0, tstamp: 0 } });
  }
  // iproute2's default_scope(): 127.0.0.0/8 is host scope, everything else global; a delete
  // leaves it 0 so the kernel matches on address and prefix.
  const loopback = v4 && cidr.bytes[0] === 127;
  return {
    family: cidr.family, prefixlen: peer?.prefixlen ?? cidr.prefixlen, flags: flags <= 0xff ? flags : 0,
    scope: options.scope ?? (del || !loopback ? RT_SCOPE.UNIVERSE : RT_SCOPE.HOST), index, attrs,
  };
}

/**
 * Equivalent to: `ip addr add $cidr dev $link [peer P] [brd B|+|-] [label L] [scope S] [metric M] [nodad] ...`
 * @throws NsError EUSAGE for a bad CIDR or option before anything is sent; EEXIST if it is there already.
 */
export function addrAdd(nl: NetlinkSocket, ref: LinkRef, cidr: Cidr | string, options: AddrOptions = {}): void {
  const c = cidrOf(cidr, 'address');
  const body = addrMessage(indexOf(nl, ref), c, options, false);
  nl.request({ type: RTM.NEWADDR, flags: NLM_F.CREATE | NLM_F.EXCL, kind: 'addr', body }, `ip addr add ${c.address}/${c.prefixlen} dev ${ref}`);
}

/** Equivalent to: `ip addr replace $cidr dev $link ...` (adds, or changes flags and lifetimes of one that is there). */
export function addrReplace(nl: NetlinkSocket, ref: LinkRef, cidr: Cidr | string, options: AddrOptions = {}): void {
  const c = cidrOf(cidr, 'address');
  const body = addrMessage(indexOf(nl, ref), c, options, false);
  nl.request({ type: RTM.NEWADDR, flags: NLM_F.CREATE | NLM_F.REPLACE, kind: 'addr', body }, `ip addr replace ${c.address}/${c.prefixlen} dev ${ref}`);
}

/** Equivalent to: `ip addr del $cidr dev $link [peer P]` @throws NsError EADDRNOTAVAIL if it is not there. */
export function addrDelete(nl: NetlinkSocket, ref: LinkRef, cidr: Cidr | string, options: Pick<AddrOptions, 'peer' | 'label' | 'scope'> = {}): void {
  const c = cidrOf(cidr, 'address');
  const body = addrMessage(indexOf(nl, ref), c, options, true);
  nl.request({ type: RTM.DELADDR, flags: 0, kind: 'addr', body }, `ip addr del ${c.address}/${c.prefixlen} dev ${ref}`);
}

/** Equivalent to: `ip addr del $cidr dev $link` (the same as addrDelete). */
export const addrDel = addrDelete;

/** Which addresses `ip addr flush` removes: all of a link, of a family, a scope, a label... */
export interface AddrFlushFilter {
  readonly link?: LinkRef;
  readonly family?: number;
  readonly scope?: number;
  /** Exact label (IFA_LABEL, or the link's name for addresses without one). */
  readonly label?: string;
  /** Only addresses inside this prefix ("10.0.0.0/8"). */
  readonly to?: string;
  /** Only those with all of these IFA_F_* bits set... */
  readonly flags?: number;
  /** ...where these bits are looked at (secondary/permanent/...); default: flags. */
  readonly flagMask?: number;
}

/** The prefix test of `ip addr ... to PREFIX`: the first prefixlen bits are equal. */
function inPrefix(address: string | undefined, prefix: Cidr | undefined): boolean {
  if (!prefix) return true;
  if (address === undefined) return false;
  const ip = parseCidr(address, 'address');
  if (ip.family !== prefix.family) return false;
  return networkOf(ip.bytes, prefix.prefixlen).equals(networkOf(prefix.bytes, prefix.prefixlen));
}

/**
 * Equivalent to: `ip addr flush [dev $link] [scope S] [label L] [to P]`: deletes the matching
 * addresses, dumping again until none is left (deleting a primary can promote a secondary),
 * at most 10 rounds as ip. Addresses the kernel already took with another (EADDRNOTAVAIL)
 * count as gone. Returns how many delete requests were sent.
 * @throws NsError EBUSY if addresses remain after 10 rounds.
 */
export function addrFlush(nl: NetlinkSocket, filter: AddrFlushFilter = {}): number {
  const link = filter.link !== undefined ? indexOf(nl, filter.link) : undefined;
  const to = filter.to !== undefined ? parseCidr(filter.to, 'to') : undefined;
  const family = filter.family ?? to?.family;
  const mask = filter.flagMask ?? filter.flags ?? 0;
  let names: Map<number, string> | undefined;
  const labelOf = (a: Address) => {
    if (a.label !== undefined) return a.label;
    names ??= new Map(linkList(nl).map((l) => [l.index, l.name]));
    return names.get(a.index);
  };
  let sent = 0;
  for (let round = 0; round < 10; round++) {
    const victims = addrList(nl, { ...(link !== undefined ? { link } : {}), ...(family !== undefined ? { family } : {}) })
      .filter((a) => (link === undefined || a.index === link)
        && (family === undefined || a.family === family)
        && (filter.scope === undefined || a.scope === filter.scope)
        && ((a.flags ^ (filter.flags ?? 0)) & mask) === 0
        && (filter.label === undefined || labelOf(a) === filter.label)
        && inPrefix(a.local, to));
    if (victims.length === 0) return sent;
    for (const v of victims) {
      try {
        // The message as the kernel reported it, sent back as a delete: ip's way.
        nl.request({ type: RTM.DELADDR, flags: 0, kind: 'addr', body: v.message }, `ip addr flush: delete ${v.local}/${v.prefixlen}`);
      } catch (e) {
        if ((e as NsError).code !== 'EADDRNOTAVAIL') throw e;
      }
      sent++;
    }
  }
  throw new NsError({ errno: 16, code: 'EBUSY', message: 'ip addr flush: addresses remain after 10 rounds' });
}
