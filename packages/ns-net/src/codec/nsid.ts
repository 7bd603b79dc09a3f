/** RTM_{NEW,GET}NSID bodies: struct rtgenmsg then NETNSA_* attributes (linux/net_namespace.h). */
import { AttrTable, s32, u32, type AttrOf } from './attr';
import { bodyCodec } from './body';
import { NETNSA } from './constants';

const NSID_SPEC = {
  nsid: { type: NETNSA.NSID, codec: s32 },
  pid: { type: NETNSA.PID, codec: u32 },
  fd: { type: NETNSA.FD, codec: u32 },
  targetNsid: { type: NETNSA.TARGET_NSID, codec: s32 },
  currentNsid: { type: NETNSA.CURRENT_NSID, codec: s32 },
};

export type NsidAttr = AttrOf<typeof NSID_SPEC>;

export interface NsidMessage {
  readonly family: number;
  readonly attrs: readonly NsidAttr[];
}

export const NSID_ATTRS = new AttrTable('NETNSA', NETNSA, NSID_SPEC);

/** struct rtgenmsg is one byte; attributes start at NLMSG_ALIGN(1). */
export const nsidBody = bodyCodec<{ family: number }, typeof NSID_SPEC>('rtgenmsg', [['family', 'u8']], () => NSID_ATTRS);
