/** Route verbs, named after `ip route`. */
import { usageError } from 'ns-core';
import {
  AF, NLM_F, RTM, RTN, RTPROT, RT_SCOPE, RT_TABLE, attrValue, parseAddress, parseCidr,
  type RouteAttr, type RouteMessage,
} from '../codec';
import type { NetlinkSocket } from '../transport';
import { indexOf, type LinkRef } from './link';

/** A route as the kernel reports it (RTM_NEWROUTE). */
export interface Route {
  readonly family: number;
  /** Destination network; undefined for a default route (dstLen 0). */
  readonly dst: string | undefined;
  readonly dstLen: number;
  readonly gateway: string | undefined;
  /** Output ifindex. */
  readonly oif: number | undefined;
  /** RTA_TABLE when present (tables above 255), else rtm_table. */
  readonly table: number;
  readonly protocol: number;
  readonly scope: number;
  /** RTN_* (unicast, local, broadcast...). */
  readonly type: number;
  readonly flags: number;
  /** RTA_PRIORITY, shown by `ip` as "metric". */
  readonly metric: number | undefined;
  readonly prefsrc: string | undefined;
  readonly message: RouteMessage;
}

/** What `ip route add|replace|del` takes. */
export interface RouteSpec {
  /** 'default' or a CIDR ("10.0.0.0/8"). */
  readonly dst: string;
  /** Next hop (`via`). */
  readonly gateway?: string;
  /** Output link (`dev`). */
  readonly dev?: LinkRef;
  /** Default RT_TABLE_MAIN. */
  readonly table?: number;
  readonly metric?: number;
  /** `src`: the source address preferred for this route. */
  readonly prefsrc?: string;
  /** RT_SCOPE_*; default as `ip` picks it: link without a gateway, else universe. */
  readonly scope?: number;
  /** RTPROT_*; default boot, as `ip` uses. */
  readonly protocol?: number;
  /** Family of a 'default' route without a gateway (default IPv4). */
  readonly family?: number;
}

export function toRoute(message: RouteMessage): Route {
  const a = message.attrs;
  return {
    family: message.family, dst: attrValue(a, 'dst'), dstLen: message.dstLen, gateway: attrValue(a, 'gateway'),
    oif: attrValue(a, 'oif'), table: attrValue(a, 'table') ?? message.table, protocol: message.protocol,
    scope: message.scope, type: message.type, flags: message.flags, metric: attrValue(a, 'priority'),
    prefsrc: attrValue(a, 'prefsrc'), message,
  };
}

/**
 * Equivalent to: `ip route show [table T]` (`ip -6 route show` with family AF.INET6; all
 * families when family is AF.UNSPEC). The kernel filters by table (strict dump checking).
 */
export function routeList(nl: NetlinkSocket, filter: { family?: number; table?: number } = {}): Route[] {
  const table = filter.table ?? RT_TABLE.MAIN;
  const body: RouteMessage = {
    family: filter.family ?? AF.INET, dstLen: 0, srcLen: 0, tos: 0, table: table < 256 ? table : RT_TABLE.UNSPEC,
    protocol: 0, scope: 0, type: 0, flags: 0, attrs: [{ kind: 'table', value: table }],
  };
  return nl.dump({ type: RTM.GETROUTE, flags: 0, kind: 'route', body }, 'ip route show')
    .flatMap((m) => (m.kind === 'route' ? [toRoute(m.body)] : []));
}

/**
 * The message `ip route` sends (iproute_modify() in iproute2): table main, protocol boot,
 * type unicast; without a gateway the route is on-link (scope link). A delete leaves
 * protocol/type unset and scope NOWHERE so that it matches any route with that destination.
 */
function routeMessage(nl: NetlinkSocket, spec: RouteSpec, del: boolean): RouteMessage {
  const dst = spec.dst === 'default' ? undefined : parseCidr(spec.dst, 'route destination');
  const gateway = spec.gateway !== undefined ? parseAddress(spec.gateway, 'gateway') : undefined;
  const prefsrc = spec.prefsrc !== undefined ? parseAddress(spec.prefsrc, 'src') : undefined;
  const family = dst?.family ?? gateway?.family ?? spec.family ?? AF.INET;
  for (const [what, addr] of [['gateway', gateway], ['src', prefsrc]] as const) {
    if (addr && addr.family !== family) throw usageError(`${what}: ${addr.address} is not in the family of ${spec.dst}`);
  }
  if (spec.metric !== undefined && (!Number.isInteger(spec.metric) || spec.metric < 0)) throw usageError(`metric: ${spec.metric} is not a number`);
  const table = spec.table ?? RT_TABLE.MAIN;
  const attrs: RouteAttr[] = [];
  if (dst) attrs.push({ kind: 'dst', value: dst.address });
  if (gateway) attrs.push({ kind: 'gateway', value: gateway.address });
  if (spec.metric !== undefined) attrs.push({ kind: 'priority', value: spec.metric });
  if (prefsrc) attrs.push({ kind: 'prefsrc', value: prefsrc.address });
  // rtm_table is 8 bits: larger table ids only fit RTA_TABLE.
  if (table >= 256) attrs.push({ kind: 'table', value: table });
  if (spec.dev !== undefined) attrs.push({ kind: 'oif', value: indexOf(nl, spec.dev) });
  return {
    family, dstLen: dst?.prefixlen ?? 0, srcLen: 0, tos: 0, table: table < 256 ? table : RT_TABLE.UNSPEC,
    protocol: spec.protocol ?? (del ? RTPROT.UNSPEC : RTPROT.BOOT),
    scope: spec.scope ?? (del ? RT_SCOPE.NOWHERE : gateway ? RT_SCOPE.UNIVERSE : RT_SCOPE.LINK),
    type: del ? RTN.UNSPEC : RTN.UNICAST, flags: 0, attrs,
  };
}

function describe(verb: string, spec: RouteSpec): string {
  return `ip route ${verb} ${spec.dst}${spec.gateway ? ` via ${spec.gateway}` : ''}${spec.dev !== undefined ? ` dev ${spec.dev}` : ''}`;
}

/** Equivalent to: `ip route add $dst [via $gw] [dev $link] [metric N] [src S] [table T]` */
export function routeAdd(nl: NetlinkSocket, spec: RouteSpec): void {
  const body = routeMessage(nl, spec, false);
  nl.request({ type: RTM.NEWROUTE, flags: NLM_F.CREATE | NLM_F.EXCL, kind: 'route', body }, describe('add', spec));
}

/** Equivalent to: `ip route replace $dst [via $gw] [dev $link] ...` */
export function routeReplace(nl: NetlinkSocket, spec: RouteSpec): void {
  const body = routeMessage(nl, spec, false);
  nl.request({ type: RTM.NEWROUTE, flags: NLM_F.CREATE | NLM_F.REPLACE, kind: 'route', body }, describe('replace', spec));
}

/** Equivalent to: `ip route del $dst [via $gw] [dev $link] ...` */
export function routeDel(nl: NetlinkSocket, spec: RouteSpec): void {
  const body = routeMessage(nl, spec, true);
  nl.request({ type: RTM.DELROUTE, flags: 0, kind: 'route', body }, describe('del', spec));
}
