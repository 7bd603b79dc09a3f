/**
 * The command line as getopt_long reads it (short clusters, attached and separate arguments,
 * optional arguments that attach only with '=', abbreviations, '--', repeated options), and
 * errors: same exit status as util-linux, one line on stderr naming the culprit (wording may
 * differ), and nothing left behind (the program never started, no process remains).
 */
import { expect } from 'chai';
import { bothAsync, expectOneLineError, expectUsageError, inParallel, type Ran, type Tool, type Wrap } from './cli';
import { NOBODY, Target, asUser } from './fixtures';
import { processesWith } from 'ns-test-kit';

const MARK = `nse2e-mark-${process.pid}`;

interface FormRow {
  readonly tool: Tool;
  readonly args: readonly string[];
  /** What the program prints when parsing went right (matched against both outputs). */
  readonly shows?: RegExp;
  /** A parse error for both (exit 1). */
  readonly refused?: boolean;
}

const FORMS: FormRow[] = [
  // unshare: optional arguments attach only with '='
  { tool: 'unshare', args: ['--kill-child', 'echo', 'kill-child took no argument'], shows: /^kill-child took no argument$/ },
  { tool: 'unshare', args: ['--mount-proc', '/bin/echo', 'mount-proc took no argument'], shows: /^mount-proc took no argument$/ },
  { tool: 'unshare', args: ['--net', '/bin/echo', 'net took no argument'], shows: /^net took no argument$/ },
  { tool: 'unshare', args: ['-n/tmp/x', 'true'], refused: true }, // -n takes no argument: '/' is an unknown option
  { tool: 'unshare', args: ['-Urf', 'id', '-u'], shows: /^0$/ },
  { tool: 'unshare', args: ['-rfp', '--mount-proc', 'sh', '-c', 'echo $$'], shows: /^1$/ },
  { tool: 'unshare', args: ['-r', '--', 'sh', '-c', 'echo "$0"', 'zero'], shows: /^zero$/ },
  { tool: 'unshare', args: ['-r', 'sh', '-c', 'echo "$1"', 'x', '--not-ours'], shows: /^--not-ours$/ },
  // required arguments: attached, separate, '=', and one starting with '-'
  { tool: 'unshare', args: ['--map-user', '0', 'id', '-u'], shows: /^0$/ },
  { tool: 'unshare', args: ['--map-user=0', 'id', '-u'], shows: /^0$/ },
  { tool: 'unshare', args: ['-S0', '-G0', 'id', '-u'], shows: /^0$/ },
  { tool: 'unshare', args: ['--setuid', '0', '--setgid', '0', 'id', '-g'], shows: /^0$/ },
  { tool: 'unshare', args: ['-w/etc', 'pwd'], shows: /^\/etc$/ },
  { tool: 'unshare', args: ['--wd', '/etc', 'pwd'], shows: /^\/etc$/ },
  { tool: 'unshare', args: ['-w', '-x', 'true'], refused: true }, // chdir to "-x"
  // abbreviations (unambiguous prefixes) and ambiguity
  { tool: 'unshare', args: ['--map-root', 'id', '-u'], shows: /^0$/ },
  { tool: 'unshare', args: ['--mount-p', '--pi', '--fork', 'sh', '-c', 'echo $$'], shows: /^1$/ },
  { tool: 'unshare', args: ['-m', '--prop=slave', 'true'], shows: /^$/ },
  { tool: 'unshare', args: ['--map', 'true'], refused: true },
  // repeated options: the last wins
  { tool: 'unshare', args: ['--map-user=1', '--map-user=2', 'id', '-u'], shows: /^2$/ },
  { tool: 'unshare', args: ['-w', '/usr', '-w', '/etc', 'pwd'], shows: /^\/etc$/ },
  { tool: 'unshare', args: ['-U', '--user', 'true'], shows: /^$/ },
  // -r, -c, --map-user, --map-group: each sets the inner uid and/or gid; the last one counts
  { tool: 'unshare', args: ['--map-user=5', '-r', 'sh', '-c', 'echo $(id -u) $(id -g)'], shows: /^0 0$/ },
  { tool: 'unshare', args: ['-r', '--map-user=5', 'sh', '-c', 'echo $(id -u) $(id -g)'], shows: /^5 0$/ },
  { tool: 'unshare', args: ['--map-group=5', '-r', 'sh', '-c', 'echo $(id -u) $(id -g)'], shows: /^0 0$/ },
  { tool: 'unshare', args: ['-c', '-r', 'sh', '-c', 'echo $(id -u) $(id -g)'], shows: /^0 0$/ },
  { tool: 'unshare', args: ['--map-user=3', '--map-group=4', '-c', '--map-user=6', 'sh', '-c', 'echo $(id -u) $(id -g)'], shows: /^6 0$/ },
  { tool: 'unshare', args: ['--propagation', 'shared', 'true'], shows: /^$/ }, // ignored without a mount namespace
  // flags take no argument, and there is no --no-<flag>
  { tool: 'unshare', args: ['--fork=1', 'true'], refused: true },
  { tool: 'unshare', args: ['--keep-caps=yes', 'true'], refused: true },
  { tool: 'unshare', args: ['--no-fork', 'true'], refused: true },
  // nsenter (T is a running target)
  { tool: 'nsenter', args: ['-t', 'T', '-u', 'hostname'], shows: /^e2e-forms$/ },
  { tool: 'nsenter', args: ['-tT', '-u', 'hostname'], shows: /^e2e-forms$/ },
  { tool: 'nsenter', args: ['--target=T', '--uts', 'hostname'], shows: /^e2e-forms$/ },
  { tool: 'nsenter', args: ['--targ', 'T', '--ut', 'hostname'], shows: /^e2e-forms$/ },
  { tool: 'nsenter', args: ['--uts=/proc/T/ns/uts', 'hostname'], shows: /^e2e-forms$/ },
  { tool: 'nsenter', args: ['-u/proc/T/ns/uts', 'hostname'], shows: /^e2e-forms$/ },
  { tool: 'nsenter', args: ['-t', 'T', '-mu', 'true'], refused: true }, // -m with the file "u"
  { tool: 'nsenter', args: ['-t', 'T', '-u', '-w', 'pwd'], shows: /^\/usr$/ },
  { tool: 'nsenter', args: ['-t', 'T', '-u', '-w/etc', 'pwd'], shows: /^\/etc$/ },
  { tool: 'nsenter', args: ['-t', 'T', '-uS0', 'id', '-u'], refused: true }, // -u with the file "S0"
  { tool: 'nsenter', args: ['-t', 'T', '-S0', '-u', 'id', '-u'], shows: /^0$/ },
  { tool: 'nsenter', args: ['-t', 'T', '-p', '--no-fork', 'readlink', '/proc/self/ns/pid_for_children'], shows: /^pid:/ },
  { tool: 'nsenter', args: ['-t', 'T', '--no-fork=1', 'true'], refused: true },
  { tool: 'nsenter', args: ['-t', 'T', '-u', '--', 'sh', '-c', 'echo "$0"', 'zero'], shows: /^zero$/ },
  { tool: 'nsenter', args: ['-t', 'T', '-a', 'hostname'], shows: /^e2e-forms$/ },
  { tool: 'nsenter', args: ['-t', 'SELF', '-a', 'sh', '-c', 'hostname; id -u'], shows: /^\S+\n0$/ }, // our own: the user namespace is skipped
  { tool: 'nsenter', args: ['-t', 'SELF', '--all', '-S', '5', '-G', '5', 'id', '-u'], shows: /^5$/ },
];

interface ErrorRow {
  readonly tool: Tool;
  readonly args: readonly string[];
  readonly status: number;
  /** What our one line must name. */
  readonly subject: string | RegExp;
  /** A usage error: util-linux may add "Try '... --help'". */
  readonly usage?: boolean;
  readonly wrap?: Wrap;
  /** Only ours (the option is newer than util-linux 2.38.1). */
  readonly oursOnly?: boolean;
}

const ERRORS: ErrorRow[] = [
  { tool: 'unshare', args: ['-R', '/nonexistent', 'true'], status: 1, subject: '/nonexistent' },
  { tool: 'unshare', args: ['-w', '/nonexistent', 'true'], status: 1, subject: '/nonexistent' },
  { tool: 'unshare', args: ['-m', '--mount-proc=/nonexistent', 'true'], status: 1, subject: '/nonexistent' },
  { tool: 'unshare', args: ['-u', 'nse2e-no-such-program'], status: 127, subject: 'nse2e-no-such-program' },
  { tool: 'unshare', args: ['-u', '/etc/passwd'], status: 126, subject: '/etc/passwd' },
  { tool: 'unshare', args: ['-u', '/etc'], status: 126, subject: '/etc' },
  { tool: 'unshare', args: ['-fp', 'nse2e-no-such-program'], status: 127, subject: 'nse2e-no-such-program' },
  { tool: 'unshare', args: ['--setgroups=maybe', '-U', 'true'], status: 1, subject: 'maybe', usage: true },
  { tool: 'unshare', args: ['--propagation=weird', '-m', 'true'], status: 1, subject: 'weird', usage: true },
  { tool: 'unshare', args: ['--kill-child=FOO', 'true'], status: 1, subject: 'FOO', usage: true },
  { tool: 'unshare', args: ['--map-user=nse2e-nosuchuser', 'true'], status: 1, subject: 'nse2e-nosuchuser', usage: true },
  { tool: 'unshare', args: ['--map-group=nse2e-nosuchgroup', 'true'], status: 1, subject: 'nse2e-nosuchgroup', usage: true },
  { tool: 'unshare', args: ['-S', 'abc', 'true'], status: 1, subject: 'abc', usage: true },
  { tool: 'unshare', args: ['-G', '-1', 'true'], status: 1, subject: '-1', usage: true },
  { tool: 'unshare', args: ['--monotonic', '100', 'true'], status: 1, subject: /monotonic|-T/, usage: true },
  { tool: 'unshare', args: ['-T', '--boottime=abc', 'true'], status: 1, subject: 'abc', usage: true },
  { tool: 'unshare', args: ['--bogus', 'true'], status: 1, subject: 'bogus', usage: true },
  { tool: 'unshare', args: ['-x', 'true'], status: 1, subject: 'x', usage: true },
  { tool: 'unshare', args: ['-S'], status: 1, subject: 'S', usage: true },
  { tool: 'unshare', args: ['--root'], status: 1, subject: 'root', usage: true },
  { tool: 'unshare', args: ['--map', 'true'], status: 1, subject: 'map', usage: true },
  { tool: 'unshare', args: ['-n', 'true'], status: 1, subject: /net|unshare|clone/, wrap: (a) => asUser(NOBODY, NOBODY, a) },
  { tool: 'unshare', args: ['-r', '--mount-proc', 'true'], status: 1, subject: '/proc', wrap: (a) => asUser(NOBODY, NOBODY, a) },
  { tool: 'unshare', args: ['-S', '0', 'true'], status: 1, subject: /setuid|setresuid/, wrap: (a) => asUser(NOBODY, NOBODY, a) },
  { tool: 'unshare', args: ['--hostname', 'x'.repeat(65), 'true'], status: 1, subject: 'hostname', usage: true, oursOnly: true },
  { tool: 'unshare', args: ['--info-fd', '99', 'true'], status: 1, subject: '99', usage: true, oursOnly: true },
  { tool: 'unshare', args: ['--owner', 'abc', 'true'], status: 1, subject: 'abc', usage: true, oursOnly: true },
  { tool: 'unshare', args: ['--owner', '1:1', 'true'], status: 1, subject: 'owner', wrap: (a) => asUser(NOBODY, NOBODY, a), oursOnly: true },
  { tool: 'nsenter', args: ['-t', '999999999', '-n', 'true'], status: 1, subject: '999999999' },
  { tool: 'nsenter', args: ['-n', 'true'], status: 1, subject: /net|target/ },
  { tool: 'nsenter', args: ['--net=/nonexistent', 'true'], status: 1, subject: '/nonexistent' },
  { tool: 'nsenter', args: ['--net=/etc/passwd', 'true'], status: 1, subject: /passwd|net/ },
  { tool: 'nsenter', args: ['-t', 'T', '-n', 'nse2e-no-such-program'], status: 127, subject: 'nse2e-no-such-program' },
  { tool: 'nsenter', args: ['-t', 'T', '-n', '/etc'], status: 126, subject: '/etc' },
  { tool: 'nsenter', args: ['-t', 'T', '-p', 'nse2e-no-such-program'], status: 127, subject: 'nse2e-no-such-program' },
  { tool: 'nsenter', args: ['-t', 'T', '--wd=/tmp', '--wdns=/', 'true'], status: 1, subject: /wd/, usage: true },
  { tool: 'nsenter', args: ['-t', 'abc', '-n', 'true'], status: 1, subject: 'abc', usage: true },
  { tool: 'nsenter', args: ['-t'], status: 1, subject: 't', usage: true },
  { tool: 'nsenter', args: ['-t', 'T', '-S', 'abc', '-n', 'true'], status: 1, subject: 'abc', usage: true },
  { tool: 'nsenter', args: ['--bogus'], status: 1, subject: 'bogus', usage: true },
  { tool: 'nsenter', args: ['-t', 'T', '-m', '-W', '/nonexistent', 'true'], status: 1, subject: '/nonexistent' },
  { tool: 'nsenter', args: ['-t', 'T', '-r/nonexistent', 'true'], status: 1, subject: '/nonexistent' },
  { tool: 'nsenter', args: ['-t', 'T', '-n', 'true'], status: 1, subject: /net|pid|setns/, wrap: (a) => asUser(NOBODY, NOBODY, a) },
  { tool: 'nsenter', args: ['-t', 'T', '-N', '99', 'true'], status: 1, subject: '99', oursOnly: true },
  { tool: 'nsenter', args: ['-N', '3', 'true'], status: 1, subject: /target/, usage: true, oursOnly: true },
];

/**
 * Registers the suite's hooks: a target (a shell in new namespaces, running `script`) to point
 * the rows at, and each row run by both tools, all in parallel, before the suite's tests.
 * @returns the results, row by row, once the hooks have run
 */
function runAgainstTarget<R>(script: string, rows: readonly R[], run: (row: R, target: string) => Promise<{ theirs: Ran; ours: Ran }>): () => { theirs: Ran; ours: Ran }[] {
  let target: Target | undefined;
  let results: { theirs: Ran; ours: Ran }[] = [];
  before(async () => {
    target = await Target.unshare('unshare', ['-muinpf', '--mount-proc'], script);
    const t = String(target.pid);
    results = await inParallel(rows.map((row) => () => run(row, t)));
  });
  after(async () => {
    await target?.stop();
  });
  return () => results;
}

describe('command-line forms, as getopt_long reads them', () => {
  const results = runAgainstTarget('hostname e2e-forms; cd /usr', FORMS, (row, t) =>
    bothAsync(row.tool, row.args.map((a) => a.replace(/\bT\b/, t).replace(/^-tT$/, `-t${t}`).replace(/^SELF$/, String(process.pid)))));

  FORMS.forEach((row, i) => {
    it(`${row.tool} ${row.args.join(' ')}`, () => {
      const { theirs, ours } = results()[i]!;
      if (row.refused) {
        expect(theirs.status, `${row.tool}: ${theirs.stderr}`).to.equal(1);
        expect(ours.status, `ours: ${ours.stderr}`).to.equal(1);
        expect(ours.stdout).to.equal('');
        expect(ours.stderr).to.not.equal('');
        return;
      }
      expect(theirs.stderr, `${row.tool} stderr`).to.equal('');
      expect(theirs.status).to.equal(0);
      expect(theirs.stdout.replace(/\n$/, '')).to.match(row.shows!);
      expect(ours.stderr, 'ours stderr').to.equal('');
      expect(ours.stdout).to.equal(theirs.stdout);
      expect(ours.status).to.equal(0);
    });
  });
});

describe('errors: same exit status, one line naming the culprit, nothing left behind', () => {
  const results = runAgainstTarget('hostname e2e-errors', ERRORS, (row, t) =>
    // A program that would print the marker, so a wrongly started program shows.
    bothAsync(row.tool, [...row.args.map((a) => (a === 'T' ? t : a)), ...(row.args.includes('true') ? [MARK] : [])], {}, row.wrap));

  ERRORS.forEach((row, i) => {
    const prog = row.tool === 'unshare' ? 'ns-unshare' : 'ns-enter';
    it(`${row.tool} ${row.args.join(' ').slice(0, 60)}${row.wrap ? ' (as nobody)' : ''} -> exit ${row.status}`, () => {
      const { theirs, ours } = results()[i]!;
      if (!row.oursOnly) {
        expect(theirs.status, `${row.tool}: ${theirs.stderr}`).to.equal(row.status);
        expect(theirs.stderr, `${row.tool} says why`).to.not.equal('');
      }
      if (row.usage) expectUsageError(ours, prog, row.subject);
      else expectOneLineError(ours, prog, row.subject);
      expect(ours.status, ours.stderr).to.equal(row.status);
      expect(ours.stdout).to.equal('');
      expect(processesWith(MARK), 'processes left').to.deep.equal([]);
    });
  });
});
