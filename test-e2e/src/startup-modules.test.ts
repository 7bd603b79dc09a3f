/**
 * Start-up pays only for the code a call uses: each CLI's library entry (dist/, what the bins
 * bundle) run with a correct command line, and the modules it loaded listed at the moment it
 * leaves (exit, or just before the exec stage replaces it: ns-core's EXEC_IN_PLACE_EVENT).
 * Node's built-in modules come from process.moduleLoadList (node:net is not among those refused:
 * a stdout that is a pipe is a net.Socket), ours from require.cache.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ROOT } from './cli';

interface Loaded { files: string[]; builtins: string[] }

/** Modules (file path fragments, Node built-ins) a correct call of no CLI below may load. */
const NEVER_FILES = ['/node_modules/yargs/', '/ns-image/', '/ns-core/dist/src/seccomp/syscall-tables.js', '/ns-net/dist/src/show.js', '/ns-net/dist/src/cli/'];
const NEVER_BUILTINS = ['child_process', 'dgram', 'http', 'https', 'zlib'];

describe('start-up: a CLI loads only what its command uses', function () {
  this.timeout(60_000);
  let dir: string;
  let target: ChildProcess;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nstools-startup-'));
    writeFileSync(join(dir, 'record.js'), `'use strict';
const fs = require('node:fs');
let done = false;
function record() {
  if (done) return;
  done = true;
  const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13));
  fs.writeFileSync(process.env.NSTOOLS_LOADED_OUT, JSON.stringify({ files: Object.keys(require.cache), builtins }));
}
process.on('exit', record);
process.on('nstools:exec-in-place', record);
`);
    // ns-enter's target: its own namespaces, set up by util-linux as the oracle.
    target = spawn('unshare', ['-Urmuinpf', '--mount-proc', 'sleep', '600'], { stdio: 'ignore' });
    for (let i = 0; i < 400; i++) {
      await new Promise((r) => setTimeout(r, 5));
      if (children(target.pid!).length) break;
    }
  });
  after(() => {
    target?.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const children = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean);

  /** Runs `module`'s main() as the CLI `name` would (argv[1] named as the bin), returns what it loaded. */
  function loadedBy(name: string, module: string, args: readonly string[], okStatus = 0): Loaded {
    const entry = join(dir, name);
    writeFileSync(entry, `require(${JSON.stringify(join(ROOT, 'packages', module))}).main();\n`);
    const out = join(dir, `${name}.json`);
    const r = spawnSync(process.execPath, ['-r', join(dir, 'record.js'), entry, ...args],
      { encoding: 'utf8', env: { ...process.env, NSTOOLS_LOADED_OUT: out }, timeout: 30_000 });
    expect(r.status, `${name} ${args.join(' ')}: ${r.stderr}`).to.equal(okStatus);
    return JSON.parse(readFileSync(out, 'utf8')) as Loaded;
  }

  function expectLean(loaded: Loaded, extraNever: readonly string[] = []): void {
    for (const f of [...NEVER_FILES, ...extraNever]) expect(loaded.files.filter((p) => p.includes(f)), f).to.deep.equal([]);
    for (const b of NEVER_BUILTINS) expect(loaded.builtins, `node:${b}`).to.not.include(b);
    // Not vacuous: ns-core was loaded, from where this looks for it.
    expect(loaded.files.some((p) => p.includes('/ns-core/dist/src/')), 'ns-core').to.equal(true);
  }

  it('ns-unshare -Urmuipf --mount-proc true: ns-core and the kinds asked for', () => {
    const loaded = loadedBy('ns-unshare', 'ns-run/dist/src/unshare/cli.js', ['-Urmuipf', '--mount-proc', 'true']);
    expectLean(loaded, ['/ns-net/', '/ns-container/', '/ns-time/', '/ns-cgroup/']);
    for (const kind of ['ns-user', 'ns-mount', 'ns-pid']) expect(loaded.files.some((p) => p.includes(`/${kind}/dist/`)), kind).to.equal(true);
  });

  it('ns-unshare -Urn --loopback true: ns-net\'s step, none of its printers, netns or nf_tables code', () => {
    const loaded = loadedBy('ns-unshare', 'ns-run/dist/src/unshare/cli.js', ['-Urn', '--loopback', 'true']);
    expectLean(loaded, ['/ns-net/dist/src/index.js', '/ns-net/dist/src/nft/', '/ns-net/dist/src/netns.js', '/ns-container/', '/ns-cgroup/']);
    expect(loaded.files.some((p) => p.endsWith('/ns-net/dist/src/step.js')), 'ns-net step').to.equal(true);
  });

  it('ns-enter -t PID -a true: ns-core, no container or network code', () => {
    const pid = children(target.pid!)[0]!;
    expectLean(loadedBy('ns-enter', 'ns-run/dist/src/enter/cli.js', ['-t', pid, '-a', 'true']), ['/ns-net/', '/ns-container/']);
  });

  it('ns-ls: ns-core only', () => {
    const loaded = loadedBy('ns-ls', 'ns-core/dist/src/cli.js', []);
    expectLean(loaded);
    expect(loaded.files.filter((p) => /\/packages\/(?!ns-core\/)|\/ns-(?!core\/)[a-z-]+\/dist\//.test(p))).to.deep.equal([]);
  });

  it('ns-run --network none: no image store, no ip show code', () => {
    // A rootfs that is not there: the runner parses, plans and fails where docker says 125.
    expectLean(loadedBy('ns-run', 'ns-run/dist/src/runner/cli.js', ['--rootfs', join(dir, 'none'), '--network', 'none', '/bin/true'], 125));
  });

  it('the recorder sees a module that is loaded (the check can fail)', () => {
    // ns-run images lists the store: it must load ns-image, and the recorder must see it.
    const r = loadedBy('ns-run', 'ns-run/dist/src/runner/cli.js', ['images', '--storage', join(dir, 'store')]);
    expect(r.files.some((p) => p.includes('/ns-image/'))).to.equal(true);
  });
});
