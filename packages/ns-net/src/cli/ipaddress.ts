/**
 * `ip link show` and `ip addr`: listing links with their addresses (text, -br, -d, -s, -j),
 * adding, deleting and flushing addresses, with the filters, messages and exit codes of
 * iproute2's ip/ipaddress.c (behaviour read from iproute2 6.1, the oracle of the tests).
 */
import type { AddrMessage } from '../codec/addr';
import { attrValue } from '../codec/attr';
import { AF, IFA_F, IFF, NLM_F, RTM, RT_SCOPE } from '../codec/constants';
import { formatIp, networkOf, parseIp } from '../codec/ip';
import { linkStats, type LinkMessage, type LinkStats } from '../codec/link';
import { netnsList } from '../netns';
import { toAddress, type Address } from '../verbs/addr';
import { toLink, type Link } from '../verbs/link';
import {
  Words, duparg, duparg2, getAddr, getPrefix, getUnsigned, invarg, matches, nodev, prefixAddress,
  familyName, type InetPrefix,
} from './args';
import { isKernelError, kernelMessage, type IpContext } from './context';
import { strerror } from './strerror';
import { IpExit } from './errors';
import { printLinkKindData } from './iplink-kinds';
import { groupId, groupName, linkTypeName, llAddrN2a, OPER_STATES, scopeId, scopeName, scopeSelector } from './names';
import type { Printer } from './printer';

/** The filter of one listing (ipaddress.c `filter`). */
export interface ListFilter {
  ifindex: number;
  family: number;
  up: boolean;
  group: number;
  /** 0: any; -1: no master (`nomaster`); else the master's ifindex. */
  master: number;
  kind?: string;
  slaveKind?: string;
  label?: string;
  scope: number;
  scopemask: number;
  flags: number;
  flagmask: number;
  pfx?: InetPrefix;
  showqueue: boolean;
  oneline: boolean;
  flushing: boolean;
}

function newFilter(ctx: IpContext): ListFilter {
  return {
    ifindex: 0, family: ctx.g.family, up: false, group: -1, master: 0, scope: 0, scopemask: 0, flags: 0, flagmask: 0,
    showqueue: true, oneline: ctx.g.oneline, flushing: false,
  };
}

const LINK_FLAG_ORDER: [keyof typeof IFF, string][] = [
  ['LOOPBACK', 'LOOPBACK'], ['BROADCAST', 'BROADCAST'], ['POINTOPOINT', 'POINTOPOINT'], ['MULTICAST', 'MULTICAST'],
  ['NOARP', 'NOARP'], ['ALLMULTI', 'ALLMULTI'], ['PROMISC', 'PROMISC'], ['MASTER', 'MASTER'], ['SLAVE', 'SLAVE'],
  ['DEBUG', 'DEBUG'], ['DYNAMIC', 'DYNAMIC'], ['AUTOMEDIA', 'AUTOMEDIA'], ['PORTSEL', 'PORTSEL'], ['NOTRAILERS', 'NOTRAILERS'],
  ['UP', 'UP'], ['LOWER_UP', 'LOWER_UP'], ['DORMANT', 'DORMANT'], ['ECHO', 'ECHO'],
];

/** print_link_flags(): "<BROADCAST,MULTICAST,UP,LOWER_UP> ", NO-CARRIER first, M-DOWN last. */
function printLinkFlags(p: Printer, flagsIn: number, mdown: boolean): void {
  let flags = flagsIn;
  p.openArray('any', 'flags', '<');
  if (flags & IFF.UP && !(flags & IFF.RUNNING)) p.string('any', null, flags ? '%s,' : '%s', 'NO-CARRIER');
  flags &= ~IFF.RUNNING;
  for (const [bit, name] of LINK_FLAG_ORDER) {
    if (!(flags & IFF[bit])) continue;
    flags &= ~IFF[bit];
    p.string('any', null, flags ? '%s,' : '%s', name);
  }
  if (flags) p.hex('any', null, '%x', flags);
  if (mdown) p.string('any', null, ',%s', 'M-DOWN');
  p.closeArray('any', '> ');
}

function printOperstate(ctx: IpContext, state: number): void {
  const p = ctx.p;
  if (state >= OPER_STATES.length) {
    if (p.isJson) p.number('json', 'operstate_index', null, state);
    else p.hex0x('fp', null, 'state %#llx', state);
  } else if (ctx.g.brief) {
    p.string('any', 'operstate', '%-14s ', OPER_STATES[state]!);
  } else {
    p.string('json', 'operstate', null, OPER_STATES[state]!);
    p.text(`state ${OPER_STATES[state]!} `);
  }
}

/** print_name_and_link(): "va@vb", "va@if7" for a peer in another namespace, "@NONE" for IFLA_LINK 0. Returns M-DOWN. */
function printNameAndLink(ctx: IpContext, fmt: string, name: string, msg: LinkMessage): boolean {
  const p = ctx.p;
  const iflink = attrValue(msg.attrs, 'link');
  let shown = name;
  let mdown = false;
  if (iflink !== undefined) {
    let link: string | null = null;
    if (iflink) {
      if (attrValue(msg.attrs, 'linkNetnsid') !== undefined) {
        if (p.isJson) p.number('json', 'link_index', null, iflink);
        else link = `if${iflink}`;
      } else {
        link = ctx.indexToName(iflink);
        if (p.isJson) {
          p.string('json', 'link', null, link);
          link = null;
        }
        mdown = !(ctx.indexToFlags(iflink) & IFF.UP);
      }
    } else if (p.isJson) {
      p.null('json', 'link', null);
    } else {
      link = 'NONE';
    }
    if (link !== null) shown = `${name}@${link}`;
  }
  p.string('any', 'ifname', fmt, shown);
  return mdown;
}

/** The "id -> name" of /run/netns for link-netns, looked up once and only if needed. */
function netnsNameOf(ctx: IpContext, id: number): string | undefined {
  const c = ctx as IpContext & { nsidNames?: Map<number, string> };
  if (!c.nsidNames) {
    c.nsidNames = new Map();
    for (const n of netnsList(ctx.rtnl)) if (n.id !== undefined && !c.nsidNames.has(n.id)) c.nsidNames.set(n.id, n.name);
  }
  return c.nsidNames.get(id);
}

/** Text widths of the stats table: at least the header's, else the widest number. */
function sizeColumns(cols: number[], values: readonly bigint[]): void {
  values.forEach((v, i) => {
    const len = v.toString().length;
    if (len > cols[i]!) cols[i] = len;
  });
}

/** print_num() without -h: the number right-aligned in its column, then a space. */
function num(width: number, v: bigint): string {
  return `${v.toString().padStart(width)} `;
}

/** print_num() with -h: 1.2K, 34M... (base 1000, 1024 with -iec). */
function humanNum(ctx: IpContext, width: number, v: bigint): string {
  const base = ctx.g.iec ? 1024n : 1000n;
  if (!ctx.g.human || v < base) return num(width, v);
  const prefixes = 'kMGTPE';
  let i = 0;
  let powi = 1n;
  for (;;) {
    powi *= base;
    if (v / base < powi) break;
    if (i + 1 >= prefixes.length) break;
    i++;
  }
  let precision = 2;
  let powj = 1n;
  for (; precision > 0; precision--) {
    powj *= 10n;
    if (v / powi < powj) break;
  }
  const text = `${(Number(v) / Number(powi)).toFixed(precision)}${prefixes[i]}${ctx.g.iec ? 'i' : ''}`;
  return `${text.padStart(width)} `;
}

/** print_stats64(): the RX/TX table (with -s -s the error rows), or the "stats64" JSON object. */
export function printStats64(ctx: IpContext, s: LinkStats, carrierChanges: number | undefined, what: string | null): void {
  const p = ctx.p;
  const two = ctx.g.stats > 1;
  if (p.isJson) {
    if (what !== null) p.openObject(what);
    p.openObject('rx');
    const j = (k: string, v: bigint) => p.number('json', k, null, v);
    j('bytes', s.rxBytes); j('packets', s.rxPackets); j('errors', s.rxErrors); j('dropped', s.rxDropped);
    j('over_errors', s.rxOverErrors); j('multicast', s.multicast);
    if (s.rxCompressed) j('compressed', s.rxCompressed);
    if (two) {
      j('length_errors', s.rxLengthErrors); j('crc_errors', s.rxCrcErrors); j('frame_errors', s.rxFrameErrors);
      j('fifo_errors', s.rxFifoErrors); j('missed_errors', s.rxMissedErrors);
      if (s.rxNohandler) j('nohandler', s.rxNohandler);
      if (s.rxOtherhostDropped) j('otherhost', s.rxOtherhostDropped);
    }
    p.closeObject();
    p.openObject('tx');
    j('bytes', s.txBytes); j('packets', s.txPackets); j('errors', s.txErrors); j('dropped', s.txDropped);
    j('carrier_errors', s.txCarrierErrors); j('collisions', s.collisions);
    if (s.txCompressed) j('compressed', s.txCompressed);
    if (two) {
      j('aborted_errors', s.txAbortedErrors); j('fifo_errors', s.txFifoErrors); j('window_errors', s.txWindowErrors);
      j('heartbeat_errors', s.txHeartbeatErrors);
      if (carrierChanges !== undefined) j('carrier_changes', BigInt(carrierChanges));
    }
    p.closeObject();
    if (what !== null) p.closeObject();
    return;
  }
  const cols = ['*X errors:', 'packets', 'errors', 'dropped', 'heartbt', 'overrun', 'compressed', 'otherhost'].map((h) => h.length);
  const human = ctx.g.human > 0;
  const size = (values: bigint[]) => { if (!human) sizeColumns(cols, values); };
  size([s.rxBytes, s.rxPackets, s.rxErrors, s.rxDropped, s.rxMissedErrors, s.multicast, s.rxCompressed, 0n]);
  if (two) size([0n, s.rxLengthErrors, s.rxCrcErrors, s.rxFrameErrors, s.rxFifoErrors, s.rxOverErrors, s.rxNohandler, s.rxOtherhostDropped]);
  size([s.txBytes, s.txPackets, s.txErrors, s.txDropped, s.txCarrierErrors, s.collisions, s.txCompressed, 0n]);
  if (two) size([0n, 0n, s.txAbortedErrors, s.txFifoErrors, s.txWindowErrors, s.txHeartbeatErrors, BigInt(carrierChanges ?? 0), 0n]);
  const w = (n: number, t: string) => t.padStart(Math.max(n, 0));
  const n = (i: number, v: bigint) => humanNum(ctx, cols[i]!, v);
  const sl = p.sl;
  let out = `    RX: ${w(cols[0]! - 4, 'bytes')} ${w(cols[1]!, 'packets')} ${w(cols[2]!, 'errors')} ${w(cols[3]!, 'dropped')} ${w(cols[4]!, 'missed')} ${w(cols[5]!, 'mcast')} ${w(cols[6]!, s.rxCompressed ? 'compressed' : '')}${sl}`;
  out += `    ${n(0, s.rxBytes)}${n(1, s.rxPackets)}${n(2, s.rxErrors)}${n(3, s.rxDropped)}${n(4, s.rxMissedErrors)}${n(5, s.multicast)}`;
  if (s.rxCompressed) out += n(6, s.rxCompressed);
  if (two) {
    out += sl;
    out += `    RX errors:${w(cols[0]! - 10, '')} ${w(cols[1]!, 'length')} ${w(cols[2]!, 'crc')} ${w(cols[3]!, 'frame')} ${w(cols[4]!, 'fifo')} ${w(cols[5]!, 'overrun')}`
      + `${w(s.rxNohandler ? cols[6]! + 1 : 0, s.rxNohandler ? ' nohandler' : '')}${w(s.rxOtherhostDropped ? cols[7]! + 1 : 0, s.rxOtherhostDropped ? ' otherhost' : '')}${sl}`;
    out += ' '.repeat(cols[0]! + 5);
    out += `${n(1, s.rxLengthErrors)}${n(2, s.rxCrcErrors)}${n(3, s.rxFrameErrors)}${n(4, s.rxFifoErrors)}${n(5, s.rxOverErrors)}`;
    if (s.rxNohandler) out += n(6, s.rxNohandler);
    if (s.rxOtherhostDropped) out += n(7, s.rxOtherhostDropped);
  }
  out += sl;
  out += `    TX: ${w(cols[0]! - 4, 'bytes')} ${w(cols[1]!, 'packets')} ${w(cols[2]!, 'errors')} ${w(cols[3]!, 'dropped')} ${w(cols[4]!, 'carrier')} ${w(cols[5]!, 'collsns')} ${w(cols[6]!, s.txCompressed ? 'compressed' : '')}${sl}`;
  out += `    ${n(0, s.txBytes)}${n(1, s.txPackets)}${n(2, s.txErrors)}${n(3, s.txDropped)}${n(4, s.txCarrierErrors)}${n(5, s.collisions)}`;
  if (s.txCompressed) out += n(6, s.txCompressed);
  if (two) {
    out += sl;
    out += `    TX errors:${w(cols[0]! - 10, '')} ${w(cols[1]!, 'aborted')} ${w(cols[2]!, 'fifo')} ${w(cols[3]!, 'window')} ${w(cols[4]!, 'heartbt')} ${w(cols[5]!, carrierChanges !== undefined ? 'transns' : '')}${sl}`;
    out += ' '.repeat(cols[0]! + 5);
    out += `${n(1, s.txAbortedErrors)}${n(2, s.txFifoErrors)}${n(3, s.txWindowErrors)}${n(4, s.txHeartbeatErrors)}`;
    if (carrierChanges !== undefined) out += n(5, BigInt(carrierChanges));
  }
  p.text(out);
}

function printLinkStats(ctx: IpContext, msg: LinkMessage): void {
  const st = linkStats(msg);
  if (!st) return;
  printStats64(ctx, st.stats, attrValue(msg.attrs, 'carrierChanges'), st.wide ? 'stats64' : 'stats');
}

const ADDR_GEN_MODES = ['eui64', 'none', 'stable_secret', 'random'];

function printAfSpec(ctx: IpContext, msg: LinkMessage): void {
  const inet6 = attrValue(msg.attrs, 'afSpec')?.find((a) => a.kind === 'inet6');
  if (!inet6 || inet6.kind !== 'inet6') return;
  const mode = inet6.value.find((a) => a.kind === 'addrGenMode');
  if (!mode || mode.kind !== 'addrGenMode') return;
  const name = ADDR_GEN_MODES[mode.value] ?? `0x${mode.value.toString(16).padStart(2, '0')}`;
  ctx.p.string('any', 'inet6_addr_gen_mode', 'addrgenmode %s ', name);
}

function printLinkType(ctx: IpContext, msg: LinkMessage): void {
  const p = ctx.p;
  const info = attrValue(msg.attrs, 'linkinfo') ?? [];
  p.openObject('linkinfo');
  const kind = info.find((a) => a.kind === 'infoKind')?.value as string | undefined;
  if (kind !== undefined) {
    p.nl();
    p.string('any', 'info_kind', '    %s ', kind);
    printLinkKindData(ctx, kind, info, false);
  }
  const slave = info.find((a) => a.kind === 'infoSlaveKind')?.value as string | undefined;
  if (slave !== undefined) {
    p.nl();
    p.string('any', 'info_slave_kind', '    %s_slave ', slave);
    printLinkKindData(ctx, slave, info, true);
  }
  p.closeObject();
}

/** check_ifname() on a name the kernel sent (ip skips links whose name it would not accept). */
function shownName(name: string | undefined, index: number): string | undefined {
  const n = name ?? `if${index}`;
  return Buffer.byteLength(n) < 16 && n !== '' && !/[/\s]/.test(n) ? n : undefined;
}

/**
 * print_linkinfo(): one link, or nothing if the filter leaves it out. Returns -1 when it is
 * filtered out, 0 for a brief line, 1 for a full entry.
 */
export function printLinkinfo(ctx: IpContext, msg: LinkMessage, f: ListFilter, doLink: boolean, deleted = false): number {
  const p = ctx.p;
  const a = msg.attrs;
  if (f.ifindex && msg.index !== f.ifindex) return -1;
  if (f.up && !(msg.flags & IFF.UP)) return -1;
  const name = shownName(attrValue(a, 'ifname'), msg.index);
  if (name === undefined) return -1;
  if (f.label !== undefined) return 0;
  const group = attrValue(a, 'group');
  if (group !== undefined && f.group !== -1 && group !== f.group) return -1;
  const master = attrValue(a, 'master');
  if (master !== undefined) {
    if (f.master > 0 && master !== f.master) return -1;
  } else if (f.master > 0) return -1;
  const info = attrValue(a, 'linkinfo');
  const kindOf = (k: 'infoKind' | 'infoSlaveKind') => ((info?.find((x) => x.kind === k) as { value?: string } | undefined)?.value) ?? '';
  if (f.kind !== undefined && (!info || kindOf('infoKind') !== f.kind)) return -1;
  if (f.slaveKind !== undefined && (!info || kindOf('infoSlaveKind') !== f.slaveKind)) return -1;
  if (deleted) p.bool('any', 'deleted', 'Deleted ', true);

  if (ctx.g.brief) {
    const mdown = printNameAndLink(ctx, '%-16s ', name, msg);
    const oper = attrValue(a, 'operstate');
    if (oper !== undefined) printOperstate(ctx, oper);
    if (f.family === AF.PACKET) {
      const addr = a.find((x) => x.kind === 'address');
      if (addr) p.string('any', 'address', '%s ', llAddrN2a(rawOf(msg, 'address'), msg.type));
      printLinkFlags(p, msg.flags, mdown);
      p.text('\n');
    }
    return 0;
  }

  p.number('any', 'ifindex', '%d: ', msg.index);
  const mdown = printNameAndLink(ctx, '%s: ', name, msg);
  printLinkFlags(p, msg.flags, mdown);
  const mtu = attrValue(a, 'mtu');
  if (mtu !== undefined) p.number('any', 'mtu', 'mtu %u ', mtu);
  const qdisc = attrValue(a, 'qdisc');
  if (qdisc !== undefined) p.string('any', 'qdisc', 'qdisc %s ', qdisc);
  if (master !== undefined) p.string('any', 'master', 'master %s ', ctx.indexToName(master));
  const oper = attrValue(a, 'operstate');
  if (oper !== undefined) printOperstate(ctx, oper);
  const mode = attrValue(a, 'linkmode');
  if (doLink && mode !== undefined) {
    if (mode >= 2) p.number('any', 'linkmode_index', 'mode %d ', mode);
    else p.string('any', 'linkmode', 'mode %s ', mode === 0 ? 'DEFAULT' : 'DORMANT');
  }
  if (group !== undefined) p.string('any', 'group', 'group %s ', groupName(group, ctx.g));
  if (f.showqueue) {
    let qlen = attrValue(a, 'txqlen');
    // Per-family link dumps (IPv6's) carry no IFLA_TXQLEN; ip asks the device (SIOCGIFTXQLEN).
    if (qlen === undefined) qlen = ctx.talk((h) => attrValue(h.linkByIndex(msg.index).message.attrs, 'txqlen'));
    if (qlen) p.number('any', 'txqlen', 'qlen %d', qlen);
  }
  const event = attrValue(a, 'event');
  if (event !== undefined) {
    const events = ['NONE', 'REBOOT', 'FEATURE CHANGE', 'BONDING FAILOVER', 'NOTIFY PEERS', 'RESEND IGMP', 'BONDING OPTION'];
    if (event >= events.length) p.number('any', 'event', 'event %d ', event);
    else if (event) p.string('any', 'event', 'event %s ', events[event]!);
  }
  if (!f.family || f.family === AF.PACKET || ctx.g.details) {
    p.nl();
    p.string('any', 'link_type', '    link/%s ', linkTypeName(msg.type, ctx.g));
    if (a.some((x) => x.kind === 'address')) p.string('any', 'address', '%s', llAddrN2a(rawOf(msg, 'address'), msg.type));
    if (a.some((x) => x.kind === 'broadcast')) {
      if (msg.flags & IFF.POINTOPOINT) {
        p.text(' peer ');
        p.bool('json', 'link_pointtopoint', null, true);
      } else {
        p.text(' brd ');
      }
      p.string('any', 'broadcast', '%s', llAddrN2a(rawOf(msg, 'broadcast'), msg.type));
    }
    if (a.some((x) => x.kind === 'permAddress')) {
      const perm = rawOf(msg, 'permAddress');
      if (!a.some((x) => x.kind === 'address') || !perm.equals(rawOf(msg, 'address'))) {
        p.text(' permaddr ');
        p.string('any', 'permaddr', '%s', llAddrN2a(perm, msg.type));
      }
    }
  }
  const nsid = attrValue(a, 'linkNetnsid');
  if (nsid !== undefined) {
    if (p.isJson) p.number('json', 'link_netnsid', null, nsid);
    else if (nsid >= 0) {
      const n = netnsNameOf(ctx, nsid);
      p.text(n !== undefined ? ` link-netns ${n}` : ` link-netnsid ${nsid}`);
    } else p.text(' link-netnsid unknown');
  }
  const newNsid = attrValue(a, 'newNetnsid');
  if (newNsid !== undefined) {
    const n = netnsNameOf(ctx, newNsid);
    p.text(n !== undefined ? ` new-netns ${n}` : ` new-netnsid ${newNsid}`);
  }
  const newIndex = attrValue(a, 'newIfindex');
  if (newIndex !== undefined) p.text(` new-ifindex ${newIndex}`);
  const protoDown = attrValue(a, 'protoDown');
  if (protoDown) p.bool('any', 'proto_down', ' protodown on ', true);

  if (ctx.g.details) {
    type NumberKind = 'promiscuity' | 'allmulti' | 'minMtu' | 'maxMtu' | 'numTxQueues' | 'numRxQueues' | 'gsoMaxSize'
      | 'gsoMaxSegs' | 'tsoMaxSize' | 'tsoMaxSegs' | 'groMaxSize';
    const u = (kind: NumberKind, key: string, fmt: string) => {
      const v = attrValue(a, kind);
      if (v !== undefined) p.number('any', key, fmt, v);
    };
    u('promiscuity', 'promiscuity', ' promiscuity %u ');
    u('allmulti', 'allmulti', ' allmulti %u ');
    u('minMtu', 'min_mtu', 'minmtu %u ');
    u('maxMtu', 'max_mtu', 'maxmtu %u ');
    if (info) printLinkType(ctx, msg);
    if (doLink && a.some((x) => x.kind === 'afSpec')) printAfSpec(ctx, msg);
    u('numTxQueues', 'num_tx_queues', 'numtxqueues %u ');
    u('numRxQueues', 'num_rx_queues', 'numrxqueues %u ');
    u('gsoMaxSize', 'gso_max_size', 'gso_max_size %u ');
    u('gsoMaxSegs', 'gso_max_segs', 'gso_max_segs %u ');
    u('tsoMaxSize', 'tso_max_size', 'tso_max_size %u ');
    u('tsoMaxSegs', 'tso_max_segs', 'tso_max_segs %u ');
    u('groMaxSize', 'gro_max_size', 'gro_max_size %u ');
    const portName = attrValue(a, 'physPortName');
    if (portName !== undefined) p.string('any', 'phys_port_name', 'portname %s ', portName);
    const portId = attrValue(a, 'physPortId');
    if (portId !== undefined) p.string('any', 'phys_port_id', 'portid %s ', portId.toString('hex'));
    const switchId = attrValue(a, 'physSwitchId');
    if (switchId !== undefined) p.string('any', 'phys_switch_id', 'switchid %s ', switchId.toString('hex'));
    const bus = attrValue(a, 'parentDevBusName');
    if (bus !== undefined) p.string('any', 'parentbus', 'parentbus %s ', bus);
    const parent = attrValue(a, 'parentDevName');
    if (parent !== undefined) p.string('any', 'parentdev', 'parentdev %s ', parent);
  }
  const alias = attrValue(a, 'ifalias');
  if ((doLink || ctx.g.details) && alias !== undefined) {
    p.text(`${p.sl}    `);
    p.string('any', 'ifalias', 'alias %s', alias);
  }
  if (doLink && ctx.g.stats) {
    p.nl();
    printLinkStats(ctx, msg);
  }
  const props = attrValue(a, 'propList');
  if (props !== undefined) {
    p.openArray('json', 'altnames');
    for (const alt of props) {
      if (alt.kind !== 'altIfname') continue;
      p.text(`${p.sl}    altname `);
      p.string('any', null, '%s', alt.value);
    }
    p.closeArray('json');
  }
  p.text('\n');
  return 1;
}

/** The raw bytes of a hardware-address attribute (ll_addr_n2a wants its length and the device type). */
function rawOf(msg: LinkMessage, kind: 'address' | 'broadcast' | 'permAddress'): Buffer {
  const v = attrValue(msg.attrs, kind);
  return v === undefined ? Buffer.alloc(0) : Buffer.from(v.split(':').map((h) => parseInt(h, 16)));
}

const FOREVER = 0xffffffff;

/** Address flags by the names ip reads and prints, in its order (ifa_flag_data[]). */
const ADDR_FLAGS: { name: string; mask: number; readonly: boolean; v6only: boolean }[] = [
  { name: 'secondary', mask: IFA_F.SECONDARY, readonly: true, v6only: false },
  { name: 'temporary', mask: IFA_F.SECONDARY, readonly: true, v6only: false },
  { name: 'nodad', mask: IFA_F.NODAD, readonly: false, v6only: true },
  { name: 'optimistic', mask: IFA_F.OPTIMISTIC, readonly: false, v6only: true },
  { name: 'dadfailed', mask: IFA_F.DADFAILED, readonly: true, v6only: true },
  { name: 'home', mask: IFA_F.HOMEADDRESS, readonly: false, v6only: true },
  { name: 'deprecated', mask: IFA_F.DEPRECATED, readonly: true, v6only: true },
  { name: 'tentative', mask: IFA_F.TENTATIVE, readonly: true, v6only: true },
  { name: 'permanent', mask: IFA_F.PERMANENT, readonly: true, v6only: true },
  { name: 'mngtmpaddr', mask: IFA_F.MANAGETEMPADDR, readonly: false, v6only: true },
  { name: 'noprefixroute', mask: IFA_F.NOPREFIXROUTE, readonly: false, v6only: false },
  { name: 'autojoin', mask: IFA_F.MCAUTOJOIN, readonly: false, v6only: false },
  { name: 'stable-privacy', mask: IFA_F.STABLE_PRIVACY, readonly: true, v6only: true },
];

function printIfaFlags(p: Printer, family: number, flagsIn: number): void {
  let flags = flagsIn;
  for (const fd of ADDR_FLAGS) {
    if (fd.mask === IFA_F.PERMANENT) {
      if (!(flags & fd.mask)) p.bool('any', 'dynamic', 'dynamic ', true);
    } else if (flags & fd.mask) {
      if (fd.mask === IFA_F.SECONDARY && family === AF.INET6) p.bool('any', 'temporary', 'temporary ', true);
      else {
        p.text(`${fd.name} `);
        p.bool('json', fd.name, null, true);
      }
    }
    flags &= ~fd.mask;
  }
  if (flags) {
    const hex = flags.toString(16).padStart(2, '0');
    if (p.isJson) p.string('json', 'ifa_flags', null, hex);
    else p.text(`flags ${hex} `);
  }
}

/** get_filter(): a flag word of `ip addr show` (permanent, -tentative, dynamic, primary...). */
function addrFlagFilter(f: ListFilter, word: string): boolean {
  let inv = false;
  let arg = word;
  if (arg.startsWith('-')) {
    inv = true;
    arg = arg.slice(1);
  }
  if (arg === 'dynamic') {
    inv = !inv;
    arg = 'permanent';
  } else if (arg === 'primary') {
    inv = !inv;
    arg = 'secondary';
  }
  const fd = ADDR_FLAGS.find((x) => x.name === arg);
  if (!fd) return false;
  if (inv) f.flags &= ~fd.mask;
  else f.flags |= fd.mask;
  f.flagmask |= fd.mask;
  return true;
}

function addrFlagsOf(m: AddrMessage): number {
  return attrValue(m.attrs, 'flags') ?? m.flags;
}

/** fnmatch(3) for `label PATTERN` (*, ? and [...]). */
function fnmatch(pattern: string, text: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let set = pattern.slice(i + 1, end);
        if (set.startsWith('!')) set = `^${set.slice(1)}`;
        re += `[${set.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`${re}$`, 's').test(text);
}

function labelMatches(ctx: IpContext, f: ListFilter, m: AddrMessage): boolean {
  if (f.label === undefined) return true;
  const label = attrValue(m.attrs, 'label') ?? ctx.indexToName(m.index);
  return fnmatch(f.label, label);
}

/** inet_addr_match_rta(): no prefix (or /0) matches everything; else the first bitlen bits are equal. */
function prefixMatches(pfx: InetPrefix | undefined, address: string | undefined): boolean {
  if (!pfx || address === undefined || pfx.family === AF.UNSPEC || pfx.bitlen <= 0) return true;
  const ip = parseIp(address);
  if (!ip || ip.bytes.length !== pfx.bytes.length) return false;
  return networkOf(ip.bytes, pfx.bitlen).equals(networkOf(pfx.bytes, pfx.bitlen));
}

/** Whether print_addrinfo() would show this address under the filter. */
function addrSelected(ctx: IpContext, f: ListFilter, m: AddrMessage): boolean {
  const local = attrValue(m.attrs, 'local') ?? attrValue(m.attrs, 'address');
  if (f.ifindex && f.ifindex !== m.index) return false;
  if (((f.scope ^ m.scope) & f.scopemask) !== 0) return false;
  if (((f.flags ^ addrFlagsOf(m)) & f.flagmask) !== 0) return false;
  if (f.family && f.family !== m.family) return false;
  if (!labelMatches(ctx, f, m)) return false;
  return prefixMatches(f.pfx, local);
}

/** print_addrinfo(): one address line (or its JSON object), with lifetimes on the next line. */
export function printAddrinfo(ctx: IpContext, m: AddrMessage, f: ListFilter, deleted = false): void {
  const p = ctx.p;
  if (!addrSelected(ctx, f, m)) return;
  const a = m.attrs;
  const flags = addrFlagsOf(m);
  const local = attrValue(a, 'local') ?? attrValue(a, 'address');
  const address = attrValue(a, 'address') ?? local;
  if (deleted) p.bool('any', 'deleted', 'Deleted ', true);
  if (!ctx.g.brief) {
    if (f.oneline || f.flushing || ctx.g.echo) {
      const dev = ctx.indexToName(m.index);
      if (p.isJson) {
        p.number('json', 'index', null, m.index);
        p.string('json', 'dev', null, dev);
      } else p.text(`${m.index}: ${dev}`);
    }
    const fam = familyName(m.family);
    if (fam !== '???') p.string('any', 'family', '    %s ', fam);
    else p.number('any', 'family_index', '    family %d ', m.family);
  }
  if (local !== undefined) {
    p.string('any', 'local', '%s', local);
    if (address !== undefined && address !== local) {
      p.text(' peer ');
      p.string('any', 'address', '%s', address);
    }
    p.number('any', 'prefixlen', '/%d ', m.prefixlen);
    const metric = attrValue(a, 'rtPriority');
    if (metric !== undefined) p.number('any', 'metric', 'metric %u ', metric);
  }
  if (ctx.g.brief) return;
  const brd = attrValue(a, 'broadcast');
  if (brd !== undefined) {
    p.text('brd ');
    p.string('any', 'broadcast', '%s ', brd);
  }
  const any = attrValue(a, 'anycast');
  if (any !== undefined) {
    p.text('any ');
    p.string('any', 'anycast', '%s ', any);
  }
  p.string('any', 'scope', 'scope %s ', scopeName(m.scope, ctx.g));
  printIfaFlags(p, m.family, flags);
  const label = attrValue(a, 'label');
  if (label !== undefined) p.string('any', 'label', '%s', label);
  const ci = attrValue(a, 'cacheinfo');
  if (ci) {
    p.nl();
    p.text('       valid_lft ');
    if (ci.valid === FOREVER) {
      p.number('json', 'valid_life_time', null, FOREVER);
      p.text('forever');
    } else p.number('any', 'valid_life_time', '%usec', ci.valid);
    p.text(' preferred_lft ');
    if (ci.preferred === FOREVER) {
      p.number('json', 'preferred_life_time', null, FOREVER);
      p.text('forever');
    } else if (flags & IFA_F.DEPRECATED) {
      p.number('any', 'preferred_life_time', '%dsec', ci.preferred | 0);
    } else p.number('any', 'preferred_life_time', '%usec', ci.preferred);
  }
  p.text('\n');
}

function printSelectedAddrinfo(ctx: IpContext, link: LinkMessage, addrs: readonly AddrMessage[], f: ListFilter): void {
  const p = ctx.p;
  p.openArray('json', 'addr_info');
  for (const m of addrs) {
    if (m.index !== link.index || (f.family && f.family !== m.family)) continue;
    if (f.up && !(link.flags & IFF.UP)) continue;
    p.openObject();
    printAddrinfo(ctx, m, f);
    p.closeObject();
  }
  p.closeArray('json');
  if (ctx.g.brief) p.text('\n');
}

/** ipaddr_filter(): with a family or address filters, links without a matching address go. */
function linksWithAddresses(links: readonly LinkMessage[], addrs: readonly AddrMessage[], f: ListFilter, ctx: IpContext): LinkMessage[] {
  return links.filter((l) => {
    let missing = true;
    for (const m of addrs) {
      if (m.index !== l.index) continue;
      missing = false;
      if (f.family && f.family !== m.family) continue;
      if (((f.scope ^ m.scope) & f.scopemask) !== 0) continue;
      if (((f.flags ^ addrFlagsOf(m)) & f.flagmask) !== 0) continue;
      if (!labelMatches(ctx, f, m)) continue;
      if (!prefixMatches(f.pfx, attrValue(m.attrs, 'local') ?? attrValue(m.attrs, 'address'))) continue;
      return true;
    }
    return missing && (f.family === AF.UNSPEC || f.family === AF.PACKET);
  });
}

/**
 * The words of `ip addr show|flush` and `ip link show` (ipaddr_list_flush_or_save()).
 * @returns the filter and the device named, if any.
 */
function parseListArgs(ctx: IpContext, w: Words, f: ListFilter, usage: () => never): string | undefined {
  let dev: string | undefined;
  for (; !w.done; w.skip()) {
    const word = w.cur;
    if (word === 'to') {
      const v = w.next();
      f.pfx = getPrefix(v, f.family);
      if (f.family === AF.UNSPEC) f.family = f.pfx.family;
    } else if (word === 'scope') {
      ({ scope: f.scope, mask: f.scopemask } = scopeSelector(w.next()));
    } else if (word === 'up') {
      f.up = true;
    } else if (addrFlagFilter(f, word)) {
      // a flag filter
    } else if (word === 'label') {
      f.label = w.next();
    } else if (word === 'group') {
      const g = w.nextAs(groupId, 'Invalid "group" value\n');
      f.group = g;
    } else if (word === 'master') {
      const v = w.next();
      const index = ctx.nameToIndex(v);
      if (!index) invarg('Device does not exist\n', v);
      f.master = index;
    } else if (word === 'vrf') {
      const v = w.next();
      invarg('Not a valid VRF name\n', v);
    } else if (word === 'nomaster') {
      f.master = -1;
    } else if (word === 'type') {
      const v = w.next();
      if (v.length > 6 && v.endsWith('_slave')) f.slaveKind = v.slice(0, -6);
      else if (v === '_slave') f.slaveKind = '';
      else f.kind = v;
    } else {
      let d = word;
      if (word === 'dev') d = w.next();
      else if (matches(word, 'help')) usage();
      if (dev !== undefined) duparg2('dev', d);
      dev = d;
    }
  }
  return dev;
}

/**
 * `ip link show` and `ip addr show`: the links (one by GETLINK when only a device is named,
 * as ip asks), then, unless listing links only, their addresses.
 */
export function listLinksAndAddresses(ctx: IpContext, words: readonly string[], doLink: boolean, usage: () => never): number {
  const p = ctx.p;
  const f = newFilter(ctx);
  if (doLink) f.family = AF.PACKET;
  const dev = parseListArgs(ctx, new Words(words), f, usage);
  if (dev !== undefined) {
    f.ifindex = ctx.nameToIndex(dev);
    if (f.ifindex <= 0) throw new IpExit(1, `Device "${dev}" does not exist.\n`);
  }
  p.newJsonObj();
  if (dev !== undefined && f.group === -1 && doLink) {
    // iplink_get(): the one link, asked by name (its alternative name for a long one).
    let link: Link;
    try {
      link = ctx.rtnl.linkByName(dev, { stats: true });
    } catch (e) {
      // rtnl_talk() has said why; ip then perror()s and exits 1.
      if (!isKernelError(e)) throw e;
      throw new IpExit(1, `${kernelMessage(e)}Cannot send link get request: ${strerror(-e.errno)}\n`, true);
    }
    ctx.remember(link);
    p.openObject();
    printLinkinfo(ctx, link.message, f, doLink);
    p.closeObject();
    p.deleteJsonObj();
    return 0;
  }
  let links: LinkMessage[];
  if (f.ifindex) {
    links = [ctx.talk((h) => h.linkByIndex(f.ifindex, { stats: ctx.g.stats > 0 })).message];
  } else {
    links = ctx.talk((h) => h.linkList({
      family: f.family, stats: true,
      ...(f.master ? { master: f.master >>> 0 } : {}), ...(f.kind !== undefined ? { kind: f.kind } : {}),
    })).map((l) => l.message);
  }
  for (const l of links) ctx.remember(toLink(l));
  let addrs: AddrMessage[] = [];
  let noLink = false;
  if (f.family !== AF.PACKET) {
    if (f.oneline) noLink = true;
    addrs = ctx.talk((h) => h.addrList({ ...(f.family ? { family: f.family } : {}), ...(f.ifindex ? { link: f.ifindex } : {}) })).map((x) => x.message);
    links = linksWithAddresses(links, addrs, f, ctx);
  }
  for (const l of links) {
    p.openObject();
    let res = 0;
    if (ctx.g.brief || !noLink) res = printLinkinfo(ctx, l, f, doLink);
    if (res >= 0 && f.family !== AF.PACKET) printSelectedAddrinfo(ctx, l, addrs, f);
    if (res > 0 && !doLink && ctx.g.stats) {
      printLinkStats(ctx, l);
      p.nl();
    }
    p.closeObject();
  }
  p.deleteJsonObj();
  return 0;
}

/** `ip addr flush ...`: delete what the filter selects, round after round (ipaddr_flush()). */
function flushAddresses(ctx: IpContext, words: readonly string[], usage: () => never): number {
  const f = newFilter(ctx);
  if (words.length === 0) throw new IpExit(1, 'Flush requires arguments.\n');
  if (f.family === AF.PACKET) throw new IpExit(1, 'Cannot flush link addresses.\n');
  f.flushing = true;
  const dev = parseListArgs(ctx, new Words(words), f, usage);
  if (dev !== undefined) {
    f.ifindex = ctx.nameToIndex(dev);
    if (f.ifindex <= 0) throw new IpExit(1, `Device "${dev}" does not exist.\n`);
  }
  const p = ctx.p;
  const loops = ctx.g.loops;
  for (let round = 0; loops === 0 || round < loops; round++) {
    const victims = ctx.talk((h) => h.addrList({ ...(f.family ? { family: f.family } : {}), ...(f.ifindex ? { link: f.ifindex } : {}) }))
      .map((x) => x.message).filter((m) => addrSelected(ctx, f, m));
    if (ctx.g.stats > 1) for (const m of victims) printAddrinfo(ctx, m, f);
    if (victims.length === 0) {
      if (ctx.g.stats) p.text(round === 0 ? 'Nothing to flush.\n' : `*** Flush is complete after ${round} round${round > 1 ? 's' : ''} ***\n`);
      return 0;
    }
    for (const m of victims) {
      try {
        ctx.rtnl.socket.request({ type: RTM.DELADDR, flags: 0, kind: 'addr', body: m }, 'ip addr flush');
      } catch (e) {
        // Deleting a primary can take its secondaries with it (ipaddress.c flush_update()).
        if ((e as { code?: string }).code !== 'EADDRNOTAVAIL') {
          throw new IpExit(1, `Failed to send flush request: ${(e as Error).message}\n`);
        }
      }
    }
    if (ctx.g.stats) p.text(`\n*** Round ${round + 1}, deleting ${victims.length} addresses ***\n`);
    // "flush ... primary": one round only, or the promoted secondaries would go too.
    if (!(f.flags & IFA_F.SECONDARY) && (f.flagmask & IFA_F.SECONDARY)) {
      if (ctx.g.stats) p.text(`*** Flush is complete after ${round + 1} round${round + 1 > 1 ? 's' : ''} ***\n`);
      return 0;
    }
  }
  throw new IpExit(1, `*** Flush remains incomplete after ${loops} rounds. ***\n`);
}

function defaultScope(lcl: InetPrefix | undefined): number {
  return lcl && lcl.family === AF.INET && lcl.bytes[0] === 127 ? RT_SCOPE.HOST : 0;
}

function isMulticast(a: InetPrefix): boolean {
  return a.family === AF.INET ? (a.bytes[0]! & 0xf0) === 0xe0 : a.family === AF.INET6 ? a.bytes[0] === 0xff : false;
}

/** `ip addr add|change|replace|del ...` (ipaddr_modify()): one request built as ip builds it. */
function modifyAddress(ctx: IpContext, cmd: number, nlFlags: number, words: readonly string[], usage: () => never): number {
  const w = new Words(words);
  let family = ctx.g.family;
  let prefixlen = 0;
  let scope = 0;
  let scoped = false;
  let dev: string | undefined;
  let lcl: InetPrefix | undefined;
  let lclArg = '';
  let peer: InetPrefix | undefined;
  let brd: 'set' | 'clear' | undefined;
  let brdGiven = false;
  let anyGiven = false;
  let validLft: string | undefined;
  let preferredLft: string | undefined;
  let valid = FOREVER;
  let preferred = FOREVER;
  let ifaFlags = 0;
  const attrs: AddrMessage['attrs'][number][] = [];
  const lifetime = (v: string, what: string): number => {
    if (v === 'forever') return FOREVER;
    const n = getUnsigned(v);
    if (n === undefined) invarg(`${what} value`, v);
    return n;
  };
  for (; !w.done; w.skip()) {
    const word = w.cur;
    if (word === 'peer' || word === 'remote') {
      const v = w.next();
      if (peer) duparg('peer', v);
      peer = getPrefix(v, family);
      if (family === AF.UNSPEC) family = peer.family;
      attrs.push({ kind: 'address', value: prefixAddress(peer) });
      prefixlen = peer.bitlen;
    } else if (matches(word, 'broadcast') || word === 'brd') {
      const v = w.next();
      if (brdGiven || brd) duparg('broadcast', v);
      if (v === '+') brd = 'set';
      else if (v === '-') brd = 'clear';
      else {
        const addr = getAddr(v, family);
        if (family === AF.UNSPEC) family = addr.family;
        attrs.push({ kind: 'broadcast', value: prefixAddress(addr) });
        brdGiven = true;
      }
    } else if (word === 'anycast') {
      const v = w.next();
      if (anyGiven) duparg('anycast', v);
      const addr = getAddr(v, family);
      if (family === AF.UNSPEC) family = addr.family;
      attrs.push({ kind: 'anycast', value: prefixAddress(addr) });
      anyGiven = true;
    } else if (word === 'scope') {
      const s = w.nextAs(scopeId, 'invalid scope value.');
      scope = s;
      scoped = true;
    } else if (word === 'dev') {
      dev = w.next();
    } else if (word === 'label') {
      attrs.push({ kind: 'label', value: w.next() });
    } else if (matches(word, 'metric') || matches(word, 'priority') || matches(word, 'preference')) {
      const metric = w.nextAs(getUnsigned, '"metric" value is invalid\n');
      attrs.push({ kind: 'rtPriority', value: metric });
    } else if (matches(word, 'valid_lft')) {
      if (validLft !== undefined) duparg('valid_lft', word);
      validLft = w.next();
      valid = lifetime(validLft, 'valid_lft');
    } else if (matches(word, 'preferred_lft')) {
      if (preferredLft !== undefined) duparg('preferred_lft', word);
      preferredLft = w.next();
      preferred = lifetime(preferredLft, 'preferred_lft');
    } else if (ADDR_FLAGS.some((x) => x.name === word)) {
      const fd = ADDR_FLAGS.find((x) => x.name === word)!;
      if (fd.readonly) ctx.warn(`Warning: ${fd.name} option is not mutable from userspace\n`);
      else if (fd.v6only && family !== AF.INET6) ctx.warn(`Warning: ${fd.name} option can be set only for IPv6 addresses\n`);
      else ifaFlags |= fd.mask;
    } else {
      let v = word;
      if (word === 'local') v = w.next();
      if (matches(v, 'help')) usage();
      if (lcl) duparg2('local', v);
      lclArg = v;
      lcl = getPrefix(v, family);
      if (family === AF.UNSPEC) family = lcl.family;
      attrs.push({ kind: 'local', value: prefixAddress(lcl) });
    }
  }
  if (ifaFlags > 0xff) attrs.push({ kind: 'flags', value: ifaFlags });
  if (dev === undefined) throw new IpExit(1, 'Not enough information: "dev" argument is required.\n');
  if (!peer && lcl) {
    if (cmd === RTM.DELADDR && lcl.family === AF.INET && !lcl.prefixlenSpecified) {
      ctx.warn(`Warning: Executing wildcard deletion to stay compatible with old scripts.\n`
        + `         Explicitly specify the prefix length (${lclArg}/${lcl.bytes.length * 8}) to avoid this warning.\n`
        + '         This special behaviour is likely to disappear in further releases,\n'
        + '         fix your scripts!\n');
    } else {
      peer = lcl;
      attrs.push({ kind: 'address', value: prefixAddress(lcl) });
    }
  }
  if (prefixlen === 0) prefixlen = Math.max(lcl?.bitlen ?? 0, 0);
  if (brd && cmd !== RTM.DELADDR) {
    if (family !== AF.INET) throw new IpExit(1, 'Broadcast can be set only for IPv4 addresses\n');
    const base = peer ?? lcl;
    if (base && base.bitlen <= 30) {
      const b = Buffer.from(base.bytes);
      for (let bit = Math.max(base.bitlen, 0); bit < 32; bit++) {
        if (brd === 'set') b[bit >> 3]! |= 0x80 >> (bit & 7);
        else b[bit >> 3]! &= ~(0x80 >> (bit & 7));
      }
      attrs.push({ kind: 'broadcast', value: formatIp(b) });
    }
  }
  if (!scoped && cmd !== RTM.DELADDR) scope = defaultScope(lcl);
  const index = ctx.nameToIndex(dev);
  if (!index) nodev(dev);
  if (validLft !== undefined || preferredLft !== undefined) {
    if (!valid) throw new IpExit(1, 'valid_lft is zero\n');
    if (valid < preferred) throw new IpExit(1, 'preferred_lft is greater than valid_lft\n');
    attrs.push({ kind: 'cacheinfo', value: { preferred, valid, cstamp: 0, tstamp: 0 } });
  }
  if ((ifaFlags & IFA_F.MCAUTOJOIN) && !(lcl && isMulticast(lcl))) throw new IpExit(1, 'autojoin needs multicast address\n');
  const body: AddrMessage = { family, prefixlen, flags: ifaFlags <= 0xff ? ifaFlags : 0, scope, index, attrs };
  ctx.talk((h) => h.socket.request({ type: cmd, flags: nlFlags, kind: 'addr', body }, `ip addr ${cmd === RTM.DELADDR ? 'del' : 'add'}`));
  return 0;
}

const ADDR_USAGE = `Usage: ip address {add|change|replace} IFADDR dev IFNAME [ LIFETIME ]
                                                      [ CONFFLAG-LIST ]
       ip address del IFADDR dev IFNAME [mngtmpaddr]
       ip address {save|flush} [ dev IFNAME ] [ scope SCOPE-ID ]
                            [ to PREFIX ] [ FLAG-LIST ] [ label LABEL ] [up]
       ip address [ show [ dev IFNAME ] [ scope SCOPE-ID ] [ master DEVICE ]
                         [ nomaster ]
                         [ type TYPE ] [ to PREFIX ] [ FLAG-LIST ]
                         [ label LABEL ] [up] [ vrf NAME ] ]
       ip address {showdump|restore}
IFADDR := PREFIX | ADDR peer PREFIX
          [ broadcast ADDR ] [ anycast ADDR ]
          [ label IFNAME ] [ scope SCOPE-ID ] [ metric METRIC ]
SCOPE-ID := [ host | link | global | NUMBER ]
FLAG-LIST := [ FLAG-LIST ] FLAG
FLAG  := [ permanent | dynamic | secondary | primary |
           [-]tentative | [-]deprecated | [-]dadfailed | temporary |
           CONFFLAG-LIST ]
CONFFLAG-LIST := [ CONFFLAG-LIST ] CONFFLAG
CONFFLAG  := [ home | nodad | mngtmpaddr | noprefixroute | autojoin ]
LIFETIME := [ valid_lft LFT ] [ preferred_lft LFT ]
LFT := forever | SECONDS
`;

export const LINK_TYPES_USAGE = `TYPE := { amt | bareudp | bond | bond_slave | bridge | bridge_slave |
          dsa | dummy | erspan | geneve | gre | gretap | gtp | ifb |
          ip6erspan | ip6gre | ip6gretap | ip6tnl |
          ipip | ipoib | ipvlan | ipvtap |
          macsec | macvlan | macvtap |
          netdevsim | nlmon | rmnet | sit | team | team_slave |
          vcan | veth | vlan | vrf | vti | vxcan | vxlan | wwan |
          xfrm | virt_wifi }
`;

function addrUsage(): never {
  throw new IpExit(255, ADDR_USAGE + LINK_TYPES_USAGE);
}

/** do_ipaddr(): `ip address [add|change|replace|delete|show|flush] ...`. */
export function doIpaddr(ctx: IpContext, words: readonly string[]): number {
  const [cmd, ...rest] = words;
  if (cmd === undefined) return listLinksAndAddresses(ctx, [], false, addrUsage);
  if (matches(cmd, 'add')) return modifyAddress(ctx, RTM.NEWADDR, NLM_F.CREATE | NLM_F.EXCL, rest, addrUsage);
  if (matches(cmd, 'change') || cmd === 'chg') return modifyAddress(ctx, RTM.NEWADDR, NLM_F.REPLACE, rest, addrUsage);
  if (matches(cmd, 'replace')) return modifyAddress(ctx, RTM.NEWADDR, NLM_F.CREATE | NLM_F.REPLACE, rest, addrUsage);
  if (matches(cmd, 'delete')) return modifyAddress(ctx, RTM.DELADDR, 0, rest, addrUsage);
  if (matches(cmd, 'list') || matches(cmd, 'show') || matches(cmd, 'lst')) return listLinksAndAddresses(ctx, rest, false, addrUsage);
  if (matches(cmd, 'flush')) return flushAddresses(ctx, rest, addrUsage);
  if (matches(cmd, 'save') || matches(cmd, 'showdump') || matches(cmd, 'restore')) {
    throw new IpExit(1, `ns-net: "ip address ${cmd}" is not supported\n`);
  }
  if (matches(cmd, 'help')) addrUsage();
  throw new IpExit(255, `Command "${cmd}" is unknown, try "ip address help".\n`);
}

export type { Address, Link };
export { toAddress };
