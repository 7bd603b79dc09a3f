/** A scratch directory per suite, made world-readable (tests run programs as other uids in it). */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

/** A scratchDir holding an index.html with `page`, for a test's httpd to serve (world-readable). */
export function servedDir(tag: string, page: string): () => string {
  const dir = scratchDir(tag);
  before(() => writeFileSync(join(dir(), 'index.html'), page, { mode: 0o644 }));
  return dir;
}
