/**
 * Whole netlink messages: struct nlmsghdr {u32 len, u16 type, u16 flags, u32 seq, u32 pid}
 * followed by a body chosen by the type. A datagram holds one or more messages, each
 * starting at an NLMSG_ALIGN boundary.
 */
import { AttrTable, align4, bytes, protocolError, string, u32, type AttrsOf } from './attr';
import { addrBody, type AddrMessage } from './addr';
import { NLMSG, NLMSGERR_ATTR, NLM_F, RTM } from './constants';
import { linkBody, type LinkMessage } from './link';
import { nsidBody, type NsidMessage } from './nsid';
import { routeBody, type RouteMessage } from './route';

export const NLMSG_HDRLEN = 16;

export interface NlHeader {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  /** Port id: 0 in requests to the kernel, the receiving socket's port id in replies. */
  readonly pid: number;
}

export const EXTACK_ATTRS = new AttrTable('NLMSGERR_ATTR', NLMSGERR_ATTR, {
  /** Human-readable reason (NL_SET_ERR_MSG in the kernel). */
  msg: string,
  /** Byte offset of the offending attribute within the request. */
  offs: u32,
  cookie: bytes,
  missType: u32,
  missNest: u32,
});
export type ExtackAttr = AttrsOf<typeof EXTACK_ATTRS>;

/**
 * struct nlmsgerr: the error (0 for an ACK, else -errno), the request's header, the rest of
 * the request unless NLM_F_CAPPED, then extended-ack attributes if NLM_F_ACK_TLVS.
 */
export interface ErrorBody {
  readonly error: number;
  readonly request: NlHeader & { readonly len: number };
  readonly requestPayload: Buffer;
  readonly extack: readonly ExtackAttr[];
}

/** NLMSG_DONE ends a dump: an int (0, or -errno if the dump failed) and optional extack. */
export interface DoneBody {
  readonly error: number;
  readonly extack: readonly ExtackAttr[];
}

export type NlMessage = NlHeader & (
  | { readonly kind: 'link'; readonly body: LinkMessage }
  | { readonly kind: 'addr'; readonly body: AddrMessage }
  | { readonly kind: 'route'; readonly body: RouteMessage }
  | { readonly kind: 'nsid'; readonly body: NsidMessage }
  | { readonly kind: 'error'; readonly body: ErrorBody }
  | { readonly kind: 'done'; readonly body: DoneBody }
  | { readonly kind: 'other'; readonly body: Buffer }
);

export type MessageKind = NlMessage['kind'];

/** Which body a message type carries. */
export function kindOfType(type: number): MessageKind {
  if (type === NLMSG.ERROR) return 'error';
  if (type === NLMSG.DONE) return 'done';
  if (type >= RTM.NEWLINK && type <= RTM.SETLINK) return 'link';
  if (type >= RTM.NEWADDR && type <= RTM.GETADDR) return 'addr';
  if (type >= RTM.NEWROUTE && type <= RTM.GETROUTE) return 'route';
  if (type >= RTM.NEWNSID && type <= RTM.GETNSID) return 'nsid';
  return 'other';
}

const TYPE_NAMES = new Map<number, string>([
  ...Object.entries(NLMSG).map(([k, v]) => [v, `NLMSG_${k}`] as const),
  ...Object.entries(RTM).map(([k, v]) => [v, `RTM_${k}`] as const),
]);

/** 'RTM_NEWLINK' for 16. */
export function typeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `message type ${type}`;
}

function writeHeader(buf: Buffer, off: number, h: NlHeader & { len: number }): void {
  buf.writeUInt32LE(h.len, off);
  buf.writeUInt16LE(h.type, off + 4);
  buf.writeUInt16LE(h.flags, off + 6);
  buf.writeUInt32LE(h.seq, off + 8);
  buf.writeUInt32LE(h.pid, off + 12);
}

function readHeader(buf: Buffer, off: number): NlHeader & { len: number } {
  return {
    len: buf.readUInt32LE(off), type: buf.readUInt16LE(off + 4), flags: buf.readUInt16LE(off + 6),
    seq: buf.readUInt32LE(off + 8), pid: buf.readUInt32LE(off + 12),
  };
}

function encodeBody(msg: NlMessage): Buffer {
  const expected = kindOfType(msg.type);
  if (msg.kind !== expected) throw protocolError(`${typeName(msg.type)} carries a '${expected}' body, not '${msg.kind}'`);
  switch (msg.kind) {
    case 'link': return linkBody.encode(msg.body);
    case 'addr': return addrBody.encode(msg.body);
    case 'route': return routeBody.encode(msg.body);
    case 'nsid': return nsidBody.encode(msg.body);
    case 'other': return Buffer.from(msg.body);
    case 'done': {
      const head = Buffer.alloc(4);
      head.writeInt32LE(msg.body.error, 0);
      return Buffer.concat([head, EXTACK_ATTRS.encode(msg.body.extack)]);
    }
    case 'error': {
      const b = msg.body;
      const head = Buffer.alloc(4 + NLMSG_HDRLEN);
      head.writeInt32LE(b.error, 0);
      writeHeader(head, 4, b.request);
      const echoed = Buffer.alloc(align4(head.length + b.requestPayload.length));
      head.copy(echoed);
      b.requestPayload.copy(echoed, head.length);
      return Buffer.concat([echoed, EXTACK_ATTRS.encode(b.extack)]);
    }
  }
}

/** One message, nlmsg_len filled in, padded to 4 bytes. */
export function encodeMessage(msg: NlMessage): Buffer {
  const body = encodeBody(msg);
  const buf = Buffer.alloc(align4(NLMSG_HDRLEN + body.length));
  writeHeader(buf, 0, { len: NLMSG_HDRLEN + body.length, type: msg.type, flags: msg.flags, seq: msg.seq, pid: msg.pid });
  body.copy(buf, NLMSG_HDRLEN);
  return buf;
}

function parseBody(h: NlHeader, data: Buffer): NlMessage {
  const what = typeName(h.type);
  const head = { type: h.type, flags: h.flags, seq: h.seq, pid: h.pid };
  switch (kindOfType(h.type)) {
    case 'link': return { ...head, kind: 'link', body: linkBody.decode(data, what) };
    case 'addr': return { ...head, kind: 'addr', body: addrBody.decode(data, what) };
    case 'route': return { ...head, kind: 'route', body: routeBody.decode(data, what) };
    case 'nsid': return { ...head, kind: 'nsid', body: nsidBody.decode(data, what) };
    case 'other': return { ...head, kind: 'other', body: Buffer.from(data) };
    case 'done': {
      if (data.length < 4) throw protocolError(`${what}: ${data.length} bytes, expected at least 4`);
      const extack = h.flags & NLM_F.ACK_TLVS ? EXTACK_ATTRS.parse(data.subarray(4), what) : [];
      return { ...head, kind: 'done', body: { error: data.readInt32LE(0), extack } };
    }
    case 'error': {
      if (data.length < 4 + NLMSG_HDRLEN) throw protocolError(`${what}: ${data.length} bytes is shorter than struct nlmsgerr`);
      const request = readHeader(data, 4);
      // Without NLM_F_CAPPED the kernel echoes the whole request (netlink_ack()).
      const payloadLen = h.flags & NLM_F.CAPPED ? 0 : Math.max(0, request.len - NLMSG_HDRLEN);
      const payloadEnd = 4 + NLMSG_HDRLEN + payloadLen;
      if (payloadEnd > data.length) throw protocolError(`${what}: echoed request of ${request.len} bytes does not fit`);
      const requestPayload = Buffer.from(data.subarray(4 + NLMSG_HDRLEN, payloadEnd));
      const extack = h.flags & NLM_F.ACK_TLVS ? EXTACK_ATTRS.parse(data.subarray(Math.min(align4(payloadEnd), data.length)), what) : [];
      return { ...head, kind: 'error', body: { error: data.readInt32LE(0), request, requestPayload, extack } };
    }
  }
}

/** Every message in a datagram, lengths validated. */
export function parseMessages(buf: Buffer): NlMessage[] {
  const out: NlMessage[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < NLMSG_HDRLEN) throw protocolError(`${buf.length - off} stray bytes after the last message`);
    const h = readHeader(buf, off);
    if (h.len < NLMSG_HDRLEN || off + h.len > buf.length) {
      throw protocolError(`${typeName(h.type)}: nlmsg_len ${h.len} with ${buf.length - off} bytes left`);
    }
    out.push(parseBody(h, buf.subarray(off + NLMSG_HDRLEN, off + h.len)));
    off += align4(h.len);
  }
  return out;
}
