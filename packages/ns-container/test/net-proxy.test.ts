/**
 * The publish proxy's bounds, from outside: the forwarder a rootless container's ports go
 * through (network/inside.js `forward`, run here as its own process on a listening socket of
 * the test's, in the test's namespaces) and the runner's PortProxy. A server on 127.0.0.1
 * holds every connection it gets; clients count what reaches it.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { forwardArgs, PortProxy } from '../src/network';

const INSIDE = join(__dirname, '../src/network/inside.js');

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

/** A client that says hello and reports what it heard back and whether it was closed. */
function client(port: number): { socket: Socket; heard: Promise<string>; closed: Promise<void> } {
  const socket = createConnection(port, '127.0.0.1');
  let data = '';
  socket.on('data', (d: Buffer) => { data += d.toString(); });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const heard = new Promise<string>((resolve) => {
    socket.on('data', () => data.includes('\n') && resolve(data));
    socket.on('close', () => resolve(data));
  });
  socket.write('hello\n');
  return { socket, heard, closed };
}

describe('publish proxy bounds', function () {
  let upstream: Server;
  let upstreamPort: number;
  const held = new Set<Socket>();
  const children: ChildProcess[] = [];
  const clients: Socket[] = [];

  before(async () => {
    // Echoes the first line back and keeps the connection open.
    upstream = createServer((s) => {
      held.add(s);
      s.on('close', () => held.delete(s));
      s.once('data', (d) => s.write(d));
    });
    upstreamPort = await listen(upstream);
  });

  afterEach(() => {
    for (const c of clients.splice(0)) c.destroy();
    for (const c of children.splice(0)) c.kill('SIGKILL');
  });

  after(() => {
    for (const s of held) s.destroy();
    upstream.close();
  });

  async function forwarder(maxConnections: number, idleMs: number): Promise<number> {
    const listener = createServer();
    const port = await listen(listener);
    const fd = (listener as unknown as { _handle: { fd: number } })._handle.fd;
    const child = spawn(process.execPath, [INSIDE, ...forwardArgs([upstreamPort], { maxConnections, idleMs })], { stdio: ['ignore', 'ignore', 'inherit', fd] });
    children.push(child);
    listener.close();
    // Ready once it answers.
    for (;;) {
      const probe = client(port);
      clients.push(probe.socket);
      if ((await probe.heard) === 'hello\n') {
        probe.socket.destroy();
        await new Promise((r) => setTimeout(r, 50));
        return port;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('the rootless forwarder closes a connection past its cap at once, and serves again when one ends', async () => {
    const port = await forwarder(3, 60_000);
    const first = [client(port), client(port), client(port)];
    clients.push(...first.map((c) => c.socket));
    expect(await Promise.all(first.map((c) => c.heard))).to.deep.equal(['hello\n', 'hello\n', 'hello\n']);
    const past = client(port);
    clients.push(past.socket);
    await past.closed;
    expect(await past.heard).to.equal('');
    first[0]!.socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const again = client(port);
    clients.push(again.socket);
    expect(await again.heard).to.equal('hello\n');
  });

  it('the rootless forwarder closes a connection idle for its timeout, both ends', async () => {
    const port = await forwarder(10, 300);
    const before = held.size;
    const idle = client(port);
    clients.push(idle.socket);
    expect(await idle.heard).to.equal('hello\n');
    expect(held.size).to.equal(before + 1);
    const t0 = Date.now();
    await idle.closed;
    expect(Date.now() - t0).to.be.within(150, 5000);
    for (let i = 0; i < 100 && held.size > before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(held.size).to.equal(before);
  });

  it('the runner\'s PortProxy has the same cap', async () => {
    const hostPort = 40000 + (process.pid % 20000);
    const proxy = await PortProxy.listen([{ hostAddress: '127.0.0.1', hostPort, containerPort: upstreamPort }], { maxConnections: 2, idleMs: 60_000 });
    try {
      proxy.dialer((p) => createConnection({ port: p, host: '127.0.0.1', allowHalfOpen: true }));
      const two = [client(hostPort), client(hostPort)];
      clients.push(...two.map((c) => c.socket));
      expect(await Promise.all(two.map((c) => c.heard))).to.deep.equal(['hello\n', 'hello\n']);
      const past = client(hostPort);
      clients.push(past.socket);
      await past.closed;
      expect(await past.heard).to.equal('');
    } finally {
      await proxy.close();
    }
  });
});
