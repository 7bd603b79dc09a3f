/** RTM_{NEW,GET}NSID bodies: struct rtgenmsg then NETNSA_* attributes (linux/net_namespace.h). */
import { AttrTable, s32, u32, type AttrsOf, type SpecOf } from './attr';
import { bodyCodec, type Body } from './body';
import { NETNSA } from './constants';

export const NSID_ATTRS = new AttrTable('NETNSA', NETNSA, {
  nsid: s32,
  pid: u32,
  fd: u32,
  targetNsid: s32,
  currentNsid: s32,
});

export type NsidAttr = AttrsOf<typeof NSID_ATTRS>;

/** struct rtgenmsg. */
interface RtGenHeader {
  readonly family: number;
}

export type NsidMessage = Body<RtGenHeader, SpecOf<typeof NSID_ATTRS>>;

/** struct rtgenmsg is one byte; attributes start at NLMSG_ALIGN(1). */
export const nsidBody = bodyCodec<RtGenHeader, SpecOf<typeof NSID_ATTRS>>('rtgenmsg', [['family', 'u8']], () => NSID_ATTRS);
