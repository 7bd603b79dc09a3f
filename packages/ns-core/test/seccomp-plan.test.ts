/**
 * The seccomp step in a plan, without privileges: where compileSpawn puts the filter (the
 * kernel's no_new_privs-or-CAP_SYS_ADMIN rule), and the exec stage decoder's bounds on it.
 */
import { expect } from 'chai';
import { compileSpawn, encodePlan, NsError, type ChildOp } from '../src/index';
import { execStage } from '../src/exec/native';
import { DECODE_ERRORS } from '../src/exec/protocol';
import { compileSeccomp } from '../src/seccomp/compile';
import { seccomp } from '../src/seccomp/step';

const HEADER_BYTES = 24;
const tiny = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' }, { arch: 'x86_64' });
const stdio = new Map([[0, 0], [1, 1], [2, 2]]);

function decode(plan: Buffer): string {
  const out = Buffer.alloc(64);
  const bad = Buffer.alloc(8);
  return DECODE_ERRORS[execStage().decode(plan, plan.length, out, bad)] ?? 'unknown';
}

const names = (ops: readonly ChildOp[]) => ops.map((o) => (o.op === 'prctl' ? `prctl ${o.option}` : o.op));

describe('seccomp step in a plan', () => {
  it('sets no_new_privs and loads the filter last, after the working directory, right before exec', () => {
    const { plan } = compileSpawn(['true'], {
      cwd: '/tmp',
      steps: [seccomp(tiny), { name: 'ids', child: [{ op: 'setuid', uid: 1, phase: 'identity' }, { op: 'capset', effective: 0n, permitted: 0n, inheritable: 0n, phase: 'final' }] }],
    }, stdio);
    expect(names(plan.ops).slice(-6)).to.deep.equal(['setuid', 'prctl 38', 'capset', 'chdir', 'seccomp', 'exec']);
    const op = plan.ops.at(-2) as Extract<ChildOp, { op: 'seccomp' }>;
    expect(op.program.equals(tiny.program)).to.equal(true);
    expect(decode(encodePlan(plan))).to.equal('ok');
  });

  it("loads a 'cap-sys-admin' filter before ids and capabilities change, after the fork", () => {
    const { plan } = compileSpawn(['true'], {
      steps: [seccomp(tiny, { requires: 'cap-sys-admin' }), { name: 'ids', child: [
        { op: 'fork', init: true, forward: ['SIGTERM'], phase: 'fork' },
        { op: 'setgid', gid: 1, phase: 'identity' }, { op: 'setuid', uid: 1, phase: 'identity' },
        { op: 'prctl', option: 38, args: [1], phase: 'final' }] }],
    }, stdio);
    expect(names(plan.ops).slice(-6)).to.deep.equal(['fork', 'seccomp', 'setgid', 'setuid', 'prctl 38', 'exec']);
  });

  it('refuses a no_new_privs filter when nothing sets no_new_privs, and two filters', () => {
    const bare = { name: 'raw', child: [{ op: 'seccomp' as const, program: tiny.program, requires: 'no-new-privs' as const, phase: 'final' as const }] };
    const err = (() => { try { compileSpawn(['true'], { steps: [bare] }, stdio); } catch (e) { return e as NsError; } return undefined; })();
    expect(err?.code).to.equal('EUSAGE');
    expect(err?.message).to.contain('needs no_new_privs');
    expect(() => compileSpawn(['true'], { steps: [seccomp(tiny), seccomp(tiny)] }, stdio)).to.throw(NsError, 'only one seccomp filter');
  });

  it('refuses a profile up front, before anything is spawned', () => {
    expect(() => seccomp({ defaultAction: 'SCMP_ACT_NOTIFY' })).to.throw(NsError, 'SCMP_ACT_NOTIFY is not supported');
  });
});

describe('seccomp op in the exec stage decoder', () => {
  const one = (program: Buffer, flags = 0) => encodePlan({ cloneKinds: [], fdFloor: 3, ops: [{ op: 'seccomp', program, flags, requires: 'no-new-privs' }] });

  it('takes 1 to BPF_MAXINSNS (4096) instructions with TSYNC, LOG and SPEC_ALLOW', () => {
    expect(decode(one(Buffer.alloc(8)))).to.equal('ok');
    expect(decode(one(Buffer.alloc(4096 * 8), 7))).to.equal('ok');
  });

  it('refuses NEW_LISTENER (it would hand the program an fd), 0 or 4097 instructions, and a length that is not 8 per instruction', () => {
    expect(decode(one(Buffer.alloc(8), 8))).to.equal('bad_argument');
    const count = (plan: Buffer, n: bigint) => {
      plan.writeBigUInt64LE(n, HEADER_BYTES + 16);
      return plan;
    };
    expect(decode(count(one(Buffer.alloc(8)), 0n))).to.equal('bad_argument');
    expect(decode(count(one(Buffer.alloc(8)), 4097n))).to.equal('bad_argument');
    expect(decode(count(one(Buffer.alloc(16)), 1n))).to.equal('string_length');
    expect(() => one(Buffer.alloc(12))).to.throw(NsError, '1 to 4096 instructions of 8 bytes');
    expect(() => one(Buffer.alloc(4097 * 8))).to.throw(NsError, '1 to 4096 instructions');
  });
});
