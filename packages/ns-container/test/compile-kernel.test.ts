/**
 * The container compiler in the real kernel, checked from outside: the same bundle (runc's own
 * `runc spec`, on a busybox root) run by runc and by spawn() of the compiled plan, a probe
 * inside printing what the container is (ids, capabilities, limits, masked and read-only
 * paths, mounts, devices, seccomp), and the two outputs compared. Then what runc's default
 * leaves out: a user namespace with a range map, and seccomp.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultSeccompProfile, spawn } from 'ns-core';
import { busyboxRootfs, programOutput, rejected } from 'ns-test-kit';
import { compileContainer, openJoins, type ContainerSpec } from '../src/index';

/** What a container is, as a program inside sees it; one fact a line. */
const PROBE = [
  'echo "ids $(id -u) $(id -g) $(id -G)"',
  'echo "host $(hostname)"',
  'grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status',
  'echo "nofile $(ulimit -Sn) $(ulimit -Hn)"',
  'echo "umask $(umask)"',
  'echo "cwd $(pwd)"',
  'for f in /proc/kcore /proc/timer_list /proc/keys /proc/sched_debug; do test -e $f && echo "masked $f $(cat $f 2>&1 | wc -c)"; done',
  'for d in /proc/acpi /sys/firmware /proc/scsi; do test -d $d && echo "masked $d $(ls -A $d | wc -l)"; done',
  'for p in /proc/sys /proc/bus /proc/sysrq-trigger; do test -e $p && (echo 1 > $p/x 2>/dev/null; touch $p 2>/dev/null) ; awk -v p=$p \'$2==p {split($4,o,","); print "ro-path", p, o[1]}\' /proc/mounts; done',
  // On a hybrid host runc makes /sys/fs/cgroup a tmpfs of its own with the container's cgroup of each
  // hierarchy bound in; ns-run-oci binds the host's hierarchies read-only (a difference, left out here).
  'awk \'$2 !~ "^/sys/fs/cgroup" {split($4,o,","); print "mount", $2, $3, o[1]}\' /proc/mounts | sort',
  'ls -A /dev | sort | tr "\\n" " "; echo',
  'echo "fd $(readlink /dev/fd) ptmx $(readlink /dev/ptmx)"',
  'echo "null $(stat -c %t:%T /dev/null) write $(echo x > /dev/null && echo ok)"',
  'echo "pid $$"',
].join('\n');

function runcSpec(bundle: string): ContainerSpec & Record<string, unknown> {
  rmSync(join(bundle, 'config.json'), { force: true });
  execFileSync('runc', ['spec', '--bundle', bundle]);
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  return { ...spec, hostname: 'probe-box', process: { ...spec.process, terminal: false, args: ['sh', '-c', PROBE] } };
}


async function runCompiled(spec: ContainerSpec, bundle: string): Promise<{ out: string; code: number | null; warnings: readonly string[] }> {
  const compiled = compileContainer(spec, { bundle, rootless: process.geteuid!() !== 0 });
  const join = openJoins(compiled);
  try {
    const child = await spawn(compiled.argv, {
      create: compiled.create, join, steps: compiled.steps, env: compiled.env, cwd: compiled.cwd, stdio: ['ignore', 'pipe', 'inherit'],
    });
    return { ...(await programOutput(child)), warnings: compiled.warnings };
  } finally {
    for (const ns of join) ns.close();
  }
}

function runRunc(bundle: string, spec: ContainerSpec, id: string): { out: string; code: number | null } {
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  const root = join(bundle, 'runc-state');
  const r = spawnSync('runc', ['--root', root, 'run', '--bundle', bundle, id], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`runc run failed: ${r.stderr}`);
  return { out: r.stdout, code: r.status };
}

const lines = (out: string) => out.trim().split('\n');

describe('compileContainer in the kernel (differential against runc)', function () {
  this.timeout(60000);
  let bundle: string;
  before(() => {
    bundle = mkdtempSync(`/tmp/nstools-test-${process.pid}-bundle-`);
    busyboxRootfs({ dir: join(bundle, 'rootfs') });
    // The container's root in a range map is another host user, who must reach the root to bind it.
    chmodSync(bundle, 0o755);
  });
  after(() => rmSync(bundle, { recursive: true, force: true }));

  it('runc spec\'s default container: the same ids, capabilities, limits, masked and read-only paths, mounts and devices as runc', async () => {
    const spec = runcSpec(bundle);
    const ours = await runCompiled(spec, bundle);
    const theirs = runRunc(bundle, spec, `nstools-probe-${process.pid}`);
    expect(ours.code).to.equal(0);
    // runc's cgroup mounts on a hybrid host are its own tmpfs of per-controller binds: left out of the mount lines above.
    expect(lines(ours.out)).to.deep.equal(lines(theirs.out));
    expect(lines(ours.out)).to.include.members([
      'ids 0 0 0', 'host probe-box', 'CapEff:\t0000000020000420', 'CapBnd:\t0000000020000420', 'nofile 1024 1024', 'NoNewPrivs:\t1',
      'masked /sys/firmware 0', 'ro-path /proc/sys ro', 'pid 1',
    ]);
    expect(ours.warnings.join('\n')).to.match(/ambient: KILL, NET_BIND_SERVICE, AUDIT_WRITE not raised/);
  });

  it('a user namespace with a range map, another user with groups, a umask, inheritable+ambient caps and podman\'s seccomp profile: the same as runc', async () => {
    const base = runcSpec(bundle);
    const caps = ['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_CHOWN'];
    const spec: ContainerSpec = {
      ...base,
      process: {
        ...base.process!, user: { uid: 1000, gid: 1000, additionalGids: [10, 20], umask: 0o027 }, cwd: '/tmp',
        capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: caps, ambient: ['CAP_KILL'] },
        rlimits: [{ type: 'RLIMIT_NOFILE', soft: 100, hard: 200 }], noNewPrivileges: true,
      },
      linux: {
        ...base.linux!, namespaces: [...base.linux!.namespaces!, { type: 'user' }],
        uidMappings: [{ containerID: 0, hostID: 231072, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 231072, size: 65536 }],
        seccomp: defaultSeccompProfile() as NonNullable<ContainerSpec['linux']>['seccomp'],
      },
    };
    const ours = await runCompiled(spec, bundle);
    const theirs = runRunc(bundle, spec, `nstools-probe-userns-${process.pid}`);
    expect(ours.code).to.equal(0);
    expect(lines(ours.out)).to.deep.equal(lines(theirs.out));
    expect(lines(ours.out)).to.include.members([
      'ids 1000 1000 1000 10 20', 'umask 0027', 'cwd /tmp', 'nofile 100 200', 'CapAmb:\t0000000000000020', 'Seccomp:\t2',
    ]);
  });

  it('a failing bind source names the field; nothing runs', async () => {
    const base = runcSpec(bundle);
    const spec: ContainerSpec = { ...base, mounts: [...base.mounts!, { destination: '/data', type: 'bind', source: '/no/such/dir', options: ['rbind'] }] };
    expect(await rejected(() => runCompiled(spec, bundle))).to.include({ code: 'ENOENT', step: 'mounts[7].source' });
  });

  it('a file bind on a missing destination creates it inside the root, and the host rootfs is left as it was', async () => {
    const base = runcSpec(bundle);
    const file = join(bundle, 'hello.txt');
    writeFileSync(file, 'hello from the host\n');
    const spec: ContainerSpec = {
      ...base, process: { ...base.process!, args: ['cat', '/etc/new/hello.txt'] },
      mounts: [...base.mounts!, { destination: '/etc/new/hello.txt', type: 'bind', source: 'hello.txt', options: ['bind', 'ro'] }],
    };
    const ours = await runCompiled(spec, bundle);
    expect(ours.out).to.equal('hello from the host\n');
    // Created in the rootfs (as runc creates mount points), never outside it.
    expect(statSync(join(bundle, 'rootfs/etc/new/hello.txt')).isFile()).to.equal(true);
  });
});
