/**
 * Who the program is: the user namespace's maps (a range of ids as root, the caller's
 * /etc/subuid block through newuidmap, or just the caller's own id), the ids inside, and the
 * privileges it keeps (capabilities, no_new_privs).
 */
import { closeSync, fstatSync, read, type Stats } from 'node:fs';
import { constants } from 'node:os';
import { NsError, parseGroup, parsePasswd, sys, usageError, type PhasedOp, type Step } from 'ns-core';
import {
  parseMapRange, parseSubordinateIds, processContext, subordinateIdsOf, user, userName, SUBGID_FILE, SUBUID_FILE,
  type IdRange, type UserContext,
} from 'ns-user';

/**
 * What root maps by default: 65536 ids (a full 16-bit id space, so images with ids up to
 * 65535 work) starting at host id 1000000000, above the blocks useradd(8) hands out for
 * /etc/subuid (SUB_UID_MAX 600100000 in Debian's login.defs) and below 2^31, which some
 * tools mishandle. Container root is host uid 1000000000. A range that overlaps another
 * user's /etc/subuid block is refused: that user's containers would share ids with ours.
 */
export const DEFAULT_USERNS_RANGE = '0:1000000000:65536';

/**
 * `--userns=host`: the container's ids are the host's (every id mapped to itself), so its root
 * owns what host root owns and reads /etc/shadow, as docker's and podman's host mode give. It
 * still lives in a user namespace of its own: its capabilities act on what that namespace owns
 * (its mounts, network, hostname), never on the host's kernel-wide objects (modules, the
 * host's mounts and devices). Never a default: a range that reaches host id 0 needs it.
 */
export const HOST_USERNS_RANGE = '0:0:4294967295';

/** docker's --userns values: 'host' (the host's ids), or '' (a namespace of the container's own). */
export type UsernsMode = 'host' | '';

/**
 * Root's containers each get a range of their own (podman's --userns=auto): 65536 ids from
 * AUTO_RANGE_BASE on, one slot after another, below 2^31. Two containers sharing host ids could
 * reach each other's files, processes and cgroup files (issue 18 #2); idranges.ts leases them.
 */
export const AUTO_RANGE_BASE = 1000000000;
export const AUTO_RANGE_SIZE = 65536;
export const AUTO_RANGE_SLOTS = Math.floor((2 ** 31 - AUTO_RANGE_BASE) / AUTO_RANGE_SIZE);

/** prctl(2) options the security step uses. */
const PR_SET_DUMPABLE = 4;
const PR_SET_NO_NEW_PRIVS = 38;
const PR_SET_PDEATHSIG = 1;

export type MapMode = 'range' | 'subids' | 'single';

export interface Identity {
  /** ns-user's step: the namespace and its maps. */
  readonly userStep: Step;
  readonly mode: MapMode;
  readonly uidMap: readonly IdRange[];
  readonly gidMap: readonly IdRange[];
  /** setgroups(2) stays usable inside (not with a single-id map: user_namespaces(7)). */
  readonly setgroupsAllowed: boolean;
  /** The program's ids inside. */
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  /** 'host' when the container's ids are the host's (--userns=host), as inspect names it. */
  readonly usernsMode: UsernsMode;
  /**
   * The range is to be leased (root, no --userns-range): the maps above are a placeholder
   * until withIdRange gives the leased one.
   */
  readonly autoRange: boolean;
}

export interface IdentityOptions {
  /** --userns: 'host' for the host's ids (root only); default a range of the container's own. */
  readonly userns?: string;
  /** INNER:OUTER:COUNT for uids and gids alike (root only). */
  readonly usernsRange?: string;
  /** -u: UID[:GID] or NAME[:GROUP] inside. */
  readonly user?: string;
}

/** The container's own account files, for -u names and homes. */
export interface Accounts {
  readonly passwd: string;
  readonly group: string;
}

/** The most of an account file ns-run reads: a passwd of 4 MiB has some 50,000 accounts. */
export const ACCOUNT_FILE_MAX = 4 * 1024 * 1024;
/** How long reading a running container's account files may take, in all. */
export const ACCOUNT_READ_TIMEOUT_MS = 5000;

const O_RDONLY = 0;
const O_NONBLOCK = 0o4000;
const O_NOCTTY = 0o400;

/**
 * A running container's /etc/passwd and /etc/group, as root reads them for `exec -u NAME`,
 * through `rootFd` (its process's /proc/PID/root) without the container choosing what is read:
 * its processes may swap the files for a symlink, a FIFO or a device while we look.
 * - openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): every symlink and '..' on the way
 *   resolves inside the container's root, never against ours (an absolute symlink followed
 *   through /proc/PID/root would lead to the host's file), and no /proc magic link leads out.
 * - O_PATH | O_NOFOLLOW: nothing is opened yet (no FIFO waits for a writer, no device acts on
 *   an open), and a symlink as the last component is the symlink itself; the fd pins one inode.
 * - only a regular file of at most ACCOUNT_FILE_MAX bytes is then opened (through the pinned
 *   fd, so no swap can come in between) and read, within ACCOUNT_READ_TIMEOUT_MS.
 * A missing file reads as empty: then only numeric ids can be given, as resolveUser says.
 * @throws NsError EINVAL naming the file when it is not a regular file or too large;
 *   ETIMEDOUT when reading takes too long.
 */
export async function readAccountsInRoot(rootFd: number, option = '--user', timeoutMs = ACCOUNT_READ_TIMEOUT_MS): Promise<Accounts> {
  const deadline = Date.now() + timeoutMs;
  return { passwd: await readInRoot(rootFd, '/etc/passwd', option, deadline), group: await readInRoot(rootFd, '/etc/group', option, deadline) };
}

async function readInRoot(rootFd: number, file: string, option: string, deadline: number): Promise<string> {
  let pathFd: number;
  try {
    pathFd = sys.openat2(rootFd, file, sys.O_PATH | sys.O_NOFOLLOW, sys.RESOLVE.IN_ROOT | sys.RESOLVE.NO_MAGICLINKS);
  } catch (e) {
    // No such file (or /etc is not a directory): the container has no accounts of that kind.
    if (['ENOENT', 'ENOTDIR'].includes((e as NsError).code)) return '';
    throw withOption(e, option, file);
  }
  let fd: number | undefined;
  try {
    const pinned = fstatSync(pathFd);
    checkAccountFile(pinned, file, option);
    // Opening the pinned inode itself (proc(5): /proc/self/fd/N), never the path again.
    fd = sys.openRaw(`/proc/self/fd/${pathFd}`, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    return await readWithin(fd, file, option, deadline);
  } catch (e) {
    if (e instanceof TimedOut) {
      // The read may still be pending in libuv's threadpool: its fd stays open (this process
      // ends with the error) rather than be closed under it and reused.
      fd = undefined;
      throw new NsError({ errno: 110, code: 'ETIMEDOUT', path: file,
                          message: `${option}: reading the container's ${file} took longer than ${ACCOUNT_READ_TIMEOUT_MS / 1000} s` });
    }
    throw e;
  } finally {
    if (fd !== undefined) closeSync(fd);
    closeSync(pathFd);
  }
}

function checkAccountFile(st: Stats, file: string, option: string): void {
  const kind = st.isSymbolicLink() ? 'a symlink' : st.isFIFO() ? 'a FIFO' : st.isDirectory() ? 'a directory' : st.isSocket() ? 'a socket'
    : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : undefined;
  if (kind) {
    throw new NsError({ errno: 22, code: 'EINVAL', path: file,
                        message: `${option}: the container's ${file} is ${kind}, not a regular file; names are read only from one` });
  }
  if (st.size > ACCOUNT_FILE_MAX) {
    throw new NsError({ errno: 27, code: 'EFBIG', path: file,
                        message: `${option}: the container's ${file} is larger than ${ACCOUNT_FILE_MAX} bytes (${st.size})` });
  }
}

class TimedOut extends Error {}

/** Up to ACCOUNT_FILE_MAX + 1 bytes of fd (one more than allowed shows it grew), or TimedOut at the deadline. */
function readWithin(fd: number, file: string, option: string, deadline: number): Promise<string> {
  const buf = Buffer.alloc(ACCOUNT_FILE_MAX + 1);
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimedOut()), Math.max(0, deadline - Date.now()));
    let length = 0;
    const next = () => read(fd, buf, length, buf.length - length, length, (err, n) => {
      if (err) {
        clearTimeout(timer);
        reject(NsError.from(err, { syscall: 'read', path: file, step: option }));
      } else if (n === 0 || length + n >= buf.length) {
        clearTimeout(timer);
        length += n;
        if (length > ACCOUNT_FILE_MAX) {
          reject(new NsError({ errno: 27, code: 'EFBIG', path: file, message: `${option}: the container's ${file} is larger than ${ACCOUNT_FILE_MAX} bytes` }));
        } else resolve(buf.subarray(0, length).toString('utf8'));
      } else {
        length += n;
        next();
      }
    });
    next();
  });
}

function withOption(e: unknown, option: string, file: string): NsError {
  const err = NsError.from(e, { path: file });
  return new NsError({ errno: err.errno, code: err.code, path: file, syscall: 'openat2', message: `${option}: the container's ${file}: ${err.message}` });
}

function inside(ranges: readonly IdRange[], id: number): boolean {
  return ranges.some((r) => id >= r.inner && id < r.inner + r.count);
}

/**
 * Plans the user namespace. As root: `usernsRange` (default DEFAULT_USERNS_RANGE), written
 * directly. As anyone else: the first /etc/subuid and /etc/subgid blocks, written by the setuid
 * helpers, with the caller's own id as root and the block as ids 1..N (podman's layout); or,
 * without such blocks or helpers, only the caller's id as root (setgroups denied).
 * @throws NsError EUSAGE for a bad range, an unknown -u name, or ids the map does not cover.
 */
export function planIdentity(options: IdentityOptions, accounts: Accounts, ctx: UserContext = processContext()): Identity {
  let mode: MapMode;
  let uidMap: IdRange[];
  let gidMap: IdRange[];
  let step: Step;
  const usernsMode = parseUsernsMode(options.userns);
  let autoRange = false;
  if (ctx.privileged) {
    const hostIds = usernsMode === 'host';
    autoRange = !hostIds && options.usernsRange === undefined;
    const range = parseMapRange(options.usernsRange ?? (hostIds ? HOST_USERNS_RANGE : DEFAULT_USERNS_RANGE), '--userns-range');
    // Host ids are the explicit choice of sharing every id, others' blocks included.
    if (!hostIds) {
      refuseHostRoot(range);
      if (!autoRange) refuseOthersBlocks(range, ctx);
    }
    mode = 'range';
    uidMap = [range];
    gidMap = [range];
    step = rangeStep(range, ctx);
  } else {
    if (usernsMode === 'host') {
      throw usageError('--userns=host: only root may share the host\'s ids (an ordinary user\'s container root is that user already)');
    }
    if (options.usernsRange !== undefined) {
      throw usageError(`--userns-range: only root may choose the range (yours comes from ${SUBUID_FILE})`);
    }
    const blocks = subordinateBlocks(ctx);
    if (blocks) {
      mode = 'subids';
      uidMap = [{ inner: 0, outer: ctx.euid, count: 1 }, { inner: 1, outer: blocks.uid.start, count: blocks.uid.count }];
      gidMap = [{ inner: 0, outer: ctx.egid, count: 1 }, { inner: 1, outer: blocks.gid.start, count: blocks.gid.count }];
      step = user({ mapUser: 0, mapGroup: 0,
                    labels: { mapUser: 'user namespace', mapGroup: 'user namespace', mapUsers: `user namespace (${SUBUID_FILE})`,
                              mapGroups: `user namespace (${SUBGID_FILE})` },
                    mapUsers: [{ inner: 1, outer: blocks.uid.start, count: blocks.uid.count }],
                    mapGroups: [{ inner: 1, outer: blocks.gid.start, count: blocks.gid.count }] }, ctx);
    } else {
      mode = 'single';
      uidMap = [{ inner: 0, outer: ctx.euid, count: 1 }];
      gidMap = [{ inner: 0, outer: ctx.egid, count: 1 }];
      step = user({ mapRoot: true, labels: { mapRoot: 'user namespace' } }, ctx);
    }
  }
  const ids = resolveUser(options.user, accounts);
  if (!inside(uidMap, ids.uid) || !inside(gidMap, ids.gid)) {
    const why = mode === 'single' ? `only id 0 is mapped (no ${SUBUID_FILE}/${SUBGID_FILE} block or newuidmap for uid ${ctx.euid})`
      : `the map covers ids ${uidMap.map((r) => `${r.inner}-${r.inner + r.count - 1}`).join(', ')}`;
    throw usageError(`--user: ${options.user}: ${why}`);
  }
  return { userStep: step, mode, uidMap, gidMap, setgroupsAllowed: mode !== 'single', usernsMode, autoRange, ...ids };
}

function rangeStep(range: IdRange, ctx: UserContext): Step {
  return user({ mapUsers: [range], mapGroups: [range], labels: { mapUsers: '--userns-range', mapGroups: '--userns-range' } }, ctx);
}

/** The identity with the leased range in place of the placeholder (the ids inside stay). */
export function withIdRange(identity: Identity, outer: number, ctx: UserContext = processContext()): Identity {
  const range = parseMapRange(`0:${outer}:${AUTO_RANGE_SIZE}`, '--userns-range');
  return { ...identity, uidMap: [range], gidMap: [range], userStep: rangeStep(range, ctx), autoRange: false };
}

/** Whether the range overlaps a block /etc/subuid or /etc/subgid gives another user (such slots are skipped). */
export function othersBlockOverlaps(range: IdRange, ctx: UserContext = processContext()): boolean {
  try {
    refuseOthersBlocks(range, ctx);
    return false;
  } catch (e) {
    if ((e as NsError).code === 'EUSAGE') return true;
    throw e;
  }
}

/** --userns as typed: 'host', or nothing / '' / 'private' / 'auto' for a namespace (and, as root, a range) of the container's own. */
function parseUsernsMode(value: string | undefined): UsernsMode {
  if (value === undefined || value === '' || value === 'private' || value === 'auto') return '';
  if (value === 'host') return 'host';
  throw usageError(`--userns: '${value}' is not host, private or auto`);
}

/**
 * A range that maps host id 0 makes one of the container's ids host root (container root, for
 * 0:0:N), which reads and writes every root-owned file it can reach: allowed only as the
 * explicit choice --userns=host.
 */
function refuseHostRoot(range: IdRange & { text?: string }): void {
  if (range.outer === 0) {
    const who = range.inner === 0 ? 'container root would be host root' : `container id ${range.inner} would be host root`;
    throw usageError(`--userns-range: ${range.text ?? `${range.inner}:${range.outer}:${range.count}`} maps host id 0 (${who}); ` +
                     'add --userns=host to mean that');
  }
}

/** A range overlapping a block /etc/subuid or /etc/subgid gives another user (root's own are fine). */
function refuseOthersBlocks(range: IdRange & { text?: string }, ctx: UserContext): void {
  for (const file of [SUBUID_FILE, SUBGID_FILE]) {
    let text: string;
    try {
      text = ctx.readFile(file);
    } catch (e) {
      // No such file: no blocks were handed out.
      if ((e as { code?: string }).code === 'ENOENT') continue;
      throw e;
    }
    const other = parseSubordinateIds(text).ranges.find((b) => b.owner !== 'root' && b.owner !== '0' &&
      b.start < range.outer + range.count && range.outer < b.start + b.count);
    if (other) {
      throw usageError(`--userns-range: ${range.inner}:${range.outer}:${range.count} overlaps the ids ${file} gives ${other.owner} ` +
                       `(${other.start}-${other.start + other.count - 1}); choose another range`);
    }
  }
}

/** The caller's first subordinate blocks, if both files give one and both helpers exist. */
function subordinateBlocks(ctx: UserContext): { uid: { start: number; count: number }; gid: { start: number; count: number } } | undefined {
  if (!ctx.findProgram('newuidmap') || !ctx.findProgram('newgidmap')) return undefined;
  const name = userName(ctx.euid, ctx.readFile);
  const first = (file: string) => {
    let text: string;
    try {
      text = ctx.readFile(file);
    } catch (e) {
      // No such file: nobody has subordinate ids here.
      if ((e as { code?: string }).code === 'ENOENT') return undefined;
      throw e;
    }
    return subordinateIdsOf(text, { uid: ctx.euid, name }, file)[0];
  };
  const uid = first(SUBUID_FILE);
  const gid = first(SUBGID_FILE);
  return uid && gid ? { uid, gid } : undefined;
}

/** -u as Docker reads it: names from the container's passwd/group; GID defaults to the user's. */
export function resolveUser(spec: string | undefined, accounts: Accounts): { uid: number; gid: number; home: string } {
  const passwd = parsePasswd(accounts.passwd);
  if (spec === undefined || spec === '') return { uid: 0, gid: 0, home: passwd.find((a) => a.uid === 0)?.home || '/root' };
  const [u, g, extra] = spec.split(':');
  if (extra !== undefined || u === '' || g === '') throw usageError(`--user: '${spec}' is not UID[:GID] or NAME[:GROUP]`);
  const account = /^\d+$/.test(u!) ? passwd.find((a) => a.uid === Number(u)) : passwd.find((a) => a.name === u);
  if (!/^\d+$/.test(u!) && !account) throw usageError(`--user: unknown user '${u}' (not in the container's /etc/passwd)`);
  const uid = /^\d+$/.test(u!) ? Number(u) : account!.uid;
  let gid = account?.gid ?? 0;
  if (g !== undefined) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const group = parseGroup(accounts.group).find((x) => x.name === g);
      if (!group) throw usageError(`--user: unknown group '${g}' (not in the container's /etc/group)`);
      gid = group.gid;
    }
  }
  if (uid > 0xfffffffe || gid > 0xfffffffe) throw usageError(`--user: '${spec}' is out of range`);
  return { uid, gid, home: account?.home || (uid === 0 ? '/root' : '/') };
}

/**
 * The privileges the program keeps, applied last: the bounding set first (dropping needs
 * CAP_SETPCAP, which setuid to a non-root id would take away), then groups, gid and uid, then
 * the effective/permitted sets (empty for a non-root id: capabilities(7) clears them on the
 * switch anyway) and no_new_privs, so that no setuid binary or file capability inside can
 * give any of them back.
 *
 * PR_SET_DUMPABLE 0 comes first, once the parent is done with the child: the stage's child
 * shares the runner's memory and stays behind as the container's PID 1 (the init), so a
 * program inside that may ptrace its PID 1 (same uid, or CAP_SYS_PTRACE in the container's
 * user namespace) could read and write the runner's memory. A non-dumpable mm can only be
 * ptraced with CAP_SYS_PTRACE in the initial user namespace (ptrace(2), "ptrace access mode").
 */
export function securityStep(identity: Pick<Identity, 'uid' | 'gid' | 'setgroupsAllowed'>, keep: bigint): Step {
  const kept = identity.uid === 0 ? keep : 0n;
  const child: PhasedOp[] = [
    { op: 'prctl', option: PR_SET_DUMPABLE, args: [0], phase: 'namespaces', step: 'protect the runner' },
    ...becomeRootInside(identity.setgroupsAllowed),
    { op: 'bounding-keep', keep: kept, phase: 'identity', step: 'capabilities' },
    ...(identity.setgroupsAllowed ? [{ op: 'setgroups' as const, gids: [], phase: 'identity' as const, step: '--user' }] : []),
    { op: 'setgid', gid: identity.gid, phase: 'identity', step: '--user' },
    { op: 'setuid', uid: identity.uid, phase: 'identity', step: '--user' },
    { op: 'capset', effective: kept, permitted: kept, inheritable: 0n, phase: 'final', step: 'capabilities' },
    { op: 'prctl', option: PR_SET_NO_NEW_PRIVS, args: [1], phase: 'final', step: 'no_new_privs' },
  ];
  return { name: 'ns-run security', child };
}

/**
 * Right after the maps exist, the child becomes root of its namespace: a filesystem mounted
 * inside (the new tmpfs root, /tmp, /run) refuses to create files for an fsuid it cannot map
 * (EOVERFLOW), and the host's root, which a privileged runner's child still is, is not mapped
 * in a range map. Capabilities stay (the old uid was not the namespace's root, so nothing is
 * dropped: capabilities(7)). A change of euid clears PR_SET_PDEATHSIG (prctl(2)), so it is set
 * again, or the container would outlive a runner killed from now on.
 */
function becomeRootInside(setgroupsAllowed: boolean): PhasedOp[] {
  return [
    ...(setgroupsAllowed ? [{ op: 'setgroups' as const, gids: [], phase: 'namespaces' as const, step: 'root inside' }] : []),
    { op: 'setgid', gid: 0, phase: 'namespaces', step: 'root inside' },
    { op: 'setuid', uid: 0, phase: 'namespaces', step: 'root inside' },
    { op: 'prctl', option: PR_SET_PDEATHSIG, args: [constants.signals.SIGKILL], phase: 'namespaces', step: 'kill with parent' },
  ];
}
