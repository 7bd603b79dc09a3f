/** The container compiler without privileges: config.json's MUST rules as errors naming the field, and the plans. */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileSpawn, type NsError, type PhasedOp } from 'ns-core';
import { thrown } from 'ns-test-kit';
import { compileContainer, type CompiledContainer, type ContainerSpec } from '../src/index';
import { mapActions, parseMountOptions, validateSpec } from '../src/compile';

const caught = (fn: () => unknown) => thrown<NsError>(fn);

const base: ContainerSpec = {
  ociVersion: '1.0.2',
  root: { path: 'rootfs' },
  process: { user: { uid: 0, gid: 0 }, args: ['sh'], cwd: '/', env: ['PATH=/bin'] },
  mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }, { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] }],
  linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'uts' }, { type: 'ipc' }, { type: 'network' }] },
};
const withLinux = (linux: Partial<NonNullable<ContainerSpec['linux']>>): ContainerSpec => ({ ...base, linux: { ...base.linux, ...linux } });
const withProcess = (p: Partial<NonNullable<ContainerSpec['process']>>): ContainerSpec => ({ ...base, process: { ...base.process!, ...p } });

describe('compileContainer: config.json validation', () => {
  const cases: [string, unknown, RegExp][] = [
    ['an unknown namespace type', withLinux({ namespaces: [{ type: 'mount' }, { type: 'pid' }, { type: 'netwrk' as 'network' }] }),
      /^linux\.namespaces\[2\]\.type: 'netwrk' is not a namespace type/],
    ['a namespace given twice', withLinux({ namespaces: [{ type: 'mount' }, { type: 'pid' }, { type: 'pid' }] }), /^linux\.namespaces\[2\]\.type: pid is given twice/],
    ['no mount namespace', withLinux({ namespaces: [{ type: 'pid' }] }), /^linux\.namespaces: a container needs a mount namespace/],
    ['a relative namespace path', withLinux({ namespaces: [{ type: 'mount' }, { type: 'network', path: 'run/netns/x' }] }),
      /^linux\.namespaces\[1\]\.path: 'run\/netns\/x' must be an absolute path/],
    ['no root', { ...base, root: undefined }, /^root: is required on Linux/],
    ['empty args', withProcess({ args: [] }), /^process\.args: must name the program/],
    ['a relative cwd', withProcess({ cwd: 'tmp' }), /^process\.cwd: 'tmp' must be an absolute path/],
    ['env without =', withProcess({ env: ['PATH'] }), /^process\.env\[0\]: 'PATH' is not KEY=VALUE/],
    ['a negative uid', withProcess({ user: { uid: -1, gid: 0 } }), /^process\.user\.uid: expected a uid, got -1/],
    ['an unknown rlimit', withProcess({ rlimits: [{ type: 'RLIMIT_FOO', soft: 1, hard: 1 }] }), /^process\.rlimits\[0\]\.type: 'RLIMIT_FOO' is not a resource limit/],
    ['an rlimit twice', withProcess({ rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }, { type: 'RLIMIT_NOFILE', soft: 2, hard: 2 }] }),
      /^process\.rlimits\[1\]\.type: RLIMIT_NOFILE is given twice/],
    ['soft above hard', withProcess({ rlimits: [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 5 }] }), /^process\.rlimits\[0\]: soft limit 10 is above the hard limit 5/],
    ['a relative mount destination', { ...base, mounts: [{ destination: 'proc', type: 'proc' }] }, /^mounts\[0\]\.destination: 'proc' must be an absolute path/],
    ['mappings without a user namespace', withLinux({ uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] }),
      /^linux\.uidMappings: mappings need a user namespace/],
    ['a user namespace without maps', withLinux({ namespaces: [...base.linux!.namespaces!, { type: 'user' }] }),
      /^linux\.uidMappings: a new user namespace needs both/],
    ['a zero-size map', withLinux({ namespaces: [...base.linux!.namespaces!, { type: 'user' }], uidMappings: [{ containerID: 0, hostID: 1, size: 0 }],
                                    gidMappings: [{ containerID: 0, hostID: 1, size: 1 }] }), /^linux\.uidMappings\[0\]\.size: must be at least 1/],
    ['a hostname without a uts namespace', { ...withLinux({ namespaces: [{ type: 'mount' }] }), hostname: 'x' }, /^hostname: needs a new uts namespace/],
    ['a host-wide sysctl', withLinux({ sysctl: { 'kernel.panic': '1' } }), /^linux\.sysctl\.kernel\.panic: is not namespaced/],
    ['an ipc sysctl without an ipc namespace', withLinux({ namespaces: [{ type: 'mount' }, { type: 'network' }], sysctl: { 'kernel.shmmax': '1' } }),
      /^linux\.sysctl\.kernel\.shmmax: needs a new ipc namespace/],
    ['a bad device type', withLinux({ devices: [{ type: 'x' as 'c', path: '/dev/x', major: 1, minor: 1 }] }), /^linux\.devices\[0\]\.type: 'x' is not a device type/],
    ['a bad rootfsPropagation', withLinux({ rootfsPropagation: 'sideways' as 'private' }), /^linux\.rootfsPropagation: 'sideways' is not a propagation/],
  ];
  for (const [what, spec, expected] of cases) {
    it(`refuses ${what}, naming the field`, () => {
      const e = caught(() => validateSpec(spec as ContainerSpec));
      expect(e.code).to.equal('EUSAGE');
      expect(e.message).to.match(expected);
    });
  }

  it('accepts namespaced sysctls and warns of what it does not apply', () => {
    const warnings = validateSpec({ ...withLinux({ sysctl: { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '1', 'fs.mqueue.msg_max': '10' } }),
                                    process: { ...base.process!, apparmorProfile: 'x' } });
    expect(warnings).to.deep.equal(["process.apparmorProfile: AppArmor is not applied by ns-run-oci ('x' ignored)"]);
  });

  it('mount options split into flags, propagation and data; unsupported ones are refused', () => {
    const o = parseMountOptions('mounts[0]', ['nosuid', 'noexec', 'rw', 'rbind', 'rslave', 'size=64m', 'mode=1777']);
    expect(o.flags).to.equal(0x2 | 0x8 | 0x1000 | 0x4000);
    expect(o.propagation).to.deep.equal([0x80000 | 0x4000]);
    expect(o.data).to.deep.equal(['size=64m', 'mode=1777']);
    expect(parseMountOptions('m', ['ro', 'rw']).flags).to.equal(0);
    expect(caught(() => parseMountOptions('mounts[3]', ['bind', 'tmpcopyup'])).message).to.match(/^mounts\[3\]\.options\[1\]: 'tmpcopyup' is not supported/);
  });
});

describe('compileContainer: plans', () => {
  let bundle: string;
  before(() => {
    bundle = mkdtempSync('/tmp/nstools-test-compile-');
    for (const d of ['rootfs/proc', 'rootfs/dev', 'rootfs/etc']) mkdirSync(join(bundle, d), { recursive: true });
    symlinkSync('/../../../outside', join(bundle, 'rootfs/etc/escape'));
  });
  after(() => rmSync(bundle, { recursive: true, force: true }));

  const childOps = (c: CompiledContainer): PhasedOp[] => c.steps.flatMap((s) => s.child ?? []);
  const compile = (spec: ContainerSpec, rootless = false) => compileContainer(spec, { bundle, rootless, uid: 1000, gid: 1000 });

  it('creates what has no path and joins what has one, by kernel kind', () => {
    const c = compile(withLinux({ namespaces: [{ type: 'mount' }, { type: 'network', path: '/run/netns/x' }, { type: 'uts' }] }));
    expect(c.create).to.deep.equal(['mnt', 'uts']);
    expect(c.join).to.deep.equal([{ kind: 'net', path: '/run/netns/x', field: 'linux.namespaces[1].path' }]);
    expect(c.rootfs).to.equal(join(bundle, 'rootfs'));
  });

  it('resolves a destination through a symlink inside the root, never out of it', () => {
    const c = compile({ ...base, mounts: [{ destination: '/etc/escape/data', type: 'tmpfs', source: 'tmpfs' }] });
    const mount = childOps(c).find((o) => o.op === 'mount' && o.fstype === 'tmpfs');
    // '/../../../outside' is taken inside the root: <rootfs>/outside/data, created there.
    expect(mount).to.include({ target: join(bundle, 'rootfs/outside/data') });
    expect(childOps(c).filter((o) => o.op === 'mkdir').map((o) => (o as { path: string }).path))
      .to.include.members([join(bundle, 'rootfs/outside'), join(bundle, 'rootfs/outside/data')]);
  });

  it('places mounts below a fresh filesystem as new paths (nothing of the root shows there)', () => {
    const c = compile({ ...base, mounts: [...base.mounts!, { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['newinstance', 'ptmxmode=0666'] }] });
    const ops = childOps(c);
    const pts = ops.findIndex((o) => o.op === 'mount' && o.fstype === 'devpts');
    expect(ops[pts]).to.deep.include({ target: join(bundle, 'rootfs/dev/pts'), data: 'newinstance,ptmxmode=0666', phase: 'mounts' });
    expect(ops[pts - 1]).to.deep.include({ op: 'mkdir', path: join(bundle, 'rootfs/dev/pts') });
    // The default devices: mknod as the host's root without a user namespace, links to /proc and pts.
    expect(ops.filter((o) => o.op === 'mknod').map((o) => (o as { path: string }).path)).to.have.length(6);
    expect(ops).to.deep.include({ op: 'symlink', target: 'pts/ptmx', path: join(bundle, 'rootfs/dev/ptmx'), phase: 'mounts', step: 'default devices' });
  });

  it('in a user namespace, devices are bound from the host; maps go through newuidmap when rootless', () => {
    const spec = withLinux({ namespaces: [...base.linux!.namespaces!, { type: 'user' }], uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
                             gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }] });
    const c = compile(spec, true);
    expect(childOps(c).some((o) => o.op === 'mknod')).to.equal(false);
    expect(childOps(c)).to.deep.include({ op: 'mount', source: '/dev/null', target: join(bundle, 'rootfs/dev/null'), flags: 0x1000, phase: 'mounts', step: 'default devices' });
    expect(c.steps.flatMap((s) => s.parent ?? [])).to.deep.equal([
      { action: 'run', argv: ['newuidmap', '{pid}', '0', '100000', '65536'], step: 'linux.uidMappings' },
      { action: 'run', argv: ['newgidmap', '{pid}', '0', '100000', '65536'], step: 'linux.gidMappings' },
    ]);
  });

  it('maps of the caller\'s own ids only are written directly, setgroups denied first', () => {
    const own = [{ inner: 0, outer: 1000, count: 1 }];
    expect(mapActions(own, own, { rootless: true, uid: 1000, gid: 1000 })).to.deep.equal({ setgroups: false, actions: [
      { action: 'write-proc', file: 'uid_map', data: '0 1000 1\n', step: 'linux.uidMappings' },
      { action: 'write-proc', file: 'setgroups', data: 'deny', step: 'linux.gidMappings' },
      { action: 'write-proc', file: 'gid_map', data: '0 1000 1\n', step: 'linux.gidMappings' },
    ] });
  });

  it('orders ids, capabilities, rlimits, seccomp as the kernel needs, and spawn() takes the plan', () => {
    const spec = withProcess({
      user: { uid: 1000, gid: 1000, additionalGids: [10], umask: 0o22 }, noNewPrivileges: true,
      capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'], inheritable: ['CAP_KILL'], ambient: ['CAP_KILL', 'CAP_NOPE'] },
      rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 2 ** 64 }],
    });
    const c = compile({ ...spec, linux: { ...spec.linux!, seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ERRNO' }] } } });
    expect(c.warnings).to.deep.equal(["process.capabilities.ambient: unknown capability 'CAP_NOPE' ignored"]);
    const { plan } = compileSpawn(c.argv, { create: c.create, steps: c.steps, env: c.env, cwd: c.cwd }, new Map([[0, 0], [1, 1], [2, 2]]));
    const names = plan.ops.map((o) => o.op);
    const at = (op: string, from = 0) => names.indexOf(op as never, from);
    expect(at('rlimit')).to.be.below(at('bounding-keep'));
    expect(at('bounding-keep')).to.be.below(at('setgroups', at('pivot-root')));
    expect(at('setuid', at('pivot-root'))).to.be.below(at('capset'));
    expect(at('capset')).to.be.below(at('umask'));
    expect(names.slice(-3)).to.deep.equal(['chdir', 'seccomp', 'exec']);
    const rlimit = plan.ops[at('rlimit')] as { soft: bigint; hard: bigint };
    expect([rlimit.soft, rlimit.hard]).to.deep.equal([1024n, (1n << 64n) - 1n]);
  });

  it('linux.seccomp through a cache directory: the same filter, kept as a file for the next create', () => {
    const seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mount', 'umount2'], action: 'SCMP_ACT_ERRNO' }] } as const;
    const spec = { ...base, linux: { ...base.linux!, seccomp } } as ContainerSpec;
    const dir = mkdtempSync(join(tmpdir(), 'nstools-seccomp-cache-'));
    try {
      const cacheDir = join(dir, '#seccomp');
      const programOf = (c: CompiledContainer) => c.steps.flatMap((s) => s.child ?? []).find((o) => o.op === 'seccomp') as { program: Buffer } | undefined;
      const plain = programOf(compile(spec))!;
      const cached = programOf(compileContainer(spec, { bundle, rootless: false, uid: 1000, gid: 1000, seccompCacheDir: cacheDir }))!;
      expect(Buffer.from(cached.program).equals(Buffer.from(plain.program))).to.equal(true);
      expect(readdirSync(cacheDir)).to.have.length(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing root names root.path', () => {
    const e = caught(() => compile({ ...base, root: { path: 'nope' } }));
    expect(e.code).to.equal('ENOENT');
    expect(e.step).to.equal('root.path');
  });

  it('a bind of a file on a directory inside the root names the mount', () => {
    const e = caught(() => compile({ ...base, mounts: [{ destination: '/etc', type: 'bind', source: '/etc/hostname', options: ['bind'] }] }));
    expect(e.message).to.match(/^mounts\[0\]: cannot mount a file on \/etc, a directory inside the root/);
  });
});
