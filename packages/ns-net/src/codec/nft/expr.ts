/**
 * nf_tables expressions: NFTA_RULE_EXPRESSIONS is a nest of NFTA_LIST_ELEM, each holding
 * NFTA_EXPR_NAME ("meta", "cmp", ...) and NFTA_EXPR_DATA, the expression's own attributes.
 * A rule is a little register machine program: loads (meta, payload, ct, fib) write a
 * register, cmp/bitwise read and write them, immediate sets the verdict register or data
 * registers that nat reads.
 *
 * Each known expression is a typed object; its attributes are written in the order libnftnl
 * writes them (so the bytes equal nft's, see test/nft-codec.test.ts) and read in any order.
 * An expression with a name or an attribute we do not know stays raw (`{ type: 'other' }`),
 * so listing a rule someone else wrote never loses what is there.
 */
import { bytes, encodeAttr, protocolError, string, u8, type ValueCodec } from '../attr';
import {
  NFTA_BITWISE, NFTA_CMP, NFTA_COUNTER, NFTA_CT, NFTA_DATA, NFTA_EXPR, NFTA_FIB, NFTA_IMMEDIATE, NFTA_LIST,
  NFTA_MASQ, NFTA_META, NFTA_NAT, NFTA_PAYLOAD, NFTA_VERDICT, NF_VERDICT, NFT_CMP_OPS, NFT_CT_KEYS,
  NFT_FIB_RESULTS, NFT_META_KEYS, NFT_NAT_TYPES, NFT_PAYLOAD_BASES,
} from './constants';
import { NftAttrTable, be32, be32Enum, be64, nest, sbe32 } from './scalar';

export type NftVerdictCode = 'accept' | 'drop' | 'continue' | 'break' | 'return';
/** What the verdict register holds after `immediate reg 0 ...`, or a chain policy. */
export type NftVerdict =
  | { readonly code: NftVerdictCode }
  | { readonly code: 'jump' | 'goto'; readonly chain: string };

/** struct nft_data as a nest: a value (bytes as they sit in a register) or a verdict. */
export type NftData = { readonly value: Buffer } | { readonly verdict: NftVerdict };

export type NftMetaKey = (typeof NFT_META_KEYS)[number];
export type NftCmpOp = (typeof NFT_CMP_OPS)[number];
export type NftPayloadBase = (typeof NFT_PAYLOAD_BASES)[number];
export type NftCtKey = (typeof NFT_CT_KEYS)[number];
export type NftFibResult = (typeof NFT_FIB_RESULTS)[number];

/** One expression. Registers are NFT_REG_* numbers (1..4 for data, 0 the verdict). */
export type NftExpr =
  | { readonly type: 'meta'; readonly key: NftMetaKey | number; readonly dreg: number }
  | { readonly type: 'cmp'; readonly sreg: number; readonly op: NftCmpOp; readonly data: Buffer }
  | { readonly type: 'payload'; readonly dreg: number; readonly base: NftPayloadBase; readonly offset: number; readonly len: number }
  /** `op` (NFT_BITWISE_BOOL = 0, mask-and-xor) is what kernels since 5.6 dump; nft leaves it out. */
  | { readonly type: 'bitwise'; readonly sreg: number; readonly dreg: number; readonly op?: number; readonly len: number; readonly mask: Buffer; readonly xor: Buffer }
  | { readonly type: 'immediate'; readonly dreg: number; readonly data: NftData }
  | {
    readonly type: 'nat'; readonly nat: 'snat' | 'dnat'; readonly family: number;
    readonly addrMin?: number; readonly addrMax?: number; readonly protoMin?: number; readonly protoMax?: number; readonly flags?: number;
  }
  | { readonly type: 'masq'; readonly flags?: number; readonly protoMin?: number; readonly protoMax?: number }
  /** nft adds a counter with no attributes (zero); the kernel dumps what it counted. */
  | { readonly type: 'counter'; readonly bytes?: number; readonly packets?: number }
  | { readonly type: 'ct'; readonly key: NftCtKey | number; readonly dreg: number; readonly direction?: number }
  | { readonly type: 'fib'; readonly flags: number; readonly result: NftFibResult | number; readonly dreg: number }
  | { readonly type: 'other'; readonly name: string; readonly data: Buffer };

export type NftExprType = NftExpr['type'];

const VERDICT_CODES: Record<string, number> = {
  accept: NF_VERDICT.ACCEPT, drop: NF_VERDICT.DROP, continue: NF_VERDICT.CONTINUE, break: NF_VERDICT.BREAK,
  jump: NF_VERDICT.JUMP, goto: NF_VERDICT.GOTO, return: NF_VERDICT.RETURN,
};
const VERDICT_NAMES = new Map(Object.entries(VERDICT_CODES).map(([k, v]) => [v, k]));

const VERDICT_ATTRS = new NftAttrTable('NFTA_VERDICT', NFTA_VERDICT, {
  code: { type: NFTA_VERDICT.CODE, codec: sbe32 },
  chain: { type: NFTA_VERDICT.CHAIN, codec: string },
});

const verdict: ValueCodec<NftVerdict> = {
  encode(v) {
    const attrs: Parameters<typeof VERDICT_ATTRS.encode>[0][number][] = [{ kind: 'code', value: VERDICT_CODES[v.code]! }];
    if ('chain' in v) attrs.push({ kind: 'chain', value: v.chain });
    return VERDICT_ATTRS.encode(attrs);
  },
  decode(data, what) {
    const attrs = VERDICT_ATTRS.parse(data, what);
    const code = attrs.find((a) => a.kind === 'code')?.value as number | undefined;
    const name = code === undefined ? undefined : VERDICT_NAMES.get(code);
    if (!name) throw protocolError(`${what}: verdict code ${code ?? '(none)'} is not one nstools knows`);
    if (name === 'jump' || name === 'goto') {
      const chain = attrs.find((a) => a.kind === 'chain')?.value as string | undefined;
      if (chain === undefined) throw protocolError(`${what}: ${name} without NFTA_VERDICT_CHAIN`);
      return { code: name, chain };
    }
    return { code: name as NftVerdictCode };
  },
};

const DATA_ATTRS = new NftAttrTable('NFTA_DATA', NFTA_DATA, {
  value: { type: NFTA_DATA.VALUE, codec: bytes },
  verdict: { type: nest(NFTA_DATA.VERDICT), codec: verdict },
});

/** NFTA_*_DATA holding either kind of nft_data. */
const data: ValueCodec<NftData> = {
  encode: (v) => ('value' in v ? DATA_ATTRS.encode([{ kind: 'value', value: v.value }]) : DATA_ATTRS.encode([{ kind: 'verdict', value: v.verdict }])),
  decode(d, what) {
    const [only, ...rest] = DATA_ATTRS.parse(d, what);
    if (!only || rest.length || only.kind === 'other') throw protocolError(`${what}: expected one NFTA_DATA_VALUE or NFTA_DATA_VERDICT`);
    return only.kind === 'value' ? { value: only.value } : { verdict: only.value };
  },
};

/** NFTA_*_DATA that must be a value (cmp, bitwise masks). */
const value: ValueCodec<Buffer> = {
  encode: (v) => data.encode({ value: v }),
  decode(d, what) {
    const got = data.decode(d, what);
    if (!('value' in got)) throw protocolError(`${what}: expected a value, got a verdict`);
    return got.value;
  },
};

/** [field, attribute type, codec], in the order libnftnl writes them. */
type Field = readonly [string, number, ValueCodec<never>];

function f<T>(name: string, type: number, codec: ValueCodec<T>): Field {
  return [name, type, codec as ValueCodec<never>];
}

const FIELDS: Record<Exclude<NftExprType, 'other'>, readonly Field[]> = {
  meta: [f('key', NFTA_META.KEY, be32Enum(NFT_META_KEYS)), f('dreg', NFTA_META.DREG, be32)],
  cmp: [f('sreg', NFTA_CMP.SREG, be32), f('op', NFTA_CMP.OP, be32Enum(NFT_CMP_OPS)), f('data', nest(NFTA_CMP.DATA), value)],
  payload: [
    f('dreg', NFTA_PAYLOAD.DREG, be32), f('base', NFTA_PAYLOAD.BASE, be32Enum(NFT_PAYLOAD_BASES)),
    f('offset', NFTA_PAYLOAD.OFFSET, be32), f('len', NFTA_PAYLOAD.LEN, be32),
  ],
  bitwise: [
    f('sreg', NFTA_BITWISE.SREG, be32), f('dreg', NFTA_BITWISE.DREG, be32), f('op', NFTA_BITWISE.OP, be32), f('len', NFTA_BITWISE.LEN, be32),
    f('mask', nest(NFTA_BITWISE.MASK), value), f('xor', nest(NFTA_BITWISE.XOR), value),
  ],
  immediate: [f('dreg', NFTA_IMMEDIATE.DREG, be32), f('data', nest(NFTA_IMMEDIATE.DATA), data)],
  nat: [
    f('nat', NFTA_NAT.TYPE, be32Enum(NFT_NAT_TYPES)), f('family', NFTA_NAT.FAMILY, be32),
    f('addrMin', NFTA_NAT.REG_ADDR_MIN, be32), f('addrMax', NFTA_NAT.REG_ADDR_MAX, be32),
    f('protoMin', NFTA_NAT.REG_PROTO_MIN, be32), f('protoMax', NFTA_NAT.REG_PROTO_MAX, be32),
    f('flags', NFTA_NAT.FLAGS, be32),
  ],
  masq: [f('flags', NFTA_MASQ.FLAGS, be32), f('protoMin', NFTA_MASQ.REG_PROTO_MIN, be32), f('protoMax', NFTA_MASQ.REG_PROTO_MAX, be32)],
  counter: [f('bytes', NFTA_COUNTER.BYTES, be64), f('packets', NFTA_COUNTER.PACKETS, be64)],
  ct: [f('key', NFTA_CT.KEY, be32Enum(NFT_CT_KEYS)), f('dreg', NFTA_CT.DREG, be32), f('direction', NFTA_CT.DIRECTION, u8)],
  fib: [f('flags', NFTA_FIB.FLAGS, be32), f('result', NFTA_FIB.RESULT, be32Enum(NFT_FIB_RESULTS)), f('dreg', NFTA_FIB.DREG, be32)],
};

/** Fields an expression of that type must have; the others are optional. */
const REQUIRED: Record<Exclude<NftExprType, 'other'>, readonly string[]> = {
  meta: ['key', 'dreg'], cmp: ['sreg', 'op', 'data'], payload: ['dreg', 'base', 'offset', 'len'],
  bitwise: ['sreg', 'dreg', 'len', 'mask', 'xor'], immediate: ['dreg', 'data'], nat: ['nat', 'family'],
  masq: [], counter: [], ct: ['key', 'dreg'], fib: ['flags', 'result', 'dreg'],
};

const ELEM_ATTRS = new NftAttrTable('NFTA_EXPR', NFTA_EXPR, {
  name: { type: NFTA_EXPR.NAME, codec: string },
  data: { type: nest(NFTA_EXPR.DATA), codec: bytes },
});

export function encodeExpr(e: NftExpr): Buffer {
  if (e.type === 'other') {
    return encodeAttr(nest(NFTA_LIST.ELEM), ELEM_ATTRS.encode([{ kind: 'name', value: e.name }, { kind: 'data', value: e.data }]));
  }
  const fields = FIELDS[e.type];
  if (!fields) throw protocolError(`unknown nf_tables expression '${(e as { type: string }).type}'`);
  const record = e as unknown as Record<string, unknown>;
  const payload = Buffer.concat(fields.flatMap(([name, type, codec]) => {
    const v = record[name];
    return v === undefined ? [] : [encodeAttr(type, (codec as ValueCodec<unknown>).encode(v))];
  }));
  return encodeAttr(nest(NFTA_LIST.ELEM), ELEM_ATTRS.encode([{ kind: 'name', value: e.type }, { kind: 'data', value: payload }]));
}

function decodeExprData(name: string, payload: Buffer, what: string): NftExpr {
  const fields = FIELDS[name as Exclude<NftExprType, 'other'>];
  const raw: NftExpr = { type: 'other', name, data: Buffer.from(payload) };
  if (!fields) return raw;
  const byType = new Map(fields.map((fl) => [fl[1], fl]));
  const out: Record<string, unknown> = { type: name };
  let off = 0;
  while (off < payload.length) {
    if (payload.length - off < 4) throw protocolError(`${what}: stray bytes in ${name}`);
    const len = payload.readUInt16LE(off);
    const type = payload.readUInt16LE(off + 2);
    if (len < 4 || off + len > payload.length) throw protocolError(`${what}: ${name} attribute ${type} has nla_len ${len}`);
    const field = byType.get(type) ?? byType.get(nest(type));
    // An attribute we would not write ourselves (a newer kernel's, or a sreg form of a load):
    // keep the whole expression raw rather than drop what it says.
    if (!field) return raw;
    out[field[0]] = (field[2] as ValueCodec<unknown>).decode(payload.subarray(off + 4, off + len), `${what}: ${name}.${field[0]}`);
    off += (len + 3) & ~3;
  }
  if (REQUIRED[name as Exclude<NftExprType, 'other'>].some((r) => out[r] === undefined)) return raw;
  return out as NftExpr;
}

const ELEM_CODEC: ValueCodec<NftExpr> = {
  encode: (e) => encodeExpr(e).subarray(4),
  decode(d, what) {
    const attrs = ELEM_ATTRS.parse(d, what);
    const name = attrs.find((a) => a.kind === 'name')?.value as string | undefined;
    if (name === undefined) throw protocolError(`${what}: expression without NFTA_EXPR_NAME`);
    const payload = (attrs.find((a) => a.kind === 'data')?.value as Buffer | undefined) ?? Buffer.alloc(0);
    return decodeExprData(name, payload, what);
  },
};

const LIST_ATTRS = new NftAttrTable('NFTA_LIST', NFTA_LIST, { elem: { type: nest(NFTA_LIST.ELEM), codec: ELEM_CODEC } });

/** NFTA_RULE_EXPRESSIONS: a list of expressions. */
export const exprList: ValueCodec<readonly NftExpr[]> = {
  encode: (list) => Buffer.concat(list.map(encodeExpr)),
  decode(d, what) {
    const out: NftExpr[] = [];
    const elems = LIST_ATTRS.parse(d, what);
    for (const [i, el] of elems.entries()) {
      if (el.kind !== 'elem') throw protocolError(`${what}: expression ${i} is not an NFTA_LIST_ELEM`);
      out.push(el.value);
    }
    return out;
  },
};

export { verdict as verdictCodec, VERDICT_CODES, VERDICT_NAMES };
