/** RTM_{NEW,DEL,GET}ROUTE bodies: struct rtmsg then RTA_* attributes. */
import { AttrTable, ipaddr, u32, u8, type AttrOf } from './attr';
import { bodyCodec } from './body';
import { RTA } from './constants';

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

const ROUTE_SPEC = {
  dst: { type: RTA.DST, codec: ipaddr },
  src: { type: RTA.SRC, codec: ipaddr },
  iif: { type: RTA.IIF, codec: u32 },
  oif: { type: RTA.OIF, codec: u32 },
  gateway: { type: RTA.GATEWAY, codec: ipaddr },
  priority: { type: RTA.PRIORITY, codec: u32 },
  prefsrc: { type: RTA.PREFSRC, codec: ipaddr },
  table: { type: RTA.TABLE, codec: u32 },
  mark: { type: RTA.MARK, codec: u32 },
  /** ICMPV6_ROUTER_PREF_*: 0 medium, 1 high, 3 low. */
  pref: { type: RTA.PREF, codec: u8 },
  uid: { type: RTA.UID, codec: u32 },
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
