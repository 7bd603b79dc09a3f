/**
 * `npm install -g` of the packed tarballs into a temporary prefix, by a Node that is on no
 * PATH (a pinned Node line, scripts/test-node-lines.js): every bin lands in PREFIX/bin, its man
 * page where `man -M PREFIX/share/man` finds it, its bash completion where bash-completion
 * looks. The bins then run with a PATH whose `node` is a trap (and with one without any node):
 * they start the Node that installed them (issue 18 #15), with the code cache written for it.
 */
import { spawnSync, type SpawnSyncOptionsWithStringEncoding } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ROOT } from './cli';
import { packAll, PUBLISHED } from './packed';

interface Manifest { name: string; bin?: Record<string, string>; nstools?: { bundles?: Record<string, string> } }

const manifests = PUBLISHED.map((name) => JSON.parse(readFileSync(join(ROOT, 'packages', name, 'package.json'), 'utf8')) as Manifest);
const BINS = manifests.flatMap((m) => Object.keys(m.bin ?? {}).map((bin) => ({ pkg: m.name, bin })));

/** The pinned Node 22 of scripts/test-node-lines.js (fetched once into its cache). */
function installerNode(): string {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/test-node-lines.js'), '--fetch-only', '--lines', '22'], { encoding: 'utf8' });
  expect(r.status, r.stderr).to.equal(0);
  return r.stdout.trim();
}

describe('npm install -g of the tarballs, by a Node on no PATH', function () {
  this.timeout(600_000);
  let dir: string;
  let prefix: string;
  let node: string;
  let trap: string;
  const run = (argv: string[], options: Partial<SpawnSyncOptionsWithStringEncoding> = {}) =>
    spawnSync(argv[0]!, argv.slice(1), { cwd: dir, encoding: 'utf8', timeout: 60_000, ...options });
  /** A PATH with sh and the usual programs, whose `node` records that it ran and fails. */
  const trapEnv = () => ({ PATH: `${trap}:/usr/bin:/bin`, HOME: dir });

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'nstools-global-'));
    prefix = join(dir, 'prefix');
    node = installerNode();
    expect(node.startsWith('/usr/')).to.equal(false);
    mkdirSync(join(dir, 'tgz'));
    const tarballs = packAll(join(dir, 'tgz'));
    const npm = realpathSync(run(['sh', '-c', 'command -v npm']).stdout.trim());
    // npm's own environment (its cache, the registry's CA), run by the pinned Node: npm records
    // that Node as npm_node_execpath for the install scripts.
    const r = run([node, npm, 'install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', ...tarballs.map((t) => `./tgz/${t.split('/').pop()}`)],
      { env: { ...process.env, PATH: `/usr/bin:/bin` }, timeout: 300_000 });
    expect(r.status, `npm install -g: ${r.stdout}\n${r.stderr}`).to.equal(0);
    trap = join(dir, 'trap');
    mkdirSync(trap);
    writeFileSync(join(trap, 'node'), `#!/bin/sh\necho "$0 $*" >> "\${TRAP_LOG:-${dir}/trap.log}"\nexit 99\n`, { mode: 0o755 });
  });
  after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('installed every bin into PREFIX/bin, pinned to the installing Node', () => {
    expect(BINS.map((b) => b.bin)).to.include.members(['ns-unshare', 'ns-enter', 'ns-run', 'ns-run-oci', 'ns-ls', 'ns-net']);
    expect(readdirSync(join(prefix, 'bin')).sort()).to.deep.equal(BINS.map((b) => b.bin).sort());
    for (const { bin } of BINS) {
      const text = readFileSync(join(prefix, 'bin', bin), 'utf8');
      expect(text.startsWith(`#!${node} --\n`) || text.includes(`exec '${node}' -- "$0" "$@"\n`), bin).to.equal(true);
    }
  });

  for (const { bin } of BINS) {
    it(`${bin} --help runs the installing Node, not the node on PATH`, () => {
      const r = run([join(prefix, 'bin', bin), '--help'], { env: trapEnv() });
      expect(r.stderr, bin).to.equal('');
      expect(r.status, bin).to.equal(0);
      expect(r.stdout).to.match(new RegExp(`^\\s*Usage:\\s*\\n\\s*${bin}\\b`));
    });
  }

  it('the trap would have caught a bin that took node from PATH', () => {
    const r = run(['sh', '-c', 'node --version'], { env: { ...trapEnv(), TRAP_LOG: join(dir, 'sanity.log') } });
    expect(r.status).to.equal(99);
    expect(readFileSync(join(dir, 'sanity.log'), 'utf8')).to.equal(`${trap}/node --version\n`);
  });

  it('ns-unshare and ns-enter run programs with no node anywhere on PATH (env -i)', () => {
    const r = run(['env', '-i', 'PATH=/nonexistent', join(prefix, 'bin/ns-unshare'), '-r', '/usr/bin/id', '-u']);
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.equal('0\n');
    const e = run([join(prefix, 'bin/ns-enter'), '-t', String(process.pid), '-m', '/bin/echo', 'entered'], { env: trapEnv() });
    expect(e.stderr).to.equal('');
    expect(e.stdout).to.equal('entered\n');
  });

  it('ns-run runs a container from the global prefix with the trap on PATH', () => {
    const r = run([join(prefix, 'bin/ns-run'), '--network', 'none', '--', '/bin/sh', '-c', 'echo $$'], { env: trapEnv() });
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.match(/^\d+\n$/);
    expect(r.status).to.equal(0);
  });

  it('man -M PREFIX/share/man finds every page', () => {
    for (const { bin } of BINS) {
      const page = run(['man', '-M', join(prefix, 'share/man'), '-P', 'cat', bin], { env: { ...trapEnv(), MANWIDTH: '80' } });
      expect(page.status, `man ${bin}: ${page.stderr}`).to.equal(0);
      expect(page.stdout, bin).to.match(new RegExp(`^${bin.toUpperCase()}\\(1\\)`));
    }
  });

  it('installed each bash completion where bash-completion loads it from', () => {
    for (const { bin } of BINS) {
      const file = join(prefix, 'share/bash-completion/completions', bin);
      const r = run(['bash', '--norc', '-c', `source ${file} && complete -p ${bin}`], { env: trapEnv() });
      expect(r.status, `${bin}: ${r.stderr}`).to.equal(0);
      expect(r.stdout, bin).to.match(new RegExp(`^complete .* ${bin}\\n$`));
    }
  });

  it('wrote each CLI\'s code cache for the installing Node, which that Node accepts', () => {
    const version = run([node, '-p', 'process.version + "-" + process.arch']).stdout.trim();
    for (const m of manifests) {
      for (const name of Object.keys(m.nstools?.bundles ?? {})) {
        const bundleDir = join(prefix, 'lib/node_modules', m.name, 'dist/bundle');
        const cache = join(bundleDir, `${name}.${version}.cache`);
        expect(existsSync(cache), cache).to.equal(true);
        expect(statSync(cache).size, cache).to.be.greaterThan(10_000);
        // V8 checks the cache against its version, flags and the source: compile as start.js does.
        const check = run([node, '-e', `
          const { readFileSync } = require('node:fs');
          const { Script } = require('node:vm');
          // The bundle holds its CommonJS wrapper itself (build-bundles.js): compiled as it is.
          const src = readFileSync(process.argv[1], 'latin1');
          process.stdout.write(String(new Script(src, { filename: process.argv[1], cachedData: readFileSync(process.argv[2]) }).cachedDataRejected));
        `, join(bundleDir, `${name}.js`), cache]);
        expect(check.stdout, `${name}: ${check.stderr}`).to.equal('false');
      }
    }
  });

  it('left the trap untouched: nothing ran the node on PATH', () => {
    expect(existsSync(join(dir, 'trap.log')), existsSync(join(dir, 'trap.log')) ? readFileSync(join(dir, 'trap.log'), 'utf8') : '').to.equal(false);
  });
});

describe('install-bins in a source checkout', () => {
  it('leaves the repository\'s bins as committed', () => {
    const file = join(ROOT, 'packages/ns-net/bin/ns-net.js');
    const before = readFileSync(file, 'utf8');
    const r = spawnSync('/usr/bin/env', ['npm_node_execpath=/opt/elsewhere/node', process.execPath, join(ROOT, 'packages/ns-core/scripts/install-bins.js')],
      { cwd: join(ROOT, 'packages/ns-net'), encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(readFileSync(file, 'utf8')).to.equal(before);
    expect(before.startsWith('#!/usr/bin/env -S node --\n')).to.equal(true);
  });
});
