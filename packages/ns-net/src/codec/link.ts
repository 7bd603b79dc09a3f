/** RTM_{NEW,DEL,GET,SET}LINK bodies: struct ifinfomsg then IFLA_* attributes. */
import {
  AttrTable, NLA_F_NESTED, be16, bytes, encodeAttr, hwaddr, late, nested, s32, string, u16, u32, u32Struct, u64, u8,
  type AttrsOf, type SpecOf, type OtherAttr, type ValueCodec,
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
export type LinkInfoAttr = AttrsOf<typeof LINKINFO_ATTRS>
  | { readonly kind: 'vethData'; readonly value: readonly VethAttr[] }
  | { readonly kind: 'bridgeData'; readonly value: readonly BridgeAttr[] }
  | { readonly kind: 'macvlanData'; readonly value: readonly MacvlanAttr[] }
  | { readonly kind: 'bridgePortData'; readonly value: readonly BridgePortAttr[] };

/** struct ifla_bridge_id: two priority bytes then the MAC address. */
const bridgeId = bytes;

export const BRIDGE_ATTRS = new AttrTable('IFLA_BR', IFLA_BR, {
  forwardDelay: u32,
  helloTime: u32,
  maxAge: u32,
  ageingTime: u32,
  stpState: u32,
  priority: u16,
  vlanFiltering: u8,
  /** An ethertype, in network byte order (0x8100 for 802.1Q). */
  vlanProtocol: be16,
  groupFwdMask: u16,
  rootId: bridgeId,
  bridgeId: bridgeId,
  rootPort: u16,
  rootPathCost: u32,
  topologyChange: u8,
  topologyChangeDetected: u8,
  /** Timers in centiseconds (clock_t at USER_HZ 100). */
  helloTimer: u64,
  tcnTimer: u64,
  topologyChangeTimer: u64,
  gcTimer: u64,
  groupAddr: hwaddr,
  mcastRouter: u8,
  mcastSnooping: u8,
  mcastQueryUseIfaddr: u8,
  mcastQuerier: u8,
  mcastHashElasticity: u32,
  mcastHashMax: u32,
  mcastLastMemberCnt: u32,
  mcastStartupQueryCnt: u32,
  mcastLastMemberIntvl: u64,
  mcastMembershipIntvl: u64,
  mcastQuerierIntvl: u64,
  mcastQueryIntvl: u64,
  mcastQueryResponseIntvl: u64,
  mcastStartupQueryIntvl: u64,
  nfCallIptables: u8,
  nfCallIp6tables: u8,
  nfCallArptables: u8,
  vlanDefaultPvid: u16,
  vlanStatsEnabled: u8,
  mcastStatsEnabled: u8,
  mcastIgmpVersion: u8,
  mcastMldVersion: u8,
  vlanStatsPerPort: u8,
  /** struct br_boolopt_multi. */
  multiBoolopt: u32Struct(['optval', 'optmask']),
});
export type BridgeAttr = AttrsOf<typeof BRIDGE_ATTRS>;

export const BRIDGE_PORT_ATTRS = new AttrTable('IFLA_BRPORT', IFLA_BRPORT, {
  state: u8,
  priority: u16,
  cost: u32,
  mode: u8,
  guard: u8,
  protect: u8,
  fastLeave: u8,
  learning: u8,
  unicastFlood: u8,
  proxyarp: u8,
  learningSync: u8,
  proxyarpWifi: u8,
  rootId: bridgeId,
  bridgeId: bridgeId,
  designatedPort: u16,
  designatedCost: u16,
  id: u16,
  no: u16,
  topologyChangeAck: u8,
  configPending: u8,
  messageAgeTimer: u64,
  forwardDelayTimer: u64,
  holdTimer: u64,
  multicastRouter: u8,
  mcastFlood: u8,
  mcastToUcast: u8,
  vlanTunnel: u8,
  bcastFlood: u8,
  groupFwdMask: u16,
  neighSuppress: u8,
  isolated: u8,
  backupPort: u32,
  locked: u8,
});
export type BridgePortAttr = AttrsOf<typeof BRIDGE_PORT_ATTRS>;

export const MACVLAN_ATTRS = new AttrTable('IFLA_MACVLAN', IFLA_MACVLAN, {
  /** MACVLAN_MODE_*. */
  mode: u32,
  flags: u16,
  macaddrMode: u32,
  macaddr: hwaddr,
  macaddrCount: u32,
  bcQueueLen: u32,
  bcQueueLenUsed: u32,
});
export type MacvlanAttr = AttrsOf<typeof MACVLAN_ATTRS>;

/** IFLA_INET6_* inside IFLA_AF_SPEC -> AF_INET6 (only what ip shows). */
const INET6_ATTRS = new AttrTable('IFLA_INET6', IFLA_INET6, { addrGenMode: u8 });
export type Inet6Attr = AttrsOf<typeof INET6_ATTRS>;
/** IFLA_AF_SPEC: one nest per address family, typed for AF_INET6. */
const AF_SPEC_ATTRS = new AttrTable('AF', { INET6: AF.INET6 }, { inet6: nested(() => INET6_ATTRS) });
export type AfSpecAttr = AttrsOf<typeof AF_SPEC_ATTRS>;

/** IFLA_PROP_LIST: the link's alternative names (the kernel sets NLA_F_NESTED on it). */
const PROP_ATTRS = new AttrTable('IFLA', IFLA, { altIfname: string });
export type PropAttr = AttrsOf<typeof PROP_ATTRS>;

const VETH_ATTRS = new AttrTable('VETH_INFO', VETH_INFO, {
  peer: late<LinkMessage>(() => linkBody),
});

const LINKINFO_ATTRS = new AttrTable('IFLA_INFO', IFLA_INFO, {
  infoKind: { type: IFLA_INFO.KIND, codec: string },
  infoData: { type: IFLA_INFO.DATA, codec: bytes },
  infoSlaveKind: { type: IFLA_INFO.SLAVE_KIND, codec: string },
  infoSlaveData: { type: IFLA_INFO.SLAVE_DATA, codec: bytes },
});

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


export const LINK_ATTRS = new AttrTable('IFLA', IFLA, {
  address: hwaddr,
  broadcast: hwaddr,
  ifname: string,
  mtu: u32,
  link: u32,
  qdisc: string,
  master: u32,
  /** struct rtnl_link_stats (32-bit counters); see linkStats(). */
  stats: bytes,
  txqlen: u32,
  operstate: u8,
  linkmode: u8,
  linkinfo: linkinfo,
  netNsPid: u32,
  ifalias: string,
  numVf: u32,
  /** struct rtnl_link_stats64, as long as the kernel sends it; see linkStats(). */
  stats64: bytes,
  afSpec: nested(() => AF_SPEC_ATTRS),
  group: u32,
  netNsFd: u32,
  extMask: u32,
  promiscuity: u32,
  numTxQueues: u32,
  numRxQueues: u32,
  carrier: u8,
  physPortId: bytes,
  carrierChanges: u32,
  physSwitchId: bytes,
  linkNetnsid: s32,
  physPortName: string,
  protoDown: u8,
  gsoMaxSegs: u32,
  gsoMaxSize: u32,
  event: u32,
  newNetnsid: s32,
  carrierUpCount: u32,
  carrierDownCount: u32,
  newIfindex: s32,
  minMtu: u32,
  maxMtu: u32,
  propList: { type: NLA_F_NESTED | IFLA.PROP_LIST, codec: nested(() => PROP_ATTRS) },
  altIfname: string,
  permAddress: hwaddr,
  parentDevName: string,
  parentDevBusName: string,
  groMaxSize: u32,
  tsoMaxSize: u32,
  tsoMaxSegs: u32,
  allmulti: u32,
});

export type LinkAttr = AttrsOf<typeof LINK_ATTRS>;


export const linkBody = bodyCodec<IfInfoHeader, SpecOf<typeof LINK_ATTRS>>('ifinfomsg', [
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
