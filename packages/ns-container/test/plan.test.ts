/** What options mean, without running anything: parsers, the identity plan, in-root resolution, filesystem ops. */
import { expect } from 'chai';
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSpawn, type NsError, type PhasedOp } from 'ns-core';
import type { UserContext } from 'ns-user';
import {
  assembleFilesystem, capabilityNames, containerSteps, defaultNetwork, keptCapabilities, parseEnvFile, parsePublish, parseSubnet, planContainer, planIdentity,
  resolveInRoot, subnetAt, DEFAULT_CAPABILITIES, STAGING_CANDIDATES,
} from '../src/index';
import { busyboxRootfs, removeTree, thrown } from 'ns-test-kit';


function context(euid: number, files: Record<string, string>, helpers = true): UserContext {
  return {
    euid, egid: euid, privileged: euid === 0,
    readFile: (path) => {
      if (files[path] !== undefined) return files[path]!;
      throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    },
    findProgram: (name) => (helpers ? `/usr/bin/${name}` : undefined),
  };
}

const ACCOUNTS = { passwd: 'root:x:0:0::/root:/bin/sh\nuser:x:1000:1001::/home/user:/bin/sh\n', group: 'root:x:0:\nstaff:x:50:\n' };
const OWN_MAPS = { '/proc/self/uid_map': '0 0 4294967295\n', '/proc/self/gid_map': '0 0 4294967295\n', '/etc/passwd': 'alice:x:1000:1000::/h:/bin/sh\n' };

describe('plan (no privileges)', () => {
  describe('identity', () => {
    it('maps a range as root, 0:1000000000:65536 unless told otherwise, written by the parent', () => {
      const id = planIdentity({}, ACCOUNTS, context(0, OWN_MAPS));
      expect(id.mode).to.equal('range');
      expect(id.uidMap).to.deep.equal([{ inner: 0, outer: 1000000000, count: 65536, option: '--userns-range', text: '0:1000000000:65536' }]);
      expect(id.userStep.parent).to.deep.include({ action: 'write-proc', file: 'uid_map', data: '0 1000000000 65536\n', step: '--userns-range' });
      expect(id.setgroupsAllowed).to.equal(true);
      const custom = planIdentity({ usernsRange: '0:200000:1000' }, ACCOUNTS, context(0, OWN_MAPS));
      expect(custom.gidMap[0]).to.include({ inner: 0, outer: 200000, count: 1000 });
      const withBlocks = context(0, { ...OWN_MAPS, '/etc/subuid': 'root:200500:10\n', '/etc/subgid': 'alice:200900:100\n' });
      expect(thrown<NsError>(() => planIdentity({ usernsRange: '0:200000:1000' }, ACCOUNTS, withBlocks)).message)
        .to.equal('--userns-range: 0:200000:1000 overlaps the ids /etc/subgid gives alice (200900-200999); choose another range');
    });

    it('refuses a range reaching host id 0 unless --userns=host says so; host maps every id to itself', () => {
      expect(thrown<NsError>(() => planIdentity({ usernsRange: '0:0:65536' }, ACCOUNTS, context(0, OWN_MAPS))).message)
        .to.equal('--userns-range: 0:0:65536 maps host id 0 (container root would be host root); add --userns=host to mean that');
      expect(thrown<NsError>(() => planIdentity({ usernsRange: '1:0:10' }, ACCOUNTS, context(0, OWN_MAPS))).message).to.match(/container id 1 would be host root/);
      const host = planIdentity({ userns: 'host' }, ACCOUNTS, context(0, { ...OWN_MAPS, '/etc/subuid': 'alice:200000:65536\n' }));
      expect(host.usernsMode).to.equal('host');
      expect(host.userStep.parent).to.deep.include({ action: 'write-proc', file: 'uid_map', data: '0 0 4294967295\n', step: '--userns-range' });
      expect(planIdentity({ userns: 'host', usernsRange: '0:0:65536' }, ACCOUNTS, context(0, OWN_MAPS)).uidMap[0]).to.include({ outer: 0, count: 65536 });
      expect(planIdentity({}, ACCOUNTS, context(0, OWN_MAPS))).to.include({ usernsMode: '', autoRange: true });
      expect(planIdentity({ usernsRange: '0:200000:1000' }, ACCOUNTS, context(0, OWN_MAPS)).autoRange).to.equal(false);
      expect(thrown<NsError>(() => planIdentity({ userns: 'host' }, ACCOUNTS, context(1000, OWN_MAPS))).message).to.match(/^--userns=host: only root/);
      expect(thrown<NsError>(() => planIdentity({ userns: 'auto:size=3' }, ACCOUNTS, context(0, OWN_MAPS))).message).to.match(/^--userns: 'auto:size=3' is not/);
    });

    it('uses the caller\'s /etc/subuid block through newuidmap, with the caller as root', () => {
      const ctx = context(1000, { ...OWN_MAPS, '/etc/subuid': 'alice:300000:65536\n', '/etc/subgid': '1000:400000:65536\n' });
      const id = planIdentity({}, ACCOUNTS, ctx);
      expect(id.mode).to.equal('subids');
      expect(id.uidMap).to.deep.equal([{ inner: 0, outer: 1000, count: 1 }, { inner: 1, outer: 300000, count: 65536 }]);
      expect(id.userStep.parent).to.deep.include({ action: 'run', argv: ['newuidmap', '{pid}', '0', '1000', '1', '1', '300000', '65536'], step: 'user namespace (/etc/subuid)' });
      expect(id.userStep.parent).to.deep.include({ action: 'run', argv: ['newgidmap', '{pid}', '0', '1000', '1', '1', '400000', '65536'], step: 'user namespace (/etc/subgid)' });
    });

    it('falls back to the single-id map (setgroups denied) without a block or without the helpers', () => {
      for (const ctx of [context(1000, OWN_MAPS), context(1000, { ...OWN_MAPS, '/etc/subuid': 'alice:300000:65536\n', '/etc/subgid': 'alice:1:2\n' }, false)]) {
        const id = planIdentity({}, ACCOUNTS, ctx);
        expect(id.mode).to.equal('single');
        expect(id.setgroupsAllowed).to.equal(false);
        expect(id.userStep.child).to.deep.include({ op: 'write-file', path: '/proc/self/setgroups', data: 'deny', phase: 'namespaces', step: '--setgroups' });
      }
    });

    it('resolves -u in the container\'s accounts and refuses ids the map lacks', () => {
      expect(planIdentity({ user: 'user' }, ACCOUNTS, context(0, OWN_MAPS))).to.include({ uid: 1000, gid: 1001, home: '/home/user' });
      expect(planIdentity({ user: '1000:staff' }, ACCOUNTS, context(0, OWN_MAPS))).to.include({ uid: 1000, gid: 50 });
      expect(planIdentity({ user: '7' }, ACCOUNTS, context(0, OWN_MAPS))).to.include({ uid: 7, gid: 0, home: '/' });
      expect(thrown<NsError>(() => planIdentity({ user: 'nobody' }, ACCOUNTS, context(0, OWN_MAPS))).message).to.match(/unknown user 'nobody'/);
      expect(thrown<NsError>(() => planIdentity({ user: '1000' }, ACCOUNTS, context(1000, OWN_MAPS))).message).to.match(/--user: 1000: only id 0 is mapped/);
      expect(thrown<NsError>(() => planIdentity({ user: '70000' }, ACCOUNTS, context(0, OWN_MAPS))).message).to.match(/the map covers ids 0-65535/);
      expect(thrown<NsError>(() => planIdentity({ usernsRange: '0:1:2' }, ACCOUNTS, context(1000, OWN_MAPS))).code).to.equal('EUSAGE');
    });
  });

  describe('capabilities', () => {
    it('keeps Docker\'s default set; adds before drops; ALL', () => {
      expect(capabilityNames(keptCapabilities())).to.have.members([...DEFAULT_CAPABILITIES]);
      expect(keptCapabilities().toString(16)).to.equal('a80425fb');
      expect(capabilityNames(keptCapabilities(['cap_net_admin'], ['KILL']))).to.include('NET_ADMIN').and.not.include('KILL');
      expect(keptCapabilities(['ALL'], ['ALL'])).to.equal(0n);
      expect(thrown<NsError>(() => keptCapabilities(['FLY'])).message).to.equal("--cap-add: unknown capability 'FLY'");
    });
  });

  describe('network options', () => {
    it('parses --publish and refuses what it cannot forward', () => {
      expect(parsePublish('8080:80')).to.deep.equal({ hostAddress: '0.0.0.0', hostPort: 8080, containerPort: 80 });
      expect(parsePublish('127.0.0.1:8080:80/tcp')).to.deep.equal({ hostAddress: '127.0.0.1', hostPort: 8080, containerPort: 80 });
      expect(thrown<NsError>(() => parsePublish('53:53/udp')).message).to.match(/only tcp/);
      expect(thrown<NsError>(() => parsePublish('0:80')).message).to.match(/'0' is not a port/);
      expect(thrown<NsError>(() => parsePublish('80')).code).to.equal('EUSAGE');
    });

    it('names a /30 by its network address; the host end gets .1, the container .2', () => {
      expect(subnetAt(parseSubnet('10.231.7.8/30'))).to.deep.equal({ network: '10.231.7.8', host: '10.231.7.9', peer: '10.231.7.10', hostInterface: 'nsr2b9c1c2' });
      expect(thrown<NsError>(() => parseSubnet('10.231.7.9/30')).message).to.match(/not the network address of its \/30 \(10\.231\.7\.8\/30\)/);
      expect(thrown<NsError>(() => parseSubnet('10.231.7.8/29')).message).to.match(/must be a \/30/);
    });

    it('refuses a veth for an ordinary user and ports with the host network', () => {
      expect(thrown<NsError>(() => planContainer(['true'], { network: 'veth' }, context(1000, OWN_MAPS))).message).to.match(/needs root/);
      expect(thrown<NsError>(() => planContainer(['true'], { network: 'host', publish: ['1:2'] }, context(0, OWN_MAPS))).message).to.match(/ports are the host's/);
      expect(planContainer(['true'], {}, context(0, OWN_MAPS)).network).to.equal('veth');
      // Detached, pasta is given the namespaces by links in the state directory, which its end removes.
      const detached = planContainer(['true'], { network: 'pasta', detach: true, name: 'd1', stateDir: '/s' }, context(1000, OWN_MAPS));
      expect(detached.pastaLinks).to.deep.equal(['/s/pasta/d1', '/s/pasta/userns/d1']);
      expect(planContainer(['true'], { network: 'pasta' }, context(1000, OWN_MAPS)).pastaLinks).to.equal(undefined);
      expect(thrown<NsError>(() => planContainer(['true'], { network: 'pasta' }, context(0, OWN_MAPS))).message).to.match(/^--network pasta: for an ordinary user's containers/);
    });

    it('an ordinary user\'s default: pasta where it can run, else none with the reason as a one-line note', () => {
      expect(defaultNetwork(true)).to.deep.equal({ mode: 'veth' });
      expect(defaultNetwork(false, { PATH: '/nonexistent' })).to.deep.equal({ mode: 'none',
        note: 'no egress: pasta (Debian\'s passt package) is not on PATH; the container has lo only' });
      // This test runs as root, who may open /dev/net/tun whatever its mode.
      expect(defaultNetwork(false, { PATH: '/nonexistent:/usr/bin' })).to.deep.equal({ mode: 'pasta' });
      // The step that makes the namespace attaches pasta at the sync point.
      const plan = planContainer(['true'], { network: 'pasta' }, context(1000, OWN_MAPS));
      const steps = containerSteps(plan, []);
      const made = steps.find((s) => (s.create ?? []).includes('net'))!;
      expect((made.parent ?? []).map((a) => a.step)).to.deep.equal(['--network pasta']);
      expect(containerSteps(planContainer(['true'], { network: 'none' }, context(1000, OWN_MAPS)), []).flatMap((s) => s.parent ?? []).map((a) => a.step))
        .to.deep.equal(['loopback']);
    });
  });

  describe('environment', () => {
    it('reads env files as Docker does and lets -e win', () => {
      expect(parseEnvFile('# c\nA=1\n\nB= two words \nC\r\n', 'f')).to.deep.equal(['A=1', 'B= two words ', 'C']);
      expect(thrown<NsError>(() => parseEnvFile('1A=x', 'f')).message).to.match(/--env-file: f: '1A=x'/);
      const plan = planContainer(['true'], { env: ['A=2', 'HOME_COPY', 'UNSET_ONE'], callerEnv: { HOME_COPY: '/h' } }, context(0, OWN_MAPS));
      expect(plan.env).to.deep.equal(['A=2', 'HOME_COPY=/h']);
    });

    it('runs /bin/sh without a program and validates the name', () => {
      expect(planContainer([], {}, context(0, OWN_MAPS)).argv).to.deep.equal(['/bin/sh']);
      expect(planContainer([], {}, context(0, OWN_MAPS)).name).to.match(/^nsr-[0-9a-f]{8}$/);
      expect(thrown<NsError>(() => planContainer([], { name: '-x' }, context(0, OWN_MAPS))).code).to.equal('EUSAGE');
    });
  });

  describe('resolving inside a root (RESOLVE_IN_ROOT)', () => {
    let root: string;
    before(() => {
      root = busyboxRootfs();
      mkdirSync(join(root, 'real'));
      symlinkSync('/etc', join(root, 'abs'));
      symlinkSync('../../../../../tmp', join(root, 'up'));
      symlinkSync('real/../real', join(root, 'rel'));
      symlinkSync('loop', join(root, 'loop'));
      writeFileSync(join(root, 'file'), '');
    });
    after(() => removeTree(root));

    it('follows symlinks as if the root were /, never out of it', () => {
      expect(resolveInRoot(root, '/abs/x', 't')).to.deep.equal({ inside: '/etc/x', existingDepth: 1 });
      expect(resolveInRoot(root, '/up', 't')).to.deep.equal({ inside: '/tmp', existingDepth: 1, kind: 'dir' });
      expect(resolveInRoot(root, '/rel/a/b', 't')).to.deep.equal({ inside: '/real/a/b', existingDepth: 1 });
      expect(resolveInRoot(root, '/../../etc/passwd', 't')).to.deep.equal({ inside: '/etc/passwd', existingDepth: 2, kind: 'file' });
    });

    it('fails on loops, on files used as directories, and on .. below what does not exist', () => {
      expect(thrown<NsError>(() => resolveInRoot(root, '/loop', 't')).code).to.equal('ELOOP');
      expect(thrown<NsError>(() => resolveInRoot(root, '/file/x', 't')).code).to.equal('ENOTDIR');
      expect(thrown<NsError>(() => resolveInRoot(root, '/new/../x', 't')).code).to.equal('EUSAGE');
    });

    it('puts a volume\'s mount point where the symlink leads inside the rootfs', () => {
      const fs = assembleFilesystem({ rootfs: root, volumes: [{ source: '/usr', dest: '/abs/v' }], ownNetwork: true, home: '/root', uid: 0, gid: 0 });
      const ops = fs.steps.flatMap((s) => s.child ?? []) as (PhasedOp & { path?: string; target?: string })[];
      expect(ops).to.deep.include({ op: 'mkdir', path: join(root, 'etc/v'), mode: 0o755, existOk: true, phase: 'mounts', step: '--volume' });
      expect(ops).to.deep.include({ op: 'bind-tree', source: '/usr', target: join(root, 'etc/v'), recursive: true, phase: 'mounts', step: '--volume' });
      expect(ops.filter((o) => o.path?.startsWith('/etc') || o.target?.startsWith('/etc'))).to.deep.equal([]);
    });
  });

  describe('detached trees (idmapped as root)', () => {
    let root: string;
    before(() => { root = busyboxRootfs(); });
    after(() => removeTree(root));
    const hostRoot = { uids: { inner: 0, outer: 1000000000, count: 65536 }, gids: { inner: 0, outer: 1000000000, count: 65536 } };
    const base = { ownNetwork: true, home: '/root', uid: 0, gid: 0, hostRoot };
    const opsOf = (spec: Parameters<typeof assembleFilesystem>[0]) =>
      assembleFilesystem(spec).steps.flatMap((st) => st.child ?? []) as (PhasedOp & { path?: string; target?: string; source?: string; fd?: number; newRoot?: string })[];

    it('attaches the rootfs\'s tree on a staging directory in place of the bind onto itself, and pivots there', () => {
      const ops = opsOf({ ...base, rootfs: root, trees: { rootfs: 100, volumes: [] } });
      const attach = ops.find((o) => o.op === 'move-mount')!;
      expect(attach).to.include({ fd: 100, step: '--rootfs', phase: 'mounts' });
      expect(STAGING_CANDIDATES).to.include(attach.target);
      expect(ops.filter((o) => (o.op === 'mount' || o.op === 'bind-tree') && (o.source === root || o.source === attach.target))).to.deep.equal([]);
      expect(ops).to.deep.include({ op: 'pivot-root', newRoot: attach.target, phase: 'root', step: '--rootfs' });
      // Mount points are made below the attached root, never in the rootfs's host path.
      expect(ops.filter((o) => (o.op === 'mkdir' || o.op === 'mkfile') && !o.path!.startsWith(`${attach.target}/`))).to.deep.equal([]);
    });

    it('attaches a volume\'s tree, even from a directory the container\'s root could not search', () => {
      const closed = mkdtempSync(`/tmp/ns-run-test-${process.pid}-closed-`); // 0700
      try {
        mkdirSync(join(closed, 'v'));
        const ops = opsOf({ ...base, rootfs: root, volumes: [{ source: join(closed, 'v'), dest: '/new/v' }], trees: { rootfs: 100, volumes: [101] } });
        const staging = ops.find((o) => o.op === 'move-mount')!.target!;
        expect(ops).to.deep.include({ op: 'move-mount', fd: 101, target: join(staging, 'new/v'), phase: 'mounts', step: '--volume' });
        expect(ops).to.deep.include({ op: 'mkdir', path: join(staging, 'new'), mode: 0o755, existOk: true, phase: 'mounts', step: '--volume' });
        // Without a tree, the child would bind it by path as host uid 1000000000: refused up front.
        expect(thrown<NsError>(() => opsOf({ ...base, rootfs: root, volumes: [{ source: join(closed, 'v'), dest: '/new/v' }] })).code).to.equal('EACCES');
      } finally {
        removeTree(closed);
      }
    });

    it('makes a missing working directory inside the root, but not in a read-only one or below a volume', () => {
      const mkdirs = (spec: Partial<Parameters<typeof assembleFilesystem>[0]>) => opsOf({ ...base, rootfs: root, trees: { rootfs: 100, volumes: [] }, ...spec })
        .filter((o) => o.op === 'mkdir' && o.step === '--workdir').map((o) => o.path!.replace(/^\/[a-z/]+?(?=\/srv|\/etc)/, ''));
      expect(mkdirs({ workdir: '/srv/app' })).to.deep.equal(['/srv', '/srv/app']);
      expect(mkdirs({ workdir: '/etc' })).to.deep.equal([]);
      expect(mkdirs({ workdir: '/srv/app', readOnly: true })).to.deep.equal([]);
      expect(mkdirs({ workdir: '/srv/app', tmpfs: ['/srv'] })).to.deep.equal([]);
    });
  });

  describe('the embedded default root', () => {
    const spec = { ownNetwork: true, home: '/root', uid: 0, gid: 0 };
    const opsOf = (extra = {}) => assembleFilesystem({ ...spec, ...extra }).steps.flatMap((s) => s.child ?? []) as (PhasedOp & { path?: string; target?: string; source?: string })[];

    it('creates nothing outside the staging tmpfs, and pivots into it', () => {
      const ops = opsOf();
      const staging = ops[1]!.target!;
      expect(STAGING_CANDIDATES).to.include(staging);
      expect(ops[1]).to.include({ op: 'mount', source: 'tmpfs', target: staging, fstype: 'tmpfs' });
      for (const op of ops.filter((o) => o.op === 'mkdir' || o.op === 'mkfile' || o.op === 'symlink')) {
        expect(op.path!.startsWith(`${staging}/`), JSON.stringify(op)).to.equal(true);
      }
      expect(ops).to.deep.include({ op: 'pivot-root', newRoot: staging, phase: 'root', step: 'rootfs' });
      // Every host entry is bound read-only with every mount below it (a detached clone made
      // read-only before it is attached). (ns-mount's minimal /dev binds a few device nodes as they are.)
      const binds = ops.filter((o) => o.op === 'bind-tree') as (PhasedOp & { op: 'bind-tree' })[];
      expect(binds.map((b) => b.source)).to.include.members(['/usr', '/etc']);
      for (const b of binds) expect([b.recursive, b.set?.includes('RDONLY')], JSON.stringify(b)).to.deep.equal([true, true]);
      expect(ops.filter((o) => o.op === 'mount' && o.source?.startsWith('/') && !o.source.startsWith('/dev/'))).to.deep.equal([]);
      expect(binds.map((b) => b.source)).to.not.include.members(['/proc', '/tmp', '/root']);
    });

    it('stages elsewhere when a volume comes from the first candidate, and refuses new paths in the host tree', () => {
      const ops = opsOf({ volumes: [{ source: '/tmp', dest: '/data' }] });
      expect(ops[1]!.target).to.equal('/run');
      expect(thrown<NsError>(() => opsOf({ volumes: [{ source: '/usr', dest: '/usr/nonexistent-dir-xyz' }] })).message)
        .to.match(/does not exist, and \/usr is part of the host's read-only tree/);
      expect(thrown<NsError>(() => opsOf({ volumes: [{ source: '/usr', dest: '/proc/x' }] })).message).to.match(/leads into \/proc/);
    });

    it('refuses a volume source the container\'s root could not reach', () => {
      const dir = mkdtempSync(`/tmp/ns-run-test-${process.pid}-private-`);
      try {
        mkdirSync(join(dir, 'inner'));
        const hostRoot = { uids: { inner: 0, outer: 1000000000, count: 65536 }, gids: { inner: 0, outer: 1000000000, count: 65536 } };
        const e = thrown<NsError>(() => opsOf({ volumes: [{ source: join(dir, 'inner'), dest: '/x' }], hostRoot }));
        expect(e.code).to.equal('EACCES');
        expect(e.message).to.include(`host uid 1000000000) may not search ${dir} (mode 0700)`);
        chmodSync(dir, 0o711);
        // (Its source is under /tmp, so the root is staged in /run.)
        expect(opsOf({ volumes: [{ source: join(dir, 'inner'), dest: '/x' }], hostRoot })).to.deep.include(
          { op: 'bind-tree', source: join(dir, 'inner'), target: '/run/x', recursive: true, phase: 'mounts', step: '--volume' });
      } finally {
        removeTree(dir);
      }
    });
  });

  describe('the whole plan', () => {
    let wholeRoot: string;
    before(() => { wholeRoot = busyboxRootfs(); });
    after(() => removeTree(wholeRoot));
    it('makes every namespace, an init, and drops privileges last, in kernel order', () => {
      const plan = planContainer(['true'], { network: 'none', rootfs: wholeRoot, memory: '64M' }, context(0, OWN_MAPS));
      expect(plan.kinds).to.deep.equal(['user', 'mnt', 'uts', 'ipc', 'net', 'pid', 'cgroup']);
      const fs = assembleFilesystem(plan.filesystem);
      const cgroup = { step: { name: 'cg', parent: [] }, makeStep: { name: 'cg', parent: [] }, initOps: [], programOps: [{ op: 'unshare' as const, kinds: ['cgroup' as const], phase: 'propagation' as const, step: 'cg' }], payload: [], all: [], leftovers: [] };
      const { plan: exec, created } = compileSpawn(plan.argv, { steps: containerSteps(plan, fs.steps, undefined, cgroup), killWithParent: 'SIGKILL' }, new Map());
      expect(created).to.deep.equal(['user', 'mnt', 'uts', 'ipc', 'net', 'pid']);
      const names = exec.ops.map((o) => (o.op === 'prctl' ? `prctl${o.option}` : o.op));
      const at = (name: string, from = 0) => names.indexOf(name, from);
      // PDEATHSIG first; not dumpable and root inside once the parent wrote the maps (sync);
      // PDEATHSIG again (a uid change cleared it); the fork before the filesystem, then the
      // program's cgroup namespace; ids, capabilities and no_new_privs last.
      expect(names[0]).to.equal('prctl1');
      expect(at('sync')).to.be.lessThan(at('prctl4'));
      expect(at('prctl4')).to.be.lessThan(at('setuid'));
      expect(at('setuid')).to.be.lessThan(at('prctl1', 1));
      expect(at('fork')).to.be.lessThan(at('unshare'));
      expect(at('unshare')).to.be.lessThan(at('pivot-root'));
      expect(at('pivot-root')).to.be.lessThan(at('bounding-keep'));
      expect(at('bounding-keep')).to.be.lessThan(at('setuid', at('bounding-keep')));
      // The default seccomp filter last of all, right before execve, once no_new_privs is set.
      expect(names.slice(-2)).to.deep.equal(['seccomp', 'exec']);
      expect(at('capset')).to.be.lessThan(at('prctl38'));
      expect(at('prctl38')).to.be.lessThan(at('seccomp'));
      // docker's read-only and masked paths, in the new root.
      expect(at('pivot-root')).to.be.lessThan(at('readonly-path'));
      expect(exec.ops.filter((o) => o.op === 'mask-path').map((o) => (o as { path: string }).path)).to.include.members(['/proc/keys', '/sys/firmware']);
      const unconfined = planContainer(['true'], { network: 'none', rootfs: wholeRoot, securityOpts: ['seccomp=unconfined'] }, context(0, OWN_MAPS));
      expect(unconfined.seccomp).to.equal(undefined);
      expect(exec.ops.find((o) => o.op === 'fork')).to.include({ init: true });
      expect(exec.ops.find((o) => o.op === 'bounding-keep')).to.deep.include({ keep: 0xa80425fbn });
      expect(plan.limits).to.deep.equal({ memory: '64M' });
      expect(thrown<NsError>(() => planContainer(['true'], { memory: 'lots' }, context(0, OWN_MAPS))).message).to.match(/--memory: 'lots' is not a size/);
    });
  });
});
