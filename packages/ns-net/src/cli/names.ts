/**
 * Names for numbers, as ip prints and reads them: iproute2's built-in tables, overridden by
 * /etc/iproute2/{rt_scopes,rt_protos,rt_tables,group,rt_realms} and their .d/*.conf
 * (lib/rt_names.c), read only when a command needs one. With -N (numeric) numbers stay numbers.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { formatIp } from '../codec/ip';
import { getUnsigned, invarg } from './args';

const CONFDIR = '/etc/iproute2';

/** One id <-> name database. */
class NameTable {
  readonly #defaults: readonly [number, string][];
  readonly #file: string;
  readonly #max: number;
  #byId: Map<number, string> | undefined;

  constructor(file: string, defaults: readonly [number, string][], max = 255) {
    this.#file = file;
    this.#defaults = defaults;
    this.#max = max;
  }

  #load(): Map<number, string> {
    if (this.#byId) return this.#byId;
    const byId = new Map(this.#defaults);
    const read = (path: string) => {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        return; // no file: the built-in names only, as ip
      }
      for (const raw of text.split('\n')) {
        const line = raw.replace(/^[ \t]+/, '');
        if (line === '' || line.startsWith('#')) continue;
        const m = /^(0x[0-9a-fA-F]+|-?[0-9]+)\s+(\S+)/.exec(line);
        if (!m) return; // "Database ... is corrupted": ip stops reading there
        const id = Number(m[1]);
        if (id < 0 || id > this.#max) continue;
        byId.set(id, m[2]!);
      }
    };
    read(`${CONFDIR}/${this.#file}`);
    let extra: string[] = [];
    try {
      extra = readdirSync(`${CONFDIR}/${this.#file}.d`);
    } catch {
      // no drop-in directory
    }
    for (const f of extra) if (!f.startsWith('.') && f.length > 5 && f.endsWith('.conf')) read(`${CONFDIR}/${this.#file}.d/${f}`);
    this.#byId = byId;
    return byId;
  }

  /** The name of an id, if it has one. */
  name(id: number): string | undefined {
    return this.#load().get(id);
  }

  /** The id of a name only. */
  named(name: string): number | undefined {
    for (const [id, n] of this.#load()) if (n === name) return id;
    return undefined;
  }

  /** The id of a name, or a number (strtoul base 0) at most `max`. */
  id(name: string, max = this.#max): number | undefined {
    return this.named(name) ?? getUnsigned(name, max);
  }

  /** An id as ip prints it (rtnl_*_n2a()); bound, so it can be exported as the table's printer. */
  readonly print = (id: number, o: NameOptions = {}): string => nameOr(this.name(id), o, String(id));

  /** A name or a number as ip reads it (rtnl_*_a2n()); bound, as `print`. */
  readonly parse = (name: string): number | undefined => this.id(name);
}

/** How ip prints an id: its name, unless -N or it has none; then `unnamed`. */
function nameOr(name: string | undefined, o: NameOptions, unnamed: string): string {
  return (!o.numeric && name) || unnamed;
}

const SCOPES = new NameTable('rt_scopes', [[0, 'global'], [255, 'nowhere'], [254, 'host'], [253, 'link'], [200, 'site']]);
const PROTOCOLS = new NameTable('rt_protos', [
  [0, 'unspec'], [1, 'redirect'], [2, 'kernel'], [3, 'boot'], [4, 'static'], [8, 'gated'], [9, 'ra'], [10, 'mrt'],
  [11, 'zebra'], [12, 'bird'], [42, 'babel'], [13, 'dnrouted'], [14, 'xorp'], [15, 'ntk'], [16, 'dhcp'],
  [18, 'keepalived'], [186, 'bgp'], [187, 'isis'], [188, 'ospf'], [189, 'rip'], [192, 'eigrp'],
]);
const TABLES = new NameTable('rt_tables', [[0, 'unspec'], [253, 'default'], [254, 'main'], [255, 'local']], 0xffffffff);
const GROUPS = new NameTable('group', [[0, 'default']], 0x7fffffff);
const REALMS = new NameTable('rt_realms', [[0, 'cosmos']]);

export interface NameOptions {
  /** -N: print numbers, not names. */
  readonly numeric?: boolean;
}

export const scopeName = SCOPES.print;
export const scopeId = SCOPES.parse;

/** A `scope S` filter: that scope, or "all" (no filter). @throws IpExit for anything else. */
export function scopeSelector(word: string): { scope: number; mask: number } {
  const scope = scopeId(word);
  if (scope !== undefined) return { scope, mask: -1 };
  if (word !== 'all') invarg('invalid "scope"\n', word);
  return { scope: 255, mask: 0 };
}

export const protocolName = PROTOCOLS.print;
export const protocolId = PROTOCOLS.parse;
export const tableName = TABLES.print;
/** rtnl_rttable_a2n(): a name or a number up to RT_TABLE_MAX. */
export const tableId = TABLES.parse;
export const groupName = GROUPS.print;
export const groupId = GROUPS.parse;
export const realmName = REALMS.print;

const RTN_NAMES = ['none', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'xresolve'];

/** rtnl_rtntype_n2a() (ip/rtm_map.c): "none" for 0. */
export function routeTypeName(id: number, o: NameOptions = {}): string {
  return nameOr(RTN_NAMES[id], o, String(id));
}

/** rtnl_rtntype_a2n(): local, nat, throw exactly; the rest by prefix; or a number up to 255. */
export function routeTypeId(word: string): number | undefined {
  const m = (k: string) => k.startsWith(word);
  if (word === 'local') return 2;
  if (word === 'nat') return 10;
  if (m('broadcast') || word === 'brd') return 3;
  if (m('anycast')) return 4;
  if (m('multicast')) return 5;
  if (m('prohibit')) return 8;
  if (m('unreachable')) return 7;
  if (m('blackhole')) return 6;
  if (m('xresolve')) return 11;
  if (m('unicast')) return 1;
  if (word === 'throw') return 9;
  return getUnsigned(word, 255);
}

/** ARPHRD_* names (lib/ll_types.c). */
const LINK_TYPES = new Map<number, string>([
  [0, 'netrom'], [1, 'ether'], [2, 'eether'], [3, 'ax25'], [4, 'pronet'], [5, 'chaos'], [6, 'ieee802'], [7, 'arcnet'],
  [8, 'atalk'], [15, 'dlci'], [19, 'atm'], [23, 'metricom'], [24, 'ieee1394'], [32, 'infiniband'], [256, 'slip'],
  [257, 'cslip'], [258, 'slip6'], [259, 'cslip6'], [260, 'rsrvd'], [264, 'adapt'], [270, 'rose'], [271, 'x25'],
  [272, 'hwx25'], [280, 'can'], [512, 'ppp'], [513, 'hdlc'], [516, 'lapb'], [517, 'ddcmp'], [518, 'rawhdlc'],
  [768, 'ipip'], [769, 'tunnel6'], [770, 'frad'], [771, 'skip'], [772, 'loopback'], [773, 'ltalk'], [774, 'fddi'],
  [775, 'bif'], [776, 'sit'], [777, 'ip/ddp'], [778, 'gre'], [779, 'pimreg'], [780, 'hippi'], [781, 'ash'],
  [782, 'econet'], [783, 'irda'], [784, 'fcpp'], [785, 'fcal'], [786, 'fcpl'],
  ...Array.from({ length: 13 }, (_, i) => [787 + i, `fcfb${i}`] as [number, string]),
  [800, 'tr'], [801, 'ieee802.11'], [802, 'ieee802.11/prism'], [803, 'ieee802.11/radiotap'], [804, 'ieee802.15.4'],
  [805, 'ieee802.15.4/monitor'], [820, 'phonet'], [821, 'phonet_pipe'], [822, 'caif'], [823, 'gre6'], [824, 'netlink'],
  [825, '6lowpan'], [65534, 'none'], [65535, 'void'],
]);

/** ll_type_n2a(): "[N]" for a type without a name. */
export function linkTypeName(type: number, o: NameOptions = {}): string {
  return nameOr(LINK_TYPES.get(type), o, `[${type}]`);
}

const ARPHRD = { TUNNEL: 768, TUNNEL6: 769, SIT: 776, IPGRE: 778, IP6GRE: 823 };

/** ll_addr_n2a(): tunnels' addresses as IP addresses, everything else as colon-separated hex. */
export function llAddrN2a(bytes: Buffer, type: number): string {
  if (bytes.length === 4 && (type === ARPHRD.TUNNEL || type === ARPHRD.SIT || type === ARPHRD.IPGRE)) return formatIp(bytes);
  if (bytes.length === 16 && (type === ARPHRD.TUNNEL6 || type === ARPHRD.IP6GRE)) return formatIp(bytes);
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** ll_proto_n2a() for the ethertypes a bridge reports. */
export function ethertypeName(proto: number): string {
  const known: Record<number, string> = { 0x8100: '802.1Q', 0x88a8: '802.1ad', 0x0800: 'ip', 0x86dd: 'ipv6', 0x0806: 'arp' };
  return known[proto] ?? `[${proto}]`;
}

export const OPER_STATES = ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'] as const;

const DSFIELDS = new NameTable('rt_dsfield', []);

/** rtnl_dsfield_n2a(): a name from rt_dsfield, else "0x%02x". */
export function dsfieldName(id: number, o: NameOptions = {}): string {
  return nameOr(DSFIELDS.name(id), o, `0x${id.toString(16).padStart(2, '0')}`);
}

/** rtnl_dsfield_a2n(): a name, or a hexadecimal number (strtoul base 16) up to 255. */
export function dsfieldId(name: string): number | undefined {
  const byName = DSFIELDS.named(name);
  if (byName !== undefined) return byName;
  return /^[ \t]*[+]?(0[xX])?[0-9a-fA-F]+$/.test(name) && parseInt(name, 16) <= 255 ? parseInt(name, 16) : undefined;
}
