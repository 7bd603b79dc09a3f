/**
 * `ip link add|set|change|replace|delete|show|help`: the words of ip/iplink.c read the same way
 * (keywords, their order and prefixes, "dev" implied), made into one RTM_NEWLINK/RTM_DELLINK
 * request, with the type's own options for veth, bridge and macvlan.
 */
import { closeSync, openSync } from 'node:fs';
import { AF, IFF, IFLA_BR, NLM_F, RTM } from '../codec/constants';
import type { BridgeAttr, LinkAttr, LinkInfoAttr, LinkMessage, MacvlanAttr } from '../codec/link';
import { nsidOf, nsidSet } from '../verbs/nsid';
import {
  Words, atoi, duparg, duparg2, getInteger, getUnsigned, invarg, llAddrA2n, matches, nodev, validAltIfname, validIfname,
} from './args';
import type { IpContext } from './context';
import { IpExit } from './errors';
import { LINK_TYPES_USAGE, listLinksAndAddresses } from './ipaddress';
import { groupId, OPER_STATES } from './names';

const LINK_USAGE = `Usage: ip link add [link DEV | parentdev NAME] [ name ] NAME
		    [ txqueuelen PACKETS ]
		    [ address LLADDR ]
		    [ broadcast LLADDR ]
		    [ mtu MTU ] [index IDX ]
		    [ numtxqueues QUEUE_COUNT ]
		    [ numrxqueues QUEUE_COUNT ]
		    [ netns { PID | NAME } ]
		    type TYPE [ ARGS ]

	ip link delete { DEVICE | dev DEVICE | group DEVGROUP } type TYPE [ ARGS ]

	ip link set { DEVICE | dev DEVICE | group DEVGROUP }
			[ { up | down } ]
			[ type TYPE ARGS ]
		[ arp { on | off } ]
		[ dynamic { on | off } ]
		[ multicast { on | off } ]
		[ allmulticast { on | off } ]
		[ promisc { on | off } ]
		[ trailers { on | off } ]
		[ carrier { on | off } ]
		[ txqueuelen PACKETS ]
		[ name NEWNAME ]
		[ address LLADDR ]
		[ broadcast LLADDR ]
		[ mtu MTU ]
		[ netns { PID | NAME } ]
		[ link-netns NAME | link-netnsid ID ]
		[ alias NAME ]
		[ vf NUM [ mac LLADDR ]
			 [ vlan VLANID [ qos VLAN-QOS ] [ proto VLAN-PROTO ] ]
			 [ rate TXRATE ]
			 [ max_tx_rate TXRATE ]
			 [ min_tx_rate TXRATE ]
			 [ spoofchk { on | off} ]
			 [ query_rss { on | off} ]
			 [ state { auto | enable | disable} ]
			 [ trust { on | off} ]
			 [ node_guid EUI64 ]
			 [ port_guid EUI64 ] ]
		[ { xdp | xdpgeneric | xdpdrv | xdpoffload } { off |
			  object FILE [ { section | program } NAME ] [ verbose ] |
			  pinned FILE } ]
		[ master DEVICE ][ vrf NAME ]
		[ nomaster ]
		[ addrgenmode { eui64 | none | stable_secret | random } ]
		[ protodown { on | off } ]
		[ protodown_reason PREASON { on | off } ]
		[ gso_max_size BYTES ] | [ gso_max_segs PACKETS ]
		[ gro_max_size BYTES ]

	ip link show [ DEVICE | group GROUP ] [up] [master DEV] [vrf NAME] [type TYPE]
		[nomaster]

	ip link xstats type TYPE [ ARGS ]

	ip link afstats [ dev DEVICE ]
	ip link property add dev DEVICE [ altname NAME .. ]
	ip link property del dev DEVICE [ altname NAME .. ]

	ip link help [ TYPE ]

`;

export function linkUsage(): never {
  throw new IpExit(255, LINK_USAGE + LINK_TYPES_USAGE);
}

/** A request being built: the ifinfomsg fields and the attributes, as ip's iplink_req. */
interface LinkReq {
  family: number;
  index: number;
  flags: number;
  change: number;
  attrs: LinkAttr[];
  /** The nlmsg flags: NLM_F_CREATE marks `add`. */
  readonly nlFlags: number;
}

/** parse_on_off(): "on" or "off", anything else an error naming `key` (exit 1). */
function parseOnOff(key: string, value: string): boolean {
  if (value !== 'on' && value !== 'off') throw new IpExit(1, `Error: argument of "${key}" must be "on" or "off", not "${value}"\n`);
  return value === 'on';
}

/** An IFF_* flag set from "on"/"off" (arp and trailers are the inverse bits). */
function setFlag(req: LinkReq, bit: number, value: string, key: string, inverse = false): void {
  req.change |= bit;
  const on = parseOnOff(key, value);
  if (on !== inverse) req.flags |= bit;
  else req.flags &= ~bit;
}

/** netns_get_fd(): a name under /run/netns, or a path; undefined if it cannot be opened. */
function openNetnsFile(name: string): number | undefined {
  const path = name.includes('/') ? name : `/run/netns/${name}`;
  try {
    return openSync(path, 'r');
  } catch {
    return undefined;
  }
}

/** Opened for the request (netns fds), closed once it is answered. */
type Fds = number[];

/**
 * iplink_parse(): the generic words of `ip link add|set`, up to `type`. Fills `req`; returns
 * the device named and the type, leaving `w` after the type's name.
 */
function iplinkParse(ctx: IpContext, w: Words, req: LinkReq, fds: Fds): { dev?: string; type?: string } {
  let name: string | undefined;
  let dev: string | undefined;
  let link: string | undefined;
  let addrLen = 0;
  let qlen = -1;
  let mtu = -1;
  let netns = -1;
  let numTx = -1;
  let numRx = -1;
  let linkNetnsid = -1;
  let index = 0;
  let group = -1;
  let moveNetns = false;
  let type: string | undefined;
  const create = (req.nlFlags & NLM_F.CREATE) !== 0;
  for (; !w.done; w.skip()) {
    const word = w.cur;
    if (word === 'up') {
      req.change |= IFF.UP;
      req.flags |= IFF.UP;
    } else if (word === 'down') {
      req.change |= IFF.UP;
      req.flags &= ~IFF.UP;
    } else if (word === 'name') {
      const v = w.next();
      if (name !== undefined) duparg('name', v);
      if (!validIfname(v)) invarg('"name" not a valid ifname', v);
      name = v;
      if (dev === undefined) dev = name;
    } else if (word === 'index') {
      const v = w.next();
      if (index) duparg('index', v);
      index = atoi(v);
      if (index <= 0) invarg('Invalid "index" value', v);
    } else if (matches(word, 'link')) {
      link = w.next();
    } else if (matches(word, 'address')) {
      const bytes = llAddrA2n(w.next());
      addrLen = bytes.length;
      req.attrs.push({ kind: 'other', type: 1, data: bytes });
    } else if (matches(word, 'broadcast') || word === 'brd') {
      const bytes = llAddrA2n(w.next());
      req.attrs.push({ kind: 'other', type: 2, data: bytes });
    } else if (matches(word, 'txqueuelen') || word === 'qlen' || matches(word, 'txqlen')) {
      const n = w.nextAs(getInteger, 'Invalid "txqueuelen" value\n', qlen !== -1 && 'txqueuelen');
      qlen = n;
      req.attrs.push({ kind: 'txqlen', value: n >>> 0 });
    } else if (word === 'mtu') {
      const n = w.nextAs(getInteger, 'Invalid "mtu" value\n', mtu !== -1 && 'mtu');
      mtu = n;
      req.attrs.push({ kind: 'mtu', value: n >>> 0 });
    } else if (word === 'xdp' || word === 'xdpgeneric' || word === 'xdpdrv' || word === 'xdpoffload') {
      throw new IpExit(255, `ns-net: "${word}" (eBPF programs) is not supported\n`);
    } else if (word === 'netns') {
      const v = w.next();
      if (netns !== -1) duparg('netns', v);
      const fd = openNetnsFile(v);
      if (fd !== undefined) {
        fds.push(fd);
        netns = fd;
        req.attrs.push({ kind: 'netNsFd', value: fd });
      } else {
        const pid = getInteger(v);
        if (pid === undefined) invarg('Invalid "netns" value\n', v);
        netns = pid;
        req.attrs.push({ kind: 'netNsPid', value: pid >>> 0 });
      }
      moveNetns = true;
    } else if (word === 'multicast') {
      setFlag(req, IFF.MULTICAST, w.next(), 'multicast');
    } else if (word === 'allmulticast') {
      setFlag(req, IFF.ALLMULTI, w.next(), 'allmulticast');
    } else if (word === 'promisc') {
      setFlag(req, IFF.PROMISC, w.next(), 'promisc');
    } else if (word === 'trailers') {
      setFlag(req, IFF.NOTRAILERS, w.next(), 'trailers', true);
    } else if (word === 'arp') {
      setFlag(req, IFF.NOARP, w.next(), 'arp', true);
    } else if (word === 'carrier') {
      req.attrs.push({ kind: 'carrier', value: parseOnOff('carrier', w.next()) ? 1 : 0 });
    } else if (word === 'vf') {
      throw new IpExit(255, 'ns-net: "vf" (SR-IOV virtual functions) is not supported\n');
    } else if (matches(word, 'master')) {
      const v = w.next();
      const i = ctx.nameToIndex(v);
      if (!i) invarg('Device does not exist\n', v);
      req.attrs.push({ kind: 'master', value: i });
    } else if (word === 'vrf') {
      invarg('Not a valid VRF name\n', w.next());
    } else if (matches(word, 'nomaster')) {
      req.attrs.push({ kind: 'master', value: 0 });
    } else if (matches(word, 'dynamic')) {
      setFlag(req, IFF.DYNAMIC, w.next(), 'dynamic');
    } else if (matches(word, 'type')) {
      type = w.next();
      w.skip();
      break;
    } else if (matches(word, 'alias')) {
      const v = w.next();
      if (Buffer.byteLength(v) >= 256) invarg('alias too long\n', v);
      // ip sends the alias without its NUL.
      req.attrs.push({ kind: 'other', type: 20, data: Buffer.from(v) });
    } else if (word === 'group') {
      const g = w.nextAs(groupId, 'Invalid "group" value\n', group !== -1 && 'group');
      group = g;
      req.attrs.push({ kind: 'group', value: g });
    } else if (word === 'mode') {
      const v = w.next();
      const mode = v.toLowerCase() === 'default' ? 0 : v.toLowerCase() === 'dormant' ? 1 : -1;
      if (mode < 0) invarg('Invalid link mode\n', v);
      req.attrs.push({ kind: 'linkmode', value: mode });
    } else if (word === 'state') {
      const v = w.next();
      const state = OPER_STATES.findIndex((s) => s.toLowerCase() === v.toLowerCase());
      if (state < 0) invarg('Invalid operstate\n', v);
      req.attrs.push({ kind: 'operstate', value: state });
    } else if (matches(word, 'numtxqueues')) {
      const n = w.nextAs(getInteger, 'Invalid "numtxqueues" value\n', numTx !== -1 && 'numtxqueues');
      numTx = n;
      req.attrs.push({ kind: 'numTxQueues', value: n >>> 0 });
    } else if (matches(word, 'numrxqueues')) {
      const n = w.nextAs(getInteger, 'Invalid "numrxqueues" value\n', numRx !== -1 && 'numrxqueues');
      numRx = n;
      req.attrs.push({ kind: 'numRxQueues', value: n >>> 0 });
    } else if (matches(word, 'addrgenmode')) {
      const v = w.next();
      const mode = ['eui64', 'none', 'stable_secret', 'random'].indexOf(v.toLowerCase());
      if (mode < 0) invarg('Invalid address generation mode\n', v);
      req.attrs.push({ kind: 'afSpec', value: [{ kind: 'inet6', value: [{ kind: 'addrGenMode', value: mode }] }] });
    } else if (matches(word, 'link-netns')) {
      const v = w.next();
      if (linkNetnsid !== -1) duparg('link-netns/link-netnsid', v);
      const fd = openNetnsFile(v);
      let id: number | undefined;
      if (fd !== undefined) {
        try {
          id = ctx.rtnl.nsidOf(fd);
          // No id yet: ask the kernel to assign one, as ip does.
          if (id === undefined) {
            try { nsidSet(ctx.rtnl.socket, fd, -1); } catch { /* ip ignores this failure */ }
            id = nsidOf(ctx.rtnl.socket, fd);
          }
        } finally {
          closeSync(fd);
        }
      }
      if (id === undefined) invarg('Invalid "link-netns" value\n', v);
      linkNetnsid = id;
      req.attrs.push({ kind: 'linkNetnsid', value: id });
    } else if (matches(word, 'link-netnsid')) {
      const n = w.nextAs(getInteger, 'Invalid "link-netnsid" value\n', linkNetnsid !== -1 && 'link-netns/link-netnsid');
      linkNetnsid = n;
      req.attrs.push({ kind: 'linkNetnsid', value: n });
    } else if (word === 'protodown') {
      req.attrs.push({ kind: 'protoDown', value: parseOnOff('protodown', w.next()) ? 1 : 0 });
    } else if (word === 'protodown_reason') {
      throw new IpExit(255, 'ns-net: "protodown_reason" is not supported\n');
    } else if (word === 'gso_max_size' || word === 'gso_max_segs' || word === 'gro_max_size') {
      const v = w.next();
      const n = getUnsigned(v);
      if (n === undefined || (word === 'gso_max_segs' && n > 65535)) invarg(`Invalid "${word}" value\n`, v);
      req.attrs.push({ kind: word === 'gso_max_size' ? 'gsoMaxSize' : word === 'gso_max_segs' ? 'gsoMaxSegs' : 'groMaxSize', value: n });
    } else if (word === 'parentdev') {
      req.attrs.push({ kind: 'parentDevName', value: w.next() });
    } else {
      if (matches(word, 'help')) linkUsage();
      let d = word;
      if (word === 'dev') d = w.next();
      if (dev !== name) duparg2('dev', d);
      if (!validAltIfname(d)) invarg('"dev" not a valid ifname', d);
      dev = d;
    }
  }
  // "ip link add dev NAME" and "ip link add name NAME" both name the new link.
  if (name === undefined) name = dev;
  else if (dev === undefined) dev = name;
  else if (name === dev) name = dev;
  if (dev !== undefined && addrLen && !create) {
    const existing = lookupAddressLength(ctx, dev);
    if (existing !== undefined && existing !== addrLen) {
      throw new IpExit(1, `Invalid address length ${addrLen} - must be ${existing} bytes\n`);
    }
  }
  if (index && !create && !moveNetns) {
    throw new IpExit(255, 'index can be used only when creating devices or when moving device to another netns.\n');
  }
  if (group !== -1 && dev === undefined) {
    if (!w.done) throw new IpExit(255, `Garbage instead of arguments "${w.cur} ...". Try "ip link help".\n`);
    if (create) throw new IpExit(255, 'group cannot be used when creating devices.\n');
    return {};
  }
  if (!create) {
    if (dev === undefined) throw new IpExit(255, 'Not enough information: "dev" argument is required.\n');
    req.index = ctx.nameToIndex(dev);
    if (!req.index) nodev(dev);
    if (name === dev) name = undefined;
    if (index) req.attrs.push({ kind: 'newIfindex', value: index });
  } else {
    if (name !== dev) throw new IpExit(255, 'both "name" and "dev" cannot be used when creating devices.\n');
    if (link !== undefined) {
      const i = ctx.nameToIndex(link);
      if (!i) nodev(link);
      req.attrs.push({ kind: 'link', value: i });
    }
    req.index = index;
  }
  if (name !== undefined) req.attrs.push({ kind: 'ifname', value: name });
  return { ...(dev !== undefined ? { dev } : {}), ...(type !== undefined ? { type } : {}) };
}

/** nl_get_ll_addr_len(): the length of the link's current hardware address, if it has one. */
function lookupAddressLength(ctx: IpContext, dev: string): number | undefined {
  const index = ctx.nameToIndex(dev);
  if (!index) return undefined;
  try {
    const link = ctx.rtnl.linkByIndex(index);
    const addr = link.message.attrs.find((a) => a.kind === 'address');
    return addr && addr.kind === 'address' ? addr.value.split(':').length : undefined;
  } catch {
    return undefined;
  }
}

/** veth_parse_opt(): `peer [OPTIONS]`, the peer's own ifinfomsg and attributes. */
function vethOptions(ctx: IpContext, w: Words, parent: LinkReq, fds: Fds): LinkInfoAttr {
  if (w.cur !== 'peer') {
    // ip prints this usage on stdout (link_veth.c uses printf).
    ctx.p.text("Usage: ip link <options> type veth [peer <options>]\nTo get <options> type 'ip link add help'\n");
    throw new IpExit(1, '');
  }
  w.skip();
  const peer: LinkReq = { family: AF.UNSPEC, index: 0, flags: 0, change: 0, attrs: [], nlFlags: parent.nlFlags };
  const { type } = iplinkParse(ctx, w, peer, fds);
  if (type !== undefined) duparg('type', type);
  const msg: LinkMessage = { family: AF.UNSPEC, type: 0, index: peer.index, flags: peer.flags, change: peer.change, attrs: peer.attrs };
  return { kind: 'vethData', value: [{ kind: 'peer', value: msg }] };
}

const BRIDGE_EXPLAIN = `Usage: ... bridge [ fdb_flush ]
		  [ forward_delay FORWARD_DELAY ]
		  [ hello_time HELLO_TIME ]
		  [ max_age MAX_AGE ]
		  [ ageing_time AGEING_TIME ]
		  [ stp_state STP_STATE ]
		  [ priority PRIORITY ]
		  [ group_fwd_mask MASK ]
		  [ group_address ADDRESS ]
		  [ no_linklocal_learn NO_LINKLOCAL_LEARN ]
		  [ vlan_filtering VLAN_FILTERING ]
		  [ vlan_protocol VLAN_PROTOCOL ]
		  [ vlan_default_pvid VLAN_DEFAULT_PVID ]
		  [ vlan_stats_enabled VLAN_STATS_ENABLED ]
		  [ vlan_stats_per_port VLAN_STATS_PER_PORT ]
		  [ mcast_snooping MULTICAST_SNOOPING ]
		  [ mcast_vlan_snooping MULTICAST_VLAN_SNOOPING ]
		  [ mcast_router MULTICAST_ROUTER ]
		  [ mcast_query_use_ifaddr MCAST_QUERY_USE_IFADDR ]
		  [ mcast_querier MULTICAST_QUERIER ]
		  [ mcast_hash_elasticity HASH_ELASTICITY ]
		  [ mcast_hash_max HASH_MAX ]
		  [ mcast_last_member_count LAST_MEMBER_COUNT ]
		  [ mcast_startup_query_count STARTUP_QUERY_COUNT ]
		  [ mcast_last_member_interval LAST_MEMBER_INTERVAL ]
		  [ mcast_membership_interval MEMBERSHIP_INTERVAL ]
		  [ mcast_querier_interval QUERIER_INTERVAL ]
		  [ mcast_query_interval QUERY_INTERVAL ]
		  [ mcast_query_response_interval QUERY_RESPONSE_INTERVAL ]
		  [ mcast_startup_query_interval STARTUP_QUERY_INTERVAL ]
		  [ mcast_stats_enabled MCAST_STATS_ENABLED ]
		  [ mcast_igmp_version IGMP_VERSION ]
		  [ mcast_mld_version MLD_VERSION ]
		  [ nf_call_iptables NF_CALL_IPTABLES ]
		  [ nf_call_ip6tables NF_CALL_IP6TABLES ]
		  [ nf_call_arptables NF_CALL_ARPTABLES ]

Where: VLAN_PROTOCOL := { 802.1Q | 802.1ad }
`;

type Width = 8 | 16 | 32 | 64;
/** bridge_parse_opt()'s keywords in its order (the first keyword a word is a prefix of wins). */
const BRIDGE_KEYWORDS: readonly [string, BridgeAttr['kind'] | 'vlanProtocol' | 'groupAddr' | 'noLinklocalLearn' | 'fdbFlush' | 'mcastVlanSnooping', Width, boolean][] = [
  ['forward_delay', 'forwardDelay', 32, false], ['hello_time', 'helloTime', 32, false], ['max_age', 'maxAge', 32, false],
  ['ageing_time', 'ageingTime', 32, false], ['stp_state', 'stpState', 32, false], ['priority', 'priority', 16, false],
  ['vlan_filtering', 'vlanFiltering', 8, false], ['vlan_protocol', 'vlanProtocol', 16, false],
  ['group_fwd_mask', 'groupFwdMask', 16, false], ['group_address', 'groupAddr', 8, false],
  ['no_linklocal_learn', 'noLinklocalLearn', 8, true], ['fdb_flush', 'fdbFlush', 8, false],
  ['vlan_default_pvid', 'vlanDefaultPvid', 16, false], ['vlan_stats_enabled', 'vlanStatsEnabled', 8, false],
  ['vlan_stats_per_port', 'vlanStatsPerPort', 8, false], ['mcast_router', 'mcastRouter', 8, false],
  ['mcast_snooping', 'mcastSnooping', 8, false], ['mcast_vlan_snooping', 'mcastVlanSnooping', 8, true],
  ['mcast_query_use_ifaddr', 'mcastQueryUseIfaddr', 8, false], ['mcast_querier', 'mcastQuerier', 8, false],
  ['mcast_hash_elasticity', 'mcastHashElasticity', 32, false], ['mcast_hash_max', 'mcastHashMax', 32, false],
  ['mcast_last_member_count', 'mcastLastMemberCnt', 32, false], ['mcast_startup_query_count', 'mcastStartupQueryCnt', 32, false],
  ['mcast_last_member_interval', 'mcastLastMemberIntvl', 64, false], ['mcast_membership_interval', 'mcastMembershipIntvl', 64, false],
  ['mcast_querier_interval', 'mcastQuerierIntvl', 64, false], ['mcast_query_interval', 'mcastQueryIntvl', 64, false],
  ['mcast_query_response_interval', 'mcastQueryResponseIntvl', 64, false], ['mcast_startup_query_interval', 'mcastStartupQueryIntvl', 64, false],
  ['mcast_stats_enabled', 'mcastStatsEnabled', 8, false], ['mcast_igmp_version', 'mcastIgmpVersion', 8, false],
  ['mcast_mld_version', 'mcastMldVersion', 8, false], ['nf_call_iptables', 'nfCallIptables', 8, false],
  ['nf_call_ip6tables', 'nfCallIp6tables', 8, false], ['nf_call_arptables', 'nfCallArptables', 8, false],
];

/** get_u64(): strtoull over the whole word. */
function getU64(text: string): bigint | undefined {
  const m = /^[ \t\n\v\f\r]*\+?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!m) return undefined;
  const d = m[1]!;
  const v = /^0[xX]/.test(d) ? BigInt(d) : d.length > 1 && d.startsWith('0') ? BigInt(`0o${d.slice(1)}`) : BigInt(d);
  return v < (1n << 64n) - 1n ? v : undefined;
}

function bridgeOptions(w: Words): LinkInfoAttr {
  const data: BridgeAttr[] = [];
  const bm = { optval: 0, optmask: 0 };
  for (; !w.done; w.skip()) {
    const word = w.cur;
    const entry = BRIDGE_KEYWORDS.find(([k, , , exact]) => (exact ? word === k : matches(word, k)));
    if (!entry) {
      if (matches(word, 'help')) throw new IpExit(1, BRIDGE_EXPLAIN);
      throw new IpExit(1, `bridge: unknown command "${word}"?\n${BRIDGE_EXPLAIN}`);
    }
    const [key, kind, width] = entry;
    if (kind === 'fdbFlush') {
      data.push({ kind: 'other', type: IFLA_BR.FDB_FLUSH, data: Buffer.alloc(0) });
      continue;
    }
    const v = w.next();
    if (kind === 'vlanProtocol') {
      const named: Record<string, number> = { '802.1q': 0x8100, '802.1ad': 0x88a8 };
      const proto = named[v.toLowerCase()] ?? getUnsigned(v, 0xffff);
      if (proto === undefined) invarg('invalid vlan_protocol', v);
      // get_be16() reads the number in host order and sends it in network order.
      data.push({ kind: 'vlanProtocol', value: proto });
    } else if (kind === 'groupAddr') {
      const bytes = llAddrA2n(v);
      data.push({ kind: 'other', type: IFLA_BR.GROUP_ADDR, data: bytes });
    } else if (kind === 'noLinklocalLearn' || kind === 'mcastVlanSnooping') {
      const n = getUnsigned(v, 0xff);
      if (n === undefined) invarg(`invalid ${key}`, v);
      const bit = kind === 'noLinklocalLearn' ? 1 : 2;
      bm.optmask |= bit;
      if (n) bm.optval |= bit;
      else bm.optval &= ~bit;
    } else if (width === 64) {
      const n = getU64(v);
      if (n === undefined) invarg(`invalid ${key}`, v);
      data.push({ kind, value: n } as BridgeAttr);
    } else {
      const n = getUnsigned(v, width === 8 ? 0xff : width === 16 ? 0xffff : 0xffffffff);
      if (n === undefined) invarg(`invalid ${key}`, v);
      data.push({ kind, value: n } as BridgeAttr);
    }
  }
  if (bm.optmask) data.push({ kind: 'multiBoolopt', value: bm });
  return { kind: 'bridgeData', value: data };
}

const MACVLAN_EXPLAIN = (kind: string) => `Usage: ... ${kind} mode MODE [flag MODE_FLAG] MODE_OPTS [bcqueuelen BC_QUEUE_LEN]

MODE: private | vepa | bridge | passthru | source
MODE_FLAG: null | nopromisc | nodst
MODE_OPTS: for mode "source":
\tmacaddr { { add | del } <macaddr> | set [ <macaddr> [ <macaddr>  ... ] ] | flush }
BC_QUEUE_LEN: Length of the rx queue for broadcast/multicast: [0-4294967295]
`;

function macvlanOptions(kind: string, w: Words): LinkInfoAttr {
  let mode = 0;
  let flags = 0;
  let hasFlags = false;
  const data: MacvlanAttr[] = [];
  const modes: Record<string, number> = { private: 1, vepa: 2, bridge: 4, passthru: 8, source: 16 };
  for (; !w.done; w.skip()) {
    const word = w.cur;
    if (matches(word, 'mode')) {
      const v = w.next();
      if (!Object.hasOwn(modes, v)) {
        throw new IpExit(1, `Error: argument of "mode" must be "private", "vepa", "bridge", "passthru" or "source", not "${v}"\n`);
      }
      mode = modes[v]!;
    } else if (matches(word, 'flag')) {
      const v = w.next();
      if (v === 'nopromisc') flags |= 1;
      else if (v === 'nodst') flags |= 2;
      else if (v !== 'null') throw new IpExit(1, `Error: argument of "flag" must be "nopromisc", "nodst" or "null", not "${v}"\n`);
      hasFlags = true;
    } else if (matches(word, 'macaddr')) {
      throw new IpExit(255, 'ns-net: macvlan "macaddr" (source mode) is not supported\n');
    } else if (matches(word, 'nopromisc')) {
      flags |= 1;
      hasFlags = true;
    } else if (matches(word, 'nodst')) {
      flags |= 2;
      hasFlags = true;
    } else if (matches(word, 'bcqueuelen')) {
      const v = w.next();
      const n = getUnsigned(v);
      if (n === undefined) throw new IpExit(1, `Error: argument of "bcqueuelen" must be a positive integer [0-4294967295], not "${v}"\n`);
      data.push({ kind: 'bcQueueLen', value: n });
    } else if (matches(word, 'help')) {
      throw new IpExit(1, MACVLAN_EXPLAIN(kind));
    } else {
      throw new IpExit(1, `${kind}: unknown option "${word}"?\n${MACVLAN_EXPLAIN(kind)}`);
    }
  }
  if (mode) data.push({ kind: 'mode', value: mode });
  if (hasFlags) {
    if (flags & 1 && mode !== modes['passthru']) throw new IpExit(1, `${kind}: nopromisc flag only valid in passthru mode\n${MACVLAN_EXPLAIN(kind)}`);
    data.push({ kind: 'flags', value: flags });
  }
  return { kind: 'macvlanData', value: data };
}

/** The kinds ip knows (a link_util in ip 6.1): any other name is sent, but takes no options. */
const KNOWN_KINDS = new Set(['amt', 'bareudp', 'bond', 'bond_slave', 'bridge', 'bridge_slave', 'can', 'dsa', 'dummy', 'erspan',
  'geneve', 'gre', 'gretap', 'gtp', 'hsr', 'ifb', 'ip6erspan', 'ip6gre', 'ip6gretap', 'ip6tnl', 'ipip', 'ipoib', 'ipvlan',
  'ipvtap', 'macsec', 'macvlan', 'macvtap', 'netdevsim', 'nlmon', 'rmnet', 'sit', 'team', 'team_slave', 'vcan', 'veth',
  'vlan', 'vrf', 'vti', 'vxcan', 'vxlan', 'wwan', 'xfrm', 'virt_wifi', 'lowpan', 'ipoib', 'batadv']);

/** iplink_modify(): parse, add the type's nest, send. */
function iplinkModify(ctx: IpContext, cmd: number, nlFlags: number, words: readonly string[]): number {
  const req: LinkReq = { family: ctx.g.family, index: 0, flags: 0, change: 0, attrs: [], nlFlags };
  const fds: Fds = [];
  try {
    const w = new Words(words);
    const { type } = iplinkParse(ctx, w, req, fds);
    if (type !== undefined) {
      const info: LinkInfoAttr[] = [{ kind: 'infoKind', value: type }];
      if (!w.done) {
        if (type === 'veth') info.push(vethOptions(ctx, w, req, fds));
        else if (type === 'bridge') info.push(bridgeOptions(w));
        else if (type === 'macvlan' || type === 'macvtap') info.push(macvlanOptions(type, w));
        else if (KNOWN_KINDS.has(type)) throw new IpExit(255, `ns-net: options of "type ${type}" are not supported\n`);
        else {
          if (matches(w.cur, 'help')) linkUsage();
          throw new IpExit(1, `Garbage instead of arguments "${w.cur} ...". Try "ip link help".\n`);
        }
      }
      req.attrs.push({ kind: 'linkinfo', value: info });
    } else if (nlFlags & NLM_F.CREATE) {
      throw new IpExit(1, 'Not enough information: "type" argument is required\n');
    }
    if (ctx.g.echo) throw new IpExit(255, 'ns-net: -echo is not supported\n');
    const body: LinkMessage = { family: req.family, type: 0, index: req.index, flags: req.flags, change: req.change, attrs: req.attrs };
    ctx.talk((h) => h.socket.request({ type: cmd, flags: nlFlags, kind: 'link', body }, `ip link ${cmd === RTM.DELLINK ? 'delete' : 'add'}`));
    ctx.forget(req.index);
    return 0;
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

/** `ip link help [TYPE]`: the type's own usage on stdout (exit 0), else ip link's usage. */
function linkHelp(ctx: IpContext, words: readonly string[]): number {
  const type = words[0];
  if (type === 'veth') {
    ctx.p.text("Usage: ip link <options> type veth [peer <options>]\nTo get <options> type 'ip link add help'\n");
    return 0;
  }
  if (type === 'bridge') {
    ctx.p.text(BRIDGE_EXPLAIN);
    return 0;
  }
  if (type === 'macvlan' || type === 'macvtap') {
    ctx.p.text(MACVLAN_EXPLAIN(type));
    return 0;
  }
  linkUsage();
}

/** do_iplink(). */
export function doIplink(ctx: IpContext, words: readonly string[]): number {
  const [cmd, ...rest] = words;
  if (cmd === undefined) return listLinksAndAddresses(ctx, [], true, linkUsage);
  if (matches(cmd, 'add')) return iplinkModify(ctx, RTM.NEWLINK, NLM_F.CREATE | NLM_F.EXCL, rest);
  if (matches(cmd, 'set') || matches(cmd, 'change')) return iplinkModify(ctx, RTM.NEWLINK, 0, rest);
  if (matches(cmd, 'replace')) return iplinkModify(ctx, RTM.NEWLINK, NLM_F.CREATE | NLM_F.REPLACE, rest);
  if (matches(cmd, 'delete')) return iplinkModify(ctx, RTM.DELLINK, 0, rest);
  if (matches(cmd, 'show') || matches(cmd, 'lst') || matches(cmd, 'list')) return listLinksAndAddresses(ctx, rest, true, linkUsage);
  if (matches(cmd, 'xstats') || matches(cmd, 'afstats') || matches(cmd, 'property')) {
    throw new IpExit(1, `ns-net: "ip link ${cmd}" is not supported\n`);
  }
  if (matches(cmd, 'help')) return linkHelp(ctx, rest);
  throw new IpExit(255, `Command "${cmd}" is unknown, try "ip link help".\n`);
}
