/**
 * A message body: a fixed C header (ifinfomsg, ifaddrmsg, rtmsg, rtgenmsg) then attributes
 * starting at NLMSG_ALIGN(sizeof header).
 */
import { align4, protocolError, type AttrOf, type AttrSpec, type AttrTable, type ValueCodec } from './attr';

type FieldType = 'u8' | 'u16' | 'u32' | 's32' | 'pad8' | 'pad16';

const SIZE: Record<FieldType, number> = { u8: 1, u16: 2, u32: 4, s32: 4, pad8: 1, pad16: 2 };

/** A header's fields in C order; pads are written as zero and not read back. */
export type Layout<H> = readonly (readonly [keyof H & string, Exclude<FieldType, 'pad8' | 'pad16'>] | readonly [null, 'pad8' | 'pad16'])[];

export type Body<H, S extends AttrSpec> = H & { readonly attrs: readonly AttrOf<S>[] };

export interface BodyCodec<H, S extends AttrSpec> extends ValueCodec<Body<H, S>> {
  /** sizeof the C header. */
  readonly headerSize: number;
}

/** Codec for "struct H followed by attributes of table". `name` is the C struct, for errors. */
export function bodyCodec<H extends { readonly [K in keyof H]: number }, S extends AttrSpec>(
  name: string, layout: Layout<H>, table: () => AttrTable<S>,
): BodyCodec<H, S> {
  const headerSize = layout.reduce((n, [, t]) => n + SIZE[t], 0);
  return {
    headerSize,
    encode(value) {
      const head = Buffer.alloc(align4(headerSize));
      let off = 0;
      for (const [field, type] of layout) {
        const v = field === null ? 0 : (value[field] as number);
        if (type === 'u8' || type === 'pad8') head.writeUInt8(v, off);
        else if (type === 'u16' || type === 'pad16') head.writeUInt16LE(v, off);
        else if (type === 'u32') head.writeUInt32LE(v, off);
        else head.writeInt32LE(v, off);
        off += SIZE[type];
      }
      return Buffer.concat([head, table().encode(value.attrs)]);
    },
    decode(data, what) {
      if (data.length < headerSize) throw protocolError(`${what}: ${data.length} bytes is shorter than struct ${name} (${headerSize})`);
      const out: Record<string, unknown> = {};
      let off = 0;
      for (const [field, type] of layout) {
        if (field !== null) {
          out[field] = type === 'u8' ? data.readUInt8(off) : type === 'u16' ? data.readUInt16LE(off)
            : type === 'u32' ? data.readUInt32LE(off) : data.readInt32LE(off);
        }
        off += SIZE[type];
      }
      out['attrs'] = table().parse(data.subarray(Math.min(align4(headerSize), data.length)), what);
      return out as Body<H, S>;
    },
  };
}
