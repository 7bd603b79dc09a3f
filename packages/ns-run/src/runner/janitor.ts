/**
 * The janitor: a small process of ours that outlives a runner killed by SIGKILL and removes
 * what the kernel does not take away by itself. The container dies with its runner
 * (PR_SET_PDEATHSIG on its init; its pid namespace with it), and so do its mounts, its
 * network namespace and the veth in it; its cgroup directories, state file and subnet lease
 * stay unless someone removes them. The runner tells the janitor about each before creating
 * it, over a pipe; if the pipe reaches EOF without "done", the runner died half-way, and the
 * janitor removes them. A runner that ends normally cleans up itself and says "done".
 *
 * Run as `node janitor.js` with the pipe as stdin; started detached (its own session), so
 * signals meant for the runner's terminal do not reach it.
 */
import { closeSync, existsSync, readFileSync, rmdirSync, writeFileSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { NsError, spawn, sys } from 'ns-core';
import { RtnlHandle } from 'ns-net';
import { removeFile } from './state';

export type JanitorItem =
  | { readonly type: 'file'; readonly path: string }
  | { readonly type: 'cgroup'; readonly dirs: readonly string[] }
  | { readonly type: 'link'; readonly name: string };

/** The runner's end. */
export class Janitor {
  #fd: number;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /**
   * Starts the janitor process; it waits until we say done or die. Through ns-core's spawn,
   * whose clone does not copy our page tables (child_process forks, ~10 ms for a Node heap),
   * in a session of its own, in /, holding nothing of ours but the pipe.
   */
  static async start(): Promise<Janitor> {
    const [readEnd, writeEnd] = sys.pipe();
    try {
      const child = await spawn([process.execPath, __filename], {
        stdio: [readEnd, 'ignore', 'ignore'], cwd: '/',
        steps: [{ name: 'janitor', child: [{ op: 'setsid', phase: 'final', step: 'janitor' }] }],
      });
      child.unref();
    } catch (e) {
      sys.closeFd(writeEnd);
      throw e;
    } finally {
      sys.closeFd(readEnd);
    }
    return new Janitor(writeEnd);
  }

  /** Records something to remove should we die; written before it is created. */
  track(item: JanitorItem): void {
    if (this.#fd < 0) return;
    writeSync(this.#fd, `${JSON.stringify(item)}\n`);
  }

  /** Everything was cleaned up by the runner: the janitor may exit without doing anything. */
  done(): void {
    if (this.#fd < 0) return;
    writeSync(this.#fd, 'done\n');
    closeSync(this.#fd);
    this.#fd = -1;
  }
}

/**
 * Kills what is left in the cgroups and removes them, deepest first. A process the kernel is
 * still tearing down may hold its cgroup a moment after it left cgroup.procs (EBUSY), so
 * removal is retried for a while.
 */
export async function removeCgroupDirs(dirs: readonly string[]): Promise<void> {
  const present = dirs.filter((d) => existsSync(d));
  for (let attempt = 0; attempt < 500; attempt++) {
    const pids = present.flatMap((d) => readProcs(d));
    if (pids.length === 0) break;
    for (const d of present) if (existsSync(`${d}/cgroup.kill`)) writeFileSync(`${d}/cgroup.kill`, '1');
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch (e) {
        // Exited between listing and killing: that is what we wanted.
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
      }
    }
    await sleep(10);
  }
  for (const dir of [...present].sort((a, b) => b.length - a.length)) {
    for (let attempt = 0; ; attempt++) {
      try {
        rmdirSync(dir);
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY' || attempt >= 500) throw e;
        await sleep(10);
      }
    }
  }
}

function readProcs(dir: string): number[] {
  try {
    return readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch (e) {
    // Removed already.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** Deletes a host veth end if it is still there (its namespace's teardown usually took it). */
export function removeLink(name: string): void {
  RtnlHandle.current().use((rtnl) => {
    try {
      rtnl.linkDel(name);
    } catch (e) {
      // Already gone with the container's network namespace.
      if ((e as NsError).code === 'ENODEV') return;
      throw e;
    }
  });
}

async function cleanUp(items: readonly JanitorItem[]): Promise<void> {
  // Processes first (their cgroups can only go once they are gone), files last, so that a
  // state file never outlives what it describes.
  for (const item of items) if (item.type === 'cgroup') await removeCgroupDirs(item.dirs);
  for (const item of items) if (item.type === 'link') removeLink(item.name);
  for (const item of items) if (item.type === 'file') removeFile(item.path);
}

async function main(): Promise<void> {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const) process.on(sig, () => undefined);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const lines = Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean);
  if (lines.includes('done')) return;
  await cleanUp(lines.map((l) => JSON.parse(l) as JanitorItem));
}

if (require.main === module) {
  main().catch(() => process.exit(1));
}
