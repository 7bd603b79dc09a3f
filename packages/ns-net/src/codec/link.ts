/** RTM_{NEW,DEL,GET,SET}LINK bodies: struct ifinfomsg then IFLA_* attributes. */
import { AttrTable, bytes, encodeAttr, hwaddr, s32, string, u32, u8, type AttrOf, type OtherAttr, type ValueCodec } from './attr';
import { bodyCodec } from './body';
import { IFLA, IFLA_INFO, VETH_INFO } from './constants';

/** struct ifinfomsg (linux/rtnetlink.h). */
export interface IfInfoHeader {
  readonly family: number;
  /** ARPHRD_* device type. */
  readonly type: number;
  readonly index: number;
  /** IFF_* flags; in a request only the bits set in `change` apply. */
  readonly flags: number;
  readonly change: number;
}

export interface LinkMessage extends IfInfoHeader {
  readonly attrs: readonly LinkAttr[];
}

/** VETH_INFO_PEER carries a whole ifinfomsg plus attributes for the peer (linux/veth.h). */
export type VethAttr = { readonly kind: 'peer'; readonly value: LinkMessage } | OtherAttr;

/**
 * IFLA_LINKINFO entries. IFLA_INFO_DATA's layout depends on IFLA_INFO_KIND: for a veth it is
 * parsed ('vethData'); for other kinds it stays bytes ('infoData').
 */
export type LinkInfoAttr = AttrOf<typeof LINKINFO_SPEC> | { readonly kind: 'vethData'; readonly value: readonly VethAttr[] };

const VETH_ATTRS = new AttrTable('VETH_INFO', VETH_INFO, {
  peer: { type: VETH_INFO.PEER, codec: { encode: (v: LinkMessage) => linkBody.encode(v), decode: (d, what) => linkBody.decode(d, what) } as ValueCodec<LinkMessage> },
});

const LINKINFO_SPEC = {
  infoKind: { type: IFLA_INFO.KIND, codec: string },
  infoData: { type: IFLA_INFO.DATA, codec: bytes },
  infoSlaveKind: { type: IFLA_INFO.SLAVE_KIND, codec: string },
  infoSlaveData: { type: IFLA_INFO.SLAVE_DATA, codec: bytes },
};
const LINKINFO_ATTRS = new AttrTable('IFLA_INFO', IFLA_INFO, LINKINFO_SPEC);

const linkinfo: ValueCodec<readonly LinkInfoAttr[]> = {
  encode: (value) => Buffer.concat(value.map((a) => (a.kind === 'vethData'
    ? encodeAttr(IFLA_INFO.DATA, VETH_ATTRS.encode(a.value))
    : LINKINFO_ATTRS.encode([a])))),
  decode(data, what) {
    const attrs = LINKINFO_ATTRS.parse(data, what);
    const kind = attrs.find((a) => a.kind === 'infoKind')?.value;
    if (kind !== 'veth') return attrs;
    return attrs.map((a) => (a.kind === 'infoData' ? { kind: 'vethData' as const, value: VETH_ATTRS.parse(a.value, `${what}: IFLA_INFO_DATA`) } : a));
  },
};

const LINK_SPEC = {
  address: { type: IFLA.ADDRESS, codec: hwaddr },
  broadcast: { type: IFLA.BROADCAST, codec: hwaddr },
  ifname: { type: IFLA.IFNAME, codec: string },
  mtu: { type: IFLA.MTU, codec: u32 },
  link: { type: IFLA.LINK, codec: u32 },
  qdisc: { type: IFLA.QDISC, codec: string },
  master: { type: IFLA.MASTER, codec: u32 },
  txqlen: { type: IFLA.TXQLEN, codec: u32 },
  operstate: { type: IFLA.OPERSTATE, codec: u8 },
  linkmode: { type: IFLA.LINKMODE, codec: u8 },
  linkinfo: { type: IFLA.LINKINFO, codec: linkinfo },
  netNsPid: { type: IFLA.NET_NS_PID, codec: u32 },
  ifalias: { type: IFLA.IFALIAS, codec: string },
  group: { type: IFLA.GROUP, codec: u32 },
  netNsFd: { type: IFLA.NET_NS_FD, codec: u32 },
  extMask: { type: IFLA.EXT_MASK, codec: u32 },
  promiscuity: { type: IFLA.PROMISCUITY, codec: u32 },
  numTxQueues: { type: IFLA.NUM_TX_QUEUES, codec: u32 },
  numRxQueues: { type: IFLA.NUM_RX_QUEUES, codec: u32 },
  carrier: { type: IFLA.CARRIER, codec: u8 },
  carrierChanges: { type: IFLA.CARRIER_CHANGES, codec: u32 },
  linkNetnsid: { type: IFLA.LINK_NETNSID, codec: s32 },
  protoDown: { type: IFLA.PROTO_DOWN, codec: u8 },
  newNetnsid: { type: IFLA.NEW_NETNSID, codec: s32 },
  minMtu: { type: IFLA.MIN_MTU, codec: u32 },
  maxMtu: { type: IFLA.MAX_MTU, codec: u32 },
  altIfname: { type: IFLA.ALT_IFNAME, codec: string },
  permAddress: { type: IFLA.PERM_ADDRESS, codec: hwaddr },
};

export type LinkAttr = AttrOf<typeof LINK_SPEC>;

export const LINK_ATTRS = new AttrTable('IFLA', IFLA, LINK_SPEC);

export const linkBody = bodyCodec<IfInfoHeader, typeof LINK_SPEC>('ifinfomsg', [
  ['family', 'u8'], [null, 'pad8'], ['type', 'u16'], ['index', 's32'], ['flags', 'u32'], ['change', 'u32'],
], () => LINK_ATTRS);

/** The IFLA_INFO_KIND of a link message ('veth', 'bridge'), if it has one. */
export function linkKind(msg: LinkMessage): string | undefined {
  const info = msg.attrs.find((a) => a.kind === 'linkinfo')?.value;
  return info?.find((a) => a.kind === 'infoKind')?.value as string | undefined;
}

