/** Shared by the ns-mount tests: scratch directories, host mounts and running the CLI. */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMountinfo, type MountEntry } from '../src/index';

export const CLI = join(__dirname, '../../bin/ns-mount.js');

/** A scratch directory unique to this test process; removed with everything mounted in it. */
export function scratch(tag: string): string {
  return mkdtempSync(join(tmpdir(), `ns-mount-${process.pid}-${tag}-`));
}

/** Host mounts at or below dir, as "mountpoint fstype" lines: what a test may have left behind. */
export function hostMountsUnder(dir: string): string[] {
  return readMountinfo().filter((e: MountEntry) => e.mountPoint === dir || e.mountPoint.startsWith(`${dir}/`))
    .map((e) => `${e.mountPoint} ${e.fsType}`);
}

/** Unmounts (lazily, deepest first) whatever is mounted below dir, then removes it. */
export function removeScratch(dir: string): void {
  for (const m of hostMountsUnder(dir).reverse()) execFileSync('umount', ['-l', m.split(' ')[0]!]);
  rmSync(dir, { recursive: true, force: true });
}

export function cli(args: readonly string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}
