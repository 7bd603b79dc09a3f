import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { generatorCheck } from 'ns-test-kit';
import { compileSpawn, encodePlan } from '../src/index';
import { execStage } from '../src/exec/native';
import { DECODE_ERRORS, OP_HEAD_BYTES } from '../src/exec/protocol';

const root = join(__dirname, '../..');

function decode(plan: Buffer): { error: string; badOffset: number } {
  // struct nsx_decoded (nsexec.h) is 40 bytes on 64-bit targets; nsx_decode zeroes all of it.
  const out = Buffer.alloc(64);
  const bad = Buffer.alloc(8);
  const rc = execStage().decode(plan, plan.length, out, bad);
  return { error: DECODE_ERRORS[rc] ?? `code ${rc}`, badOffset: Number(bad.readBigUInt64LE(0)) };
}

describe('exec-stage protocol', () => {
  it('native/protocol.h is generated from protocol.ts and up to date', () => {
    expect(generatorCheck(join(root, 'scripts/gen-protocol-header.js'))).to.deep.equal({ status: 0, stderr: '' });
  });

  it('the C decoder accepts what the encoder writes', () => {
    const plan = encodePlan(compileSpawn(['sh', '-c', 'echo x'], {
      create: ['user', 'mnt'],
      steps: [{ name: 't', child: [
        { op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', phase: 'mounts' },
        { op: 'setgroups', gids: [1, 2, 3], phase: 'identity' },
      ] }],
    }, new Map([[0, 0]])).plan);
    expect(decode(plan).error).to.equal('ok');
  });

  it('names what is wrong in malformed plans', () => {
    const good = encodePlan(compileSpawn(['true'], {}, new Map()).plan);
    expect(decode(good.subarray(0, 10)).error).to.equal('short');
    const badMagic = Buffer.from(good);
    badMagic.writeUInt32LE(0, 0);
    expect(decode(badMagic).error).to.equal('magic');
    const badVersion = Buffer.from(good);
    badVersion.writeUInt32LE(99, 4);
    expect(decode(badVersion).error).to.equal('version');
    const badOp = Buffer.from(good);
    badOp.writeUInt32LE(9999, 24);
    expect(decode(badOp)).to.deep.equal({ error: 'bad_opcode', badOffset: 24 });
    expect(decode(Buffer.concat([good, Buffer.alloc(4)])).error).to.equal('trailing_bytes');
    // A string whose NUL comes early would silently shorten a path: refused.
    const exec = encodePlan({ cloneKinds: [], fdFloor: 3, ops: [{ op: 'chdir', path: 'abcd' }] });
    exec[24 + OP_HEAD_BYTES + 4 + 1] = 0;
    expect(decode(exec).error).to.equal('string_nul');
  });

  it('survives 20,000 random mutations of a valid plan without crashing', () => {
    const good = encodePlan(compileSpawn(['sh', '-c', 'true'], { create: ['uts'], steps: [{ name: 'h', child: [
      { op: 'sethostname', name: 'box', phase: 'namespaces' }] }] }, new Map()).plan);
    const seen = new Set<string>();
    for (let i = 0; i < 20000; i++) {
      const m = Buffer.from(good);
      const flips = 1 + (i % 4);
      for (let f = 0; f < flips; f++) {
        const at = randomBytes(4).readUInt32LE(0) % m.length;
        m[at] = randomBytes(1)[0]!;
      }
      const cut = i % 7 === 0 ? m.subarray(0, randomBytes(4).readUInt32LE(0) % m.length) : m;
      seen.add(decode(cut).error);
    }
    expect(seen.has('ok')).to.equal(true);
    expect([...seen].every((e) => DECODE_ERRORS.includes(e as (typeof DECODE_ERRORS)[number]))).to.equal(true);
    expect(seen.size).to.be.greaterThan(4);
  });
});
