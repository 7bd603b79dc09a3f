/** RTM_{NEW,DEL,GET}ROUTE bodies: struct rtmsg then RTA_* attributes. */
import { AttrTable, be16, bytes, ipaddr, string, u32, u32Struct, u8, type AttrOf, type ValueCodec } from './attr';
import { bodyCodec } from './body';
import { RTA, RTAX } from './constants';

/** struct rtmsg (linux/rtnetlink.h). */
export interface RtHeader {
  readonly family: number;
  readonly dstLen: number;
  readonly srcLen: number;
  readonly tos: number;
  /** RT_TABLE_*; tables above 255 only fit RTA_TABLE. */
  readonly table: number;
  /** RTPROT_*: who installed the route. */
  readonly protocol: number;
  /** RT_SCOPE_*. */
  readonly scope: number;
  /** RTN_*. */
  readonly type: number;
  /** RTM_F_* and RTNH_F_* flags. */
  readonly flags: number;
}

/** RTA_METRICS: RTAX_* entries, u32 each but the congestion control algorithm's name. */
const METRICS_SPEC = {
  lock: { type: RTAX.LOCK, codec: u32 }, mtu: { type: RTAX.MTU, codec: u32 }, window: { type: RTAX.WINDOW, codec: u32 },
  rtt: { type: RTAX.RTT, codec: u32 }, rttvar: { type: RTAX.RTTVAR, codec: u32 }, ssthresh: { type: RTAX.SSTHRESH, codec: u32 },
  cwnd: { type: RTAX.CWND, codec: u32 }, advmss: { type: RTAX.ADVMSS, codec: u32 }, reordering: { type: RTAX.REORDERING, codec: u32 },
  hoplimit: { type: RTAX.HOPLIMIT, codec: u32 }, initcwnd: { type: RTAX.INITCWND, codec: u32 }, features: { type: RTAX.FEATURES, codec: u32 },
  rtoMin: { type: RTAX.RTO_MIN, codec: u32 }, initrwnd: { type: RTAX.INITRWND, codec: u32 }, quickack: { type: RTAX.QUICKACK, codec: u32 },
  ccAlgo: { type: RTAX.CC_ALGO, codec: string }, fastopenNoCookie: { type: RTAX.FASTOPEN_NO_COOKIE, codec: u32 },
};
export type MetricAttr = AttrOf<typeof METRICS_SPEC>;
export const METRICS_ATTRS = new AttrTable('RTAX', RTAX, METRICS_SPEC);
const metrics: ValueCodec<readonly MetricAttr[]> = { encode: (v) => METRICS_ATTRS.encode(v), decode: (d, what) => METRICS_ATTRS.parse(d, what) };

const ROUTE_SPEC = {
  dst: { type: RTA.DST, codec: ipaddr },
  src: { type: RTA.SRC, codec: ipaddr },
  iif: { type: RTA.IIF, codec: u32 },
  oif: { type: RTA.OIF, codec: u32 },
  gateway: { type: RTA.GATEWAY, codec: ipaddr },
  priority: { type: RTA.PRIORITY, codec: u32 },
  prefsrc: { type: RTA.PREFSRC, codec: ipaddr },
  metrics: { type: RTA.METRICS, codec: metrics },
  /** struct rtnexthop list; kept as bytes. */
  multipath: { type: RTA.MULTIPATH, codec: bytes },
  /** Realms: "to" in the low 16 bits, "from" in the high. */
  flow: { type: RTA.FLOW, codec: u32 },
  /** struct rta_cacheinfo; `expires` in jiffies (USER_HZ). */
  cacheinfo: { type: RTA.CACHEINFO, codec: u32Struct(['clntref', 'lastuse', 'expires', 'error', 'used', 'id', 'ts', 'tsage']) },
  table: { type: RTA.TABLE, codec: u32 },
  mark: { type: RTA.MARK, codec: u32 },
  /** struct rtvia: a family then an address of that family. */
  via: { type: RTA.VIA, codec: bytes },
  newdst: { type: RTA.NEWDST, codec: bytes },
  /** ICMPV6_ROUTER_PREF_*: 0 medium, 1 high, 3 low. */
  pref: { type: RTA.PREF, codec: u8 },
  encapType: { type: RTA.ENCAP_TYPE, codec: bytes },
  encap: { type: RTA.ENCAP, codec: bytes },
  expires: { type: RTA.EXPIRES, codec: u32 },
  uid: { type: RTA.UID, codec: u32 },
  ttlPropagate: { type: RTA.TTL_PROPAGATE, codec: u8 },
  ipProto: { type: RTA.IP_PROTO, codec: u8 },
  sport: { type: RTA.SPORT, codec: be16 },
  dport: { type: RTA.DPORT, codec: be16 },
  nhId: { type: RTA.NH_ID, codec: u32 },
};

export type RouteAttr = AttrOf<typeof ROUTE_SPEC>;

export interface RouteMessage extends RtHeader {
  readonly attrs: readonly RouteAttr[];
}

export const ROUTE_ATTRS = new AttrTable('RTA', RTA, ROUTE_SPEC);

export const routeBody = bodyCodec<RtHeader, typeof ROUTE_SPEC>('rtmsg', [
  ['family', 'u8'], ['dstLen', 'u8'], ['srcLen', 'u8'], ['tos', 'u8'],
  ['table', 'u8'], ['protocol', 'u8'], ['scope', 'u8'], ['type', 'u8'], ['flags', 'u32'],
], () => ROUTE_ATTRS);
