/**
 * Rules as data: the few matches and actions container engines use, compiled to the same
 * expressions nft emits for the same text (compileRule), read back from the kernel's
 * expressions (decompileRule), and written as nft(8) text (formatRule), so a plan can be
 * checked against `nft` and `nft -f` can replay it.
 *
 *   { matches: [{ match: 'saddr', cidr: '10.88.0.0/16' }, { match: 'oifname', name: 'br0', not: true }],
 *     action: { nat: 'masquerade' } }
 *   == `ip saddr 10.88.0.0/16 oifname != "br0" masquerade`
 *   == meta nfproto; cmp; payload @network+12 (2 bytes); cmp; meta oifname; cmp neq; masq
 */
import { usageError } from 'ns-core/errors';
import { AF, RTN } from '../codec/constants';
import { formatIp, networkOf, parseAddress, parseCidr } from '../codec/ip';
import { CT_STATE, CT_STATUS, NFPROTO, NFTA_FIB_F, NF_NAT_RANGE, NFT_REG } from '../codec/nft/constants';
import type { NftExpr } from '../codec/nft/expr';
import type { NftFamily } from './objects';

export type RuleIpFamily = 'ip' | 'ip6';
export type RuleL4 = 'tcp' | 'udp';
export type CtStateName = keyof typeof CT_STATE;
export type CtStatusName = keyof typeof CT_STATUS;

export type RuleMatch =
  /** `iifname "br0"`; a name ending in `*` matches the prefix (`"veth*"`). */
  | { readonly match: 'iifname' | 'oifname'; readonly name: string; readonly not?: boolean }
  /** `ip saddr 10.0.0.0/8`, `ip6 daddr fd00::/64`: the family is the address's. */
  | { readonly match: 'saddr' | 'daddr'; readonly cidr: string; readonly not?: boolean }
  /** `meta nfproto ipv4` */
  | { readonly match: 'nfproto'; readonly family: RuleIpFamily }
  /** `meta l4proto tcp` */
  | { readonly match: 'l4proto'; readonly proto: RuleL4 }
  /** `tcp dport 80` */
  | { readonly match: 'dport'; readonly proto: RuleL4; readonly port: number }
  /** `ct state established,related`: any of them. */
  | { readonly match: 'ct state'; readonly states: readonly CtStateName[] }
  /** `ct status dnat`: any of them. */
  | { readonly match: 'ct status'; readonly status: readonly CtStatusName[] }
  /** `fib daddr type local`: the destination is one of this namespace's addresses. */
  | { readonly match: 'fib daddr type'; readonly type: 'local' };

export type RuleAction =
  | { readonly verdict: 'accept' | 'drop' | 'return' }
  | { readonly verdict: 'jump' | 'goto'; readonly chain: string }
  | { readonly nat: 'masquerade' }
  /** `dnat ip to 10.0.0.2:80`, `snat ip6 to fd00::1`: the family is the address's. */
  | { readonly nat: 'dnat' | 'snat'; readonly address: string; readonly port?: number };

export interface Rule {
  readonly matches: readonly RuleMatch[];
  /** `counter` before the action. */
  readonly counter?: boolean;
  readonly action: RuleAction;
}

const R1 = NFT_REG.R1;
const IFNAMSIZ = 16;
const L4: Record<RuleL4, number> = { tcp: 6, udp: 17 };
const NFPROTO_OF: Record<RuleIpFamily, number> = { ip: NFPROTO.IPV4, ip6: NFPROTO.IPV6 };
/** Offsets of the addresses in the IPv4 and IPv6 headers (RFC 791, RFC 8200). */
const ADDR_OFFSET: Record<RuleIpFamily, { saddr: number; daddr: number; len: number }> = {
  ip: { saddr: 12, daddr: 16, len: 4 },
  ip6: { saddr: 8, daddr: 24, len: 16 },
};
/** Destination port: bytes 2-3 of both the TCP and the UDP header. */
const DPORT_OFFSET = 2;

function u8(n: number): Buffer {
  return Buffer.from([n]);
}

function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

function port16(port: number, what: string): Buffer {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw usageError(`${what}: port ${port} is not 1-65535`);
  const b = Buffer.alloc(2);
  b.writeUInt16BE(port, 0);
  return b;
}

function ipFamily(af: number): RuleIpFamily {
  return af === AF.INET6 ? 'ip6' : 'ip';
}

/** The cmp data nft uses for an interface name: exact (NUL-padded to IFNAMSIZ) or a prefix. */
function ifnameData(name: string): Buffer {
  const wildcard = name.endsWith('*');
  const text = Buffer.from(wildcard ? name.slice(0, -1) : name);
  if (text.length === 0 && !wildcard) throw usageError('an interface name is empty');
  if (text.length >= IFNAMSIZ || text.includes(0)) throw usageError(`interface name '${name}' is longer than 15 bytes or has a NUL`);
  if (wildcard) return text;
  const out = Buffer.alloc(IFNAMSIZ);
  text.copy(out);
  return out;
}

function bits<N extends string>(names: readonly N[], table: Record<N, number>, what: string): number {
  if (!names.length) throw usageError(`${what}: name at least one`);
  return names.reduce((m, n) => {
    const bit = table[n];
    if (bit === undefined) throw usageError(`${what}: '${n}' is not one of ${Object.keys(table).join(', ')}`);
    return m | bit;
  }, 0);
}

function load(type: 'meta', key: 'nfproto' | 'l4proto' | 'iifname' | 'oifname'): NftExpr {
  return { type, key, dreg: R1 };
}

function cmp(op: 'eq' | 'neq', data: Buffer): NftExpr {
  return { type: 'cmp', sreg: R1, op, data };
}

/** The expressions loading and testing `mask` bits of a ct key: nft's `ct state a,b`. */
function ctBits(key: 'state' | 'status', mask: number): NftExpr[] {
  return [
    { type: 'ct', key, dreg: R1 },
    { type: 'bitwise', sreg: R1, dreg: R1, len: 4, mask: u32le(mask), xor: u32le(0) },
    cmp('neq', u32le(0)),
  ];
}

/**
 * A rule for a table of `family`. As nft does, an address or port match brings its
 * dependency (`meta nfproto`, `meta l4proto`) once per rule in an inet table (and l4proto in
 * any table), unless the rule already tested it.
 * @throws NsError EUSAGE for a malformed rule, before anything is sent.
 */
export function compileRule(rule: Rule, family: NftFamily = 'inet'): NftExpr[] {
  if (family !== 'inet' && family !== 'ip' && family !== 'ip6') throw usageError(`rules of the ${family} family are not supported here`);
  const out: NftExpr[] = [];
  let nfproto: RuleIpFamily | undefined = family === 'inet' ? undefined : family;
  let l4: RuleL4 | undefined;
  const needFamily = (f: RuleIpFamily, what: string) => {
    if (nfproto === f) return;
    if (nfproto !== undefined || (family !== 'inet' && family !== f)) throw usageError(`${what}: an ${f} match in a rule that is not ${f}`);
    out.push(load('meta', 'nfproto'), cmp('eq', u8(NFPROTO_OF[f])));
    nfproto = f;
  };
  for (const m of rule.matches) {
    switch (m.match) {
      case 'iifname': case 'oifname':
        out.push(load('meta', m.match), cmp(m.not ? 'neq' : 'eq', ifnameData(m.name)));
        break;
      case 'nfproto':
        if (!NFPROTO_OF[m.family]) throw usageError(`meta nfproto: '${m.family}' is not ip or ip6`);
        if (family !== 'inet') throw usageError(`meta nfproto: only in an inet table, not ${family}`);
        out.push(load('meta', 'nfproto'), cmp('eq', u8(NFPROTO_OF[m.family])));
        nfproto = m.family;
        break;
      case 'l4proto':
        if (!L4[m.proto]) throw usageError(`meta l4proto: '${m.proto}' is not tcp or udp`);
        out.push(load('meta', 'l4proto'), cmp('eq', u8(L4[m.proto])));
        l4 = m.proto;
        break;
      case 'saddr': case 'daddr': {
        const cidr = parseCidr(m.cidr, `${m.match}`);
        const f = ipFamily(cidr.family);
        needFamily(f, `${f} ${m.match} ${m.cidr}`);
        const { len } = ADDR_OFFSET[f];
        if (cidr.prefixlen === 0) throw usageError(`${f} ${m.match} ${m.cidr}: a /0 prefix matches everything; leave the match out`);
        const net = networkOf(cidr.bytes, cidr.prefixlen);
        // nft compares only the whole bytes of a byte-aligned prefix, and masks otherwise.
        const whole = cidr.prefixlen % 8 === 0;
        const loadLen = whole ? cidr.prefixlen / 8 : len;
        out.push({ type: 'payload', dreg: R1, base: 'network', offset: ADDR_OFFSET[f][m.match], len: loadLen });
        if (!whole) out.push({ type: 'bitwise', sreg: R1, dreg: R1, len, mask: networkOf(Buffer.alloc(len, 0xff), cidr.prefixlen), xor: Buffer.alloc(len) });
        out.push(cmp(m.not ? 'neq' : 'eq', net.subarray(0, loadLen)));
        break;
      }
      case 'dport': {
        if (!L4[m.proto]) throw usageError(`dport: '${m.proto}' is not tcp or udp`);
        if (l4 !== m.proto) {
          if (l4 !== undefined) throw usageError(`${m.proto} dport: in a rule that matched ${l4}`);
          out.push(load('meta', 'l4proto'), cmp('eq', u8(L4[m.proto])));
          l4 = m.proto;
        }
        out.push({ type: 'payload', dreg: R1, base: 'transport', offset: DPORT_OFFSET, len: 2 }, cmp('eq', port16(m.port, `${m.proto} dport`)));
        break;
      }
      case 'ct state':
        out.push(...ctBits('state', bits(m.states, CT_STATE, 'ct state')));
        break;
      case 'ct status':
        out.push(...ctBits('status', bits(m.status, CT_STATUS, 'ct status')));
        break;
      case 'fib daddr type':
        if (m.type !== 'local') throw usageError(`fib daddr type: '${m.type}' is not supported (local)`);
        out.push({ type: 'fib', flags: NFTA_FIB_F.DADDR, result: 'type', dreg: R1 }, { type: 'cmp', sreg: R1, op: 'eq', data: u32le(RTN.LOCAL) });
        break;
      default:
        throw usageError(`unknown match '${(m as { match: string }).match}'`);
    }
  }
  if (rule.counter) out.push({ type: 'counter' });
  out.push(...compileAction(rule.action, nfproto, l4, family));
  return out;
}

function compileAction(a: RuleAction, nfproto: RuleIpFamily | undefined, l4: RuleL4 | undefined, family: NftFamily): NftExpr[] {
  if ('verdict' in a) {
    if (a.verdict === 'jump' || a.verdict === 'goto') {
      if (!a.chain) throw usageError(`${a.verdict}: a chain name is needed`);
      return [{ type: 'immediate', dreg: NFT_REG.VERDICT, data: { verdict: { code: a.verdict, chain: a.chain } } }];
    }
    if (!['accept', 'drop', 'return'].includes(a.verdict)) throw usageError(`'${a.verdict}' is not a verdict (accept, drop, return, jump, goto)`);
    return [{ type: 'immediate', dreg: NFT_REG.VERDICT, data: { verdict: { code: a.verdict } } }];
  }
  if (a.nat === 'masquerade') return [{ type: 'masq' }];
  if (a.nat !== 'dnat' && a.nat !== 'snat') throw usageError(`'${(a as { nat: string }).nat}' is not dnat, snat or masquerade`);
  const addr = parseAddress(a.address, `${a.nat} to`);
  const f = ipFamily(addr.family);
  if ((nfproto !== undefined && nfproto !== f) || (family !== 'inet' && family !== f)) throw usageError(`${a.nat} ${f} to ${a.address}: in a rule that is not ${f}`);
  // nft: "transport protocol mapping is only valid after transport protocol match".
  if (a.port !== undefined && l4 === undefined) throw usageError(`${a.nat} to ${a.address}:${a.port}: a port needs a tcp or udp match first`);
  const out: NftExpr[] = [{ type: 'immediate', dreg: NFT_REG.R1, data: { value: addr.bytes } }];
  if (a.port !== undefined) out.push({ type: 'immediate', dreg: NFT_REG.R2, data: { value: port16(a.port, `${a.nat} to`) } });
  out.push({
    type: 'nat', nat: a.nat, family: NFPROTO_OF[f], addrMin: NFT_REG.R1,
    ...(a.port !== undefined ? { protoMin: NFT_REG.R2, flags: NF_NAT_RANGE.PROTO_SPECIFIED } : {}),
  });
  return out;
}

const L4_NAMES = new Map(Object.entries(L4).map(([k, v]) => [v, k as RuleL4]));
const FAMILY_OF_NFPROTO = new Map<number, RuleIpFamily>([[NFPROTO.IPV4, 'ip'], [NFPROTO.IPV6, 'ip6']]);

function namesOf<N extends string>(mask: number, table: Record<N, number>): N[] | undefined {
  const names = (Object.keys(table) as N[]).filter((n) => mask & table[n]);
  return names.reduce((m, n) => m | table[n], 0) === mask ? names : undefined;
}

function prefixOf(mask: Buffer): number | undefined {
  let n = 0;
  while (n < mask.length * 8 && mask[n >> 3]! & (0x80 >> (n & 7))) n++;
  return networkOf(Buffer.alloc(mask.length, 0xff), n).equals(mask) ? n : undefined;
}

/**
 * The Rule behind expressions written by compileRule (or by nft for the same text), as the
 * kernel dumps them; undefined when they are anything else. Dependencies compileRule adds
 * (`meta nfproto` before an address, `meta l4proto` before a port) are folded back in.
 */
export function decompileRule(exprs: readonly NftExpr[]): Rule | undefined {
  const matches: RuleMatch[] = [];
  let counter = false;
  // What the rule has tested so far: the dependencies later matches rely on.
  let nfproto: RuleIpFamily | undefined;
  let l4: RuleL4 | undefined;
  let i = 0;
  const at = (k: number) => exprs[i + k];
  const isCmp = (e: NftExpr | undefined, op?: 'eq' | 'neq'): e is Extract<NftExpr, { type: 'cmp' }> =>
    e?.type === 'cmp' && e.sreg === R1 && (op === undefined || e.op === op) && (e.op === 'eq' || e.op === 'neq');
  const followedBy = (base: string) => {
    const p = at(2);
    return p?.type === 'payload' && p.base === base;
  };
  while (i < exprs.length) {
    const e = at(0)!;
    const next = at(1);
    if (e.type === 'meta' && e.dreg === R1 && isCmp(next)) {
      if ((e.key === 'iifname' || e.key === 'oifname') && next.data.length <= IFNAMSIZ) {
        const exact = next.data.length === IFNAMSIZ && next.data.includes(0);
        const name = exact ? next.data.subarray(0, next.data.indexOf(0)).toString() : `${next.data.toString()}*`;
        matches.push({ match: e.key, name, ...(next.op === 'neq' ? { not: true } : {}) });
      } else if (e.key === 'nfproto' && next.op === 'eq' && next.data.length === 1 && FAMILY_OF_NFPROTO.has(next.data[0]!)) {
        nfproto = FAMILY_OF_NFPROTO.get(next.data[0]!)!;
        // A dependency of the address match that follows, or a match of its own.
        if (!followedBy('network')) matches.push({ match: 'nfproto', family: nfproto });
      } else if (e.key === 'l4proto' && next.op === 'eq' && next.data.length === 1 && L4_NAMES.has(next.data[0]!)) {
        l4 = L4_NAMES.get(next.data[0]!)!;
        if (!followedBy('transport')) matches.push({ match: 'l4proto', proto: l4 });
      } else return undefined;
      i += 2;
      continue;
    }
    if (e.type === 'payload' && e.dreg === R1 && e.base === 'network') {
      // In an inet table the nfproto test before says which header this is; in an ip or ip6
      // table the offsets do (IPv4's addresses sit at 12 and 16, IPv6's at 8 and 24).
      const fam = nfproto ?? (['ip', 'ip6'] as const).find((f) => e.offset === ADDR_OFFSET[f].saddr || e.offset === ADDR_OFFSET[f].daddr);
      const o = fam ? ADDR_OFFSET[fam] : undefined;
      if (!fam || !o || (e.offset !== o.saddr && e.offset !== o.daddr) || e.len > o.len || e.len === 0) return undefined;
      let prefixlen = e.len * 8;
      let k = 1;
      const mask = at(1);
      if (mask?.type === 'bitwise' && e.len === o.len) {
        const p = prefixOf(mask.mask);
        if (p === undefined || !mask.xor.equals(Buffer.alloc(o.len)) || mask.len !== o.len) return undefined;
        prefixlen = p;
        k = 2;
      }
      const c = at(k);
      if (!isCmp(c) || c.data.length !== e.len) return undefined;
      const full = Buffer.alloc(o.len);
      c.data.copy(full);
      const which = e.offset === o.saddr ? 'saddr' : 'daddr';
      matches.push({ match: which, cidr: prefixlen === o.len * 8 ? formatIp(full) : `${formatIp(full)}/${prefixlen}`, ...(c.op === 'neq' ? { not: true } : {}) });
      i += k + 1;
      continue;
    }
    if (e.type === 'payload' && e.dreg === R1 && e.base === 'transport' && e.offset === DPORT_OFFSET && e.len === 2) {
      if (!l4 || !isCmp(next, 'eq') || next.data.length !== 2) return undefined;
      matches.push({ match: 'dport', proto: l4, port: next.data.readUInt16BE(0) });
      i += 2;
      continue;
    }
    if (e.type === 'ct' && (e.key === 'state' || e.key === 'status') && e.dreg === R1 && e.direction === undefined) {
      const b = at(1);
      const c = at(2);
      if (b?.type !== 'bitwise' || b.len !== 4 || !b.xor.equals(u32le(0)) || !isCmp(c, 'neq') || !c.data.equals(u32le(0))) return undefined;
      const mask = b.mask.readUInt32LE(0);
      if (e.key === 'state') {
        const states = namesOf(mask, CT_STATE);
        if (!states) return undefined;
        matches.push({ match: 'ct state', states });
      } else {
        const status = namesOf(mask, CT_STATUS);
        if (!status) return undefined;
        matches.push({ match: 'ct status', status });
      }
      i += 3;
      continue;
    }
    if (e.type === 'fib' && e.flags === NFTA_FIB_F.DADDR && e.result === 'type' && isCmp(next, 'eq') && next.data.equals(u32le(RTN.LOCAL))) {
      matches.push({ match: 'fib daddr type', type: 'local' });
      i += 2;
      continue;
    }
    if (e.type === 'counter') {
      counter = true;
      i += 1;
      continue;
    }
    const action = decompileAction(exprs.slice(i));
    if (!action) return undefined;
    return { matches, ...(counter ? { counter } : {}), action };
  }
  return undefined;
}

function decompileAction(rest: readonly NftExpr[]): RuleAction | undefined {
  const [a, b, c] = rest;
  if (rest.length === 1 && a?.type === 'immediate' && a.dreg === NFT_REG.VERDICT && 'verdict' in a.data) {
    const v = a.data.verdict;
    if ('chain' in v) return { verdict: v.code, chain: v.chain };
    return v.code === 'accept' || v.code === 'drop' || v.code === 'return' ? { verdict: v.code } : undefined;
  }
  if (rest.length === 1 && a?.type === 'masq' && !a.flags && a.protoMin === undefined) return { nat: 'masquerade' };
  if (a?.type !== 'immediate' || a.dreg !== NFT_REG.R1 || !('value' in a.data)) return undefined;
  const address = a.data.value.length === 4 || a.data.value.length === 16 ? formatIp(a.data.value) : undefined;
  const withPort = b?.type === 'immediate' && b.dreg === NFT_REG.R2 && 'value' in b.data && b.data.value.length === 2;
  const nat = withPort ? c : b;
  if (!address || nat?.type !== 'nat' || rest.length !== (withPort ? 3 : 2) || nat.addrMin !== NFT_REG.R1) return undefined;
  // The kernel dumps addr_max/proto_max equal to the minimum, and adds NF_NAT_RANGE_MAP_IPS.
  if ((nat.addrMax ?? NFT_REG.R1) !== NFT_REG.R1) return undefined;
  if (withPort && (nat.protoMin !== NFT_REG.R2 || (nat.protoMax ?? NFT_REG.R2) !== NFT_REG.R2)) return undefined;
  if (!withPort && nat.protoMin !== undefined) return undefined;
  const allowed = NF_NAT_RANGE.MAP_IPS | NF_NAT_RANGE.PROTO_SPECIFIED;
  if ((nat.flags ?? 0) & ~allowed) return undefined;
  if (FAMILY_OF_NFPROTO.get(nat.family) !== ipFamily(a.data.value.length === 16 ? AF.INET6 : AF.INET)) return undefined;
  const port = withPort && 'value' in (b as { data: object }).data ? ((b as { data: { value: Buffer } }).data.value.readUInt16BE(0)) : undefined;
  return { nat: nat.nat, address, ...(port !== undefined ? { port } : {}) };
}

function quoteName(name: string): string {
  return `"${name}"`;
}

/** The rule as nft(8) text (what `nft list` prints, modulo its own abbreviations). */
export function formatRule(rule: Rule): string {
  const parts: string[] = [];
  for (const m of rule.matches) {
    switch (m.match) {
      case 'iifname': case 'oifname':
        parts.push(`${m.match} ${m.not ? '!= ' : ''}${quoteName(m.name)}`);
        break;
      case 'saddr': case 'daddr': {
        const cidr = parseCidr(m.cidr, m.match);
        const net = formatIp(networkOf(cidr.bytes, cidr.prefixlen));
        const full = cidr.prefixlen === cidr.bytes.length * 8;
        parts.push(`${ipFamily(cidr.family)} ${m.match} ${m.not ? '!= ' : ''}${full ? net : `${net}/${cidr.prefixlen}`}`);
        break;
      }
      case 'nfproto': parts.push(`meta nfproto ${m.family === 'ip' ? 'ipv4' : 'ipv6'}`); break;
      case 'l4proto': parts.push(`meta l4proto ${m.proto}`); break;
      case 'dport': parts.push(`${m.proto} dport ${m.port}`); break;
      case 'ct state': parts.push(`ct state ${m.states.join(',')}`); break;
      case 'ct status': parts.push(`ct status ${m.status.join(',')}`); break;
      case 'fib daddr type': parts.push(`fib daddr type ${m.type}`); break;
    }
  }
  if (rule.counter) parts.push('counter');
  const a = rule.action;
  if ('verdict' in a) parts.push('chain' in a ? `${a.verdict} ${a.chain}` : a.verdict);
  else if (a.nat === 'masquerade') parts.push('masquerade');
  else {
    const v6 = a.address.includes(':');
    const host = v6 && a.port !== undefined ? `[${a.address}]` : a.address;
    parts.push(`${a.nat} ${v6 ? 'ip6' : 'ip'} to ${host}${a.port !== undefined ? `:${a.port}` : ''}`);
  }
  return parts.join(' ');
}
