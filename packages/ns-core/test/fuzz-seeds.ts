/**
 * Seed plans for the decoder fuzzer: what the TypeScript encoder really writes, so mutations
 * start from well-formed plans and reach deep into the decoder. Every ChildOp kind appears at
 * least once, with every exec environment form (inherited, a list, none), joins by handle and
 * by pidfd (soft/retry setns, the time-join fork), fd maps, the largest REPORT_NS, a supervisor,
 * and in-place plans (labels, hints, a helper with every helper op, INFO, the fork in place), a
 * detached supervisor with a terminal and every cleanup word, supervised in place.
 * Used by decode-fuzz.test.ts (npm test) and scripts/fuzz.js (npm run fuzz).
 */
import { compileInPlace, compileSpawn, encodePlan, type ChildOp, type InPlaceOptions, type SpawnOptions, type Step } from '../src/index';
import type { Namespace } from '../src/namespace';

const fakeNs = (kind: Namespace['kind'], fd: number) => ({ kind, fd, id: fd, dev: 0 }) as unknown as Namespace;
const stdio = new Map([[0, 0], [1, 1], [2, 2]]);

/** One op of each kind, in phases where spawn would put them. */
const everyOp: Step = {
  name: 'every-op',
  child: [
    { op: 'mount', target: '/', flags: ['REC', 'PRIVATE'], phase: 'propagation' },
    { op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', flags: ['NOSUID', 'NODEV'], data: 'hidepid=2', phase: 'mounts' },
    { op: 'umount', target: '/mnt', flags: 2, phase: 'mounts' },
    { op: 'mkdir', path: '/tmp/d', mode: 0o700, existOk: true, phase: 'mounts' },
    { op: 'mkfile', path: '/tmp/f', phase: 'mounts' },
    { op: 'symlink', target: '/proc/self/fd', path: '/dev/fd', phase: 'mounts' },
    { op: 'mount-fd', fd: 9, target: '/mnt', flags: ['REC'], phase: 'mounts' },
    { op: 'move-mount', fd: 10, target: '/newroot', phase: 'mounts' },
    { op: 'bind-tree', source: '/usr', target: '/newroot/usr', recursive: true, set: ['RDONLY', 'NOSUID'], clear: ['NOEXEC'], phase: 'mounts' },
    { op: 'bind-tree', source: '/etc/hosts', target: '/newroot/etc/hosts', phase: 'mounts' },
    { op: 'pivot-root', newRoot: '/newroot', phase: 'root' },
    { op: 'chroot', path: '.', phase: 'root' },
    { op: 'fchdir', fd: 7, phase: 'after-root' },
    { op: 'chdir', path: '/', phase: 'after-root' },
    { op: 'sethostname', name: 'box', phase: 'namespaces' },
    { op: 'setdomainname', name: 'example.org', phase: 'namespaces' },
    { op: 'write-file', path: '/proc/self/timens_offsets', data: 'monotonic 10 0', phase: 'namespaces' },
    { op: 'fork', init: true, forward: ['SIGTERM', 'SIGINT'], phase: 'fork' },
    { op: 'setsid', phase: 'fork' },
    { op: 'setgroups', gids: [0, 10, 65534], phase: 'identity' },
    { op: 'setgid', gid: 1000, phase: 'identity' },
    { op: 'setuid', uid: 1000, phase: 'identity' },
    { op: 'capset', effective: 1n << 21n, permitted: 1n << 21n, inheritable: 0n, phase: 'identity' },
    { op: 'ambient-all', phase: 'identity' },
    { op: 'bounding-keep', keep: (1n << 21n) | (1n << 40n), phase: 'identity' },
    { op: 'prctl', option: 38, args: [1], phase: 'final' },
    { op: 'link-up', name: 'lo', phase: 'namespaces' },
    { op: 'rlimit', resource: 7, soft: 1024n, hard: 4096n, phase: 'identity' },
    { op: 'rlimit', resource: 4, soft: (1n << 64n) - 1n, hard: (1n << 64n) - 1n, phase: 'identity' },
    { op: 'umask', mask: 0o027, phase: 'identity' },
    { op: 'console-fd', fd: 5, phase: 'fork' },
    { op: 'leave', phase: 'fork' },
    { op: 'exec-fifo', fd: 5, phase: 'final' },
    { op: 'exec-fifo', fd: 6, ready: 7, phase: 'final' },
    { op: 'mask-path', path: '/proc/kcore', phase: 'after-root' },
    { op: 'readonly-path', path: '/proc/sys', phase: 'after-root' },
    { op: 'mknod', path: '/dev/null', mode: 0o20666, dev: 259n, owner: { uid: 0, gid: 0 }, phase: 'mounts' },
    { op: 'mknod', path: '/dev/fifo', mode: 0o10600, dev: 0n, phase: 'mounts' },
    { op: 'hook-sync', ready: 8, go: 9, callerGo: 30, phase: 'root' },
    { op: 'hook-sync', ready: 8, go: 9, phase: 'root' },
  ],
};

/** What a parent does at the sync point, every kind of data action: in place, the helper's ops. */
const parentData: Step = {
  name: 'parent', create: ['user', 'net'],
  parent: [
    { action: 'write-proc', file: 'setgroups', data: 'deny', step: '--setgroups' },
    { action: 'run', argv: ['newuidmap', '{pid}', '0', '100000', '65536'], step: '--map-users' },
    { action: 'call', step: 'persist net', run: () => undefined, data: { action: 'bind-ns', kind: 'net', file: '/run/x' } },
    { action: 'bind-ns', kind: 'pid', file: '/run/pid' },
  ],
};

const options: [readonly string[], SpawnOptions][] = [
  [['true'], {}],
  [['true'], { env: [] }],
  [['/bin/sh', '-c', 'echo "$X"'], { env: ['X=1', 'PATH=/bin'], cwd: '/tmp', argv0: 'sh' }],
  [['ls', '-l'], { create: ['user', 'mnt', 'uts', 'ipc', 'net', 'pid', 'cgroup', 'time'], steps: [everyOp], killWithParent: 'SIGKILL' }],
  [['id'], { steps: [{ name: 'map', create: ['user'], parent: [{ action: 'write-proc', file: 'uid_map', data: '0 0 1' }] }] }],
  [['hostname'], { join: [fakeNs('user', 5), fakeNs('uts', 6), fakeNs('net', 8), fakeNs('time', 9)] }],
  [['hostname'], { join: [{ pidfd: 11, kinds: ['mnt', 'uts', 'ipc', 'net', 'pid', 'cgroup', 'time'] }] }],
  [['owner'], { steps: [{ name: 'owner', create: ['user', 'mnt'], createInChild: true, child: [
    { op: 'setgid', gid: 1000, phase: 'pre-namespaces' }, { op: 'setuid', uid: 1000, phase: 'pre-namespaces' }] }] }],
  [['sleep', '1'], { create: ['user', 'mnt', 'pid'], supervise: { cleanup: [{ rmdir: '/sys/fs/cgroup/x' }, { unlink: '/run/x' }],
    onExit: ['/bin/true', 'x'] } }],
  // A container's supervisor: detached, a pty relayed, an exit file, every word.
  [['sh'], { create: ['user', 'mnt', 'pid', 'uts'], supervise: { detach: true, session: true, signalAsCode: true, onExitReports: true, exitFile: '/run/x/exit',
    terminal: { input: 0, output: 1, sizeFrom: 0, owner: { uid: 0, gid: 5 } },
    cleanup: [{ userns: 9 }, { rmtree: '/var/lib/x' }, { rmcgroup: '/sys/fs/cgroup/x/y' }, { rmdir: '/sys/fs/cgroup/x' }, { unlink: '/run/x/state' }] } }],
  // A foreground container's end in C: the cgroup's leftovers reported, the state released.
  [['sh'], { create: ['user', 'mnt', 'pid'], supervise: { signalAsCode: true, reportLeftCgroups: 'ns-run',
    cleanup: [{ rmcgroup: '/sys/fs/cgroup/x/payload' }, { unlink: '/run/x/subnets/10.0.0.0' },
      { release: { state: '/run/x/containers/c.json', id: 'ab'.repeat(32), exitFile: `/run/x/containers/c.json.exit.${'ab'.repeat(32)}` } }] } }],
];

const inPlace: [readonly string[], InPlaceOptions][] = [
  [['true'], {}],
  [['sh'], { argv0: '-sh', create: ['uts', 'ipc'], infoFd: 5, statusFd: 6, programName: 'ns-unshare' }],
  [['ls'], { create: ['pid', 'mnt'], steps: [everyOp, parentData], fork: { forward: ['SIGTERM'], ignore: ['SIGINT'] },
    killWithParent: 'SIGKILL', ignoreSignals: ['SIGHUP'], exitCodes: { failure: 125 }, knownNamespaceIds: { net: 4026531840 } }],
  [['hostname'], { join: [{ pidfd: 11, kinds: ['mnt', 'uts', 'pid', 'time'] }], infoFd: 3 }],
  // Supervised in place: the launcher's pid waits outside, its program cloned into the namespaces.
  [['sh'], { create: ['pid', 'uts'], supervise: { exitFile: '/run/x/exit', terminal: { input: 0 }, cleanup: [{ rmtree: '/var/lib/x' }] } }],
  // Its program born in a cgroup (FORK_CGROUP before the supervisor's fork), its cgroup namespace unshared there.
  [['sh'], { create: ['pid', 'cgroup'], supervise: { cgroup: '/sys/fs/cgroup/x/init', cleanup: [{ rmcgroup: '/sys/fs/cgroup/x/init' }] } }],
];

/** Plans as the encoder writes them; `extra` adds raw op lists (for ops compileSpawn never emits alone). */
export function seedPlans(): Buffer[] {
  const plans = options.map(([argv, o]) => encodePlan(compileSpawn(argv, o, stdio).plan));
  for (const [argv, o] of inPlace) plans.push(encodePlan(compileInPlace(argv, o, stdio, 4242).plan));
  const raw: ChildOp[][] = [
    [{ op: 'fd-stash', fd: 4, slot: 63 }, { op: 'fd-place', slot: 63, target: 100 }, { op: 'cloexec-from', fd: 101 }],
    [{ op: 'unshare', kinds: ['time', 'cgroup'] }, { op: 'sync' }, { op: 'report-ns', paths: Array.from({ length: 16 }, (_, i) => `/proc/self/ns/${i}`) }],
    [{ op: 'exec', paths: ['/a', '/b'], argv: ['a'], env: 'inherit' }],
    [{ op: 'console-socket' }, { op: 'terminal', ptmx: '/dev/pts/ptmx', sizeFrom: 2, owner: { uid: 1000, gid: 5 } }, { op: 'terminal', ptmx: '/dev/ptmx' }],
    // A seccomp filter: binary data with NULs inside (ld [4]; ret ALLOW).
    [{ op: 'seccomp', program: Buffer.from('2000000004000000060000000000ff7f', 'hex'), flags: 2, requires: 'no-new-privs' }],
  ];
  for (const ops of raw) plans.push(encodePlan({ cloneKinds: [], fdFloor: 200, ops }));
  return plans;
}

/** Inputs for ns-oci's parsers (native/fuzz_oci.c): a fast file as ns-container's oci/fast.ts writes one (escaped newlines), signals, an id. */
export function ociSeeds(): string[] {
  return [
    'ns-run-oci-fast 1\npid 4242\ninode 17\nhead {\\n  "ociVersion": "1.2.0",\\n  "id": "c1",\\n  "status": "\n'
      + 'tail ,\\n  "bundle": "/b\\\\d"\\n}\nleaf /sys/fs/cgroup/pids/c1\nmade /sys/fs/cgroup/pids/c1\n',
    'TERM', 'SIGKILL', '15', 'my-container_1.2',
  ];
}
