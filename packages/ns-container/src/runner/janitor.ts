/**
 * The janitor: a small process of ours that outlives a runner killed by SIGKILL and removes
 * what the kernel does not take away by itself. The container dies with its runner
 * (PR_SET_PDEATHSIG on its init; its pid namespace with it), and so do its mounts, its
 * network namespace and the veth in it; its cgroup directories, state file and subnet lease
 * stay unless someone removes them. The runner tells the janitor about each before creating
 * it, over a pipe; if the pipe reaches EOF without "done", the runner died half-way, and the
 * janitor removes them. A runner that ends normally cleans up itself and says "done".
 *
 * This is the runner's end; the process runs janitor-main.js with the pipe as its stdin, in a
 * session of its own, so signals meant for the runner's terminal do not reach it.
 */
import { closeSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, sys } from 'ns-core';
import type { JanitorItem } from './janitor-main';

export type { JanitorItem } from './janitor-main';

/** The janitor's program: a separate module that loads nothing heavy until it has work. */
const JANITOR_MAIN = join(__dirname, 'janitor-main.js');

/** The runner's end. */
export class Janitor {
  #fd: number;
  /** Settles once the janitor runs (exec'd); rejects if it could not be started. */
  readonly started: Promise<void>;

  private constructor(fd: number, started: Promise<void>) {
    this.#fd = fd;
    this.started = started;
  }

  /**
   * Starts the janitor process; it waits until we say done or die. Through ns-core's spawn,
   * whose clone does not copy our page tables (child_process forks, ~10 ms for a Node heap),
   * in a session of its own, in /, holding nothing of ours but the pipe. The process exists
   * once this returns (clone is synchronous); its exec is awaited through `started`, so the
   * ~10 ms Node takes to exec overlaps the container's setup. What we write before it runs
   * waits in the pipe.
   */
  static start(): Janitor {
    const [readEnd, writeEnd] = sys.pipe();
    let started: Promise<void>;
    try {
      started = spawn([process.execPath, JANITOR_MAIN], {
        stdio: [readEnd, 'ignore', 'ignore'], cwd: '/', waitForExec: 'async',
        steps: [{ name: 'janitor', child: [{ op: 'setsid', phase: 'final', step: 'janitor' }] }],
      }).then((child) => child.unref());
    } catch (e) {
      sys.closeFd(writeEnd);
      throw e;
    } finally {
      sys.closeFd(readEnd);
    }
    // Awaited by the runner before the container counts as started; until then a failure is held.
    started.catch(() => undefined);
    return new Janitor(writeEnd, started);
  }

  /** Records something to remove should we die; written before it is created. */
  track(item: JanitorItem): void {
    this.#write(`${JSON.stringify(item)}\n`);
  }

  /** Everything was cleaned up by the runner: the janitor may exit without doing anything. */
  done(): void {
    this.#write('done\n');
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }

  /**
   * A janitor that died (killed, OOM) closes the pipe: EPIPE. The runner still removes
   * everything itself as it ends, so the container goes on and its status is kept; only
   * the runner's own death would now leave what the next run reclaims (issue 18 #7).
   */
  #write(line: string): void {
    if (this.#fd < 0) return;
    try {
      writeSync(this.#fd, line);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e;
      closeSync(this.#fd);
      this.#fd = -1;
    }
  }
}
