/** Route verbs, named after `ip route`. */
import { NsError, usageError } from 'ns-core/errors';
import { attrValue } from '../codec/attr';
import { AF, NLM_F, RTM, RTM_F, RTN, RTNH_F, RTPROT, RT_SCOPE, RT_TABLE } from '../codec/constants';
import { parseAddress, parseCidr } from '../codec/ip';
import type { RouteAttr, RouteMessage } from '../codec/route';
import type { NetlinkSocket } from '../transport/socket';
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

export type RouteType = 'unicast' | 'local' | 'broadcast' | 'anycast' | 'multicast' | 'blackhole' | 'unreachable' | 'prohibit' | 'throw' | 'nat';

/** RTN_* by the name `ip route` uses. */
export const ROUTE_TYPES: Readonly<Record<RouteType, number>> = {
  unicast: RTN.UNICAST, local: RTN.LOCAL, broadcast: RTN.BROADCAST, anycast: RTN.ANYCAST, multicast: RTN.MULTICAST,
  blackhole: RTN.BLACKHOLE, unreachable: RTN.UNREACHABLE, prohibit: RTN.PROHIBIT, throw: RTN.THROW, nat: RTN.NAT,
};

/** What `ip route add|replace|del` takes. */
export interface RouteSpec {
  /** 'default' or a prefix ("10.0.0.0/8", "2001:db8::/32"). */
  readonly dst: string;
  /** RTN_* by name (default unicast). */
  readonly type?: RouteType;
  /** Next hop (`via`). */
  readonly gateway?: string;
  /** Output link (`dev`). */
  readonly dev?: LinkRef;
  /** Default RT_TABLE_MAIN (RT_TABLE_LOCAL for local, broadcast, anycast and nat routes, as ip does). */
  readonly table?: number;
  readonly metric?: number;
  /** `src`: the source address preferred for this route. */
  readonly prefsrc?: string;
  /** `from`: a source prefix (IPv6 subtrees). */
  readonly from?: string;
  /** RT_SCOPE_*; default as `ip` picks it (see routeMessage()). */
  readonly scope?: number;
  /** RTPROT_*; default boot, as `ip` uses. */
  readonly protocol?: number;
  /** Family of a 'default' route without a gateway (default IPv4). */
  readonly family?: number;
  /** `onlink`: the gateway is on the link even if no prefix says so. */
  readonly onlink?: boolean;
  /** Path MTU of the route (RTAX_MTU; `mtu N`). */
  readonly mtu?: number;
  /** IPv6 router preference (`pref low|medium|high`). */
  readonly pref?: 'low' | 'medium' | 'high';
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
 * Equivalent to: `ip route show [table T] [dev D] [proto P]` (`ip -6 route show` with family
 * AF.INET6; all families when family is AF.UNSPEC; every table with table 0). The kernel
 * filters by table, output link and protocol (strict dump checking).
 */
export function routeList(nl: NetlinkSocket, filter: { family?: number; table?: number; oif?: number; protocol?: number } = {}): Route[] {
  const table = filter.table ?? RT_TABLE.MAIN;
  const attrs: RouteAttr[] = [];
  if (table !== 0) attrs.push({ kind: 'table', value: table });
  if (filter.oif !== undefined) attrs.push({ kind: 'oif', value: filter.oif });
  const body: RouteMessage = {
    family: filter.family ?? AF.INET, dstLen: 0, srcLen: 0, tos: 0, table: 0,
    protocol: filter.protocol ?? 0, scope: 0, type: 0, flags: 0, attrs,
  };
  return nl.dump({ type: RTM.GETROUTE, flags: 0, kind: 'route', body }, 'ip route show')
    .flatMap((m) => (m.kind === 'route' ? [toRoute(m.body)] : []));
}

const PREFS = { low: 3, medium: 0, high: 1 } as const;

/**
 * The message `ip route` sends (iproute_modify() in iproute2): table main, protocol boot,
 * type unicast. Scope: universe for IPv6 and for routes with a gateway; host for local and nat
 * routes, link for broadcast, multicast and anycast ones, and link for an IPv4 unicast route
 * without a gateway (on-link). A delete leaves protocol and type unset and scope NOWHERE so
 * that it matches any route with that destination.
 * @throws NsError EUSAGE for a missing or bad destination, gateway, source or number.
 */
function routeMessage(nl: NetlinkSocket, spec: RouteSpec, del: boolean): RouteMessage {
  // Checked here and not only by the types: JavaScript callers and parsed input get a usage
  // error rather than a TypeError.
  if (typeof spec.dst !== 'string' || spec.dst === '') throw usageError('route: a destination is required (a prefix or "default")');
  const dst = spec.dst === 'default' ? undefined : parseCidr(spec.dst, 'route destination');
  const gateway = spec.gateway !== undefined ? parseAddress(spec.gateway, 'gateway') : undefined;
  const prefsrc = spec.prefsrc !== undefined ? parseAddress(spec.prefsrc, 'src') : undefined;
  const from = spec.from !== undefined ? parseCidr(spec.from, 'from') : undefined;
  const family = dst?.family ?? gateway?.family ?? prefsrc?.family ?? from?.family ?? spec.family ?? AF.INET;
  for (const [what, addr] of [['gateway', gateway], ['src', prefsrc], ['from', from]] as const) {
    if (addr && addr.family !== family) throw usageError(`${what}: ${addr.address} is not in the family of ${spec.dst}`);
  }
  for (const [what, n] of [['metric', spec.metric], ['table', spec.table], ['mtu', spec.mtu]] as const) {
    if (n !== undefined && (!Number.isInteger(n) || n < 0 || n > 0xffffffff)) throw usageError(`${what}: ${n} is not a number`);
  }
  if (spec.type !== undefined && !Object.hasOwn(ROUTE_TYPES, spec.type)) throw usageError(`route type: '${String(spec.type)}' is not one of ${Object.keys(ROUTE_TYPES).join(', ')}`);
  const type = spec.type !== undefined ? ROUTE_TYPES[spec.type] : del ? RTN.UNSPEC : RTN.UNICAST;
  const localTable = type === RTN.LOCAL || type === RTN.BROADCAST || type === RTN.NAT || type === RTN.ANYCAST;
  const table = spec.table ?? (localTable ? RT_TABLE.LOCAL : RT_TABLE.MAIN);
  const attrs: RouteAttr[] = [];
  if (dst) attrs.push({ kind: 'dst', value: dst.address });
  if (from) attrs.push({ kind: 'src', value: from.address });
  if (gateway) attrs.push({ kind: 'gateway', value: gateway.address });
  if (spec.metric !== undefined) attrs.push({ kind: 'priority', value: spec.metric });
  if (prefsrc) attrs.push({ kind: 'prefsrc', value: prefsrc.address });
  if (spec.pref !== undefined) {
    if (!Object.hasOwn(PREFS, spec.pref)) throw usageError(`pref: '${String(spec.pref)}' is not low, medium or high`);
    attrs.push({ kind: 'pref', value: PREFS[spec.pref] });
  }
  // rtm_table is 8 bits: larger table ids only fit RTA_TABLE.
  if (table >= 256) attrs.push({ kind: 'table', value: table });
  if (spec.dev !== undefined) attrs.push({ kind: 'oif', value: indexOf(nl, spec.dev) });
  if (spec.mtu !== undefined) attrs.push({ kind: 'metrics', value: [{ kind: 'mtu', value: spec.mtu }] });
  return {
    family, dstLen: dst?.prefixlen ?? 0, srcLen: from?.prefixlen ?? 0, tos: 0, table: table < 256 ? table : RT_TABLE.UNSPEC,
    protocol: spec.protocol ?? (del ? RTPROT.UNSPEC : RTPROT.BOOT),
    scope: spec.scope ?? defaultScope(family, type, del, gateway !== undefined),
    type, flags: spec.onlink ? RTNH_F.ONLINK : 0, attrs,
  };
}

/** ip's choice of scope when none is given (iproute_modify()). */
function defaultScope(family: number, type: number, del: boolean, gateway: boolean): number {
  if (family === AF.INET6) return RT_SCOPE.UNIVERSE;
  if (type === RTN.LOCAL || type === RTN.NAT) return RT_SCOPE.HOST;
  if (type === RTN.BROADCAST || type === RTN.MULTICAST || type === RTN.ANYCAST) return RT_SCOPE.LINK;
  if (type === RTN.UNICAST || type === RTN.UNSPEC) {
    if (del) return RT_SCOPE.NOWHERE;
    return gateway ? RT_SCOPE.UNIVERSE : RT_SCOPE.LINK;
  }
  return del ? RT_SCOPE.NOWHERE : RT_SCOPE.UNIVERSE;
}

function describe(verb: string, spec: RouteSpec): string {
  return `ip route ${verb} ${String(spec.dst)}${spec.gateway ? ` via ${spec.gateway}` : ''}${spec.dev !== undefined ? ` dev ${spec.dev}` : ''}`;
}

/**
 * Equivalent to: `ip route add $dst [via $gw] [dev $link] [metric N] [src S] [table T] [scope S] [proto P]`
 * @throws NsError EUSAGE (no destination, bad values) before anything is sent; EEXIST, ENETUNREACH, ENODEV from the kernel.
 */
export function routeAdd(nl: NetlinkSocket, spec: RouteSpec): void {
  const body = routeMessage(nl, spec, false);
  nl.request({ type: RTM.NEWROUTE, flags: NLM_F.CREATE | NLM_F.EXCL, kind: 'route', body }, describe('add', spec));
}

/** Equivalent to: `ip route replace $dst [via $gw] [dev $link] ...` */
export function routeReplace(nl: NetlinkSocket, spec: RouteSpec): void {
  const body = routeMessage(nl, spec, false);
  nl.request({ type: RTM.NEWROUTE, flags: NLM_F.CREATE | NLM_F.REPLACE, kind: 'route', body }, describe('replace', spec));
}

/** Equivalent to: `ip route del $dst [via $gw] [dev $link] ...` @throws NsError ESRCH if there is no such route. */
export function routeDelete(nl: NetlinkSocket, spec: RouteSpec): void {
  const body = routeMessage(nl, spec, true);
  nl.request({ type: RTM.DELROUTE, flags: 0, kind: 'route', body }, describe('del', spec));
}

/** Equivalent to: `ip route del ...` (the same as routeDelete). */
export const routeDel = routeDelete;

/** What `ip route get` asks the kernel to resolve. */
export interface RouteQuery {
  /** The address to reach. */
  readonly to: string;
  readonly from?: string;
  /** Input link (as if a packet came in there). */
  readonly iif?: LinkRef;
  /** Output link (`oif`/`dev`). */
  readonly oif?: LinkRef;
  readonly mark?: number;
  readonly uid?: number;
  /** The FIB entry that matched, not the resolved route (`fibmatch`). */
  readonly fibMatch?: boolean;
}

/**
 * Equivalent to: `ip route get $to [from F] [iif I] [oif O] [mark M] [uid U] [fibmatch]`: the
 * route the kernel would use. IPv4 lookups carry RTM_F_LOOKUP_TABLE so that the answer names
 * the table, as ip asks.
 * @throws NsError EUSAGE for a bad address; ENETUNREACH, EHOSTUNREACH... from the kernel.
 */
export function routeGet(nl: NetlinkSocket, query: RouteQuery): Route {
  if (typeof query.to !== 'string' || query.to === '') throw usageError('route get: a destination address is required');
  const to = parseCidr(query.to, 'route get');
  const from = query.from !== undefined ? parseCidr(query.from, 'from') : undefined;
  if (from && from.family !== to.family) throw usageError(`from: ${query.from} is not in the family of ${query.to}`);
  const attrs: RouteAttr[] = [{ kind: 'dst', value: to.address }];
  if (from) attrs.unshift({ kind: 'src', value: from.address });
  if (query.uid !== undefined) attrs.push({ kind: 'uid', value: query.uid });
  if (query.iif !== undefined) attrs.push({ kind: 'iif', value: indexOf(nl, query.iif) });
  if (query.oif !== undefined) attrs.push({ kind: 'oif', value: indexOf(nl, query.oif) });
  if (query.mark) attrs.push({ kind: 'mark', value: query.mark });
  const full = to.family === AF.INET6 ? 128 : 32;
  const body: RouteMessage = {
    family: to.family, dstLen: full, srcLen: from?.prefixlen ?? 0, tos: 0, table: 0, protocol: 0, scope: 0, type: 0,
    flags: (to.family === AF.INET ? RTM_F.LOOKUP_TABLE : 0) | (query.fibMatch ? RTM_F.FIB_MATCH : 0), attrs,
  };
  const [reply] = nl.request({ type: RTM.GETROUTE, flags: 0, kind: 'route', body }, `ip route get ${to.address}`);
  if (reply?.kind !== 'route') throw new NsError({ errno: 71, code: 'EPROTO', message: `ip route get ${to.address}: the kernel answered without a route` });
  return toRoute(reply.body);
}
