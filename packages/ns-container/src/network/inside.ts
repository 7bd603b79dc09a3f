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
 *   node inside.js forward MAX IDLE_MS PORT...
 *                                          fds 3, 4, ... are host listening sockets; splice
 *                                          each connection to 127.0.0.1:PORT in here, at most
 *                                          MAX at once per port, closed after IDLE_MS idle
 *
 * It never enters the container's mount or pid namespace: it runs our code from the host's
 * filesystem, and no process inside can see it.
 */
import type { Server, Socket } from 'node:net';
import { NsError, spawn, sys, type NsChild } from 'ns-core';
import { preparedNet, RtnlHandle, type VethOptions } from 'ns-net';
import type { NetworkConfig } from './store';
import { nodeNet, spliceSockets, PROXY_LIMITS, type ProxyLimits } from './publish';

/** The first line a child writes on its stdout ('' and the rest when it ends without one). */
export function firstLine(child: NsChild): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const onData = (d: Buffer) => {
      data += d.toString();
      if (data.includes('\n')) {
        child.stdout!.off('data', onData);
        resolve(data.split('\n')[0]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stdout!.once('end', () => resolve(data));
  });
}

/**
 * Joins the container's user and network namespaces and keeps the capabilities it has there.
 * Detached, it outlives us in a session of its own (a detached container's ports), with no
 * stdio of ours, and is stopped by whoever ends the container.
 */
async function spawnInside(pidfd: number, args: readonly string[], fds: Readonly<Record<number, number>> = {}, stdin = false,
                           detach = false): Promise<NsChild> {
  return spawn([process.execPath, __filename, ...args], {
    join: [{ pidfd, kinds: ['user', 'net'] }],
    steps: [{ name: 'inside helper', child: [{ op: 'ambient-all', phase: 'identity', step: 'inside helper' },
      ...(detach ? [{ op: 'setsid' as const, phase: 'final' as const, step: 'inside helper' }] : [])] }],
    ...(detach ? { stdio: ['ignore', 'ignore', 'ignore'] as const, fds }
      : { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] as const, fds, killWithParent: 'SIGKILL' as const }),
  });
}

/** The helper with its stdout readable (and, with `stdin`, its stdin writable), for rootless.ts. */
export function helperInside(pidfd: number, args: readonly string[], options: { stdin?: boolean } = {}): Promise<NsChild> {
  return spawnInside(pidfd, args, {}, options.stdin ?? false);
}

async function stderrOf(child: NsChild): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of child.stderr!) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

/**
 * Waits for the helper's end.
 * @throws NsError with the helper's message (and its code, if it said one) if it failed.
 */
export async function outputOf(child: NsChild, what: string): Promise<void> {
  child.stdout?.resume();
  const [message, status] = await Promise.all([stderrOf(child), child.exited]);
  if (status.code === 0) return;
  const code = /^([A-Z][A-Z0-9]+): /.exec(message)?.[1] ?? 'EIO';
  throw new NsError({ errno: 5, code, message: `${what}: ${message.replace(/^[A-Z][A-Z0-9]+: /, '') || `status ${status.code ?? status.signal}`}` });
}

/**
 * `lo` up in the container's network namespace, from inside it.
 * @throws Error with the helper's message if it failed.
 */
export async function loopbackUpInside(pidfd: number): Promise<void> {
  const child = await spawnInside(pidfd, ['lo']);
  child.stdout!.resume();
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

/** The forwarder's words: `forward MAX_CONNECTIONS IDLE_MS PORT...`. */
export function forwardArgs(ports: readonly number[], limits: ProxyLimits = PROXY_LIMITS): string[] {
  return ['forward', String(limits.maxConnections), String(limits.idleMs), ...ports.map(String)];
}

/** Forwards each listening socket (its fd) to a port on the container's loopback; `detach`: see spawnInside. */
export async function forwardInside(pidfd: number, listeners: readonly { fd: number; containerPort: number }[], limits: ProxyLimits = PROXY_LIMITS,
                                    options: { detach?: boolean } = {}): Promise<NsChild> {
  const fds = Object.fromEntries(listeners.map((l, i) => [3 + i, l.fd]));
  const child = await spawnInside(pidfd, forwardArgs(listeners.map((l) => l.containerPort), limits), fds, false, options.detach ?? false);
  if (options.detach) {
    child.unref();
  } else {
    child.stdout!.resume();
    child.stderr!.resume();
  }
  return child;
}

const open = new Set<Socket>();

function splice(client: Socket, port: number, idleMs: number): void {
  spliceSockets(client, nodeNet().createConnection({ port, host: '127.0.0.1', allowHalfOpen: true }), open, idleMs);
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
    const [maxConnections, idleMs, ...ports] = rest.map(Number);
    drainOnTerm(ports.map((port, i) => {
      const server = nodeNet().createServer({ allowHalfOpen: true }, (client) => splice(client, port, idleMs!));
      server.maxConnections = maxConnections!;
      return server.listen({ fd: 3 + i });
    }));
    return;
  }
  if (mode === 'network' || mode === 'network-rm') {
    // Loaded only here: the forwarder needs none of it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { ensureNetwork, removeNetworkObjects } = require('./bridge') as typeof import('./bridge');
    const config = JSON.parse(rest[0]!) as NetworkConfig;
    (mode === 'network' ? ensureNetwork : removeNetworkObjects)(config);
    return;
  }
  if (mode === 'attach') {
    attach(JSON.parse(rest[0]!) as VethOptions);
    return;
  }
  throw new Error(`inside helper: unknown mode '${mode}'`);
}

/**
 * A container's network namespace, made here (owned by the user namespace we are in) with its
 * veth on the bridge; then this process's main thread moves into it (setns(2) of a network
 * namespace is per thread, and a pidfd join takes the thread group leader's), says "ready",
 * and waits for its stdin to close while the container joins.
 */
function attach(veth: VethOptions): void {
  const { join } = preparedNet({ loopback: false, veth });
  const netns = join[0]!;
  sys.setns(netns.fd, ['net']);
  netns.close();
  RtnlHandle.current().use((rtnl) => rtnl.loopbackUp());
  process.stdout.write('ready\n');
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}


if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    // The code first, for outputOf(): callers branch on it.
    const code = (e as NsError).code;
    process.stderr.write(`${code && code !== 'EIO' ? `${code}: ` : ''}${(e as Error).message}\n`);
    process.exit(1);
  }
}
