/**
 * What each published tarball holds, from `npm pack --dry-run --json`, against the list its
 * sources imply: package.json, README.md, LICENSE, its bins, a man page and a bash completion per
 * bin, each bin's bundle, the compiled JavaScript and declarations of every source file (no source maps: they
 * point at .ts files the tarball does not carry), and for ns-core the exec stage's C sources,
 * its install script and the prebuilt artifacts (when built: ns-core's prepack builds them). A file missing or extra fails, so a stale dist
 * file, a test or a fuzzer source never ships unnoticed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect } from 'chai';
import { ROOT } from './cli';

interface Manifest {
  name: string;
  private?: boolean;
  bin?: Record<string, string>;
  man?: string[];
  repository?: { type: string; url: string; directory: string };
  homepage?: string;
  bugs?: { url: string };
  license?: string;
  engines?: { node?: string };
  nstools?: { bundles?: Record<string, string> };
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** Files of ns-core beyond the common rules: what `npm install` needs to use or build the exec stage. */
function nativeFiles(dir: string): string[] {
  const sources = readdirSync(join(dir, 'native')).filter((f) => !f.startsWith('fuzz_')).map((f) => `native/${f}`);
  const prebuilt = walk(join(dir, 'prebuilt')).map((p) => relative(dir, p));
  return [...sources, ...prebuilt, 'scripts/build-native.js', 'scripts/install-bins.js'];
}

/**
 * Each CLI's bundle (scripts/build-bundles.js): the bundle, what start.js reads of it, start.js.
 * Not its code cache: that is written for the Node that installs the package.
 */
function bundleFiles(manifest: Manifest): string[] {
  const names = Object.keys(manifest.nstools?.bundles ?? {});
  expect(names.sort(), `${manifest.name}: a bundle for each bin`).to.deep.equal(Object.keys(manifest.bin ?? {}).sort());
  return names.length ? ['dist/bundle/start.js', ...names.flatMap((b) => [`dist/bundle/${b}.js`, `dist/bundle/${b}.json`])] : [];
}

function expectedFiles(dir: string, manifest: Manifest): string[] {
  const bins = Object.keys(manifest.bin ?? {});
  const compiled = walk(join(dir, 'src'))
    .filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))
    .flatMap((p) => {
      const stem = relative(join(dir, 'src'), p).replace(/\.ts$/, '');
      return [`dist/src/${stem}.js`, `dist/src/${stem}.d.ts`];
    });
  return [
    'package.json', 'README.md', 'LICENSE',
    ...walk(join(dir, 'bin')).map((p) => relative(dir, p)),
    ...bins.flatMap((b) => [`man/${b}.1`, `completion/${b}.bash`]),
    ...compiled,
    ...bundleFiles(manifest),
    ...(manifest.name === 'ns-core' ? nativeFiles(dir) : []),
  ].sort();
}

const published = readdirSync(join(ROOT, 'packages')).sort()
  .map((name) => ({ dir: join(ROOT, 'packages', name), manifest: JSON.parse(readFileSync(join(ROOT, 'packages', name, 'package.json'), 'utf8')) as Manifest }));

describe('package tarballs: exact contents and metadata', function () {
  this.timeout(60_000);

  for (const { dir, manifest } of published) {
    describe(manifest.name, () => {
      it('has README.md, an MIT LICENSE, repository, homepage and bugs', () => {
        expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).to.match(/^MIT License\n/);
        expect(readFileSync(join(dir, 'README.md'), 'utf8')).to.match(new RegExp(`^# ${manifest.name}\n`));
        expect(manifest.license).to.equal('MIT');
        expect(manifest.repository).to.deep.include({ type: 'git', directory: relative(ROOT, dir) });
        expect(manifest.repository!.url).to.match(/^git\+https:\/\/.+\.git$/);
        expect(manifest.homepage).to.match(/^https:\/\//);
        expect(manifest.bugs?.url).to.match(/^https:\/\//);
        if (!manifest.private) expect(manifest.engines?.node).to.equal('>=22');
      });

      if (manifest.private) return;

      it('packs exactly the files its sources imply, with a man page for each bin', () => {
        const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8' });
        expect(r.status, r.stderr).to.equal(0);
        const packed = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path).sort();
        expect(packed).to.deep.equal(expectedFiles(dir, manifest));
        // npm install -g links what `man` lists: one page per bin, each in the tarball.
        expect([...(manifest.man ?? [])].sort()).to.deep.equal(Object.keys(manifest.bin ?? {}).map((b) => `man/${b}.1`).sort());
      });
    });
  }
});
