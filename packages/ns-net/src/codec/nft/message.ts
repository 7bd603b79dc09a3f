/**
 * nf_tables messages over nfnetlink. nlmsg_type is (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_*;
 * changes travel in a batch, one datagram holding
 *
 *   NFNL_MSG_BATCH_BEGIN (res_id NFNL_SUBSYS_NFTABLES, optionally NFNL_BATCH_GENID)
 *   NFT_MSG_NEW... / NFT_MSG_DEL...      seq first+1, first+2, ...
 *   NFNL_MSG_BATCH_END
 *
 * which the kernel applies all or nothing (nfnetlink_rcv_batch(): every message is checked,
 * then the whole transaction is committed or aborted). GET requests (dumps) go outside batches.
 */
import { protocolError } from '../attr';
import { NLMSG_HDRLEN } from '../message';
import { NLM_F } from '../constants';
import { NFNL_MSG, NFNL_SUBSYS_NFTABLES, NFNETLINK_V0, NFPROTO, NFT_MSG } from './constants';
import {
  batchBody, chainBody, genBody, ruleBody, tableBody,
  type ChainAttr, type GenAttr, type NfgenBody, type RuleAttr, type TableAttr,
} from './objects';

/** A decoded nf_tables body, by the kind of object it describes. */
export type NftBody =
  | { readonly kind: 'table'; readonly body: NfgenBody<TableAttr> }
  | { readonly kind: 'chain'; readonly body: NfgenBody<ChainAttr> }
  | { readonly kind: 'rule'; readonly body: NfgenBody<RuleAttr> }
  | { readonly kind: 'gen'; readonly body: NfgenBody<GenAttr> };

export type NftObjectKind = NftBody['kind'];

/** A message to send: NFT_MSG_* (the low byte), nlmsg_flags beyond NLM_F_REQUEST, and a body. */
export type NftRequest = NftBody & { readonly msg: number; readonly flags: number };

/** nlmsg_type of an nf_tables message. */
export function nftType(msg: number): number {
  return (NFNL_SUBSYS_NFTABLES << 8) | msg;
}

const KIND_OF_MSG = new Map<number, NftObjectKind>([
  [NFT_MSG.NEWTABLE, 'table'], [NFT_MSG.GETTABLE, 'table'], [NFT_MSG.DELTABLE, 'table'],
  [NFT_MSG.NEWCHAIN, 'chain'], [NFT_MSG.GETCHAIN, 'chain'], [NFT_MSG.DELCHAIN, 'chain'],
  [NFT_MSG.NEWRULE, 'rule'], [NFT_MSG.GETRULE, 'rule'], [NFT_MSG.DELRULE, 'rule'],
  [NFT_MSG.NEWGEN, 'gen'], [NFT_MSG.GETGEN, 'gen'],
]);

const MSG_NAMES = new Map<number, string>(Object.entries(NFT_MSG).map(([k, v]) => [v, `NFT_MSG_${k}`]));

/** 'NFT_MSG_NEWRULE' for an nf_tables nlmsg_type, 'NFNL_MSG_BATCH_BEGIN' for 16. */
export function nftTypeName(type: number): string {
  if (type === NFNL_MSG.BATCH_BEGIN) return 'NFNL_MSG_BATCH_BEGIN';
  if (type === NFNL_MSG.BATCH_END) return 'NFNL_MSG_BATCH_END';
  if (type >> 8 === NFNL_SUBSYS_NFTABLES) return MSG_NAMES.get(type & 0xff) ?? `NFT_MSG ${type & 0xff}`;
  return `nfnetlink message type ${type}`;
}

function encodeBody(b: NftBody): Buffer {
  switch (b.kind) {
    case 'table': return tableBody.encode(b.body);
    case 'chain': return chainBody.encode(b.body);
    case 'rule': return ruleBody.encode(b.body);
    case 'gen': return genBody.encode(b.body);
  }
}

/** struct nlmsghdr then the body, nlmsg_len filled in and padded to 4 bytes. */
function nlmsg(type: number, flags: number, seq: number, body: Buffer): Buffer {
  const len = NLMSG_HDRLEN + body.length;
  const buf = Buffer.alloc((len + 3) & ~3);
  buf.writeUInt32LE(len, 0);
  buf.writeUInt16LE(type, 4);
  buf.writeUInt16LE(flags, 6);
  buf.writeUInt32LE(seq, 8);
  buf.writeUInt32LE(0, 12);
  body.copy(buf, NLMSG_HDRLEN);
  return buf;
}

/** One nf_tables message with NLM_F_REQUEST, for a dump or a lone request. */
export function encodeNftMessage(req: NftRequest, seq: number): Buffer {
  const kind = KIND_OF_MSG.get(req.msg);
  if (kind !== req.kind) throw protocolError(`${nftTypeName(nftType(req.msg))} carries a '${kind ?? 'unknown'}' body, not '${req.kind}'`);
  return nlmsg(nftType(req.msg), NLM_F.REQUEST | req.flags, seq, encodeBody(req));
}

export interface BatchOptions {
  /**
   * NFNL_BATCH_GENID: the kernel refuses the whole batch with ERESTART unless the ruleset is
   * still at this generation (nfnetlink_rcv_batch(), Linux 4.20), so a change planned from a
   * listing cannot apply on top of someone else's change made in between.
   */
  readonly genid?: number;
}

/**
 * A batch: BATCH_BEGIN at `firstSeq`, the requests at firstSeq+1..., BATCH_END after them.
 * The delimiters carry NFNL_SUBSYS_NFTABLES in res_id, in network byte order as the kernel
 * reads it (it also accepts the host order old nft sent).
 */
export function encodeBatch(requests: readonly NftRequest[], firstSeq: number, options: BatchOptions = {}): Buffer {
  const delimiter = (genid?: number) => batchBody.encode({
    family: NFPROTO.UNSPEC, version: NFNETLINK_V0, resId: NFNL_SUBSYS_NFTABLES,
    attrs: genid === undefined ? [] : [{ kind: 'genid', value: genid }],
  });
  return Buffer.concat([
    nlmsg(NFNL_MSG.BATCH_BEGIN, NLM_F.REQUEST, firstSeq, delimiter(options.genid)),
    ...requests.map((r, i) => encodeNftMessage(r, (firstSeq + 1 + i) >>> 0)),
    nlmsg(NFNL_MSG.BATCH_END, NLM_F.REQUEST, (firstSeq + 1 + requests.length) >>> 0, delimiter()),
  ]);
}

/** The typed body of an nf_tables message from the kernel, or undefined for another subsystem. */
export function decodeNftBody(type: number, body: Buffer): NftBody | undefined {
  if (type >> 8 !== NFNL_SUBSYS_NFTABLES) return undefined;
  const what = nftTypeName(type);
  switch (KIND_OF_MSG.get(type & 0xff)) {
    case 'table': return { kind: 'table', body: tableBody.decode(body, what) };
    case 'chain': return { kind: 'chain', body: chainBody.decode(body, what) };
    case 'rule': return { kind: 'rule', body: ruleBody.decode(body, what) };
    case 'gen': return { kind: 'gen', body: genBody.decode(body, what) };
    default: return undefined;
  }
}

/** The messages of a datagram we sent (a batch), split and decoded; for tests and fixtures. */
export function decodeNftDatagram(buf: Buffer): ({ readonly type: number; readonly flags: number; readonly seq: number } & (NftBody | { readonly kind: 'batch'; readonly body: ReturnType<typeof batchBody.decode> }))[] {
  const out: ReturnType<typeof decodeNftDatagram> = [];
  for (let off = 0; off < buf.length;) {
    if (buf.length - off < NLMSG_HDRLEN) throw protocolError(`${buf.length - off} stray bytes after the last message`);
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) throw protocolError(`nlmsg_len ${len} with ${buf.length - off} bytes left`);
    const type = buf.readUInt16LE(off + 4);
    const head = { type, flags: buf.readUInt16LE(off + 6), seq: buf.readUInt32LE(off + 8) };
    const body = buf.subarray(off + NLMSG_HDRLEN, off + len);
    if (type === NFNL_MSG.BATCH_BEGIN || type === NFNL_MSG.BATCH_END) {
      out.push({ ...head, kind: 'batch', body: batchBody.decode(body, nftTypeName(type)) });
    } else {
      const decoded = decodeNftBody(type, body);
      if (!decoded) throw protocolError(`${nftTypeName(type)} is not an nf_tables message`);
      out.push({ ...head, ...decoded });
    }
    off += (len + 3) & ~3;
  }
  return out;
}
