/**
 * Which namespaces the program ends up in: each kind alone, in short and long form, and all
 * together, as root and as nobody. The program reads its own /proc/self/ns links; the test
 * compares them with its own, and util-linux with ns-unshare.
 */
import { expect } from 'chai';
import { bothAsync, inParallel, type Ran, type Wrap } from './cli';
import { NOBODY, asUser } from './fixtures';
import { NS_ENTRIES, NS_PROBE, differing, nsLinks, nsProbeStatus, parseNsProbe, type NsEntry } from './ns';

interface Row {
  readonly args: readonly string[];
  /** Entries of /proc/self/ns that must differ from the test's own. */
  readonly differs: readonly NsEntry[];
  readonly wrap?: Wrap;
  readonly as?: string;
}

const ALL = [...NS_ENTRIES];
// unshare(CLONE_NEWPID) without --fork moves only the children (pid_namespaces(7)).
const PID_CHILDREN: NsEntry[] = ['pid_for_children'];
// exec(2) moves the process into time_for_children (time_namespaces(7), Linux 5.16+ behaviour
// util-linux relies on), so the program itself is in the new time namespace even without --fork.
const TIME: NsEntry[] = ['time', 'time_for_children'];

const ROWS: Row[] = [
  { args: [], differs: [] },
  { args: ['-U'], differs: ['user'] },
  { args: ['--user'], differs: ['user'] },
  { args: ['-m'], differs: ['mnt'] },
  { args: ['--mount'], differs: ['mnt'] },
  { args: ['-u'], differs: ['uts'] },
  { args: ['--uts'], differs: ['uts'] },
  { args: ['-i'], differs: ['ipc'] },
  { args: ['--ipc'], differs: ['ipc'] },
  { args: ['-n'], differs: ['net'] },
  { args: ['--net'], differs: ['net'] },
  { args: ['-p'], differs: PID_CHILDREN },
  { args: ['--pid'], differs: PID_CHILDREN },
  { args: ['-p', '-f'], differs: ['pid', 'pid_for_children'] },
  { args: ['--pid', '--fork'], differs: ['pid', 'pid_for_children'] },
  { args: ['-C'], differs: ['cgroup'] },
  { args: ['--cgroup'], differs: ['cgroup'] },
  { args: ['-T'], differs: TIME },
  { args: ['--time'], differs: TIME },
  { args: ['-T', '-f'], differs: TIME },
  { args: ['-muinpCT'], differs: ['mnt', 'uts', 'ipc', 'net', 'pid_for_children', 'cgroup', ...TIME] },
  { args: ['-Umuinpf', '-C', '-T'], differs: ALL },
  { args: ['--user', '--mount', '--uts', '--ipc', '--net', '--pid', '--cgroup', '--time', '--fork'], differs: ALL },
  // Options that imply namespaces.
  { args: ['-r'], differs: ['user'] },
  { args: ['-c'], differs: ['user'] },
  { args: ['--map-user=0'], differs: ['user'] },
  { args: ['--map-group=0'], differs: ['user'] },
  { args: ['--mount-proc'], differs: ['mnt'] },
  { args: ['-pf', '--mount-proc'], differs: ['mnt', 'pid', 'pid_for_children'] },
  { args: ['--kill-child', '-p'], differs: ['pid', 'pid_for_children'] },
  { args: ['-R', '/'], differs: [] },
  // Rootless, as the issue's recipe runs it.
  { args: ['-r'], differs: ['user'], wrap: (a) => asUser(NOBODY, NOBODY, a), as: 'nobody' },
  { args: ['-r', '-muinpCTf'], differs: ALL, wrap: (a) => asUser(NOBODY, NOBODY, a), as: 'nobody' },
  { args: ['-c', '-n'], differs: ['user', 'net'], wrap: (a) => asUser(NOBODY, NOBODY, a), as: 'nobody' },
];

describe('unshare vs ns-unshare: namespaces of the program', () => {
  const host = nsLinks('self');
  let results: { theirs: Ran; ours: Ran }[];

  before(async () => {
    results = await inParallel(ROWS.map((row) => () => bothAsync('unshare', [...row.args, ...NS_PROBE], {}, row.wrap)));
  });

  ROWS.forEach((row, i) => {
    it(`${row.args.join(' ') || '(no options)'}${row.as ? ` as ${row.as}` : ''}: differs in ${row.differs.join(', ') || 'nothing'}`, () => {
      const { theirs, ours } = results[i]!;
      for (const [who, r] of [['unshare', theirs], ['ns-unshare', ours]] as const) {
        expect(r.stderr, `${who} stderr`).to.equal('');
        const links = parseNsProbe(r.stdout);
        expect(r.status, `${who} status`).to.equal(nsProbeStatus(links));
        expect(differing(links, host), who).to.deep.equal(NS_ENTRIES.filter((e) => row.differs.includes(e)));
      }
    });
  });
});
