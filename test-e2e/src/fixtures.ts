/**
 * What the differential tests set up around the tools: a scratch tmpfs, long-running target
 * processes for nsenter, and a throwaway user with /etc/subuid blocks. Each undoes exactly
 * what it did.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { bin, OUR_NAME } from './cli';
import { childrenOf, isAlive, waitFor } from 'ns-test-kit';
import { nsfsMountsUnder } from './ns';

export { asUser, NOBODY, ThrowawayUser } from 'ns-test-kit';

function must(argv: readonly string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
}

/**
 * A private tmpfs of our own: persisted mount-namespace files must not live on a shared mount
 * (mount(2) refuses them there), and nothing we bind there propagates anywhere.
 */
export class Scratch {
  readonly dir: string;

  constructor(tag: string) {
    this.dir = mkdtempSync(`/tmp/nse2e-${tag}-${process.pid}-`);
    must(['mount', '-t', 'tmpfs', '-o', 'mode=0755,size=4m', `nse2e-${tag}`, this.dir]);
    must(['mount', '--make-private', this.dir]);
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** A directory made shared (its own peer group), for propagation tests. */
  sharedDir(name: string): string {
    const d = this.path(name);
    mkdirSync(d);
    must(['mount', '-t', 'tmpfs', `nse2e-${name}`, d]);
    must(['mount', '--make-shared', d]);
    return d;
  }

  /** Unmounts what is persisted below the scratch dir; returns what had been left there. */
  releaseNamespaces(): string[] {
    const left = nsfsMountsUnder(this.dir);
    for (const m of left.reverse()) must(['umount', m]);
    return left;
  }

  remove(): void {
    this.releaseNamespaces();
    must(['umount', '-R', this.dir]);
    rmSync(this.dir, { recursive: true });
  }
}

/**
 * A long-running process in namespaces, for nsenter to enter: `launcher` runs it (util-linux
 * unshare, ns-unshare, bwrap) and `pid` is the program itself once it has printed "ready".
 */
export interface TargetOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** The program's process name once ready (default: sleep). */
  readonly comm?: string;
}

export class Target {
  readonly launcher: ChildProcess;
  pid = 0;
  stdout = '';
  stderr = '';
  exited!: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once the launcher exited and its stdout and stderr reached EOF (all output read). */
  closed!: Promise<void>;

  private constructor(launcher: ChildProcess) {
    this.launcher = launcher;
  }

  /**
   * argv runs the program; it must print a line "ready" once set up and then keep running.
   * The program is found as the launcher itself (exec in place) or its deepest descendant.
   */
  static async start(argv: readonly string[], options: TargetOptions = {}): Promise<Target> {
    const launcher = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], cwd: options.cwd ?? '/', env: options.env ?? process.env });
    const t = new Target(launcher);
    launcher.stdout!.setEncoding('utf8').on('data', (d: string) => { t.stdout += d; });
    launcher.stderr!.setEncoding('utf8').on('data', (d: string) => { t.stderr += d; });
    t.exited = new Promise((resolve) => launcher.on('exit', (code, signal) => resolve({ code, signal })));
    t.closed = new Promise((resolve) => launcher.on('close', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      launcher.on('error', reject);
      void t.exited.then(({ code, signal }) => reject(new Error(`${argv.join(' ')} exited (${code ?? signal}) before it was ready: ${t.stdout} ${t.stderr}`)));
      launcher.stdout!.on('data', () => {
        if (t.stdout.includes('ready\n')) resolve();
      });
    });
    // The program is the process running `comm` (the script exec'd sleep, or traps in sh).
    const comm = options.comm ?? 'sleep';
    t.pid = await waitFor(`the program of ${argv.join(' ')}`, () => {
      let pid = launcher.pid!;
      for (;;) {
        try {
          if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm) return pid;
        } catch {
          return undefined; // exited meanwhile: look again from the top
        }
        const kids = childrenOf(pid);
        if (kids.length === 0) return undefined;
        pid = kids[kids.length - 1]!;
      }
    });
    return t;
  }

  /** util-linux `unshare ARGS sh -c 'SETUP; echo ready; exec sleep 600'`, or ours, or bwrap. */
  static unshare(tool: 'unshare' | 'ns-unshare' | 'bwrap', args: readonly string[], setup = 'true', options: TargetOptions = {}): Promise<Target> {
    const launcher = tool === 'ns-unshare' ? bin(OUR_NAME.unshare) : tool;
    return Target.start([launcher, ...args, 'sh', '-c', `${setup}; echo ready; exec sleep 600`], options);
  }

  /** Kills the program (and the launcher, should it outlive it) and waits for both. */
  async stop(): Promise<void> {
    if (this.pid && isAlive(this.pid)) process.kill(this.pid, 'SIGKILL');
    const timer = setTimeout(() => this.launcher.kill('SIGKILL'), 2000);
    await this.exited;
    clearTimeout(timer);
    await waitFor(`pid ${this.pid} to go`, () => (isAlive(this.pid) ? undefined : true));
    // The last output may come after 'exit'; a descendant still holding the pipes is not waited for.
    await Promise.race([this.closed, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  }
}
