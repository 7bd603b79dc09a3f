/** Signals sent to a launcher (unshare, nsenter, ours) and what becomes of its program. */
import { expect } from 'chai';
import { OUR_NAME, bothAsync, inParallel, type Ran, type Tool } from './cli';
import { Target } from './fixtures';
import { isAlive, waitFor } from 'ns-test-kit';

/** A program that reports each trapped signal it gets with a line, and then exits 5. */
function trapping(signals: readonly NodeJS.Signals[]): string[] {
  const traps = signals.map((s) => `trap 'echo got ${s}; exit 5' ${s.slice(3)}`).join('; ');
  return ['sh', '-c', `${traps}${traps ? '; ' : ''}echo ready; while :; do sleep 0.05; done`];
}

export interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The program outlived the launcher (the test then killed it). */
  orphaned: boolean;
}

/**
 * Proving that something did NOT happen (a signal was not passed on, a program was not
 * killed) needs a grace period. Only such negative observations wait for it; a slow machine
 * can make them pass wrongly, never fail wrongly.
 */
const GRACE_MS = 500;
const settle = (done: () => boolean) => waitFor('settling', () => (done() ? true : undefined), GRACE_MS).catch(() => false);

/**
 * Starts `LAUNCHER... program`, waits for "ready", sends `signal` to the launcher's pid. If
 * the launcher is still there after the grace period, ends the program with `then`. Reports
 * how the launcher ended, what the program printed, and whether the program outlived it.
 */
export async function signalLauncher(launcher: readonly string[], signal: NodeJS.Signals,
                                     traps: readonly NodeJS.Signals[], then: NodeJS.Signals): Promise<Outcome> {
  const t = await Target.start([...launcher, ...trapping(traps)], { comm: 'sh' });
  const program = t.pid;
  let ended = false;
  void t.exited.then(() => { ended = true; });
  process.kill(t.launcher.pid!, signal);
  await settle(() => ended);
  if (!ended) {
    if (isAlive(program)) process.kill(program, then);
  } else {
    await settle(() => !isAlive(program)); // --kill-child: the program's death signal is on its way
  }
  const { code, signal: sig } = await t.exited;
  const orphaned = isAlive(program);
  if (orphaned) process.kill(program, 'SIGKILL');
  await waitFor(`program ${program} to end`, () => (isAlive(program) ? undefined : true));
  await t.closed; // 'exit' can come before the last of the output
  // Known difference, reported to ns-core: PR_SET_PDEATHSIG fires when the parent *thread*
  // exits (prctl(2)), and a dying multithreaded launcher may hand the child from thread to
  // thread, so --kill-child's signal can arrive more than once. What is compared is which
  // signals the program got.
  const lines = [...new Set(t.stdout.replace('ready\n', '').split('\n').filter(Boolean))];
  return { code, signal: sig, stdout: lines.map((l) => `${l}\n`).join(''), orphaned };
}


export interface SignalRow {
  readonly name: string;
  readonly signal: NodeJS.Signals;
  /** Signals the program traps (reporting and exiting 5). */
  readonly traps: readonly NodeJS.Signals[];
  /** How the test ends the program if the launcher is still there after the grace period. */
  readonly then?: NodeJS.Signals;
  readonly expected: Outcome;
}

/**
 * Registers, in the calling describe(), one test per row: util-linux's launcher and ours get
 * the row's signal, util-linux must end as expected and ours as util-linux did. Rows run a
 * few at a time in a before() hook.
 */
export function signalTable<R extends SignalRow>(rows: readonly R[], argv: (row: R) => { theirs: string[]; ours: string[] },
                                                 names: readonly [string, string]): void {
  let outcomes: { theirs: Outcome; ours: Outcome }[];
  before(async () => {
    outcomes = await inParallel(rows.map((row) => async () => {
      const { theirs, ours } = argv(row);
      const then = row.then ?? 'SIGKILL';
      const [a, b] = await Promise.all([signalLauncher(theirs, row.signal, row.traps, then), signalLauncher(ours, row.signal, row.traps, then)]);
      return { theirs: a, ours: b };
    }), 3);
  });
  rows.forEach((row, i) => {
    it(row.name, () => {
      const { theirs, ours } = outcomes[i]!;
      expect(theirs, names[0]).to.deep.equal(row.expected);
      expect(ours, names[1]).to.deep.equal(theirs);
    });
  });
}

export interface StatusRow {
  readonly args: readonly string[];
  readonly script: string;
  readonly expected: { status: number | null; signal: NodeJS.Signals | null };
  readonly input?: string;
}

/**
 * Registers one test per row: `TOOL PREFIX... ARGS sh -c SCRIPT` must end with the expected
 * status or signal for util-linux and for ours, with the same output.
 */
export function statusTable(tool: Tool, rows: readonly StatusRow[], prefix: () => string[] = () => []): void {
  let results: { theirs: Ran; ours: Ran }[];
  before(async () => {
    results = await inParallel(rows.map((row) => () =>
      bothAsync(tool, [...prefix(), ...row.args, 'sh', '-c', row.script], row.input !== undefined ? { input: row.input } : {})));
  });
  rows.forEach((row, i) => {
    const expected = row.expected.signal ?? `exit ${row.expected.status}`;
    it(`${row.args.join(' ') || '(no options)'} sh -c '${row.script}' -> ${expected}`, () => {
      const { theirs, ours } = results[i]!;
      expect({ status: theirs.status, signal: theirs.signal }, `${tool}: ${theirs.stderr}`).to.deep.equal(row.expected);
      expect({ status: ours.status, signal: ours.signal }, `${OUR_NAME[tool]}: ${ours.stderr}`).to.deep.equal(row.expected);
      expect(ours.stdout).to.equal(theirs.stdout);
      expect(ours.stderr).to.equal(theirs.stderr);
    });
  });
}
