/**
 * Ports published by a proxy in the runner: the runner listens on the host port and opens a
 * connection to the container for each client, to its address (veth or bridge), or (with no
 * address) from a socket created inside its network namespace, which keeps that namespace for
 * life (socket(7) sockets belong to the netns they were made in). No iptables program may run.
 */
import type * as Net from 'node:net';
import type { Server, Socket, SocketConstructorOpts } from 'node:net';
import { NsError, runInside, sys, usageError, type Namespace } from 'ns-core';
import { AF_INET, ipv4ToInt } from './addresses';

/** node:net when a port is published: loading it costs every container start ~1.5 ms, and most publish nothing. */
export const nodeNet = (): typeof Net => require('node:net') as typeof Net;

const SOCK_STREAM = 1;

/** -p/--publish: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp]. */
export interface PublishSpec {
  readonly hostAddress: string;
  readonly hostPort: number;
  readonly containerPort: number;
}

function port(option: string, text: string, spec: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw usageError(`${option}: '${spec}': '${text}' is not a port (1-65535)`);
  return n;
}

export function parsePublish(spec: string): PublishSpec {
  let text = spec;
  const slash = text.lastIndexOf('/');
  if (slash >= 0) {
    const proto = text.slice(slash + 1);
    if (proto !== 'tcp') throw usageError(`--publish: '${spec}': only tcp is forwarded`);
    text = text.slice(0, slash);
  }
  const parts = text.split(':');
  if (parts.length < 2 || parts.length > 3) throw usageError(`--publish: '${spec}' is not [HOST_IP:]HOST_PORT:CONTAINER_PORT`);
  const hostAddress = parts.length === 3 ? parts[0]! : '0.0.0.0';
  if (parts.length === 3) ipv4ToInt(hostAddress, '--publish');
  return { hostAddress, hostPort: port('--publish', parts.at(-2)!, spec), containerPort: port('--publish', parts.at(-1)!, spec) };
}

/**
 * What bounds a proxy: connections at once per published port (past it, a client's
 * connection is closed as soon as it is accepted: net.Server maxConnections), and how long a
 * connection may carry nothing either way before both ends are closed. Neither docker-proxy
 * nor podman's rootlessport bounds TCP; an unbounded proxy lets one client hold fds and memory
 * of the runner without end.
 */
export interface ProxyLimits {
  readonly maxConnections: number;
  readonly idleMs: number;
}

export const PROXY_LIMITS: ProxyLimits = { maxConnections: 512, idleMs: 15 * 60_000 };

/**
 * Splices a client to its upstream connection: bytes both ways (pipe(), which passes a FIN on
 * as a half-close), an error on either side ends both, and so does `idleMs` with nothing
 * read or written on one of them. Nagle off on both: a reply written in pieces (headers, then
 * body) is passed on as it comes instead of waiting for the client's ACK of the first piece.
 */
export function spliceSockets(client: Socket, upstream: Socket, open: Set<Socket>, idleMs: number): void {
  for (const s of [client, upstream]) {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.setNoDelay(true);
    s.setTimeout(idleMs, () => {
      client.destroy();
      upstream.destroy();
    });
  }
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.pipe(upstream);
  upstream.pipe(client);
}

/** How the proxy reaches a container port: a connecting socket, or undefined if not (yet) possible. */
export type Dialer = (containerPort: number) => Socket | undefined;

/**
 * Dials 127.0.0.1 inside the container's network namespace: the socket is created during a
 * brief, synchronous stay in that namespace (runInside), then connected from here.
 */
export function netnsDialer(netns: Namespace): Dialer {
  return (containerPort) => {
    const fd = runInside([netns], () => sys.socket.socket(AF_INET, SOCK_STREAM, 0));
    // manualStart: a Socket made from an fd starts reading at once, and on a socket that is not
    // connected yet that read can end it (EOF, ENOTCONN) while the connect still goes through,
    // losing what the container sends. Reading then starts when the connection is made.
    return new (nodeNet().Socket)({ fd, readable: true, writable: true, allowHalfOpen: true, manualStart: true } as SocketConstructorOpts)
      .connect(containerPort, '127.0.0.1');
  };
}

/** TCP listeners on the host that splice each connection to the container. */
export class PortProxy {
  readonly #servers: Server[];
  readonly #ports: number[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #limits: ProxyLimits;
  #dial: Dialer | undefined;

  private constructor(servers: Server[], limits: ProxyLimits) {
    this.#servers = servers;
    this.#limits = limits;
  }

  /**
   * Listens on every host port first, so a taken port fails the run before the container
   * exists; connections that arrive before `dialer()` is set are refused (closed).
   * @throws NsError EADDRINUSE/EACCES naming the port.
   */
  static async listen(specs: readonly PublishSpec[], limits: ProxyLimits = PROXY_LIMITS): Promise<PortProxy> {
    const proxy = new PortProxy([], limits);
    try {
      for (const spec of specs) {
        proxy.#servers.push(await proxy.#listenOne(spec));
        proxy.#ports.push(spec.containerPort);
      }
    } catch (e) {
      await proxy.close();
      throw e;
    }
    return proxy;
  }

  #listenOne(spec: PublishSpec): Promise<Server> {
    const server = nodeNet().createServer({ allowHalfOpen: true }, (client) => this.#splice(client, spec.containerPort));
    server.maxConnections = this.#limits.maxConnections;
    return new Promise((resolve, reject) => {
      server.once('error', (e) => reject(NsError.from(e, { syscall: 'listen', step: '--publish', path: `${spec.hostAddress}:${spec.hostPort}` })));
      server.listen({ port: spec.hostPort, host: spec.hostAddress, exclusive: true }, () => resolve(server));
    });
  }

  dialer(dial: Dialer): void {
    this.#dial = dial;
  }

  /**
   * The listening sockets' fds with their container ports, for a forwarder inside the
   * container (see inside.ts) to accept on; close() afterwards leaves the forwarder's copies.
   */
  listeners(): { fd: number; containerPort: number }[] {
    return this.#servers.map((server, i) => {
      // Node keeps a listening server's fd on its handle; it has no public accessor.
      const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (fd === undefined || fd < 0) throw new NsError({ errno: 9, code: 'EBADF', message: '--publish: no fd for a listening socket' });
      return { fd, containerPort: this.#ports[i]! };
    });
  }

  #splice(client: Socket, containerPort: number): void {
    let upstream: Socket | undefined;
    try {
      upstream = this.#dial?.(containerPort);
    } catch (e) {
      // ENOENT/EINVAL from entering a namespace that is going away (the container is exiting):
      // refuse the client like a closed port would. Anything else is a bug worth crashing on.
      const code = (e as NsError).code;
      if (code !== 'ENOENT' && code !== 'EINVAL' && code !== 'ESRCH') throw e;
      client.destroy();
      return;
    }
    if (!upstream) {
      client.destroy();
      return;
    }
    spliceSockets(client, upstream, this.#sockets, this.#limits.idleMs);
  }

  /**
   * Stops listening, lets open connections finish for up to `drainMs` (what a container sent
   * just before it ended is still on its way to the client), then cuts what is left.
   */
  async close(drainMs = 0): Promise<void> {
    const closed = Promise.all(this.#servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.#servers.length = 0;
    const deadline = Date.now() + drainMs;
    while (this.#sockets.size && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    for (const s of this.#sockets) s.destroy();
    await closed;
  }
}
