/**
 * The namespaces on the system, found the way lsns(8) finds them (util-linux 2.42):
 * - every process's /proc/PID/ns/* (a process that exits while we look, or whose links we may
 *   not read, is passed over: unprivileged callers see only their own processes);
 * - namespaces no process is in, kept alive by an open fd in some process (/proc/PID/fd), by a
 *   socket created in a network namespace (SIOCGSKNS on a pidfd_getfd(2) copy), or by an nsfs
 *   bind mount in our mount namespace (`ip netns add`, `unshare --net=FILE`), each with the
 *   owners and parents it leads to;
 * - for trees, the owners and parents of process namespaces that no process is in (lsns'
 *   "ghost" namespaces), found from the child's fd with NS_GET_USERNS / NS_GET_PARENT.
 * Relations come from the nsfs ioctls (ioctl_ns(2)); where the kernel says EPERM (outside our
 * user namespace tree) the id is 0, as lsns prints it.
 */
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, statSync } from 'node:fs';
import { parsePasswd, PASSWD_FILE } from './accounts';
import { decodeBytes, fsPath } from './bytes';
import { kindFromCloneFlag, NAMESPACE_KINDS, nsProcPath, type NamespaceKind } from './kinds';
import { statIds } from './sys/files';
import { ioctlFd, nsGetOwnerUid, nsGetType, nsRelatedFd } from './sys/nsfs';
import { closeFd, pidfdGetfd, pidfdOpen } from './sys/process';
import * as socket from './sys/socket';

export interface ProcessEntry {
  readonly pid: number;
  readonly ppid: number;
  readonly uid: number;
}

export interface NamespaceEntry {
  /** The nsfs inode number. */
  ns: number;
  type: NamespaceKind;
  nprocs: number;
  /** Lowest pid in the namespace; null when no process is in it. */
  pid: number | null;
  ppid: number | null;
  /** Uid of the lowest pid; for a namespace without processes, the uid that created it (user namespaces) or 0. */
  uid: number;
  user: string;
  /** Command line of the lowest pid, as lsns reads it. */
  command: string | null;
  /** Parent namespace (pid and user namespaces); 0 when there is none we may see. */
  pns: number;
  /** Owning user namespace; 0 when there is none we may see. */
  ons: number;
  /** The id the network subsystem gives this net namespace (`ip netns set`); only when asked. */
  netnsid: number | 'unassigned' | null;
  /** nsfs mount points of this namespace in our mount namespace (`/run/netns/NAME`). */
  nsfs: string[];
  /** The processes in it, by pid. */
  processes: ProcessEntry[];
}

export interface ListOptions {
  types?: readonly NamespaceKind[];
  /** Only the namespaces this process is in. */
  pid?: number;
  /** Add the owners and parents no process is in (what a tree needs to hang its branches on). */
  relations?: boolean;
  /** Ask the kernel for each net namespace's NETNSID (RTM_GETNSID). */
  netnsid?: boolean;
  /**
   * Also the namespaces no process is in, held by an fd, a socket or a bind mount (default):
   * false skips reading every process's fds, for callers that only want process namespaces.
   */
  held?: boolean;
}

let passwd: Map<number, string> | undefined;

/** Name for a uid as getpwuid(3) finds it in /etc/passwd, else the number. */
export function userName(uid: number): string {
  if (!passwd) {
    passwd = new Map();
    try {
      // The first line for a uid names it, as getpwuid(3) finds it.
      for (const e of parsePasswd(readFileSync(PASSWD_FILE, 'utf8')).reverse()) passwd.set(e.uid, e.name);
    } catch {
      // No /etc/passwd (a minimal rootfs): numeric names below.
    }
  }
  return passwd.get(uid) ?? String(uid);
}

const O_RDONLY_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;
/** What lsns reads of a /proc file (BUFSIZ). */
const PROC_READ_MAX = 8192;

const procBuffer = Buffer.alloc(PROC_READ_MAX);

/** The first PROC_READ_MAX bytes of a /proc file, valid until the next call; null if unreadable. */
function readProcFile(path: string): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY_CLOEXEC);
  } catch {
    return null;
  }
  try {
    const buf = procBuffer;
    let n = 0;
    for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0;) n += r;
    return buf.subarray(0, n);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/**
 * A process's command as lsns shows it: /proc/PID/cmdline with its NULs as spaces and its last
 * byte dropped (the final NUL), or /proc/PID/comm for kernel threads; null once it has exited.
 */
export function commandOf(pid: number): string | null {
  for (const file of ['cmdline', 'comm']) {
    const data = readProcFile(`/proc/${pid}/${file}`);
    if (data && data.length > 0) {
      const text = Buffer.from(data.subarray(0, data.length - 1)).map((b) => (b === 0 ? 0x20 : b));
      // strdup() stops at the first NUL: there are none left.
      return decodeBytes(text);
    }
  }
  return null;
}

/** pid and ppid from /proc/PID/stat (the comm field may hold spaces and parentheses). */
function readStat(pid: number): { pid: number; ppid: number } | null {
  const data = readProcFile(`/proc/${pid}/stat`);
  if (!data) return null;
  const stat = data.toString('latin1');
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  const ownPid = Number.parseInt(stat, 10);
  const ppid = Number(fields[1]);
  if (close < 0 || !Number.isInteger(ownPid) || !Number.isInteger(ppid)) return null;
  return { pid: ownPid, ppid };
}

/** ino of an fd's file, or 0. */
function inoOf(fd: number): number {
  try {
    return fstatSync(fd).ino;
  } catch {
    return 0;
  }
}

/** Parent (pid and user namespaces only) and owner ids of the namespace fd refers to. */
function relationsOf(fd: number, type: NamespaceKind): { pns: number; ons: number } {
  let pns = 0;
  let ons = 0;
  if (type === 'pid' || type === 'user') {
    const p = nsRelatedFd(fd, 'parent');
    if (p >= 0) {
      pns = inoOf(p);
      closeFd(p);
    }
  }
  const o = nsRelatedFd(fd, 'userns');
  if (o >= 0) {
    ons = inoOf(o);
    closeFd(o);
  }
  return { pns, ons };
}

// rtnetlink (linux/rtnetlink.h, linux/net_namespace.h): the one request lsns makes.
const NETLINK_ROUTE = 0;
const RTM_NEWNSID = 88;
const RTM_GETNSID = 90;
const NLM_F_REQUEST = 1;
const NETNSA_NSID = 1;
const NETNSA_FD = 3;
const NETNSA_NSID_NOT_ASSIGNED = -1;

/**
 * RTM_GETNSID for the namespace fd refers to: the id our network namespace knows it by, as
 * `ip netns list-id` shows, -1 when none is assigned, null when the kernel does not answer.
 */
function queryNetnsid(netlink: number, fd: number): number | null {
  // nlmsghdr (16) + rtgenmsg (1, padded to 4) + rtattr NETNSA_FD (4 + 4).
  const req = Buffer.alloc(28);
  req.writeUInt32LE(28, 0);
  req.writeUInt16LE(RTM_GETNSID, 4);
  req.writeUInt16LE(NLM_F_REQUEST, 6);
  req.writeUInt16LE(8, 20);
  req.writeUInt16LE(NETNSA_FD, 22);
  req.writeInt32LE(fd, 24);
  try {
    socket.send(netlink, req);
    const res = Buffer.alloc(64);
    const n = socket.recv(netlink, res);
    if (n < 28 || res.readUInt16LE(4) !== RTM_NEWNSID) return null;
    // The first attribute after the 4-byte rtgenmsg must be the id.
    if (res.readUInt16LE(22) !== NETNSA_NSID) return null;
    return res.readInt32LE(24);
  } catch {
    return null;
  }
}

export interface NsfsMount {
  readonly type: string;
  readonly ns: number;
  readonly target: string;
}

/** Unescapes mountinfo's octal escapes (\040 for a space...). */
function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** nsfs mounts in our mount namespace, in mountinfo order: root "net:[4026532…]" and where. */
export function nsfsMounts(mountinfo = '/proc/self/mountinfo'): NsfsMount[] {
  let text: string;
  try {
    text = readFileSync(mountinfo, 'latin1');
  } catch {
    return [];
  }
  const out: NsfsMount[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0 || !line.startsWith('nsfs ', sep + 3)) continue;
    const fields = line.slice(0, sep).split(' ');
    const root = unescapeMountinfo(fields[3] ?? '');
    const m = /^([a-z]+):\[(\d+)\]$/.exec(root);
    if (!m) continue;
    const target = decodeBytes(Buffer.from(unescapeMountinfo(fields[4] ?? ''), 'latin1'));
    out.push({ type: m[1]!, ns: Number(m[2]), target });
  }
  return out;
}

/** "net:[4026531840]": what readlink(2) of an fd on a namespace says (nsfs' d_dname). */
const NSFS_LINK = new RegExp(`^(${NAMESPACE_KINDS.map((k) => k.procName).join('|')}):\\[(\\d+)\\]$`);
/** ioctl SIOCGSKNS (linux/sockios.h): the network namespace a socket was created in. */
const SIOCGSKNS = 0x894c;
const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;

/** One pass over /proc and the mount table; see the module comment. */
class Census {
  readonly byId = new Map<number, NamespaceEntry>();
  private netlink = -1;
  private nsfsDev: number | undefined;

  constructor(private readonly kinds: ReadonlySet<NamespaceKind>, private readonly options: ListOptions,
              private readonly mounts: readonly NsfsMount[]) {}

  private newEntry(ns: number, type: NamespaceKind, pns: number, ons: number, uid: number): NamespaceEntry {
    const e: NamespaceEntry = {
      ns, type, nprocs: 0, pid: null, ppid: null, uid, user: '', command: null, pns, ons,
      netnsid: null, nsfs: [], processes: [],
    };
    this.byId.set(ns, e);
    return e;
  }

  private setNetnsid(e: NamespaceEntry, fd: number): void {
    if (e.type !== 'net' || !this.options.netnsid) return;
    if (this.netlink < 0) {
      try {
        this.netlink = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE);
      } catch {
        return;
      }
    }
    const id = queryNetnsid(this.netlink, fd);
    e.netnsid = id === null ? null : id === NETNSA_NSID_NOT_ASSIGNED ? 'unassigned' : id >= 0 ? id : null;
  }

  /**
   * A namespace reached through an fd rather than a process (lsns' add_namespace_for_nsfd), and
   * the parent and owner it leads to, as far as we may see. `filtered` applies -t to them.
   */
  addFromFd(fd: number, ino: number, filtered: boolean): NamespaceEntry | undefined {
    const known = this.byId.get(ino);
    if (known) return known;
    let type: NamespaceKind | undefined;
    try {
      type = kindFromCloneFlag(nsGetType(fd));
    } catch {
      return undefined;
    }
    if (!type || (filtered && !this.kinds.has(type))) return undefined;
    const parentFd = type === 'pid' || type === 'user' ? nsRelatedFd(fd, 'parent') : -1;
    const ownerFd = nsRelatedFd(fd, 'userns');
    try {
      const pns = parentFd >= 0 ? inoOf(parentFd) : 0;
      const ons = ownerFd >= 0 ? inoOf(ownerFd) : 0;
      let uid = 0;
      if (type === 'user') {
        try {
          uid = nsGetOwnerUid(fd);
        } catch {
          // Not ours to ask: root, as lsns' zeroed fallback says.
        }
      }
      const e = this.newEntry(ino, type, pns, ons, uid);
      this.setNetnsid(e, fd);
      if (pns !== 0 && pns !== ino) this.addFromFd(parentFd, pns, filtered);
      if (ons !== 0) this.addFromFd(ownerFd, ons, filtered);
      return e;
    } finally {
      if (parentFd >= 0) closeFd(parentFd);
      if (ownerFd >= 0) closeFd(ownerFd);
    }
  }

  private addFromPath(path: string, ino: number): void {
    if (this.byId.has(ino)) return;
    let fd: number;
    try {
      // O_NONBLOCK: should something else be mounted over the nsfs file (a FIFO), no wait.
      fd = openSync(fsPath(path), O_RDONLY_CLOEXEC | O_NONBLOCK);
    } catch {
      return;
    }
    try {
      this.addFromFd(fd, ino, true);
    } finally {
      closeSync(fd);
    }
  }

  /** The nsfs device (lsns' read_nsfs_dev), from our own namespace files or the holder's. */
  private nsfsDevice(pid: number): number | undefined {
    for (const who of ['self', pid] as const) {
      for (const k of NAMESPACE_KINDS) {
        if (this.nsfsDev !== undefined) return this.nsfsDev;
        // statIds' dev, as the fds it is compared with are read; undefined: try the next one
        this.nsfsDev = statIds(nsProcPath(who, k.kind))?.dev;
      }
    }
    return this.nsfsDev;
  }

  /** A namespace first seen as a process's: its relations asked once, of the first process's link. */
  private newProcessNamespace(path: string, ino: number, kind: NamespaceKind, uid: number): NamespaceEntry {
    let fd: number;
    try {
      fd = openSync(path, O_RDONLY_CLOEXEC);
    } catch {
      // Gone since the readlink: what we know is its id.
      return this.newEntry(ino, kind, 0, 0, uid);
    }
    try {
      const { pns, ons } = relationsOf(fd, kind);
      const e = this.newEntry(ino, kind, pns, ons, uid);
      this.setNetnsid(e, fd);
      return e;
    } finally {
      closeSync(fd);
    }
  }

  readProcess(pid: number): void {
    const uid = statIds(`/proc/${pid}`)?.uid;
    if (uid === undefined) return; // exited while we looked
    const stat = readStat(pid);
    if (!stat) return;
    const proc: ProcessEntry = { pid: stat.pid, ppid: stat.ppid, uid };
    for (const kind of this.kinds) {
      const path = nsProcPath(pid, kind);
      // The link's text names the inode lsns stat(2)s for ("net:[4026531840]"), for less.
      let ino: number;
      try {
        ino = Number(NSFS_LINK.exec(readlinkSync(path))?.[2] ?? statSync(path).ino);
      } catch {
        continue; // EACCES (not ours), ENOENT (gone, or a kind the kernel lacks)
      }
      (this.byId.get(ino) ?? this.newProcessNamespace(path, ino, kind, uid)).processes.push(proc);
    }
    if (this.options.held !== false) this.readOpenedNamespaces(pid);
  }

  /**
   * lsns' read_opened_namespaces: namespaces the process holds an fd or a socket for. One stat(2)
   * per fd, as lsns makes: a namespace file, opened directly or through a bind mount, is on the
   * nsfs device (its inode the namespace's id), a socket is S_IFSOCK. (A readlink of every fd,
   * then a stat of those naming a path, made two calls for each open file.)
   */
  private readOpenedNamespaces(pid: number): void {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      return;
    }
    const nsfsDev = this.nsfsDevice(pid);
    // One pidfd per process, opened at its first socket; -2 once that failed (not ours).
    let pidfd = -1;
    try {
      for (const name of fds) {
        const path = `/proc/${pid}/fd/${name}`;
        // statx(2) itself, not fs.statSync: no Stats object per fd, and no plain stat of another
        // process's pipe, whose file type Node 20 and 22's realpathSync (every require() through
        // a symlink, as in npm workspaces and pnpm) trusts and then stops resolving, loading a
        // second copy of a module.
        const st = statIds(path);
        if (!st) continue; // EACCES (not ours to look at), or closed since the readdir
        if (st.dev === nsfsDev) {
          if (!this.byId.has(st.ino)) this.addFromPath(path, st.ino);
        } else if ((st.mode & S_IFMT) === S_IFSOCK) {
          if (!this.kinds.has('net') || pidfd === -2) continue;
          if (pidfd === -1) {
            try {
              pidfd = pidfdOpen(pid);
            } catch {
              pidfd = -2;
              continue;
            }
          }
          this.readSocket(pidfd, Number(name));
        }
      }
    } finally {
      if (pidfd >= 0) closeFd(pidfd);
    }
  }

  /** The netns a socket was created in, from a copy of the holder's fd (needs ptrace rights over it). */
  private readSocket(pidfd: number, targetFd: number): void {
    let sock: number;
    try {
      sock = pidfdGetfd(pidfd, targetFd);
    } catch {
      return;
    }
    try {
      let nsfd: number;
      try {
        nsfd = ioctlFd(sock, SIOCGSKNS, 'socket');
      } catch {
        return;
      }
      try {
        const ino = inoOf(nsfd);
        if (ino && !this.byId.has(ino)) this.addFromFd(nsfd, ino, true);
      } finally {
        closeFd(nsfd);
      }
    } finally {
      closeFd(sock);
    }
  }

  /** lsns' read_persistent_namespaces: nsfs bind mounts of namespaces nothing else holds. */
  readPersistent(): void {
    for (const m of this.mounts) if (!this.byId.has(m.ns)) this.addFromPath(m.target, m.ns);
  }

  /**
   * Owners and parents of process namespaces that nothing in /proc shows (lsns 2.38's
   * interpolate_missing_namespaces): reached from the child's lowest process, whatever -t says.
   */
  readMissingRelations(): void {
    for (const rel of ['pns', 'ons'] as const) {
      for (const e of [...this.byId.values()]) {
        const id = e[rel];
        if (id === 0 || this.byId.has(id) || e.processes.length === 0) continue;
        let fd: number;
        try {
          fd = openSync(nsProcPath(Math.min(...e.processes.map((p) => p.pid)), e.type), O_RDONLY_CLOEXEC);
        } catch {
          continue;
        }
        try {
          const related = nsRelatedFd(fd, rel === 'pns' ? 'parent' : 'userns');
          if (related < 0) continue;
          try {
            if (inoOf(related) === id) this.addFromFd(related, id, false);
          } finally {
            closeFd(related);
          }
        } finally {
          closeSync(fd);
        }
      }
    }
  }

  close(): void {
    if (this.netlink >= 0) closeFd(this.netlink);
    this.netlink = -1;
  }
}

/**
 * Lists namespaces, sorted by id as lsns does: those processes are in, those only an fd, a
 * socket or a bind mount holds, and with `relations` the owners and parents trees hang on.
 */
export function listNamespaces(options: ListOptions = {}): NamespaceEntry[] {
  const kinds = new Set(NAMESPACE_KINDS.map((k) => k.kind).filter((k) => !options.types || options.types.includes(k)));
  const mounts = nsfsMounts();
  const census = new Census(kinds, options, mounts);
  try {
    const pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).sort((a, b) => a - b);
    for (const pid of pids) census.readProcess(pid);
    if (options.held !== false) census.readPersistent();
    if (options.relations) census.readMissingRelations();
  } finally {
    census.close();
  }
  let entries = [...census.byId.values()].sort((a, b) => a.ns - b.ns);
  if (options.pid !== undefined) entries = entries.filter((e) => e.processes.some((p) => p.pid === options.pid));
  const mountsOf = new Map<string, string[]>();
  for (const m of mounts) {
    const key = `${m.type}:${m.ns}`;
    mountsOf.set(key, [...(mountsOf.get(key) ?? []), m.target]);
  }
  for (const e of entries) {
    e.processes.sort((a, b) => a.pid - b.pid);
    e.nprocs = e.processes.length;
    const lowest = e.processes[0];
    if (lowest) {
      e.pid = lowest.pid;
      e.ppid = lowest.ppid;
      e.uid = lowest.uid;
      e.command = commandOf(lowest.pid);
    }
    e.user = userName(e.uid);
    e.nsfs = mountsOf.get(`${e.type}:${e.ns}`) ?? [];
  }
  return entries;
}
