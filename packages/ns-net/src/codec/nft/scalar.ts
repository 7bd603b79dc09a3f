/**
 * Attribute payloads of nf_tables. Unlike rtnetlink, nf_tables puts integers in network byte
 * order (nla_put_be32/be64, ntohl on the kernel side), and libmnl marks every nest with
 * NLA_F_NESTED, as the kernel's nla_nest_start() does in dumps.
 */
import { AttrTable, NLA_F_NESTED, NLA_HDRLEN, align4, fixedWidth, protocolError, type AttrOf, type AttrSpec, type ValueCodec } from '../attr';

export function nest(type: number): number {
  return type | NLA_F_NESTED;
}

/**
 * An attribute table for nf_tables. We write nests as libmnl (and so nft) does, with
 * NLA_F_NESTED; the kernel's dumps write them without (nf_tables uses
 * nla_nest_start_noflag()). Parsing sets the flag on a copy first, so both read alike.
 */
export class NftAttrTable<S extends AttrSpec> extends AttrTable<S> {
  readonly #nested: ReadonlySet<number>;

  constructor(prefix: string, names: Readonly<Record<string, number>>, spec: S) {
    super(prefix, names, spec);
    this.#nested = new Set(Object.values(this.entries).filter((e) => e.type & NLA_F_NESTED).map((e) => e.type & ~NLA_F_NESTED));
  }

  override parse(data: Buffer, context: string): AttrOf<S>[] {
    return super.parse(this.#nested.size ? withNestFlags(data, this.#nested) : data, context);
  }
}

/** A copy of a run of attributes with NLA_F_NESTED set on the types in `nested`. */
export function withNestFlags(data: Buffer, nested: ReadonlySet<number>): Buffer {
  const out = Buffer.from(data);
  for (let off = 0; off + NLA_HDRLEN <= out.length;) {
    const len = out.readUInt16LE(off);
    const type = out.readUInt16LE(off + 2);
    if (nested.has(type)) out.writeUInt16LE(type | NLA_F_NESTED, off + 2);
    if (len < NLA_HDRLEN) break; // AttrTable.parse reports it
    off += align4(len);
  }
  return out;
}

export const be32 = fixedWidth<number>(4, (b, v) => b.writeUInt32BE(v >>> 0), (d) => d.readUInt32BE());
/** A signed big-endian 32-bit value: hook priorities, verdict codes. */
export const sbe32 = fixedWidth<number>(4, (b, v) => b.writeInt32BE(v), (d) => d.readInt32BE());

/**
 * A big-endian 64-bit value as a JS number: handles and counters. Handles count up from 1 per
 * table (nf_tables_alloc_handle()), so they stay far below 2^53; a larger value is refused
 * rather than rounded.
 */
export const be64 = fixedWidth<number>(8, (b, v) => b.writeBigUInt64BE(BigInt(v)), (d, what) => {
  const v = d.readBigUInt64BE();
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw protocolError(`${what}: ${v} does not fit a JS number`);
  return Number(v);
});

/** An index into a list of names (enum values), kept as a number when unknown. */
export function be32Enum<N extends string>(names: readonly N[]): ValueCodec<N | number> {
  return {
    encode: (value) => be32.encode(typeof value === 'number' ? value : names.indexOf(value)),
    decode(data, what) {
      const n = be32.decode(data, what);
      return names[n] ?? n;
    },
  };
}
