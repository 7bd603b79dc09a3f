/**
 * ns-net: network namespaces. rtnetlink spoken directly (codec, transport, verbs named like
 * `ip`), a spawn step giving a program its own namespace with `lo` up and a veth link, and
 * named namespaces shared with `ip netns`.
 */
export { net, preparedNet, type NetOptions, type VethOptions } from './step';
export {
  RtnlHandle, veth, bridge, dummy, macvlan, validateIfname,
  type Address, type AddrOptions, type AddrFlushFilter, type BridgeOptions, type Link, type LinkChanges, type LinkListFilter,
  type LinkRef, type LinkSpec, type MacvlanMode, type NetnsRef, type Route, type RouteQuery, type RouteSpec, type RouteType,
  type VethPeer,
} from './verbs';
export { NetlinkSocket, type NetlinkSocketOptions } from './transport';
export {
  netnsAdd, netnsAttach, netnsDelete, netnsExec, netnsIdentify, netnsList, netnsNames, netnsOpen, netnsPath, netnsPids,
  validateNetnsName, NETNS_RUN_DIR, NETNS_ETC_DIR, type NamedNetns,
} from './netns';
export type { ShowObject, ShowOptions } from './show';
import type * as Show from './show';
/** ip's text and JSON printers (the CLI's code) load when something is shown, not with every user of the library. */
export const ipShow: typeof Show.ipShow = (...args) => (require('./show') as typeof Show).ipShow(...args);
export { parseCidr, type Cidr } from './codec';
export * as codec from './codec';
export {
  NftHandle, NftEngine, networkRules, publishRules, publishSysctls, compileRule, decompileRule, formatRule,
  forwardingEnable, sysctlRead, sysctlWrite, sysctlApply, sysctlRestore,
  type EngineOptions, type EngineRule, type NetworkSpec, type PublishSpec, type Rule, type RuleMatch, type RuleAction,
  type NftOp, type NftFamily, type NftRule, type NftChain, type NftTable, type SysctlChange, type SysctlSetting,
} from './nft';
export * as nft from './nft';
