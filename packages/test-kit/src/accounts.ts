/** Running as another user, and throwaway users with /etc/subuid blocks, for rootless tests. */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { processesOf, sleepMs, waitFor } from './processes';

/** nobody, as the rootless recipe (`setpriv --reuid=65534`) runs the tools. */
export const NOBODY = 65534;

/** argv as another user: real and effective ids changed, no supplementary groups (setpriv(1)). */
export function asUser(uid: number, gid: number, argv: readonly string[]): string[] {
  return ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', ...argv];
}

/** Runs argv as another user, synchronously, from / (a directory every user may enter). */
export function runAs(uid: number, gid: number, argv: readonly string[]): SpawnSyncReturns<string> {
  const [cmd, ...rest] = asUser(uid, gid, argv);
  return spawnSync(cmd!, rest, { encoding: 'utf8', cwd: '/' });
}

function retryLocked(argv: string[]): void {
  // useradd/userdel fail while another process holds /etc/passwd's lock: wait and retry.
  for (let attempt = 0; ; attempt++) {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    if (r.status === 0) return;
    if (attempt >= 50) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
    sleepMs(100);
  }
}

/** Where each suite's subordinate blocks start, so concurrent suites never share ids. */
let blockBase = 1_000_000_000;

/**
 * A system user made for one test run, with one block in /etc/subuid and /etc/subgid. remove()
 * deletes the user and exactly the lines we added, leaving the files byte for byte as found
 * (other suites on this machine may add and remove their own lines meanwhile: ours is what
 * we answer for).
 */
export class ThrowawayUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly subStart: number;
  readonly subCount = 65536;
  readonly #saved: Map<string, string>;
  readonly #lines = new Map<string, string>();

  constructor(tag: string) {
    this.name = `ns${tag}${process.pid}`.slice(0, 31);
    this.#saved = new Map(['/etc/subuid', '/etc/subgid'].map((f) => [f, readFileSync(f, 'utf8')]));
    retryLocked(['useradd', '--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', this.name]);
    this.uid = Number(spawnSync('id', ['-u', this.name], { encoding: 'utf8' }).stdout.trim());
    this.gid = Number(spawnSync('id', ['-g', this.name], { encoding: 'utf8' }).stdout.trim());
    // Far above what useradd hands out, and different for every test process and user.
    this.subStart = blockBase + (process.pid % 10_000) * this.subCount * 4;
    blockBase += this.subCount;
    for (const file of this.#saved.keys()) {
      const current = readFileSync(file, 'utf8');
      const added = `${current === '' || current.endsWith('\n') ? '' : '\n'}${this.name}:${this.subStart}:${this.subCount}\n`;
      writeFileSync(file, current + added);
      this.#lines.set(file, added);
    }
  }

  argv(argv: readonly string[]): string[] {
    return asUser(this.uid, this.gid, argv);
  }

  run(argv: readonly string[]): SpawnSyncReturns<string> {
    return runAs(this.uid, this.gid, argv);
  }

  /**
   * Removes the user (once its processes are gone: userdel refuses otherwise) and our lines;
   * returns the files that still name the user.
   */
  async remove(): Promise<string[]> {
    await waitFor(`${this.name}'s processes to end`, () => processesOf(this.uid).length === 0).catch(() => undefined);
    retryLocked(['userdel', this.name]);
    const left: string[] = [];
    for (const file of this.#saved.keys()) {
      const line = this.#lines.get(file)!;
      const current = readFileSync(file, 'utf8');
      const at = current.lastIndexOf(line);
      if (at >= 0) writeFileSync(file, current.slice(0, at) + current.slice(at + line.length));
      if (readFileSync(file, 'utf8').split('\n').some((l) => l.startsWith(`${this.name}:`))) left.push(file);
    }
    return left;
  }
}
