/** The published packages of the workspace, packed as `npm pack` makes their tarballs. */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { ROOT } from './cli';

export const PUBLISHED = readdirSync(join(ROOT, 'packages')).sort()
  .filter((name) => !(JSON.parse(readFileSync(join(ROOT, 'packages', name, 'package.json'), 'utf8')) as { private?: boolean }).private);

/** Packs every published package into `dest` (ns-core's prepack builds its prebuilt stages); returns the tarballs. */
export function packAll(dest: string): string[] {
  for (const name of PUBLISHED) {
    const r = spawnSync('npm', ['pack', '--silent', '--pack-destination', dest], { cwd: join(ROOT, 'packages', name), encoding: 'utf8' });
    expect(r.status, `npm pack ${name}: ${r.stderr}`).to.equal(0);
  }
  const files = readdirSync(dest).filter((f) => f.endsWith('.tgz')).map((f) => join(dest, f));
  expect(files).to.have.length(PUBLISHED.length);
  return files;
}
