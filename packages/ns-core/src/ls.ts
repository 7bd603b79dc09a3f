/**
 * Namespaces in use on the system, read from /proc like lsns(8): one entry per namespace
 * with the number of processes in it and the lowest pid.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { parsePasswd, PASSWD_FILE } from './accounts';
import { NAMESPACE_KINDS, nsProcPath, type NamespaceKind } from './kinds';
import { Namespace } from './namespace';

export interface NamespaceEntry {
  ns: number;
  type: NamespaceKind;
  nprocs: number;
  /** Lowest pid in the namespace. */
  pid: number;
  ppid: number;
  uid: number;
  user: string;
  command: string;
  /** Parent namespace id (pid and user only), when readable. */
  pns: number | null;
  /** Owning user namespace id, when readable. */
  ons: number | null;
}

export interface ListOptions {
  types?: readonly NamespaceKind[];
  /** Only the namespaces of this process. */
  pid?: number;
  /** Read parent and owner ids (opens each namespace once; needed for trees). */
  relations?: boolean;
}

let passwd: Map<number, string> | undefined;

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

function commandOf(pid: number): string {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`);
    if (cmdline.length) return cmdline.toString().replace(/\0+$/, '').replaceAll('\0', ' ');
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

function ppidOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/** Lists namespaces that have at least one process, sorted by id as lsns does. */
export function listNamespaces(options: ListOptions = {}): NamespaceEntry[] {
  const kinds = NAMESPACE_KINDS.filter((k) => !options.types || options.types.includes(k.kind)).map((k) => k.kind);
  const pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).sort((a, b) => a - b);
  const found = new Map<string, NamespaceEntry>();
  const wanted = options.pid !== undefined ? new Set<string>() : undefined;
  if (options.pid !== undefined && wanted) {
    for (const kind of kinds) {
      try {
        wanted.add(`${kind}:${statSync(nsProcPath(options.pid, kind)).ino}`);
      } catch (e) {
        if (kind === kinds[0]) throw e; // the process does not exist
      }
    }
  }
  for (const pid of pids) {
    let uid: number;
    try {
      uid = statSync(`/proc/${pid}`).uid;
    } catch {
      continue; // exited while we looked
    }
    for (const kind of kinds) {
      let ino: number;
      try {
        ino = statSync(nsProcPath(pid, kind)).ino;
      } catch {
        continue;
      }
      const key = `${kind}:${ino}`;
      if (wanted && !wanted.has(key)) continue;
      const entry = found.get(key);
      if (entry) {
        entry.nprocs++;
        continue;
      }
      found.set(key, { ns: ino, type: kind, nprocs: 1, pid, ppid: 0, uid, user: '', command: '', pns: null, ons: null });
    }
  }
  const entries = [...found.values()].sort((a, b) => a.ns - b.ns);
  for (const e of entries) {
    e.user = userName(e.uid);
    e.command = commandOf(e.pid);
    e.ppid = ppidOf(e.pid);
    if (options.relations) readRelations(e);
  }
  return entries;
}

function readRelations(e: NamespaceEntry): void {
  let ns: Namespace;
  try {
    ns = Namespace.ofPid(e.pid, e.type);
  } catch {
    return;
  }
  try {
    try {
      e.ons = ns.owner().use((o) => o.id);
    } catch {
      // EPERM outside our user namespace tree: unknown, as lsns shows it.
    }
    if (e.type === 'pid' || e.type === 'user') {
      try {
        e.pns = ns.parent().use((p) => p.id);
      } catch {
        // The root of the tree visible to us.
      }
    }
  } finally {
    ns.close();
  }
}
