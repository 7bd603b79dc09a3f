/**
 * Tried as a TypeScript user would: a project of its own that imports every published package's
 * public API (and the `ns-core/cli` subpath), compiled with `tsc --strict` and without
 * skipLibCheck, so every declaration file the packages ship is checked. The packages are copied
 * in as their tarballs lay them out (package.json and dist/src), not linked: a type that only
 * resolves through this repo's devDependencies (such as @types/yargs) fails here.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { ROOT } from './cli';

interface Manifest {
  name: string;
  private?: boolean;
  exports?: Record<string, string>;
  dependencies?: Record<string, string>;
}

function publishedPackages(): { dir: string; manifest: Manifest }[] {
  const base = join(ROOT, 'packages');
  return readdirSync(base).sort()
    .map((name) => ({ dir: join(base, name), manifest: JSON.parse(readFileSync(join(base, name, 'package.json'), 'utf8')) as Manifest }))
    .filter((p) => !p.manifest.private);
}

/**
 * Every import specifier a consumer can write for the libraries: each package and each subpath
 * export into its compiled sources (not package.json, nor `ns-core/install-bins`, the script the
 * packages' install step runs).
 */
function specifiers(packages: { manifest: Manifest }[]): string[] {
  return packages.flatMap(({ manifest }) => Object.entries(manifest.exports ?? { '.': './dist/src/index.js' })
    .filter(([, target]) => target.startsWith('./dist/src/'))
    .map(([key]) => key)
    .map((key) => (key === '.' ? manifest.name : `${manifest.name}/${key.slice(2)}`)));
}

describe('package types: a strict TypeScript consumer', function () {
  this.timeout(120_000);
  let dir: string;
  /** One compilation, with the files it read (tsc --listFiles), shared by the checks below. */
  let compiled: { status: number | null; lines: string[]; stderr: string };
  const packages = publishedPackages();
  const names = new Set(packages.map((p) => p.manifest.name));

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'nstools-types-'));
    const modules = join(dir, 'node_modules');
    for (const { dir: src, manifest } of packages) {
      const dest = join(modules, manifest.name);
      mkdirSync(dest, { recursive: true });
      cpSync(join(src, 'package.json'), join(dest, 'package.json'));
      cpSync(join(src, 'dist/src'), join(dest, 'dist/src'), { recursive: true });
    }
    // Third-party dependencies as npm would install them beside ours, without their @types.
    const external = new Set(packages.flatMap((p) => Object.keys(p.manifest.dependencies ?? {})).filter((d) => !names.has(d)));
    for (const dep of [...external, '@types/node']) {
      mkdirSync(dirname(join(modules, dep)), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules', dep), join(modules, dep));
    }
    const uses = specifiers(packages);
    const body = (ext: string) => uses.map((s, i) => `import * as m${i} from '${s}';\n`).join('') +
      `export const modules${ext} = [${uses.map((_, i) => `m${i}`).join(', ')}];\n`;
    writeFileSync(join(dir, 'consumer.ts'), body('Cjs'));
    writeFileSync(join(dir, 'consumer.mts'), body('Esm'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        strict: true, skipLibCheck: false, noEmit: true, target: 'ES2022',
        module: 'Node16', moduleResolution: 'Node16', types: ['node'],
      },
      files: ['consumer.ts', 'consumer.mts'],
    }));
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', dir, '--listFiles'], { cwd: dir, encoding: 'utf8' });
    compiled = { status: r.status, lines: r.stdout.split('\n'), stderr: r.stderr };
  });

  after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('imports every package (CommonJS and ES module) and compiles with --strict, no skipLibCheck', function () {
    const listed = compiled.lines;
    const errors = listed.filter((l) => /error TS\d+/.test(l));
    expect(errors, errors.join('\n')).to.deep.equal([]);
    expect(compiled.status, compiled.stderr).to.equal(0);
    // The program really read each package's declarations from the copied tree (not this repo's).
    for (const { manifest } of packages) {
      expect(listed, manifest.name).to.include(join(dir, 'node_modules', manifest.name, 'dist/src/index.d.ts'));
    }
    expect(listed).to.include(join(dir, 'node_modules/ns-core/dist/src/cli-kit/index.d.ts'));
  });

  it('reaches no yargs types from any package', function () {
    expect(compiled.lines.filter((l) => /yargs/.test(l))).to.deep.equal([]);
  });
});
