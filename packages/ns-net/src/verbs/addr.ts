/** Address verbs, named after `ip addr`. */
import { usageError } from 'ns-core';
import {
  AF, IFA_F, NLM_F, RTM, RT_SCOPE, attrValue, formatIp, networkOf, parseAddress, parseCidr,
  type AddrAttr, type AddrMessage, type Cidr,
} from '../codec';
import type { NetlinkSocket } from '../transport';
import { indexOf, type LinkRef } from './link';

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
  /** Peer address of a point-to-point address (`ip addr add A peer P`). */
  readonly peer?: string;
  /** Broadcast address, or true to compute it from the prefix (`brd +`). IPv4 only. */
  readonly broadcast?: string | true;
  readonly label?: string;
  /** Skip IPv6 duplicate address detection so the address is usable at once (`nodad`). */
  readonly noDad?: boolean;
  /** RT_SCOPE_*; default: host for 127.0.0.0/8, else global, as `ip` chooses. */
  readonly scope?: number;
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

/** The request body `ip addr add/del` sends: IFA_LOCAL then IFA_ADDRESS (the peer, or the address again). */
function addrMessage(index: number, cidr: Cidr, options: AddrOptions): AddrMessage {
  const attrs: AddrAttr[] = [{ kind: 'local', value: cidr.address }];
  const peer = options.peer !== undefined ? parseAddress(options.peer, 'peer') : undefined;
  if (peer && peer.family !== cidr.family) throw usageError(`peer: ${options.peer} is not in the family of ${cidr.address}`);
  attrs.push({ kind: 'address', value: peer?.address ?? cidr.address });
  if (options.broadcast !== undefined) {
    if (cidr.family !== AF.INET) throw usageError('broadcast: only IPv4 addresses have one');
    attrs.push({ kind: 'broadcast', value: options.broadcast === true ? broadcastOf(cidr) : parseAddress(options.broadcast, 'broadcast').address });
  }
  if (options.label !== undefined) attrs.push({ kind: 'label', value: options.label });
  // iproute2's default_scope(): 127.0.0.0/8 is host scope, everything else global.
  const loopback = cidr.family === AF.INET && cidr.bytes[0] === 127;
  return {
    family: cidr.family, prefixlen: cidr.prefixlen, flags: options.noDad ? IFA_F.NODAD : 0,
    scope: options.scope ?? (loopback ? RT_SCOPE.HOST : RT_SCOPE.UNIVERSE), index, attrs,
  };
}

function broadcastOf(cidr: Cidr): string {
  const net = networkOf(cidr.bytes, cidr.prefixlen);
  for (let bit = cidr.prefixlen; bit < 32; bit++) net[bit >> 3]! |= 0x80 >> (bit & 7);
  return formatIp(net);
}

/**
 * Equivalent to: `ip addr add $cidr dev $link [peer P] [brd B] [label L] [nodad]`
 * @throws NsError EUSAGE for a bad CIDR before anything is sent; EEXIST if it is there already.
 */
export function addrAdd(nl: NetlinkSocket, ref: LinkRef, cidr: Cidr | string, options: AddrOptions = {}): void {
  const c = cidrOf(cidr, 'address');
  const body = addrMessage(indexOf(nl, ref), c, options);
  nl.request({ type: RTM.NEWADDR, flags: NLM_F.CREATE | NLM_F.EXCL, kind: 'addr', body }, `ip addr add ${c.address}/${c.prefixlen} dev ${ref}`);
}

/** Equivalent to: `ip addr del $cidr dev $link` */
export function addrDel(nl: NetlinkSocket, ref: LinkRef, cidr: Cidr | string): void {
  const c = cidrOf(cidr, 'address');
  // `ip addr del` leaves the scope 0; the kernel matches on address and prefix.
  const body = addrMessage(indexOf(nl, ref), c, { scope: RT_SCOPE.UNIVERSE });
  nl.request({ type: RTM.DELADDR, flags: 0, kind: 'addr', body }, `ip addr del ${c.address}/${c.prefixlen} dev ${ref}`);
}
