/**
 * The launcher as a process: exit statuses passed through, signals re-raised, what happens to
 * signals sent to the launcher with and without --fork, --kill-child, --forward-signals, stdin.
 * ns-unshare always runs the program as a child (Node cannot exec in place); these tests are
 * what makes that invisible.
 */
import { expect } from 'chai';
import { bin, runAsync } from './cli';
import { Target } from './fixtures';
import { signalLauncher, signalTable, statusTable, type Outcome, type SignalRow, type StatusRow } from './launch';

const STATUS_ROWS: StatusRow[] = [
  { args: [], script: 'exit 3', expected: { status: 3, signal: null } },
  { args: ['-f'], script: 'exit 4', expected: { status: 4, signal: null } },
  { args: ['-fp'], script: 'exit 5', expected: { status: 5, signal: null } },
  { args: ['-r'], script: 'exit 255', expected: { status: 255, signal: null } },
  { args: ['-Ufp', '--mount-proc'], script: 'exit 0', expected: { status: 0, signal: null } },
  { args: [], script: 'kill -TERM $$', expected: { status: null, signal: 'SIGTERM' } },
  { args: ['-f'], script: 'kill -TERM $$', expected: { status: null, signal: 'SIGTERM' } },
  { args: ['-n'], script: 'kill -HUP $$', expected: { status: null, signal: 'SIGHUP' } },
  { args: ['-f'], script: 'kill -INT $$', expected: { status: null, signal: 'SIGINT' } },
  { args: [], script: 'kill -USR1 $$', expected: { status: null, signal: 'SIGUSR1' } },
  { args: [], script: 'kill -SEGV $$', expected: { status: null, signal: 'SIGSEGV' } },
  { args: ['-f'], script: 'kill -SEGV $$', expected: { status: null, signal: 'SIGSEGV' } },
  { args: [], script: 'kill -PIPE $$', expected: { status: null, signal: 'SIGPIPE' } },
  // PID 1 of a pid namespace gets only the signals it handles (pid_namespaces(7)): its own
  // SIGTERM is dropped and the script goes on.
  { args: ['-fp'], script: 'kill -TERM $$; exit 9', expected: { status: 9, signal: null } },
  { args: ['-fp'], script: 'kill -KILL $$; exit 8', expected: { status: 8, signal: null } },
  // Without --fork the first child is PID 1; once it is gone the namespace takes no new process.
  { args: ['-p'], script: 'sh -c "echo \\$\\$"; sh -c true', expected: { status: 2, signal: null } },
  { args: [], script: 'cat', input: 'through stdin\n', expected: { status: 0, signal: null } },
  { args: ['-f'], script: 'cat; echo "$@"', input: 'through stdin\n', expected: { status: 0, signal: null } },
];

describe('unshare vs ns-unshare: exit statuses', () => {
  statusTable('unshare', STATUS_ROWS);

  it('-pf: the program killed from outside by SIGKILL: the launcher dies of SIGKILL too', async () => {
    // util-linux 2.38.1 cannot re-raise SIGKILL: it reports "sigprocmask unblock failed" and
    // exits 1. Its documented intent (unshare(1): the parent "re-raises the child's fatal
    // signal") is what ns-unshare does; util-linux is only checked to end.
    const outcomes = await Promise.all(['unshare', bin('ns-unshare')].map(async (launcher) => {
      const t = await Target.unshare(launcher === 'unshare' ? 'unshare' : 'ns-unshare', ['-fp']);
      process.kill(t.pid, 'SIGKILL');
      const status = await t.exited;
      await t.stop();
      return { ...status, stderr: t.stderr };
    }));
    expect(outcomes[0]!.code, 'unshare').to.equal(1);
    expect(outcomes[0]!.stderr).to.match(/sigprocmask unblock failed/);
    expect(outcomes[1]).to.deep.equal({ code: null, signal: 'SIGKILL', stderr: '' });
  });
});

describe('unshare vs ns-unshare: signals sent to the launcher', () => {
  interface Row extends SignalRow {
    readonly args: readonly string[];
    /** util-linux's arguments when ours must be compared with another invocation (an oracle). */
    readonly theirs?: readonly string[];
    readonly why?: string;
  }
  const passedOn = (s: NodeJS.Signals): Outcome => ({ code: 5, signal: null, stdout: `got ${s}\n`, orphaned: false });
  const ROWS: Row[] = [
    // Without --fork util-linux's launcher *is* the program: every signal reaches it.
    ...(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGPIPE', 'SIGVTALRM', 'SIGXCPU'] as const).map((sig): Row => (
      { name: `no --fork: ${sig} reaches the program`, args: ['-U'], signal: sig, traps: [sig], expected: passedOn(sig) })),
    { name: 'no --fork -n: SIGHUP reaches the program', args: ['-n'], signal: 'SIGHUP', traps: ['SIGHUP'], expected: passedOn('SIGHUP') },
    { name: 'no --fork: SIGTERM, not trapped, kills the program', args: ['-U'], signal: 'SIGTERM', traps: [],
      expected: { code: null, signal: 'SIGTERM', stdout: '', orphaned: false } },
    // With --fork util-linux (2.36+) blocks SIGINT and SIGTERM in the launcher and waits on...
    // (The test then ends the program with SIGHUP, which util-linux 2.38.1 re-raises; SIGKILL it cannot.)
    { name: '--fork: SIGTERM does not reach the program', args: ['-f'], signal: 'SIGTERM', traps: ['SIGTERM'], then: 'SIGHUP',
      expected: { code: null, signal: 'SIGHUP', stdout: '', orphaned: false } },
    // As PID 1 the program ignores every signal it has no handler for (pid_namespaces(7)): it traps SIGHUP to end.
    { name: '--fork --pid: SIGINT does not reach the program', args: ['-fp'], signal: 'SIGINT', traps: ['SIGINT', 'SIGHUP'], then: 'SIGHUP',
      expected: { code: 5, signal: null, stdout: 'got SIGHUP\n', orphaned: false } },
    // ...and other signals kill it by their default action, leaving the program running.
    { name: '--fork: SIGUSR1 kills the launcher, the program runs on', args: ['-f'], signal: 'SIGUSR1', traps: ['SIGUSR1'],
      expected: { code: null, signal: 'SIGUSR1', stdout: '', orphaned: true } },
    { name: '--fork: SIGHUP kills the launcher, the program runs on', args: ['-f'], signal: 'SIGHUP', traps: ['SIGHUP'],
      expected: { code: null, signal: 'SIGHUP', stdout: '', orphaned: true } },
    { name: '--fork: SIGKILL kills the launcher, the program runs on', args: ['-f'], signal: 'SIGKILL', traps: [],
      expected: { code: null, signal: 'SIGKILL', stdout: '', orphaned: true } },
    // --kill-child: the program gets a signal when the launcher dies.
    { name: '--kill-child: the launcher\'s death kills the program', args: ['--kill-child'], signal: 'SIGKILL', traps: [],
      expected: { code: null, signal: 'SIGKILL', stdout: '', orphaned: false } },
    { name: '--kill-child=SIGUSR1: the program gets SIGUSR1', args: ['--kill-child=SIGUSR1'], signal: 'SIGKILL', traps: ['SIGUSR1'],
      expected: { code: null, signal: 'SIGKILL', stdout: 'got SIGUSR1\n', orphaned: false } },
    { name: '--kill-child=usr2 -p (lower case, no SIG prefix)', args: ['--kill-child=usr2', '-p'], signal: 'SIGKILL', traps: ['SIGUSR2'],
      expected: { code: null, signal: 'SIGKILL', stdout: 'got SIGUSR2\n', orphaned: false } },
    // --forward-signals (util-linux 2.42): SIGINT/SIGTERM go to the program, as without --fork.
    {
      name: '--forward-signals: SIGTERM is passed to the program', args: ['--forward-signals'], theirs: ['-U'], signal: 'SIGTERM', traps: ['SIGTERM'],
      why: '--forward-signals is 2.42: the same as util-linux without --fork', expected: passedOn('SIGTERM'),
    },
    {
      name: '--forward-signals -fp: SIGINT is passed to the program', args: ['--forward-signals', '-fp'], theirs: ['-U'], signal: 'SIGINT', traps: ['SIGINT'],
      why: '--forward-signals is 2.42', expected: passedOn('SIGINT'),
    },
  ];

  signalTable(ROWS, (row) => ({ theirs: ['unshare', ...(row.theirs ?? row.args)], ours: [bin('ns-unshare'), ...row.args] }),
              ['unshare', 'ns-unshare']);

  describe('under nohup (SIGHUP ignored by the caller)', () => {
    // A shell started with a signal ignored cannot trap it (POSIX): the program stays quiet,
    // and the test ends it with SIGTERM, which it traps.
    const rows: Row[] = [
      { name: '--fork: SIGHUP leaves launcher and program running', args: ['-f'], signal: 'SIGHUP', traps: ['SIGHUP', 'SIGTERM'],
        then: 'SIGTERM', expected: passedOn('SIGTERM') },
      { name: 'no --fork: SIGHUP does not reach the program', args: ['-U'], signal: 'SIGHUP', traps: ['SIGHUP', 'SIGTERM'],
        then: 'SIGTERM', expected: passedOn('SIGTERM') },
    ];
    signalTable(rows, (row) => ({ theirs: ['nohup', 'unshare', ...row.args], ours: ['nohup', bin('ns-unshare'), ...row.args] }),
                ['unshare', 'ns-unshare']);
  });

  // Known limitation, reported: Node resets every signal disposition at start-up (PlatformInit),
  // so what the launcher inherited as ignored (nohup's SIGHUP, `trap '' INT`, SIGINT/SIGQUIT of
  // a background job in a script) is lost before any of our code runs, and the program gets the
  // default actions. util-linux's program keeps them across exec.
  for (const [how, wrap] of [['nohup', ['nohup']], ["trap '' INT", ['sh', '-c', 'trap "" INT; exec "$@"', 'sh']]] as const) {
    it(`signals ignored by whoever started the launcher stay ignored (${how})`, async () => {
      const probe = ['sh', '-c', 'grep ^SigIgn /proc/self/status'];
      const [theirs, ours] = await Promise.all([
        runAsync([...wrap, 'unshare', '-U', ...probe]), runAsync([...wrap, bin('ns-unshare'), '-U', ...probe])]);
      expect(theirs.stdout).to.match(/^SigIgn:\s+0*[1-9a-f]+\n$/);
      expect(ours.stdout).to.equal(theirs.stdout);
    });
  }

  it('--fork: SIGUSR1 never opens a debugger port', async () => {
    // Node starts its inspector on SIGUSR1 unless something handles the signal; a root-owned
    // launcher must never listen on 127.0.0.1:9229 because someone sent it a signal.
    const outcome = await signalLauncher([bin('ns-unshare'), '-f'], 'SIGUSR1', ['SIGUSR1'], 'SIGKILL');
    expect(outcome.stdout).to.not.match(/Debugger/);
    const r = await runAsync(['sh', '-c', 'ss -Htlnp "sport = :9229" || true']);
    expect(r.stdout).to.equal('');
  });
});
