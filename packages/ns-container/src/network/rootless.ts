/**
 * Rootless networks live in one network namespace per user, as podman's rootless netns: made
 * on first use, owned by a user namespace of the user's (their /etc/subuid block mapped as a
 * rootless container's), held by a small holder process (a `sleep infinity` in a session of
 * its own, no Node), with egress through pasta, recorded as pid + pidfd inode in the user's state directory and made
 * again when that process is gone. Bridges, their addresses and nf_tables rules are made
 * inside it, where the user's namespace gives the capabilities.
 *
 * An ordinary user's process cannot open a netlink socket with CAP_NET_ADMIN there from
 * outside (rtnetlink checks the opener's capabilities in the namespace's owner), nor setns(2)
 * a multi-threaded Node into a user namespace: the work inside is done by inside.js, run by
 * the exec stage after joining the holder's user and network namespaces (ambient capabilities
 * kept), one Node start per change.
 *
 *   const holder = rootlessNetns();              // made or found; pidfd to join
 *   await ensureNetworkInside(holder, config);   // bridge, gateway, rules in there
 *   const att = await attachInside(holder, veth);// a container netns with its veth on the bridge
 *   spawn(argv, { join: [{ pidfd: att.pidfd, kinds: ['user', 'net'] }], ... })
 *   att.release();                               // the helper goes; the netns lives with the container
 *
 * Egress: pasta, when installed, attached to the namespace when it is made (startPasta), and
 * ended when the namespace is found gone (endStalePasta).
 */
import { closeSync, fstatSync, openSync, readFileSync, rmSync } from 'node:fs';
import { constants } from 'node:os';
import { posix } from 'node:path';
import { NsError, spawn, sys, type NsChild } from 'ns-core';
import type { VethOptions } from 'ns-net';
import { planIdentity } from '../runner/identity';
import { defaultStateRoot, isAlive, privateDir, processRef, type ProcessRef } from '../runner/state';
import { firstLine, helperInside, outputOf } from './inside';
import { PASTA_ARGS, pastaPath } from './pasta';
import { replaceFile, withLock, type NetworkConfig } from './store';

export interface RootlessNetns {
  readonly holder: ProcessRef;
  /** A pidfd of the holder, to join its user and network namespaces; close() closes it. */
  readonly pidfd: number;
  /** Whether this call made it. */
  readonly made: boolean;
  close(): void;
}

/** The holder's record in the user's state directory. */
export function holderFile(stateRoot = defaultStateRoot()): string {
  return posix.join(stateRoot, 'netns.json');
}

/** The holder, and pasta giving its namespace egress (when it runs). */
interface HolderRecord extends ProcessRef {
  readonly pasta?: ProcessRef;
}

function readHolder(file: string): HolderRecord | undefined {
  try {
    const ref = JSON.parse(readFileSync(file, 'utf8')) as HolderRecord;
    return typeof ref.pid === 'number' && typeof ref.inode === 'number' ? ref : undefined;
  } catch (e) {
    // None yet, or a torn write of a killed creator: made again.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || e instanceof SyntaxError) return undefined;
    throw NsError.from(e, { syscall: 'open', path: file });
  }
}

/**
 * The user's rootless network namespace: the live holder's, or a new one (under the state
 * directory's lock, so concurrent runs make one).
 */
export async function rootlessNetns(stateRoot = defaultStateRoot()): Promise<RootlessNetns> {
  privateDir(stateRoot);
  const file = holderFile(stateRoot);
  const found = withLock(posix.join(stateRoot, 'netns.lock'), () => {
    const ref = readHolder(file);
    if (ref && isAlive(ref)) return ref;
    endStalePasta(ref);
    return undefined;
  });
  if (found) return opened(found, false);
  // Made outside the lock's callback (spawn is async), then recorded under it: a concurrent
  // maker that recorded first wins, and ours goes.
  const child = await spawnHolder();
  const mine = processRef(child.pid);
  const winner = withLock(posix.join(stateRoot, 'netns.lock'), () => {
    const ref = readHolder(file);
    if (ref && isAlive(ref)) return ref;
    replaceFile(file, `${JSON.stringify(mine)}\n`, 0o600);
    return mine;
  });
  if (winner !== mine) {
    child.kill('SIGKILL');
    await child.exited;
    return opened(winner, false);
  }
  child.unref();
  // Without egress (no pasta, or pasta could not start) the networks still work among themselves.
  const pasta = await startPasta(mine.pid, stateRoot);
  if (pasta) {
    withLock(posix.join(stateRoot, 'netns.lock'), () => {
      if (readHolder(file)?.pid === mine.pid) replaceFile(file, `${JSON.stringify({ ...mine, pasta })}\n`, 0o600);
    });
  }
  return opened(mine, true);
}

/**
 * Egress for the namespace, as podman's rootless netns has it: pasta joins the holder's user
 * and network namespaces (by its pid), makes a tap interface there with the host's addresses
 * and routes (--config-net), and carries its connections through sockets of the user's on
 * the host; the gateway's address stands for the host's loopback (--map-gw, the default).
 * It forwards no port in (none of -t/-u/-T/-U). It forks into the background when it is
 * ready: its first process's exit is the signal, and the pid file (-P) names the one that
 * stays. Without pasta, or where it cannot open /dev/net/tun (a host that made it 0600), the
 * namespace has no egress (pasta's reason in pasta.log of the state directory); its networks
 * still work.
 * @returns the pasta that runs, if one does.
 */
export async function startPasta(holderPid: number, stateRoot = defaultStateRoot()): Promise<ProcessRef | undefined> {
  const pasta = pastaPath();
  if (!pasta) return undefined;
  const pidFile = posix.join(stateRoot, 'pasta.pid');
  // Its output to a file, not a pipe (the process that stays in the background would hold a
  // pipe open): why there is no egress, when pasta could not start, is in pasta.log.
  const log = openSync(posix.join(stateRoot, 'pasta.log'), 'w', 0o600);
  let ok: boolean;
  try {
    const child = await spawn([pasta, ...PASTA_ARGS, '-P', pidFile, String(holderPid)], {
      stdio: ['ignore', log, log], cwd: '/',
    });
    ok = (await child.exited).code === 0;
  } finally {
    closeSync(log);
  }
  try {
    return ok ? processRef(Number(readFileSync(pidFile, 'utf8').trim())) : undefined;
  } catch {
    // Gone already (it could not keep the namespace): no egress.
    return undefined;
  } finally {
    rmSync(pidFile, { force: true });
  }
}

/**
 * pasta of a holder that is gone: this pasta (Debian 12's) watches a namespace it was given
 * by pid for nothing, so it would hold the dead namespace (and its tap) open for ever.
 */
function endStalePasta(holder: HolderRecord | undefined): void {
  if (!holder?.pasta || !isAlive(holder.pasta)) return;
  let pidfd: number;
  try {
    pidfd = sys.pidfdOpen(holder.pasta.pid);
  } catch {
    // Ended meanwhile.
    return;
  }
  try {
    // Signalled through a pidfd of the recorded process (pidfs inode), not whatever has its pid now.
    if (fstatSync(pidfd).ino === holder.pasta.inode) sys.pidfdSendSignal(pidfd, constants.signals.SIGTERM);
  } finally {
    sys.closeFd(pidfd);
  }
}

function opened(holder: ProcessRef, made: boolean): RootlessNetns {
  const pidfd = sys.pidfdOpen(holder.pid);
  // Opened, then checked: a pid reused in between is not joined.
  if (!isAlive(holder)) {
    sys.closeFd(pidfd);
    throw new NsError({ errno: 3, code: 'ESRCH', message: 'the rootless network namespace\'s holder ended while it was opened; run again' });
  }
  return { holder, pidfd, made, close: () => sys.closeFd(pidfd) };
}

/**
 * The holder: new user (the rootless container's maps) and network namespaces, lo up, in a
 * session of its own, not killed with us.
 */
async function spawnHolder(): Promise<NsChild> {
  const identity = planIdentity({}, { passwd: '', group: '' });
  return spawn(['/bin/sleep', 'infinity'], {
    steps: [identity.userStep, { name: 'rootless netns', create: ['net'], child: [
      { op: 'link-up', name: 'lo', phase: 'namespaces', step: 'rootless netns' },
      { op: 'setsid', phase: 'final', step: 'rootless netns' }] }],
    stdio: 'ignore', cwd: '/',
  });
}

/** Makes the network's bridge, gateway and rules exist inside the rootless namespace. */
export async function ensureNetworkInside(netns: Pick<RootlessNetns, 'pidfd'>, config: NetworkConfig): Promise<void> {
  await outputOf(await helperInside(netns.pidfd, ['network', JSON.stringify(config)]), 'rootless network');
}

/** Deletes the network's rules and bridge inside the rootless namespace. */
export async function removeNetworkInside(netns: Pick<RootlessNetns, 'pidfd'>, config: NetworkConfig): Promise<void> {
  await outputOf(await helperInside(netns.pidfd, ['network-rm', JSON.stringify(config)]), 'rootless network rm');
}

export interface RootlessAttachment {
  /** A pidfd of the helper whose user and network namespaces the container joins. */
  readonly pidfd: number;
  /** Lets the helper go (after the container joined: the namespace lives with it). */
  release(): Promise<void>;
}

/**
 * A container network namespace made inside the rootless one: a veth whose host end is a
 * port of the network's bridge there, its peer `eth0` addressed and routed. The helper that
 * made it waits in it until released.
 */
export async function attachInside(netns: Pick<RootlessNetns, 'pidfd'>, veth: VethOptions): Promise<RootlessAttachment> {
  const helper = await helperInside(netns.pidfd, ['attach', JSON.stringify(veth)], { stdin: true });
  const ready = await firstLine(helper);
  if (ready !== 'ready') {
    await outputOf(helper, 'rootless attach');
    throw new NsError({ errno: 5, code: 'EIO', message: `rootless attach: the helper said '${ready}'` });
  }
  const pidfd = sys.pidfdOpen(helper.pid);
  let released: Promise<void> | undefined;
  return {
    pidfd,
    release: () => (released ??= (async () => {
      sys.closeFd(pidfd);
      helper.stdin!.end();
      await helper.exited;
    })()),
  };
}

/**
 * A container's attachment to a network of an ordinary user: the network made whole in their
 * rootless namespace, then a container network namespace made there with the attachment's
 * veth. The container joins `join` (the helper's user and network namespaces) and unshares
 * the rest after it; release() once it has joined.
 */
export async function attachRootless(config: NetworkConfig, veth: VethOptions, stateRoot = defaultStateRoot()): Promise<RootlessAttachment> {
  const netns = await rootlessNetns(stateRoot);
  try {
    await ensureNetworkInside(netns, config);
    return await attachInside(netns, veth);
  } finally {
    netns.close();
  }
}
