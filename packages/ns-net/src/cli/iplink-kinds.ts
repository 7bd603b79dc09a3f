/**
 * What `ip -d link` prints for the kinds ns-net speaks: a bridge's and a bridge port's
 * attributes, a macvlan's mode (ip/iplink_bridge.c, iplink_bridge_slave.c, iplink_macvlan.c).
 * veth has no such printer in ip, so none here. Kinds ns-net does not know print nothing
 * beyond their name.
 */
import { MACVLAN_FLAG, MACVLAN_MODE } from '../codec/constants';
import type { BridgeAttr, BridgePortAttr, LinkInfoAttr, MacvlanAttr } from '../codec/link';
import type { IpContext } from './context';
import { ethertypeName } from './names';
import type { Printer } from './printer';

/** The kinds whose IFLA_INFO_DATA / IFLA_INFO_SLAVE_DATA ip prints (those with a print_opt). */
const PRINTED_KINDS = new Set(['bridge', 'macvlan', 'macvtap']);
const PRINTED_SLAVE_KINDS = new Set(['bridge']);

/** print_linktype()'s inner part: the "info_data" (or "info_slave_data") object of one kind. */
export function printLinkKindData(ctx: IpContext, kind: string, info: readonly LinkInfoAttr[], slave: boolean): void {
  const p = ctx.p;
  if (!(slave ? PRINTED_SLAVE_KINDS : PRINTED_KINDS).has(kind)) return;
  p.openObject(slave ? 'info_slave_data' : 'info_data');
  if (slave) {
    const data = info.find((a) => a.kind === 'bridgePortData');
    if (data?.kind === 'bridgePortData') printBridgePort(ctx, data.value);
  } else if (kind === 'bridge') {
    const data = info.find((a) => a.kind === 'bridgeData');
    if (data?.kind === 'bridgeData') printBridge(p, data.value);
  } else {
    const data = info.find((a) => a.kind === 'macvlanData');
    if (data?.kind === 'macvlanData') printMacvlan(p, data.value);
  }
  p.closeObject();
}

type Valued<A> = A extends { kind: infer K; value: infer V } ? K extends 'other' ? never : [K, V] : never;

function getter<A extends { kind: string }>(attrs: readonly A[]) {
  return <K extends Valued<A>[0]>(kind: K): Extract<Valued<A>, [K, unknown]>[1] | undefined => {
    const found = attrs.find((a) => a.kind === kind) as { value?: unknown } | undefined;
    return found?.value as never;
  };
}

/** br_dump_bridge_id(): "8000.0:11:22:33:44:55" (ether_ntoa(3) leaves out leading zeros). */
function bridgeId(id: Buffer): string {
  const prio = id.subarray(0, 2).toString('hex');
  const mac = [...id.subarray(2, 8)].map((b) => b.toString(16)).join(':');
  return `${prio}.${mac}`;
}

/** A timer in centiseconds, as "   1.50 " (text) or 1.50 (a JSON number written as is). */
function printTimer(p: Printer, name: string, centis: bigint): void {
  const sec = centis / 100n;
  const frac = (centis % 100n).toString().padStart(2, '0');
  if (p.isJson) p.jsonRaw(name, `${sec}.${frac}`);
  else p.text(`${name} ${sec.toString().padStart(4)}.${frac} `);
}

/**
 * How one attribute is printed: a number (%u/%d/%llu), on/off, 0x-hex, a timer, a bridge id,
 * a string, or a special case of its own. Tables in ip's order (bridge_print_opt(),
 * bridge_slave_print_opt()), so that both text and JSON come out in that order.
 */
type Field<K extends string> = readonly [kind: K, key: string, fmt: string, style: 'num' | 'onoff' | 'hex' | 'timer' | 'id' | 'str'];

function printFields<A extends { kind: string }>(p: Printer, attrs: readonly A[], fields: readonly Field<string>[],
                                                  special: Record<string, () => void> = {}): void {
  for (const [kind, key, fmt, style] of fields) {
    if (Object.hasOwn(special, kind)) {
      special[kind]!();
      continue;
    }
    const v = (attrs.find((a) => a.kind === kind) as { value?: unknown } | undefined)?.value;
    if (v === undefined) continue;
    switch (style) {
      case 'num': p.number('any', key, fmt, v as number | bigint); break;
      case 'onoff': p.onOff('any', key, fmt, Boolean(v)); break;
      case 'hex': p.hex0x('any', key, fmt, v as number); break;
      case 'timer': printTimer(p, key, v as bigint); break;
      case 'id': p.string('any', key, fmt, bridgeId(v as Buffer)); break;
      case 'str': p.string('any', key, fmt, String(v)); break;
    }
  }
}

const BRIDGE_FIELDS: readonly Field<BridgeAttr['kind'] | 'rootIdQuirk' | 'multiBoolopt'>[] = [
  ['forwardDelay', 'forward_delay', 'forward_delay %u ', 'num'], ['helloTime', 'hello_time', 'hello_time %u ', 'num'],
  ['maxAge', 'max_age', 'max_age %u ', 'num'], ['ageingTime', 'ageing_time', 'ageing_time %u ', 'num'],
  ['stpState', 'stp_state', 'stp_state %u ', 'num'], ['priority', 'priority', 'priority %u ', 'num'],
  ['vlanFiltering', 'vlan_filtering', 'vlan_filtering %u ', 'num'], ['vlanProtocol', 'vlan_protocol', 'vlan_protocol %s ', 'str'],
  ['bridgeId', 'bridge_id', 'bridge_id %s ', 'id'], ['rootIdQuirk', 'root_id', 'designated_root %s ', 'id'],
  ['rootPort', 'root_port', 'root_port %u ', 'num'], ['rootPathCost', 'root_path_cost', 'root_path_cost %u ', 'num'],
  ['topologyChange', 'topology_change', 'topology_change %u ', 'num'],
  ['topologyChangeDetected', 'topology_change_detected', 'topology_change_detected %u ', 'num'],
  ['helloTimer', 'hello_timer', '', 'timer'], ['tcnTimer', 'tcn_timer', '', 'timer'],
  ['topologyChangeTimer', 'topology_change_timer', '', 'timer'], ['gcTimer', 'gc_timer', '', 'timer'],
  ['vlanDefaultPvid', 'vlan_default_pvid', 'vlan_default_pvid %u ', 'num'],
  ['vlanStatsEnabled', 'vlan_stats_enabled', 'vlan_stats_enabled %u ', 'num'],
  ['vlanStatsPerPort', 'vlan_stats_per_port', 'vlan_stats_per_port %u ', 'num'],
  ['groupFwdMask', 'group_fwd_mask', 'group_fwd_mask %#llx ', 'hex'], ['groupAddr', 'group_addr', 'group_address %s ', 'str'],
  ['mcastSnooping', 'mcast_snooping', 'mcast_snooping %u ', 'num'], ['multiBoolopt', '', '', 'num'],
  ['mcastRouter', 'mcast_router', 'mcast_router %u ', 'num'],
  ['mcastQueryUseIfaddr', 'mcast_query_use_ifaddr', 'mcast_query_use_ifaddr %u ', 'num'],
  ['mcastQuerier', 'mcast_querier', 'mcast_querier %u ', 'num'],
  ['mcastHashElasticity', 'mcast_hash_elasticity', 'mcast_hash_elasticity %u ', 'num'],
  ['mcastHashMax', 'mcast_hash_max', 'mcast_hash_max %u ', 'num'],
  ['mcastLastMemberCnt', 'mcast_last_member_cnt', 'mcast_last_member_count %u ', 'num'],
  ['mcastStartupQueryCnt', 'mcast_startup_query_cnt', 'mcast_startup_query_count %u ', 'num'],
  ['mcastLastMemberIntvl', 'mcast_last_member_intvl', 'mcast_last_member_interval %llu ', 'num'],
  ['mcastMembershipIntvl', 'mcast_membership_intvl', 'mcast_membership_interval %llu ', 'num'],
  ['mcastQuerierIntvl', 'mcast_querier_intvl', 'mcast_querier_interval %llu ', 'num'],
  ['mcastQueryIntvl', 'mcast_query_intvl', 'mcast_query_interval %llu ', 'num'],
  ['mcastQueryResponseIntvl', 'mcast_query_response_intvl', 'mcast_query_response_interval %llu ', 'num'],
  ['mcastStartupQueryIntvl', 'mcast_startup_query_intvl', 'mcast_startup_query_interval %llu ', 'num'],
  ['mcastStatsEnabled', 'mcast_stats_enabled', 'mcast_stats_enabled %u ', 'num'],
  ['mcastIgmpVersion', 'mcast_igmp_version', 'mcast_igmp_version %u ', 'num'],
  ['mcastMldVersion', 'mcast_mld_version', 'mcast_mld_version %u ', 'num'],
  ['nfCallIptables', 'nf_call_iptables', 'nf_call_iptables %u ', 'num'],
  ['nfCallIp6tables', 'nf_call_ip6tables', 'nf_call_ip6tables %u ', 'num'],
  ['nfCallArptables', 'nf_call_arptables', 'nf_call_arptables %u ', 'num'],
];

function printBridge(p: Printer, attrs: readonly BridgeAttr[]): void {
  const get = getter(attrs);
  const id = get('bridgeId');
  printFields(p, attrs, BRIDGE_FIELDS, {
    vlanProtocol: () => {
      const proto = get('vlanProtocol');
      if (proto !== undefined) p.string('any', 'vlan_protocol', 'vlan_protocol %s ', ethertypeName(proto));
    },
    // ip 6.1 prints the bridge's own id as the designated root (iplink_bridge.c reads
    // IFLA_BR_BRIDGE_ID there): the same bytes are printed here.
    rootIdQuirk: () => {
      if (get('rootId') !== undefined && id !== undefined) p.string('any', 'root_id', 'designated_root %s ', bridgeId(id));
    },
    multiBoolopt: () => {
      const bm = get('multiBoolopt');
      if (bm === undefined) return;
      // BR_BOOLOPT_NO_LL_LEARN is bit 0, BR_BOOLOPT_MCAST_VLAN_SNOOPING bit 1.
      if (bm.optmask & 1) p.number('any', 'no_linklocal_learn', 'no_linklocal_learn %u ', bm.optval & 1 ? 1 : 0);
      if (bm.optmask & 2) p.number('any', 'mcast_vlan_snooping', 'mcast_vlan_snooping %u ', bm.optval & 2 ? 1 : 0);
    },
  });
}

const PORT_STATES = ['disabled', 'listening', 'learning', 'forwarding', 'blocking'];
/** The group_fwd_mask bits ip names (iplink_bridge_slave.c). */
const FWD_MASK_NAMES: Record<number, string> = { 0: 'stp', 2: 'lacp', 14: 'lldp' };

function fwdMaskString(mask: number): string {
  const parts: string[] = [];
  for (let i = 0, m = mask; m; i++, m >>= 1) {
    if (m & 1) parts.push(FWD_MASK_NAMES[i] ?? `0x${(1 << i).toString(16)}`);
  }
  return parts.length ? parts.join(',') : '0x0';
}

const BRIDGE_PORT_FIELDS: readonly Field<BridgePortAttr['kind'] | 'mcastFastLeave' | 'groupFwdMaskStr'>[] = [
  ['state', 'state', 'state %s ', 'str'], ['priority', 'priority', 'priority %d ', 'num'], ['cost', 'cost', 'cost %d ', 'num'],
  ['mode', 'hairpin', 'hairpin %s ', 'onoff'], ['guard', 'guard', 'guard %s ', 'onoff'],
  ['protect', 'root_block', 'root_block %s ', 'onoff'], ['fastLeave', 'fastleave', 'fastleave %s ', 'onoff'],
  ['learning', 'learning', 'learning %s ', 'onoff'], ['unicastFlood', 'flood', 'flood %s ', 'onoff'],
  ['id', 'id', 'port_id %#llx ', 'hex'], ['no', 'no', 'port_no %#llx ', 'hex'],
  ['designatedPort', 'designated_port', 'designated_port %u ', 'num'],
  ['designatedCost', 'designated_cost', 'designated_cost %u ', 'num'],
  ['bridgeId', 'bridge_id', 'designated_bridge %s ', 'id'], ['rootId', 'root_id', 'designated_root %s ', 'id'],
  ['holdTimer', 'hold_timer', '', 'timer'], ['messageAgeTimer', 'message_age_timer', '', 'timer'],
  ['forwardDelayTimer', 'forward_delay_timer', '', 'timer'],
  ['topologyChangeAck', 'topology_change_ack', 'topology_change_ack %u ', 'num'],
  ['configPending', 'config_pending', 'config_pending %u ', 'num'],
  ['proxyarp', 'proxy_arp', 'proxy_arp %s ', 'onoff'], ['proxyarpWifi', 'proxy_arp_wifi', 'proxy_arp_wifi %s ', 'onoff'],
  ['multicastRouter', 'multicast_router', 'mcast_router %u ', 'num'], ['mcastFastLeave', '', '', 'str'],
  ['mcastFlood', 'mcast_flood', 'mcast_flood %s ', 'onoff'], ['bcastFlood', 'bcast_flood', 'bcast_flood %s ', 'onoff'],
  ['mcastToUcast', 'mcast_to_unicast', 'mcast_to_unicast %s ', 'onoff'],
  ['neighSuppress', 'neigh_suppress', 'neigh_suppress %s ', 'onoff'],
  ['groupFwdMask', 'group_fwd_mask', 'group_fwd_mask %#llx ', 'hex'], ['groupFwdMaskStr', '', '', 'str'],
  ['vlanTunnel', 'vlan_tunnel', 'vlan_tunnel %s ', 'onoff'], ['isolated', 'isolated', 'isolated %s ', 'onoff'],
  ['locked', 'locked', 'locked %s ', 'onoff'], ['backupPort', 'backup_port', 'backup_port %s ', 'str'],
];

function printBridgePort(ctx: IpContext, attrs: readonly BridgePortAttr[]): void {
  const p = ctx.p;
  const get = getter(attrs);
  printFields(p, attrs, BRIDGE_PORT_FIELDS, {
    state: () => {
      const state = get('state');
      if (state === undefined) return;
      if (state < PORT_STATES.length) p.string('any', 'state', 'state %s ', PORT_STATES[state]!);
      else p.number('any', 'state_index', 'state (%d) ', state);
    },
    // ip prints fast leave twice in text, once in JSON (as "fastleave" above).
    mcastFastLeave: () => {
      const v = get('fastLeave');
      if (v !== undefined) p.text(`mcast_fast_leave ${v ? 'on' : 'off'} `);
    },
    groupFwdMaskStr: () => {
      const fwd = get('groupFwdMask');
      if (fwd !== undefined) p.string('any', 'group_fwd_mask_str', 'group_fwd_mask_str %s ', fwdMaskString(fwd));
    },
    backupPort: () => {
      const backup = get('backupPort');
      if (backup !== undefined) p.string('any', 'backup_port', 'backup_port %s ', ctx.indexToName(backup));
    },
  });
}

const MACVLAN_MODE_NAMES: Record<number, string> = {
  [MACVLAN_MODE.PRIVATE]: 'private', [MACVLAN_MODE.VEPA]: 'vepa', [MACVLAN_MODE.BRIDGE]: 'bridge',
  [MACVLAN_MODE.PASSTHRU]: 'passthru', [MACVLAN_MODE.SOURCE]: 'source',
};

function printMacvlan(p: Printer, attrs: readonly MacvlanAttr[]): void {
  const get = getter(attrs);
  const mode = get('mode');
  if (mode === undefined) return;
  p.string('any', 'mode', 'mode %s ', MACVLAN_MODE_NAMES[mode] ?? 'unknown');
  const flags = get('flags') ?? 0;
  if (flags & MACVLAN_FLAG.NOPROMISC) p.bool('any', 'nopromisc', 'nopromisc ', true);
  if (flags & MACVLAN_FLAG.NODST) p.bool('any', 'nodst', 'nodst ', true);
  const bcq = get('bcQueueLen');
  if (bcq !== undefined) p.number('any', 'bcqueuelen', 'bcqueuelen %lu ', bcq);
  const used = get('bcQueueLenUsed');
  if (used !== undefined) p.number('any', 'usedbcqueuelen', 'usedbcqueuelen %lu ', used);
  if (mode !== MACVLAN_MODE.SOURCE) return;
  const count = get('macaddrCount');
  if (count === undefined) return;
  p.number('any', 'macaddr_count', 'remotes (%d) ', count);
}
