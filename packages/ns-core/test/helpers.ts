/** Shared by ns-core tests: snapshots of host state for leak checks, and small kernel probes. */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export function openFds(): string[] {
  return readdirSync('/proc/self/fd').map((fd) => {
    try {
      return `${fd}->${readlinkSync(`/proc/self/fd/${fd}`)}`;
    } catch {
      return `${fd}->?`; // the fd readdir itself used, closed by now
    }
  });
}

/** Mount points of the caller's mount namespace. */
export function mounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n').map((l) => l.split(' ')[4]!);
}

/** Our children that are zombies (state Z) or still alive, by pid. */
export function childrenOf(pid = process.pid): { pid: number; state: string }[] {
  const out: { pid: number; state: string }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[1]) === pid) out.push({ pid: Number(d), state: rest[0]! });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

export function nsInode(pid: number | 'self', name: string): number {
  const link = readlinkSync(`/proc/${pid}/ns/${name}`);
  return Number(/\[(\d+)\]/.exec(link)![1]);
}
