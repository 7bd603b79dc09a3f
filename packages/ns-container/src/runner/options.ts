/**
 * ns-run's options, and what they mean as a plan: identity, filesystem, limits, network, the
 * environment, and the setup steps of a container. Pure but for reading the rootfs and /etc.
 */
import { realpathSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import {
  compileCached, DEFAULT_PROFILE, NsError, parseSeccompJson, readText, seccomp, usageError,
  type CompiledSeccomp, type NamespaceKind, type PhasedOp, type SpawnOptions, type Step,
} from 'ns-core';
import { parseBytes, parseCpus, parsePidsMax, type CgroupLimits } from 'ns-cgroup';
import { parseEnvFile, readEnvFile } from './envfile';
import { ipc } from 'ns-ipc';
import { net, type VethOptions } from 'ns-net';
import { pid } from 'ns-pid';
import { processContext, type UserContext } from 'ns-user';
import { uts } from 'ns-uts';
import { keptCapabilities, namesOf } from './caps';
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, protectedPathOps } from '../compile/filesystem';
import { type ContainerCgroup } from './cgroup';
import { planIdentity, securityStep, withIdRange as identityWithRange, type Accounts, type Identity } from './identity';
import { planImage, type ImageSource, type PlannedImage } from './image';
import { directoryView, resolveInRoot, type RootView } from './inroot';
import {
  defaultNetwork, isNetworkName, parsePublish, parseSubnet, pastaLinks, validateNetworkName, withPasta, CONTAINER_INTERFACE, PASTA_NETWORK,
  type NetworkMode, type PublishSpec, type Subnet,
} from '../network';
import { loopbackUpInside } from '../network/inside';
import { parseTmpfs, type FilesystemSpec, type Volume } from './rootfs';
import { checkPrivate, defaultStateRoot, randomHex, validateName } from './state';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Run when no program is given: the shell every image has (the host's $SHELL may not exist inside). */
export const DEFAULT_PROGRAM = ['/bin/sh'];

export interface ContainerOptions {
  /** Unique among this user's running containers; default 'nsr-' and 8 hex digits. */
  readonly name?: string;
  /** Root filesystem directory (pivot_root); default: the host's / read-only (see rootfs.ts). */
  readonly rootfs?: string;
  readonly readOnly?: boolean;
  /** -v SRC:DEST[:ro|rw], or objects. */
  readonly volumes?: readonly (string | Volume)[];
  /** --tmpfs DEST[:size=N[k|m|g],mode=OCTAL,ro,noexec]: an empty writable directory (DEFAULT_TMPFS_SIZE without size=). */
  readonly tmpfs?: readonly string[];
  /** --shm-size: bytes /dev/shm may hold (default DEFAULT_SHM_SIZE). */
  readonly shmSize?: number | string;
  /** -w: working directory inside (default /). */
  readonly workdir?: string;
  /** -e KEY=VALUE, or KEY to pass on the caller's value. */
  readonly env?: readonly string[];
  /** --env-file: KEY=VALUE lines ('#' comments), applied before `env`. */
  readonly envFiles?: readonly string[];
  /** -u UID[:GID] or NAME[:GROUP] inside (default 0:0). */
  readonly user?: string;
  /** Default: the name. */
  readonly hostname?: string;
  /** As root: INNER:OUTER:COUNT mapped for uids and gids (default DEFAULT_USERNS_RANGE). */
  readonly usernsRange?: string;
  /** --userns: 'host' for the host's ids (root only; see HOST_USERNS_RANGE). */
  readonly userns?: string;
  /**
   * Default 'veth' as root; otherwise 'pasta' where pasta can work (network/pasta.ts), else
   * 'none' (a veth needs privilege over the host's network); or a network's name ('bridge':
   * the default network).
   */
  readonly network?: NetworkMode;
  /** --network-alias: more names for the container on its network. */
  readonly networkAliases?: readonly string[];
  /** The veth's /30 (default: a free one of DEFAULT_SUBNET_POOL). */
  readonly subnet?: string;
  /** -p [HOST_IP:]HOST_PORT:CONTAINER_PORT. */
  readonly publish?: readonly string[];
  readonly memory?: number | string;
  readonly pidsLimit?: number | string;
  readonly cpus?: number | string;
  readonly capAdd?: readonly string[];
  readonly capDrop?: readonly string[];
  /** --security-opt seccomp=unconfined|FILE (FILE: a docker/OCI seccomp profile); default: ns-core's default profile. */
  readonly securityOpts?: readonly string[];
  /** `ns-run run IMAGE`: the root is an overlay of the image's layers, its config the defaults. */
  readonly image?: ImageSource;
  /**
   * -d: the container outlives the caller under a C supervisor of its own (setsid, its own
   * memory), its output going to the state directory's log; kept after its end unless autoRemove.
   */
  readonly detach?: boolean;
  /** -t (and -i: what is typed reaches it): the program gets a pty of its own, relayed by a C supervisor. */
  readonly terminal?: { readonly input: boolean };
  /**
   * Foreground without Node: this process becomes the container's C supervisor (execInPlace)
   * and runContainer never returns; not yet with published ports or limits (their work is
   * Node's), which then run as before.
   */
  readonly inPlace?: boolean;
  /** --rm for a detached container (a foreground one is always removed). */
  readonly autoRemove?: boolean;
  /** Where state files go (default defaultStateRoot()). */
  readonly stateDir?: string;
  readonly stdio?: SpawnOptions['stdio'];
  /** The caller's environment, for `-e KEY` (default process.env). */
  readonly callerEnv?: NodeJS.ProcessEnv;
}

/** Everything decided before anything is created. */
export interface ContainerPlan {
  readonly name: string;
  readonly hostname: string;
  readonly argv: readonly string[];
  readonly rootfs?: string;
  readonly image?: PlannedImage;
  readonly identity: Identity;
  readonly env: readonly string[];
  readonly workdir: string;
  readonly network: NetworkMode;
  /** Names besides its own the container answers to on its network. */
  readonly aliases: readonly string[];
  readonly subnet?: number;
  readonly publish: readonly PublishSpec[];
  readonly limits: CgroupLimits;
  readonly capabilities: bigint;
  readonly seccompProfile: SeccompChoice;
  /** The program's seccomp filter, compiled for its capabilities; undefined: seccomp=unconfined. */
  readonly seccomp?: CompiledSeccomp;
  readonly filesystem: FilesystemSpec;
  readonly kinds: readonly NamespaceKind[];
  readonly terminal?: boolean;
  /** --network pasta -d: the links its pasta is given the namespaces by, and ends when they go (network/pasta.ts). */
  readonly pastaLinks?: readonly string[];
}

function parseVolume(spec: string | Volume): Volume {
  if (typeof spec !== 'string') return spec;
  const parts = spec.split(':');
  const mode = parts.length === 3 ? parts[2] : undefined;
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1] || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) {
    throw usageError(`--volume: '${spec}' is not SRC:DEST[:ro|rw]`);
  }
  return { source: posix.resolve(parts[0]), dest: parts[1], readOnly: mode === 'ro' };
}

/** Resolves `KEY` entries against the caller's environment (dropped if unset, as Docker does). */
function envEntries(entries: readonly string[], callerEnv: NodeJS.ProcessEnv, option: string): string[] {
  return entries.flatMap((e) => {
    const key = e.includes('=') ? e.slice(0, e.indexOf('=')) : e;
    if (!/^[^=\0]+$/.test(key)) throw usageError(`${option}: '${e}' is not KEY=VALUE`);
    if (e.includes('=')) return [e];
    const value = callerEnv[key];
    return value === undefined ? [] : [`${key}=${value}`];
  });
}

/** Later entries win, in place of earlier ones with the same key. */
export function mergeEnv(...lists: (readonly string[])[]): string[] {
  const byKey = new Map<string, string>();
  for (const e of lists.flat()) byKey.set(e.slice(0, e.indexOf('=')), e);
  return [...byKey.values()];
}

/** The container's /etc/passwd and /etc/group, read inside its root without leaving it. */
function containerAccounts(root: string | RootView | undefined): Accounts {
  const view = typeof root === 'object' ? root : directoryView(root ?? '/');
  const read = (file: string) => {
    const r = resolveInRoot(view, file, '--user');
    if (r.kind !== 'file') return '';
    return readText(view.hostPath(r.inside.split('/').filter(Boolean))!, '--user');
  };
  return { passwd: read('/etc/passwd'), group: read('/etc/group') };
}

/**
 * Validates the options and decides everything that does not create anything.
 * @throws NsError EUSAGE for bad or conflicting options.
 */
export function planContainer(argv: readonly string[], options: ContainerOptions = {}, ctx: UserContext = processContext()): ContainerPlan {
  const name = validateName(options.name ?? `nsr-${randomHex(4)}`);
  const hostname = options.hostname ?? name;
  const network = options.network ?? defaultNetwork(ctx.privileged).mode;
  if (isNetworkName(network)) {
    validateNetworkName(network, '--network');
  } else if (!['none', 'host', 'veth', PASTA_NETWORK].includes(network)) {
    throw usageError(`--network: '${network}' is not none, host, veth, pasta or a network's name`);
  }
  if (network === PASTA_NETWORK && ctx.privileged) {
    // pasta started by root runs as nobody, who may not open a root-made container's namespaces.
    throw usageError('--network pasta: for an ordinary user\'s containers; as root use veth or a network (--network NAME)');
  }
  if (network === 'veth' && !ctx.privileged) {
    throw usageError('--network veth: a veth to the host needs root (CAP_NET_ADMIN over the host\'s network); use none or host');
  }
  if (options.subnet !== undefined && network !== 'veth') throw usageError('--subnet: only with --network veth');
  const aliases = (options.networkAliases ?? []).map((a) => validateNetworkName(a, '--network-alias'));
  if (aliases.length && !isNetworkName(network)) throw usageError('--network-alias: only on a network (--network NAME)');
  const publish = (options.publish ?? []).map(parsePublish);
  if (publish.length && network === 'host') throw usageError('--publish: with --network host the container\'s ports are the host\'s already');
  if (options.image && options.rootfs !== undefined) throw usageError('--rootfs: a container runs an image or a root directory, not both');
  if (options.rootfs !== undefined) checkRootfs(options.rootfs);
  const image = options.image ? planImage(options.image, {
    command: argv, ...(options.workdir !== undefined ? { workdir: options.workdir } : {}),
    ...(options.user !== undefined ? { user: options.user } : {}), ...(options.readOnly ? { readOnly: true } : {}),
  }) : undefined;
  const user = image ? image.user || undefined : options.user;
  const identity = planIdentity({ ...(options.usernsRange !== undefined ? { usernsRange: options.usernsRange } : {}),
                                  ...(options.userns !== undefined ? { userns: options.userns } : {}),
                                  ...(user !== undefined ? { user } : {}) },
                                containerAccounts(image ? image.view : options.rootfs), ctx);
  const callerEnv = options.callerEnv ?? process.env;
  const fromFiles = (options.envFiles ?? []).flatMap((f) => envEntries(parseEnvFile(readEnvFile(f), f), callerEnv, '--env-file'));
  const workdir = image?.workdir ?? options.workdir ?? '/';
  if (!workdir.startsWith('/')) throw usageError(`--workdir: '${workdir}' must be absolute`);
  const filesystem: FilesystemSpec = {
    ...(options.rootfs !== undefined ? { rootfs: options.rootfs } : {}),
    // docker makes an image's missing WorkingDir (or -w's) in the container's root.
    ...(image ? { overlay: { lower: image.lower, view: image.view, userxattr: image.store.rootless }, workdir } : {}),
    ...(options.readOnly ? { readOnly: true } : {}),
    volumes: (options.volumes ?? []).map(parseVolume),
    tmpfs: (options.tmpfs ?? []).map((t) => (parseTmpfs(t), t)), // refused now if malformed
    tmpfsSize: DEFAULT_TMPFS_SIZE,
    shmSize: options.shmSize !== undefined ? parseShmSize(options.shmSize) : DEFAULT_SHM_SIZE,
    ownNetwork: network !== 'host',
    home: identity.home,
    uid: identity.uid,
    gid: identity.gid,
    // A root runner's container root is another host user, who must be able to reach sources.
    ...(identity.mode === 'range' ? { hostRoot: { uids: identity.uidMap[0]!, gids: identity.gidMap[0]! } } : {}),
  };
  const limits: CgroupLimits = {
    ...(options.memory !== undefined ? { memory: options.memory } : {}),
    ...(options.pidsLimit !== undefined ? { pidsMax: options.pidsLimit } : {}),
    ...(options.cpus !== undefined ? { cpus: options.cpus } : {}),
  };
  checkLimits(options); // refuses bad values now, before anything exists
  const capabilities = keptCapabilities(options.capAdd, options.capDrop);
  // Compiled now, so a bad profile is refused before anything exists.
  const seccompProfile = seccompChoice(options.securityOpts ?? []);
  const filter = seccompFilter(seccompProfile, capabilities, seccompCacheDir(options.stateDir ?? defaultStateRoot()));
  const kinds: NamespaceKind[] = ['user', 'mnt', 'uts', 'ipc', ...(network !== 'host' ? ['net' as const] : []), 'pid', 'cgroup'];
  return {
    name, hostname, argv: image ? image.args : argv.length ? [...argv] : DEFAULT_PROGRAM, identity,
    ...(image ? { image } : {}),
    ...(options.terminal ? { terminal: true } : {}), workdir, network, aliases, publish, limits, filesystem, kinds,
    ...(network === PASTA_NETWORK && options.detach ? { pastaLinks: pastaLinks(options.stateDir ?? defaultStateRoot(), name) } : {}),
    ...(options.rootfs !== undefined ? { rootfs: options.rootfs } : {}),
    ...(options.subnet !== undefined ? { subnet: parseSubnet(options.subnet) } : {}),
    capabilities, seccompProfile, ...(filter ? { seccomp: filter } : {}),
    // The base environment is settled once the home is known (runContainer).
    env: mergeEnv(fromFiles, envEntries(options.env ?? [], callerEnv, '--env')),
  };
}

/**
 * The plan with the id range leased for it (idranges.ts) in place of the placeholder: the
 * maps and whatever the container's root owns as the host sees it (bind sources it must reach).
 */
export function withIdRange(plan: ContainerPlan, outer: number): ContainerPlan {
  const identity = identityWithRange(plan.identity, outer);
  return {
    ...plan, identity,
    filesystem: { ...plan.filesystem, ...(plan.filesystem.hostRoot ? { hostRoot: { uids: identity.uidMap[0]!, gids: identity.gidMap[0]! } } : {}) },
  };
}

/**
 * The seccomp profile a container's processes run under: ns-core's default, none, or a
 * docker/OCI profile file's text (kept as read, so `exec` compiles what `run` did).
 */
export type SeccompChoice = 'default' | 'unconfined' | { readonly file: string; readonly text: string };

/** --security-opt as typed -> the profile chosen (the file read now). @throws NsError EUSAGE naming the option. */
function seccompChoice(securityOpts: readonly string[]): SeccompChoice {
  let chosen: string | undefined;
  for (const opt of securityOpts) {
    const m = /^seccomp[=:](.*)$/s.exec(opt);
    if (!m) throw usageError(`--security-opt: '${opt}' is not supported (only seccomp=unconfined or seccomp=FILE)`);
    if (!m[1]) throw usageError(`--security-opt: '${opt}' names no profile (seccomp=unconfined or seccomp=FILE)`);
    chosen = m[1];
  }
  if (chosen === undefined || chosen === 'unconfined') return chosen ?? 'default';
  return { file: chosen, text: readText(chosen, `--security-opt seccomp=${chosen}`) };
}

/**
 * Where compiled filters are kept between runs (ns-core's compileCached): under the state
 * root, once there is one that is ours (runContainer makes it right after planning; before the
 * first container there is nothing to keep them in).
 */
export function seccompCacheDir(stateRoot: string): string | undefined {
  return checkPrivate(stateRoot, true) ? posix.join(stateRoot, 'seccomp') : undefined;
}

/**
 * The filter of `choice` for a process keeping `capabilities`: a profile's `includes`/
 * `excludes` are resolved against them, so --cap-add SYS_ADMIN gives back mount, unshare and
 * the like, as docker does. Undefined for unconfined. Compiled once per profile and
 * capabilities (in `cacheDir`, when given, for later runs too).
 * @throws NsError EUSAGE naming --security-opt seccomp=FILE for a profile the compiler refuses.
 */
export function seccompFilter(choice: SeccompChoice, capabilities: bigint, cacheDir?: string): CompiledSeccomp | undefined {
  if (choice === 'unconfined') return undefined;
  const resolve = { capabilities: namesOf(capabilities).map((c) => `CAP_${c}`) };
  const cache = cacheDir !== undefined ? { dir: cacheDir } : {};
  if (choice === 'default') return compileCached(DEFAULT_PROFILE, resolve, cache);
  const option = `--security-opt seccomp=${choice.file}`;
  try {
    return compileCached(parseSeccompJson(choice.text, option) as Parameters<typeof compileCached>[0], resolve, cache);
  } catch (e) {
    const err = e as NsError;
    if (err.code !== 'EUSAGE' || err.message.startsWith(option)) throw e;
    throw usageError(`${option}: ${err.message.replace(/^seccomp profile: /, '')}`);
  }
}

/**
 * What /dev/shm may hold: docker's and podman's default --shm-size (64m). Without a size a
 * tmpfs may take half of the host's RAM (tmpfs(5)), and its pages are charged to no cgroup
 * limit the container has unless --memory is given.
 */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/**
 * What each fresh tmpfs ns-run mounts (/tmp, /run and the home of the embedded default, the
 * scratch /tmp and /run of --read-only, a --tmpfs without size=) may hold. docker and podman
 * leave these unsized (half of RAM each); we size them as /dev/shm is, so that a container
 * cannot fill the host's memory through them. --tmpfs DEST:size=N gives more.
 */
export const DEFAULT_TMPFS_SIZE = 64 * 1024 * 1024;

/** --shm-size as docker reads it: a size in bytes, k, m or g, above 0. */
function parseShmSize(value: number | string): number {
  const bytes = parseBytes('--shm-size', value);
  if (bytes === 'max') throw usageError(`--shm-size: '${value}' is not a size in bytes (e.g. 67108864, 64M or 1G)`);
  return bytes;
}

/**
 * docker's smallest --memory (daemon/daemon_unix.go, linuxMinMemory): below it a program is
 * killed by the OOM killer as it starts, which would look like the program's own failure.
 */
export const MIN_MEMORY = 6 * 1024 * 1024;

/** The limits as run's options name them (ns-cgroup's parsers, with the option the user typed). */
function checkLimits(options: ContainerOptions): void {
  if (options.memory !== undefined) {
    const bytes = parseBytes('--memory', options.memory);
    if (bytes !== 'max' && bytes < MIN_MEMORY) throw usageError(`--memory: '${options.memory}' is below the minimum of 6M a container can start with`);
  }
  if (options.pidsLimit !== undefined) parsePidsMax('--pids-limit', options.pidsLimit);
  if (options.cpus !== undefined) parseCpus('--cpus', options.cpus);
}

/**
 * A --rootfs must be a directory other than the host's /: pivot_root cannot make / the root of
 * itself (EINVAL), and the host's root read-only is what leaving --rootfs out gives.
 */
function checkRootfs(rootfs: string): void {
  let st;
  try {
    st = statSync(rootfs);
  } catch (e) {
    throw NsError.from(e, { syscall: 'stat', path: rootfs, step: '--rootfs' });
  }
  if (!st.isDirectory()) throw usageError(`--rootfs: ${rootfs} is not a directory`);
  if (realpathSync(rootfs) === '/') {
    throw usageError(`--rootfs: ${rootfs} is the host's /; leave --rootfs out to run on the host's root read-only`);
  }
}

/** The environment the program starts with: a clean one, as a container runtime gives. */
export function baseEnv(plan: ContainerPlan, home: string, callerEnv: NodeJS.ProcessEnv): string[] {
  return [`PATH=${DEFAULT_PATH}`, `HOSTNAME=${plan.hostname}`, `HOME=${home}`,
          ...(callerEnv['TERM'] ? [`TERM=${callerEnv['TERM']}`] : plan.terminal ? ['TERM=xterm'] : []), 'container=ns-run'];
}

export function cgroupNeeded(limits: CgroupLimits): boolean {
  return Object.keys(limits).length > 0;
}

/**
 * The steps of a container, in the order their ops must run within each phase: the user
 * namespace and its maps first (everything else is owned by it), then identity and
 * privileges, the filesystem, the init, and the other kinds. Pure: plans are tested with it.
 */
export function containerSteps(plan: ContainerPlan, filesystem: readonly Step[], veth?: VethOptions, cgroup?: ContainerCgroup): Step[] {
  return [
    plan.identity.userStep,
    securityStep(plan.identity, plan.capabilities),
    ...filesystem,
    // In the new root, over its own /proc and /sys, as docker's default spec asks.
    { name: 'ns-run protected paths', child: protectedPathOps(DEFAULT_READONLY_PATHS, DEFAULT_MASKED_PATHS, (field, _i, path) => `${field} ${path}`) },
    // The last thing before execve (securityStep sets no_new_privs, which the filter needs).
    ...(plan.seccomp ? [seccomp(plan.seccomp)] : []),
    initStep(cgroup?.programOps ?? [], cgroup?.programCgroup),
    uts({ hostname: plan.hostname }),
    ipc(),
    ...(plan.network === 'host' ? [] : networkSteps(veth, plan.identity.mode !== 'range', plan.network === PASTA_NETWORK, plan.pastaLinks)),
    cgroup ? cgroup.step : { name: 'ns-run cgroup', create: ['cgroup'] },
  ];
}

/**
 * PID 1 of the container: ns-pid's init, which reaps orphans, passes signals on and exits like
 * the program. It forks before the filesystem is built (the mount namespace is shared, so
 * the program's mounts and pivot_root are the init's too), so that the program can first
 * move itself into its cgroup through the host's /sys/fs/cgroup (see cgroup.ts).
 */
function initStep(programOps: readonly PhasedOp[], programCgroup: string | undefined): Step {
  const init = pid({ init: true });
  return { ...init, child: [
    // A session of its own, without a controlling terminal, as `docker run -i` gives: job
    // control on our terminal cannot work from another pid namespace (tcsetpgrp names process
    // groups by pid: ESRCH), and the terminal's signals reach the runner alone, which passes
    // them on through the init, once.
    { op: 'setsid', phase: 'propagation', step: 'session' },
    ...(programCgroup !== undefined ? [{ op: 'fork-cgroup' as const, path: programCgroup, phase: 'propagation' as const, step: 'cgroup' }] : []),
    ...(init.child ?? []).map((op) => ({ ...op, phase: 'propagation' as const })), ...programOps,
  ] };
}

/**
 * A network namespace with `lo` up, and the veth if there is one (its own /30, or a port of a
 * network's bridge), or pasta (`--network pasta`, attached by the step that makes the
 * namespace). ns-net brings `lo` up from
 * the runner by entering the namespace, which a rootless runner may not (setns needs
 * CAP_SYS_ADMIN in its own user namespace too): then a helper inside does it (inside.ts).
 */
function networkSteps(veth: VethOptions | undefined, rootless: boolean, pasta: boolean, pastaLinks?: readonly string[]): Step[] {
  const made = rootless ? net({ loopback: false }) : net({ loopback: true, ...(veth ? { veth } : {}) });
  const namespace = pasta ? withPasta(made, pastaLinks) : made;
  if (rootless) {
    return [namespace, { name: 'loopback', parent: [{ action: 'call', step: 'loopback', run: ({ pidfd }) => loopbackUpInside(pidfd) }] }];
  }
  return [namespace];
}

/** --network veth: the pair of a leased /30, the host end the container's gateway. */
export function subnetVeth(subnet: Subnet): VethOptions {
  return { hostIf: subnet.hostInterface, nsIf: CONTAINER_INTERFACE, address: `${subnet.host}/30`, peerAddress: `${subnet.peer}/30`, gateway: true };
}

