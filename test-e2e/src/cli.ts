/** Running CLIs side by side: ours from node_modules/.bin, util-linux's from PATH. */
import { spawn, spawnSync, type SpawnOptions, type SpawnSyncOptions } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';

export const ROOT = join(__dirname, '../..');
export const BIN_DIR = join(ROOT, 'node_modules/.bin');
export const bin = (name: string) => join(BIN_DIR, name);

export type Tool = 'unshare' | 'nsenter';
export const OUR_NAME: Record<Tool, string> = { unshare: 'ns-unshare', nsenter: 'ns-enter' };

export interface Ran {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Where every comparison runs: a directory both tools see the same way. */
const DEFAULTS = { cwd: '/tmp' } as const;

export function run(argv: readonly string[], options: SpawnSyncOptions = {}): Ran {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30000, ...DEFAULTS, ...options });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') throw new Error(`${argv.join(' ')}: timed out`);
  return { status: r.status, signal: r.signal, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

/** Runs util-linux `tool` and ours (`ns-tool`) with the same arguments. */
export function both(tool: Tool, args: readonly string[], options: SpawnSyncOptions = {}): { theirs: Ran; ours: Ran } {
  return { theirs: run([tool, ...args], options), ours: run([bin(OUR_NAME[tool]), ...args], options) };
}

export interface AsyncRunOptions extends SpawnOptions {
  /** Written to stdin, which is then closed (default: stdin is /dev/null). */
  readonly input?: string;
}

/** The same as run(), without blocking: tables start their rows together. */
export function runAsync(argv: readonly string[], options: AsyncRunOptions = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const { input, ...spawnOptions } = options;
    const child = spawn(argv[0]!, argv.slice(1), {
      ...DEFAULTS, ...spawnOptions, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    if (input !== undefined) child.stdin!.end(input);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')}: still running after 30 s`));
    }, 30000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

/** bothAsync's `wrap` runs each tool through another program, e.g. setpriv as another user. */
export type Wrap = (argv: readonly string[]) => string[];

export async function bothAsync(tool: Tool, args: readonly string[], options: AsyncRunOptions = {}, wrap: Wrap = (a) => [...a]): Promise<{ theirs: Ran; ours: Ran }> {
  const [theirs, ours] = await Promise.all([
    runAsync(wrap([tool, ...args]), options), runAsync(wrap([bin(OUR_NAME[tool]), ...args]), options)]);
  return { theirs, ours };
}

/** Runs tasks with at most `limit` under way at once (the machine has few CPUs; Node starts are CPU-bound). */
export async function inParallel<T>(tasks: readonly (() => Promise<T>)[], limit = 4): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

/**
 * An error as util-linux reports it: nothing on stdout, exactly one line on stderr starting
 * with the program's name and naming `subject` (an option, a path, a pid).
 */
export function expectOneLineError(r: Ran, prog: string, subject?: string | RegExp): void {
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines, `stderr of ${prog}: ${JSON.stringify(r.stderr)}`).to.have.lengthOf(1);
  expect(lines[0]).to.match(new RegExp(`^${prog}: \\S`));
  if (typeof subject === 'string') expect(lines[0]).to.include(subject);
  else if (subject) expect(lines[0]).to.match(subject);
}

/** A usage error: exit 1, a message, and util-linux's "Try '... --help'" line allowed after it. */
export function expectUsageError(r: Ran, prog: string, subject?: string | RegExp): void {
  expect(r.status, `${prog} exit status (stderr: ${r.stderr})`).to.equal(1);
  const lines = r.stderr.split('\n').filter((l) => l !== '' && l !== `Try '${prog} --help' for more information.`);
  expectOneLineError({ ...r, stderr: lines.join('\n') }, prog, subject);
}
