/**
 * Every unshare option's effect as the program sees it: ids and maps, setgroups, capabilities,
 * root and working directory, proc, propagation, time offsets, hostname, cgroup root, links.
 * Each row runs util-linux and ns-unshare with the same arguments and compares what a probe
 * script prints, the exit status and whether stderr is empty. Where util-linux 2.38.1 lacks an
 * option or has a known bug, `theirs` runs the documented equivalent instead (the oracle) and
 * the row says why.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { expect } from 'chai';
import { bothAsync, bin, inParallel, runAsync, type Ran } from './cli';
import { Scratch } from './fixtures';
import { STATE_PROBE } from './ns';

interface Row {
  readonly name: string;
  /** Options for both tools (and for ns-unshare when `theirs` is given). */
  readonly args: readonly string[];
  /** A shell script run as the program; what it prints is compared. */
  readonly probe: string;
  /** util-linux's arguments when they must differ (an oracle for a newer option), with why. */
  readonly theirs?: readonly string[];
  readonly why?: string;
  /** Masks what legitimately differs between two runs (times, pids). */
  readonly normalize?: (stdout: string) => string;
  /** Something the output must contain, so a row cannot pass by both tools printing nothing useful. */
  readonly mustShow: RegExp;
}

const IDS = 'cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id';
const CAPS = 'grep ^Cap /proc/self/status';
const maskPsTimes = (s: string) => s.replace(/\d\d:\d\d(:\d\d)?/g, 'T').replace(/[A-Z][a-z]{2}\d\d/g, 'D');

function rows(scratch: Scratch, shared: string): Row[] {
  const procDir = scratch.path('proc');
  return [
    // ---- user namespace: maps, setgroups, ids, capabilities
    { name: '-U', args: ['-U'], probe: IDS, mustShow: /setgroups|allow/ },
    { name: '--user', args: ['--user'], probe: IDS, mustShow: /allow/ },
    { name: '-r', args: ['-r'], probe: IDS, mustShow: /^\s+0\s+0\s+1$/m },
    { name: '--map-root-user', args: ['--map-root-user'], probe: IDS, mustShow: /deny/ },
    { name: '-c', args: ['-c'], probe: IDS, mustShow: /deny/ },
    { name: '--map-current-user', args: ['--map-current-user'], probe: IDS, mustShow: /uid=0/ },
    { name: '--map-user=5 --map-group=7', args: ['--map-user=5', '--map-group=7'], probe: IDS, mustShow: /uid=5.*gid=7/ },
    { name: '--map-user 5 --map-group 7', args: ['--map-user', '5', '--map-group', '7'], probe: IDS, mustShow: /uid=5.*gid=7/ },
    { name: '--map-user=games --map-group=lp (names)', args: ['--map-user=games', '--map-group=lp'], probe: IDS, mustShow: /uid=5\(games\)/ },
    { name: '--map-user=3 alone', args: ['--map-user=3'], probe: IDS, mustShow: /uid=3/ },
    { name: '--map-group=9 alone', args: ['--map-group=9'], probe: IDS, mustShow: /gid=9/ },
    { name: '-U --setgroups deny', args: ['-U', '--setgroups', 'deny'], probe: IDS, mustShow: /deny/ },
    { name: '-U --setgroups=allow', args: ['-U', '--setgroups=allow'], probe: IDS, mustShow: /allow/ },
    {
      name: '-r --setgroups deny', args: ['-r', '--setgroups', 'deny'], theirs: ['-r'], probe: IDS, mustShow: /deny/,
      why: 'util-linux 2.38.1 writes "deny" a second time after gid_map and fails with EPERM; -r already means deny',
    },
    { name: '-r --keep-caps', args: ['-r', '--keep-caps'], probe: CAPS, mustShow: /CapAmb:\s+0*1f/ },
    { name: '-U --keep-caps', args: ['-U', '--keep-caps'], probe: CAPS, mustShow: /CapAmb/ },
    { name: '-r without --keep-caps', args: ['-r'], probe: CAPS, mustShow: /CapAmb:\s+0+$/m },
    { name: '-S 5 -G 7 (no user namespace)', args: ['-S', '5', '-G', '7'], probe: 'id; grep ^Groups /proc/self/status', mustShow: /uid=5.*gid=7/ },
    { name: '--setuid=5 --setgid=7', args: ['--setuid=5', '--setgid=7'], probe: 'id', mustShow: /uid=5/ },
    { name: '-S5 -G7 (attached)', args: ['-S5', '-G7'], probe: 'id', mustShow: /uid=5/ },
    { name: '--map-user=0 --map-group=0 -S 0', args: ['--map-user=0', '--map-group=0', '-S', '0'], probe: IDS, mustShow: /uid=0/ },
    {
      name: '-r -G 0', args: ['-r', '-G', '0'], theirs: ['-r'], probe: 'id -u; id -g', mustShow: /^0\n0$/,
      why: 'util-linux calls setgroups(0) after setgroups was denied and fails with EPERM; the intent (-G: this gid) needs no list to drop',
    },
    // ---- what the program inherits: environment, signal dispositions, limits, process group
    { name: 'process state (-U)', args: ['-U'], probe: STATE_PROBE, mustShow: /SigIgn:\s+0+\n/ },
    { name: 'process state (-f)', args: ['-f'], probe: STATE_PROBE, mustShow: /SigBlk:\s+0+\n/ },
    // ---- root, working directory
    { name: '-R / -w /etc', args: ['-R', '/', '-w', '/etc'], probe: 'pwd', mustShow: /^\/etc$/ },
    { name: '--root=/ --wd=/etc', args: ['--root=/', '--wd=/etc'], probe: 'pwd', mustShow: /^\/etc$/ },
    { name: '-R/ -w/usr (attached)', args: ['-R/', '-w/usr'], probe: 'pwd', mustShow: /^\/usr$/ },
    { name: '-R / (cwd becomes /)', args: ['-R', '/'], probe: 'pwd', mustShow: /^\/$/ },
    { name: '-w /etc', args: ['-w', '/etc'], probe: 'pwd', mustShow: /^\/etc$/ },
    { name: '--wd /usr', args: ['--wd', '/usr'], probe: 'pwd', mustShow: /^\/usr$/ },
    { name: '-m -w /etc', args: ['-m', '-w', '/etc'], probe: 'pwd', mustShow: /^\/etc$/ },
    { name: '-m -R / -w /etc', args: ['-m', '-R', '/', '-w', '/etc'], probe: 'pwd', mustShow: /^\/etc$/ },
    { name: '-w relative (lib, from /usr)', args: ['-w', 'lib'], probe: 'pwd', mustShow: /^\/usr\/lib$/ },
    // ---- proc
    {
      name: '--mount-proc -pf', args: ['--mount-proc', '-pf'],
      probe: 'grep " /proc " /proc/self/mountinfo | cut -d" " -f5-; ps -o pid=,comm= -e',
      normalize: (s) => s.replace(/^\s*\d+ ps$/m, 'N ps'), mustShow: /^\s*1 sh\n\s*\d+ ps$/m,
    },
    {
      name: '--mount-proc (no pid namespace)', args: ['--mount-proc'],
      probe: 'grep " /proc " /proc/self/mountinfo | tail -1 | cut -d" " -f5-', mustShow: /proc/,
    },
    {
      name: `--mount-proc=DIR -pf`, args: [`--mount-proc=${procDir}`, '-pf'],
      // PID 1 of the proc mounted at DIR is the program: it belongs to the new pid namespace.
      probe: `grep " ${procDir} " /proc/self/mountinfo | cut -d" " -f5-; cat ${procDir}/1/comm`, mustShow: /- proc proc rw\nsh$/,
    },
    {
      name: 'README: --user --map-root-user --pid --fork --mount-proc ps -ef', args: ['--user', '--map-root-user', '--pid', '--fork', '--mount-proc'],
      probe: 'ps -ef', normalize: maskPsTimes, mustShow: /^root\s+1\s+0 .* sh -c ps -ef$/m,
    },
    // ---- mount propagation, seen on a shared directory of the host's
    ...(['shared', 'slave', 'private', 'unchanged'] as const).map((mode): Row => ({
      name: `-m --propagation ${mode}`, args: ['-m', '--propagation', mode],
      probe: `grep " ${shared} " /proc/self/mountinfo | cut -d" " -f5-`, mustShow: new RegExp(shared),
    })),
    { name: '-m (default propagation)', args: ['-m'], probe: `grep " ${shared} " /proc/self/mountinfo | cut -d" " -f5-`, mustShow: new RegExp(shared) },
    { name: '--propagation=slave --mount', args: ['--propagation=slave', '--mount'], probe: `grep " ${shared} " /proc/self/mountinfo | cut -d" " -f5-`, mustShow: /master:/ },
    // ---- time
    { name: '-T --monotonic 100 --boottime 200', args: ['-T', '--monotonic', '100', '--boottime', '200'], probe: 'cat /proc/self/timens_offsets', mustShow: /monotonic\s+100/ },
    { name: '--time --monotonic=-5', args: ['--time', '--monotonic=-5'], probe: 'cat /proc/self/timens_offsets', mustShow: /monotonic\s+-5/ },
    { name: '-T --boottime=86400 (uptime)', args: ['-T', '--boottime=86400'], probe: 'cut -d" " -f1 /proc/uptime | cut -d. -f1 | awk "{ print (\\$1 >= 86400) }"', mustShow: /^1$/ },
    // ---- uts, cgroup, net, ipc
    { name: '-u (hostname copied)', args: ['-u'], probe: 'hostname', mustShow: new RegExp(`^${hostname()}$`) },
    { name: '-u, hostname changed inside', args: ['-u'], probe: 'hostname e2e-inside && hostname', mustShow: /^e2e-inside$/ },
    { name: '-C (cgroup root)', args: ['-C'], probe: 'cat /proc/self/cgroup', mustShow: /^0::\/$/m },
    // ip(8), not /sys/class/net: sysfs shows the network namespace of whoever mounted it.
    { name: '-n (only lo, down)', args: ['-n'], probe: 'ip -o link', mustShow: /^1: lo: <LOOPBACK> .* state DOWN/ },
    { name: '-i (no System V objects)', args: ['-i'], probe: 'ipcs -m | tail -n +4 | grep -c . || true', mustShow: /^0$/ },
    // ---- beyond util-linux: checked against util-linux doing the same by hand
    {
      name: '--hostname NAME', args: ['--hostname', 'e2e-box'], theirs: ['-u', 'sh', '-c', 'hostname e2e-box && exec "$0" "$@"'],
      probe: 'hostname', mustShow: /^e2e-box$/,
      why: '--hostname is ours: util-linux with -u and hostname(1) first',
    },
    {
      name: '--loopback', args: ['--loopback'], theirs: ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"'],
      probe: 'ip -o link; ip -o addr', mustShow: /^1: lo: <LOOPBACK,UP,LOWER_UP> [^]*inet 127\.0\.0\.1\/8/,
      why: '--loopback is ours: util-linux with -n and ip link set lo up',
    },
    {
      name: '-n --loopback', args: ['-n', '--loopback'], theirs: ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"'],
      probe: 'ip -o link', mustShow: /^1: lo: <LOOPBACK,UP,LOWER_UP>/, why: '--loopback is ours',
    },
    {
      name: '--clear-env', args: ['--clear-env'], theirs: ['env', '-i', '/bin/sh', '-c', 'exec "$0" "$@"'],
      probe: 'env | grep -v -e "^PWD=" -e "^SHLVL=" -e "^_="; true', mustShow: /^$/,
      why: '--clear-env is util-linux 2.43: the same as env -i',
    },
    {
      name: '--whitelist-env=HOME,E2E_KEEP', args: ['--whitelist-env=HOME,E2E_KEEP'],
      theirs: ['env', '-i', 'HOME=/root', 'E2E_KEEP=kept', '/bin/sh', '-c', 'exec "$0" "$@"'],
      probe: 'env | grep -v -e "^PWD=" -e "^SHLVL=" -e "^_=" | sort', mustShow: /^E2E_KEEP=kept\nHOME=\/root$/,
      why: '--whitelist-env is util-linux 2.43: env -i with the kept variables',
    },
    {
      name: '--whitelist-env E2E_KEEP (separate argument)', args: ['--whitelist-env', 'E2E_KEEP'],
      theirs: ['env', '-i', 'E2E_KEEP=kept', '/bin/sh', '-c', 'exec "$0" "$@"'],
      probe: 'env | grep -v -e "^PWD=" -e "^SHLVL=" -e "^_=" | sort', mustShow: /^E2E_KEEP=kept$/, why: '--whitelist-env is util-linux 2.43',
    },
  ];
}

describe('unshare vs ns-unshare: what each option does', () => {
  let scratch: Scratch;
  let shared: string;
  let table: Row[];
  let results: { theirs: Ran; ours: Ran }[];

  before(async () => {
    scratch = new Scratch('opts');
    shared = scratch.sharedDir('shared');
    mkdirSync(scratch.path('proc'));
    table = rows(scratch, shared);
    const env = { ...process.env, HOME: '/root', E2E_KEEP: 'kept', E2E_DROP: 'dropped' };
    results = await inParallel(table.map((row) => async () => {
      const cwd = row.args.includes('lib') ? '/usr' : '/tmp';
      if (!row.theirs) return bothAsync('unshare', [...row.args, 'sh', '-c', row.probe], { cwd, env });
      const [theirs, ours] = await Promise.all([
        runAsync(['unshare', ...row.theirs, 'sh', '-c', row.probe], { cwd, env }),
        runAsync([bin('ns-unshare'), ...row.args, 'sh', '-c', row.probe], { cwd, env }),
      ]);
      return { theirs, ours };
    }));
  });

  after(() => {
    scratch?.remove();
  });

  // Rows are built in before(); a placeholder list gives mocha their names up front.
  const names = rows({ path: (n: string) => `/tmp/SCRATCH/${n}` } as Scratch, '/tmp/SCRATCH/shared').map((r) => r.name);
  names.forEach((name, i) => {
    it(name, () => {
      const row = table[i]!;
      const { theirs, ours } = results[i]!;
      const norm = row.normalize ?? ((s: string) => s);
      expect(theirs.stderr, `unshare ${row.theirs ?? row.args} stderr`).to.equal('');
      expect(theirs.status, 'unshare status').to.equal(0);
      expect(theirs.stdout.replace(/\n$/, ''), 'unshare output').to.match(row.mustShow);
      expect(ours.stderr, 'ns-unshare stderr').to.equal('');
      expect(norm(ours.stdout), 'ns-unshare output').to.equal(norm(theirs.stdout));
      expect(ours.status, 'ns-unshare status').to.equal(theirs.status);
    });
  });

  it('the shared directory really is shared, so the propagation rows can tell modes apart', () => {
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).to.match(new RegExp(` ${shared} .* shared:\\d+ `));
  });
});
