/** Namespaces seen from outside: /proc/PID/ns links, and which of them differ from ours. */
import { readFileSync, readlinkSync } from 'node:fs';

/** Every entry of /proc/PID/ns, the for-children ones included, in a fixed order. */
export const NS_ENTRIES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'pid_for_children', 'time', 'time_for_children', 'user', 'uts'] as const;
export type NsEntry = (typeof NS_ENTRIES)[number];

/**
 * A program that prints its own namespace links as "name link" lines. `exec` keeps it one
 * process, so /proc/self is the program. pid_for_children cannot be read before the first
 * process enters the namespace (`unshare -p` without --fork): find prints an empty link then,
 * and exits 1.
 */
export const NS_PROBE: readonly string[] = ['sh', '-c', 'exec find /proc/self/ns -mindepth 1 -printf "%f %l\\n" 2>/dev/null'];

/**
 * A script printing what a program inherits besides namespaces: environment, limits, umask,
 * blocked and ignored signals, no_new_privs, seccomp, process group and session. Node ignores
 * SIGPIPE and blocks signals in its threads; none of that may reach the program.
 */
export const STATE_PROBE = 'env | grep -v "^_=" | sort; ulimit -a; umask; grep -E "^(SigBlk|SigIgn|NoNewPrivs|Seccomp)" /proc/self/status; ps -o pgid=,sid= -p $$';

/** The status NS_PROBE exits with, given what it printed. */
export function nsProbeStatus(links: NsLinks): number {
  return links.pid_for_children === '' ? 1 : 0;
}

export type NsLinks = Record<NsEntry, string>;

export function parseNsProbe(stdout: string): NsLinks {
  const links = new Map(stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]));
  if (!NS_ENTRIES.every((e) => links.has(e))) throw new Error(`namespace probe printed ${JSON.stringify(stdout)}`);
  return Object.fromEntries(NS_ENTRIES.map((e) => [e, links.get(e)!])) as NsLinks;
}

export function nsLinks(pid: number | 'self'): NsLinks {
  return Object.fromEntries(NS_ENTRIES.map((e) => [e, readlinkSync(`/proc/${pid}/ns/${e}`)])) as NsLinks;
}

/** The entries whose namespace differs between two processes, sorted. */
export function differing(a: NsLinks, b: NsLinks): NsEntry[] {
  return NS_ENTRIES.filter((e) => a[e] !== b[e]);
}

/** The inode number in a link such as "net:[4026531833]". */
export function inodeOf(link: string): number {
  const m = /:\[(\d+)\]$/.exec(link);
  if (!m) throw new Error(`not a namespace link: ${link}`);
  return Number(m[1]);
}

/** nsfs bind mounts in our mount namespace at or below a directory: what persistence leaves. */
export function nsfsMountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).map((l) => l.split(' '))
    .filter((f) => f[f.indexOf('-') + 1] === 'nsfs' && (f[4] === dir || f[4]!.startsWith(`${dir}/`)))
    .map((f) => f[4]!);
}

/** The mountinfo line of a mount point, split at spaces. */
export function mountinfoOf(path: string, mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string[] | undefined {
  return mountinfo.split('\n').filter(Boolean).map((l) => l.split(' ')).reverse().find((f) => f[4] === path);
}

/** Optional fields of a mountinfo line (propagation: shared:N, master:N, ...) with peer numbers hidden. */
export function propagationOf(fields: readonly string[]): string[] {
  return fields.slice(6, fields.indexOf('-')).map((f) => f.replace(/:\d+$/, ''));
}
