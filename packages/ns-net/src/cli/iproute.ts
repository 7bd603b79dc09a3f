/**
 * `ip route add|del|change|replace|append|prepend|test|show|get|flush`, read and printed as
 * ip/iproute.c does (print_route(), filter_nlmsg(), iproute_modify(), iproute_get()).
 */
import { attrValue } from '../codec/attr';
import { AF, NLM_F, RTA, RTAX, RTM, RTM_F, RTN, RTNH_F, RTPROT, RT_SCOPE, RT_TABLE } from '../codec/constants';
import { formatIp, networkOf, parseIp } from '../codec/ip';
import { METRICS_ATTRS, type RouteAttr, type RouteMessage } from '../codec/route';
import {
  Words, duparg2, familyName, getAddr, getPrefix, getUnsigned, invarg, matches, nodev, prefixAddress, readFamily,
  type InetPrefix,
} from './args';
import { dumpErrorMessage, isKernelError, type IpContext } from './context';
import { IpExit } from './errors';
import {
  dsfieldId, dsfieldName, protocolId, protocolName, realmName, routeTypeId, routeTypeName, scopeId, scopeName, scopeSelector,
  tableId, tableName,
} from './names';

const ROUTE_USAGE = `Usage: ip route { list | flush } SELECTOR
       ip route save SELECTOR
       ip route restore
       ip route showdump
       ip route get [ ROUTE_GET_FLAGS ] ADDRESS
                            [ from ADDRESS iif STRING ]
                            [ oif STRING ] [ tos TOS ]
                            [ mark NUMBER ] [ vrf NAME ]
                            [ uid NUMBER ] [ ipproto PROTOCOL ]
                            [ sport NUMBER ] [ dport NUMBER ]
       ip route { add | del | change | append | replace } ROUTE
SELECTOR := [ root PREFIX ] [ match PREFIX ] [ exact PREFIX ]
            [ table TABLE_ID ] [ vrf NAME ] [ proto RTPROTO ]
            [ type TYPE ] [ scope SCOPE ]
ROUTE := NODE_SPEC [ INFO_SPEC ]
NODE_SPEC := [ TYPE ] PREFIX [ tos TOS ]
             [ table TABLE_ID ] [ proto RTPROTO ]
             [ scope SCOPE ] [ metric METRIC ]
             [ ttl-propagate { enabled | disabled } ]
INFO_SPEC := { NH | nhid ID } OPTIONS FLAGS [ nexthop NH ]...
NH := [ encap ENCAPTYPE ENCAPHDR ] [ via [ FAMILY ] ADDRESS ]
      [ dev STRING ] [ weight NUMBER ] NHFLAGS
FAMILY := [ inet | inet6 | mpls | bridge | link ]
OPTIONS := FLAGS [ mtu NUMBER ] [ advmss NUMBER ] [ as [ to ] ADDRESS ]
           [ rtt TIME ] [ rttvar TIME ] [ reordering NUMBER ]
           [ window NUMBER ] [ cwnd NUMBER ] [ initcwnd NUMBER ]
           [ ssthresh NUMBER ] [ realms REALM ] [ src ADDRESS ]
           [ rto_min TIME ] [ hoplimit NUMBER ] [ initrwnd NUMBER ]
           [ features FEATURES ] [ quickack BOOL ] [ congctl NAME ]
           [ pref PREF ] [ expires TIME ] [ fastopen_no_cookie BOOL ]
TYPE := { unicast | local | broadcast | multicast | throw |
          unreachable | prohibit | blackhole | nat }
TABLE_ID := [ local | main | default | all | NUMBER ]
SCOPE := [ host | link | global | NUMBER ]
NHFLAGS := [ onlink | pervasive ]
RTPROTO := [ kernel | boot | static | NUMBER ]
PREF := [ low | medium | high ]
TIME := NUMBER[s|ms]
BOOL := [1|0]
FEATURES := ecn
ENCAPTYPE := [ mpls | ip | ip6 | seg6 | seg6local | rpl | ioam6 | xfrm ]
ENCAPHDR := [ MPLSLABEL | SEG6HDR | SEG6LOCAL | IOAM6HDR | XFRMINFO ]
SEG6HDR := [ mode SEGMODE ] segs ADDR1,ADDRi,ADDRn [hmac HMACKEYID] [cleanup]
SEGMODE := [ encap | encap.red | inline | l2encap | l2encap.red ]
SEG6LOCAL := action ACTION [ OPTIONS ] [ count ]
ACTION := { End | End.X | End.T | End.DX2 | End.DX6 | End.DX4 |
            End.DT6 | End.DT4 | End.DT46 | End.B6 | End.B6.Encaps |
            End.BM | End.S | End.AS | End.AM | End.BPF }
OPTIONS := OPTION [ OPTIONS ]
OPTION := { flavors FLAVORS | srh SEG6HDR | nh4 ADDR | nh6 ADDR | iif DEV | oif DEV |
            table TABLEID | vrftable TABLEID | endpoint PROGNAME }
FLAVORS := { FLAVOR[,FLAVOR] }
FLAVOR := { psp | usp | usd | next-csid }
IOAM6HDR := trace prealloc type IOAM6_TRACE_TYPE ns IOAM6_NAMESPACE size IOAM6_TRACE_SIZE
XFRMINFO := if_id IF_ID [ link_dev LINK ]
ROUTE_GET_FLAGS := [ fibmatch ]
`;

function usage(): never {
  throw new IpExit(255, ROUTE_USAGE);
}

/** A prefix to test against, and whether one was given (inet_prefix with its flags). */
interface Pfx {
  family: number;
  bitlen: number;
  bytes: Buffer;
  specified: boolean;
}

function noPfx(bitlen = 0): Pfx {
  return { family: AF.UNSPEC, bitlen, bytes: Buffer.alloc(16), specified: false };
}

function pfxOf(p: InetPrefix): Pfx {
  return { family: p.family, bitlen: p.bitlen, bytes: p.bytes, specified: p.prefixlenSpecified };
}

/** The filter of `ip route show|flush` (iproute.c `filter`). */
interface RouteFilter {
  tb: number;
  cloned: number;
  protocol: number;
  protocolmask: number;
  scope: number;
  scopemask: number;
  typemask: bigint;
  tos: number;
  tosmask: number;
  iif: number;
  iifmask: number;
  oif: number;
  oifmask: number;
  mark: number;
  markmask: number;
  realm: number;
  realmmask: number;
  metric: number;
  metricmask: number;
  rprefsrc: Pfx;
  rvia: Pfx;
  rdst: Pfx;
  mdst: Pfx;
  rsrc: Pfx;
  msrc: Pfx;
  flushing: boolean;
}

function newFilter(): RouteFilter {
  return {
    tb: 0, cloned: 0, protocol: 0, protocolmask: 0, scope: 0, scopemask: 0, typemask: 0n, tos: 0, tosmask: 0,
    iif: 0, iifmask: 0, oif: 0, oifmask: 0, mark: 0, markmask: 0, realm: 0, realmmask: 0, metric: 0, metricmask: 0,
    rprefsrc: noPfx(), rvia: noPfx(), rdst: noPfx(), mdst: noPfx(-1), rsrc: noPfx(), msrc: noPfx(-1), flushing: false,
  };
}

function tableOf(r: RouteMessage): number {
  return attrValue(r.attrs, 'table') ?? r.table;
}

function hostLen(family: number): number {
  return family === AF.INET6 ? 128 : family === AF.INET ? 32 : family === 28 ? 20 : 0;
}

/** inet_addr_match(): the first `bits` bits are equal (0 bits always match). */
function addrMatch(a: Buffer, b: Buffer, bits: number): boolean {
  if (bits <= 0) return true;
  const n = Math.max(a.length, b.length, 16);
  const pa = Buffer.alloc(n); a.copy(pa);
  const pb = Buffer.alloc(n); b.copy(pb);
  return networkOf(pa, bits).equals(networkOf(pb, bits));
}

function bytesOf(value: string | undefined): Buffer {
  return value === undefined ? Buffer.alloc(16) : parseIp(value)?.bytes ?? Buffer.alloc(16);
}

/**
 * The length part of `root P` (the route is P or inside it: at least as long) and `match P`
 * (P is inside the route: at most as long); a prefix without a family only counts if it
 * had a length.
 */
function prefixLengthOk(p: Pfx, r: RouteMessage, len: number, how: 'root' | 'match'): boolean {
  const bad = how === 'root' ? p.bitlen > len : p.bitlen >= 0 && p.bitlen < len;
  if (p.family) return r.family === p.family && !bad;
  return !(p.specified && bad);
}

/** filter_nlmsg(): whether a route passes the filter of `ip route show`. */
function routeSelected(ctx: IpContext, f: RouteFilter, r: RouteMessage): boolean {
  const table = tableOf(r);
  const a = r.attrs;
  if (ctx.g.family !== AF.UNSPEC && r.family !== ctx.g.family) return false;
  const cloned = (r.flags & RTM_F.CLONED) !== 0;
  if (f.cloned === (cloned ? 0 : 1)) return false;
  const ctxV6 = ctx as IpContext & { ip6MultipleTables?: boolean };
  if (r.family === AF.INET6 && table !== RT_TABLE.MAIN) ctxV6.ip6MultipleTables = true;
  if (r.family === AF.INET6 && !ctxV6.ip6MultipleTables) {
    if (f.tb) {
      if (f.tb === RT_TABLE.LOCAL) { if (r.type !== RTN.LOCAL) return false; }
      else if (f.tb === RT_TABLE.MAIN) { if (r.type === RTN.LOCAL) return false; }
      else return false;
    }
  } else if (f.tb > 0 && f.tb !== table) return false;
  if (((f.protocol ^ r.protocol) & f.protocolmask) !== 0) return false;
  if (((f.scope ^ r.scope) & f.scopemask) !== 0) return false;
  if (f.typemask && !(f.typemask & (1n << BigInt(r.type)))) return false;
  if (((f.tos ^ r.tos) & f.tosmask) !== 0) return false;
  if (!prefixLengthOk(f.rdst, r, r.dstLen, 'root') || !prefixLengthOk(f.mdst, r, r.dstLen, 'match')) return false;
  if (!prefixLengthOk(f.rsrc, r, r.srcLen, 'root') || !prefixLengthOk(f.msrc, r, r.srcLen, 'match')) return false;
  if (f.rvia.family && r.family !== f.rvia.family) return false;
  if (f.rprefsrc.family && r.family !== f.rprefsrc.family) return false;
  const dst = bytesOf(attrValue(a, 'dst'));
  const src = bytesOf(attrValue(a, 'src'));
  if ((f.rdst.family || f.rdst.specified) && !addrMatch(dst, f.rdst.bytes, f.rdst.bitlen)) return false;
  if ((f.mdst.family || f.mdst.specified) && !addrMatch(dst, f.mdst.bytes, r.dstLen)) return false;
  if ((f.rsrc.family || f.rsrc.specified) && !addrMatch(src, f.rsrc.bytes, f.rsrc.bitlen)) return false;
  if ((f.msrc.family || f.msrc.specified) && f.msrc.bitlen >= 0 && !addrMatch(src, f.msrc.bytes, r.srcLen)) return false;
  if (f.rvia.family && !addrMatch(bytesOf(attrValue(a, 'gateway')), f.rvia.bytes, f.rvia.bitlen)) return false;
  if (f.rprefsrc.family && !addrMatch(bytesOf(attrValue(a, 'prefsrc')), f.rprefsrc.bytes, f.rprefsrc.bitlen)) return false;
  if (f.realmmask && (((attrValue(a, 'flow') ?? 0) ^ f.realm) & f.realmmask) !== 0) return false;
  if (f.iifmask && (((attrValue(a, 'iif') ?? 0) ^ f.iif) & f.iifmask) !== 0) return false;
  if (f.oifmask && (((attrValue(a, 'oif') ?? 0) ^ f.oif) & f.oifmask) !== 0) return false;
  if (f.markmask && (((attrValue(a, 'mark') ?? 0) ^ f.mark) & f.markmask) !== 0) return false;
  if (f.metricmask && (((attrValue(a, 'priority') ?? 0) ^ f.metric) & f.metricmask) !== 0) return false;
  // The kernel's catch-all IPv6 "unreachable" entry is never flushed.
  if (f.flushing && r.family === AF.INET6 && r.dstLen === 0 && r.type === RTN.UNREACHABLE && attrValue(a, 'priority') === 0xffffffff) return false;
  return true;
}

const RT_FLAGS: [number, string][] = [
  [RTNH_F.DEAD, 'dead'], [RTNH_F.ONLINK, 'onlink'], [RTNH_F.PERVASIVE, 'pervasive'], [RTNH_F.OFFLOAD, 'offload'],
  [RTNH_F.TRAP, 'trap'], [RTM_F.NOTIFY, 'notify'], [RTNH_F.LINKDOWN, 'linkdown'], [RTNH_F.UNRESOLVED, 'unresolved'],
  [RTM_F.OFFLOAD, 'rt_offload'], [RTM_F.TRAP, 'rt_trap'], [RTM_F.OFFLOAD_FAILED, 'rt_offload_failed'],
];

function printRtFlags(ctx: IpContext, flags: number): void {
  const p = ctx.p;
  p.openArray('json', 'flags');
  for (const [bit, name] of RT_FLAGS) if (flags & bit) p.string('any', null, '%s ', name);
  p.closeArray('json');
}

/** print_cache_flags(): "    cache <...> " in text, a "cache" array in JSON. */
function printCacheFlags(ctx: IpContext, flagsIn: number): void {
  const p = ctx.p;
  let flags = (flagsIn & ~0xffff) >>> 0;
  // RTCF_* (linux/in_route.h) in ip's order.
  const names: [number, string][] = [
    [0x80000000, 'local'], [0x40000000, 'reject'], [0x20000000, 'mc'], [0x10000000, 'brd'], [0x8000000, 'dst-nat'],
    [0x4000000, 'src-nat'], [0x2000000, 'masq'], [0x1000000, 'dst-direct'], [0x800000, 'src-direct'],
    [0x400000, 'redirected'], [0x200000, 'redirect'], [0x100000, 'fastroute'], [0x10000, 'notify'], [0x20000, 'proxy'],
  ];
  if (p.isJson) {
    p.openArray('json', 'cache');
  } else {
    p.text(`${p.sl}    cache `);
    if (flags === 0) return;
    p.text('<');
  }
  for (const [bit, name] of names) {
    if (!(flags & bit)) continue;
    flags = (flags & ~bit) >>> 0;
    if (p.isJson) p.string('json', null, null, name);
    else p.text(`${name}${flags ? ',' : '> '}`);
  }
  if (flags) p.hex('any', 'flags', '%x>', flags);
  if (p.isJson) p.closeArray('json');
}

const USER_HZ = 100;

function printCacheinfo(ctx: IpContext, ci: { clntref: number; lastuse: number; expires: number; error: number; used: number; id: number; ts: number; tsage: number }): void {
  const p = ctx.p;
  if (ci.expires !== 0) p.number('any', 'expires', 'expires %dsec ', Math.trunc((ci.expires | 0) / USER_HZ));
  if (ci.error !== 0) p.number('any', 'error', 'error %u ', ci.error);
  if (ctx.g.stats) {
    if (ci.clntref) p.number('any', 'users', 'users %u ', ci.clntref);
    if (ci.used !== 0) p.number('any', 'used', 'used %u ', ci.used);
    if (ci.lastuse !== 0) p.number('any', 'age', 'age %usec ', Math.trunc(ci.lastuse / USER_HZ));
  }
  if (ci.id) p.hex0x('any', 'ipid', 'ipid 0x%04llx ', ci.id);
  if (ci.ts || ci.tsage) {
    p.hex0x('any', 'ts', 'ts 0x%llx', ci.ts);
    p.number('any', 'tsage', 'tsage %usec ', ci.tsage);
  }
}

const MX_NAMES: Record<number, string> = {
  [RTAX.MTU]: 'mtu', [RTAX.WINDOW]: 'window', [RTAX.RTT]: 'rtt', [RTAX.RTTVAR]: 'rttvar', [RTAX.SSTHRESH]: 'ssthresh',
  [RTAX.CWND]: 'cwnd', [RTAX.ADVMSS]: 'advmss', [RTAX.REORDERING]: 'reordering', [RTAX.HOPLIMIT]: 'hoplimit',
  [RTAX.INITCWND]: 'initcwnd', [RTAX.FEATURES]: 'features', [RTAX.RTO_MIN]: 'rto_min', [RTAX.INITRWND]: 'initrwnd',
  [RTAX.QUICKACK]: 'quickack', [RTAX.CC_ALGO]: 'congctl', [RTAX.FASTOPEN_NO_COOKIE]: 'fastopen_no_cookie',
};

function printMetrics(ctx: IpContext, r: RouteMessage): void {
  const p = ctx.p;
  const metrics = attrValue(r.attrs, 'metrics') ?? [];
  const byType = new Map<number, number | string>();
  for (const m of metrics) {
    if (m.kind === 'other') continue;
    const type = RTAX[m.kind === 'ccAlgo' ? 'CC_ALGO' : m.kind === 'rtoMin' ? 'RTO_MIN' : m.kind === 'fastopenNoCookie' ? 'FASTOPEN_NO_COOKIE' : m.kind.toUpperCase() as keyof typeof RTAX];
    byType.set(type, m.value);
  }
  const lock = (byType.get(RTAX.LOCK) as number | undefined) ?? 0;
  p.openArray('json', 'metrics');
  p.openObject();
  for (let i = 2; i <= RTAX.FASTOPEN_NO_COOKIE; i++) {
    const present = byType.has(i);
    if (!present && !(lock & (1 << i))) continue;
    let val = present && i !== RTAX.CC_ALGO ? (byType.get(i) as number) >>> 0 : 0;
    if (i === RTAX.HOPLIMIT && (val | 0) === -1) continue;
    if (!p.isJson) {
      p.text(MX_NAMES[i] ? `${MX_NAMES[i]} ` : `metric ${i} `);
      if (lock & (1 << i)) p.text('lock ');
    }
    if (i === RTAX.FEATURES) {
      const of = val;
      if (val & 1) {
        p.null('any', 'ecn', 'ecn ');
        val &= ~1;
      }
      if (val) p.hex0x('any', 'features', '%#llx ', of);
    } else if (i === RTAX.RTT || i === RTAX.RTTVAR || i === RTAX.RTO_MIN) {
      if (i === RTAX.RTT) val = Math.floor(val / 8);
      else if (i === RTAX.RTTVAR) val = Math.floor(val / 4);
      if (p.isJson) p.number('json', MX_NAMES[i]!, null, val);
      else p.text(val >= 1000 ? `${val / 1e3}s ` : `${val}ms `);
    } else if (i === RTAX.CC_ALGO) {
      p.string('any', 'congestion', '%s ', String(byType.get(i) ?? ''));
    } else {
      p.number('any', MX_NAMES[i] ?? null, '%u ', val);
    }
  }
  p.closeObject();
  p.closeArray('json');
}

/** print_route(): one route line (or JSON object), as `ip route` prints it. */
export function printRoute(ctx: IpContext, r: RouteMessage, f: RouteFilter, deleted = false): void {
  const p = ctx.p;
  const a = r.attrs;
  const host = hostLen(r.family);
  const table = tableOf(r);
  if (!routeSelected(ctx, f, r)) return;
  p.openObject();
  if (deleted) p.bool('any', 'deleted', 'Deleted ', true);
  if ((r.type !== RTN.UNICAST || ctx.g.details > 0) && (!f.typemask || (f.typemask & (1n << BigInt(r.type))))) {
    p.string('any', 'type', '%s ', routeTypeName(r.type, ctx.g));
  }
  const dst = attrValue(a, 'dst');
  let b1: string;
  if (dst !== undefined) b1 = r.dstLen !== host ? `${dst}/${r.dstLen}` : dst;
  else if (r.dstLen) b1 = `0/${r.dstLen} `;
  else b1 = 'default';
  p.string('any', 'dst', '%s ', b1);
  const src = attrValue(a, 'src');
  if (src !== undefined) p.string('any', 'from', 'from %s ', r.srcLen !== host ? `${src}/${r.srcLen}` : src);
  else if (r.srcLen) p.string('any', 'src', 'from %s ', `0/${r.srcLen}`);
  const nhid = attrValue(a, 'nhId');
  if (nhid !== undefined) p.number('any', 'nhid', 'nhid %u ', nhid);
  const newdst = attrValue(a, 'newdst');
  if (newdst !== undefined && (newdst.length === 4 || newdst.length === 16)) {
    if (p.isJson) p.string('json', 'to', null, formatIp(newdst));
    else p.text(`as to ${formatIp(newdst)} `);
  }
  if (r.tos && f.tosmask !== -1) p.string('any', 'tos', 'tos %s ', dsfieldName(r.tos, ctx.g));
  const gw = attrValue(a, 'gateway');
  if (gw !== undefined && f.rvia.bitlen !== host) {
    if (p.isJson) p.string('json', 'gateway', null, gw);
    else p.text(`via ${gw} `);
  }
  const via = attrValue(a, 'via');
  if (via !== undefined && via.length >= 2) {
    const fam = via.readUInt16LE(0);
    const addr = via.subarray(2);
    const text = addr.length === 4 || addr.length === 16 ? formatIp(addr) : addr.toString('hex');
    if (p.isJson) {
      p.openObject('via');
      p.string('json', 'family', null, familyName(fam));
      p.string('json', 'host', null, text);
      p.closeObject();
    } else p.text(`via ${familyName(fam)} ${text} `);
  }
  const oif = attrValue(a, 'oif');
  if (oif !== undefined && f.oifmask !== -1) {
    const name = ctx.indexToName(oif);
    if (p.isJson) p.string('json', 'dev', null, name);
    else p.text(`dev ${name} `);
  }
  if (table && (table !== RT_TABLE.MAIN || ctx.g.details > 0) && !f.tb) p.string('any', 'table', 'table %s ', tableName(table, ctx.g));
  if (!(r.flags & RTM_F.CLONED)) {
    if ((r.protocol !== RTPROT.BOOT || ctx.g.details > 0) && f.protocolmask !== -1) {
      p.string('any', 'protocol', 'proto %s ', protocolName(r.protocol, ctx.g));
    }
    if ((r.scope !== RT_SCOPE.UNIVERSE || ctx.g.details > 0) && f.scopemask !== -1) {
      p.string('any', 'scope', 'scope %s ', scopeName(r.scope, ctx.g));
    }
  }
  const prefsrc = attrValue(a, 'prefsrc');
  if (prefsrc !== undefined && f.rprefsrc.bitlen !== host) {
    if (p.isJson) p.string('json', 'prefsrc', null, prefsrc);
    else p.text(`src ${prefsrc} `);
  }
  const metric = attrValue(a, 'priority');
  if (metric !== undefined && f.metricmask !== -1) p.number('any', 'metric', 'metric %u ', metric);
  printRtFlags(ctx, r.flags);
  const mark = attrValue(a, 'mark');
  if (mark) {
    if (p.isJson) p.number('json', 'mark', null, mark);
    else if (mark >= 16) p.text(`mark 0x${mark.toString(16)} `);
    else p.text(`mark ${mark} `);
  }
  const flow = attrValue(a, 'flow');
  if (flow !== undefined && f.realmmask !== 0xffffffff) {
    const to = flow & 0xffff;
    const from = flow >>> 16;
    if (p.isJson) {
      p.openObject('flow');
      if (from) p.string('json', 'from', null, realmName(from, ctx.g));
      p.string('json', 'to', null, realmName(to, ctx.g));
      p.closeObject();
    } else {
      p.text(`realm${from ? 's' : ''} `);
      if (from) p.text(`${realmName(from, ctx.g)}/`);
      p.text(`${realmName(to, ctx.g)} `);
    }
  }
  const uid = attrValue(a, 'uid');
  if (uid !== undefined) p.number('any', 'uid', 'uid %u ', uid);
  const ci = attrValue(a, 'cacheinfo');
  if (r.family === AF.INET) {
    if (r.flags & RTM_F.CLONED) printCacheFlags(ctx, r.flags);
    if (ci) printCacheinfo(ctx, ci);
  } else if (r.family === AF.INET6 && ci) printCacheinfo(ctx, ci);
  if (a.some((x) => x.kind === 'metrics')) printMetrics(ctx, r);
  const iif = attrValue(a, 'iif');
  if (iif !== undefined && f.iifmask !== -1) {
    const name = ctx.indexToName(iif);
    if (p.isJson) p.string('json', 'iif', null, name);
    else p.text(`iif ${name} `);
  }
  const pref = attrValue(a, 'pref');
  if (pref !== undefined) {
    const names: Record<number, string> = { 3: 'low', 0: 'medium', 1: 'high' };
    if (names[pref] !== undefined) p.string('any', 'pref', 'pref %s', names[pref]!);
    else p.number('any', 'pref', '%u', pref);
  }
  const ttl = attrValue(a, 'ttlPropagate');
  if (ttl !== undefined) {
    if (p.isJson) p.bool('json', 'ttl-propogate', null, Boolean(ttl));
    else p.text(`ttl-propogate ${ttl ? 'enabled' : 'disabled'}`);
  }
  if (a.some((x) => x.kind === 'multipath')) printMultipath(ctx, r);
  p.text('\n');
  p.closeObject();
}

/** print_rta_multipath(): the next hops of an ECMP route. */
function printMultipath(ctx: IpContext, r: RouteMessage): void {
  const p = ctx.p;
  const data = attrValue(r.attrs, 'multipath')!;
  p.openArray('json', 'nexthops');
  for (let off = 0; off + 8 <= data.length;) {
    const len = data.readUInt16LE(off);
    if (len < 8 || off + len > data.length) break;
    const flags = data.readUInt8(off + 2);
    const hops = data.readUInt8(off + 3);
    const ifindex = data.readInt32LE(off + 4);
    p.openObject();
    p.text(`${p.sl}\tnexthop `);
    for (let aoff = off + 8; aoff + 4 <= off + len;) {
      const alen = data.readUInt16LE(aoff);
      const atype = data.readUInt16LE(aoff + 2);
      if (alen < 4) break;
      const payload = data.subarray(aoff + 4, aoff + alen);
      if (atype === RTA.GATEWAY && (payload.length === 4 || payload.length === 16)) {
        if (p.isJson) p.string('json', 'gateway', null, formatIp(payload));
        else p.text(`via ${formatIp(payload)} `);
      }
      aoff += (alen + 3) & ~3;
    }
    p.string('any', 'dev', 'dev %s ', ctx.indexToName(ifindex));
    if (r.family !== 28) p.number('any', 'weight', 'weight %d ', hops + 1);
    printRtFlags(ctx, flags);
    p.closeObject();
    off += (len + 3) & ~3;
  }
  p.closeArray('json');
}

/**
 * `[root|match|exact] PREFIX` after `to` or `from`: root selects routes inside PREFIX, match
 * routes PREFIX is inside, exact (the default) both.
 */
function prefixSelector(w: Words, family: number): { root?: Pfx; match?: Pfx } {
  const v = w.cur;
  if (matches(v, 'root')) return { root: pfxOf(getPrefix(w.next(), family)) };
  if (matches(v, 'match')) return { match: pfxOf(getPrefix(w.next(), family)) };
  const p = pfxOf(getPrefix(matches(v, 'exact') ? w.next() : v, family));
  return { root: p, match: p };
}

/** `ip route show|flush SELECTOR` (iproute_list_flush_or_save()). */
function listRoutes(ctx: IpContext, words: readonly string[], flush: boolean): number {
  const f = newFilter();
  let dumpFamily = ctx.g.family;
  let iifName: string | undefined;
  let oifName: string | undefined;
  let mark = 0;
  f.tb = RT_TABLE.MAIN;
  if (flush && words.length === 0) throw new IpExit(1, '"ip route flush" requires arguments.\n');
  const w = new Words(words);
  for (; !w.done; w.skip()) {
    const word = w.cur;
    if (matches(word, 'table')) {
      const v = w.next();
      const id = tableId(v);
      if (id === undefined) {
        if (v === 'all') f.tb = 0;
        else if (v === 'cache') f.cloned = 1;
        else if (v === 'help') usage();
        else invarg('table id value is invalid\n', v);
      } else f.tb = id;
    } else if (matches(word, 'vrf')) {
      invarg('Invalid VRF\n', w.next());
    } else if (matches(word, 'cached') || matches(word, 'cloned')) {
      f.cloned = 1;
    } else if (word === 'tos' || matches(word, 'dsfield')) {
      const tos = w.nextAs(dsfieldId, 'TOS value is invalid\n');
      f.tos = tos;
      f.tosmask = -1;
    } else if (matches(word, 'protocol')) {
      const v = w.next();
      f.protocolmask = -1;
      let prot = protocolId(v);
      if (prot === undefined) {
        if (v !== 'all') invarg('invalid "protocol"\n', v);
        prot = 0;
        f.protocolmask = 0;
      }
      f.protocol = prot;
    } else if (matches(word, 'scope')) {
      ({ scope: f.scope, mask: f.scopemask } = scopeSelector(w.next()));
    } else if (matches(word, 'type')) {
      const type = w.nextAs(routeTypeId, 'node type value is invalid\n');
      f.typemask = 1n << BigInt(type);
    } else if (word === 'dev' || word === 'oif') {
      oifName = w.next();
    } else if (word === 'iif') {
      iifName = w.next();
    } else if (word === 'mark') {
      const m = w.nextAs(getUnsigned, 'invalid mark value');
      mark = m;
      f.markmask = -1;
    } else if (matches(word, 'metric') || matches(word, 'priority') || word === 'preference') {
      const m = w.nextAs(getUnsigned, '"metric" value is invalid\n');
      f.metric = m;
      f.metricmask = -1;
    } else if (word === 'via') {
      let v = w.next();
      let family = readFamily(v);
      if (family === AF.UNSPEC) family = dumpFamily;
      else v = w.next();
      f.rvia = pfxOf(getPrefix(v, family));
    } else if (word === 'src') {
      f.rprefsrc = pfxOf(getPrefix(w.next(), dumpFamily));
    } else if (matches(word, 'realms')) {
      throw new IpExit(255, 'ns-net: route filter "realms" is not supported\n');
    } else if (matches(word, 'from')) {
      w.skip();
      const sel = prefixSelector(w, dumpFamily);
      if (sel.root) f.rsrc = sel.root;
      if (sel.match) f.msrc = sel.match;
    } else {
      if (matches(word, 'to')) w.skip();
      const sel = prefixSelector(w, dumpFamily);
      if (sel.root) f.rdst = sel.root;
      if (sel.match) f.mdst = sel.match;
    }
  }
  if (dumpFamily === AF.UNSPEC && f.tb) dumpFamily = AF.INET;
  if (iifName !== undefined) {
    const idx = ctx.nameToIndex(iifName);
    if (!idx) nodev(iifName);
    f.iif = idx;
    f.iifmask = -1;
  }
  if (oifName !== undefined) {
    const idx = ctx.nameToIndex(oifName);
    if (!idx) nodev(oifName);
    f.oif = idx;
    f.oifmask = -1;
  }
  f.mark = mark;
  if (f.cloned && dumpFamily !== AF.INET6) {
    throw new IpExit(255, 'ns-net: the IPv4 route cache is not supported\n');
  }
  const dump = () => ctx.talk((h) => h.routeList({
    family: dumpFamily, table: f.tb, ...(f.oif ? { oif: f.oif } : {}), ...(f.protocol ? { protocol: f.protocol } : {}),
  })).map((route) => route.message);
  if (flush) return flushRoutes(ctx, f, dump);
  const p = ctx.p;
  let routes: RouteMessage[];
  try {
    routes = ctx.rtnl.routeList({
      family: dumpFamily, table: f.tb, ...(f.oif ? { oif: f.oif } : {}), ...(f.protocol ? { protocol: f.protocol } : {}),
    }).map((route) => route.message);
  } catch (e) {
    if (!isKernelError(e)) throw e;
    // A namespace whose main table was never made answers ENOENT; ip prints an empty list
    // (save_route_errhndlr()).
    if (e.code === 'ENOENT' && f.tb === RT_TABLE.MAIN) routes = [];
    else throw new IpExit(2, `${dumpErrorMessage(e)}Dump terminated\n`);
  }
  p.newJsonObj();
  for (const r of routes) printRoute(ctx, r, f);
  p.deleteJsonObj();
  return 0;
}

/** iproute_flush(): delete the selected routes, round after round, for at most 30 s. */
function flushRoutes(ctx: IpContext, f: RouteFilter, dump: () => RouteMessage[]): number {
  f.flushing = true;
  const start = Date.now();
  for (let round = 0; ; round++) {
    const victims = dump().filter((r) => routeSelected(ctx, f, r));
    if (ctx.g.stats > 1) for (const r of victims) printRoute(ctx, r, f);
    if (victims.length === 0) {
      if (ctx.g.stats) ctx.p.text(round === 0 ? 'Nothing to flush.\n' : `*** Flush is complete after ${round} round${round > 1 ? 's' : ''} ***\n`);
      return 0;
    }
    for (const r of victims) {
      try {
        ctx.rtnl.socket.request({ type: RTM.DELROUTE, flags: 0, kind: 'route', body: r }, 'ip route flush');
      } catch (e) {
        // A route the kernel took away with another (ESRCH) is flushed all the same.
        if ((e as { code?: string }).code !== 'ESRCH') throw new IpExit(2, `Failed to send flush request: ${(e as Error).message}\n`);
      }
    }
    if (Date.now() - start > 30000) {
      ctx.p.text(`\n*** Flush not completed after ${Math.floor((Date.now() - start) / 1000)} seconds, ${victims.length} entries remain ***\n`);
      return 1;
    }
    if (ctx.g.stats) ctx.p.text(`\n*** Round ${round + 1}, deleting ${victims.length} entries ***\n`);
  }
}


/**
 * The metrics `ip route` takes as `KEYWORD [lock] N`, in the order ip tries them: the first
 * three by the whole word, the rest by prefix (so "c" is cwnd). A keyword is its RTAX_* kind.
 */
const METRIC_KEYWORDS = [
  ['mtu', 'word'], ['hoplimit', 'word'], ['advmss', 'word'], ['reordering', 'prefix'], ['window', 'prefix'], ['cwnd', 'prefix'],
  ['initcwnd', 'prefix'], ['initrwnd', 'prefix'], ['ssthresh', 'prefix'],
] as const;
type MetricKeyword = (typeof METRIC_KEYWORDS)[number][0];

function metricKeyword(word: string): MetricKeyword | undefined {
  return METRIC_KEYWORDS.find(([keyword, how]) => (how === 'word' ? word === keyword : matches(word, keyword)))?.[0];
}

/** iproute_modify(): one RTM_NEWROUTE / RTM_DELROUTE built from the words as ip builds it. */
function modifyRoute(ctx: IpContext, cmd: number, nlFlags: number, words: readonly string[]): number {
  const del = cmd === RTM.DELROUTE;
  const r: Omit<RouteMessage, 'attrs'> & { -readonly [K in keyof Omit<RouteMessage, 'attrs'>]: number } = {
    family: ctx.g.family, dstLen: 0, srcLen: 0, tos: 0, table: RT_TABLE.MAIN,
    protocol: del ? 0 : RTPROT.BOOT, scope: del ? RT_SCOPE.NOWHERE : RT_SCOPE.UNIVERSE, type: del ? 0 : RTN.UNICAST, flags: 0,
  };
  const attrs: RouteAttr[] = [];
  const metrics: Extract<RouteAttr, { kind: 'metrics' }>['value'][number][] = [];
  let lockMask = 0;
  let dev: string | undefined;
  let gwOk = false;
  let dstOk = false;
  let scopeOk = false;
  let tableOk = false;
  let typeOk = false;
  let nhid = 0;
  const w = new Words(words);
  const metric = (kind: MetricKeyword) => {
    let v = w.next();
    if (v === 'lock') {
      lockMask |= 1 << METRICS_ATTRS.entries[kind]!.type;
      v = w.next();
    }
    const n = getUnsigned(v);
    if (n === undefined || n > (kind === 'hoplimit' ? 255 : 0xffffffff)) invarg(`"${kind === 'advmss' ? 'mss' : kind}" value is invalid\n`, v);
    metrics.push({ kind, value: n });
  };
  for (; !w.done; w.skip()) {
    const word = w.cur;
    const metricKind = metricKeyword(word);
    if (word === 'src') {
      const addr = getAddr(w.next(), r.family);
      if (r.family === AF.UNSPEC) r.family = addr.family;
      attrs.push({ kind: 'prefsrc', value: prefixAddress(addr) });
    } else if (word === 'as') {
      attrs.push(newDestination(w, r));
    } else if (word === 'via') {
      if (gwOk) invarg('use nexthop syntax to specify multiple via\n', word);
      gwOk = true;
      let v = w.next();
      let family = readFamily(v);
      if (family === AF.UNSPEC) family = r.family;
      else v = w.next();
      const addr = getAddr(v, family);
      if (r.family === AF.UNSPEC) r.family = addr.family;
      if (addr.family === r.family) attrs.push({ kind: 'gateway', value: prefixAddress(addr) });
      else {
        const via = Buffer.alloc(2 + addr.bytes.length);
        via.writeUInt16LE(addr.family, 0);
        addr.bytes.copy(via, 2);
        attrs.push({ kind: 'via', value: via });
      }
    } else if (word === 'from') {
      const addr = getPrefix(w.next(), r.family);
      if (r.family === AF.UNSPEC) r.family = addr.family;
      if (addr.bytes.length && !addr.any) attrs.push({ kind: 'src', value: prefixAddress(addr) });
      r.srcLen = addr.bitlen;
    } else if (word === 'tos' || matches(word, 'dsfield')) {
      const tos = w.nextAs(dsfieldId, '"tos" value is invalid\n');
      r.tos = tos;
    } else if (word === 'expires') {
      const n = w.nextAs(getUnsigned, '"expires" value is invalid\n');
      attrs.push({ kind: 'expires', value: n });
    } else if (matches(word, 'metric') || matches(word, 'priority') || word === 'preference') {
      const n = w.nextAs(getUnsigned, '"metric" value is invalid\n');
      attrs.push({ kind: 'priority', value: n });
    } else if (word === 'scope') {
      const s = w.nextAs(scopeId, 'invalid "scope" value\n');
      r.scope = s;
      scopeOk = true;
    } else if (metricKind) {
      metric(metricKind);
    } else if (word === 'onlink') {
      r.flags |= RTNH_F.ONLINK;
    } else if (word === 'nexthop' || word === 'nhid' || word === 'encap' || word === 'rtt' || word === 'rttvar' || word === 'rto_min'
      || matches(word, 'features') || matches(word, 'quickack') || matches(word, 'congctl') || matches(word, 'realms')
      || matches(word, 'fastopen_no_cookie') || word === 'ttl-propagate') {
      if (word === 'nhid') {
        const n = w.nextAs(getUnsigned, '"id" value is invalid\n');
        nhid = n;
        attrs.push({ kind: 'nhId', value: n });
        continue;
      }
      throw new IpExit(255, `ns-net: route option "${word}" is not supported\n`);
    } else if (matches(word, 'protocol')) {
      const prot = w.nextAs(protocolId, '"protocol" value is invalid\n');
      r.protocol = prot;
    } else if (matches(word, 'table')) {
      const tid = w.nextAs(tableId, '"table" value is invalid\n');
      if (tid < 256) r.table = tid;
      else {
        r.table = RT_TABLE.UNSPEC;
        attrs.push({ kind: 'table', value: tid });
      }
      tableOk = true;
    } else if (matches(word, 'vrf')) {
      invarg('Invalid VRF\n', w.next());
    } else if (word === 'dev' || word === 'oif') {
      dev = w.next();
    } else if (matches(word, 'pref')) {
      const v = w.next();
      const pref = v === 'low' ? 3 : v === 'medium' ? 0 : v === 'high' ? 1 : getUnsigned(v, 255);
      if (pref === undefined) invarg('"pref" value is invalid\n', v);
      attrs.push({ kind: 'pref', value: pref });
    } else {
      let v = word;
      if (v === 'to') v = w.next();
      const type = (v[0]! < '0' || v[0]! > '9') ? routeTypeId(v) : undefined;
      if (type !== undefined && !/^[0-9]/.test(v)) {
        v = w.next();
        r.type = type;
        typeOk = true;
      }
      if (matches(v, 'help')) usage();
      if (dstOk) duparg2('to', v);
      const dst = getPrefix(v, r.family);
      if (r.family === AF.UNSPEC) r.family = dst.family;
      r.dstLen = dst.bitlen;
      dstOk = true;
      if (dst.bytes.length && !dst.any) attrs.push({ kind: 'dst', value: prefixAddress(dst) });
    }
  }
  if (!dstOk) usage();
  if (dev !== undefined) {
    const idx = ctx.nameToIndex(dev);
    if (!idx) nodev(dev);
    attrs.push({ kind: 'oif', value: idx });
  }
  if (metrics.length) {
    if (lockMask) metrics.push({ kind: 'lock', value: lockMask });
    attrs.push({ kind: 'metrics', value: metrics });
  }
  if (r.family === AF.UNSPEC) r.family = AF.INET;
  if (!tableOk && (r.type === RTN.LOCAL || r.type === RTN.BROADCAST || r.type === RTN.NAT || r.type === RTN.ANYCAST)) r.table = RT_TABLE.LOCAL;
  if (!scopeOk) {
    if (r.family === AF.INET6 || r.family === 28) r.scope = RT_SCOPE.UNIVERSE;
    else if (r.type === RTN.LOCAL || r.type === RTN.NAT) r.scope = RT_SCOPE.HOST;
    else if (r.type === RTN.BROADCAST || r.type === RTN.MULTICAST || r.type === RTN.ANYCAST) r.scope = RT_SCOPE.LINK;
    else if (r.type === RTN.UNICAST || r.type === RTN.UNSPEC) {
      if (del) r.scope = RT_SCOPE.NOWHERE;
      else if (!gwOk && !nhid) r.scope = RT_SCOPE.LINK;
    }
  }
  if (!typeOk && r.family === 28) r.type = RTN.UNICAST;
  if (ctx.g.echo) throw new IpExit(255, 'ns-net: -echo is not supported\n');
  const body: RouteMessage = { ...r, attrs };
  ctx.talk((h) => h.socket.request({ type: cmd, flags: nlFlags, kind: 'route', body }, `ip route ${del ? 'del' : 'add'}`));
  return 0;
}

/** iproute_get(): what the kernel would do with a packet to ADDRESS. */
function getRoute(ctx: IpContext, words: readonly string[]): number {
  const r = { family: ctx.g.family, dstLen: 0, srcLen: 0, tos: 0, table: 0, protocol: 0, scope: 0, type: 0, flags: 0 };
  const attrs: RouteAttr[] = [];
  let idev: string | undefined;
  let odev: string | undefined;
  let connected = false;
  let fibMatch = false;
  let fromOk = false;
  let mark = 0;
  let found = false;
  const f = newFilter();
  f.cloned = 2;
  const w = new Words(words);
  for (; !w.done; w.skip()) {
    const word = w.cur;
    if (word === 'tos' || matches(word, 'dsfield')) {
      const tos = w.nextAs(dsfieldId, 'TOS value is invalid\n');
      r.tos = tos;
    } else if (matches(word, 'from')) {
      const v = w.next();
      if (matches(v, 'help')) usage();
      fromOk = true;
      const addr = getPrefix(v, r.family);
      if (r.family === AF.UNSPEC) r.family = addr.family;
      if (addr.bytes.length && !addr.any) attrs.push({ kind: 'src', value: prefixAddress(addr) });
      r.srcLen = addr.bitlen;
    } else if (matches(word, 'iif')) {
      idev = w.next();
    } else if (matches(word, 'mark')) {
      const m = w.nextAs(getUnsigned, 'invalid mark value');
      mark = m;
    } else if (matches(word, 'oif') || word === 'dev') {
      odev = w.next();
    } else if (matches(word, 'notify')) {
      r.flags |= RTM_F.NOTIFY;
    } else if (matches(word, 'connected')) {
      connected = true;
    } else if (matches(word, 'vrf')) {
      invarg('Invalid VRF\n', w.next());
    } else if (matches(word, 'uid')) {
      const uid = w.nextAs(getUnsigned, 'invalid UID\n');
      attrs.push({ kind: 'uid', value: uid });
    } else if (matches(word, 'fibmatch')) {
      fibMatch = true;
    } else if (word === 'as') {
      attrs.push(newDestination(w, r));
    } else if (matches(word, 'sport') || matches(word, 'dport')) {
      const port = w.nextAs((s) => getUnsigned(s, 0xffff), `invalid ${matches(word, 'sport') ? 'sport' : 'dport'}\n`);
      attrs.push({ kind: matches(word, 'sport') ? 'sport' : 'dport', value: port });
    } else if (matches(word, 'ipproto')) {
      const v = w.next();
      const protos: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, ipv6: 41, 'ipv6-icmp': 58, icmpv6: 58, sctp: 132, dccp: 33, gre: 47 };
      const proto = protos[v] ?? getUnsigned(v, 255);
      if (proto === undefined) invarg('Invalid "ipproto" value\n', v);
      attrs.push({ kind: 'ipProto', value: proto });
    } else {
      let v = word;
      if (v === 'to') v = w.next();
      if (matches(v, 'help')) usage();
      const addr = getPrefix(v, r.family);
      if (r.family === AF.UNSPEC) r.family = addr.family;
      if (addr.bytes.length && !addr.any) attrs.push({ kind: 'dst', value: prefixAddress(addr) });
      if (r.family === AF.INET && addr.bitlen !== 32) {
        ctx.warn(`Warning: /${addr.bitlen} as prefix is invalid, only /32 (or none) is supported.\n`);
        r.dstLen = 32;
      } else if (r.family === AF.INET6 && addr.bitlen !== 128) {
        ctx.warn(`Warning: /${addr.bitlen} as prefix is invalid, only /128 (or none) is supported.\n`);
        r.dstLen = 128;
      } else r.dstLen = addr.bitlen;
      found = true;
    }
  }
  if (!found) throw new IpExit(1, 'need at least a destination address\n');
  if (idev !== undefined) {
    const idx = ctx.nameToIndex(idev);
    if (!idx) nodev(idev);
    attrs.push({ kind: 'iif', value: idx });
  }
  if (odev !== undefined) {
    const idx = ctx.nameToIndex(odev);
    if (!idx) nodev(odev);
    attrs.push({ kind: 'oif', value: idx });
  }
  if (mark) attrs.push({ kind: 'mark', value: mark });
  if (r.family === AF.UNSPEC) r.family = AF.INET;
  // Only IPv4 answers with the table the route came from (RTM_F_LOOKUP_TABLE).
  if (r.family === AF.INET) r.flags |= RTM_F.LOOKUP_TABLE;
  if (fibMatch) r.flags |= RTM_F.FIB_MATCH;
  const ask = (body: RouteMessage): RouteMessage => {
    const [reply] = ctx.talk((h) => h.socket.request({ type: RTM.GETROUTE, flags: 0, kind: 'route', body }, 'ip route get'));
    if (reply?.kind !== 'route') throw new IpExit(1, 'Not a route?\n');
    return reply.body;
  };
  const p = ctx.p;
  let answer = ask({ ...r, attrs });
  p.newJsonObj();
  if (connected && !fromOk) {
    printRoute(ctx, answer, f);
    if (attrValue(answer.attrs, 'prefsrc') === undefined && attrValue(answer.attrs, 'src') === undefined) {
      throw new IpExit(1, 'Failed to connect the route\n');
    }
    p.deleteJsonObj();
    // iproute_get() edits the answer's attributes for a second lookup but sends its first
    // request again (iproute2 6.1): the same is sent here, so the kernel answers the same.
    answer = ask({ ...r, attrs });
  }
  printRoute(ctx, answer, f);
  p.deleteJsonObj();
  return 0;
}

/** do_iproute(). */
export function doIproute(ctx: IpContext, words: readonly string[]): number {
  const [cmd, ...rest] = words;
  if (cmd === undefined) return listRoutes(ctx, [], false);
  if (matches(cmd, 'add')) return modifyRoute(ctx, RTM.NEWROUTE, NLM_F.CREATE | NLM_F.EXCL, rest);
  if (matches(cmd, 'change') || cmd === 'chg') return modifyRoute(ctx, RTM.NEWROUTE, NLM_F.REPLACE, rest);
  if (matches(cmd, 'replace')) return modifyRoute(ctx, RTM.NEWROUTE, NLM_F.CREATE | NLM_F.REPLACE, rest);
  if (matches(cmd, 'prepend')) return modifyRoute(ctx, RTM.NEWROUTE, NLM_F.CREATE, rest);
  if (matches(cmd, 'append')) return modifyRoute(ctx, RTM.NEWROUTE, NLM_F.CREATE | NLM_F.APPEND, rest);
  if (matches(cmd, 'test')) return modifyRoute(ctx, RTM.NEWROUTE, NLM_F.EXCL, rest);
  if (matches(cmd, 'delete')) return modifyRoute(ctx, RTM.DELROUTE, 0, rest);
  if (matches(cmd, 'list') || matches(cmd, 'show') || matches(cmd, 'lst')) return listRoutes(ctx, rest, false);
  if (matches(cmd, 'get')) return getRoute(ctx, rest);
  if (matches(cmd, 'flush')) return listRoutes(ctx, rest, true);
  if (matches(cmd, 'save') || matches(cmd, 'restore') || matches(cmd, 'showdump')) {
    throw new IpExit(1, `ns-net: "ip route ${cmd}" is not supported\n`);
  }
  if (matches(cmd, 'help')) usage();
  throw new IpExit(255, `Command "${cmd}" is unknown, try "ip route help".\n`);
}

/** `as [to] ADDRESS` (ip route's NAT destination): the RTA_NEWDST it means, the family set if unset. */
function newDestination(w: { next(): string }, r: { family: number }): { kind: 'newdst'; value: Buffer } {
  let v = w.next();
  if (v === 'to') v = w.next();
  const addr = getAddr(v, r.family);
  if (r.family === AF.UNSPEC) r.family = addr.family;
  return { kind: 'newdst', value: Buffer.from(addr.bytes) };
}
