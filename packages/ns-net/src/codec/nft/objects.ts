/**
 * Bodies of nf_tables messages: struct nfgenmsg {u8 nfgen_family; u8 version; __be16 res_id}
 * then the attributes of a table, chain, rule or generation (linux/netfilter/nf_tables.h).
 */
import { usageError } from 'ns-core/errors';
import { bytes, nested, string, type AttrsOf, type AttrSpec, type AttrTable } from '../attr';
import { bodyCodec, type BodyCodec } from '../body';
import { NFTA_CHAIN, NFTA_GEN, NFTA_HOOK, NFTA_RULE, NFTA_TABLE, NFTNL_UDATA_RULE, NFNL_BATCH } from './constants';
import { exprList } from './expr';
import { NftAttrTable, be32, be64, nest, sbe32 } from './scalar';

/** struct nfgenmsg's fields. */
interface NfgenHeader {
  /** NFPROTO_* of the object (nfgen_family). */
  readonly family: number;
  readonly version: number;
  /** Subsystem id on batch delimiters, else 0 (the kernel answers with its generation's low 16 bits). */
  readonly resId: number;
}

/** A decoded nfnetlink body: nfgenmsg's fields and the attributes. */
export interface NfgenBody<A> extends NfgenHeader {
  readonly attrs: readonly A[];
}

export const NFGENMSG_LEN = 4;

/** Codec of "struct nfgenmsg then attributes of table". */
export function nfgenBody<S extends AttrSpec>(table: AttrTable<S>): BodyCodec<NfgenHeader, S> {
  return bodyCodec<NfgenHeader, S>('nfgenmsg', [['family', 'u8'], ['version', 'u8'], ['resId', 'be16']], () => table);
}

export const TABLE_ATTRS = new NftAttrTable('NFTA_TABLE', NFTA_TABLE, {
  name: string,
  flags: be32,
  use: be32,
  handle: be64,
  userdata: bytes,
  owner: be32,
});
export type TableAttr = AttrsOf<typeof TABLE_ATTRS>;
export const tableBody = nfgenBody(TABLE_ATTRS);

export const HOOK_ATTRS = new NftAttrTable('NFTA_HOOK', NFTA_HOOK, {
  hooknum: be32,
  priority: sbe32,
  dev: string,
});
export type HookAttr = AttrsOf<typeof HOOK_ATTRS>;

export const CHAIN_ATTRS = new NftAttrTable('NFTA_CHAIN', NFTA_CHAIN, {
  table: string,
  handle: be64,
  name: string,
  hook: { type: nest(NFTA_CHAIN.HOOK), codec: nested(() => HOOK_ATTRS) },
  policy: be32,
  use: be32,
  type: string,
  counters: { type: nest(NFTA_CHAIN.COUNTERS), codec: bytes },
  flags: be32,
  id: be32,
  userdata: bytes,
});
export type ChainAttr = AttrsOf<typeof CHAIN_ATTRS>;
export const chainBody = nfgenBody(CHAIN_ATTRS);

export const RULE_ATTRS = new NftAttrTable('NFTA_RULE', NFTA_RULE, {
  table: string,
  chain: string,
  handle: be64,
  expressions: { type: nest(NFTA_RULE.EXPRESSIONS), codec: exprList },
  position: be64,
  userdata: bytes,
  id: be32,
});
export type RuleAttr = AttrsOf<typeof RULE_ATTRS>;
export const ruleBody = nfgenBody(RULE_ATTRS);

export const GEN_ATTRS = new NftAttrTable('NFTA_GEN', NFTA_GEN, {
  id: be32,
  procPid: be32,
  procName: string,
});
export type GenAttr = AttrsOf<typeof GEN_ATTRS>;
export const genBody = nfgenBody(GEN_ATTRS);

export const BATCH_ATTRS = new NftAttrTable('NFNL_BATCH', NFNL_BATCH, { genid: be32 });
export type BatchAttr = AttrsOf<typeof BATCH_ATTRS>;
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
