/**
 * Netlink attributes (struct nlattr, linux/netlink.h): a 4-byte header {u16 nla_len, u16
 * nla_type} then the payload, padded to 4 bytes; nla_len counts header and payload but not the
 * padding. Attributes are typed by tables (one per attribute family): each entry names the
 * attribute and says how its payload is encoded. Unknown types are kept as
 * `{ kind: 'other', type, data }` with the raw type (flag bits included), so that
 * `encode(parse(bytes))` gives back the same bytes.
 *
 * Integers are in host byte order (netlink is host-endian); nstools targets little-endian
 * Linux (x86-64, arm64), which is what the kernel headers' layout means here.
 */
import { NsError } from 'ns-core';
import { formatHwaddr, formatIp, parseHwaddr, parseIp } from './ip';

export const NLA_HDRLEN = 4;
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = 0x3fff;

/** NLA_ALIGN / NLMSG_ALIGN: both align to 4 bytes. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** A malformed message from the kernel (or a fixture): EPROTO with where it was found. */
export function protocolError(message: string): NsError {
  return new NsError({ errno: 71, code: 'EPROTO', message });
}

/** How one attribute payload is written and read. `what` names the attribute in errors. */
export interface ValueCodec<T> {
  encode(value: T): Buffer;
  decode(data: Buffer, what: string): T;
}

function fixedInt(size: 1 | 2 | 4, signed: boolean): ValueCodec<number> {
  return {
    encode(value) {
      const buf = Buffer.alloc(size);
      if (signed) buf.writeIntLE(value, 0, size);
      else buf.writeUIntLE(value, 0, size);
      return buf;
    },
    decode(data, what) {
      if (data.length !== size) throw protocolError(`${what}: expected ${size} bytes, got ${data.length}`);
      return signed ? data.readIntLE(0, size) : data.readUIntLE(0, size);
    },
  };
}

export const u8 = fixedInt(1, false);
export const u16 = fixedInt(2, false);
export const u32 = fixedInt(4, false);
export const s32 = fixedInt(4, true);

/** A NUL-terminated string, as the kernel writes them (nla_put_string); reads stop at the NUL. */
export const string: ValueCodec<string> = {
  encode: (value) => Buffer.from(`${value}\0`),
  decode(data) {
    const nul = data.indexOf(0);
    return data.subarray(0, nul < 0 ? data.length : nul).toString();
  },
};

/** Payload kept as bytes (copied, so the receive buffer can be reused). */
export const bytes: ValueCodec<Buffer> = {
  encode: (value) => Buffer.from(value),
  decode: (data) => Buffer.from(data),
};

/** A link-layer address, "aa:bb:cc:dd:ee:ff". */
export const hwaddr: ValueCodec<string> = {
  encode: (value) => parseHwaddr(value),
  decode: (data) => formatHwaddr(data),
};

/** An IPv4 (4 bytes) or IPv6 (16 bytes) address in its text form. */
export const ipaddr: ValueCodec<string> = {
  encode(value) {
    const ip = parseIp(value);
    if (!ip) throw protocolError(`'${value}' is not an IP address`);
    return ip.bytes;
  },
  decode(data, what) {
    if (data.length !== 4 && data.length !== 16) throw protocolError(`${what}: an address has 4 or 16 bytes, got ${data.length}`);
    return formatIp(data);
  },
};

/** A C struct of unsigned 32-bit fields, in declaration order (ifa_cacheinfo, rta_cacheinfo). */
export function u32Struct<K extends string>(fields: readonly K[]): ValueCodec<Record<K, number>> {
  return {
    encode(value) {
      const buf = Buffer.alloc(fields.length * 4);
      fields.forEach((f, i) => buf.writeUInt32LE(value[f], i * 4));
      return buf;
    },
    decode(data, what) {
      if (data.length !== fields.length * 4) throw protocolError(`${what}: expected ${fields.length * 4} bytes, got ${data.length}`);
      return Object.fromEntries(fields.map((f, i) => [f, data.readUInt32LE(i * 4)])) as Record<K, number>;
    },
  };
}

export interface OtherAttr {
  readonly kind: 'other';
  /** nla_type as received, NLA_F_NESTED / NLA_F_NET_BYTEORDER bits included. */
  readonly type: number;
  readonly data: Buffer;
}

interface AttrEntry<T> {
  readonly type: number;
  readonly codec: ValueCodec<T>;
}

export type AttrSpec = Record<string, AttrEntry<unknown>>;

type ValueOf<E> = E extends AttrEntry<infer T> ? T : never;

/** The typed attributes a table knows, plus the raw fallback. */
export type AttrOf<S extends AttrSpec> =
  | { [K in keyof S & string]: { readonly kind: K; readonly value: ValueOf<S[K]> } }[keyof S & string]
  | OtherAttr;

/** One attribute family (IFLA_*, IFA_*, ...): encodes and parses lists of its attributes. */
export class AttrTable<S extends AttrSpec> {
  readonly #prefix: string;
  readonly #spec: S;
  readonly #byType = new Map<number, string>();
  readonly #names: Map<number, string>;

  /**
   * @param prefix the C prefix, for messages ('IFLA')
   * @param names the family's constants (IFLA) to name attributes in errors
   */
  constructor(prefix: string, names: Readonly<Record<string, number>>, spec: S) {
    this.#prefix = prefix;
    this.#spec = spec;
    this.#names = new Map(Object.entries(names).map(([n, v]) => [v, `${prefix}_${n}`]));
    for (const [kind, entry] of Object.entries(spec)) this.#byType.set(entry.type, kind);
  }

  /** 'IFLA_MTU', or 'IFLA 77' for a type without a name. */
  nameOf(type: number): string {
    const masked = type & NLA_TYPE_MASK;
    return this.#names.get(masked) ?? `${this.#prefix} attribute ${masked}`;
  }

  /** Attributes back to back, each padded to 4 bytes. */
  encode(attrs: readonly AttrOf<S>[]): Buffer {
    return Buffer.concat(attrs.map((a) => {
      if (a.kind === 'other') return encodeAttr((a as OtherAttr).type, (a as OtherAttr).data);
      const entry = this.#spec[a.kind as keyof S];
      if (!entry) throw protocolError(`unknown attribute kind '${a.kind}'`);
      return encodeAttr(entry.type, entry.codec.encode((a as { value: unknown }).value));
    }));
  }

  /** Parses a run of attributes, validating every length; `context` prefixes error messages. */
  parse(data: Buffer, context: string): AttrOf<S>[] {
    const out: AttrOf<S>[] = [];
    for (const { type, payload } of splitAttrs(data, context)) {
      // Only a type written exactly as we would write it becomes typed, so encoding the
      // result reproduces the flag bits; anything else stays raw.
      const kind = this.#byType.get(type);
      if (kind === undefined) {
        out.push({ kind: 'other', type, data: Buffer.from(payload) });
        continue;
      }
      const entry = this.#spec[kind]!;
      const value = entry.codec.decode(payload, `${context}: ${this.nameOf(type)}`);
      out.push({ kind, value } as AttrOf<S>);
    }
    return out;
  }
}

/** A nested attribute whose payload is a list from another table. */
export function nested<S extends AttrSpec>(table: () => AttrTable<S>): ValueCodec<AttrOf<S>[]> {
  return {
    encode: (value) => table().encode(value),
    decode: (data, what) => table().parse(data, what),
  };
}

export function encodeAttr(type: number, payload: Buffer): Buffer {
  const len = NLA_HDRLEN + payload.length;
  if (len > 0xffff) throw protocolError(`attribute ${type}: payload of ${payload.length} bytes does not fit nla_len`);
  const buf = Buffer.alloc(align4(len));
  buf.writeUInt16LE(len, 0);
  buf.writeUInt16LE(type, 2);
  payload.copy(buf, NLA_HDRLEN);
  return buf;
}

function* splitAttrs(data: Buffer, context: string): Generator<{ type: number; payload: Buffer }> {
  let off = 0;
  while (off < data.length) {
    if (data.length - off < NLA_HDRLEN) throw protocolError(`${context}: ${data.length - off} stray bytes after the attributes`);
    const len = data.readUInt16LE(off);
    const type = data.readUInt16LE(off + 2);
    if (len < NLA_HDRLEN || off + len > data.length) {
      throw protocolError(`${context}: attribute ${type & NLA_TYPE_MASK} has nla_len ${len}, ${data.length - off} bytes left`);
    }
    yield { type, payload: data.subarray(off + NLA_HDRLEN, off + len) };
    off += align4(len);
  }
}

/** First attribute of a kind in a list, if any. */
export function attrValue<A extends { kind: string }, K extends Exclude<A['kind'], 'other'>>(
  attrs: readonly A[], kind: K,
): Extract<A, { kind: K }> extends { value: infer V } ? V | undefined : never {
  const found = attrs.find((a) => a.kind === kind) as { value?: unknown } | undefined;
  return found?.value as never;
}

/** An unsigned 64-bit integer, as a bigint (counters and timers can pass 2^53). */
export const u64: ValueCodec<bigint> = {
  encode(value) {
    const buf = Buffer.alloc(8);
    buf.writeBigUInt64LE(value);
    return buf;
  },
  decode(data, what) {
    if (data.length !== 8) throw protocolError(`${what}: expected 8 bytes, got ${data.length}`);
    return data.readBigUInt64LE(0);
  },
};

/** A 16-bit integer in network byte order (ethertypes such as IFLA_BR_VLAN_PROTOCOL). */
export const be16: ValueCodec<number> = {
  encode(value) {
    const buf = Buffer.alloc(2);
    buf.writeUInt16BE(value);
    return buf;
  },
  decode(data, what) {
    if (data.length !== 2) throw protocolError(`${what}: expected 2 bytes, got ${data.length}`);
    return data.readUInt16BE(0);
  },
};
