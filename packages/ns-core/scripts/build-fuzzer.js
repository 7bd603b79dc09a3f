#!/usr/bin/env node
// Builds the libFuzzer harnesses for the exec stage's decoder (native/fuzz_decode.c) with clang,
// if any source is newer than the binary: build/fuzz_decode (the library's, from nsexec.c) and
// build/fuzz_decode_nsx (the executable's, from nsx.c). Used by the decoder fuzz test (npm test)
// and by the repository's `npm run fuzz`. Debian: apt-get install clang libclang-rt-14-dev (the
// libFuzzer and sanitizer runtimes).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
/** Harness name -> extra compiler flags. */
const TARGETS = { fuzz_decode: [], fuzz_decode_nsx: ['-DNSX_FUZZ_NSX'] };
// Every C source and header: the harness includes nsexec.c, which includes the rest.
const sources = fs.readdirSync(path.join(root, 'native')).filter((f) => /\.[ch]$/.test(f)).map((f) => path.join(root, 'native', f));

function stale(out) {
  if (!fs.existsSync(out)) return true;
  const built = fs.statSync(out).mtimeMs;
  return sources.some((s) => fs.statSync(s).mtimeMs > built);
}

/** Returns the harness path, building it first when needed; throws with the compiler's output on failure. */
function buildFuzzer(name = 'fuzz_decode') {
  const out = path.join(root, 'build', name);
  if (!stale(out)) return out;
  const cc = process.env.FUZZ_CC || 'clang';
  // Written beside the target and renamed into place: a concurrent test run never sees half a file.
  const tmp = `${out}.${process.pid}.tmp`;
  const args = ['-g', '-O1', '-Wall', '-Wextra', '-Werror', '-fsanitize=fuzzer,address,undefined',
    '-fno-sanitize-recover=undefined', ...TARGETS[name], '-o', tmp, path.join(root, 'native/fuzz_decode.c')];
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const r = spawnSync(cc, args, { encoding: 'utf8' });
  if (r.error && r.error.code === 'ENOENT') {
    throw new Error(`no "${cc}" to build the decoder fuzzer: apt-get install clang libclang-rt-14-dev (or set FUZZ_CC)`);
  }
  if (r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`building the decoder fuzzer failed: ${cc} ${args.join(' ')}\n${r.stderr}`);
  }
  fs.renameSync(tmp, out);
  return out;
}

module.exports = { buildFuzzer, FUZZERS: Object.keys(TARGETS) };
if (require.main === module) {
  try {
    for (const name of Object.keys(TARGETS)) console.log(buildFuzzer(name));
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
