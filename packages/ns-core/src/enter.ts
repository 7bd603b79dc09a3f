/**
 * nsenter(1) as a library: run a program inside the namespaces of a running process or of
 * namespace files. Every kernel object is resolved to an fd first (a pidfd for the target,
 * so a recycled pid is never entered; O_PATH fds for its root and cwd), then the exec stage
 * joins them between clone and exec.
 */
import { readFileSync, statSync } from 'node:fs';
import { NsError, usageError } from './errors';
import type { JoinTarget, PhasedOp, SpawnOptions, Step } from './exec/plan';
import { KIND_NAMES, nsProcPath, type NamespaceKind } from './kinds';
import { Namespace } from './namespace';
import * as sys from './sys';

export interface EnterOptions {
  /** -t: the target process; with `targetInode`, only if its pidfd still has that inode. */
  readonly target?: number;
  readonly targetInode?: number;
  /** Kinds to enter: true = the target's, a string = a namespace file (or /proc/PID/ns path). */
  readonly namespaces?: Partial<Record<NamespaceKind, true | string>>;
  /** -a: every namespace of the target (its user namespace only if it differs from ours). */
  readonly all?: boolean;
  /** --user-parent: the parent of the user namespace owning the selected namespaces. */
  readonly userParent?: boolean;
  /** -N: the network namespace of the socket the target holds at this fd. */
  readonly netSocket?: number;
  readonly setuid?: number | 'follow';
  readonly setgid?: number | 'follow';
  readonly preserveCredentials?: boolean;
  readonly keepCaps?: boolean;
  /** -r: chroot to the target's root (true) or to this directory. */
  readonly root?: true | string;
  /** -w: working directory: the target's (true) or this one, opened before entering. */
  readonly wd?: true | string;
  /** -W: working directory resolved inside, after entering and chroot. */
  readonly wdns?: string;
  /** -e: the target's environment. */
  readonly env?: boolean;
  /** -F: never fork, even into a pid namespace (only the program's children will be in it). */
  readonly noFork?: boolean;
  /** -c: join the target's cgroup (v2). */
  readonly joinCgroup?: boolean;
}

/** The fds a plan refers to; close once the program runs (or the spawn failed). */
export interface OpenedTargets {
  readonly join: JoinTarget[];
  readonly entered: NamespaceKind[];
  readonly fds: number[];
  readonly handles: Namespace[];
  rootFd?: number;
  wdFd?: number;
  /** Our own working directory, for --root without --wd/--wdns and without a mount namespace. */
  cwdFd?: number;
  env?: string[];
  cgroupProcs?: string;
  targetUid?: number;
  targetGid?: number;
  /** Ids of the namespaces the program will be in (those it enters, and ours for the rest). */
  ids: Partial<Record<NamespaceKind, number>>;
  close(): void;
}

const O_PATH_DIR = sys.O_PATH | sys.O_DIRECTORY;
const SIOCGSKNS = 0x894c;

/**
 * -S/-G follow: the owner of /proc/PID, as nsenter stats it: the target's effective ids, as
 * seen from our user namespace (proc(5)).
 */
function targetIds(pid: number): { uid: number; gid: number } {
  const st = statSync(`/proc/${pid}`);
  return { uid: st.uid, gid: st.gid };
}

/** CAP_SETGID (capabilities(7) bit 6) in our effective set: whether setgroups(2) works here. */
function canSetgroupsHere(): boolean {
  const eff = /^CapEff:\s+([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return eff !== undefined && (BigInt(`0x${eff}`) & (1n << 6n)) !== 0n;
}

/** The v2 cgroup.procs file of the target's cgroup, found through our mountinfo. */
function cgroupProcsOf(pid: number): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
  if (!line) throw new NsError({ errno: 95, syscall: 'open', path: `/proc/${pid}/cgroup`, message: '--join-cgroup: the target is in no cgroup v2 hierarchy' });
  const mount = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => {
    const sep = f.indexOf('-');
    return sep > 0 && f[sep + 1] === 'cgroup2';
  });
  if (!mount) throw new NsError({ errno: 95, syscall: 'open', message: '--join-cgroup: no cgroup2 filesystem is mounted' });
  return `${mount[4]}${line.slice(3)}/cgroup.procs`;
}

/**
 * Opens everything the options refer to, in nsenter's order (target fds before any switch).
 * @throws NsError ESRCH for a missing target, ENOENT for a missing file, EUSAGE for bad input.
 */
export function openTargets(options: EnterOptions): OpenedTargets {
  const opened: OpenedTargets = {
    join: [], entered: [], fds: [], handles: [], ids: {},
    close() {
      for (const h of this.handles) h.close();
      for (const fd of this.fds) sys.closeFd(fd);
      this.handles.length = 0;
      this.fds.length = 0;
    },
  };
  try {
    const wanted = new Map<NamespaceKind, true | string>();
    for (const [k, v] of Object.entries(options.namespaces ?? {}) as [NamespaceKind, true | string][]) wanted.set(k, v);
    const needsTarget = [...wanted.values()].some((v) => v === true) || options.all || options.root === true ||
      options.wd === true || options.env || options.joinCgroup || options.netSocket !== undefined ||
      options.setuid === 'follow' || options.setgid === 'follow';
    let pidfd = -1;
    const target = options.target;
    if (needsTarget) {
      if (target === undefined) {
        const kind = [...wanted].find(([, v]) => v === true)?.[0];
        throw usageError(kind ? `neither filename nor target pid supplied for ns/${kind}` : 'no target PID specified (--target)');
      }
      pidfd = sys.pidfdOpen(target);
      opened.fds.push(pidfd);
      if (options.targetInode !== undefined && statSync(`/proc/self/fd/${pidfd}`).ino !== options.targetInode) {
        throw new NsError({ errno: 3, code: 'ESRCH', syscall: 'pidfd_open', path: `pid ${target}`,
                            message: `pid ${target} is no longer the process with inode ${options.targetInode}` });
      }
    }
    if (options.all && target !== undefined) {
      for (const k of KIND_NAMES) {
        if (wanted.has(k)) continue;
        try {
          statSync(`/proc/${target}/ns/${k}`);
        } catch {
          continue; // util-linux 2.38: a kind the kernel lacks is skipped
        }
        wanted.set(k, true);
      }
    }
    // Entering our own user namespace again is refused (EINVAL) and would give nothing.
    if (wanted.get('user') === true && target !== undefined && options.all) {
      const same = Namespace.ofPid(target, 'user').use((t) => Namespace.ofPid('self', 'user').use((s) => s.equals(t)));
      if (same) wanted.delete('user');
    }
    if (options.netSocket !== undefined && target !== undefined) {
      const sock = sys.pidfdGetfd(pidfd, options.netSocket);
      opened.fds.push(sock);
      opened.handles.push(Namespace.fromFd(sys.ioctlFd(sock, SIOCGSKNS, '-N/--net-socket'), 'net'));
      opened.entered.push('net');
      wanted.delete('net');
    }
    const fromTarget: NamespaceKind[] = [];
    for (const [k, v] of wanted) {
      if (v === true) fromTarget.push(k);
      else opened.handles.push(Namespace.open(v, k));
      opened.entered.push(k);
    }
    if (options.userParent) {
      // nsenter's open_parent_user_ns_fd: the user namespace given as a file, else the target's,
      // else the first namespace given as a file; then NS_GET_USERNS on it (for a user
      // namespace its parent, for any other its owner).
      const userFile = opened.handles.find((h) => h.kind === 'user');
      const base = userFile ?? (target !== undefined ? Namespace.ofPid(target, 'user') : opened.handles[0]);
      if (!base) throw usageError('no target PID specified (--target)');
      const above = base.owner();
      if (base !== userFile && !opened.handles.includes(base)) base.close();
      if (userFile) {
        opened.handles.splice(opened.handles.indexOf(userFile), 1);
        userFile.close();
      }
      const i = fromTarget.indexOf('user');
      if (i >= 0) fromTarget.splice(i, 1);
      opened.handles.push(above);
      if (!opened.entered.includes('user')) opened.entered.push('user');
    }
    skipOwnTimeNamespace(target, fromTarget, opened);
    // setns(pidfd, flags) switches all of the target's namespaces at once (Linux 5.8), which also
    // enters nested user namespaces such as bubblewrap's, where /proc/PID/ns files may not open.
    if (fromTarget.length) opened.join.push({ pidfd, kinds: KIND_NAMES.filter((k) => fromTarget.includes(k)) });
    opened.join.push(...opened.handles);
    opened.ids = programNamespaceIds(target, fromTarget, opened.handles);

    if (options.root !== undefined) {
      opened.rootFd = openNamed('--root', options.root === true ? `/proc/${target}/root` : options.root);
      opened.fds.push(opened.rootFd);
    }
    if (options.wd !== undefined) {
      opened.wdFd = openNamed('--wd', options.wd === true ? `/proc/${target}/cwd` : options.wd);
      opened.fds.push(opened.wdFd);
    } else if (options.root !== undefined && options.wdns === undefined && !opened.entered.includes('mnt')) {
      // nsenter keeps the working directory it has after entering (it opens "." before the
      // chroot and returns there): without a mount namespace that is still ours.
      opened.cwdFd = sys.openRaw('.', O_PATH_DIR);
      opened.fds.push(opened.cwdFd);
    }
    if (options.env && target !== undefined) {
      opened.env = readFileSync(`/proc/${target}/environ`, 'utf8').split('\0').filter(Boolean);
    }
    if (options.joinCgroup && target !== undefined) opened.cgroupProcs = cgroupProcsOf(target);
    if (target !== undefined && (options.setuid === 'follow' || options.setgid === 'follow')) {
      const ids = targetIds(target);
      opened.targetUid = ids.uid;
      opened.targetGid = ids.gid;
    }
    return opened;
  } catch (e) {
    opened.close();
    if (e instanceof NsError && e.syscall === 'pidfd_open' && e.code === 'ESRCH' && !e.message.includes('inode')) {
      throw new NsError({ errno: 3, syscall: 'pidfd_open', path: `pid ${options.target}`,
                          message: `cannot open pid ${options.target}: no such process` });
    }
    throw e;
  }
}

/** Steps for what was opened: root, working directory, fork, ids, caps, cgroup. */
export function planEnter(options: EnterOptions, opened: OpenedTargets): { spawn: SpawnOptions; forks: boolean } {
  const child: PhasedOp[] = [];
  if (opened.rootFd !== undefined) {
    child.push({ op: 'fchdir', fd: opened.rootFd, phase: 'root', step: '--root' });
    child.push({ op: 'chroot', path: '.', phase: 'root', step: '--root' });
  }
  if (opened.wdFd !== undefined) child.push({ op: 'fchdir', fd: opened.wdFd, phase: 'after-root', step: '--wd' });
  else if (options.wdns !== undefined) child.push({ op: 'chdir', path: options.wdns, phase: 'after-root', step: '--wdns' });
  else if (opened.cwdFd !== undefined) child.push({ op: 'fchdir', fd: opened.cwdFd, phase: 'after-root', step: '--root' });
  // Entering a mount namespace left us at its root, where nsenter returns after the chroot.
  else if (opened.rootFd !== undefined) child.push({ op: 'chdir', path: '/', phase: 'after-root', step: '--root' });
  // Joining a pid namespace only changes where children go: fork so the program is inside.
  const forks = opened.entered.includes('pid') && !options.noFork;
  if (forks) {
    // nsenter's waiting parent passes no signal on (continue_as_child): what a terminal sends
    // reaches the program directly, in the same process group, and a relay passing it on too
    // would deliver a ^C twice. The launcher's own policy is 'fork-default' to match.
    child.push({ op: 'fork', init: false, forward: [], phase: 'fork', step: 'fork into pid namespace' });
  }
  const uid = options.setuid === 'follow' ? opened.targetUid : options.setuid;
  const gid = options.setgid === 'follow' ? opened.targetGid : options.setgid;
  const enteringUser = opened.entered.includes('user');
  // With --user, nsenter always sets ids (0 unless given), dropping supplementary groups.
  if ((enteringUser && !options.preserveCredentials) || uid !== undefined || gid !== undefined) {
    const g = gid ?? (enteringUser && !options.preserveCredentials ? 0 : undefined);
    const u = uid ?? (enteringUser && !options.preserveCredentials ? 0 : undefined);
    if (g !== undefined) {
      // nsenter drops the supplementary groups before entering a user namespace and again
      // after, and fails only if both fail: inside, setgroups(2) is refused once "deny" was
      // written (user_namespaces(7)), outside an unprivileged caller may not. We drop them
      // where we can: here if we hold CAP_SETGID, else inside.
      const before = enteringUser && canSetgroupsHere();
      child.push({ op: 'setgroups', gids: [], phase: before ? 'pre-namespaces' : 'identity', step: '--setgid' });
      child.push({ op: 'setgid', gid: g, phase: 'identity', step: '--setgid' });
    }
    if (u !== undefined) child.push({ op: 'setuid', uid: u, phase: 'identity', step: '--setuid' });
  }
  // nsenter raises ambient capabilities only with --user: they are the ones the namespace gave.
  if (options.keepCaps && enteringUser) child.push({ op: 'ambient-all', phase: 'identity', step: '--keep-caps' });
  // -c: the process moves itself ("0" is the writer, cgroup v2's cgroup.procs), from where the
  // path was found, before it enters anything: as data, which spawn() and execInPlace() both run.
  if (opened.cgroupProcs) child.push({ op: 'write-file', path: opened.cgroupProcs, data: '0', phase: 'pre-namespaces', step: '--join-cgroup' });
  const steps: Step[] = [{ name: 'ns-enter', child }];
  return {
    spawn: { join: opened.join, steps, ...(opened.env ? { env: opened.env } : {}) },
    forks,
  };
}

/**
 * What the program's namespaces will be, known before it starts: the exec stage reports ids
 * by stat'ing /proc/self/ns once the namespaces are joined, which fails after joining a mount
 * namespace whose /proc belongs to a pid namespace the child is not in (yet).
 */
function programNamespaceIds(target: number | undefined, fromTarget: readonly NamespaceKind[],
                             handles: readonly Namespace[]): Partial<Record<NamespaceKind, number>> {
  const ids: Partial<Record<NamespaceKind, number>> = {};
  for (const kind of KIND_NAMES) {
    const handle = handles.find((h) => h.kind === kind);
    // For pid and time, ours: the ones our children (the program) get.
    const path = fromTarget.includes(kind) ? nsProcPath(target!, kind) : nsProcPath('self', kind, true);
    try {
      ids[kind] = handle ? handle.id : statSync(path).ino;
    } catch (e) {
      // A target's /proc/PID/ns may be closed to us (ptrace rules, proc(5)): no id to give.
      if ((e as NodeJS.ErrnoException).code !== 'EACCES') throw e;
    }
  }
  return ids;
}

/**
 * Joining the time namespace we are already in changes nothing, but the exec stage joins time
 * last, after the user namespace, where we may no longer hold CAP_SYS_ADMIN over the initial
 * time namespace (setns(2) EPERM): `-a` on a target in a new user namespace would fail. nsenter
 * joins time in its first pass, before user, so it succeeds. Leave it out when it is ours.
 */
function skipOwnTimeNamespace(target: number | undefined, fromTarget: NamespaceKind[], opened: OpenedTargets): void {
  const own = statSync('/proc/self/ns/time');
  const same = (path: string) => {
    const st = statSync(path);
    return st.ino === own.ino && st.dev === own.dev;
  };
  const i = fromTarget.indexOf('time');
  if (i >= 0 && target !== undefined && sameIfReadable(() => same(`/proc/${target}/ns/time`))) fromTarget.splice(i, 1);
  const h = opened.handles.findIndex((n) => n.kind === 'time' && sameIfReadable(() => same(`/proc/self/fd/${n.fd}`)));
  if (h >= 0) opened.handles.splice(h, 1)[0]!.close();
}

/** A namespace we may not stat (EACCES: ptrace rules of proc(5)) is not known to be ours. */
function sameIfReadable(check: () => boolean): boolean {
  try {
    return check();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EACCES') return false;
    throw e;
  }
}


/** A directory opened for a later fchdir/chroot, its failure naming the option it serves. */
function openNamed(option: string, path: string): number {
  try {
    return sys.openRaw(path, O_PATH_DIR);
  } catch (e) {
    throw NsError.from(e).withStep(option);
  }
}
