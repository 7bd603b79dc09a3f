#!/usr/bin/env node
// Compiles the exec stage (native/nsexec.c) into build/libnsexec.so with the system C compiler.
// Runs as ns-core's `install` script, so `npm ci` builds it; NSX_SANITIZE=1 builds with ASan/UBSan.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const cc = process.env.CC || 'cc';
const out = process.env.NSX_OUT || path.join(root, 'build', process.env.NSX_SANITIZE ? 'libnsexec-asan.so' : 'libnsexec.so');
// NSX_SOURCE: a patched copy (the sanitizer tests build one with a bug put in on purpose).
const source = process.env.NSX_SOURCE || path.join(root, 'native/nsexec.c');
fs.mkdirSync(path.dirname(out), { recursive: true });
// Compiled beside the target and renamed into place: a process loading the library while
// another rebuilds it (parallel test runs) never maps half a file.
const tmp = `${out}.${process.pid}.tmp`;

const flags = [
  '-std=gnu11', '-O2', '-g', '-Wall', '-Wextra', '-Werror', '-fPIC', '-shared',
  // Every symbol resolved at load: the child must never enter the lazy-binding resolver.
  '-Wl,-z,now', '-Wl,-z,relro', '-fvisibility=default',
];
if (process.env.NSX_SANITIZE) flags.push('-fsanitize=address,undefined', '-fno-omit-frame-pointer');
const args = [...flags, '-I', path.join(root, 'native'), '-o', tmp, source];
const r = spawnSync(cc, args, { stdio: 'inherit' });
if (r.error && r.error.code === 'ENOENT') {
  console.error(`ns-core: no C compiler found ("${cc}"). The exec stage is built from source: ` +
    'install one (Debian: apt-get install gcc) or set CC, then run npm ci again.');
  process.exit(1);
}
if (r.status !== 0) {
  fs.rmSync(tmp, { force: true });
  console.error(`ns-core: compiling the exec stage failed: ${cc} ${args.join(' ')}`);
  process.exit(r.status || 1);
}
fs.renameSync(tmp, out);

// nsx-init (native/init.c): what a FORK op leaves behind, exec'd by fd into the container.
// Freestanding and static: it must run in any root filesystem, with no libc to load.
if (!process.env.NSX_SOURCE) {
  const initOut = path.join(path.dirname(out), 'nsx-init');
  const initTmp = `${initOut}.${process.pid}.tmp`;
  const initArgs = ['-std=gnu11', '-O2', '-g', '-Wall', '-Wextra', '-Werror', '-static', '-nostdlib', '-no-pie',
    '-ffreestanding', '-fno-stack-protector', '-fno-asynchronous-unwind-tables', '-I', path.join(root, 'native'),
    '-o', initTmp, path.join(root, 'native/init.c')];
  const ri = spawnSync(cc, initArgs, { stdio: 'inherit' });
  if (ri.status !== 0) {
    fs.rmSync(initTmp, { force: true });
    console.error(`ns-core: compiling nsx-init failed: ${cc} ${initArgs.join(' ')}`);
    process.exit(ri.status || 1);
  }
  fs.renameSync(initTmp, initOut);
}
