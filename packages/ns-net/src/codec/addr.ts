/** RTM_{NEW,DEL,GET}ADDR bodies: struct ifaddrmsg then IFA_* attributes. */
import { AttrTable, ipaddr, s32, string, u32, u32Struct, u8, type AttrOf } from './attr';
import { bodyCodec } from './body';
import { IFA } from './constants';

/** struct ifaddrmsg (linux/if_addr.h). */
export interface IfAddrHeader {
  readonly family: number;
  readonly prefixlen: number;
  /** Low 8 bits of the IFA_F_* flags; IFA_FLAGS carries all 32. */
  readonly flags: number;
  readonly scope: number;
  readonly index: number;
}

const ADDR_SPEC = {
  address: { type: IFA.ADDRESS, codec: ipaddr },
  local: { type: IFA.LOCAL, codec: ipaddr },
  label: { type: IFA.LABEL, codec: string },
  broadcast: { type: IFA.BROADCAST, codec: ipaddr },
  anycast: { type: IFA.ANYCAST, codec: ipaddr },
  /** struct ifa_cacheinfo; lifetimes in seconds, 0xffffffff meaning forever. */
  cacheinfo: { type: IFA.CACHEINFO, codec: u32Struct(['preferred', 'valid', 'cstamp', 'tstamp']) },
  multicast: { type: IFA.MULTICAST, codec: ipaddr },
  flags: { type: IFA.FLAGS, codec: u32 },
  rtPriority: { type: IFA.RT_PRIORITY, codec: u32 },
  targetNetnsid: { type: IFA.TARGET_NETNSID, codec: s32 },
  proto: { type: IFA.PROTO, codec: u8 },
};

export type AddrAttr = AttrOf<typeof ADDR_SPEC>;

export interface AddrMessage extends IfAddrHeader {
  readonly attrs: readonly AddrAttr[];
}

export const ADDR_ATTRS = new AttrTable('IFA', IFA, ADDR_SPEC);

export const addrBody = bodyCodec<IfAddrHeader, typeof ADDR_SPEC>('ifaddrmsg', [
  ['family', 'u8'], ['prefixlen', 'u8'], ['flags', 'u8'], ['scope', 'u8'], ['index', 'u32'],
], () => ADDR_ATTRS);
