/** RTM_{NEW,DEL,GET}ROUTE bodies: struct rtmsg then RTA_* attributes. */
import { AttrTable, be16, bytes, ipaddr, nested, string, u32, u32Struct, u8, type AttrsOf, type SpecOf } from './attr';
import { bodyCodec, type Body } from './body';
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
export const METRICS_ATTRS = new AttrTable('RTAX', RTAX, {
  lock: u32, mtu: u32, window: u32, rtt: u32, rttvar: u32, ssthresh: u32, cwnd: u32, advmss: u32, reordering: u32,
  hoplimit: u32, initcwnd: u32, features: u32, rtoMin: u32, initrwnd: u32, quickack: u32, ccAlgo: string, fastopenNoCookie: u32,
});
export type MetricAttr = AttrsOf<typeof METRICS_ATTRS>;

export const ROUTE_ATTRS = new AttrTable('RTA', RTA, {
  dst: ipaddr,
  src: ipaddr,
  iif: u32,
  oif: u32,
  gateway: ipaddr,
  priority: u32,
  prefsrc: ipaddr,
  metrics: nested(() => METRICS_ATTRS),
  /** struct rtnexthop list; kept as bytes. */
  multipath: bytes,
  /** Realms: "to" in the low 16 bits, "from" in the high. */
  flow: u32,
  /** struct rta_cacheinfo; `expires` in jiffies (USER_HZ). */
  cacheinfo: u32Struct(['clntref', 'lastuse', 'expires', 'error', 'used', 'id', 'ts', 'tsage']),
  table: u32,
  mark: u32,
  /** struct rtvia: a family then an address of that family. */
  via: bytes,
  newdst: bytes,
  /** ICMPV6_ROUTER_PREF_*: 0 medium, 1 high, 3 low. */
  pref: u8,
  encapType: bytes,
  encap: bytes,
  expires: u32,
  uid: u32,
  ttlPropagate: u8,
  ipProto: u8,
  sport: be16,
  dport: be16,
  nhId: u32,
});

export type RouteAttr = AttrsOf<typeof ROUTE_ATTRS>;

export type RouteMessage = Body<RtHeader, SpecOf<typeof ROUTE_ATTRS>>;

export const routeBody = bodyCodec<RtHeader, SpecOf<typeof ROUTE_ATTRS>>('rtmsg', [
  ['family', 'u8'], ['dstLen', 'u8'], ['srcLen', 'u8'], ['tos', 'u8'],
  ['table', 'u8'], ['protocol', 'u8'], ['scope', 'u8'], ['type', 'u8'], ['flags', 'u32'],
], () => ROUTE_ATTRS);
