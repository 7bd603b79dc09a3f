/**
 * `ip link|addr|route show` output: JSON objects with `ip -j`'s field names, and the text
 * `ip` prints, made from those objects (as iproute2 prints both from one pass). Names for
 * numbers are iproute2's defaults (/etc/iproute2/rt_*, ll_types.c), not read from /etc.
 */
import { AF, IFA_F, IFF, OPERSTATES, RTN, RTPROT, RT_SCOPE, RT_TABLE, attrValue } from './codec';
import type { Address, Link, Route, RtnlHandle } from './verbs';
import { netnsList } from './netns';

export type LinkJson = Record<string, unknown> & { ifindex: number; ifname: string };
export type AddrInfoJson = Record<string, unknown> & { family: string };
export type RouteJson = Record<string, unknown>;

const LINK_TYPES = new Map<number, string>([
  [1, 'ether'], [32, 'infiniband'], [280, 'can'], [512, 'ppp'], [768, 'ipip'], [769, 'tunnel6'], [772, 'loopback'],
  [776, 'sit'], [778, 'gre'], [823, 'ip6gre'], [824, 'netlink'], [65534, 'none'], [65535, 'void'],
]);
const LINK_MODES = ['DEFAULT', 'DORMANT', 'TESTING'];
const SCOPES = new Map<number, string>([[RT_SCOPE.UNIVERSE, 'global'], [RT_SCOPE.SITE, 'site'], [RT_SCOPE.LINK, 'link'], [RT_SCOPE.HOST, 'host'], [RT_SCOPE.NOWHERE, 'nowhere']]);
const PROTOCOLS = new Map<number, string>([
  [0, 'unspec'], [1, 'redirect'], [2, 'kernel'], [3, 'boot'], [4, 'static'], [8, 'gated'], [9, 'ra'], [10, 'mrt'], [11, 'zebra'],
  [12, 'bird'], [13, 'dnrouted'], [14, 'xorp'], [15, 'ntk'], [16, 'dhcp'], [18, 'keepalived'], [42, 'babel'], [99, 'openr'],
  [186, 'bgp'], [187, 'isis'], [188, 'ospf'], [189, 'rip'], [192, 'eigrp'],
]);
const TABLES = new Map<number, string>([[RT_TABLE.LOCAL, 'local'], [RT_TABLE.MAIN, 'main'], [RT_TABLE.DEFAULT, 'default'], [RT_TABLE.UNSPEC, 'unspec']]);
const ROUTE_TYPES = ['unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'xresolve'];
/** Link flags in the order `ip` prints them (print_link_flags()). */
const LINK_FLAGS = ['LOOPBACK', 'BROADCAST', 'POINTOPOINT', 'MULTICAST', 'NOARP', 'ALLMULTI', 'PROMISC', 'MASTER', 'SLAVE',
  'DEBUG', 'DYNAMIC', 'AUTOMEDIA', 'PORTSEL', 'NOTRAILERS', 'UP', 'LOWER_UP', 'DORMANT', 'ECHO'] as const;
/** Route flags (RTNH_F_* then RTM_F_*), in `ip`'s order. */
const ROUTE_FLAGS: [number, string][] = [[1, 'dead'], [4, 'onlink'], [2, 'pervasive'], [8, 'offload'], [64, 'trap'],
  [0x100, 'notify'], [16, 'linkdown'], [32, 'unresolved'], [0x2000, 'rt_offload'], [0x4000, 'rt_trap'], [0x20000, 'rt_offload_failed']];
/**
 * Address flags `ip` shows as booleans, in its order (print_ifa_flags()). IFA_F_SECONDARY
 * reads "temporary" for IPv6; "dynamic" is shown for the *absence* of IFA_F_PERMANENT.
 */
const ADDR_FLAGS: [number, string][] = [[IFA_F.SECONDARY, 'secondary'], [IFA_F.NODAD, 'nodad'], [IFA_F.OPTIMISTIC, 'optimistic'],
  [IFA_F.DADFAILED, 'dadfailed'], [IFA_F.HOMEADDRESS, 'home'], [IFA_F.DEPRECATED, 'deprecated'], [IFA_F.TENTATIVE, 'tentative'],
  [IFA_F.PERMANENT, 'dynamic'], [IFA_F.MANAGETEMPADDR, 'mngtmpaddr'], [IFA_F.NOPREFIXROUTE, 'noprefixroute'],
  [IFA_F.MCAUTOJOIN, 'autojoin'], [IFA_F.STABLE_PRIVACY, 'stable-privacy']];

function addrFlagName(bit: number, name: string, v6: boolean): string {
  return bit === IFA_F.SECONDARY && v6 ? 'temporary' : name;
}
const FOREVER = 0xffffffff;

const nameOf = (links: ReadonlyMap<number, Link>, index: number) => links.get(index)?.name ?? `if${index}`;

function linkFlags(link: Link, links: ReadonlyMap<number, Link>): string[] {
  const out: string[] = [];
  if (link.flags & IFF.UP && !(link.flags & IFF.RUNNING)) out.push('NO-CARRIER');
  for (const f of LINK_FLAGS) if (link.flags & IFF[f]) out.push(f);
  // M-DOWN: the link this one sits on (a veth's peer here) is down.
  if (link.link && link.linkNetnsid === undefined && !((links.get(link.link)?.flags ?? 0) & IFF.UP)) out.push('M-DOWN');
  return out;
}

/**
 * One link as `ip -j link show` prints it (`ip -j addr show` omits linkmode and adds
 * addr_info). `links` names the indexes this one refers to; where its message has no
 * IFLA_TXQLEN (IPv6's link table) the queue length comes from the link of the same index
 * there, as ip gets it with SIOCGIFTXQLEN.
 */
export function linkJson(link: Link, links: ReadonlyMap<number, Link>, options: { linkmode?: boolean } = {}): LinkJson {
  const a = link.message.attrs;
  const out: LinkJson = { ifindex: link.index, ifname: link.name };
  const iflink = attrValue(a, 'link');
  if (iflink === 0) out['link'] = null;
  else if (iflink !== undefined && link.linkNetnsid !== undefined) out['link_index'] = iflink;
  else if (iflink !== undefined) out['link'] = nameOf(links, iflink);
  out['flags'] = linkFlags(link, links);
  if (link.mtu !== undefined) out['mtu'] = link.mtu;
  const qdisc = attrValue(a, 'qdisc');
  if (qdisc !== undefined) out['qdisc'] = qdisc;
  if (link.master !== undefined) out['master'] = nameOf(links, link.master);
  if (link.operstate !== undefined) out['operstate'] = OPERSTATES[link.operstate] ?? String(link.operstate);
  const mode = attrValue(a, 'linkmode');
  if (options.linkmode !== false && mode !== undefined) out['linkmode'] = LINK_MODES[mode] ?? String(mode);
  const group = attrValue(a, 'group');
  if (group !== undefined) out['group'] = group === 0 ? 'default' : String(group);
  const txqlen = attrValue(a, 'txqlen') ?? attrValue(links.get(link.index)?.message.attrs ?? [], 'txqlen');
  if (txqlen) out['txqlen'] = txqlen;
  out['link_type'] = LINK_TYPES.get(link.type) ?? `[${link.type}]`;
  if (link.address !== undefined) out['address'] = link.address;
  const brd = attrValue(a, 'broadcast');
  if (brd !== undefined) out['broadcast'] = brd;
  if (link.linkNetnsid !== undefined) out['link_netnsid'] = link.linkNetnsid;
  return out;
}

/** One address as it appears in `ip -j addr show`'s addr_info. */
export function addrInfoJson(addr: Address): AddrInfoJson {
  const v6 = addr.family === AF.INET6;
  const out: AddrInfoJson = { family: v6 ? 'inet6' : addr.family === AF.INET ? 'inet' : String(addr.family) };
  if (addr.local !== undefined) {
    out['local'] = addr.local;
    if (addr.address !== undefined && addr.address !== addr.local) out['address'] = addr.address;
  }
  out['prefixlen'] = addr.prefixlen;
  if (addr.broadcast !== undefined) out['broadcast'] = addr.broadcast;
  out['scope'] = SCOPES.get(addr.scope) ?? String(addr.scope);
  for (const [bit, name] of ADDR_FLAGS) {
    const set = (addr.flags & bit) !== 0;
    if (bit === IFA_F.PERMANENT ? !set : set) out[addrFlagName(bit, name, v6)] = true;
  }
  if (addr.label !== undefined) out['label'] = addr.label;
  if (addr.validLifetime !== undefined) out['valid_life_time'] = addr.validLifetime;
  if (addr.preferredLifetime !== undefined) out['preferred_life_time'] = addr.preferredLifetime;
  return out;
}

/** `ip -j addr show`: every link with its addresses, in the kernel's order. */
export function addrJson(links: readonly Link[], addrs: readonly Address[], byIndex: ReadonlyMap<number, Link> = new Map(links.map((l) => [l.index, l]))): (LinkJson & { addr_info: AddrInfoJson[] })[] {
  return links.map((l) => ({ ...linkJson(l, byIndex, { linkmode: false }), addr_info: addrs.filter((a) => a.index === l.index).map(addrInfoJson) }));
}

/** One route as `ip -j route show` prints it. */
export function routeJson(route: Route, links: ReadonlyMap<number, Link>, options: { showTable?: boolean; dev?: boolean } = {}): RouteJson {
  const out: RouteJson = {};
  if (route.type !== RTN.UNICAST) out['type'] = ROUTE_TYPES[route.type] ?? String(route.type);
  const hostLen = route.family === AF.INET6 ? 128 : 32;
  if (route.dst !== undefined) out['dst'] = route.dstLen === hostLen ? route.dst : `${route.dst}/${route.dstLen}`;
  else out['dst'] = route.dstLen ? `0/${route.dstLen}` : 'default';
  if (route.gateway !== undefined) out['gateway'] = route.gateway;
  if (route.oif !== undefined && options.dev !== false) out['dev'] = nameOf(links, route.oif);
  if (options.showTable && route.table !== RT_TABLE.MAIN) out['table'] = TABLES.get(route.table) ?? String(route.table);
  if (route.protocol !== RTPROT.BOOT) out['protocol'] = PROTOCOLS.get(route.protocol) ?? String(route.protocol);
  if (route.scope !== RT_SCOPE.UNIVERSE) out['scope'] = SCOPES.get(route.scope) ?? String(route.scope);
  if (route.prefsrc !== undefined) out['prefsrc'] = route.prefsrc;
  if (route.metric !== undefined) out['metric'] = route.metric;
  out['flags'] = ROUTE_FLAGS.filter(([bit]) => route.flags & bit).map(([, name]) => name);
  const pref = attrValue(route.message.attrs, 'pref');
  if (pref !== undefined) out['pref'] = ({ 0: 'medium', 1: 'high', 3: 'low' } as Record<number, string>)[pref] ?? String(pref);
  return out;
}

/**
 * The two lines `ip link show` prints for a link, from its JSON. `netnsNames` (nsid -> name
 * under /run/netns) turns "link-netnsid N" into "link-netns NAME", as ip does.
 */
export function linkText(j: LinkJson, netnsNames: ReadonlyMap<number, string> = new Map()): string {
  const at = j['link'] === null ? '@NONE' : j['link'] !== undefined ? `@${String(j['link'])}` : j['link_index'] !== undefined ? `@if${String(j['link_index'])}` : '';
  const head = [`${j.ifindex}: ${j.ifname}${at}: <${(j['flags'] as string[]).join(',')}>`];
  const opt = (key: string, label: string) => { if (j[key] !== undefined) head.push(`${label} ${String(j[key])}`); };
  opt('mtu', 'mtu');
  opt('qdisc', 'qdisc');
  opt('master', 'master');
  opt('operstate', 'state');
  opt('linkmode', 'mode');
  opt('group', 'group');
  opt('txqlen', 'qlen');
  if (j['link_type'] === undefined) return `${head.join(' ')}\n`;
  const second = [`    link/${String(j['link_type'])}`];
  if (j['address'] !== undefined) second.push(String(j['address']));
  if (j['broadcast'] !== undefined) second.push(`brd ${String(j['broadcast'])}`);
  const nsid = j['link_netnsid'] as number | undefined;
  if (nsid !== undefined) second.push(netnsNames.has(nsid) ? `link-netns ${netnsNames.get(nsid)!}` : `link-netnsid ${nsid}`);
  return `${head.join(' ')}\n${second.join(' ')}\n`;
}

const lifetime = (v: unknown) => (v === FOREVER ? 'forever' : `${String(v)}sec`);

/** The lines `ip addr show` prints for one address. */
export function addrInfoText(j: AddrInfoJson): string {
  let line = `    ${j.family} ${String(j['local'])}`;
  if (j['address'] !== undefined) line += ` peer ${String(j['address'])}`;
  line += `/${String(j['prefixlen'])} `;
  if (j['broadcast'] !== undefined) line += `brd ${String(j['broadcast'])} `;
  line += `scope ${String(j['scope'])} `;
  for (const [bit, name] of ADDR_FLAGS) {
    const shown = addrFlagName(bit, name, j.family === 'inet6');
    if (j[shown] === true) line += `${shown} `;
  }
  if (j['label'] !== undefined) line += String(j['label']);
  line += '\n';
  if (j['valid_life_time'] !== undefined) {
    line += `       valid_lft ${lifetime(j['valid_life_time'])} preferred_lft ${lifetime(j['preferred_life_time'])}\n`;
  }
  return line;
}

/** The line `ip route show` prints for a route (with its trailing space, as ip has it). */
export function routeText(j: RouteJson): string {
  let line = '';
  if (j['type'] !== undefined) line += `${String(j['type'])} `;
  line += `${String(j['dst'])} `;
  const words: [string, string][] = [['gateway', 'via'], ['dev', 'dev'], ['table', 'table'], ['protocol', 'proto'], ['scope', 'scope'],
    ['prefsrc', 'src'], ['metric', 'metric']];
  for (const [key, label] of words) if (j[key] !== undefined) line += `${label} ${String(j[key])} `;
  for (const f of j['flags'] as string[]) line += `${f} `;
  if (j['pref'] !== undefined) line += `pref ${String(j['pref'])}`;
  return `${line}\n`;
}

export type ShowObject = 'link' | 'addr' | 'route';

export interface ShowOptions {
  /** Only this link (`dev NAME`); for routes, those through it. */
  readonly dev?: string | undefined;
  /** AF.INET or AF.INET6 (`-4`/`-6`); routes default to IPv4, as `ip route` does. */
  readonly family?: number | undefined;
  /** `ip -j` output instead of text. */
  readonly json?: boolean;
}

/** Equivalent to: `ip [-4|-6] [-j] link|addr|route show [dev NAME]` in the handle's namespace. */
export function ipShow(h: RtnlHandle, object: ShowObject, o: ShowOptions = {}): string {
  const links = h.linkList();
  const byIndex = new Map(links.map((l) => [l.index, l]));
  const selected = o.dev === undefined ? links : [h.linkByName(o.dev)];
  if (object === 'link') {
    const list = selected.map((l) => linkJson(l, byIndex));
    if (o.json) return `${JSON.stringify(list)}\n`;
    const names = peerNames(h, list);
    return list.map((l) => linkText(l, names)).join('');
  }
  if (object === 'addr') return showAddrs(h, selected, byIndex, o);
  const routes = h.routeList({ family: o.family ?? AF.INET })
    .filter((r) => o.dev === undefined || r.oif === selected[0]!.index);
  // Filtered by device, ip does not repeat the device on every line.
  const list = routes.map((r) => routeJson(r, byIndex, { dev: o.dev === undefined }));
  return o.json ? `${JSON.stringify(list)}\n` : list.map(routeText).join('');
}

function showAddrs(h: RtnlHandle, selected: Link[], byIndex: Map<number, Link>, o: ShowOptions): string {
  const addrs = h.addrList(o.family !== undefined ? { family: o.family } : {});
  let shown = selected;
  if (o.family === AF.INET6 && o.dev === undefined) {
    // `ip -6 addr` lists links with family AF_INET6, which the kernel answers from IPv6's own
    // table (no qdisc or group): ask the same to print the same. (With dev, ip asks for that
    // one link in full.)
    const v6 = new Map(h.linkList({ family: AF.INET6 }).map((l) => [l.index, l]));
    shown = selected.flatMap((l) => v6.get(l.index) ?? []);
  }
  let list = addrJson(shown, addrs, byIndex);
  if (o.family !== undefined) {
    // ip -4/-6 addr leaves out links without an address of that family, and their link layer.
    list = list.filter((l) => l.addr_info.length > 0)
      .map(({ link_type: _t, address: _a, broadcast: _b, link_netnsid: _n, ...rest }) => rest as (typeof list)[number]);
  }
  if (o.json) return `${JSON.stringify(list)}\n`;
  const names = peerNames(h, list);
  return list.map((l) => linkText(l, names) + l.addr_info.map(addrInfoText).join('')).join('');
}

/** Names of the namespaces links point into (nsid -> /run/netns name), looked up only if needed. */
function peerNames(h: RtnlHandle, links: readonly LinkJson[]): Map<number, string> {
  const names = new Map<number, string>();
  if (!links.some((l) => l['link_netnsid'] !== undefined)) return names;
  for (const n of netnsList(h)) if (n.id !== undefined && !names.has(n.id)) names.set(n.id, n.name);
  return names;
}
