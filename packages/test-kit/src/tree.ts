/** What a directory tree holds, seen from outside: for "nothing changed here" checks. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';

/**
 * Every entry under dir (relative path -> mode, owner, and the size and a hash of a file's
 * bytes, a symlink's target, a device's number). Two equal snapshots: nothing was added,
 * removed or changed.
 */
export function treeSnapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    const p = rel ? join(dir, rel) : dir;
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (!st) return;
    let what = `${st.mode.toString(8)} ${st.uid}:${st.gid}`;
    if (st.isFile()) what += ` ${st.size} ${createHash('sha256').update(fs.readFileSync(p)).digest('hex').slice(0, 16)}`;
    else if (st.isSymbolicLink()) what += ` -> ${fs.readlinkSync(p)}`;
    else if (st.isCharacterDevice() || st.isBlockDevice()) what += ` dev ${st.rdev}`;
    out[rel || '.'] = what;
    if (st.isDirectory()) for (const n of fs.readdirSync(p).sort()) walk(rel ? `${rel}/${n}` : n);
  };
  walk('');
  return out;
}
