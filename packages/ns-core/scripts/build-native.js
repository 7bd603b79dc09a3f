#!/usr/bin/env node
// Provides the exec stage in build/: libnsexec.so (spawn()), nsx (execInPlace()) and nsx-init
// (what a fork leaves waiting), from native/nsexec.c, nsx.c and init.c (the first two include
// stage.c, the op interpreter); and ns-oci (native/oci.c), ns-run-oci's fast path for the
// calls that need no Node. Runs as ns-core's `install` script:
//
// - In this repository (ns-core not inside a node_modules) it compiles from source with
//   -Werror: warnings are the repo's own gate, not something to impose on users' compilers.
// - Installed from the tarball, it uses prebuilt/linux-<arch>/ when those were built from the
//   very sources shipped beside them and load here (the library dlopens through koffi, the two
//   static programs run and answer their usage line); otherwise it compiles with $CC or cc.
//   With neither, it fails with one line that names the fix.
//
// `--prebuilt` (ns-core's prepack) cross-builds prebuilt/ for every target with Debian's
// compilers. NSX_SANITIZE=1 builds the library with ASan/UBSan; NSX_SOURCE/NSX_OUT build a
// patched copy of the library alone (sanitizer tests); NSX_FROM_SOURCE=1 skips the prebuilt.
'use strict';
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const inRepo = !path.resolve(root).split(path.sep).includes('node_modules');
const ARTIFACTS = ['libnsexec.so', 'nsx', 'nsx-init', 'ns-oci'];
/** prebuilt/<name>: Node's process.arch, the compiler Debian names for it, the ELF e_machine it must carry. */
const TARGETS = [
  { name: 'linux-x64', arch: 'x64', cc: 'x86_64-linux-gnu-gcc', machine: 62 },
  { name: 'linux-arm64', arch: 'arm64', cc: 'aarch64-linux-gnu-gcc', machine: 183 },
];
const base = ['-std=gnu11', '-O2', '-g', '-Wall', '-Wextra'];
const include = ['-I', path.join(root, 'native')];
// Freestanding and static: nsx and nsx-init run in any root filesystem, with no libc to load,
// and hold a few pages while they run (bench: held_rss_fork_vs_util_linux).
const freestanding = ['-static', '-nostdlib', '-no-pie', '-ffreestanding', '-fno-stack-protector',
  '-fno-asynchronous-unwind-tables', '-Wl,--build-id=none'];
const library = ['-fPIC', '-shared',
  // Every symbol resolved at load: the child must never enter the lazy-binding resolver.
  '-Wl,-z,now', '-Wl,-z,relro', '-fvisibility=default'];

class BuildError extends Error {}

/** Compiles beside the target and renames into place: a process loading it meanwhile never maps half a file. */
function compile(cc, what, target, args) {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.tmp`;
  const r = spawnSync(cc, [...args, '-o', tmp], { stdio: 'inherit' });
  if (r.error && r.error.code === 'ENOENT') throw new BuildError(`no C compiler found ("${cc}")`);
  if (r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    throw new BuildError(`compiling ${what} failed: ${cc} ${args.join(' ')}`);
  }
  fs.renameSync(tmp, target);
}

function buildAll(cc, dir, werror) {
  const warnings = werror ? [...base, '-Werror'] : base;
  compile(cc, 'the exec stage', path.join(dir, 'libnsexec.so'), [...warnings, ...library, ...include, path.join(root, 'native/nsexec.c')]);
  compile(cc, 'nsx', path.join(dir, 'nsx'), [...warnings, ...freestanding, ...include, path.join(root, 'native/nsx.c')]);
  compile(cc, 'nsx-init', path.join(dir, 'nsx-init'), [...warnings, ...freestanding, ...include, path.join(root, 'native/init.c')]);
  // With libc (it runs on the host, never in a container's root).
  compile(cc, 'ns-oci', path.join(dir, 'ns-oci'), [...warnings, path.join(root, 'native/oci.c')]);
}

/** What the artifacts are built from: every file of native/ the tarball ships (the fuzzer's is not). */
function sourcesDigest() {
  const hash = crypto.createHash('sha256');
  for (const name of fs.readdirSync(path.join(root, 'native')).filter((f) => !f.startsWith('fuzz_')).sort()) {
    hash.update(`${name}\0`).update(fs.readFileSync(path.join(root, 'native', name))).update('\0');
  }
  return hash.digest('hex');
}

function elfMachine(file) {
  const head = Buffer.alloc(20);
  const fd = fs.openSync(file, 'r');
  try { fs.readSync(fd, head, 0, 20, 0); } finally { fs.closeSync(fd); }
  return head.readUInt32BE(0) === 0x7f454c46 ? head.readUInt16LE(18) : -1;
}

function buildPrebuilt() {
  for (const t of TARGETS) {
    const dir = path.join(root, 'prebuilt', t.name);
    buildAll(t.cc, dir, true);
    for (const a of ARTIFACTS) {
      if (elfMachine(path.join(dir, a)) !== t.machine) throw new BuildError(`${t.cc} built ${a} for ELF machine ${elfMachine(path.join(dir, a))}, not ${t.machine}`);
    }
    fs.writeFileSync(path.join(dir, 'sources.sha256'), `${sourcesDigest()}\n`);
  }
}

/** Why the prebuilt artifacts in `dir` cannot serve here, or null when they load and run. */
function unusable(dir) {
  const lib = path.join(dir, 'libnsexec.so');
  const loaded = spawnSync(process.execPath, ['-e',
    'process.stdout.write(String(require("koffi").load(process.argv[1]).func("int nsx_live_regions(void)")()))', lib],
  { cwd: root, encoding: 'utf8' });
  if (loaded.status !== 0 || loaded.stdout !== '0') return `libnsexec.so does not load (${(loaded.stderr.trim().split('\n').find((l) => /Error/.test(l)) || `exit ${loaded.status}`)})`;
  for (const program of ['nsx', 'nsx-init', 'ns-oci']) {
    // Without arguments each exits 125 (nsx and ns-oci printing a usage line): proof it runs on this kernel and CPU.
    const r = spawnSync(path.join(dir, program), [], { encoding: 'utf8' });
    if (r.error) return `${program} does not run (${r.error.code})`;
    if (r.status !== 125 || (program !== 'nsx-init' && !r.stderr.includes('usage'))) return `${program} does not answer as built (exit ${r.status})`;
  }
  return null;
}

/** Copies prebuilt/linux-<arch> into build/ when it matches the shipped sources and works here. */
function usePrebuilt(out) {
  const name = `${process.platform}-${process.arch}`;
  const dir = path.join(process.env.NSX_PREBUILT_DIR || path.join(root, 'prebuilt'), name);
  if (!fs.existsSync(path.join(dir, 'sources.sha256'))) return `no prebuilt exec stage for ${name}`;
  if (fs.readFileSync(path.join(dir, 'sources.sha256'), 'utf8').trim() !== sourcesDigest()) return `the prebuilt exec stage for ${name} was built from other sources`;
  const staged = path.join(out, `.prebuilt.${process.pid}`);
  fs.rmSync(staged, { recursive: true, force: true });
  fs.mkdirSync(staged, { recursive: true });
  try {
    for (const a of ARTIFACTS) fs.copyFileSync(path.join(dir, a), path.join(staged, a));
    for (const a of ARTIFACTS.slice(1)) fs.chmodSync(path.join(staged, a), 0o755);
    const why = unusable(staged);
    if (why) return `the prebuilt exec stage for ${name} is unusable here: ${why}`;
    for (const a of ARTIFACTS) fs.renameSync(path.join(staged, a), path.join(out, a));
    return null;
  } finally {
    fs.rmSync(staged, { recursive: true, force: true });
  }
}

function main() {
  const cc = process.env.CC || 'cc';
  if (process.argv.includes('--prebuilt')) return buildPrebuilt();
  if (process.env.NSX_SOURCE || process.env.NSX_SANITIZE) {
    const out = process.env.NSX_OUT || path.join(root, 'build', process.env.NSX_SANITIZE ? 'libnsexec-asan.so' : 'libnsexec.so');
    const flags = [...base, ...(inRepo ? ['-Werror'] : []), ...library];
    if (process.env.NSX_SANITIZE) flags.push('-fsanitize=address,undefined', '-fno-omit-frame-pointer');
    return compile(cc, 'the exec stage', out, [...flags, ...include, process.env.NSX_SOURCE || path.join(root, 'native/nsexec.c')]);
  }
  const out = path.join(root, 'build');
  fs.mkdirSync(out, { recursive: true });
  let why = 'this is the repository\'s own build';
  if (!inRepo && !process.env.NSX_FROM_SOURCE) {
    why = usePrebuilt(out);
    if (!why) return;
  }
  try {
    buildAll(cc, out, inRepo);
  } catch (e) {
    if (!(e instanceof BuildError) || !/no C compiler/.test(e.message)) throw e;
    throw new BuildError(`${why}, and ${e.message}: install one (Debian: apt-get install gcc) or set CC, then reinstall ns-core`);
  }
}

try {
  main();
} catch (e) {
  if (!(e instanceof BuildError)) throw e;
  console.error(`ns-core: ${e.message}`);
  process.exit(1);
}
