/**
 * Every bin every package declares, started as npm installs it (a symlink in another
 * directory) with a PATH that holds `node` and nothing else: no readlink. Each
 * must find its code, answer --help, and leave Node-looking arguments to the tool itself
 * (the shim passes `--` before them), never to Node.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ROOT } from './cli';

const BINS = readdirSync(join(ROOT, 'packages')).sort().flatMap((name) => {
  const dir = join(ROOT, 'packages', name);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { bin?: Record<string, string> };
  return Object.entries(manifest.bin ?? {}).map(([bin, file]) => ({ bin, file: join(dir, file) }));
});

describe('package bins: started through a symlink with only node on PATH', function () {
  this.timeout(30_000);
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const link = (bin: string) => join(dir, 'bin', bin);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'nstools-bins-'));
    mkdirSync(join(dir, 'bin'));
    mkdirSync(join(dir, 'path'));
    symlinkSync(process.execPath, join(dir, 'path/node'));
    for (const { bin, file } of BINS) symlinkSync(file, link(bin));
    env = { PATH: join(dir, 'path') };
  });
  after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('covers every CLI (a bin added without a shim fails here)', () => {
    expect(BINS.map((b) => b.bin)).to.include.members(['ns-unshare', 'ns-enter', 'ns-run', 'ns-ls', 'ns-net', 'ns-uts']);
    // Either JavaScript that env starts as `node -- FILE ...`, or (for the tools that must record
    // the ignored signals first) a sh+JavaScript file that execs `node -- "$0" ...`.
    for (const { bin, file } of BINS) {
      expect(readFileSync(file, 'utf8'), bin).to.match(/^#!\/usr\/bin\/env -S node --\n|^#!\/bin\/sh\n(?:.*\n)*':' \/\/; exec node -- "\$0" "\$@"\n/);
    }
  });

  for (const { bin } of BINS) {
    describe(bin, () => {
      it('answers --help', () => {
        const r = spawnSync(link(bin), ['--help'], { env, encoding: 'utf8', timeout: 20_000 });
        expect(r.stderr).to.equal('');
        expect(r.status).to.equal(0);
        expect(r.stdout).to.match(new RegExp(`^\\s*Usage:\\s*\\n\\s*${bin}\\b`));
      });

      it('takes --inspect-brk as its own (unknown) option, not Node\'s', () => {
        // Were Node to read it, it would stop for a debugger and say so on stderr.
        const r = spawnSync(link(bin), ['--inspect-brk'], { env, encoding: 'utf8', timeout: 20_000 });
        expect(r.error, 'timed out: Node waited for a debugger').to.equal(undefined);
        expect(r.stderr).to.not.match(/Debugger listening/);
        expect(r.stderr).to.match(/inspect-brk/);
        expect(r.status).to.be.oneOf(bin === 'ns-run' ? [125] : [1]);
      });
    });
  }

  it('ns-unshare passes Node-looking arguments to the program byte for byte', () => {
    const args = ['--', '--inspect-brk', '-e', '', 'a b', '--env-file=/nonexistent'];
    const r = spawnSync(link('ns-unshare'), ['/usr/bin/printf', '%s|', ...args], { env, encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.equal(args.map((a) => `${a}|`).join(''));
  });
});
