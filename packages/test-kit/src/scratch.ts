/** A scratch directory per suite, made world-readable (tests run programs as other uids in it). */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Registers mocha hooks that make a fresh directory before the suite and remove it after; returns its getter. */
export function scratchDir(tag: string): () => string {
  let dir: string | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), `${tag}-`));
    chmodSync(dir, 0o755);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    if (!dir) throw new Error('scratchDir: used outside the suite\'s hooks');
    return dir;
  };
}
