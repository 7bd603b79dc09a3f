/**
 * ns-oci (native/oci.c) parses a file from the runtime's state directory and its command line
 * before answering start, state, kill and delete: its parsers run under libFuzzer with ASan and
 * UBSan here (native/fuzz_oci.c states the contract each input is checked against).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ociSeeds } from './fuzz-seeds';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildFuzzer } = require('../../scripts/build-fuzzer.js') as { buildFuzzer: (name: string) => string };

const TEST_RUNS = 200_000;

describe('ns-oci parser fuzzing (libFuzzer with ASan and UBSan)', () => {
  it(`fuzz_oci: takes ${TEST_RUNS.toLocaleString('en')} mutated fast files, signals and ids without a crash or a broken contract`, function () {
    this.timeout(120000);
    const fuzzer = buildFuzzer('fuzz_oci');
    const dir = mkdtempSync(join(tmpdir(), 'nsx-fuzz-oci-'));
    try {
      const corpus = join(dir, 'corpus');
      mkdirSync(corpus);
      ociSeeds().forEach((seed, i) => writeFileSync(join(corpus, `seed-${i}`), seed));
      // A fixed seed: the same inputs each run, so a failure here reproduces.
      const r = spawnSync(fuzzer, [`-runs=${TEST_RUNS}`, '-seed=1', `-artifact_prefix=${dir}/`, corpus], { cwd: dir, encoding: 'utf8' });
      const tail = r.stderr.split('\n').slice(-25).join('\n');
      expect(r.status, tail).to.equal(0);
      expect(r.stderr).to.contain(`Done ${TEST_RUNS} runs`);
      // Not vacuous: each parser accepted inputs (and the contract was checked on them).
      const m = /fuzz_oci: accepted fast (\d+) signal (\d+) id (\d+)/.exec(r.stderr);
      expect(m, tail).to.not.equal(null);
      for (const count of m!.slice(1)) expect(Number(count), tail).to.be.greaterThan(100);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
