import { expect } from 'chai';
import { compileInPlace, compileSpawn, encodePlan, joinOps, programCandidates, type Step } from '../src/index';
import { PROTOCOL_MAGIC } from '../src/exec/protocol';
import { planInputs, planInputsUnchanged } from '../src/exec/plan';
import type { Namespace } from '../src/namespace';

const fakeNs = (kind: Namespace['kind'], fd: number) => ({ kind, fd, id: fd, dev: 0 }) as unknown as Namespace;

describe('plans (no privileges)', () => {
  it('puts clone-able kinds in clone flags and time into an in-child unshare', () => {
    const c = compileSpawn(['true'], { create: ['user', 'mnt', 'pid', 'time'] }, new Map());
    expect(c.plan.cloneKinds).to.deep.equal(['user', 'mnt', 'pid']);
    expect(c.unsharedInChild).to.deep.equal(['time']);
    const ops = c.plan.ops.map((o) => o.op);
    // No parent actions: no round trip; the ids are reported by the child right before exec.
    expect(ops).not.to.include('sync');
    expect(ops.slice(-3)).to.deep.equal(['unshare', 'report-ns', 'exec']);
    const withParent = compileSpawn(['true'], { create: ['time'], steps: [{ name: 'p', parent: [{ action: 'write-proc', file: 'timens_offsets', data: '' }] }] }, new Map());
    const ops2 = withParent.plan.ops.map((o) => o.op);
    expect(ops2.indexOf('unshare')).to.be.lessThan(ops2.indexOf('sync'));
  });

  it('leaves the namespace-id report out when the caller says it reads no ids', () => {
    const ops = (options: { reportNamespaces?: boolean }) =>
      compileSpawn(['true'], { create: ['uts'], ...options }, new Map()).plan.ops.map((o) => o.op);
    expect(ops({})).to.include('report-ns');
    expect(ops({ reportNamespaces: true })).to.include('report-ns');
    expect(ops({ reportNamespaces: false })).not.to.include('report-ns');
  });

  it('orders step ops by phase whatever the step order', () => {
    const late: Step = { name: 'late', child: [{ op: 'setuid', uid: 1000, phase: 'identity' }] };
    const early: Step = { name: 'early', create: ['mnt'], child: [
      { op: 'mount', target: '/', flags: ['REC', 'PRIVATE'], phase: 'propagation' },
      { op: 'pivot-root', newRoot: '/r', phase: 'root' },
      { op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', phase: 'mounts' },
    ] };
    const owner: Step = { name: 'owner', createInChild: true, child: [{ op: 'setgid', gid: 5, phase: 'pre-namespaces' }] };
    const ops = compileSpawn(['true'], { steps: [late, early, owner] }, new Map()).plan.ops.map((o) => o.op);
    expect(ops.filter((o) => !o.startsWith('fd-') && o !== 'cloexec-from'))
      .to.deep.equal(['setgid', 'unshare', 'report-ns', 'mount', 'mount', 'pivot-root', 'setuid', 'exec']);
  });

  it('createInChild moves every new namespace into the in-child unshare', () => {
    const c = compileSpawn(['true'], { create: ['user', 'net'], steps: [{ name: 'o', createInChild: true }] }, new Map());
    expect(c.plan.cloneKinds).to.deep.equal([]);
    expect(c.unsharedInChild).to.deep.equal(['user', 'net']);
  });

  it('refuses to create and join the same kind', () => {
    expect(() => compileSpawn(['true'], { create: ['net'], join: [fakeNs('net', 9)] }, new Map()))
      .to.throw(/cannot both create and join a net namespace/).with.property('code', 'EUSAGE');
  });

  it('joins user first softly, then retries hard, like nsenter', () => {
    const ops = joinOps([fakeNs('net', 10), fakeNs('user', 11), fakeNs('mnt', 12)]);
    expect(ops.map((o) => o.op === 'setns' && `${o.kinds[0]}:${o.mode ?? 'hard'}`)).to.deep.equal([
      'user:soft', 'mnt:soft', 'net:soft', 'user:retry', 'mnt:retry', 'net:retry']);
    const single = joinOps([fakeNs('net', 10), fakeNs('uts', 11)]);
    expect(single.every((o) => o.op === 'setns' && o.mode === undefined)).to.equal(true);
  });

  it('stashes fds before placing them so overlapping maps cannot clobber each other', () => {
    const ops = compileSpawn(['true'], {}, new Map([[1, 2], [2, 1]])).plan.ops;
    const kinds = ops.map((o) => o.op);
    expect(kinds.lastIndexOf('fd-stash')).to.be.lessThan(kinds.indexOf('fd-place'));
    expect(compileSpawn(['true'], {}, new Map([[9, 1]])).plan.fdFloor).to.equal(10);
  });

  it('searches PATH like execvp, inside the child', () => {
    expect(programCandidates('ls', ['PATH=/a::/b'])).to.deep.equal(['/a/ls', './ls', '/b/ls']);
    expect(programCandidates('./x', [])).to.deep.equal(['./x']);
    expect(programCandidates('sh', [])[0]).to.equal('/usr/local/sbin/sh');
  });

  it('rejects an empty argv and strings with NUL bytes', () => {
    expect(() => compileSpawn([], {}, new Map())).to.throw(/no program given/);
    const c = compileSpawn(['a\0b'], {}, new Map());
    expect(() => encodePlan(c.plan)).to.throw(/NUL byte/);
  });

  it('starts the child in a cgroup by clone3 where it can, else by a write of 0 before anything else', () => {
    const step: Step = { name: 'cg', startInCgroup: '/sys/fs/cgroup/x/', create: ['cgroup', 'uts'],
                         child: [{ op: 'mkdir', path: '/a', phase: 'pre-namespaces' }] };
    const ops = (c: ReturnType<typeof compileSpawn>) => c.plan.ops.filter((o) => !o.op.startsWith('fd-') && o.op !== 'cloexec-from');
    const born = compileSpawn(['true'], { steps: [step] }, new Map());
    expect(born.cgroup).to.equal('/sys/fs/cgroup/x/');
    // The namespace is unshared once the child is in the cgroup: cloned, its root would be ours.
    expect(born.plan.cloneKinds).to.deep.equal(['uts']);
    expect(born.unsharedInChild).to.deep.equal(['cgroup']);
    expect(ops(born).map((o) => o.op).slice(0, 2)).to.deep.equal(['mkdir', 'unshare']);
    expect(born.plan.ops.some((o) => o.op === 'write-file')).to.equal(false);

    const moved = compileSpawn(['true'], { steps: [step] }, new Map(), { cloneIntoCgroup: false });
    expect(moved.cgroup).to.equal(undefined);
    expect(ops(moved).slice(0, 3).map((o) => o.op)).to.deep.equal(['write-file', 'mkdir', 'unshare']);
    expect(ops(moved)[0]).to.deep.include({ path: '/sys/fs/cgroup/x/cgroup.procs', data: '0', step: 'cg' });
    const inPlace = compileInPlace(['true'], { steps: [step] }, new Map(), 4242);
    expect(inPlace.cgroup).to.equal(undefined);
    expect(inPlace.plan.ops.filter((o) => o.op === 'write-file')).to.have.length(1);

    expect(() => compileSpawn(['true'], { steps: [step, { ...step, name: 'other' }] }, new Map())).to.throw(/'cg' and 'other' both give a cgroup/);
    expect(() => compileSpawn(['true'], { steps: [step], supervise: {} }, new Map())).to.throw(/supervised program joins its cgroup past/);
  });

  it('supervise.cgroup: a fork-cgroup op right before the supervisor\'s fork; a cgroup namespace unshared past it', () => {
    const c = compileSpawn(['true'], { create: ['pid', 'cgroup'], supervise: { cgroup: '/sys/fs/cgroup/x/init' } }, new Map());
    const ops = c.plan.ops.map((o) => o.op);
    const fork = ops.indexOf('fork');
    expect(ops[fork - 1]).to.equal('fork-cgroup');
    expect(c.plan.ops[fork - 1]).to.deep.include({ path: '/sys/fs/cgroup/x/init' });
    const forkOp = c.plan.ops[fork] as Extract<typeof c.plan.ops[number], { op: 'fork' }>;
    expect(forkOp.cloneKinds).to.deep.equal(['pid']);
    const unshare = c.plan.ops.findIndex((o) => o.op === 'unshare' && o.kinds.includes('cgroup'));
    expect(unshare).to.be.greaterThan(fork);
    const plain = compileSpawn(['true'], { create: ['pid', 'cgroup'], supervise: {} }, new Map());
    expect(plain.plan.ops.some((o) => o.op === 'fork-cgroup')).to.equal(false);
    expect((plain.plan.ops.find((o) => o.op === 'fork') as typeof forkOp).cloneKinds).to.deep.equal(['pid', 'cgroup']);
  });

  it('encodes the header the C decoder expects', () => {
    const buf = encodePlan(compileSpawn(['true'], { create: ['uts'] }, new Map()).plan);
    expect(buf.readUInt32LE(0)).to.equal(PROTOCOL_MAGIC);
    expect(buf.readBigUInt64LE(8)).to.equal(0x04000000n);
    expect(buf.length % 4).to.equal(0);
  });
});

describe('plan inputs (what spawn() checks before it reuses a plan)', () => {
  const stdio = new Map([[0, 0], [1, 1], [2, 2]]);
  const step = (name: string): Step => ({ name: 'h', create: ['uts'], child: [{ op: 'sethostname', name, phase: 'namespaces' }] });

  it('the same data in place, unchanged; any change in argv, options, fds or PATH, changed', () => {
    const argv = ['true'];
    const options: { steps: Step[]; reportNamespaces?: boolean; env?: string[] } = { steps: [step('a')] };
    const inputs = planInputs(argv, options, stdio)!;
    expect(planInputsUnchanged(inputs, argv, options, new Map(stdio))).to.equal(true);
    expect(planInputsUnchanged(inputs, ['true'], { steps: [step('a')] }, stdio), 'equal copies').to.equal(true);
    const changed = (argv2: string[], options2: typeof options, fds = stdio) => !planInputsUnchanged(inputs, argv2, options2, fds);
    expect(changed(['true', 'x'], options)).to.equal(true);
    expect(changed(argv, { steps: [step('b')] })).to.equal(true);
    expect(changed(argv, { steps: [step('a')], reportNamespaces: false })).to.equal(true);
    expect(changed(argv, { steps: [step('a')], env: ['PATH=/bin'] })).to.equal(true);
    expect(changed(argv, { steps: [step('a'), step('a')] })).to.equal(true);
    expect(changed(argv, options, new Map([[0, 0], [1, 1], [2, 5]]))).to.equal(true);
    expect(changed(argv, options, new Map([[0, 0], [1, 1]]))).to.equal(true);
    const rlimit = (hard: bigint): Step => ({ name: 'r', child: [{ op: 'rlimit', resource: 7, soft: 1n, hard, phase: 'final' }] });
    expect(planInputsUnchanged(planInputs(argv, { steps: [rlimit(2n)] }, stdio)!, argv, { steps: [rlimit(3n)] }, stdio)).to.equal(false);
    // Changed in place after the copy was taken: the copy, not the object, is what counts.
    (options.steps[0]!.child![0] as { name: string }).name = 'b';
    expect(planInputsUnchanged(inputs, argv, options, stdio)).to.equal(false);
    const path = process.env['PATH'];
    try {
      process.env['PATH'] = '/elsewhere';
      expect(planInputsUnchanged(inputs, ['true'], { steps: [step('a')] }, stdio)).to.equal(false);
    } finally {
      process.env['PATH'] = path;
    }
  });

  it('functions count by identity; namespace handles and cycles cannot be copied', () => {
    const run = () => undefined;
    const withCall = (fn: () => undefined): Step => ({ name: 'c', parent: [{ action: 'call', step: 'c', run: fn }] });
    const inputs = planInputs(['true'], { steps: [withCall(run)] }, stdio)!;
    expect(planInputsUnchanged(inputs, ['true'], { steps: [withCall(run)] }, stdio)).to.equal(true);
    expect(planInputsUnchanged(inputs, ['true'], { steps: [withCall(() => undefined)] }, stdio)).to.equal(false);
    class Handle { kind = 'uts'; fd = 9; }
    expect(planInputs(['true'], { join: [new Handle() as unknown as Namespace] }, stdio)).to.equal(undefined);
    const cyclic: Record<string, unknown> = { name: 'x' };
    cyclic['self'] = cyclic;
    expect(planInputs(['true'], { steps: [cyclic as unknown as Step] }, stdio)).to.equal(undefined);
  });
});
