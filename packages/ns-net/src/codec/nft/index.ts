/** The nf_tables codec (nfnetlink subsystem NFNL_SUBSYS_NFTABLES): pure functions, no I/O. */
export * from './constants';
export { be32, be64, sbe32 } from './scalar';
export { encodeExpr, exprList, type NftCmpOp, type NftCtKey, type NftData, type NftExpr, type NftExprType, type NftFibResult, type NftMetaKey, type NftPayloadBase, type NftVerdict, type NftVerdictCode } from './expr';
export {
  BATCH_ATTRS, CHAIN_ATTRS, GEN_ATTRS, HOOK_ATTRS, RULE_ATTRS, TABLE_ATTRS, NFGENMSG_LEN,
  batchBody, chainBody, genBody, ruleBody, tableBody, decodeRuleComment, encodeRuleComment,
  type BatchAttr, type ChainAttr, type GenAttr, type HookAttr, type NfgenBody, type RuleAttr, type TableAttr,
} from './objects';
export {
  decodeNftBody, decodeNftDatagram, encodeBatch, encodeNftMessage, nftType, nftTypeName,
  type BatchOptions, type NftBody, type NftObjectKind, type NftRequest,
} from './message';
