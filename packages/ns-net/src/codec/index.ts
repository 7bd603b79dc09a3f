/** The rtnetlink codec: pure functions from messages to bytes and back. No I/O. */
export * from './constants';
export { align4, attrValue, AttrTable, encodeAttr, NLA_F_NESTED, u64, be16, type AttrOf, type OtherAttr, type ValueCodec } from './attr';
export { formatHwaddr, formatIp, networkOf, parseAddress, parseCidr, parseHwaddr, parseIp, type Cidr, type IpAddress } from './ip';
export {
  linkBody, linkKind, linkStats, LINK_ATTRS, LINK_STATS_FIELDS, BRIDGE_ATTRS, BRIDGE_PORT_ATTRS, MACVLAN_ATTRS,
  type IfInfoHeader, type LinkAttr, type LinkInfoAttr, type LinkMessage, type LinkStats, type VethAttr, type BridgeAttr,
  type BridgePortAttr, type MacvlanAttr, type AfSpecAttr, type Inet6Attr, type PropAttr,
} from './link';
export { addrBody, ADDR_ATTRS, type AddrAttr, type AddrMessage, type IfAddrHeader } from './addr';
export { routeBody, ROUTE_ATTRS, METRICS_ATTRS, type MetricAttr, type RouteAttr, type RouteMessage, type RtHeader } from './route';
export { nsidBody, NSID_ATTRS, type NsidAttr, type NsidMessage } from './nsid';
export {
  encodeMessage, parseMessages, kindOfType, typeName, NLMSG_HDRLEN, EXTACK_ATTRS,
  type DoneBody, type ErrorBody, type ExtackAttr, type MessageKind, type NlHeader, type NlMessage,
} from './message';
export * from './nft';
