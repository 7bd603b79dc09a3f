#!/usr/bin/env node
// Compiles the exec stage with the system C compiler: native/nsexec.c into build/libnsexec.so
// (spawn()), native/nsx.c into build/nsx (execInPlace()) and native/init.c into build/nsx-init
// (what a fork leaves waiting). nsexec.c and nsx.c both include stage.c, the op interpreter.
// Runs as ns-core's `install` script, so `npm ci` builds it; NSX_SANITIZE=1 builds the library
// with ASan/UBSan; NSX_SOURCE/NSX_OUT build a patched copy of the library alone (sanitizer tests).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const cc = process.env.CC || 'cc';
const out = process.env.NSX_OUT || path.join(root, 'build', process.env.NSX_SANITIZE ? 'libnsexec-asan.so' : 'libnsexec.so');
const source = process.env.NSX_SOURCE || path.join(root, 'native/nsexec.c');
const include = ['-I', path.join(root, 'native')];
const warnings = ['-std=gnu11', '-O2', '-g', '-Wall', '-Wextra', '-Werror'];
// Freestanding and static: nsx and nsx-init run in any root filesystem, with no libc to load,
// and hold a few pages while they run (bench: held_rss_fork_vs_util_linux).
const freestanding = ['-static', '-nostdlib', '-no-pie', '-ffreestanding', '-fno-stack-protector',
  '-fno-asynchronous-unwind-tables', '-Wl,--build-id=none'];

/** Compiles beside the target and renames into place: a process loading it meanwhile never maps half a file. */
function compile(what, target, args) {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.tmp`;
  const r = spawnSync(cc, [...args, '-o', tmp], { stdio: 'inherit' });
  if (r.error && r.error.code === 'ENOENT') {
    console.error(`ns-core: no C compiler found ("${cc}"). The exec stage is built from source: ` +
      'install one (Debian: apt-get install gcc) or set CC, then run npm ci again.');
    process.exit(1);
  }
  if (r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    console.error(`ns-core: compiling ${what} failed: ${cc} ${args.join(' ')}`);
    process.exit(r.status || 1);
  }
  fs.renameSync(tmp, target);
}

const library = [...warnings, '-fPIC', '-shared',
  // Every symbol resolved at load: the child must never enter the lazy-binding resolver.
  '-Wl,-z,now', '-Wl,-z,relro', '-fvisibility=default'];
if (process.env.NSX_SANITIZE) library.push('-fsanitize=address,undefined', '-fno-omit-frame-pointer');
compile('the exec stage', out, [...library, ...include, source]);

if (!process.env.NSX_SOURCE) {
  const dir = path.dirname(out);
  compile('nsx', path.join(dir, 'nsx'), [...warnings, ...freestanding, ...include, path.join(root, 'native/nsx.c')]);
  compile('nsx-init', path.join(dir, 'nsx-init'), [...warnings, ...freestanding, ...include, path.join(root, 'native/init.c')]);
}
