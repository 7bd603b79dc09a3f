#!/usr/bin/env node
// `npm run fuzz`: the long fuzzing run (npm test runs a short one of each).
//
// 1. The exec stage's plan decoder under libFuzzer with ASan and UBSan
//    (packages/ns-core/native/fuzz_decode.c), FUZZ_RUNS inputs (default 2,000,000), seeded
//    with plans the TypeScript encoder writes. The corpus grows across runs in
//    packages/ns-core/build/fuzz-corpus; a crash leaves its input in packages/ns-core/build/.
//    Then ns-oci's parsers (native/fuzz_oci.c) as many times, corpus build/fuzz-corpus-oci.
// 2. With FUZZ_CLI_VECTORS=N (default 0), N random argument vectors for each CLI's parser,
//    through the same in-process driver as the CLI fuzz tests.
//
// Needs a build (`npm run build`) and clang with libFuzzer (Debian: clang libclang-rt-14-dev).
// FUZZ_SEED fixes libFuzzer's seed (default: random, printed).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const core = path.join(__dirname, '..', 'packages', 'ns-core');
const runs = Number(process.env.FUZZ_RUNS || 2_000_000);
const cliVectors = Number(process.env.FUZZ_CLI_VECTORS || 0);
const seed = Number(process.env.FUZZ_SEED || Math.floor(Math.random() * 2 ** 31));

function fail(message) {
  console.error(`fuzz: ${message}`);
  process.exit(1);
}

const seedsModule = path.join(core, 'dist', 'test', 'fuzz-seeds.js');
if (!fs.existsSync(seedsModule)) fail('packages/ns-core is not built: run `npm run build` first');

let fuzzer;
try {
  fuzzer = require(path.join(core, 'scripts', 'build-fuzzer.js')).buildFuzzer();
} catch (e) {
  fail(e.message);
}

const corpus = path.join(core, 'build', 'fuzz-corpus');
fs.mkdirSync(corpus, { recursive: true });
require(seedsModule).seedPlans().forEach((plan, i) => fs.writeFileSync(path.join(corpus, `seed-${i}`), plan));

console.log(`fuzz: decoder, ${runs.toLocaleString('en')} inputs, seed ${seed}, corpus ${path.relative(process.cwd(), corpus)}`);
const r = spawnSync(fuzzer, [`-runs=${runs}`, `-seed=${seed}`, '-print_final_stats=1',
  `-artifact_prefix=${path.join(core, 'build')}/`, corpus], { stdio: ['ignore', 'inherit', 'inherit'] });
if (r.status !== 0) fail(`the decoder fuzzer failed (exit ${r.status ?? r.signal}); reproduce with FUZZ_SEED=${seed}`);

// ns-oci's parsers (fast file, signals, ids), the same number of inputs.
const ociCorpus = path.join(core, 'build', 'fuzz-corpus-oci');
fs.mkdirSync(ociCorpus, { recursive: true });
require(seedsModule).ociSeeds().forEach((text, i) => fs.writeFileSync(path.join(ociCorpus, `seed-${i}`), text));
console.log(`fuzz: ns-oci's parsers, ${runs.toLocaleString('en')} inputs, seed ${seed}, corpus ${path.relative(process.cwd(), ociCorpus)}`);
const oci = spawnSync(require(path.join(core, 'scripts', 'build-fuzzer.js')).buildFuzzer('fuzz_oci'), [`-runs=${runs}`, `-seed=${seed}`,
  '-print_final_stats=1', `-artifact_prefix=${path.join(core, 'build')}/`, ociCorpus], { stdio: ['ignore', 'inherit', 'inherit'] });
if (oci.status !== 0) fail(`the ns-oci fuzzer failed (exit ${oci.status ?? oci.signal}); reproduce with FUZZ_SEED=${seed}`);

(async () => {
  if (cliVectors > 0) {
    const { runCliFuzz, CLI_UNDER_TEST } = require(path.join(core, 'dist', 'test', 'cli-harness.js'));
    let failed = false;
    for (const cli of CLI_UNDER_TEST) {
      const summary = await runCliFuzz(cli, { vectors: cliVectors, seed, timeoutMs: 3_600_000 });
      console.log(`fuzz: ${cli.prog}: ${cliVectors.toLocaleString('en')} vectors ${JSON.stringify(summary.outcomes)}`);
      for (const f of summary.failures) console.log(`fuzz:   ${JSON.stringify(f.argv)}: ${f.problem} ${f.stderr.split('\n')[0]}`);
      failed ||= summary.failures.length > 0;
    }
    if (failed) fail(`a CLI parser failed; reproduce with FUZZ_SEED=${seed}`);
  }
  console.log('fuzz: no crash');
})();
