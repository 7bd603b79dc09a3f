/** The bundle the OCI differential tests share: `runc spec` in `dir` (a busybox rootfs beside it), the program and any change given. */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function bundleWith(dir: string, args: readonly string[], change: (spec: Record<string, any>) => void = () => undefined): string {
  rmSync(join(dir, 'config.json'), { force: true });
  spawnSync('runc', ['spec', '--bundle', dir]);
  const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  spec.process.terminal = false;
  spec.process.args = args;
  change(spec);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}
