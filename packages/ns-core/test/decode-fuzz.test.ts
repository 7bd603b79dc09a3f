/**
 * The exec stage's plan decoder against malformed input: named cases, then a short libFuzzer
 * run (ASan + UBSan) from seeds the TypeScript encoder writes. The harness
 * (native/fuzz_decode.c) checks, for every plan nsx_decode accepts, what the child relies on;
 * the long run is `npm run fuzz` at the repository root.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePlan, type ChildOp } from '../src/index';
import { execStage } from '../src/exec/native';
import { DECODE_ERRORS, OP_HEAD_BYTES } from '../src/exec/protocol';
import { seedPlans } from './fuzz-seeds';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildFuzzer, DECODER_FUZZERS } = require('../../scripts/build-fuzzer.js') as { buildFuzzer: (name: string) => string; DECODER_FUZZERS: string[] };

/** Inputs per `npm test` run: a fraction of a second at ~500,000 inputs/s. */
const TEST_RUNS = 100_000;
const HEADER_BYTES = 24;

function decodeError(plan: Buffer): { error: string; badOffset: number } {
  const out = Buffer.alloc(64); // struct nsx_decoded is 40 bytes
  const bad = Buffer.alloc(8);
  const rc = execStage().decode(plan, plan.length, out, bad);
  return { error: DECODE_ERRORS[rc] ?? `code ${rc}`, badOffset: Number(bad.readBigUInt64LE(0)) };
}

/** A one-op plan, and a copy with the op's argument `arg` (0..3) replaced. */
function withArg(op: ChildOp, arg: number, value: bigint): Buffer {
  const plan = encodePlan({ cloneKinds: [], fdFloor: 3, ops: [op] });
  plan.writeBigUInt64LE(value, HEADER_BYTES + 8 + arg * 8);
  return plan;
}

describe('exec-stage decoder, malformed plans', () => {
  it('accepts every seed plan the encoder writes', () => {
    for (const plan of seedPlans()) expect(decodeError(plan).error).to.equal('ok');
  });

  it('refuses clone flags that are not namespace kinds (CLONE_VFORK, CLONE_SETTLS, time)', () => {
    for (const flag of [0x4000n, 0x80000n, 0x80n, 1n << 40n]) {
      const plan = encodePlan({ cloneKinds: ['uts'], fdFloor: 3, ops: [] });
      plan.writeBigUInt64LE(plan.readBigUInt64LE(8) | flag, 8);
      expect(decodeError(plan), `flag ${flag.toString(16)}`).to.deep.equal({ error: 'ns_flags', badOffset: 8 });
    }
  });

  it('refuses setns and unshare flags that are not namespace kinds', () => {
    expect(decodeError(withArg({ op: 'unshare', kinds: ['uts'] }, 0, 0x400n)).error).to.equal('ns_flags'); // CLONE_FILES
    expect(decodeError(withArg({ op: 'setns', fd: 3, kinds: ['net'] }, 1, 0x40000000n | 0x100n)).error).to.equal('ns_flags');
    // Time is a namespace kind: unshare and setns may carry it.
    expect(decodeError(withArg({ op: 'unshare', kinds: ['uts'] }, 0, 0x80n)).error).to.equal('ok');
  });

  it('refuses setns modes and slots do_setns does not handle', () => {
    expect(decodeError(withArg({ op: 'setns', fd: 3, kinds: ['net'] }, 2, 3n)).error).to.equal('bad_argument');
    expect(decodeError(withArg({ op: 'setns', fd: 3, kinds: ['net'] }, 3, 64n)).error).to.equal('bad_argument');
    expect(decodeError(withArg({ op: 'setns', fd: 3, kinds: ['net'], mode: 'retry', slot: 63 }, 3, 63n)).error).to.equal('ok');
  });

  it('refuses a setgroups count whose count * 4 wraps around to its data length', () => {
    // One gid of data (4 bytes); 2^62 + 1 gids * 4 wraps to 4 in 64 bits.
    const plan = withArg({ op: 'setgroups', gids: [7] }, 0, (1n << 62n) + 1n);
    expect(decodeError(plan).error).to.equal('bad_argument');
    expect(decodeError(withArg({ op: 'setgroups', gids: [7] }, 0, 2n)).error).to.equal('string_length');
  });

  it('finds the op a bad argument belongs to', () => {
    const plan = encodePlan({ cloneKinds: [], fdFloor: 3, ops: [{ op: 'chdir', path: '/' }, { op: 'unshare', kinds: ['ipc'] }] });
    const second = HEADER_BYTES + OP_HEAD_BYTES + 4 + 4; // chdir's head and its "/" string field
    plan.writeBigUInt64LE(0x200n, second + 8); // CLONE_FS
    expect(decodeError(plan)).to.deep.equal({ error: 'ns_flags', badOffset: second });
  });
});

describe('exec-stage decoder fuzzing (libFuzzer with ASan and UBSan)', () => {
  // fuzz_decode: the library's nsx_decode; fuzz_decode_nsx: the executable's, compiled as nsx is.
  for (const name of DECODER_FUZZERS) {
    it(`${name}: takes ${TEST_RUNS.toLocaleString('en')} mutated plans without a crash or a broken contract`, function () {
      this.timeout(120000);
      const fuzzer = buildFuzzer(name);
      const dir = mkdtempSync(join(tmpdir(), 'nsx-fuzz-'));
      try {
        const corpus = join(dir, 'corpus');
        mkdirSync(corpus);
        seedPlans().forEach((plan, i) => writeFileSync(join(corpus, `seed-${i}`), plan));
        // A fixed seed: the same inputs each run, so a failure here reproduces; npm run fuzz explores.
        const r = spawnSync(fuzzer, [`-runs=${TEST_RUNS}`, '-seed=1', `-artifact_prefix=${dir}/`, corpus],
          { cwd: dir, encoding: 'utf8' });
        const tail = r.stderr.split('\n').slice(-25).join('\n');
        expect(r.status, tail).to.equal(0);
        expect(r.stderr).to.contain(`Done ${TEST_RUNS} runs`);
        // Not vacuous: plans were accepted (and checked) and refused for many different reasons.
        const counts = new Map([...r.stderr.matchAll(/ (\d+):(\d+)/g)].map((m) => [DECODE_ERRORS[Number(m[1])], Number(m[2])]));
        expect(counts.get('ok'), tail).to.be.greaterThan(100);
        expect([...counts].filter(([n, k]) => n !== 'ok' && k > 0).length, tail).to.be.at.least(10);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
