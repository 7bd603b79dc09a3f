/**
 * The janitor process (see janitor.ts): reads what the runner tells it until EOF and, unless
 * the runner said "done", removes it. It starts with every container, at the same time as the
 * container's setup, so it loads only node: modules until it has work to do (ns-net, for a
 * veth, only then): a Node process loading koffi competes for the CPU with the runner.
 */
import { existsSync, readFileSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export type JanitorItem =
  | { readonly type: 'file'; readonly path: string }
  | { readonly type: 'cgroup'; readonly dirs: readonly string[] }
  | { readonly type: 'link'; readonly name: string };

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
  // Loaded here: only a runner that died with a veth needs netlink (and koffi) at all.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { RtnlHandle } = require('ns-net') as typeof import('ns-net');
  RtnlHandle.current().use((rtnl) => {
    try {
      rtnl.linkDel(name);
    } catch (e) {
      // Already gone with the container's network namespace.
      if ((e as { code?: string }).code === 'ENODEV') return;
      throw e;
    }
  });
}

/** unlink(2); a file that is already gone is what we wanted. */
function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
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
  main().catch((e) => {
    // Nobody is left to tell (the runner is gone; stderr is /dev/null): what could not be
    // removed stays visible, as a stale name `ps` skips and a new run takes over.
    process.stderr.write(`ns-run janitor: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
