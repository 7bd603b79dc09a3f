/**
 * ns-enter as a process: exit statuses passed through (with and without the fork into a pid
 * namespace), and signals sent to the launcher. nsenter execs the program in place unless it
 * enters a pid namespace; then its parent waits and handles no signal at all.
 */
import { bin } from './cli';
import { Target } from './fixtures';
import { signalTable, statusTable, type Outcome, type SignalRow, type StatusRow } from './launch';

const STATUS_ROWS: StatusRow[] = [
  { args: ['-u'], script: 'exit 3', expected: { status: 3, signal: null } },
  { args: ['-p'], script: 'exit 4', expected: { status: 4, signal: null } },
  { args: ['-T'], script: 'exit 6', expected: { status: 6, signal: null } },
  { args: ['-a'], script: 'exit 7', expected: { status: 7, signal: null } },
  { args: ['-u'], script: 'kill -TERM $$', expected: { status: null, signal: 'SIGTERM' } },
  { args: ['-p'], script: 'kill -TERM $$', expected: { status: null, signal: 'SIGTERM' } },
  { args: ['-m', '-p'], script: 'kill -HUP $$', expected: { status: null, signal: 'SIGHUP' } },
  { args: ['-u'], script: 'kill -SEGV $$', expected: { status: null, signal: 'SIGSEGV' } },
  { args: ['-p'], script: 'kill -SEGV $$', expected: { status: null, signal: 'SIGSEGV' } },
  { args: ['-u'], script: 'cat', input: 'through stdin\n', expected: { status: 0, signal: null } },
  { args: ['-p'], script: 'cat', input: 'through stdin\n', expected: { status: 0, signal: null } },
];

describe('nsenter vs ns-enter: the launcher as a process', () => {
  let target: Target;
  before(async () => {
    target = await Target.unshare('unshare', ['-muinpf', '-C', '-T', '--mount-proc']);
  });
  after(async () => {
    await target?.stop();
  });

  describe('exit statuses', () => {
    statusTable('nsenter', STATUS_ROWS, () => ['-t', String(target.pid)]);
  });

  describe('signals sent to the launcher', () => {
    const passedOn = (s: NodeJS.Signals): Outcome => ({ code: 5, signal: null, stdout: `got ${s}\n`, orphaned: false });
    const ROWS: (SignalRow & { args: string[] })[] = [
      // Without a fork nsenter is the program.
      ...(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGALRM', 'SIGXCPU'] as const).map((sig) => (
        { name: `-u: ${sig} reaches the program`, args: ['-u'], signal: sig, traps: [sig], expected: passedOn(sig) })),
      // -T: ns-enter joins time from a relay process (timens_install refuses Node's threads);
      // nsenter is the program itself.
      ...(['SIGTERM', 'SIGUSR2', 'SIGVTALRM'] as const).map((sig) => (
        { name: `-T: ${sig} reaches the program`, args: ['-T'], signal: sig, traps: [sig], expected: passedOn(sig) })),
      // With -p nsenter forks and its parent handles nothing: it dies, the program runs on.
      ...(['SIGTERM', 'SIGINT', 'SIGUSR1', 'SIGHUP'] as const).map((sig) => (
        { name: `-p: ${sig} kills the launcher, the program runs on`, args: ['-p'], signal: sig, traps: [sig],
          expected: { code: null, signal: sig, stdout: '', orphaned: true } })),
    ];
    signalTable(ROWS, (row) => ({ theirs: ['nsenter', '-t', String(target.pid), ...row.args], ours: [bin('ns-enter'), '-t', String(target.pid), ...row.args] }),
                ['nsenter', 'ns-enter']);

    describe('under nohup (SIGHUP ignored by the caller)', () => {
      // The program cannot trap what it started ignoring (POSIX): the test ends it with SIGTERM.
      const rows: (SignalRow & { args: string[] })[] = [
        { name: '-p: SIGHUP leaves launcher and program running', args: ['-p'], signal: 'SIGHUP', traps: ['SIGHUP', 'SIGTERM'],
          then: 'SIGTERM', expected: passedOn('SIGTERM') },
        { name: '-u: SIGHUP does not reach the program', args: ['-u'], signal: 'SIGHUP', traps: ['SIGHUP', 'SIGTERM'],
          then: 'SIGTERM', expected: passedOn('SIGTERM') },
      ];
      signalTable(rows, (row) => ({ theirs: ['nohup', 'nsenter', '-t', String(target.pid), ...row.args],
                                    ours: ['nohup', bin('ns-enter'), '-t', String(target.pid), ...row.args] }), ['nsenter', 'ns-enter']);
    });
  });
});
