#!/usr/bin/env node
// Builds the libFuzzer harnesses with clang, if any source is newer than the binary: the exec
// stage's decoder (native/fuzz_decode.c) as build/fuzz_decode (the library's, from nsexec.c) and
// build/fuzz_decode_nsx (the executable's, from nsx.c), and ns-oci's parsers (native/fuzz_oci.c,
// which includes oci.c) as build/fuzz_oci. Used by the fuzz tests (npm test)
// and by the repository's `npm run fuzz`. Debian: apt-get install clang libclang-rt-14-dev (the
// libFuzzer and sanitizer runtimes).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
/** Harness name -> its source and extra compiler flags. */
const TARGETS = {
  fuzz_decode: { source: 'fuzz_decode.c', flags: [] },
  fuzz_decode_nsx: { source: 'fuzz_decode.c', flags: ['-DNSX_FUZZ_NSX'] },
  // oci.c without its main: the functions only main calls go unused.
  fuzz_oci: { source: 'fuzz_oci.c', flags: ['-Wno-unused-function', '-Wno-unneeded-internal-declaration'] },
};
/** The decoder's harnesses (the plan fuzz test runs each). */
const DECODER_FUZZERS = ['fuzz_decode', 'fuzz_decode_nsx'];
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
    '-fno-sanitize-recover=undefined', ...TARGETS[name].flags, '-o', tmp, path.join(root, 'native', TARGETS[name].source)];
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const r = spawnSync(cc, args, { encoding: 'utf8' });
  if (r.error && r.error.code === 'ENOENT') {
    throw new Error(`no "${cc}" to build the ${name} fuzzer: apt-get install clang libclang-rt-14-dev (or set FUZZ_CC)`);
  }
  if (r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`building the ${name} fuzzer failed: ${cc} ${args.join(' ')}\n${r.stderr}`);
  }
  fs.renameSync(tmp, out);
  return out;
}

module.exports = { buildFuzzer, DECODER_FUZZERS };
if (require.main === module) {
  try {
    for (const name of Object.keys(TARGETS)) console.log(buildFuzzer(name));
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
