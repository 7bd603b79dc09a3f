/** Probes of processes from outside, through /proc, and polling that names what it waits for. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Polls until `check` gives a value (anything but undefined or false), or fails naming `what`.
 * A wait with a generous limit, not a timing assertion.
 */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Direct children of a process, from every thread (spawn() and child_process fork from the main one). */
export function childrenOf(pid: number = process.pid): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) => {
      try {
        return readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      } catch {
        return []; // the thread ended meanwhile
      }
    });
  } catch {
    return []; // the process exited meanwhile
  }
}

/** All descendants of a process, depth first. */
export function descendantsOf(pid: number): number[] {
  return childrenOf(pid).flatMap((c) => [c, ...descendantsOf(c)]);
}

/** A process's state letter (R, S, Z...), or undefined once it is reaped. */
export function stateOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie: it runs something and holds its namespaces. */
export function isAlive(pid: number): boolean {
  const state = stateOf(pid);
  return state !== undefined && state !== 'Z';
}

/** True once a process is gone (reaped, or a zombie nobody runs in), within `ms`. */
export async function gone(pid: number, ms = 3000): Promise<boolean> {
  try {
    await waitFor(`pid ${pid} to end`, () => !isAlive(pid), ms);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose command line contains `marker` (a unique word tests put in argv). */
export function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) found.push(Number(entry));
    } catch {
      // gone between readdir and open
    }
  }
  return found;
}

/** Processes owned by a uid. */
export function processesOf(uid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const line = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'));
      if (line && Number(line[1]) === uid) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The inode of a namespace link (/proc/PID/ns/NAME): its id. */
export function nsInode(pid: number | 'self', name: string): number {
  const link = readlinkSync(`/proc/${pid}/ns/${name}`);
  return Number(/\[(\d+)\]/.exec(link)![1]);
}

/**
 * Our open fds as "fd->target". The fd readdir itself used is closed by the time it is read
 * (its number depends on what else is open), so an entry whose link is gone is left out.
 */
export function openFds(): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      return [`${fd}->${readlinkSync(`/proc/self/fd/${fd}`)}`];
    } catch {
      return [];
    }
  });
}

/** Whether a path exists (for polls). */
export function exists(path: string): boolean {
  return existsSync(path);
}

/** Mount points of the caller's mount namespace, in mountinfo order. */
export function mountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n').map((l) => l.split(' ')[4]!);
}

/** A process's name (/proc/PID/comm: what prctl PR_SET_NAME or exec set), or '' once it is gone. */
export function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Session and process group of a process (fields 6 and 5 of /proc/PID/stat), undefined once it is gone. */
export function sessionOf(pid: number): { sid: number; pgrp: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pgrp: Number(f[2]), sid: Number(f[3]) };
  } catch {
    return undefined;
  }
}

/**
 * Processes of the exec stage (nsx, whose helper keeps the name, and nsx-init as ns-relay,
 * ns-init, ns-supervise) in one of `sessions`: run each launcher in a session of its own, and
 * other suites' stage processes on this machine never count as its leaks.
 */
export function stageProcessesIn(sessions: ReadonlySet<number>): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    const s = sessionOf(pid);
    return s !== undefined && sessions.has(s.sid) && ['nsx', 'ns-relay', 'ns-init', 'ns-supervise'].includes(commOf(pid));
  });
}

/** What a spawned program wrote to its stdout (spawned with stdio 'pipe' there), and how it ended. */
export async function programOutput<S extends { readonly code: number | null }>(child: { readonly stdout?: NodeJS.ReadableStream | null; readonly exited: Promise<S> }):
    Promise<S & { out: string }> {
  let out = '';
  const stdout = child.stdout;
  // The exit can be known before the pipe is drained: wait for its end too.
  const drained = stdout ? new Promise<void>((resolve) => { stdout.once('end', resolve); stdout.once('close', resolve); }) : Promise.resolve();
  stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  const [status] = await Promise.all([child.exited, drained]);
  return { ...status, out };
}

/** SIGKILLs a spawned child and waits until it is reaped. */
export async function stopChild(child: { kill(signal: NodeJS.Signals): unknown; readonly exited: Promise<unknown> }): Promise<void> {
  child.kill('SIGKILL');
  await child.exited;
}

/** The error fn throws; fails the test if it returns. */
export function thrown<E = Error>(fn: () => unknown): E {
  try {
    fn();
  } catch (e) {
    return e as E;
  }
  throw new Error('expected an error');
}

/** The error an async fn rejects with; fails the test if it resolves. */
export async function rejected<E = Error>(fn: () => Promise<unknown>): Promise<E> {
  try {
    await fn();
  } catch (e) {
    return e as E;
  }
  throw new Error('expected an error');
}

/** A generator script run with --check: exit status 0 and nothing on stderr when what it generates is up to date. */
export function generatorCheck(script: string): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}
