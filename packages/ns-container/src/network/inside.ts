/**
 * A helper process of ours inside the container's user and network namespaces, for what a
 * rootless runner cannot do from where it is: setns(2) into a network namespace needs
 * CAP_SYS_ADMIN in the caller's own user namespace too (netns_install), which an ordinary
 * user's runner lacks, while a process that joins the container's user namespace first (its
 * owner may) has every capability there. The exec stage joins both through the container
 * init's pidfd and keeps those capabilities across exec as ambient ones; then this module
 * runs under Node:
 *
 *   node inside.js lo                      bring `lo` up, exit
 *   node inside.js forward PORT...         fds 3, 4, ... are host listening sockets; splice
 *                                          each connection to 127.0.0.1:PORT in here
 *
 * It never enters the container's mount or pid namespace: it runs our code from the host's
 * filesystem, and no process inside can see it.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { spawn, type NsChild } from 'ns-core';
import { RtnlHandle } from 'ns-net';

/**
 * Joins the container's user and network namespaces and keeps the capabilities it has there.
 * Detached, it outlives us in a session of its own (a detached container's ports), and is
 * stopped by whoever ends the container.
 */
async function spawnInside(pidfd: number, args: readonly string[], fds: Readonly<Record<number, number>> = {}, detach = false): Promise<NsChild> {
  return spawn([process.execPath, __filename, ...args], {
    join: [{ pidfd, kinds: ['user', 'net'] }],
    steps: [{ name: 'inside helper', child: [{ op: 'ambient-all', phase: 'identity', step: 'inside helper' },
      ...(detach ? [{ op: 'setsid' as const, phase: 'final' as const, step: 'inside helper' }] : [])] }],
    ...(detach ? { stdio: ['ignore', 'ignore', 'ignore'] as const, fds } : { stdio: ['ignore', 'ignore', 'pipe'] as const, fds, killWithParent: 'SIGKILL' as const }),
  });
}

async function stderrOf(child: NsChild): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of child.stderr!) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

/**
 * `lo` up in the container's network namespace, from inside it.
 * @throws Error with the helper's message if it failed.
 */
export async function loopbackUpInside(pidfd: number): Promise<void> {
  const child = await spawnInside(pidfd, ['lo']);
  const [message, status] = await Promise.all([stderrOf(child), child.exited]);
  if (status.code !== 0) throw new Error(`loopback: bringing lo up inside failed: ${message || `status ${status.code ?? status.signal}`}`);
}

/**
 * Stops a forwarder: SIGTERM lets it finish open connections (up to DRAIN_MS); SIGKILL after
 * that if it still runs.
 */
export async function stopForwarder(child: NsChild): Promise<void> {
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), DRAIN_MS + 1000);
  await child.exited;
  clearTimeout(timer);
}

/** Forwards each listening socket (its fd) to a port on the container's loopback; `detach`: see spawnInside. */
export async function forwardInside(pidfd: number, listeners: readonly { fd: number; containerPort: number }[], options: { detach?: boolean } = {}): Promise<NsChild> {
  const fds = Object.fromEntries(listeners.map((l, i) => [3 + i, l.fd]));
  const child = await spawnInside(pidfd, ['forward', ...listeners.map((l) => String(l.containerPort))], fds, options.detach ?? false);
  if (options.detach) child.unref();
  else child.stderr!.resume();
  return child;
}

const open = new Set<Socket>();

function splice(client: Socket, port: number): void {
  const upstream = createConnection({ port, host: '127.0.0.1', allowHalfOpen: true });
  for (const s of [client, upstream]) {
    open.add(s);
    s.on('close', () => open.delete(s));
  }
  // An error on either side ends both; a FIN is passed on (half-close) by pipe().
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.pipe(upstream);
  upstream.pipe(client);
}

/**
 * SIGTERM (the container has ended): stop accepting, let open connections finish what the
 * container sent before it ended, for up to DRAIN_MS, then exit.
 */
function drainOnTerm(servers: Server[]): void {
  process.once('SIGTERM', () => {
    for (const s of servers) s.close();
    const deadline = Date.now() + DRAIN_MS;
    const check = () => (open.size === 0 || Date.now() > deadline ? process.exit(0) : setTimeout(check, 5));
    check();
  });
}

export const DRAIN_MS = 2000;

function main(args: readonly string[]): void {
  const [mode, ...rest] = args;
  if (mode === 'lo') {
    RtnlHandle.current().use((rtnl) => rtnl.loopbackUp());
    return;
  }
  if (mode === 'forward') {
    drainOnTerm(rest.map((port, i) => createServer({ allowHalfOpen: true }, (client) => splice(client, Number(port))).listen({ fd: 3 + i })));
    return;
  }
  throw new Error(`inside helper: unknown mode '${mode}'`);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(1);
  }
}
