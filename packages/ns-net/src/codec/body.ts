/**
 * A message body: a fixed C header (ifinfomsg, ifaddrmsg, rtmsg, rtgenmsg) then attributes
 * starting at NLMSG_ALIGN(sizeof header).
 */
import { align4, protocolError, type AttrOf, type AttrSpec, type AttrTable, type ValueCodec } from './attr';

interface FieldCodec {
  readonly size: number;
  write(buf: Buffer, value: number, off: number): void;
  read(buf: Buffer, off: number): number;
}

/** Header fields are host-endian but for nfgenmsg's res_id (__be16). */
const FIELDS = {
  u8: { size: 1, write: (b, v, off) => b.writeUInt8(v, off), read: (b, off) => b.readUInt8(off) },
  u16: { size: 2, write: (b, v, off) => b.writeUInt16LE(v, off), read: (b, off) => b.readUInt16LE(off) },
  be16: { size: 2, write: (b, v, off) => b.writeUInt16BE(v, off), read: (b, off) => b.readUInt16BE(off) },
  u32: { size: 4, write: (b, v, off) => b.writeUInt32LE(v, off), read: (b, off) => b.readUInt32LE(off) },
  s32: { size: 4, write: (b, v, off) => b.writeInt32LE(v, off), read: (b, off) => b.readInt32LE(off) },
} satisfies Record<string, FieldCodec>;

type FieldType = keyof typeof FIELDS;
/** Padding: `pad8` / `pad16` are as wide as u8 / u16. */
type PadType = 'pad8' | 'pad16';
const PADS: Record<PadType, number> = { pad8: 1, pad16: 2 };

/** A header's fields in C order; pads are written as zero and not read back. */
export type Layout<H> = readonly (readonly [keyof H & string, FieldType] | readonly [null, PadType])[];

export type Body<H, S extends AttrSpec> = H & { readonly attrs: readonly AttrOf<S>[] };

export interface BodyCodec<H, S extends AttrSpec> extends ValueCodec<Body<H, S>> {
  /** sizeof the C header. */
  readonly headerSize: number;
}

/** Codec for "struct H followed by attributes of table". `name` is the C struct, for errors. */
export function bodyCodec<H extends { readonly [K in keyof H]: number }, S extends AttrSpec>(
  name: string, layout: Layout<H>, table: () => AttrTable<S>,
): BodyCodec<H, S> {
  const sizeOf = ([field, type]: Layout<H>[number]): number => (field === null ? PADS[type as PadType] : FIELDS[type as FieldType].size);
  const headerSize = layout.reduce((n, entry) => n + sizeOf(entry), 0);
  return {
    headerSize,
    encode(value) {
      const head = Buffer.alloc(align4(headerSize));
      let off = 0;
      for (const entry of layout) {
        const [field, type] = entry;
        if (field !== null) FIELDS[type as FieldType].write(head, value[field] as number, off);
        off += sizeOf(entry);
      }
      return Buffer.concat([head, table().encode(value.attrs)]);
    },
    decode(data, what) {
      if (data.length < headerSize) throw protocolError(`${what}: ${data.length} bytes is shorter than struct ${name} (${headerSize})`);
      const out: Record<string, unknown> = {};
      let off = 0;
      for (const entry of layout) {
        const [field, type] = entry;
        if (field !== null) out[field] = FIELDS[type as FieldType].read(data, off);
        off += sizeOf(entry);
      }
      out['attrs'] = table().parse(data.subarray(Math.min(align4(headerSize), data.length)), what);
      return out as Body<H, S>;
    },
  };
}
