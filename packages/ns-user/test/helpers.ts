/** Running CLIs as another uid, and a throwaway user with /etc/subuid blocks, for rootless tests. */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Runs argv with real and effective ids changed and no supplementary groups (setpriv(1)). */
export function runAs(uid: number, gid: number, argv: readonly string[]): SpawnSyncReturns<string> {
  return spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', ...argv], { encoding: 'utf8', cwd: '/' });
}

/** Direct children of this process's main thread (spawn() and spawnSync() both fork from it). */
export function childPids(): number[] {
  return readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
}

/** Processes owned by a uid, from /proc status files. */
export function processesOf(uid: number): number[] {
  return spawnSync('pgrep', ['-u', String(uid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);
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

/**
 * A system user made for one test run, with one block in /etc/subuid and /etc/subgid. remove()
 * deletes the user and exactly the lines we added, leaving the files byte-for-byte as found.
 */
export class ThrowawayUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly subStart: number;
  readonly subCount = 65536;
  readonly #saved: Map<string, string>;
  readonly #lines: Map<string, string>;

  constructor(tag: string) {
    this.name = `ns${tag}${process.pid}`.slice(0, 31);
    this.#saved = new Map(['/etc/subuid', '/etc/subgid'].map((f) => [f, readFileSync(f, 'utf8')]));
    retryLocked(['useradd', '--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', this.name]);
    this.uid = Number(spawnSync('id', ['-u', this.name], { encoding: 'utf8' }).stdout.trim());
    this.gid = Number(spawnSync('id', ['-g', this.name], { encoding: 'utf8' }).stdout.trim());
    // A block high above anything useradd hands out, different for every test process.
    this.subStart = 1_000_000_000 + (process.pid % 10_000) * this.subCount;
    this.#lines = new Map();
    for (const file of this.#saved.keys()) {
      const current = readFileSync(file, 'utf8');
      const added = `${current === '' || current.endsWith('\n') ? '' : '\n'}${this.name}:${this.subStart}:${this.subCount}\n`;
      writeFileSync(file, current + added);
      this.#lines.set(file, added);
    }
  }

  run(argv: readonly string[]): SpawnSyncReturns<string> {
    return runAs(this.uid, this.gid, argv);
  }

  /** Removes the user and our lines; returns the files that differ from what we found. */
  remove(): string[] {
    retryLocked(['userdel', this.name]);
    const changed: string[] = [];
    for (const [file, original] of this.#saved) {
      const line = this.#lines.get(file)!;
      const current = readFileSync(file, 'utf8');
      const at = current.lastIndexOf(line);
      if (at >= 0) writeFileSync(file, current.slice(0, at) + current.slice(at + line.length));
      if (readFileSync(file, 'utf8') !== original) changed.push(file);
    }
    return changed;
  }
}
