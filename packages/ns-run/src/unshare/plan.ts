/**
 * unshare(1) as a library: new namespaces for a program, composed from the per-kind packages.
 * Nothing here re-implements what a package owns; this module decides which steps a set of
 * util-linux options means, and in which mode.
 */
import { NsError, usageError } from 'ns-core/errors';
import type { SpawnOptions, Step } from 'ns-core/exec/plan';
import { KIND_NAMES, type NamespaceKind } from 'ns-core/kinds';
import { parseDecimal } from 'ns-core/numbers';
import type { UserOptions } from 'ns-user';
import type { PersistStep, Propagation } from 'ns-mount';
import { pkg } from '../common/kinds-lazy';

export interface UnshareOptions extends UserOptions {
  /** New namespaces; a string also persists it on that file (`--net=FILE`). */
  readonly namespaces?: Partial<Record<NamespaceKind, true | string>>;
  /** -f: the program is a child (PID 1 of a new pid namespace). Without it, as util-linux without
   * --fork, a new pid namespace holds only the program's children. */
  readonly fork?: boolean;
  /** --mount-proc[=DIR]: implies a new mount namespace. */
  readonly mountProc?: true | string;
  /** --mount-binfmt[=DIR]: a binfmt_misc instance (implies user and mount). */
  readonly mountBinfmt?: true | string;
  /** -l/--load-interp: binfmt_misc registrations (implies mountBinfmt). */
  readonly loadInterp?: readonly string[];
  readonly propagation?: Propagation;
  /** -R: chroot. */
  readonly root?: string;
  /** -w: working directory. */
  readonly wd?: string;
  /** Seconds, as ns-time parses them (negative and to the nanosecond: '-86400', '1.5'). */
  readonly monotonic?: number | string;
  readonly boottime?: number | string;
  /** --kill-child[=SIG] (implies fork). */
  readonly killChild?: NodeJS.Signals;
  /** --forward-signals (implies fork). */
  readonly forwardSignals?: boolean;
  readonly clearEnv?: boolean;
  readonly whitelistEnv?: readonly string[];
  /** Beyond util-linux: set the hostname (implies a new uts namespace). */
  readonly hostname?: string;
  /** Beyond util-linux: bring `lo` up (implies a new network namespace). */
  readonly loopback?: boolean;
}

export interface UnsharePlan {
  readonly spawn: SpawnOptions;
  /** Namespaces to bind onto files while the child waits: [kind, file]. */
  readonly persist: readonly (readonly [NamespaceKind, string])[];
  /**
   * The step that binds them. Call its commit() as soon as the program runs (runToCompletion's
   * onStart); if the spawn fails before, the bindings are released and the files it made removed.
   */
  readonly persistStep?: PersistStep;
  readonly kinds: readonly NamespaceKind[];
  /** The program is a child the launcher waits for (--fork, or implied by --kill-child/--forward-signals). */
  readonly forks: boolean;
}

const BINFMT_DEFAULT = '/proc/sys/fs/binfmt_misc';

function has(o: object, key: string): boolean {
  return (o as Record<string, unknown>)[key] !== undefined && (o as Record<string, unknown>)[key] !== false;
}

/** The environment --clear-env / --whitelist-env leave the program. */
export function filteredEnv(options: UnshareOptions, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv | undefined {
  if (options.clearEnv) return {};
  if (!options.whitelistEnv) return undefined;
  const keep = new Set(options.whitelistEnv);
  return Object.fromEntries(Object.entries(env).filter(([k]) => keep.has(k)));
}

/**
 * What the options mean, as data: the steps of each package, the spawn options and how the
 * launcher treats signals. Pure (reads /etc only through ns-user for names and subids).
 * @throws NsError EUSAGE with util-linux's wording for conflicting options.
 */
export function planUnshare(options: UnshareOptions): UnsharePlan {
  const requested = new Map<NamespaceKind, true | string>();
  for (const [k, v] of Object.entries(options.namespaces ?? {}) as [NamespaceKind, true | string][]) {
    if (v !== undefined) requested.set(k, v);
  }
  const imply = (k: NamespaceKind) => { if (!requested.has(k)) requested.set(k, true); };

  const userOpts: UserOptions = {
    ...(options.mapRoot ? { mapRoot: true } : {}), ...(options.mapCurrent ? { mapCurrent: true } : {}),
    ...(options.mapUser !== undefined ? { mapUser: options.mapUser } : {}),
    ...(options.mapGroup !== undefined ? { mapGroup: options.mapGroup } : {}),
    ...(options.mapUsers ? { mapUsers: options.mapUsers } : {}), ...(options.mapGroups ? { mapGroups: options.mapGroups } : {}),
    ...(options.mapAuto ? { mapAuto: true } : {}), ...(options.mapSubids ? { mapSubids: true } : {}),
    ...(options.setgroups ? { setgroups: options.setgroups } : {}), ...(options.keepCaps ? { keepCaps: true } : {}),
    ...(options.owner !== undefined ? { owner: options.owner } : {}),
  };
  // util-linux: every map option and --owner imply --user.
  if (['mapRoot', 'mapCurrent', 'mapUser', 'mapGroup', 'mapUsers', 'mapGroups', 'mapAuto', 'mapSubids', 'owner']
    .some((k) => has(options, k))) imply('user');
  if (options.mountProc !== undefined) imply('mnt');
  const binfmt = options.mountBinfmt ?? (options.loadInterp?.length ? true : undefined);
  if (binfmt !== undefined) {
    imply('user');
    imply('mnt');
  }
  if (options.hostname !== undefined) imply('uts');
  if (options.loopback) imply('net');
  const fork = Boolean(options.fork || options.killChild || options.forwardSignals);

  if ((options.monotonic !== undefined || options.boottime !== undefined) && !requested.has('time')) {
    throw usageError('options --monotonic and --boottime require unsharing of a time namespace (-T)');
  }
  if (options.propagation !== undefined && options.propagation !== 'unchanged' && !requested.has('mnt')) {
    // util-linux silently ignores --propagation without --mount; so do we, by not asking for it.
  }

  const steps: Step[] = [];
  if (requested.has('user')) {
    // -S/-G belong to the user step when there is one (ids are mapped there).
    steps.push(pkg.user.user({ ...userOpts,
      ...(options.setuid !== undefined ? { setuid: options.setuid } : {}),
      ...(options.setgid !== undefined ? { setgid: options.setgid } : {}) }));
  } else if (options.setuid !== undefined || options.setgid !== undefined) {
    // --keep-caps acts only with --user (unshare.c: keepcaps && CLONE_NEWUSER): the capabilities
    // it keeps are the ones a new user namespace grants; root's own never become ambient.
    steps.push(identityOnly(options));
  }
  if (requested.has('mnt')) {
    const procDir = options.mountProc === true ? '/proc' : options.mountProc;
    steps.push(pkg.mount.mount({
      propagation: options.propagation ?? 'private',
      // --mount-binfmt without a directory also mounts /proc, as util-linux 2.41 does.
      ...(procDir !== undefined ? { mountProc: procDir } : binfmt === true ? { mountProc: '/proc' } : {}),
      ...(options.root !== undefined ? { root: options.root } : {}),
      ...(options.wd !== undefined ? { wd: options.wd } : {}),
    }));
    if (binfmt !== undefined) steps.push(binfmtStep(binfmt === true ? BINFMT_DEFAULT : binfmt, options.loadInterp ?? []));
  } else if (options.root !== undefined) {
    steps.push(chrootStep(options.root, options.wd));
  }
  if (requested.has('pid')) {
    const step = pkg.pid.pid(options.killChild ? { killChild: options.killChild } : {});
    // Without --fork, unshare(CLONE_NEWPID) only moves the children (pid_namespaces(7)): the
    // program stays where it was and its first child is PID 1 of the new namespace.
    steps.push(fork ? step : { ...step, create: (step.create ?? []).filter((k) => k !== 'pid'), unshareInChild: ['pid'] });
  } else if (options.killChild) {
    steps.push({ name: '--kill-child', killWithParent: options.killChild });
  }
  if (requested.has('uts')) steps.push(pkg.uts.uts(options.hostname !== undefined ? { hostname: options.hostname } : {}));
  if (requested.has('time')) {
    steps.push(pkg.time.time({ ...(options.monotonic !== undefined ? { monotonic: options.monotonic } : {}),
                      ...(options.boottime !== undefined ? { boottime: options.boottime } : {}) }));
  }
  if (requested.has('net')) steps.push(pkg.net.net({ loopback: Boolean(options.loopback) }));
  for (const k of ['ipc', 'cgroup'] as const) if (requested.has(k)) steps.push({ name: `ns-${k}`, create: [k] });

  const persist = [...requested].filter(([, v]) => typeof v === 'string' && v !== '').map(([k, v]) => [k, v as string] as const);
  if (persist.some(([k]) => k === 'pid') && !fork) {
    // pid_for_children exists only once a process is in the namespace: util-linux requires --fork.
    throw usageError('persisting a pid namespace (--pid=FILE) requires --fork');
  }
  // A failure after some files were bound (a later file refused, exec failing) must leave no
  // namespace bound behind: ns-mount's persist step releases them unless committed.
  const persistStep = persist.length ? pkg.mount.persist(persist.map(([kind, file]) => ({ kind, file }))) : undefined;
  if (persistStep) steps.push(persistStep);
  if (options.wd !== undefined && !requested.has('mnt') && options.root === undefined) {
    // util-linux changes directory before it drops ids, so `-S 65534 -w /root` works: the chdir
    // goes before the identity phase, not last as a spawn cwd would.
    steps.push({ name: '--wd', child: [{ op: 'chdir', path: options.wd, phase: 'after-root', step: '--wd' }] });
  }
  const env = filteredEnv(options);
  return {
    spawn: { steps, ...(env ? { env } : {}) },
    persist,
    ...(persistStep ? { persistStep } : {}),
    kinds: KIND_NAMES.filter((k) => requested.has(k)),
    forks: fork,
  };
}

/** --root without --mount: util-linux chroots in the namespace it has, then chdirs. */
function chrootStep(root: string, wd: string | undefined): Step {
  return { name: '--root', child: [
    { op: 'chroot', path: root, phase: 'root', step: '--root' },
    { op: 'chdir', path: wd ?? '/', phase: 'after-root', step: wd !== undefined ? '--wd' : '--root' },
  ] };
}

/**
 * --mount-binfmt / --load-interp: a binfmt_misc instance of the new user namespace (Linux 6.7
 * made binfmt_misc per user namespace), with interpreters registered through its register file.
 */
function binfmtStep(dir: string, interpreters: readonly string[]): Step {
  return { name: '--mount-binfmt', child: [
    { op: 'mount', source: 'binfmt_misc', target: dir, fstype: 'binfmt_misc', flags: ['NOSUID', 'NODEV', 'NOEXEC'], phase: 'after-root', step: '--mount-binfmt' },
    ...interpreters.map((spec) => ({ op: 'write-file' as const, path: `${dir}/register`, data: spec, phase: 'after-root' as const, step: '--load-interp' })),
  ] };
}

/** -S/-G without a new user namespace (root dropping ids, as unshare -S does). */
function identityOnly(options: UnshareOptions): Step {
  const num = (v: number | string | undefined, option: string) => {
    if (v === undefined) return undefined;
    // As util-linux's strtoul_or_err: Number('') would quietly be uid 0.
    const n = typeof v === 'number' ? v : parseDecimal(v, 0xfffffffe);
    if (n === undefined || !Number.isSafeInteger(n) || n < 0 || n > 0xfffffffe) throw usageError(`${option}: invalid id '${v}'`);
    return n;
  };
  const gid = num(options.setgid, '--setgid');
  const uid = num(options.setuid, '--setuid');
  return {
    name: 'identity',
    child: [
      ...(gid !== undefined ? [{ op: 'setgroups' as const, gids: [], phase: 'identity' as const, step: '--setgid' },
                               { op: 'setgid' as const, gid, phase: 'identity' as const, step: '--setgid' }] : []),
      ...(uid !== undefined ? [{ op: 'setuid' as const, uid, phase: 'identity' as const, step: '--setuid' }] : []),
    ],
  };
}

export { NsError };
