/**
 * What a piece of library code costs a fresh process in Node's built-in modules (node:net and
 * node:crypto each take milliseconds to load), for tests that a path does not load them.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FreshRun {
  /** Built-ins the script loaded beyond what a bare `node -e` loads on this Node. */
  readonly added: readonly string[];
  /** What the script passed to report(). */
  readonly value: unknown;
}

/**
 * Runs `script` in a fresh `node -e`; it ends by calling `report(value)` (it may be async).
 * Compared with a bare `node -e` on the same Node, since some lines load modules at start-up
 * (Node 26: node:crypto). stdio is no pipe, and the report goes to a file: a pipe's stream is a
 * net.Socket, and Node 26 builds process.stderr while koffi's loader walks node:util's
 * properties, so a piped stderr alone loads node:net.
 * @throws Error with the script's stderr if it exits non-zero or never reports
 */
export function freshNodeRun(script: string): FreshRun {
  const dir = mkdtempSync(join(tmpdir(), 'nstools-fresh-node-'));
  const run = (body: string): { builtins: string[]; value: unknown } => {
    const out = join(dir, 'report.json');
    const errFile = join(dir, 'stderr');
    const code = `const report = (value) => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({ value,
      builtins: process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)) }));
      ${body}`;
    const err = openSync(errFile, 'w');
    try {
      const r = spawnSync(process.execPath, ['-e', code], { stdio: ['ignore', 'ignore', err] });
      const stderr = readFileSync(errFile, 'utf8');
      if (r.status !== 0 || stderr !== '') throw new Error(`node -e exited ${r.status ?? r.signal}: ${stderr}`);
      return JSON.parse(readFileSync(out, 'utf8')) as { builtins: string[]; value: unknown };
    } finally {
      closeSync(err);
      rmSync(out, { force: true });
    }
  };
  try {
    const bare = new Set(run('report(null);').builtins);
    const { builtins, value } = run(script);
    return { added: builtins.filter((m) => !bare.has(m)), value };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
