/** Link verbs, named after `ip link`; each takes the socket of the namespace to act in. */
import { NsError, usageError } from 'ns-core/errors';
import { Namespace } from 'ns-core/namespace';
import { attrValue } from '../codec/attr';
import { AF, IFF, IFNAMSIZ, MACVLAN_MODE, NLM_F, RTEXT_FILTER, RTM } from '../codec/constants';
import { linkKind, type BridgeAttr, type LinkAttr, type LinkInfoAttr, type LinkMessage } from '../codec/link';
import type { NetlinkSocket } from '../transport/socket';

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

/** How to make a link: name, kind, and the kind's own IFLA_INFO_DATA. Built by veth(), bridge(), dummy(), macvlan(). */
export interface LinkSpec {
  readonly name: string;
  readonly kind: string;
  readonly mtu?: number;
  readonly address?: string;
  readonly txqlen?: number;
  /** The link this one sits on (IFLA_LINK: a macvlan's parent). */
  readonly link?: LinkRef;
  /** Create the link directly inside another network namespace. */
  readonly netns?: NetnsRef;
  /** A veth's peer: created directly inside this network namespace. */
  readonly peerNetns?: NetnsRef;
  readonly infoData?: LinkInfoAttr;
}

/**
 * A network namespace a link goes to: an fd (of /proc/PID/ns/net or a /run/netns file), the
 * namespace of a process, or a name under /run/netns (opened for the request and closed).
 */
export type NetnsRef = { readonly fd: number } | { readonly pid: number } | { readonly name: string };

/** Where a veth's peer is created: by default beside it, else directly in another netns. */
export interface VethPeer {
  readonly name: string;
  /** Create the peer inside this network namespace (fd of /proc/PID/ns/net or a /run/netns file). */
  readonly netnsFd?: number;
  /** ...or inside the network namespace of this process. */
  readonly netnsPid?: number;
  /** ...or inside any namespace reference (a name under /run/netns, a pid, an fd). */
  readonly netns?: NetnsRef;
  readonly address?: string;
  readonly mtu?: number;
}

/**
 * A veth pair; `mtu` applies to both ends unless the peer has its own. Creating the peer
 * inside its namespace costs ~1 ms; moving it there later, ~16 ms of the kernel's RCU waits.
 */
export function veth(options: { name: string; peer: string | VethPeer; mtu?: number; address?: string; netns?: NetnsRef }): LinkSpec {
  const peer: VethPeer = typeof options.peer === 'string' ? { name: options.peer } : options.peer;
  validateIfname(options.name, 'veth name');
  validateIfname(peer.name, 'veth peer name');
  // In ip's order: the peer's own options, then (in linkAdd) its namespace, then its name.
  const peerAttrs: LinkAttr[] = [];
  if (peer.address !== undefined) peerAttrs.push({ kind: 'address', value: peer.address });
  const mtu = peer.mtu ?? options.mtu;
  if (mtu !== undefined) peerAttrs.push({ kind: 'mtu', value: mtu });
  peerAttrs.push({ kind: 'ifname', value: peer.name });
  const peerNetns: NetnsRef | undefined = peer.netns
    ?? (peer.netnsFd !== undefined ? { fd: peer.netnsFd } : peer.netnsPid !== undefined ? { pid: peer.netnsPid } : undefined);
  return {
    ...baseSpec(options, 'veth'),
    ...(peerNetns !== undefined ? { peerNetns } : {}),
    infoData: { kind: 'vethData', value: [{ kind: 'peer', value: { family: AF.UNSPEC, type: 0, index: 0, flags: 0, change: 0, attrs: peerAttrs } }] },
  };
}

/** What a container bridge may set at creation (ip-link(8) "type bridge"); times in centiseconds. */
export interface BridgeOptions {
  readonly name: string;
  readonly mtu?: number;
  readonly address?: string;
  /** 0: no spanning tree (the kernel default), 1: kernel STP. */
  readonly stpState?: number;
  readonly forwardDelay?: number;
  readonly helloTime?: number;
  readonly maxAge?: number;
  readonly ageingTime?: number;
  readonly priority?: number;
  /** 1: forward by VLAN (bridge vlan ...), 0: ignore VLAN tags. */
  readonly vlanFiltering?: number;
  readonly vlanDefaultPvid?: number;
  readonly mcastSnooping?: number;
}

const BRIDGE_OPTIONS: readonly [keyof BridgeOptions, BridgeAttr['kind'], number][] = [
  ['forwardDelay', 'forwardDelay', 0xffffffff], ['helloTime', 'helloTime', 0xffffffff], ['maxAge', 'maxAge', 0xffffffff],
  ['ageingTime', 'ageingTime', 0xffffffff], ['stpState', 'stpState', 0xffffffff], ['priority', 'priority', 0xffff],
  ['vlanFiltering', 'vlanFiltering', 0xff], ['vlanDefaultPvid', 'vlanDefaultPvid', 0xffff], ['mcastSnooping', 'mcastSnooping', 0xff],
];

/** A bridge, with the attributes a container bridge sets (ip link add NAME type bridge stp_state 0 ...). */
export function bridge(options: BridgeOptions): LinkSpec {
  validateIfname(options.name, 'bridge name');
  const data: BridgeAttr[] = [];
  // In the caller's order, as ip sends them in the order they are written.
  for (const [option, v] of Object.entries(options) as [keyof BridgeOptions, unknown][]) {
    const entry = BRIDGE_OPTIONS.find(([o]) => o === option);
    if (!entry || v === undefined) continue;
    const [, kind, max] = entry;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw usageError(`bridge ${option}: ${String(v)} is not an integer 0-${max}`);
    data.push({ kind, value: v } as BridgeAttr);
  }
  return { ...baseSpec(options, 'bridge'), ...(data.length ? { infoData: { kind: 'bridgeData', value: data } } : {}) };
}

/** A dummy link (needs the kernel's dummy driver, CONFIG_DUMMY). */
export function dummy(options: { name: string; mtu?: number; address?: string }): LinkSpec {
  validateIfname(options.name, 'dummy name');
  return baseSpec(options, 'dummy');
}

export type MacvlanMode = 'private' | 'vepa' | 'bridge' | 'passthru' | 'source';
const MACVLAN_MODES: Record<MacvlanMode, number> = {
  private: MACVLAN_MODE.PRIVATE, vepa: MACVLAN_MODE.VEPA, bridge: MACVLAN_MODE.BRIDGE,
  passthru: MACVLAN_MODE.PASSTHRU, source: MACVLAN_MODE.SOURCE,
};

/** A macvlan on `link` (ip link add NAME link PARENT type macvlan mode MODE); the kernel's default mode is vepa. */
export function macvlan(options: { name: string; link: LinkRef; mode?: MacvlanMode; mtu?: number; address?: string; netns?: NetnsRef }): LinkSpec {
  validateIfname(options.name, 'macvlan name');
  if (options.mode !== undefined && !Object.hasOwn(MACVLAN_MODES, options.mode)) {
    throw usageError(`macvlan mode: '${String(options.mode)}' is not one of ${Object.keys(MACVLAN_MODES).join(', ')}`);
  }
  return {
    ...baseSpec(options, 'macvlan'), link: options.link,
    ...(options.mode !== undefined ? { infoData: { kind: 'macvlanData', value: [{ kind: 'mode', value: MACVLAN_MODES[options.mode] }] } } : {}),
  };
}

function baseSpec(options: { name: string; mtu?: number; address?: string; netns?: NetnsRef }, kind: string): LinkSpec {
  if (options.mtu !== undefined) checkMtu(options.mtu);
  return {
    name: options.name, kind,
    ...(options.mtu !== undefined ? { mtu: options.mtu } : {}),
    ...(options.address !== undefined ? { address: options.address } : {}),
    ...(options.netns !== undefined ? { netns: options.netns } : {}),
  };
}

function checkMtu(mtu: number): void {
  if (!Number.isInteger(mtu) || mtu <= 0 || mtu > 0xffffffff) throw usageError(`mtu: ${mtu} is not a positive integer`);
}

const link = (index: number, attrs: LinkAttr[], flags = 0, change = 0): LinkMessage =>
  ({ family: AF.UNSPEC, type: 0, index, flags, change, attrs });

/** A request body that selects a link by index, or by name when given one (the kernel looks it up). */
function selecting(ref: LinkRef, attrs: LinkAttr[] = [], flags = 0, change = 0): LinkMessage {
  if (typeof ref === 'number') return link(ref, attrs, flags, change);
  validateIfname(ref);
  return link(0, [{ kind: 'ifname', value: ref }, ...attrs], flags, change);
}

export interface LinkListFilter {
  /** AF_UNSPEC (default), AF_PACKET as `ip link` asks, or a family whose own handler answers (AF_INET6). */
  readonly family?: number;
  /** Include the counters (IFLA_STATS64); left out by default, as they cost the kernel a walk per link. */
  readonly stats?: boolean;
  /** Only the links enslaved to this ifindex (the kernel filters: strict dump checking). */
  readonly master?: number;
  /** Only links of this IFLA_INFO_KIND (the kernel filters). */
  readonly kind?: string;
}

function extMask(stats: boolean | undefined): LinkAttr {
  return { kind: 'extMask', value: RTEXT_FILTER.VF | (stats ? 0 : RTEXT_FILTER.SKIP_STATS) };
}

/** Equivalent to: `ip link show [master M] [type T]` (with a family, what that family's handler reports) */
export function linkList(nl: NetlinkSocket, filter: LinkListFilter = {}): Link[] {
  const family = filter.family ?? AF.UNSPEC;
  const attrs: LinkAttr[] = [];
  // Per-family handlers (IPv6's) refuse attributes in the request under strict checking.
  if (family === AF.UNSPEC || family === AF.PACKET) {
    attrs.push(extMask(filter.stats));
    if (filter.master !== undefined) attrs.push({ kind: 'master', value: filter.master });
    if (filter.kind !== undefined) attrs.push({ kind: 'linkinfo', value: [{ kind: 'infoKind', value: filter.kind }] });
  }
  return nl.dump({ type: RTM.GETLINK, flags: 0, kind: 'link', body: { ...link(0, attrs), family } }, 'ip link show')
    .flatMap((m) => (m.kind === 'link' ? [toLink(m.body)] : []));
}

function linkGet(nl: NetlinkSocket, ref: LinkRef, options: { stats?: boolean } = {}): Link {
  const attrs: LinkAttr[] = [extMask(options.stats)];
  let body: LinkMessage;
  if (typeof ref === 'number') body = link(ref, attrs);
  else {
    // Names a link's IFLA_IFNAME cannot hold are looked up among its alternative names, as ip does.
    const alt = Buffer.byteLength(ref) >= IFNAMSIZ;
    if (!alt) validateIfname(ref);
    else if (ref.includes('\0') || Buffer.byteLength(ref) > 127) throw usageError(`interface name: '${ref}' is not a valid name`);
    body = link(0, [...attrs, { kind: alt ? 'altIfname' : 'ifname', value: ref }]);
  }
  const [reply] = nl.request({ type: RTM.GETLINK, flags: 0, kind: 'link', body }, `ip link show dev ${ref}`);
  if (reply?.kind !== 'link') throw new NsError({ errno: 71, code: 'EPROTO', message: `ip link show dev ${ref}: the kernel answered without a link` });
  return toLink(reply.body);
}

/** Equivalent to: `ip link show dev $name` @throws NsError ENODEV if there is none. */
export function linkByName(nl: NetlinkSocket, name: string, options?: { stats?: boolean }): Link {
  return linkGet(nl, name, options);
}

/** The link with this ifindex. @throws NsError ENODEV if there is none. */
export function linkByIndex(nl: NetlinkSocket, index: number, options?: { stats?: boolean }): Link {
  return linkGet(nl, index, options);
}

/** Ifindex of a link reference, asking the kernel only for names. */
export function indexOf(nl: NetlinkSocket, ref: LinkRef): number {
  return typeof ref === 'number' ? ref : linkByName(nl, ref).index;
}

/** The attribute that sends a link to a namespace, and a cleanup closing what was opened for it. */
function netnsAttr(ref: NetnsRef, path: (name: string) => string): { attr: LinkAttr; close(): void } {
  if ('fd' in ref) return { attr: { kind: 'netNsFd', value: ref.fd }, close: () => undefined };
  if ('pid' in ref) {
    if (!Number.isInteger(ref.pid) || ref.pid <= 0) throw usageError(`netns: '${ref.pid}' is not a pid`);
    return { attr: { kind: 'netNsPid', value: ref.pid }, close: () => undefined };
  }
  const ns = Namespace.open(path(ref.name), 'net');
  return { attr: { kind: 'netNsFd', value: ns.fd }, close: () => ns.close() };
}

/** /run/netns/NAME, as ip-netns(8) names namespaces; a name with '/' is a path already. */
function netnsFile(name: string): string {
  return name.includes('/') ? name : `/run/netns/${name}`;
}

/**
 * Equivalent to: `ip link add $name [link P] [mtu N] [address A] [netns NS] type $kind [ARGS]`
 * (a veth: `peer name $peer [netns NS]`; a bridge: its options; a macvlan: `mode M`).
 * @throws NsError EUSAGE for bad names or values; EEXIST if the name is taken.
 */
export function linkAdd(nl: NetlinkSocket, spec: LinkSpec): void {
  validateIfname(spec.name);
  if (spec.mtu !== undefined) checkMtu(spec.mtu);
  const opened: { close(): void }[] = [];
  try {
    // ip's order: the options, the parent link, the name, then the kind and its data.
    const attrs: LinkAttr[] = [];
    if (spec.txqlen !== undefined) attrs.push({ kind: 'txqlen', value: spec.txqlen });
    if (spec.address !== undefined) attrs.push({ kind: 'address', value: spec.address });
    if (spec.mtu !== undefined) attrs.push({ kind: 'mtu', value: spec.mtu });
    if (spec.netns !== undefined) {
      const ns = netnsAttr(spec.netns, netnsFile);
      opened.push(ns);
      attrs.push(ns.attr);
    }
    if (spec.link !== undefined) attrs.push({ kind: 'link', value: indexOf(nl, spec.link) });
    attrs.push({ kind: 'ifname', value: spec.name });
    let infoData = spec.infoData;
    if (spec.peerNetns !== undefined && infoData?.kind === 'vethData') {
      const ns = netnsAttr(spec.peerNetns, netnsFile);
      opened.push(ns);
      // The peer's namespace goes just before its name, where ip puts it.
      infoData = { kind: 'vethData', value: infoData.value.map((a) => (a.kind === 'peer'
        ? { ...a, value: { ...a.value, attrs: [...a.value.attrs.slice(0, -1), ns.attr, ...a.value.attrs.slice(-1)] } } : a)) };
    }
    const info: LinkInfoAttr[] = [{ kind: 'infoKind', value: spec.kind }];
    if (infoData) info.push(infoData);
    attrs.push({ kind: 'linkinfo', value: info });
    nl.request({ type: RTM.NEWLINK, flags: NLM_F.CREATE | NLM_F.EXCL, kind: 'link', body: link(0, attrs) }, `ip link add ${spec.name} type ${spec.kind}`);
  } finally {
    for (const o of opened) o.close();
  }
}

/** Equivalent to: `ip link delete $link` (a veth goes with its peer). @throws NsError ENODEV. */
export function linkDelete(nl: NetlinkSocket, ref: LinkRef): void {
  nl.request({ type: RTM.DELLINK, flags: 0, kind: 'link', body: selecting(ref) }, `ip link del ${ref}`);
}

/** Equivalent to: `ip link del $link` (the same as linkDelete). */
export const linkDel = linkDelete;

/** What `ip link set` changes; each field left out stays as it is. */
export interface LinkChanges {
  readonly up?: boolean;
  /** The bridge to enslave to, or null to leave it (`nomaster`). */
  readonly master?: LinkRef | null;
  /** Move the link into another network namespace (~16 ms of the kernel's RCU waits). */
  readonly netns?: NetnsRef;
  readonly name?: string;
  readonly mtu?: number;
  readonly address?: string;
  readonly txqlen?: number;
}

/**
 * Equivalent to: `ip link set $link [up|down] [master M|nomaster] [netns NS] [name N] [mtu N]
 * [address A] [txqueuelen N]`, all in one request as ip sends them.
 * @throws NsError EUSAGE before anything is sent; ENODEV for a missing link.
 */
export function linkSet(nl: NetlinkSocket, ref: LinkRef, changes: LinkChanges): void {
  if (changes.mtu !== undefined) checkMtu(changes.mtu);
  if (changes.name !== undefined) validateIfname(changes.name, 'new name');
  if (changes.txqlen !== undefined && (!Number.isInteger(changes.txqlen) || changes.txqlen < 0 || changes.txqlen > 0x7fffffff)) {
    throw usageError(`txqueuelen: ${changes.txqlen} is not a non-negative integer`);
  }
  const closers: { close(): void }[] = [];
  try {
    const attrs: LinkAttr[] = [];
    const words: string[] = [];
    if (changes.up !== undefined) words.push(changes.up ? 'up' : 'down');
    if (changes.address !== undefined) { attrs.push({ kind: 'address', value: changes.address }); words.push(`address ${changes.address}`); }
    if (changes.txqlen !== undefined) { attrs.push({ kind: 'txqlen', value: changes.txqlen }); words.push(`txqueuelen ${changes.txqlen}`); }
    if (changes.mtu !== undefined) { attrs.push({ kind: 'mtu', value: changes.mtu }); words.push(`mtu ${changes.mtu}`); }
    if (changes.netns !== undefined) {
      const ns = netnsAttr(changes.netns, netnsFile);
      closers.push(ns);
      attrs.push(ns.attr);
      words.push(`netns ${'fd' in changes.netns ? `fd ${changes.netns.fd}` : 'pid' in changes.netns ? changes.netns.pid : changes.netns.name}`);
    }
    if (changes.master !== undefined) {
      attrs.push({ kind: 'master', value: changes.master === null ? 0 : indexOf(nl, changes.master) });
      words.push(changes.master === null ? 'nomaster' : `master ${changes.master}`);
    }
    // IFLA_IFNAME carries the new name, so a rename selects the link by index.
    let target = ref;
    if (changes.name !== undefined) {
      target = indexOf(nl, ref);
      attrs.push({ kind: 'ifname', value: changes.name });
      words.push(`name ${changes.name}`);
    }
    const up = changes.up === undefined ? { flags: 0, change: 0 } : { flags: changes.up ? IFF.UP : 0, change: IFF.UP };
    nl.request({ type: RTM.NEWLINK, flags: 0, kind: 'link', body: selecting(target, attrs, up.flags, up.change) }, `ip link set ${ref} ${words.join(' ')}`);
  } finally {
    for (const c of closers) c.close();
  }
}

/** Equivalent to: `ip link set $link up` */
export function linkSetUp(nl: NetlinkSocket, ref: LinkRef): void {
  linkSet(nl, ref, { up: true });
}

/** Equivalent to: `ip link set $link down` */
export function linkSetDown(nl: NetlinkSocket, ref: LinkRef): void {
  linkSet(nl, ref, { up: false });
}

/** Equivalent to: `ip link set $link mtu $mtu` */
export function linkSetMtu(nl: NetlinkSocket, ref: LinkRef, mtu: number): void {
  linkSet(nl, ref, { mtu });
}

/** Equivalent to: `ip link set $link name $name` */
export function linkSetName(nl: NetlinkSocket, ref: LinkRef, name: string): void {
  linkSet(nl, ref, { name });
}

/** Equivalent to: `ip link set $link netns $fd` (the kernel moves it: ~16 ms of RCU waits). */
export function linkSetNsFd(nl: NetlinkSocket, ref: LinkRef, netnsFd: number): void {
  linkSet(nl, ref, { netns: { fd: netnsFd } });
}

/** Equivalent to: `ip link set $link netns $pid` */
export function linkSetNsPid(nl: NetlinkSocket, ref: LinkRef, pid: number): void {
  linkSet(nl, ref, { netns: { pid } });
}

/** Equivalent to: `ip link set $link master $master`, or `nomaster` for null. */
export function linkSetMaster(nl: NetlinkSocket, ref: LinkRef, master: LinkRef | null): void {
  linkSet(nl, ref, { master });
}

/** Equivalent to: `ip link set $link address $lladdr` */
export function linkSetAddress(nl: NetlinkSocket, ref: LinkRef, address: string): void {
  linkSet(nl, ref, { address });
}

/** Equivalent to: `ip link set lo up` */
export function loopbackUp(nl: NetlinkSocket): void {
  linkSetUp(nl, 'lo');
}
