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
import { NsError } from 'ns-core/errors';
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

/**
 * A payload of exactly `size` bytes (nla_get_u32() and its kin read a fixed width; a shorter
 * or longer one is a malformed message). `read` gets `what` for range errors of its own.
 */
export function fixedWidth<T>(size: number, write: (buf: Buffer, value: T) => void, read: (data: Buffer, what: string) => T): ValueCodec<T> {
  return {
    encode(value) {
      const buf = Buffer.alloc(size);
      write(buf, value);
      return buf;
    },
    decode(data, what) {
      if (data.length !== size) throw protocolError(`${what}: expected ${size} bytes, got ${data.length}`);
      return read(data, what);
    },
  };
}

export const u8 = fixedWidth<number>(1, (b, v) => b.writeUInt8(v), (d) => d.readUInt8());
export const u16 = fixedWidth<number>(2, (b, v) => b.writeUInt16LE(v), (d) => d.readUInt16LE());
export const u32 = fixedWidth<number>(4, (b, v) => b.writeUInt32LE(v), (d) => d.readUInt32LE());
export const s32 = fixedWidth<number>(4, (b, v) => b.writeInt32LE(v), (d) => d.readInt32LE());
/** An unsigned 64-bit integer, as a bigint (counters and timers can pass 2^53). */
export const u64 = fixedWidth<bigint>(8, (b, v) => b.writeBigUInt64LE(v), (d) => d.readBigUInt64LE());
/** A 16-bit integer in network byte order (ethertypes such as IFLA_BR_VLAN_PROTOCOL, ports). */
export const be16 = fixedWidth<number>(2, (b, v) => b.writeUInt16BE(v), (d) => d.readUInt16BE());

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

export interface AttrEntry<T> {
  readonly type: number;
  readonly codec: ValueCodec<T>;
}

/**
 * A table's entries by kind: just the codec when the kind is the camelCase of its constant
 * (`rtPriority` for IFA_RT_PRIORITY), so that an attribute is named once; `{ type, codec }`
 * when it needs another type (a nest flag, a name of its own).
 */
export type AttrSpec = Record<string, ValueCodec<unknown> | AttrEntry<unknown>>;

type ValueOf<E> = E extends AttrEntry<infer T> ? T : E extends ValueCodec<infer T> ? T : never;

/** The typed attributes a table knows, plus the raw fallback. */
export type AttrOf<S extends AttrSpec> =
  | { [K in keyof S & string]: { readonly kind: K; readonly value: ValueOf<S[K]> } }[keyof S & string]
  | OtherAttr;

/** The spec of a table (for codecs of messages that carry it). */
export type SpecOf<T> = T extends AttrTable<infer S> ? S : never;
/** The attributes of a table. */
export type AttrsOf<T> = AttrOf<SpecOf<T>>;

/** The constant a kind names: `rtPriority` is RT_PRIORITY, `nfCallIp6tables` NF_CALL_IP6TABLES. */
export function constantName(kind: string): string {
  return kind.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

/** One attribute family (IFLA_*, IFA_*, ...): encodes and parses lists of its attributes. */
export class AttrTable<S extends AttrSpec> {
  readonly #prefix: string;
  /** Every entry with its type, short ones resolved against the family's constants. */
  readonly entries: Readonly<Record<string, AttrEntry<unknown>>>;
  readonly #byType = new Map<number, string>();
  readonly #names: Map<number, string>;

  /**
   * @param prefix the C prefix, for messages ('IFLA')
   * @param names the family's constants (IFLA): the types of short entries, and names in errors
   * @throws Error when a short entry's kind names no constant: a typo fails as the module
   *   loads, not on the wire.
   */
  constructor(prefix: string, names: Readonly<Record<string, number>>, spec: S) {
    this.#prefix = prefix;
    this.entries = Object.fromEntries(Object.entries(spec).map(([kind, e]) => {
      if ('codec' in e) return [kind, e];
      const type = names[constantName(kind)];
      if (type === undefined) throw new Error(`attribute kind '${kind}' names no constant ${prefix}_${constantName(kind)}`);
      return [kind, { type, codec: e }];
    }));
    this.#names = new Map(Object.entries(names).map(([n, v]) => [v, `${prefix}_${n}`]));
    for (const [kind, entry] of Object.entries(this.entries)) this.#byType.set(entry.type, kind);
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
      const entry = this.entries[a.kind];
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
      const entry = this.entries[kind]!;
      const value = entry.codec.decode(payload, `${context}: ${this.nameOf(type)}`);
      out.push({ kind, value } as AttrOf<S>);
    }
    return out;
  }
}

/**
 * A nested attribute whose payload is a list from another table. The table is looked up at
 * use, so tables can nest each other (or themselves) whatever order they are defined in.
 */
export function nested<S extends AttrSpec>(table: () => AttrTable<S>): ValueCodec<readonly AttrOf<S>[]> {
  return {
    encode: (value) => table().encode(value),
    decode: (data, what) => table().parse(data, what),
  };
}

/** A codec defined further down, looked up at use (VETH_INFO_PEER holds a whole link message). */
export function late<T>(codec: () => ValueCodec<T>): ValueCodec<T> {
  return {
    encode: (value) => codec().encode(value),
    decode: (data, what) => codec().decode(data, what),
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
