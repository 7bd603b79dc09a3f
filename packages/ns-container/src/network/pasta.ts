/**
 * `--network pasta`, a rootless container's default when pasta (Debian's passt package) is on
 * PATH, as podman 5's rootless default is: pasta joins the container's user and network
 * namespaces (by a pid whose namespaces they are), makes a tap interface there with the
 * host's addresses and routes (--config-net), and carries the container's connections through
 * sockets of the user's on the host. The default gateway's address stands for the host's
 * loopback (pasta's --map-gw, its default): a server on the host's 127.0.0.1 is reached there.
 * DNS sent to PASTA_DNS goes to the host's first resolver (--dns-forward), so a host whose
 * resolver is on its loopback (systemd-resolved's 127.0.0.53) still answers the container.
 * pasta forwards no port (-t/-u/-T/-U none): -p is the runner's forwarder's, as on `none`.
 *
 * pasta stays in the foreground (-f), a child of the runner with PR_SET_PDEATHSIG: it ends
 * when the process that waits for the container does (ns-run's C supervisor in place, which
 * keeps our pid; Node otherwise, which also ends it when the container has). Nothing of it is
 * recorded: a SIGKILL of the runner ends it with the runner. This pasta (Debian 12's) would
 * otherwise keep the namespace, and its tap, alive for ever: it watches a namespace given by
 * pid for nothing. Readiness is its pid file (-P), which it writes once the namespace is
 * configured: our pipe on its stdout.
 *
 * Detached (-d), pasta outlives us in a session of its own, given the namespaces by two
 * symlinks to the container's /proc/PID/ns entries (pastaLinks): pasta watches the directory
 * of a --netns path (inotify) and exits once that entry is removed (pasta(1), --no-netns-quit).
 * They are the container's leases: its supervisor's unlink words remove them at its end, and
 * the next call's reclaim after a SIGKILL.
 */
import { accessSync, existsSync, mkdirSync, rmSync, symlinkSync, constants as fsConstants } from 'node:fs';
import { posix } from 'node:path';
import { envToList, NsError, programCandidates, spawn, type NsChild, type ParentContext, type Step } from 'ns-core';
import { resolveInRoot, type RootView } from '../runner/inroot';
import type { Volume } from '../runner/rootfs';
import { bindTargets } from './index';
import { firstLine } from './inside';
import { containerResolvConf, readHostResolvConf, replaceIfChanged } from './store';
import type { NetworkMode } from './p2p';

/** The mode's name, podman's spelling. */
export const PASTA_NETWORK = 'pasta';

/** Where the container sends DNS for pasta to forward (podman 5's address for it). */
export const PASTA_DNS = '169.254.1.1';

const TUN = '/dev/net/tun';

/**
 * What every pasta of ours is asked: configure the namespace (addresses, routes, the tap up)
 * and forward no port either way (published ports are the runner's).
 */
export const PASTA_ARGS: readonly string[] = ['--config-net', '--quiet', '-t', 'none', '-u', 'none', '-T', 'none', '-U', 'none'];

/**
 * Where pasta (Debian's passt package) is on PATH, as podman looks it up: execvp(3)'s candidates
 * (ns-core's programCandidates), the absolute ones only, since it runs with another directory.
 */
export function pastaPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return programCandidates('pasta', envToList(env)).filter((p) => p.startsWith('/')).find((p) => {
    try {
      accessSync(p, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The network a container gets without --network, and, when it has no egress, why (one line). */
export interface DefaultNetwork {
  readonly mode: NetworkMode;
  readonly note?: string;
}

/**
 * As root a veth to the host; an ordinary user's container gets pasta when pasta can work (on
 * PATH, /dev/net/tun open to the user), else lo only, with the reason as a note.
 */
export function defaultNetwork(privileged: boolean, env: NodeJS.ProcessEnv = process.env): DefaultNetwork {
  if (privileged) return { mode: 'veth' };
  if (!pastaPath(env)) return { mode: 'none', note: 'no egress: pasta (Debian\'s passt package) is not on PATH; the container has lo only' };
  try {
    accessSync(TUN, fsConstants.R_OK | fsConstants.W_OK);
  } catch (e) {
    return { mode: 'none', note: `no egress: pasta cannot open ${TUN} (${(e as NodeJS.ErrnoException).code}); the container has lo only` };
  }
  return { mode: PASTA_NETWORK };
}

/**
 * pasta for the network namespace of `target` (which waits at its sync point, so its pid is
 * not reused), running once the namespace is configured. Ended by `stop`, or with this
 * process's main thread (PDEATHSIG survives our execve into the supervisor).
 * @throws NsError EIO naming pasta's own message when it could not configure the namespace.
 */
export async function attachPasta(target: ParentContext, links?: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<NsChild> {
  const pasta = pastaPath(env);
  if (!pasta) throw new NsError({ errno: 2, code: 'ENOENT', syscall: 'execve', path: 'pasta', message: '--network pasta: pasta is not on PATH (Debian: apt install passt)' });
  const [net, user] = links ?? [];
  if (user !== undefined && net !== undefined) {
    mkdirSync(posix.dirname(user), { recursive: true, mode: 0o700 });
    for (const [link, kind] of [[user, 'user'], [net, 'net']] as const) {
      rmSync(link, { force: true }); // a name taken over from a container that died before its reclaim
      symlinkSync(`/proc/${target.pid}/ns/${kind}`, link);
    }
  }
  const targetArgs = user !== undefined && net !== undefined ? ['--userns', user, '--netns', net] : [String(target.pid)];
  const child = await spawn([pasta, '-f', ...PASTA_ARGS, '--dns-forward', PASTA_DNS, '-P', '/proc/self/fd/1', ...targetArgs], {
    // A session of its own: a terminal's signals are the container's, not its network's. (Its
    // stdout and stderr are pipes no one reads once it runs: pasta ignores SIGPIPE itself.)
    steps: [{ name: 'pasta', child: [{ op: 'setsid', phase: 'final', step: 'pasta' }] }],
    stdio: ['ignore', 'pipe', 'pipe'], cwd: '/', ...(links ? {} : { killWithParent: 'SIGTERM' as const }),
  });
  let errors = '';
  child.stderr!.on('data', (d: Buffer) => { errors += d.toString(); });
  const pid = await firstLine(child);
  if (!/^\d+$/.test(pid.trim())) {
    const status = await child.exited;
    const why = errors.trim().split('\n').at(-1) || `exit ${status.code ?? status.signal}`;
    throw new NsError({ errno: 5, code: 'EIO', syscall: 'pasta', message: `--network pasta: pasta could not configure the container's network: ${why}` });
  }
  child.stdout!.destroy();
  child.stderr!.destroy();
  child.unref();
  return child;
}

/** Ends a pasta attachPasta() started, and waits for it. */
export async function stopPasta(child: NsChild): Promise<void> {
  child.kill('SIGTERM');
  await child.exited;
}

/**
 * The container's /etc/resolv.conf on pasta, in the user's state directory (one for all their
 * containers, replaced only when it changes): the host's search and options, and PASTA_DNS as
 * the resolver, which pasta forwards to the host's first one (see containerResolvConf).
 */
export function pastaResolvConf(stateRoot: string, hostFile = '/etc/resolv.conf'): string {
  const file = posix.join(stateRoot, 'pasta-resolv.conf');
  replaceIfChanged(file, containerResolvConf(readHostResolvConf(hostFile), false, PASTA_DNS));
  return file;
}

/**
 * `step` (the one that makes the container's network namespace) with pasta attached at its
 * sync point, and ended by its cleanup once the container has exited (an in-place runner's
 * holder drops that cleanup: there the supervisor's end ends pasta).
 */
export function withPasta(step: Step, links?: readonly string[]): Step {
  let pasta: NsChild | undefined;
  return {
    ...step,
    parent: [...step.parent ?? [], { action: 'call', step: '--network pasta', run: async (ctx) => { pasta = await attachPasta(ctx, links); } }],
    cleanup: async (ctx, outcome) => {
      try {
        await step.cleanup?.(ctx, outcome);
      } finally {
        // Detached and started, pasta is the container's supervisor's to end (its links).
        if (pasta && (!links || !outcome.execed)) await stopPasta(pasta);
        if (links && !outcome.execed) for (const link of links) rmSync(link, { force: true });
      }
    },
  };
}

/**
 * A detached container's pasta links, network namespace first, then user namespace, in the
 * user's state directory; removed in that order. This pasta reads its inotify events in
 * batches and looks at the first event of each only: the directory it watches holds the
 * network links alone (the user links one below, whose removal it does not see), and the
 * container's own is removed first.
 */
export function pastaLinks(stateRoot: string, container: string): readonly string[] {
  return [posix.join(stateRoot, 'pasta', container), posix.join(stateRoot, 'pasta', 'userns', container)];
}

/** What of a container's root decides where its /etc/resolv.conf can be bound over. */
export interface ResolvConfRoot {
  readonly rootfs?: string;
  readonly image?: { readonly view: RootView; readonly writableLayer: boolean };
}

/**
 * pasta's resolv.conf bound read-only on the container's /etc/resolv.conf, as podman binds
 * its own: where the root has one, or one can be made (an image's own layer; an empty one in
 * a --rootfs the runner may write, as for a network: bindTargets). A root where neither is so
 * (a root-owned rootfs without it, run by an ordinary user) keeps what it has: egress works,
 * names do not resolve.
 */
export function pastaResolvConfVolume(root: ResolvConfRoot, stateRoot: string): Volume | undefined {
  const dest = '/etc/resolv.conf';
  const bound = { source: pastaResolvConf(stateRoot), dest, readOnly: true };
  if (root.image) return root.image.writableLayer || resolveInRoot(root.image.view, dest, '--network').kind === 'file' ? bound : undefined;
  if (root.rootfs === undefined) return existsSync(dest) ? bound : undefined;
  try {
    bindTargets(root.rootfs, [dest]);
  } catch (e) {
    if (!['EACCES', 'EPERM', 'EROFS'].includes((e as NsError).code)) throw e;
  }
  return resolveInRoot(root.rootfs, dest, '--network').kind === 'file' ? bound : undefined;
}
