/**
 * A netlink socket bound to one network namespace, speaking request/ACK and dumps:
 * NETLINK_ROUTE by default, NETLINK_NETFILTER for nf_tables (whose batches go through
 * transact()).
 *
 *   caller                         kernel (the socket's netns)
 *     | -- request, seq N, NLM_F_ACK ---->|
 *     |<-- replies (GET by name) --------- |
 *     |<-- NLMSG_ERROR error=0 (ACK) ----- |   or error=-errno + extended-ack message
 *
 *     | -- request, seq N, NLM_F_DUMP ---->|
 *     |<-- NLM_F_MULTI messages, datagram by datagram
 *     |<-- NLMSG_DONE -------------------- |
 *
 * Calls are synchronous (koffi through ns-core): rtnetlink answers at once, and SO_RCVTIMEO
 * bounds every wait so a missing answer can never block the event loop for good.
 * A netlink socket talks to the namespace it was created in for its whole life
 * (netlink(7); sock_net() is fixed at creation), so the socket is opened during a brief
 * setns into the target namespace and used from anywhere afterwards.
 */
import * as sys from 'ns-core/sys';
import { NsError, errnoMessage, errnoName } from 'ns-core/errors';
import { withHandle } from 'ns-core/handle';
import { runInside } from 'ns-core/inside';
import { Namespace } from 'ns-core/namespace';
import { NETLINK_ROUTE, NLM_F, NLMSG } from '../codec/constants';
import { encodeMessage, parseMessages, typeName, type ExtackAttr, type NlMessage } from '../codec/message';

/** A message to send: the transport fills in seq and pid. */
export type Outgoing = NlMessage extends infer M ? M extends NlMessage ? Omit<M, 'seq' | 'pid'> : never : never;

export interface NetlinkSocketOptions {
  /** Receive timeout for each wait, in milliseconds (default 5000). */
  readonly timeoutMs?: number;
  /** The netlink family (default NETLINK_ROUTE; NETLINK_NETFILTER for nf_tables). */
  readonly protocol?: number;
}

const DEFAULT_TIMEOUT_MS = 5000;
/** A dump the kernel flags as interrupted (NLM_F_DUMP_INTR) is retried this often. */
const DUMP_ATTEMPTS = 3;
const sockaddrNl = (): Buffer => {
  // struct sockaddr_nl { sa_family_t nl_family; unsigned short nl_pad; __u32 nl_pid; __u32 nl_groups; }
  // nl_pid 0: the kernel assigns a unique port id at bind (netlink(7)).
  const addr = Buffer.alloc(12);
  addr.writeUInt16LE(sys.socket.AF_NETLINK, 0);
  return addr;
};

/**
 * The NsError for a kernel's NLMSG_ERROR, with its extended-ack text appended. `request` is
 * the request's nlmsg_type (named as rtnetlink's), or the name to report.
 */
export function kernelError(errno: number, what: string, request: number | string, extack: readonly ExtackAttr[] = []): NsError {
  const msg = extack.find((a) => a.kind === 'msg')?.value;
  const code = errnoName(errno);
  const err = new NsError({
    errno, code, syscall: typeof request === 'string' ? request : typeName(request),
    message: `${what} failed: ${code} (${errnoMessage(errno)})${msg ? `: ${msg}` : ''}`,
  });
  // The kernel's own words, for a CLI that prints them as ip does ("Error: ...").
  if (msg) Object.defineProperty(err, 'extack', { value: msg, enumerable: true });
  return err;
}

/** The kernel's extended-ack message carried by an error from kernelError(), if any. */
export function extackOf(err: unknown): string | undefined {
  return err instanceof NsError ? (err as NsError & { extack?: string }).extack : undefined;
}

export class NetlinkSocket {
  /** The port id the kernel gave us; replies carry it in nlmsg_pid. */
  readonly portId: number;
  readonly timeoutMs: number;
  #fd: number;
  #seq: number;
  #buf = Buffer.alloc(32 * 1024);
  readonly #peek = Buffer.alloc(16);

  private constructor(fd: number, portId: number, timeoutMs: number) {
    this.#fd = fd;
    this.portId = portId;
    this.timeoutMs = timeoutMs;
    // Sequence numbers start from the clock, as iproute2 does, so that replies to an earlier
    // socket on a reused port id cannot be mistaken for ours.
    this.#seq = Math.floor(Date.now() / 1000) >>> 0;
  }

  /**
   * Opens a socket in the caller's network namespace, or in `netns` (entered briefly with
   * setns and left again before returning).
   * @throws NsError from socket/setsockopt/bind, or setns when entering netns.
   */
  static open(netns?: Namespace, options: NetlinkSocketOptions = {}): NetlinkSocket {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (netns && netns.kind !== 'net') {
      throw new NsError({ errno: 22, code: 'EINVAL', message: `a netlink socket needs a net namespace, not ${netns.kind}` });
    }
    const protocol = options.protocol ?? NETLINK_ROUTE;
    const fd = netns ? runInside([netns], () => NetlinkSocket.#create(protocol)) : NetlinkSocket.#create(protocol);
    try {
      const S = sys.socket;
      // Extended ack: the kernel explains EINVAL & co. in words (NLMSGERR_ATTR_MSG).
      S.setsockopt(fd, S.SOL_NETLINK, S.NETLINK_EXT_ACK, 1);
      // Strict checking makes the kernel honour the filters in dump requests (ifindex, table)
      // and reject malformed ones instead of ignoring them (Linux 4.20).
      S.setsockopt(fd, S.SOL_NETLINK, S.NETLINK_GET_STRICT_CHK, 1);
      const tv = Buffer.alloc(16); // struct timeval { long tv_sec; long tv_usec; }
      tv.writeBigInt64LE(BigInt(Math.floor(timeoutMs / 1000)), 0);
      tv.writeBigInt64LE(BigInt((timeoutMs % 1000) * 1000), 8);
      S.setsockopt(fd, S.SOL_SOCKET, S.SO_RCVTIMEO, tv);
      S.bind(fd, sockaddrNl());
      const portId = S.getsockname(fd, 12).readUInt32LE(4);
      return new NetlinkSocket(fd, portId, timeoutMs);
    } catch (e) {
      sys.closeFd(fd);
      throw e;
    }
  }

  static #create(protocol: number): number {
    return sys.socket.socket(sys.socket.AF_NETLINK, sys.socket.SOCK_RAW, protocol);
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  get fd(): number {
    if (this.#fd < 0) throw new NsError({ errno: 9, code: 'EBADF', syscall: 'send', message: 'the netlink socket is closed' });
    return this.#fd;
  }

  /**
   * Sends a request and waits for the kernel's answer. With `ack` (the default) the request
   * carries NLM_F_ACK and this returns the replies that came before the ACK (the object a GET
   * asked for); without, it returns the first reply, as for a GET that always answers.
   * @param what the request in words, for errors ("ip link add veth0")
   * @throws NsError with the kernel's errno and extended-ack message; ETIMEDOUT.
   */
  request(msg: Outgoing, what: string, options: { readonly ack?: boolean } = {}): NlMessage[] {
    const ack = options.ack ?? true;
    const seq = this.#send(msg, NLM_F.REQUEST | (ack ? NLM_F.ACK : 0));
    const replies: NlMessage[] = [];
    for (;;) {
      for (const m of this.#receive(seq, seq, typeName(msg.type), what)) {
        if (m.kind === 'error') {
          if (m.body.error !== 0) throw kernelError(-m.body.error, what, msg.type, m.body.extack);
          return replies;
        }
        replies.push(m);
      }
      if (!ack) return replies;
    }
  }

  /**
   * Sends a dump request (NLM_F_DUMP) and collects every message up to NLMSG_DONE. A dump the
   * kernel marks as interrupted (the table changed under it) is retried, then reported.
   * @throws NsError with the kernel's errno; EINTR if the dump stayed inconsistent.
   */
  dump(msg: Outgoing, what: string, options: { readonly syscall?: string } = {}): NlMessage[] {
    const syscall = options.syscall ?? typeName(msg.type);
    for (let attempt = 1; ; attempt++) {
      const seq = this.#send(msg, NLM_F.REQUEST | NLM_F.DUMP);
      const out: NlMessage[] = [];
      let interrupted = false;
      let done = false;
      while (!done) {
        for (const m of this.#receive(seq, seq, syscall, what)) {
          if (m.flags & NLM_F.DUMP_INTR) interrupted = true;
          if (m.kind === 'error') throw kernelError(-m.body.error, what, syscall, m.body.extack);
          if (m.kind === 'done') {
            if (m.body.error < 0) throw kernelError(-m.body.error, what, syscall, m.body.extack);
            done = true;
            break;
          }
          out.push(m);
        }
      }
      if (!interrupted) return out;
      if (attempt === DUMP_ATTEMPTS) {
        throw new NsError({ errno: 4, code: 'EINTR', syscall,
                            message: `${what}: the kernel interrupted the dump ${DUMP_ATTEMPTS} times (NLM_F_DUMP_INTR); the table kept changing` });
      }
    }
  }

  /**
   * Sends `count` messages as one datagram, encoded by `encode` with the sequence numbers
   * firstSeq..firstSeq+count-1, and returns every answer to any of them, NLMSG_ERROR
   * included (not thrown: what an error means in a batch is the caller's to say), up to and
   * including the first message for which `last` is true. nfnetlink batches need this: the
   * kernel reads a batch from one skb, so it must arrive in one datagram
   * (nfnetlink_rcv_batch()).
   * @param syscall the name an ETIMEDOUT reports ("NFNL_MSG_BATCH_BEGIN")
   * @throws NsError from send/recv; ETIMEDOUT.
   */
  transact(count: number, encode: (firstSeq: number) => Buffer, what: string, syscall: string, last: (m: NlMessage) => boolean): NlMessage[] {
    const first = (this.#seq + 1) >>> 0;
    this.#seq = (this.#seq + count) >>> 0;
    sys.socket.send(this.fd, encode(first));
    const replies: NlMessage[] = [];
    for (;;) {
      for (const m of this.#receive(first, this.#seq, syscall, what)) {
        replies.push(m);
        if (last(m)) return replies;
      }
    }
  }

  close(): void {
    if (this.#fd >= 0) sys.closeFd(this.#fd);
    this.#fd = -1;
  }

  #send(msg: Outgoing, flags: number): number {
    this.#seq = (this.#seq + 1) >>> 0;
    const bytes = encodeMessage({ ...msg, flags: msg.flags | flags, seq: this.#seq, pid: 0 } as NlMessage);
    sys.socket.send(this.fd, bytes);
    return this.#seq;
  }

  /** One datagram's messages that answer the requests `first`..`last`, checked for seq and port id. */
  #receive(first: number, last: number, syscall: string, what: string): NlMessage[] {
    for (;;) {
      // MSG_PEEK|MSG_TRUNC returns the datagram's full size, so the real read never truncates.
      const size = this.#recv(this.#peek, sys.socket.MSG_PEEK | sys.socket.MSG_TRUNC, syscall, what);
      if (size > this.#buf.length) this.#buf = Buffer.alloc(size);
      const n = this.#recv(this.#buf, 0, syscall, what);
      const mine: NlMessage[] = [];
      for (const m of parseMessages(this.#buf.subarray(0, n))) {
        if (m.pid !== this.portId) {
          throw new NsError({ errno: 71, code: 'EPROTO', syscall: 'recv',
                              message: `${what}: netlink message for port ${m.pid}, ours is ${this.portId}` });
        }
        const ahead = (m.seq - first) >>> 0;
        // An answer to an earlier request that timed out; it can only come before ours.
        if (ahead > ((last - first) >>> 0) && ((first - m.seq) >>> 0) < 0x80000000) continue;
        if (ahead > ((last - first) >>> 0)) {
          throw new NsError({ errno: 71, code: 'EPROTO', syscall: 'recv', message: `${what}: netlink reply with seq ${m.seq}, expected ${first === last ? first : `${first}..${last}`}` });
        }
        if (m.type === NLMSG.NOOP) continue;
        if (m.type === NLMSG.OVERRUN) throw new NsError({ errno: 105, code: 'ENOBUFS', syscall: 'recv', message: `${what}: netlink overrun` });
        mine.push(m);
      }
      if (mine.length) return mine;
    }
  }

  #recv(buf: Buffer, flags: number, syscall: string, what: string): number {
    for (;;) {
      try {
        return sys.socket.recv(this.fd, buf, flags);
      } catch (e) {
        const err = e as NsError;
        // SO_RCVTIMEO makes recv fail with EINTR on any signal even under SA_RESTART (signal(7)).
        if (err.code === 'EINTR') continue;
        if (err.code === 'EAGAIN') {
          throw new NsError({ errno: 110, code: 'ETIMEDOUT', syscall,
                              message: `${what}: no answer from the kernel within ${this.timeoutMs} ms` });
        }
        throw e;
      }
    }
  }
}

/**
 * What a verb handle is: one netlink socket, bound to the network namespace it was opened in,
 * usable for a scope (use) and closed once (close). RtnlHandle and NftHandle add their verbs.
 */
export abstract class SocketHandle {
  protected constructor(readonly socket: NetlinkSocket) {}

  /** Runs fn with this handle and closes it afterwards. */
  use<T>(fn: (h: this) => T): T {
    return withHandle(this, fn);
  }

  close(): void {
    this.socket.close();
  }
}
