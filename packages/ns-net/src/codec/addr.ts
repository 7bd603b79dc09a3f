/** RTM_{NEW,DEL,GET}ADDR bodies: struct ifaddrmsg then IFA_* attributes. */
import { AttrTable, ipaddr, s32, string, u32, u32Struct, u8, type AttrsOf, type SpecOf } from './attr';
import { bodyCodec, type Body } from './body';
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

export const ADDR_ATTRS = new AttrTable('IFA', IFA, {
  address: ipaddr,
  local: ipaddr,
  label: string,
  broadcast: ipaddr,
  anycast: ipaddr,
  /** struct ifa_cacheinfo; lifetimes in seconds, 0xffffffff meaning forever. */
  cacheinfo: u32Struct(['preferred', 'valid', 'cstamp', 'tstamp']),
  multicast: ipaddr,
  flags: u32,
  rtPriority: u32,
  targetNetnsid: s32,
  proto: u8,
});

export type AddrAttr = AttrsOf<typeof ADDR_ATTRS>;

export type AddrMessage = Body<IfAddrHeader, SpecOf<typeof ADDR_ATTRS>>;

export const addrBody = bodyCodec<IfAddrHeader, SpecOf<typeof ADDR_ATTRS>>('ifaddrmsg', [
  ['family', 'u8'], ['prefixlen', 'u8'], ['flags', 'u8'], ['scope', 'u8'], ['index', 'u32'],
], () => ADDR_ATTRS);
