/**
 * Bodies of nf_tables messages: struct nfgenmsg {u8 nfgen_family; u8 version; __be16 res_id}
 * then the attributes of a table, chain, rule or generation (linux/netfilter/nf_tables.h).
 */
import { usageError } from 'ns-core';
import { align4, bytes, protocolError, string, type AttrOf, type AttrSpec, type AttrTable, type ValueCodec } from '../attr';
import { NFTA_CHAIN, NFTA_GEN, NFTA_HOOK, NFTA_RULE, NFTA_TABLE, NFTNL_UDATA_RULE, NFNL_BATCH } from './constants';
import { exprList } from './expr';
import { NftAttrTable, be32, be64, nest, sbe32 } from './scalar';

/** A decoded nfnetlink body: nfgenmsg's fields and the attributes. */
export interface NfgenBody<A> {
  /** NFPROTO_* of the object (nfgen_family). */
  readonly family: number;
  readonly version: number;
  /** Subsystem id on batch delimiters, else 0 (the kernel answers with its generation's low 16 bits). */
  readonly resId: number;
  readonly attrs: readonly A[];
}

export const NFGENMSG_LEN = 4;

/** Codec of "struct nfgenmsg then attributes of table". */
export function nfgenBody<S extends AttrSpec>(table: AttrTable<S>): ValueCodec<NfgenBody<AttrOf<S>>> {
  return {
    encode(v) {
      const head = Buffer.alloc(NFGENMSG_LEN);
      head.writeUInt8(v.family, 0);
      head.writeUInt8(v.version, 1);
      head.writeUInt16BE(v.resId, 2);
      return Buffer.concat([head, table.encode(v.attrs)]);
    },
    decode(data, what) {
      if (data.length < NFGENMSG_LEN) throw protocolError(`${what}: ${data.length} bytes is shorter than struct nfgenmsg`);
      return {
        family: data.readUInt8(0), version: data.readUInt8(1), resId: data.readUInt16BE(2),
        attrs: table.parse(data.subarray(align4(NFGENMSG_LEN)), what),
      };
    },
  };
}

const TABLE_SPEC = {
  name: { type: NFTA_TABLE.NAME, codec: string },
  flags: { type: NFTA_TABLE.FLAGS, codec: be32 },
  use: { type: NFTA_TABLE.USE, codec: be32 },
  handle: { type: NFTA_TABLE.HANDLE, codec: be64 },
  userdata: { type: NFTA_TABLE.USERDATA, codec: bytes },
  owner: { type: NFTA_TABLE.OWNER, codec: be32 },
};
export type TableAttr = AttrOf<typeof TABLE_SPEC>;
export const TABLE_ATTRS = new NftAttrTable('NFTA_TABLE', NFTA_TABLE, TABLE_SPEC);
export const tableBody = nfgenBody(TABLE_ATTRS);

const HOOK_SPEC = {
  hooknum: { type: NFTA_HOOK.HOOKNUM, codec: be32 },
  priority: { type: NFTA_HOOK.PRIORITY, codec: sbe32 },
  dev: { type: NFTA_HOOK.DEV, codec: string },
};
export type HookAttr = AttrOf<typeof HOOK_SPEC>;
export const HOOK_ATTRS = new NftAttrTable('NFTA_HOOK', NFTA_HOOK, HOOK_SPEC);

const CHAIN_SPEC = {
  table: { type: NFTA_CHAIN.TABLE, codec: string },
  handle: { type: NFTA_CHAIN.HANDLE, codec: be64 },
  name: { type: NFTA_CHAIN.NAME, codec: string },
  hook: { type: nest(NFTA_CHAIN.HOOK), codec: { encode: (v: readonly HookAttr[]) => HOOK_ATTRS.encode(v), decode: (d: Buffer, w: string) => HOOK_ATTRS.parse(d, w) } },
  policy: { type: NFTA_CHAIN.POLICY, codec: be32 },
  use: { type: NFTA_CHAIN.USE, codec: be32 },
  type: { type: NFTA_CHAIN.TYPE, codec: string },
  counters: { type: nest(NFTA_CHAIN.COUNTERS), codec: bytes },
  flags: { type: NFTA_CHAIN.FLAGS, codec: be32 },
  id: { type: NFTA_CHAIN.ID, codec: be32 },
  userdata: { type: NFTA_CHAIN.USERDATA, codec: bytes },
};
export type ChainAttr = AttrOf<typeof CHAIN_SPEC>;
export const CHAIN_ATTRS = new NftAttrTable('NFTA_CHAIN', NFTA_CHAIN, CHAIN_SPEC);
export const chainBody = nfgenBody(CHAIN_ATTRS);

const RULE_SPEC = {
  table: { type: NFTA_RULE.TABLE, codec: string },
  chain: { type: NFTA_RULE.CHAIN, codec: string },
  handle: { type: NFTA_RULE.HANDLE, codec: be64 },
  expressions: { type: nest(NFTA_RULE.EXPRESSIONS), codec: exprList },
  position: { type: NFTA_RULE.POSITION, codec: be64 },
  userdata: { type: NFTA_RULE.USERDATA, codec: bytes },
  id: { type: NFTA_RULE.ID, codec: be32 },
};
export type RuleAttr = AttrOf<typeof RULE_SPEC>;
export const RULE_ATTRS = new NftAttrTable('NFTA_RULE', NFTA_RULE, RULE_SPEC);
export const ruleBody = nfgenBody(RULE_ATTRS);

const GEN_SPEC = {
  id: { type: NFTA_GEN.ID, codec: be32 },
  procPid: { type: NFTA_GEN.PROC_PID, codec: be32 },
  procName: { type: NFTA_GEN.PROC_NAME, codec: string },
};
export type GenAttr = AttrOf<typeof GEN_SPEC>;
export const GEN_ATTRS = new NftAttrTable('NFTA_GEN', NFTA_GEN, GEN_SPEC);
export const genBody = nfgenBody(GEN_ATTRS);

const BATCH_SPEC = { genid: { type: NFNL_BATCH.GENID, codec: be32 } };
export type BatchAttr = AttrOf<typeof BATCH_SPEC>;
export const BATCH_ATTRS = new NftAttrTable('NFNL_BATCH', NFNL_BATCH, BATCH_SPEC);
export const batchBody = nfgenBody(BATCH_ATTRS);

/** nft's limit on a comment (NFTNL_UDATA_COMMENT_MAXLEN, its NUL included). */
export const RULE_COMMENT_MAX = 128;

/**
 * A rule's comment as libnftnl stores it in NFTA_RULE_USERDATA: TLVs of {u8 type, u8 len,
 * value}, the comment being type NFTNL_UDATA_RULE_COMMENT with its NUL.
 */
export function encodeRuleComment(comment: string): Buffer {
  const text = Buffer.from(`${comment}\0`);
  if (text.length > RULE_COMMENT_MAX || text.indexOf(0) < text.length - 1) {
    throw usageError(`a rule comment has at most ${RULE_COMMENT_MAX - 1} bytes and no NUL, got ${text.length - 1}`);
  }
  return Buffer.concat([Buffer.from([NFTNL_UDATA_RULE.COMMENT, text.length]), text]);
}

/** The comment in a rule's userdata, if there is one (other TLVs are skipped). */
export function decodeRuleComment(userdata: Buffer): string | undefined {
  for (let off = 0; off + 2 <= userdata.length;) {
    const type = userdata[off]!;
    const len = userdata[off + 1]!;
    if (off + 2 + len > userdata.length) return undefined;
    if (type === NFTNL_UDATA_RULE.COMMENT) return string.decode(userdata.subarray(off + 2, off + 2 + len), 'comment');
    off += 2 + len;
  }
  return undefined;
}
