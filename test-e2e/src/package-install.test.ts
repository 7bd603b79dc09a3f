/**
 * Installs anywhere: every package packed with `npm pack` (ns-core's prepack cross-builds the
 * prebuilt exec stage), the tarballs installed into an empty project by a PATH that holds node
 * and npm but no C compiler, then ns-unshare and ns-run run from there. Then ns-core's install
 * script once more in that project: from source with a compiler (no -Werror outside the repo),
 * and with neither a usable prebuilt nor a compiler, where it must fail in one line naming the fix.
 */
import { spawnSync, type SpawnSyncOptionsWithStringEncoding } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { packAll, PUBLISHED } from './packed';

const PACKAGES = PUBLISHED;

/** cc, gcc, gcc-12, x86_64-linux-gnu-gcc, aarch64-linux-gnu-gcc-12, clang, clang-14, musl-gcc, c89, c99, tcc, g++, c++ */
const COMPILER = /(^|-)(cc|gcc|g\+\+|c\+\+|clang|clang\+\+|c89|c99|tcc|cpp)(-[\d.]+)?$/;

function which(program: string): string {
  const r = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${program} is not on PATH`);
  return r.stdout.trim();
}

describe('package install: the tarballs in an empty project, no C compiler on PATH', function () {
  this.timeout(600_000);
  let dir: string;
  let project: string;
  let env: NodeJS.ProcessEnv;
  const run = (argv: string[], options: Partial<SpawnSyncOptionsWithStringEncoding> = {}) =>
    spawnSync(argv[0]!, argv.slice(1), { cwd: project, env, encoding: 'utf8', timeout: 300_000, ...options });
  const coreDir = () => join(project, 'node_modules/ns-core');

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'nstools-install-'));
    project = join(dir, 'project');
    const tarballs = join(dir, 'tgz');
    mkdirSync(project);
    mkdirSync(tarballs);
    const files = packAll(tarballs);
    // The machine's programs (npm runs scripts with sh, koffi's installer looks around) minus
    // every C compiler, and the node running this test first.
    const bin = join(dir, 'path');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    for (const name of readdirSync('/usr/bin')) {
      if (name === 'node' || COMPILER.test(name)) continue;
      symlinkSync(join('/usr/bin', name), join(bin, name));
    }
    // The caller's environment (npm needs its CA and proxy settings to reach the registry, its
    // HOME for the cache), but a PATH with no compiler and no CC naming one.
    env = { ...process.env, PATH: `${bin}:/usr/sbin` };
    delete env['CC'];
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    const r = run(['npm', 'install', '--no-audit', '--no-fund', '--prefer-offline', ...files]);
    expect(r.status, `npm install: ${r.stdout}\n${r.stderr}`).to.equal(0);
  });
  after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('had no C compiler to use', () => {
    for (const cc of ['cc', 'gcc', 'clang', 'x86_64-linux-gnu-gcc', 'musl-gcc']) expect(run([cc, '--version']).error, cc).to.have.property('code', 'ENOENT');
    expect(run(['sh', '-c', 'ls /usr/bin | grep -E "(^|-)(cc|gcc)(-[0-9.]+)?$" | head -1']).stdout, 'the machine has compilers: the filter hid them').to.not.equal('');
  });

  it('installed the prebuilt exec stage for this machine', () => {
    const arch = `linux-${process.arch}`;
    for (const a of ['libnsexec.so', 'nsx', 'nsx-init', 'ns-oci']) {
      expect(readFileSync(join(coreDir(), 'build', a)).equals(readFileSync(join(coreDir(), 'prebuilt', arch, a))), a).to.equal(true);
    }
    // The other target ships too, for arm64 (ELF e_machine 183: AArch64).
    expect(readFileSync(join(coreDir(), 'prebuilt/linux-arm64/nsx')).readUInt16LE(18)).to.equal(183);
  });

  it('runs ns-unshare from the project', () => {
    const r = run([join(project, 'node_modules/.bin/ns-unshare'), '--user', '--map-root-user', '--pid', '--fork', '/usr/bin/id', '-u']);
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.equal('0\n');
    expect(r.status).to.equal(0);
  });

  it('runs ns-run from the project', () => {
    const r = run([join(project, 'node_modules/.bin/ns-run'), '--network', 'none', '--', '/bin/sh', '-c', 'echo $$']);
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.match(/^\d+\n$/);
    expect(r.status).to.equal(0);
  });

  // (`npm install -g` of the same tarballs: package-global.test.ts.)
  it('installed each bin with the man page its `man` field names (what npm install -g links)', () => {
    const pages = PACKAGES.flatMap((name) => {
      const m = JSON.parse(readFileSync(join(project, 'node_modules', name, 'package.json'), 'utf8')) as { bin?: object; man?: string[] };
      expect((m.man ?? []).length, name).to.equal(Object.keys(m.bin ?? {}).length);
      return (m.man ?? []).map((page) => ({ bin: page.replace(/^man\/|\.1$/g, ''), file: join(project, 'node_modules', name, page) }));
    });
    expect(pages.map((p) => p.bin)).to.include.members(['ns-unshare', 'ns-enter', 'ns-run', 'ns-ls']);
    for (const { bin, file } of pages) {
      const page = run(['man', '-l', '-P', 'cat', file], { env: { ...env, MANWIDTH: '80' } });
      expect(page.status, `man ${bin}: ${page.stderr}`).to.equal(0);
      expect(page.stdout, bin).to.include(bin.toUpperCase());
      expect(readdirSync(join(project, 'node_modules/.bin')), bin).to.include(bin);
    }
  });

  it('with neither a usable prebuilt nor a compiler, fails in one line naming the fix', () => {
    for (const extra of [{ NSX_FROM_SOURCE: '1' }, { NSX_PREBUILT_DIR: join(dir, 'none') }]) {
      const r = run([process.execPath, join(coreDir(), 'scripts/build-native.js')], { env: { ...env, ...extra } });
      expect(r.status, JSON.stringify(extra)).to.equal(1);
      expect(r.stderr).to.match(/^ns-core: [^\n]*no C compiler found \("cc"\): install one \(Debian: apt-get install gcc\) or set CC, then reinstall ns-core\n$/);
    }
  });

  it('compiles from source where a compiler is, without the repo\'s -Werror', () => {
    // A compiler that notes its arguments, so the test sees which flags users' compilers get.
    const cc = join(dir, 'cc-logging');
    writeFileSync(cc, `#!/bin/sh\necho "$*" >> ${dir}/cc.log\nexec ${which('gcc')} "$@"\n`, { mode: 0o755 });
    const r = run([process.execPath, join(coreDir(), 'scripts/build-native.js')], { env: { ...env, NSX_FROM_SOURCE: '1', CC: cc } });
    expect(r.status, r.stderr).to.equal(0);
    const calls = readFileSync(join(dir, 'cc.log'), 'utf8').trim().split('\n');
    // libnsexec.so, nsx, nsx-init and ns-oci (ns-run-oci's fast path).
    expect(calls).to.have.length(4);
    for (const c of calls) expect(c).to.match(/-Wall -Wextra/).and.not.match(/-Werror/);
    const ran = run([join(project, 'node_modules/.bin/ns-unshare'), '-r', '/usr/bin/id', '-u']);
    expect(ran.stdout).to.equal('0\n');
    expect(readFileSync(join(coreDir(), 'build/nsx')).equals(readFileSync(join(coreDir(), `prebuilt/linux-${process.arch}/nsx`)))).to.equal(false);
  });
});
