/** RTM_{NEW,DEL,GET,SET}LINK bodies: struct ifinfomsg then IFLA_* attributes. */
import {
  AttrTable, NLA_F_NESTED, be16, bytes, encodeAttr, hwaddr, s32, string, u16, u32, u32Struct, u64, u8,
  type AttrOf, type OtherAttr, type ValueCodec,
} from './attr';
import { bodyCodec } from './body';
import { AF, IFLA, IFLA_BR, IFLA_BRPORT, IFLA_INET6, IFLA_INFO, IFLA_MACVLAN, VETH_INFO } from './constants';

/** struct ifinfomsg (linux/rtnetlink.h). */
export interface IfInfoHeader {
  readonly family: number;
  /** ARPHRD_* device type. */
  readonly type: number;
  readonly index: number;
  /** IFF_* flags; in a request only the bits set in `change` apply. */
  readonly flags: number;
  readonly change: number;
}

export interface LinkMessage extends IfInfoHeader {
  readonly attrs: readonly LinkAttr[];
}

/** VETH_INFO_PEER carries a whole ifinfomsg plus attributes for the peer (linux/veth.h). */
export type VethAttr = { readonly kind: 'peer'; readonly value: LinkMessage } | OtherAttr;

/**
 * IFLA_LINKINFO entries. IFLA_INFO_DATA's layout depends on IFLA_INFO_KIND: for a veth, bridge
 * or macvlan it is parsed ('vethData', 'bridgeData', 'macvlanData'); for other kinds it stays
 * bytes ('infoData'). IFLA_INFO_SLAVE_DATA of a bridge port is 'bridgePortData'.
 */
export type LinkInfoAttr = AttrOf<typeof LINKINFO_SPEC>
  | { readonly kind: 'vethData'; readonly value: readonly VethAttr[] }
  | { readonly kind: 'bridgeData'; readonly value: readonly BridgeAttr[] }
  | { readonly kind: 'macvlanData'; readonly value: readonly MacvlanAttr[] }
  | { readonly kind: 'bridgePortData'; readonly value: readonly BridgePortAttr[] };

/** struct ifla_bridge_id: two priority bytes then the MAC address. */
const bridgeId = bytes;

const BRIDGE_SPEC = {
  forwardDelay: { type: IFLA_BR.FORWARD_DELAY, codec: u32 },
  helloTime: { type: IFLA_BR.HELLO_TIME, codec: u32 },
  maxAge: { type: IFLA_BR.MAX_AGE, codec: u32 },
  ageingTime: { type: IFLA_BR.AGEING_TIME, codec: u32 },
  stpState: { type: IFLA_BR.STP_STATE, codec: u32 },
  priority: { type: IFLA_BR.PRIORITY, codec: u16 },
  vlanFiltering: { type: IFLA_BR.VLAN_FILTERING, codec: u8 },
  /** An ethertype, in network byte order (0x8100 for 802.1Q). */
  vlanProtocol: { type: IFLA_BR.VLAN_PROTOCOL, codec: be16 },
  groupFwdMask: { type: IFLA_BR.GROUP_FWD_MASK, codec: u16 },
  rootId: { type: IFLA_BR.ROOT_ID, codec: bridgeId },
  bridgeId: { type: IFLA_BR.BRIDGE_ID, codec: bridgeId },
  rootPort: { type: IFLA_BR.ROOT_PORT, codec: u16 },
  rootPathCost: { type: IFLA_BR.ROOT_PATH_COST, codec: u32 },
  topologyChange: { type: IFLA_BR.TOPOLOGY_CHANGE, codec: u8 },
  topologyChangeDetected: { type: IFLA_BR.TOPOLOGY_CHANGE_DETECTED, codec: u8 },
  /** Timers in centiseconds (clock_t at USER_HZ 100). */
  helloTimer: { type: IFLA_BR.HELLO_TIMER, codec: u64 },
  tcnTimer: { type: IFLA_BR.TCN_TIMER, codec: u64 },
  topologyChangeTimer: { type: IFLA_BR.TOPOLOGY_CHANGE_TIMER, codec: u64 },
  gcTimer: { type: IFLA_BR.GC_TIMER, codec: u64 },
  groupAddr: { type: IFLA_BR.GROUP_ADDR, codec: hwaddr },
  mcastRouter: { type: IFLA_BR.MCAST_ROUTER, codec: u8 },
  mcastSnooping: { type: IFLA_BR.MCAST_SNOOPING, codec: u8 },
  mcastQueryUseIfaddr: { type: IFLA_BR.MCAST_QUERY_USE_IFADDR, codec: u8 },
  mcastQuerier: { type: IFLA_BR.MCAST_QUERIER, codec: u8 },
  mcastHashElasticity: { type: IFLA_BR.MCAST_HASH_ELASTICITY, codec: u32 },
  mcastHashMax: { type: IFLA_BR.MCAST_HASH_MAX, codec: u32 },
  mcastLastMemberCnt: { type: IFLA_BR.MCAST_LAST_MEMBER_CNT, codec: u32 },
  mcastStartupQueryCnt: { type: IFLA_BR.MCAST_STARTUP_QUERY_CNT, codec: u32 },
  mcastLastMemberIntvl: { type: IFLA_BR.MCAST_LAST_MEMBER_INTVL, codec: u64 },
  mcastMembershipIntvl: { type: IFLA_BR.MCAST_MEMBERSHIP_INTVL, codec: u64 },
  mcastQuerierIntvl: { type: IFLA_BR.MCAST_QUERIER_INTVL, codec: u64 },
  mcastQueryIntvl: { type: IFLA_BR.MCAST_QUERY_INTVL, codec: u64 },
  mcastQueryResponseIntvl: { type: IFLA_BR.MCAST_QUERY_RESPONSE_INTVL, codec: u64 },
  mcastStartupQueryIntvl: { type: IFLA_BR.MCAST_STARTUP_QUERY_INTVL, codec: u64 },
  nfCallIptables: { type: IFLA_BR.NF_CALL_IPTABLES, codec: u8 },
  nfCallIp6tables: { type: IFLA_BR.NF_CALL_IP6TABLES, codec: u8 },
  nfCallArptables: { type: IFLA_BR.NF_CALL_ARPTABLES, codec: u8 },
  vlanDefaultPvid: { type: IFLA_BR.VLAN_DEFAULT_PVID, codec: u16 },
  vlanStatsEnabled: { type: IFLA_BR.VLAN_STATS_ENABLED, codec: u8 },
  mcastStatsEnabled: { type: IFLA_BR.MCAST_STATS_ENABLED, codec: u8 },
  mcastIgmpVersion: { type: IFLA_BR.MCAST_IGMP_VERSION, codec: u8 },
  mcastMldVersion: { type: IFLA_BR.MCAST_MLD_VERSION, codec: u8 },
  vlanStatsPerPort: { type: IFLA_BR.VLAN_STATS_PER_PORT, codec: u8 },
  /** struct br_boolopt_multi. */
  multiBoolopt: { type: IFLA_BR.MULTI_BOOLOPT, codec: u32Struct(['optval', 'optmask']) },
};
export type BridgeAttr = AttrOf<typeof BRIDGE_SPEC>;
export const BRIDGE_ATTRS = new AttrTable('IFLA_BR', IFLA_BR, BRIDGE_SPEC);

const BRPORT_SPEC = {
  state: { type: IFLA_BRPORT.STATE, codec: u8 },
  priority: { type: IFLA_BRPORT.PRIORITY, codec: u16 },
  cost: { type: IFLA_BRPORT.COST, codec: u32 },
  mode: { type: IFLA_BRPORT.MODE, codec: u8 },
  guard: { type: IFLA_BRPORT.GUARD, codec: u8 },
  protect: { type: IFLA_BRPORT.PROTECT, codec: u8 },
  fastLeave: { type: IFLA_BRPORT.FAST_LEAVE, codec: u8 },
  learning: { type: IFLA_BRPORT.LEARNING, codec: u8 },
  unicastFlood: { type: IFLA_BRPORT.UNICAST_FLOOD, codec: u8 },
  proxyarp: { type: IFLA_BRPORT.PROXYARP, codec: u8 },
  learningSync: { type: IFLA_BRPORT.LEARNING_SYNC, codec: u8 },
  proxyarpWifi: { type: IFLA_BRPORT.PROXYARP_WIFI, codec: u8 },
  rootId: { type: IFLA_BRPORT.ROOT_ID, codec: bridgeId },
  bridgeId: { type: IFLA_BRPORT.BRIDGE_ID, codec: bridgeId },
  designatedPort: { type: IFLA_BRPORT.DESIGNATED_PORT, codec: u16 },
  designatedCost: { type: IFLA_BRPORT.DESIGNATED_COST, codec: u16 },
  id: { type: IFLA_BRPORT.ID, codec: u16 },
  no: { type: IFLA_BRPORT.NO, codec: u16 },
  topologyChangeAck: { type: IFLA_BRPORT.TOPOLOGY_CHANGE_ACK, codec: u8 },
  configPending: { type: IFLA_BRPORT.CONFIG_PENDING, codec: u8 },
  messageAgeTimer: { type: IFLA_BRPORT.MESSAGE_AGE_TIMER, codec: u64 },
  forwardDelayTimer: { type: IFLA_BRPORT.FORWARD_DELAY_TIMER, codec: u64 },
  holdTimer: { type: IFLA_BRPORT.HOLD_TIMER, codec: u64 },
  multicastRouter: { type: IFLA_BRPORT.MULTICAST_ROUTER, codec: u8 },
  mcastFlood: { type: IFLA_BRPORT.MCAST_FLOOD, codec: u8 },
  mcastToUcast: { type: IFLA_BRPORT.MCAST_TO_UCAST, codec: u8 },
  vlanTunnel: { type: IFLA_BRPORT.VLAN_TUNNEL, codec: u8 },
  bcastFlood: { type: IFLA_BRPORT.BCAST_FLOOD, codec: u8 },
  groupFwdMask: { type: IFLA_BRPORT.GROUP_FWD_MASK, codec: u16 },
  neighSuppress: { type: IFLA_BRPORT.NEIGH_SUPPRESS, codec: u8 },
  isolated: { type: IFLA_BRPORT.ISOLATED, codec: u8 },
  backupPort: { type: IFLA_BRPORT.BACKUP_PORT, codec: u32 },
  locked: { type: IFLA_BRPORT.LOCKED, codec: u8 },
};
export type BridgePortAttr = AttrOf<typeof BRPORT_SPEC>;
export const BRIDGE_PORT_ATTRS = new AttrTable('IFLA_BRPORT', IFLA_BRPORT, BRPORT_SPEC);

const MACVLAN_SPEC = {
  /** MACVLAN_MODE_*. */
  mode: { type: IFLA_MACVLAN.MODE, codec: u32 },
  flags: { type: IFLA_MACVLAN.FLAGS, codec: u16 },
  macaddrMode: { type: IFLA_MACVLAN.MACADDR_MODE, codec: u32 },
  macaddr: { type: IFLA_MACVLAN.MACADDR, codec: hwaddr },
  macaddrCount: { type: IFLA_MACVLAN.MACADDR_COUNT, codec: u32 },
  bcQueueLen: { type: IFLA_MACVLAN.BC_QUEUE_LEN, codec: u32 },
  bcQueueLenUsed: { type: IFLA_MACVLAN.BC_QUEUE_LEN_USED, codec: u32 },
};
export type MacvlanAttr = AttrOf<typeof MACVLAN_SPEC>;
export const MACVLAN_ATTRS = new AttrTable('IFLA_MACVLAN', IFLA_MACVLAN, MACVLAN_SPEC);

/** IFLA_INET6_* inside IFLA_AF_SPEC -> AF_INET6 (only what ip shows). */
const INET6_ATTRS = new AttrTable('IFLA_INET6', IFLA_INET6, { addrGenMode: { type: IFLA_INET6.ADDR_GEN_MODE, codec: u8 } });
export type Inet6Attr = AttrOf<typeof INET6_ATTRS extends AttrTable<infer S> ? S : never>;
/** IFLA_AF_SPEC: one nest per address family, typed for AF_INET6. */
const AF_SPEC_ATTRS = new AttrTable('AF', { INET6: AF.INET6 }, { inet6: { type: AF.INET6, codec: { encode: (v: readonly Inet6Attr[]) => INET6_ATTRS.encode(v), decode: (d: Buffer, what: string) => INET6_ATTRS.parse(d, what) } as ValueCodec<readonly Inet6Attr[]> } });
export type AfSpecAttr = AttrOf<typeof AF_SPEC_ATTRS extends AttrTable<infer S> ? S : never>;

/** IFLA_PROP_LIST: the link's alternative names (the kernel sets NLA_F_NESTED on it). */
const PROP_ATTRS = new AttrTable('IFLA', IFLA, { altIfname: { type: IFLA.ALT_IFNAME, codec: string } });
export type PropAttr = AttrOf<typeof PROP_ATTRS extends AttrTable<infer S> ? S : never>;

const VETH_ATTRS = new AttrTable('VETH_INFO', VETH_INFO, {
  peer: { type: VETH_INFO.PEER, codec: { encode: (v: LinkMessage) => linkBody.encode(v), decode: (d, what) => linkBody.decode(d, what) } as ValueCodec<LinkMessage> },
});

const LINKINFO_SPEC = {
  infoKind: { type: IFLA_INFO.KIND, codec: string },
  infoData: { type: IFLA_INFO.DATA, codec: bytes },
  infoSlaveKind: { type: IFLA_INFO.SLAVE_KIND, codec: string },
  infoSlaveData: { type: IFLA_INFO.SLAVE_DATA, codec: bytes },
};
const LINKINFO_ATTRS = new AttrTable('IFLA_INFO', IFLA_INFO, LINKINFO_SPEC);

function encodeInfo(a: LinkInfoAttr): Buffer {
  switch (a.kind) {
    case 'vethData': return encodeAttr(IFLA_INFO.DATA, VETH_ATTRS.encode(a.value));
    case 'bridgeData': return encodeAttr(IFLA_INFO.DATA, BRIDGE_ATTRS.encode(a.value));
    case 'macvlanData': return encodeAttr(IFLA_INFO.DATA, MACVLAN_ATTRS.encode(a.value));
    case 'bridgePortData': return encodeAttr(IFLA_INFO.SLAVE_DATA, BRIDGE_PORT_ATTRS.encode(a.value));
    default: return LINKINFO_ATTRS.encode([a]);
  }
}

/** IFLA_INFO_DATA tables by IFLA_INFO_KIND. */
const INFO_DATA: Record<string, (data: Buffer, what: string) => LinkInfoAttr> = {
  veth: (d, what) => ({ kind: 'vethData', value: VETH_ATTRS.parse(d, what) }),
  bridge: (d, what) => ({ kind: 'bridgeData', value: BRIDGE_ATTRS.parse(d, what) }),
  macvlan: (d, what) => ({ kind: 'macvlanData', value: MACVLAN_ATTRS.parse(d, what) }),
};

const linkinfo: ValueCodec<readonly LinkInfoAttr[]> = {
  encode: (value) => Buffer.concat(value.map(encodeInfo)),
  decode(data, what) {
    const attrs = LINKINFO_ATTRS.parse(data, what);
    const kind = attrs.find((a) => a.kind === 'infoKind')?.value;
    const slaveKind = attrs.find((a) => a.kind === 'infoSlaveKind')?.value;
    const data_ = kind !== undefined && Object.hasOwn(INFO_DATA, kind) ? INFO_DATA[kind] : undefined;
    return attrs.map((a): LinkInfoAttr => {
      if (a.kind === 'infoData' && data_) return data_(a.value, `${what}: IFLA_INFO_DATA`);
      if (a.kind === 'infoSlaveData' && slaveKind === 'bridge') {
        return { kind: 'bridgePortData', value: BRIDGE_PORT_ATTRS.parse(a.value, `${what}: IFLA_INFO_SLAVE_DATA`) };
      }
      return a;
    });
  },
};

const afSpec: ValueCodec<readonly AfSpecAttr[]> = { encode: (v) => AF_SPEC_ATTRS.encode(v), decode: (d, what) => AF_SPEC_ATTRS.parse(d, what) };
const propList: ValueCodec<readonly PropAttr[]> = { encode: (v) => PROP_ATTRS.encode(v), decode: (d, what) => PROP_ATTRS.parse(d, what) };

const LINK_SPEC = {
  address: { type: IFLA.ADDRESS, codec: hwaddr },
  broadcast: { type: IFLA.BROADCAST, codec: hwaddr },
  ifname: { type: IFLA.IFNAME, codec: string },
  mtu: { type: IFLA.MTU, codec: u32 },
  link: { type: IFLA.LINK, codec: u32 },
  qdisc: { type: IFLA.QDISC, codec: string },
  master: { type: IFLA.MASTER, codec: u32 },
  /** struct rtnl_link_stats (32-bit counters); see linkStats(). */
  stats: { type: IFLA.STATS, codec: bytes },
  txqlen: { type: IFLA.TXQLEN, codec: u32 },
  operstate: { type: IFLA.OPERSTATE, codec: u8 },
  linkmode: { type: IFLA.LINKMODE, codec: u8 },
  linkinfo: { type: IFLA.LINKINFO, codec: linkinfo },
  netNsPid: { type: IFLA.NET_NS_PID, codec: u32 },
  ifalias: { type: IFLA.IFALIAS, codec: string },
  numVf: { type: IFLA.NUM_VF, codec: u32 },
  /** struct rtnl_link_stats64, as long as the kernel sends it; see linkStats(). */
  stats64: { type: IFLA.STATS64, codec: bytes },
  afSpec: { type: IFLA.AF_SPEC, codec: afSpec },
  group: { type: IFLA.GROUP, codec: u32 },
  netNsFd: { type: IFLA.NET_NS_FD, codec: u32 },
  extMask: { type: IFLA.EXT_MASK, codec: u32 },
  promiscuity: { type: IFLA.PROMISCUITY, codec: u32 },
  numTxQueues: { type: IFLA.NUM_TX_QUEUES, codec: u32 },
  numRxQueues: { type: IFLA.NUM_RX_QUEUES, codec: u32 },
  carrier: { type: IFLA.CARRIER, codec: u8 },
  physPortId: { type: IFLA.PHYS_PORT_ID, codec: bytes },
  carrierChanges: { type: IFLA.CARRIER_CHANGES, codec: u32 },
  physSwitchId: { type: IFLA.PHYS_SWITCH_ID, codec: bytes },
  linkNetnsid: { type: IFLA.LINK_NETNSID, codec: s32 },
  physPortName: { type: IFLA.PHYS_PORT_NAME, codec: string },
  protoDown: { type: IFLA.PROTO_DOWN, codec: u8 },
  gsoMaxSegs: { type: IFLA.GSO_MAX_SEGS, codec: u32 },
  gsoMaxSize: { type: IFLA.GSO_MAX_SIZE, codec: u32 },
  event: { type: IFLA.EVENT, codec: u32 },
  newNetnsid: { type: IFLA.NEW_NETNSID, codec: s32 },
  carrierUpCount: { type: IFLA.CARRIER_UP_COUNT, codec: u32 },
  carrierDownCount: { type: IFLA.CARRIER_DOWN_COUNT, codec: u32 },
  newIfindex: { type: IFLA.NEW_IFINDEX, codec: s32 },
  minMtu: { type: IFLA.MIN_MTU, codec: u32 },
  maxMtu: { type: IFLA.MAX_MTU, codec: u32 },
  propList: { type: NLA_F_NESTED | IFLA.PROP_LIST, codec: propList },
  altIfname: { type: IFLA.ALT_IFNAME, codec: string },
  permAddress: { type: IFLA.PERM_ADDRESS, codec: hwaddr },
  parentDevName: { type: IFLA.PARENT_DEV_NAME, codec: string },
  parentDevBusName: { type: IFLA.PARENT_DEV_BUS_NAME, codec: string },
  groMaxSize: { type: IFLA.GRO_MAX_SIZE, codec: u32 },
  tsoMaxSize: { type: IFLA.TSO_MAX_SIZE, codec: u32 },
  tsoMaxSegs: { type: IFLA.TSO_MAX_SEGS, codec: u32 },
  allmulti: { type: IFLA.ALLMULTI, codec: u32 },
};

export type LinkAttr = AttrOf<typeof LINK_SPEC>;

export const LINK_ATTRS = new AttrTable('IFLA', IFLA, LINK_SPEC);

export const linkBody = bodyCodec<IfInfoHeader, typeof LINK_SPEC>('ifinfomsg', [
  ['family', 'u8'], [null, 'pad8'], ['type', 'u16'], ['index', 's32'], ['flags', 'u32'], ['change', 'u32'],
], () => LINK_ATTRS);

/** The IFLA_INFO_KIND of a link message ('veth', 'bridge'), if it has one. */
export function linkKind(msg: LinkMessage): string | undefined {
  const info = msg.attrs.find((a) => a.kind === 'linkinfo')?.value;
  return info?.find((a) => a.kind === 'infoKind')?.value as string | undefined;
}


/** The counters of struct rtnl_link_stats64 (linux/if_link.h), in its order. */
export const LINK_STATS_FIELDS = [
  'rxPackets', 'txPackets', 'rxBytes', 'txBytes', 'rxErrors', 'txErrors', 'rxDropped', 'txDropped',
  'multicast', 'collisions', 'rxLengthErrors', 'rxOverErrors', 'rxCrcErrors', 'rxFrameErrors',
  'rxFifoErrors', 'rxMissedErrors', 'txAbortedErrors', 'txCarrierErrors', 'txFifoErrors',
  'txHeartbeatErrors', 'txWindowErrors', 'rxCompressed', 'txCompressed', 'rxNohandler', 'rxOtherhostDropped',
] as const;
export type LinkStats = Record<(typeof LINK_STATS_FIELDS)[number], bigint>;

/**
 * A link's counters: IFLA_STATS64 when present (64-bit fields), else IFLA_STATS (the same
 * fields, 32 bits wide). Fields an older kernel does not send read 0, as iproute2 reads them.
 * `wide` says which one it was ("stats64" or "stats" in `ip -j -s`).
 */
export function linkStats(msg: LinkMessage): { stats: LinkStats; wide: boolean } | undefined {
  const s64 = msg.attrs.find((a) => a.kind === 'stats64')?.value as Buffer | undefined;
  const s32 = s64 ? undefined : msg.attrs.find((a) => a.kind === 'stats')?.value as Buffer | undefined;
  const raw = s64 ?? s32;
  if (!raw) return undefined;
  const width = s64 ? 8 : 4;
  const stats = Object.fromEntries(LINK_STATS_FIELDS.map((f, i) => {
    const off = i * width;
    if (off + width > raw.length) return [f, 0n];
    return [f, width === 8 ? raw.readBigUInt64LE(off) : BigInt(raw.readUInt32LE(off))];
  })) as LinkStats;
  return { stats, wide: s64 !== undefined };
}
