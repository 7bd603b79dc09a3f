/**
 * nsenter vs ns-enter against running targets: which namespaces the program ends up in
 * (compared with the target's from outside), ids, root and working directory, and the options
 * util-linux 2.38.1 lacks, checked against what they are documented to do.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import { Namespace, sys } from 'ns-core';
import { bin, bothAsync, expectOneLineError, inParallel, runAsync, type Ran } from './cli';
import { NOBODY, Target, asUser } from './fixtures';
import { NS_ENTRIES, NS_PROBE, STATE_PROBE, differing, nsLinks, parseNsProbe, type NsEntry, type NsLinks } from './ns';

type TargetName = 'user' | 'root' | 'plain' | 'ids' | 'ours' | 'bwrap';

/**
 * The probe prints ids, hostname, cwd, then the namespace links (find exec'd: one process) if
 * /proc shows it: a target's proc of another pid namespace has no /proc/self for us. `2>&-`
 * rather than /dev/null, which bubblewrap's sandbox lacks.
 */
const PROBE = ['sh', '-c', 'echo "$(id -u) $(id -g) $(id -G)"; hostname; pwd; test -e /proc/self/ns && exec find /proc/self/ns -mindepth 1 -printf "%f %l\\n" 2>&-; true'];

interface Row {
  readonly name: string;
  readonly target: TargetName;
  /** Arguments; PID stands for the target's pid. */
  readonly args: readonly string[];
  /** Entries of /proc/self/ns that must be the target's (all others stay ours). */
  readonly entered: readonly NsEntry[];
  /** The first lines (ids, hostname, cwd) as expected. */
  readonly expect: RegExp;
  /** Run from this directory (default /tmp). */
  readonly cwd?: string;
  /** A mount namespace entered without its pid namespace: its /proc cannot show the program. */
  readonly procHidden?: boolean;
  /** util-linux's arguments when 2.38.1 lacks the option (an oracle), with why. */
  readonly theirs?: readonly string[] | 'none';
  readonly why?: string;
}

const ALL: NsEntry[] = [...NS_ENTRIES];
const ALL_BUT_TIME: NsEntry[] = NS_ENTRIES.filter((e) => e !== 'time' && e !== 'time_for_children');

const ROWS: Row[] = [
  // A target in its own user namespace (root mapped to root), with every other kind new too.
  { name: '-a', target: 'user', args: ['-t', 'PID', '-a'], entered: ALL, expect: /^0 0 0\ntarget-user\n\/\n/ },
  { name: '--target PID --all', target: 'user', args: ['--target', 'PID', '--all'], entered: ALL, expect: /^0 0 0\ntarget-user\n/ },
  { name: '-a, target in the initial time namespace', target: 'plain', args: ['-t', 'PID', '-a'], entered: ALL_BUT_TIME, expect: /^0 0 0\ntarget-plain\n/ },
  { name: '-U', target: 'user', args: ['-t', 'PID', '-U'], entered: ['user'], expect: /^0 0 0\n/ },
  { name: '--user --preserve-credentials', target: 'user', args: ['-t', 'PID', '--user', '--preserve-credentials'], entered: ['user'], expect: /^0 0 0\n/ },
  { name: '-U -S 0 -G 0', target: 'user', args: ['-t', 'PID', '-U', '-S', '0', '-G', '0'], entered: ['user'], expect: /^0 0 0\n/ },
  { name: '-m -p (fork into the pid namespace)', target: 'root', args: ['-t', 'PID', '-m', '-p'], entered: ['mnt', 'pid', 'pid_for_children'], expect: /^0 0 0\n[^\n]+\n\/\n/ },
  { name: '-u', target: 'root', args: ['-t', 'PID', '-u'], entered: ['uts'], expect: /^0 0 0\ntarget-root\n\/tmp\n/ },
  { name: '--uts', target: 'root', args: ['--target=PID', '--uts'], entered: ['uts'], expect: /^0 0 0\ntarget-root\n/ },
  { name: '-i', target: 'root', args: ['-t', 'PID', '-i'], entered: ['ipc'], expect: /^0 0 0\n/ },
  { name: '-n', target: 'root', args: ['-t', 'PID', '-n'], entered: ['net'], expect: /^0 0 0\n/ },
  { name: '-C', target: 'root', args: ['-t', 'PID', '-C'], entered: ['cgroup'], expect: /^0 0 0\n/ },
  { name: '-T', target: 'root', args: ['-t', 'PID', '-T'], entered: ['time', 'time_for_children'], expect: /^0 0 0\n/ },
  { name: '-p -F (no fork: only children enter)', target: 'root', args: ['-t', 'PID', '-p', '-F'], entered: ['pid_for_children'], expect: /^0 0 0\n/ },
  // -F with a time namespace too: the program still stays out of the pid namespace.
  { name: '-p -T -F', target: 'root', args: ['-t', 'PID', '-p', '-T', '-F'], entered: ['pid_for_children', 'time', 'time_for_children'], expect: /^0 0 0\n/ },
  { name: '-uinCT (several)', target: 'root', args: ['-t', 'PID', '-u', '-i', '-n', '-C', '-T'], entered: ['uts', 'ipc', 'net', 'cgroup', 'time', 'time_for_children'], expect: /^0 0 0\ntarget-root\n/ },
  { name: '-a on a target without a user namespace', target: 'root', args: ['-t', 'PID', '-a'], entered: ALL.filter((e) => e !== 'user'), expect: /^0 0 0\ntarget-root\n\/\n/ },
  // Namespace files instead of a target.
  { name: '-n/proc/PID/ns/net (attached file)', target: 'root', args: ['-n/proc/PID/ns/net'], entered: ['net'], expect: /^0 0 0\n/ },
  { name: '--net=FILE --uts=FILE', target: 'root', args: ['--net=/proc/PID/ns/net', '--uts=/proc/PID/ns/uts'], entered: ['net', 'uts'], expect: /^0 0 0\ntarget-root\n/ },
  { name: '-t PID -u --net=FILE (mixed)', target: 'root', args: ['-t', 'PID', '-u', '--net=/proc/PID/ns/net'], entered: ['net', 'uts'], expect: /^0 0 0\ntarget-root\n/ },
  // Root and working directory (the root target runs in /usr).
  { name: '-m -r -w (target\'s root and cwd)', target: 'root', procHidden: true, args: ['-t', 'PID', '-m', '-r', '-w'], entered: ['mnt'], expect: /^0 0 0\n[^\n]+\n\/usr\n/ },
  // The target's root is its mount namespace's /, whose proc belongs to its pid namespace.
  { name: '-r alone keeps our cwd', target: 'root', procHidden: true, args: ['-t', 'PID', '-r'], entered: [], expect: /^0 0 0\n[^\n]+\n\/tmp\n/ },
  { name: '-r/ (directory given) keeps our cwd', target: 'root', args: ['-t', 'PID', '-r/'], entered: [], expect: /^0 0 0\n[^\n]+\n\/tmp\n/ },
  { name: '-w alone (target\'s cwd)', target: 'root', args: ['-t', 'PID', '-w'], entered: [], expect: /^0 0 0\n[^\n]+\n\/usr\n/ },
  { name: '-w/etc (directory given)', target: 'root', args: ['-t', 'PID', '-n', '-w/etc'], entered: ['net'], expect: /^0 0 0\n[^\n]+\n\/etc\n/ },
  { name: '--wd=/etc', target: 'root', args: ['-t', 'PID', '-n', '--wd=/etc'], entered: ['net'], expect: /\n\/etc\n/ },
  { name: '-m -W /etc (in the namespace)', target: 'root', procHidden: true, args: ['-t', 'PID', '-m', '-W', '/etc'], entered: ['mnt'], expect: /^0 0 0\n[^\n]+\n\/etc\n/ },
  { name: '-m alone (cwd becomes the namespace root)', target: 'root', procHidden: true, args: ['-t', 'PID', '-m'], entered: ['mnt'], expect: /^0 0 0\n[^\n]+\n\/\n/ },
  // Targets made by the other tool and by bubblewrap (a nested user namespace).
  { name: '-a into what ns-unshare made', target: 'ours', args: ['-t', 'PID', '-a'], entered: ALL, expect: /^0 0 0\ntarget-ours\n/ },
  { name: '-a into bubblewrap\'s sandbox', target: 'bwrap', args: ['-t', 'PID', '-a'], entered: ALL_BUT_TIME, expect: /^0 0 0\n/ },
  { name: '-U -m -n into bubblewrap\'s sandbox', target: 'bwrap', args: ['-t', 'PID', '-U', '-m', '-n'], entered: ['user', 'mnt', 'net'], expect: /^0 0 0\n/ },
  // Newer options, checked against util-linux doing the documented equivalent.
  {
    name: '-S follow -G follow', target: 'ids', args: ['-t', 'PID', '-S', 'follow', '-G', 'follow', '-u'], theirs: ['-t', 'PID', '-S', '5', '-G', '7', '-u'],
    entered: ['uts'], expect: /^5 7 7\n/, why: 'follow is 2.39: the ids that own /proc/PID (the target runs as 5:7)',
  },
  {
    name: '--keep-caps with --user', target: 'user', args: ['-t', 'PID', '-U', '--keep-caps'], theirs: 'none', entered: ['user'],
    expect: /^0 0 0\n/, why: '--keep-caps is 2.40 (checked below against CapAmb)',
  },
];

describe('nsenter vs ns-enter: entering a running target', () => {
  const targets = new Map<TargetName, Target>();
  const own = nsLinks('self');
  let results: { theirs: Ran | undefined; ours: Ran }[];
  let targetLinks: Map<TargetName, NsLinks>;

  before(async () => {
    const [user, root, plain, ids, ours, bwrap] = await Promise.all([
      Target.unshare('unshare', ['-Urmuinp', '-C', '-T', '--fork', '--mount-proc'], 'hostname target-user'),
      Target.unshare('unshare', ['-muinp', '-C', '-T', '--fork', '--mount-proc', '--monotonic=1000'], 'hostname target-root; cd /usr'),
      // In a new user namespace but the initial time namespace, which -a must cope with.
      Target.unshare('unshare', ['-Urmuinp', '-C', '--fork', '--mount-proc'], 'hostname target-plain'),
      // -S/-G follow: a program running as 5:7, in no user namespace.
      Target.unshare('unshare', ['-muinp', '-C', '--fork', '--mount-proc'],
        'hostname target-ids; exec setpriv --reuid=5 --regid=7 --clear-groups sh -c "echo ready; exec sleep 600"; #'),
      Target.unshare('ns-unshare', ['-Urmuinp', '-C', '-T', '--fork', '--mount-proc'], 'hostname target-ours'),
      Target.unshare('bwrap', ['--unshare-all', '--ro-bind', '/', '/']),
    ]);
    targets.set('user', user).set('root', root).set('plain', plain).set('ids', ids).set('ours', ours).set('bwrap', bwrap);
    targetLinks = new Map([...targets].map(([n, t]) => [n, nsLinks(t.pid)]));
    results = await inParallel(ROWS.map((row) => async () => {
      const pid = String(targets.get(row.target)!.pid);
      const sub = (args: readonly string[]) => args.map((a) => a.replaceAll('PID', pid));
      const ours = runAsync([bin('ns-enter'), ...sub(row.args), ...PROBE], { cwd: row.cwd ?? '/tmp' });
      if (row.theirs === 'none') return { theirs: undefined, ours: await ours };
      const theirs = runAsync(['nsenter', ...sub(row.theirs ?? row.args), ...PROBE], { cwd: row.cwd ?? '/tmp' });
      return { theirs: await theirs, ours: await ours };
    }));
  });

  after(async () => {
    await Promise.all([...targets.values()].map((t) => t.stop()));
  });

  ROWS.forEach((row, i) => {
    it(`${row.name}${row.theirs === 'none' ? ' (ours only)' : row.theirs ? ' (util-linux: an equivalent)' : ''}`, () => {
      const { theirs, ours } = results[i]!;
      const target = targetLinks.get(row.target)!;
      for (const [who, r] of [['nsenter', theirs], ['ns-enter', ours]] as const) {
        if (!r) continue;
        expect(r.stderr, `${who} stderr`).to.equal('');
        expect(r.status, `${who} status`).to.equal(0);
        expect(r.stdout, who).to.match(row.expect);
        const rest = r.stdout.split('\n').slice(3).join('\n');
        if (row.procHidden) {
          expect(rest, `${who}: /proc/self should not exist in the target's proc`).to.equal('');
          continue;
        }
        const links = parseNsProbe(rest);
        // Entered entries are the target's; the others are still ours.
        expect(NS_ENTRIES.filter((e) => row.entered.includes(e) ? links[e] !== target[e] : links[e] !== own[e]), `${who}: entries not as expected`)
          .to.deep.equal([]);
      }
      if (theirs) expect(ours.stdout.split('\n').slice(0, 3), 'ids, hostname, cwd').to.deep.equal(theirs.stdout.split('\n').slice(0, 3));
    });
  });

  it('the targets differ from us where the rows expect them to', () => {
    expect(differing(targetLinks.get('user')!, own)).to.deep.equal(ALL);
    expect(differing(targetLinks.get('plain')!, own)).to.deep.equal(ALL_BUT_TIME);
    expect(statSync(`/proc/${targets.get('ids')!.pid}`)).to.include({ uid: 5, gid: 7 });
    expect(differing(targetLinks.get('bwrap')!, own)).to.include('user');
  });

  it('the program gets the fds the launcher was given, and none of its own', async () => {
    // bash gives the launcher fd 7; what ns-enter opens (pidfd, namespace fds) must not show.
    const withFd7 = (argv: readonly string[]) => ['bash', '-c', 'exec 7>/dev/null; exec "$@"', 'bash', ...argv];
    const { theirs, ours } = await bothAsync('nsenter', ['-t', String(targets.get('root')!.pid), '-n', '-u',
      'sh', '-c', 'cd /proc/$$/fd && for fd in *; do echo "$fd $(readlink $fd)"; done'], {}, withFd7);
    expect(theirs.stdout).to.match(/^7 \/dev\/null$/m);
    // Pipes and sockets are each run's own (stdio, the shell's command substitution).
    const kinds = (out: string) => out.replace(/:\[\d+\]/g, '');
    expect(kinds(ours.stdout)).to.equal(kinds(theirs.stdout));
  });

  for (const args of [['-n', '-u'], ['-a']]) {
    it(`${args.join(' ')}: the program inherits what nsenter's does (environment, signals, limits, process group)`, async () => {
      const { theirs, ours } = await bothAsync('nsenter', ['-t', String(targets.get('root')!.pid), ...args, 'sh', '-c', STATE_PROBE]);
      expect(theirs).to.deep.include({ status: 0, stderr: '' });
      expect(theirs.stdout).to.match(/SigIgn:\s+0+\n/);
      expect(ours).to.deep.equal(theirs);
    });
  }

  describe('as an unprivileged user, into a namespace that user made', () => {
    const rows: { args: string[]; ok: boolean; shows?: RegExp }[] = [
      { args: ['-U', '-u', '--preserve-credentials'], ok: true, shows: /^0\nt-nobody\n$/ },
      { args: ['-U', '-m', '-n', '-p', '--preserve-credentials'], ok: true, shows: /^0\n/ },
      { args: ['--preserve-credentials', '-U', '-S', '0', '-u'], ok: true, shows: /^0\nt-nobody\n$/ },
      // setgroups is denied inside and not ours to call outside: both attempts fail.
      { args: ['-U', '-u'], ok: false },
      // -a includes the initial cgroup namespace, which only root may join.
      { args: ['-a'], ok: false },
    ];
    let target: Target;
    let results: { theirs: Ran; ours: Ran }[];
    before(async () => {
      target = await Target.start(asUser(NOBODY, NOBODY, ['unshare', '-rmunpf', '--mount-proc', 'sh', '-c', 'hostname t-nobody; echo ready; exec sleep 600']));
      results = await inParallel(rows.map((row) => () =>
        bothAsync('nsenter', ['-t', String(target.pid), ...row.args, 'sh', '-c', 'id -u; hostname'], {}, (a) => asUser(NOBODY, NOBODY, a))));
    });
    after(async () => {
      await target?.stop();
    });
    rows.forEach((row, i) => {
      it(`${row.args.join(' ')}: ${row.ok ? 'enters' : 'refused, exit 1'}`, () => {
        const { theirs, ours } = results[i]!;
        if (row.ok) {
          expect(theirs).to.deep.include({ status: 0, stderr: '' });
          expect(theirs.stdout).to.match(row.shows!);
          expect(ours).to.deep.equal(theirs);
        } else {
          expect(theirs.status).to.equal(1);
          expect(ours.status).to.equal(1);
          expectOneLineError(ours, 'ns-enter', /setgroups|setns|cgroup/);
        }
      });
    });
  });

  describe('options util-linux 2.38.1 lacks', () => {
    it('--keep-caps: the program keeps the namespace\'s capabilities as ambient ones', async () => {
      const pid = String(targets.get('user')!.pid);
      const [kept, plain] = await Promise.all([
        runAsync([bin('ns-enter'), '-t', pid, '-U', '--keep-caps', 'grep', '^Cap', '/proc/self/status']),
        runAsync([bin('ns-enter'), '-t', pid, '-U', 'grep', '^Cap', '/proc/self/status']),
      ]);
      const field = (r: Ran, name: string) => new RegExp(`^${name}:\\s+(\\w+)$`, 'm').exec(r.stdout)?.[1];
      expect(field(kept, 'CapAmb')).to.equal(field(kept, 'CapPrm'));
      expect(BigInt(`0x${field(kept, 'CapAmb')}`)).to.not.equal(0n);
      expect(field(plain, 'CapAmb')).to.match(/^0+$/);
    });

    it('-e: the program gets the target\'s environment', async () => {
      const t = targets.get('root')!;
      const r = await runAsync([bin('ns-enter'), '-t', String(t.pid), '-m', '-e', 'env'], { env: { ...process.env, E2E_OURS: 'x' } });
      const environ = readFileSync(`/proc/${t.pid}/environ`, 'utf8').split('\0').filter(Boolean);
      expect(r.stderr).to.equal('');
      expect(r.stdout.split('\n').filter((l) => l && !l.startsWith('_=')).sort()).to.deep.equal(environ.filter((l) => !l.startsWith('_=')).sort());
      expect(r.stdout).to.not.include('E2E_OURS');
    });

    it('--user-parent: the parent of the user namespace owning the entered ones', async () => {
      // Two nested user namespaces: the target is in the inner one.
      const nested = await Target.start(['unshare', '-Ur', 'unshare', '-Urn', '--fork', 'sh', '-c', 'echo ready; exec sleep 600']);
      try {
        const outer = Namespace.ofPid(nested.pid, 'user').use((inner) => inner.parent().use((p) => p.id));
        const r = await runAsync([bin('ns-enter'), '-t', String(nested.pid), '-n', '--user-parent', ...NS_PROBE]);
        expect(r.stderr).to.equal('');
        const links = parseNsProbe(r.stdout);
        expect(links.net).to.equal(nsLinks(nested.pid).net);
        expect(links.user).to.equal(`user:[${outer}]`);
        expect(links.user).to.not.equal(nsLinks(nested.pid).user);
        // With -U the base is the target's user namespace itself (nsenter's open_parent_user_ns_fd).
        const withUser = await runAsync([bin('ns-enter'), '-t', String(nested.pid), '-U', '--user-parent', ...NS_PROBE]);
        expect(withUser.stderr).to.equal('');
        expect(parseNsProbe(withUser.stdout).user).to.equal(`user:[${outer}]`);
      } finally {
        await nested.stop();
      }
    });

    it('-S follow -G follow inside a user namespace mapped 0->100000: the ids as seen inside (0 0)', async () => {
      // The ids of /proc/PID are read after entering (nsenter's fstat follows the setns), so they are the namespace's.
      const t = await Target.start(['unshare', '-U', 'sh', '-c', 'echo ready; exec sleep 600']);
      try {
        writeFileSync(`/proc/${t.pid}/uid_map`, '0 100000 65536');
        writeFileSync(`/proc/${t.pid}/gid_map`, '0 100000 65536');
        const r = await runAsync([bin('ns-enter'), '-t', String(t.pid), '-U', '-S', 'follow', '-G', 'follow', 'sh', '-c', 'echo $(id -u) $(id -g)']);
        expect(r.stderr).to.equal('');
        expect(r.stdout).to.equal('0 0\n');
      } finally {
        await t.stop();
      }
    });

    it('--info-fd and --json-status-fd refuse an fd not open for writing, naming the option and EBADF', async () => {
      const pid = String(targets.get('root')!.pid);
      for (const [tool, args] of [['ns-enter', ['-t', pid, '-u']], ['ns-unshare', ['-u']]] as const) {
        for (const option of ['--info-fd', '--json-status-fd']) {
          const r = await runAsync(['sh', '-c', `exec "$0" "$@" 5</dev/null`, bin(tool), ...args, option, '5', 'echo', 'ran']);
          expect(r.status, `${tool} ${option}`).to.equal(1);
          expect(r.stdout).to.equal('');
          expect(r.stderr).to.equal(`${tool}: ${option}: file descriptor 5 is not open for writing (EBADF)\n`);
        }
      }
    });

    it('-N/--net-socket: the network namespace of a socket the target holds', async () => {
      // ip monitor holds a netlink socket made in its network namespace at fd 3.
      const monitor = await Target.start(['unshare', '-n', 'sh', '-c', 'echo ready; exec ip monitor'], { comm: 'ip' });
      try {
        const fd = await waitForSocketFd(monitor.pid);
        const [short, long] = await Promise.all([
          runAsync([bin('ns-enter'), '-t', String(monitor.pid), '-N', String(fd), 'readlink', '/proc/self/ns/net']),
          runAsync([bin('ns-enter'), `--target=${monitor.pid}`, `--net-socket=${fd}`, 'readlink', '/proc/self/ns/net']),
        ]);
        expect(short.stdout.trim()).to.equal(nsLinks(monitor.pid).net);
        expect(long.stdout.trim()).to.equal(nsLinks(monitor.pid).net);
        expect(nsLinks(monitor.pid).net).to.not.equal(nsLinks('self').net);
      } finally {
        await monitor.stop();
      }
    });

    it('-t PID:INODE: only the process whose pidfd has that inode', async () => {
      const t = targets.get('root')!;
      const pidfd = sys.pidfdOpen(t.pid);
      let inode: number;
      try {
        inode = statSync(`/proc/self/fd/${pidfd}`).ino;
      } finally {
        sys.closeFd(pidfd);
      }
      const [right, wrong] = await Promise.all([
        runAsync([bin('ns-enter'), '-t', `${t.pid}:${inode}`, '-u', 'hostname']),
        runAsync([bin('ns-enter'), '-t', `${t.pid}:${inode + 1}`, '-u', 'hostname']),
      ]);
      expect(right.stdout).to.equal('target-root\n');
      expect(wrong.status).to.equal(1);
      expect(wrong.stdout).to.equal('');
      expectOneLineError(wrong, 'ns-enter', String(t.pid));
    });

    it('-c/--join-cgroup: the program runs in the target\'s cgroup (v2)', async () => {
      const v2 = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[f.indexOf('-') + 1] === 'cgroup2')![4]!;
      const group = `${v2}/nse2e-enter-${process.pid}`;
      const t = await Target.start(['unshare', '-m', '--fork', 'sh', '-c', 'echo ready; exec sleep 600']);
      const { mkdirSync, rmdirSync, writeFileSync } = await import('node:fs');
      mkdirSync(group);
      try {
        writeFileSync(`${group}/cgroup.procs`, String(t.pid));
        const [joined, notJoined] = await Promise.all([
          runAsync([bin('ns-enter'), '-t', String(t.pid), '-m', '-c', 'cat', '/proc/self/cgroup']),
          runAsync([bin('ns-enter'), '-t', String(t.pid), '-m', 'cat', '/proc/self/cgroup']),
        ]);
        expect(joined.stderr).to.equal('');
        expect(joined.stdout).to.match(new RegExp(`^0::/nse2e-enter-${process.pid}$`, 'm'));
        expect(notJoined.stdout).to.not.include('nse2e-enter');
      } finally {
        await t.stop();
        rmdirSync(group);
      }
    });

    it('-Z/--follow-context does nothing while SELinux is disabled, as nsenter', async () => {
      expect(existsSync('/sys/fs/selinux/enforce'), 'this machine runs SELinux').to.equal(false);
      const { theirs, ours } = await bothAsync('nsenter', ['-t', String(targets.get('root')!.pid), '-u', '-Z', 'hostname']);
      expect(theirs).to.deep.include({ status: 0, stdout: 'target-root\n', stderr: '' });
      expect(ours).to.deep.equal(theirs);
    });
  });
});

async function waitForSocketFd(pid: number): Promise<number> {
  const { readdirSync, readlinkSync } = await import('node:fs');
  for (let i = 0; i < 200; i++) {
    // Above 2: the stdio Node's spawn gave it are socketpairs of ours, made in our namespace.
    // An fd listed may be closed before we read its link (the target is still starting up).
    const link = (n: number) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${n}`);
      } catch {
        return '';
      }
    };
    const fd = readdirSync(`/proc/${pid}/fd`).map(Number).find((n) => n > 2 && link(n).startsWith('socket:'));
    if (fd !== undefined) return fd;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`pid ${pid} holds no socket`);
}
