/**
 * What a failed or interrupted spawn could leave on the host, as sets of strings to compare
 * before and after: mounts of the host's mount namespace (pid 1's mountinfo), /run/netns
 * entries, links of our network namespace (`ip -j link`, as an oracle), cgroup directories in
 * every mounted hierarchy, processes carrying a tag, our children, our fds.
 *
 * Other test suites run on this machine at the same time and change the host's global state,
 * so for those categories leaksSince() counts only entries carrying the test's tag: a test
 * names everything it asks to create (mount targets, netns, links, cgroups, a word in each
 * program's command line) with the tag, and so any of it left behind carries the tag. Our own
 * children and fds are compared in full.
 */
import { spawn as nodeSpawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

// The first child_process.spawn() mixing 'ignore' and 'pipe' stdio makes libuv open /dev/null
// in this process and keep it for good. Done here, at load, it is in every snapshot rather than
// appearing as a "leak" in the test that happens to spawn that way first.
nodeSpawn('true', { stdio: ['ignore', 'pipe', 'ignore'] }).stdout!.resume();

export interface HostSnapshot {
  /** "mount-point fstype source" for each mount of pid 1's mount namespace. */
  readonly mounts: readonly string[];
  readonly netns: readonly string[];
  readonly links: readonly string[];
  readonly cgroups: readonly string[];
  /** "pid state cmdline" of every process whose command line holds the tag. */
  readonly tagged: readonly string[];
  /** "pid state" of our children. */
  readonly children: readonly string[];
  /** "fd -> target" of our open fds. */
  readonly fds: readonly string[];
}

function procStat(pid: string): { state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0]!, ppid: Number(rest[1]) };
  } catch {
    return undefined; // exited while we looked
  }
}

function cmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return ''; // exited, or a kernel thread
  }
}

/** Directories under a cgroup hierarchy's mount point (each is a cgroup). */
function cgroupDirs(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // removed while we walked
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      out.push(join(dir, e.name));
      walk(join(dir, e.name));
    }
  };
  walk(root);
  return out;
}

function mountinfoFields(text: string): string[][] {
  return text.trim().split('\n').map((l) => l.split(' '));
}

/** Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified beside v1). */
export function cgroup2Root(): string {
  const line = mountinfoFields(readFileSync('/proc/self/mountinfo', 'utf8')).find((f) => f[f.indexOf('-') + 1] === 'cgroup2');
  if (!line) throw new Error('no cgroup2 hierarchy mounted');
  return line[4]!;
}

export function hostSnapshot(tag?: string): HostSnapshot {
  const hostMounts = mountinfoFields(readFileSync('/proc/1/mountinfo', 'utf8')).map((f) => {
    const sep = f.indexOf('-');
    return `${f[4]} ${f[sep + 1]} ${f[sep + 2]}`;
  });
  const hierarchies = mountinfoFields(readFileSync('/proc/self/mountinfo', 'utf8'))
    .filter((f) => ['cgroup', 'cgroup2'].includes(f[f.indexOf('-') + 1]!)).map((f) => f[4]!);
  // The host's links, as the kernel lists them under the host's sysfs (the suites run in the
  // host's network namespace, where /sys was mounted).
  const links = readdirSync('/sys/class/net');
  const pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  const tagged: string[] = [];
  const children: string[] = [];
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    const st = procStat(pid);
    if (!st) continue;
    if (st.ppid === process.pid) children.push(`${pid} ${st.state}`);
    if (tag) {
      const cmd = cmdline(pid);
      if (cmd.includes(tag)) tagged.push(`${pid} ${st.state} ${cmd}`);
    }
  }
  const fds = readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      return [`${fd} -> ${readlinkSync(`/proc/self/fd/${fd}`)}`];
    } catch {
      return []; // the fd readdir itself used, closed by now
    }
  });
  return {
    mounts: hostMounts.sort(),
    netns: existsSync('/run/netns') ? readdirSync('/run/netns').sort() : [],
    links: links.sort(),
    cgroups: hierarchies.flatMap(cgroupDirs).sort(),
    tagged: tagged.sort(),
    children: children.sort(),
    fds: fds.sort(),
  };
}

/** Entries of `after` not in `before`, counting repeats (two identical mounts are two). */
function added(before: readonly string[], after: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const b of before) left.set(b, (left.get(b) ?? 0) + 1);
  return after.filter((a) => {
    const n = left.get(a) ?? 0;
    if (n > 0) left.set(a, n - 1);
    return n === 0;
  });
}

/**
 * What appeared since `before`, one line per leak ("mounts: /tmp/x tmpfs tmpfs"): every
 * tagged mount, netns, link, cgroup and process, and any change in our children and fds.
 * Empty means nothing was left behind.
 */
export function leaksSince(before: HostSnapshot, after: HostSnapshot, tag: string): string[] {
  const out: string[] = [];
  for (const key of ['mounts', 'netns', 'links', 'cgroups', 'tagged'] as const) {
    for (const a of added(before[key], after[key])) if (a.includes(tag)) out.push(`${key}: ${a}`);
  }
  for (const key of ['children', 'fds'] as const) {
    for (const a of added(before[key], after[key])) out.push(`${key}: ${a}`);
  }
  return out;
}

/** Polls until `check` returns no leaks (exiting processes take a moment), up to ~3 s. */
export async function settledLeaks(check: () => string[]): Promise<string[]> {
  let leaks = check();
  for (let i = 0; i < 150 && leaks.length; i++) {
    await new Promise((r) => setTimeout(r, 20));
    leaks = check();
  }
  return leaks;
}
