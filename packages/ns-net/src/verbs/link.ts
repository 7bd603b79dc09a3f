/** Link verbs, named after `ip link`; each takes the socket of the namespace to act in. */
import { NsError, usageError } from 'ns-core';
import {
  AF, IFF, IFNAMSIZ, NLM_F, RTEXT_FILTER, RTM, attrValue, linkKind,
  type LinkAttr, type LinkInfoAttr, type LinkMessage,
} from '../codec';
import type { NetlinkSocket } from '../transport';

/** A link by name or by ifindex. */
export type LinkRef = string | number;

/** What the kernel reports about a link (RTM_NEWLINK), with the common attributes lifted out. */
export interface Link {
  readonly index: number;
  readonly name: string;
  /** IFF_* flags. */
  readonly flags: number;
  /** ARPHRD_* type (1 ether, 772 loopback). */
  readonly type: number;
  readonly mtu: number | undefined;
  /** IF_OPER_* (see OPERSTATES). */
  readonly operstate: number | undefined;
  /** IFLA_INFO_KIND: 'veth', 'bridge'... */
  readonly kind: string | undefined;
  /** Ifindex of the bridge (or bond) this link is enslaved to. */
  readonly master: number | undefined;
  /** IFLA_LINK: the peer or parent's ifindex, in the namespace named by linkNetnsid if set. */
  readonly link: number | undefined;
  readonly linkNetnsid: number | undefined;
  readonly address: string | undefined;
  /** Everything the kernel said. */
  readonly message: LinkMessage;
}

/** The kernel's rules for an interface name (dev_valid_name()). @throws NsError EUSAGE naming `option`. */
export function validateIfname(name: string, option = 'interface name'): void {
  const bytes = Buffer.byteLength(name);
  if (bytes === 0) throw usageError(`${option}: name must not be empty`);
  if (bytes >= IFNAMSIZ) throw usageError(`${option}: '${name}' is ${bytes} bytes, longer than ${IFNAMSIZ - 1}`);
  if (name === '.' || name === '..') throw usageError(`${option}: '${name}' is not a valid interface name`);
  if (/[/:\s\0]/.test(name)) throw usageError(`${option}: '${name}' contains '/', ':', a space or a NUL`);
}

export function toLink(message: LinkMessage): Link {
  const a = message.attrs;
  return {
    index: message.index, name: attrValue(a, 'ifname') ?? '', flags: message.flags, type: message.type,
    mtu: attrValue(a, 'mtu'), operstate: attrValue(a, 'operstate'), kind: linkKind(message),
    master: attrValue(a, 'master'), link: attrValue(a, 'link'), linkNetnsid: attrValue(a, 'linkNetnsid'),
    address: attrValue(a, 'address'), message,
  };
}

/** How to make a link: name, kind, and the kind's own IFLA_INFO_DATA. Built by veth(), bridge(), dummy(). */
export interface LinkSpec {
  readonly name: string;
  readonly kind: string;
  readonly mtu?: number;
  readonly address?: string;
  readonly infoData?: LinkInfoAttr;
}

/** Where a veth's peer is created: by default beside it, else directly in another netns. */
export interface VethPeer {
  readonly name: string;
  /** Create the peer inside this network namespace (fd of /proc/PID/ns/net or a /run/netns file). */
  readonly netnsFd?: number;
  /** ...or inside the network namespace of this process. */
  readonly netnsPid?: number;
  readonly address?: string;
}

/**
 * A veth pair; `mtu` applies to both ends. Creating the peer inside its namespace costs ~1 ms;
 * moving it there later, ~16 ms of the kernel's RCU waits.
 */
export function veth(options: { name: string; peer: string | VethPeer; mtu?: number; address?: string }): LinkSpec {
  const peer = typeof options.peer === 'string' ? { name: options.peer } : options.peer;
  validateIfname(options.name, 'veth name');
  validateIfname(peer.name, 'veth peer name');
  const peerAttrs: LinkAttr[] = [{ kind: 'ifname', value: peer.name }];
  if (peer.address !== undefined) peerAttrs.push({ kind: 'address', value: peer.address });
  if (peer.netnsFd !== undefined) peerAttrs.push({ kind: 'netNsFd', value: peer.netnsFd });
  if (peer.netnsPid !== undefined) peerAttrs.push({ kind: 'netNsPid', value: peer.netnsPid });
  if (options.mtu !== undefined) peerAttrs.push({ kind: 'mtu', value: options.mtu });
  return {
    ...baseSpec(options, 'veth'),
    infoData: { kind: 'vethData', value: [{ kind: 'peer', value: { family: AF.UNSPEC, type: 0, index: 0, flags: 0, change: 0, attrs: peerAttrs } }] },
  };
}

export function bridge(options: { name: string; mtu?: number; address?: string }): LinkSpec {
  validateIfname(options.name, 'bridge name');
  return baseSpec(options, 'bridge');
}

/** A dummy link (needs the kernel's dummy driver, CONFIG_DUMMY). */
export function dummy(options: { name: string; mtu?: number; address?: string }): LinkSpec {
  validateIfname(options.name, 'dummy name');
  return baseSpec(options, 'dummy');
}

function baseSpec(options: { name: string; mtu?: number; address?: string }, kind: string): LinkSpec {
  return {
    name: options.name, kind,
    ...(options.mtu !== undefined ? { mtu: options.mtu } : {}),
    ...(options.address !== undefined ? { address: options.address } : {}),
  };
}

const link = (index: number, attrs: LinkAttr[], flags = 0, change = 0): LinkMessage =>
  ({ family: AF.UNSPEC, type: 0, index, flags, change, attrs });

/** A request body that selects a link by index, or by name when given one (the kernel looks it up). */
function selecting(ref: LinkRef, attrs: LinkAttr[] = [], flags = 0, change = 0): LinkMessage {
  if (typeof ref === 'number') return link(ref, attrs, flags, change);
  validateIfname(ref);
  return link(0, [{ kind: 'ifname', value: ref }, ...attrs], flags, change);
}

/** Equivalent to: `ip link show` (with a family, what that family's handler reports) */
export function linkList(nl: NetlinkSocket, filter: { family?: number } = {}): Link[] {
  const family = filter.family ?? AF.UNSPEC;
  // Per-family handlers (IPv6's) refuse attributes in the request under strict checking.
  const body = { ...link(0, family === AF.UNSPEC ? [{ kind: 'extMask', value: RTEXT_FILTER.SKIP_STATS }] : []), family };
  return nl.dump({ type: RTM.GETLINK, flags: 0, kind: 'link', body }, 'ip link show')
    .flatMap((m) => (m.kind === 'link' ? [toLink(m.body)] : []));
}

function linkGet(nl: NetlinkSocket, ref: LinkRef): Link {
  const [reply] = nl.request({ type: RTM.GETLINK, flags: 0, kind: 'link', body: selecting(ref, [{ kind: 'extMask', value: RTEXT_FILTER.SKIP_STATS }]) },
    `ip link show dev ${ref}`);
  if (reply?.kind !== 'link') throw new NsError({ errno: 71, code: 'EPROTO', message: `ip link show dev ${ref}: the kernel answered without a link` });
  return toLink(reply.body);
}

/** Equivalent to: `ip link show dev $name` @throws NsError ENODEV if there is none. */
export function linkByName(nl: NetlinkSocket, name: string): Link {
  return linkGet(nl, name);
}

/** The link with this ifindex. @throws NsError ENODEV if there is none. */
export function linkByIndex(nl: NetlinkSocket, index: number): Link {
  return linkGet(nl, index);
}

/** Ifindex of a link reference, asking the kernel only for names. */
export function indexOf(nl: NetlinkSocket, ref: LinkRef): number {
  return typeof ref === 'number' ? ref : linkByName(nl, ref).index;
}

/** Equivalent to: `ip link add $name [mtu N] [address A] type $kind [peer name $peer netns $fd]` */
export function linkAdd(nl: NetlinkSocket, spec: LinkSpec): void {
  validateIfname(spec.name);
  const info: LinkInfoAttr[] = [{ kind: 'infoKind', value: spec.kind }];
  if (spec.infoData) info.push(spec.infoData);
  const attrs: LinkAttr[] = [{ kind: 'ifname', value: spec.name }];
  if (spec.mtu !== undefined) attrs.push({ kind: 'mtu', value: spec.mtu });
  if (spec.address !== undefined) attrs.push({ kind: 'address', value: spec.address });
  attrs.push({ kind: 'linkinfo', value: info });
  nl.request({ type: RTM.NEWLINK, flags: NLM_F.CREATE | NLM_F.EXCL, kind: 'link', body: link(0, attrs) }, `ip link add ${spec.name} type ${spec.kind}`);
}

/** Equivalent to: `ip link del $link` (a veth goes with its peer). */
export function linkDel(nl: NetlinkSocket, ref: LinkRef): void {
  nl.request({ type: RTM.DELLINK, flags: 0, kind: 'link', body: selecting(ref) }, `ip link del ${ref}`);
}

function linkSet(nl: NetlinkSocket, ref: LinkRef, what: string, attrs: LinkAttr[], flags = 0, change = 0): void {
  nl.request({ type: RTM.NEWLINK, flags: 0, kind: 'link', body: selecting(ref, attrs, flags, change) }, `ip link set ${ref} ${what}`);
}

/** Equivalent to: `ip link set $link up` */
export function linkSetUp(nl: NetlinkSocket, ref: LinkRef): void {
  linkSet(nl, ref, 'up', [], IFF.UP, IFF.UP);
}

/** Equivalent to: `ip link set $link down` */
export function linkSetDown(nl: NetlinkSocket, ref: LinkRef): void {
  linkSet(nl, ref, 'down', [], 0, IFF.UP);
}

/** Equivalent to: `ip link set $link mtu $mtu` */
export function linkSetMtu(nl: NetlinkSocket, ref: LinkRef, mtu: number): void {
  if (!Number.isInteger(mtu) || mtu <= 0 || mtu > 0xffffffff) throw usageError(`mtu: ${mtu} is not a positive integer`);
  linkSet(nl, ref, `mtu ${mtu}`, [{ kind: 'mtu', value: mtu }]);
}

/** Equivalent to: `ip link set $link name $name` */
export function linkSetName(nl: NetlinkSocket, ref: LinkRef, name: string): void {
  validateIfname(name, 'new name');
  // IFLA_IFNAME carries the new name, so the link must be selected by index.
  linkSet(nl, indexOf(nl, ref), `name ${name}`, [{ kind: 'ifname', value: name }]);
}

/** Equivalent to: `ip link set $link netns $fd` (the kernel moves it: ~16 ms of RCU waits). */
export function linkSetNsFd(nl: NetlinkSocket, ref: LinkRef, netnsFd: number): void {
  linkSet(nl, ref, `netns fd ${netnsFd}`, [{ kind: 'netNsFd', value: netnsFd }]);
}

/** Equivalent to: `ip link set $link netns $pid` */
export function linkSetNsPid(nl: NetlinkSocket, ref: LinkRef, pid: number): void {
  linkSet(nl, ref, `netns ${pid}`, [{ kind: 'netNsPid', value: pid }]);
}

/** Equivalent to: `ip link set $link master $master`, or `nomaster` for null. */
export function linkSetMaster(nl: NetlinkSocket, ref: LinkRef, master: LinkRef | null): void {
  const index = master === null ? 0 : indexOf(nl, master);
  linkSet(nl, ref, master === null ? 'nomaster' : `master ${master}`, [{ kind: 'master', value: index }]);
}

/** Equivalent to: `ip link set lo up` */
export function loopbackUp(nl: NetlinkSocket): void {
  linkSetUp(nl, 'lo');
}
