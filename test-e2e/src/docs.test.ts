/**
 * Man pages and bash completion come from the same option tables that parse each command line:
 * the files on disk are what the tables render, every man page lists every option, and the
 * completion completes options, their values, and the program once the options end.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli';

const PACKAGES = join(ROOT, 'packages');

/** Every installed CLI: its package, and the man page and completion files its package ships. */
const CLIS = readdirSync(PACKAGES).flatMap((pkg) => {
  const manifest = JSON.parse(readFileSync(join(PACKAGES, pkg, 'package.json'), 'utf8')) as { bin?: Record<string, string>; man?: string[] };
  return Object.entries(manifest.bin ?? {}).map(([prog, bin]) => ({ pkg, prog, bin, man: manifest.man ?? [] }));
});

/** A table's long options, as --help lists them (the same table renders both). */
function helpOptions(pkg: string, bin: string): string[] {
  const help = spawnSync(process.execPath, [join(PACKAGES, pkg, bin), '--help'], { encoding: 'utf8' }).stdout;
  return [...new Set([...help.matchAll(/(?:^|\s)(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1]!))];
}

describe('man pages and completion, rendered from the option tables', () => {
  it('the files on disk are what the tables render now', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts/gen-docs.js'), '--check'], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
  });

  for (const { pkg, prog, bin, man } of CLIS) {
    it(`${prog}: a man page in the package's man field that lists every option --help lists`, () => {
      expect(man).to.include(`man/${prog}.1`);
      const page = join(PACKAGES, pkg, 'man', `${prog}.1`);
      expect(existsSync(page), page).to.equal(true);
      const r = spawnSync('man', ['-l', '-Tutf8', page], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '200' } });
      expect(r.status, r.stderr).to.equal(0);
      const text = r.stdout.replace(/.\x08/g, '');
      const missing = helpOptions(pkg, bin).filter((o) => !text.includes(o));
      expect(missing).to.deep.equal([]);
    });

    it(`${prog}: bash completion completes its options`, () => {
      const script = join(PACKAGES, pkg, 'completion', `${prog}.bash`);
      const fn = `_${prog.replace(/[^A-Za-z0-9]/g, '_')}`;
      const complete = (words: string[]) => spawnSync('bash', ['-c',
        `source ${JSON.stringify(script)}; COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')}); COMP_CWORD=${words.length - 1}; ${fn}; printf '%s\\n' "\${COMPREPLY[@]}"`],
      { encoding: 'utf8' });
      const r = complete([prog, '--h']);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout.split('\n')).to.include('--help');
    });
  }

  it('ns-unshare\'s completion offers values, then commands once the options end', () => {
    const script = join(PACKAGES, 'ns-run', 'completion', 'ns-unshare.bash');
    const complete = (words: string[]) => spawnSync('bash', ['-c',
      `source ${JSON.stringify(script)}; COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')}); COMP_CWORD=${words.length - 1}; _ns_unshare; printf '%s\\n' "\${COMPREPLY[@]}"`],
    { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    expect(complete(['ns-unshare', '--map-ro'])).to.deep.equal(['--map-root-user']);
    expect(complete(['ns-unshare', '--propagation', 's'])).to.deep.equal(['slave', 'shared']);
    expect(complete(['ns-unshare', '-r', 'unsha'])).to.include('unshare');
  });
});
