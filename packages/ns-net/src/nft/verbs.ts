/**
 * nf_tables verbs named like nft(8), as module functions over a NETLINK_NETFILTER socket.
 * Every change goes through nftBatch(): one batch, applied by the kernel all or nothing.
 */
import * as sys from 'ns-core/sys';
import { NsError, errnoMessage, errnoName } from 'ns-core/errors';
import { align4, attrValue } from '../codec/attr';
import { NLM_F } from '../codec/constants';
import { NLMSG_HDRLEN, type ExtackAttr, type NlMessage } from '../codec/message';
import { NFPROTO, NFNETLINK_V0, NFT_MSG } from '../codec/nft/constants';
import { decodeNftBody, encodeBatch, encodeNftMessage, nftType, nftTypeName, type NftRequest } from '../codec/nft/message';
import { NFGENMSG_LEN, RULE_ATTRS, CHAIN_ATTRS, TABLE_ATTRS, type RuleAttr } from '../codec/nft/objects';
import { kernelError, type NetlinkSocket } from '../transport/socket';
import {
  chainBody, familyNumber, ruleBody, tableBody, toChain, toRule, toTable,
  type NftChain, type NftChainRef, type NftChainSpec, type NftFamily, type NftRule, type NftRuleRef, type NftRuleSpec,
  type NftTable, type NftTableRef, type NftTableSpec,
} from './objects';

/** One change in a batch: plain data, in nft(8)'s words. */
export type NftOp =
  /** `add table` (create: `create table`, EEXIST if it exists). */
  | { readonly op: 'add table'; readonly table: NftTableSpec; readonly create?: boolean }
  | { readonly op: 'delete table'; readonly table: NftTableRef }
  /** `add chain` (create: `create chain`, EEXIST if it exists). */
  | { readonly op: 'add chain'; readonly chain: NftChainSpec; readonly create?: boolean }
  | { readonly op: 'delete chain'; readonly chain: NftChainRef }
  /**
   * `add rule` appends (after `position` if given); `insert` prepends (before `position`).
   * `echo` asks the kernel to send the new rule back, which is how its handle is learnt.
   */
  | { readonly op: 'add rule'; readonly rule: NftRuleSpec; readonly insert?: boolean; readonly position?: number; readonly echo?: boolean }
  | { readonly op: 'delete rule'; readonly rule: NftRuleRef }
  /** Any nf_tables message the ops above do not cover (sets, objects...), described by `what`. */
  | { readonly op: 'request'; readonly request: NftRequest; readonly what: string };

export interface NftOpResult {
  /** The handle the kernel gave a rule added with `echo`. */
  readonly handle?: number;
}

export interface NftBatchOptions {
  /**
   * Apply only if the ruleset is still at this generation (nftGenid()); otherwise the kernel
   * refuses the whole batch and this throws code 'ERESTART'.
   */
  readonly genid?: number;
}

/** linux/errno.h: what nfnetlink answers a batch whose NFNL_BATCH_GENID is stale. */
const ERESTART = 85;
/** asm-generic/socket.h: buffer sizes beyond net.core.[rw]mem_max, for CAP_NET_ADMIN. */
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
/** Receive-buffer room per echoed rule: nf_tables allocates an NLMSG_GOODSIZE skb for each. */
const ECHO_ROOM = 8192;
/** net.core.[rw]mem_default as shipped (the socket's buffers unless raised). */
const DEFAULT_BUFFER = 212992;

/** `add rule inet nstools forward` for messages. */
export function describeOp(op: NftOp): string {
  switch (op.op) {
    case 'add table': case 'delete table':
      return `${op.op === 'add table' && op.create ? 'create table' : op.op} ${op.table.family} ${op.table.name}`;
    case 'add chain': case 'delete chain':
      return `${op.op === 'add chain' && op.create ? 'create chain' : op.op} ${op.chain.family} ${op.chain.table} ${op.chain.name}`;
    case 'add rule':
      return `${op.insert ? 'insert rule' : 'add rule'} ${op.rule.family} ${op.rule.table} ${op.rule.chain}`;
    case 'delete rule':
      return `delete rule ${op.rule.family} ${op.rule.table} ${op.rule.chain} handle ${op.rule.handle}`;
    case 'request':
      return op.what;
  }
}

/** The message an op becomes (flags as nft 1.0.6 sends them, see test/nft-codec.test.ts). */
export function opRequest(op: NftOp): NftRequest {
  switch (op.op) {
    case 'add table':
      return { msg: NFT_MSG.NEWTABLE, flags: op.create ? NLM_F.CREATE | NLM_F.EXCL : 0, kind: 'table', body: tableBody({ ...op.table, flags: op.table.flags ?? 0 }) };
    case 'delete table':
      return { msg: NFT_MSG.DELTABLE, flags: 0, kind: 'table', body: tableBody({ family: op.table.family, name: op.table.name }) };
    case 'add chain':
      return { msg: NFT_MSG.NEWCHAIN, flags: NLM_F.CREATE | (op.create ? NLM_F.EXCL : 0), kind: 'chain', body: chainBody(op.chain) };
    case 'delete chain':
      return { msg: NFT_MSG.DELCHAIN, flags: 0, kind: 'chain', body: chainBody({ family: op.chain.family, table: op.chain.table, name: op.chain.name }) };
    case 'add rule': {
      const flags = NLM_F.CREATE | (op.insert ? 0 : NLM_F.APPEND) | (op.echo ? NLM_F.ECHO : 0);
      return { msg: NFT_MSG.NEWRULE, flags, kind: 'rule', body: ruleBody({ ...op.rule, ...(op.position !== undefined ? { position: op.position } : {}) }) };
    }
    case 'delete rule':
      return { msg: NFT_MSG.DELRULE, flags: 0, kind: 'rule', body: ruleBody(op.rule) };
    case 'request':
      return op.request;
  }
}

/**
 * Applies ops as one nfnetlink batch: all of them or none (the kernel checks every message,
 * then commits or aborts the whole transaction). The last message carries NLM_F_ACK, so the
 * kernel answers it in any case; a failing message is answered with its error before that
 * (nfnetlink_rcv_batch() keeps going to report every error, then aborts), and an error on the
 * batch itself (EPERM, a stale genid) is answered at BATCH_BEGIN's sequence number.
 * @throws NsError with the first failing op's errno; message names the op, the kernel's
 *   extack text if any, and the attribute it pointed at.
 */
export function nftBatch(nl: NetlinkSocket, ops: readonly NftOp[], options: NftBatchOptions = {}): NftOpResult[] {
  if (!ops.length) return [];
  const requests = ops.map(opRequest).map((r, i) => (i === ops.length - 1 ? { ...r, flags: r.flags | NLM_F.ACK } : r));
  const count = requests.length + 2;
  let first = 0;
  const echoes = ops.filter((o) => o.op === 'add rule' && o.echo).length;
  const replies = nl.transact(count, (seq) => {
    first = seq;
    const batch = encodeBatch(requests, seq, options.genid !== undefined ? { genid: options.genid } : {});
    ensureBuffers(nl, batch.length, echoes);
    return batch;
  }, describeOp(ops[0]!), 'NFNL_MSG_BATCH_BEGIN', (m) => m.kind === 'error' && (m.seq === first || ((m.seq - first) >>> 0) === requests.length));

  const results: NftOpResult[] = ops.map(() => ({}));
  for (const m of replies) {
    const index = ((m.seq - first) >>> 0) - 1;
    if (m.kind === 'error' && m.body.error !== 0) {
      if (index < 0) throw batchError(-m.body.error, ops, m.body.extack);
      throw opError(-m.body.error, ops[index]!, requests[index]!, m.body.extack);
    }
    if (m.kind === 'other' && index >= 0 && index < ops.length) {
      const body = decodeNftBody(m.type, m.body);
      if (body?.kind === 'rule') results[index] = { handle: attrValue(body.body.attrs, 'handle') };
    }
  }
  return results;
}

/**
 * netlink_sendmsg() refuses a datagram larger than the send buffer less 32 bytes (EMSGSIZE),
 * and answers beyond the receive buffer are dropped (ENOBUFS): each echoed rule takes a
 * NLMSG_GOODSIZE skb. Both are sized for the batch at hand, as nft does (SO_*BUFFORCE needs
 * CAP_NET_ADMIN, which any change to nf_tables needs anyway).
 */
function ensureBuffers(nl: NetlinkSocket, size: number, echoes: number): void {
  if (size + 1024 > DEFAULT_BUFFER) sys.socket.setsockopt(nl.fd, sys.socket.SOL_SOCKET, SO_SNDBUFFORCE, 2 * size + 1024);
  if (echoes * ECHO_ROOM > DEFAULT_BUFFER / 2) sys.socket.setsockopt(nl.fd, sys.socket.SOL_SOCKET, SO_RCVBUFFORCE, echoes * ECHO_ROOM * 2);
}

function batchError(errno: number, ops: readonly NftOp[], extack: readonly ExtackAttr[]): NsError {
  const msg = extack.find((a) => a.kind === 'msg')?.value;
  const code = errno === ERESTART ? 'ERESTART' : errnoName(errno);
  const why = errno === ERESTART ? 'the ruleset changed since its generation was read' : errnoMessage(errno);
  const what = ops.length === 1 ? describeOp(ops[0]!) : `batch of ${ops.length} (${describeOp(ops[0]!)}, ...)`;
  return new NsError({
    errno, code, syscall: 'NFNL_MSG_BATCH_BEGIN',
    message: `nft ${what} failed: ${code} (${why})${msg ? `: ${msg}` : ''}`,
    // nfnetlink_rcv() asks for CAP_NET_ADMIN over the socket's network namespace.
    ...(code === 'EPERM' ? { hint: 'changing nf_tables needs CAP_NET_ADMIN in the user namespace that owns the network namespace' } : {}),
  });
}

function opError(errno: number, op: NftOp, request: NftRequest, extack: readonly ExtackAttr[]): NsError {
  const msg = extack.find((a) => a.kind === 'msg')?.value;
  const offs = extack.find((a) => a.kind === 'offs')?.value;
  const at = offs !== undefined ? attributeAt(encodeNftMessage(request, 0), offs, request) : undefined;
  const code = errnoName(errno);
  return new NsError({
    errno, code, syscall: nftTypeName(nftType(request.msg)),
    message: `nft ${describeOp(op)} failed: ${code} (${errnoMessage(errno)})${msg ? `: ${msg}` : ''}${at ? ` (at ${at})` : ''}`,
  });
}

/**
 * Names the attribute at byte `offset` of a request (NLMSGERR_ATTR_OFFS counts from its
 * nlmsghdr): 'NFTA_RULE_CHAIN "nochain"', or for a rule's expressions 'expression 3 (nat)'.
 */
export function attributeAt(bytes: Buffer, offset: number, request: NftRequest): string | undefined {
  const table = request.kind === 'rule' ? RULE_ATTRS : request.kind === 'chain' ? CHAIN_ATTRS : request.kind === 'table' ? TABLE_ATTRS : undefined;
  if (!table) return undefined;
  for (let off = NLMSG_HDRLEN + align4(NFGENMSG_LEN); off + 4 <= bytes.length;) {
    const len = bytes.readUInt16LE(off);
    const type = bytes.readUInt16LE(off + 2);
    if (len < 4) return undefined;
    if (offset >= off && offset < off + len) {
      const name = table.nameOf(type);
      if (offset === off && (type & 0x8000) === 0) {
        // A name (NUL-terminated, printable) is worth showing: it is usually what was wrong.
        const payload = bytes.subarray(off + 4, off + len);
        const str = payload.toString('latin1', 0, payload.length - 1);
        const text = payload.length > 1 && payload[payload.length - 1] === 0 && /^[\x20-\x7e]+$/.test(str) ? ` "${str}"` : '';
        return `${name}${text}`;
      }
      if (request.kind === 'rule' && (type & 0x3fff) === 4) return `${name}: ${expressionAt(bytes, off + 4, off + len, offset)}`;
      return name;
    }
    off += align4(len);
  }
  return undefined;
}

function expressionAt(bytes: Buffer, start: number, end: number, offset: number): string {
  let index = 0;
  for (let off = start; off + 4 <= end; index++) {
    const len = bytes.readUInt16LE(off);
    if (len < 4) break;
    if (offset >= off && offset < off + len) {
      // NFTA_EXPR_NAME is the first attribute of an element, as we write it.
      const nameLen = bytes.readUInt16LE(off + 4);
      const name = bytes.toString('utf8', off + 8, off + 4 + nameLen - 1);
      return `expression ${index + 1} (${name})`;
    }
    off += align4(len);
  }
  return 'expressions';
}

/** The GET request of a dump (the transport adds NLM_F_REQUEST | NLM_F_DUMP and seq). */
export function nftDumpRequest(msg: number, family: number, attrs: NftRequest['body']['attrs'] = []) {
  const body = encodeNftMessage({ msg, flags: 0, kind: kindOfGet(msg), body: { family, version: NFNETLINK_V0, resId: 0, attrs } } as NftRequest, 0)
    .subarray(NLMSG_HDRLEN);
  return { type: nftType(msg), flags: 0, kind: 'other' as const, body };
}

function kindOfGet(msg: number): NftRequest['kind'] {
  return msg === NFT_MSG.GETTABLE ? 'table' : msg === NFT_MSG.GETCHAIN ? 'chain' : 'rule';
}

function decoded(messages: readonly NlMessage[]) {
  return messages.flatMap((m) => {
    if (m.kind !== 'other') return [];
    const b = decodeNftBody(m.type, m.body);
    return b ? [b] : [];
  });
}

/** Equivalent to: `nft list tables [family]` */
export function nftTableList(nl: NetlinkSocket, family?: NftFamily): NftTable[] {
  const msgs = nl.dump(nftDumpRequest(NFT_MSG.GETTABLE, family ? familyNumber(family) : NFPROTO.UNSPEC), `nft list tables${family ? ` ${family}` : ''}`, { syscall: 'NFT_MSG_GETTABLE' });
  return decoded(msgs).flatMap((b) => (b.kind === 'table' ? [toTable(b.body)] : []));
}

/** Equivalent to: `nft list chains [family]`, narrowed to one table if given. */
export function nftChainList(nl: NetlinkSocket, filter: { family?: NftFamily; table?: string } = {}): NftChain[] {
  const msgs = nl.dump(nftDumpRequest(NFT_MSG.GETCHAIN, filter.family ? familyNumber(filter.family) : NFPROTO.UNSPEC), 'nft list chains', { syscall: 'NFT_MSG_GETCHAIN' });
  return decoded(msgs).flatMap((b) => (b.kind === 'chain' ? [toChain(b.body)] : []))
    .filter((c) => filter.table === undefined || c.table === filter.table);
}

/**
 * The rules of a family, a table or one chain, in chain order. The kernel filters a dump by
 * NFTA_RULE_TABLE / NFTA_RULE_CHAIN (nf_tables_dump_rules_start()).
 */
export function nftRuleList(nl: NetlinkSocket, filter: { family?: NftFamily; table?: string; chain?: string } = {}): NftRule[] {
  if (filter.chain !== undefined && filter.table === undefined) throw new NsError({ errno: 0, code: 'EUSAGE', message: 'nftRuleList: a chain needs its table' });
  const attrs: RuleAttr[] = [];
  if (filter.table !== undefined) attrs.push({ kind: 'table', value: filter.table });
  if (filter.chain !== undefined) attrs.push({ kind: 'chain', value: filter.chain });
  const what = `nft list ${filter.chain !== undefined ? `chain ${filter.family ?? ''} ${filter.table} ${filter.chain}` : filter.table !== undefined ? `table ${filter.family ?? ''} ${filter.table}` : 'ruleset'}`;
  const msgs = nl.dump(nftDumpRequest(NFT_MSG.GETRULE, filter.family ? familyNumber(filter.family) : NFPROTO.UNSPEC, attrs), what, { syscall: 'NFT_MSG_GETRULE' });
  return decoded(msgs).flatMap((b) => (b.kind === 'rule' ? [toRule(b.body)] : []))
    .filter((r) => (filter.table === undefined || r.table === filter.table) && (filter.chain === undefined || r.chain === filter.chain));
}

/** The ruleset's generation id (NFT_MSG_GETGEN): it changes with every committed batch. */
export function nftGenid(nl: NetlinkSocket): number {
  const req = { msg: NFT_MSG.GETGEN, flags: 0, kind: 'gen' as const, body: { family: NFPROTO.UNSPEC, version: NFNETLINK_V0, resId: 0, attrs: [] } };
  const replies = nl.transact(1, (seq) => encodeNftMessage(req, seq), 'nft list gen', 'NFT_MSG_GETGEN', (m) => m.kind === 'error' || m.kind === 'other');
  for (const m of replies) {
    if (m.kind === 'error') throw kernelError(-m.body.error, 'nft list gen', 'NFT_MSG_GETGEN', m.body.extack);
    const b = m.kind === 'other' ? decodeNftBody(m.type, m.body) : undefined;
    const id = b?.kind === 'gen' ? attrValue(b.body.attrs, 'id') : undefined;
    if (id !== undefined) return id;
  }
  throw new NsError({ errno: 71, code: 'EPROTO', syscall: 'NFT_MSG_GETGEN', message: 'nft list gen: the kernel answered without NFTA_GEN_ID' });
}

/** Equivalent to: `nft add table <family> <name>` (`create table` with create). */
export function nftTableAdd(nl: NetlinkSocket, table: NftTableSpec, options: { create?: boolean } = {}): void {
  nftBatch(nl, [{ op: 'add table', table, ...options }]);
}

/** Equivalent to: `nft delete table <family> <name>` (with everything in it). */
export function nftTableDelete(nl: NetlinkSocket, table: NftTableRef): void {
  nftBatch(nl, [{ op: 'delete table', table }]);
}

/** Equivalent to: `nft add chain <family> <table> <name> [{ type T hook H priority P; policy X; }]` */
export function nftChainAdd(nl: NetlinkSocket, chain: NftChainSpec, options: { create?: boolean } = {}): void {
  nftBatch(nl, [{ op: 'add chain', chain, ...options }]);
}

/** Equivalent to: `nft delete chain <family> <table> <name>` */
export function nftChainDelete(nl: NetlinkSocket, chain: NftChainRef): void {
  nftBatch(nl, [{ op: 'delete chain', chain }]);
}

/**
 * Equivalent to: `nft --echo add rule <family> <table> <chain> ...` (`insert rule` with
 * insert; `position` places it after, or with insert before, that handle).
 * @returns the new rule's handle.
 */
export function nftRuleAdd(nl: NetlinkSocket, rule: NftRuleSpec, options: { insert?: boolean; position?: number } = {}): number {
  const [result] = nftBatch(nl, [{ op: 'add rule', rule, echo: true, ...options }]);
  if (result?.handle === undefined) throw new NsError({ errno: 71, code: 'EPROTO', syscall: 'NFT_MSG_NEWRULE', message: `nft add rule ${rule.family} ${rule.table} ${rule.chain}: the kernel echoed no handle` });
  return result.handle;
}

/** Equivalent to: `nft delete rule <family> <table> <chain> handle <handle>` */
export function nftRuleDelete(nl: NetlinkSocket, rule: NftRuleRef): void {
  nftBatch(nl, [{ op: 'delete rule', rule }]);
}
