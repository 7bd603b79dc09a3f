/**
 * Bad-input tables and parser fuzzing for every nstools CLI, shared by the packages' tests.
 * Vectors run through cli-driver.ts (in-process `main`, no program run); a few are also
 * launched as real processes to show the driver reports what a user would see.
 */
import { expect } from 'chai';
import { spawn as nodeSpawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawn, type PhasedOp } from 'ns-core';
import { rejectionProblem, type DriverReport, type DriverRequest, type FuzzSummary, type Outcome, type OutcomeKind } from './cli-driver';

export type { Outcome, FuzzSummary };

export interface CliUnderTest {
  readonly prog: string;
  /** Package that owns the CLI. */
  readonly pkg: string;
  /** Compiled module exporting main(argv), relative to the package. */
  readonly module: string;
  readonly bin: string;
}

/** A package's CLI, its bin as the package's own package.json declares it. */
function cliOf(pkg: string, prog = pkg, module = 'dist/src/cli.js'): CliUnderTest {
  const bin = (require(`${pkg}/package.json`) as { bin?: Record<string, string> }).bin?.[prog];
  if (!bin) throw new Error(`${pkg} declares no bin ${prog}`);
  return { prog, pkg, module, bin };
}

export const CLI_UNDER_TEST: readonly CliUnderTest[] = [
  cliOf('ns-core', 'ns-ls'), cliOf('ns-uts'), cliOf('ns-user'), cliOf('ns-ipc'), cliOf('ns-time'), cliOf('ns-cgroup'),
  cliOf('ns-run', 'ns-enter', 'dist/src/enter/cli.js'),
];

export function cliUnderTest(prog: string): CliUnderTest {
  const cli = CLI_UNDER_TEST.find((c) => c.prog === prog);
  if (!cli) throw new Error(`no CLI named ${prog}`);
  return cli;
}

function packagePath(cli: CliUnderTest, file: string): string {
  return join(dirname(require.resolve(`${cli.pkg}/package.json`)), file);
}

const DRIVER = join(__dirname, 'cli-driver.js');

function parseReport(stdout: string, stderr: string, status: string): DriverReport {
  try {
    return JSON.parse(stdout) as DriverReport;
  } catch {
    throw new Error(`cli-driver gave no report (${status}): ${stderr.slice(-2000)}`);
  }
}

/**
 * Runs the driver in a fresh Node. With `files`, inside a new mount namespace (made by ns-core's
 * spawn) where each path, e.g. /etc/subuid, shows the given text instead: a bind mount the host
 * never sees, so tests need not touch the machine's files.
 */
export async function runDriver(request: DriverRequest, files?: Readonly<Record<string, string>>, timeoutMs = 120_000): Promise<DriverReport> {
  const dir = files ? mkdtempSync(join(tmpdir(), 'nsx-cli-')) : undefined;
  try {
    const binds: PhasedOp[] = Object.entries(files ?? {}).map(([target, text], i) => {
      const source = join(dir!, `file-${i}`);
      writeFileSync(source, text);
      return { op: 'mount', source, target, flags: ['BIND'], phase: 'mounts', step: `bind ${target}` };
    });
    const child = files
      ? await spawn([process.execPath, DRIVER], { create: ['mnt'], stdio: ['pipe', 'pipe', 'pipe'], steps: [{ name: 'files', child: [
        { op: 'mount', target: '/', flags: ['REC', 'PRIVATE'], phase: 'propagation' }, ...binds] }] })
      : nodeSpawn(process.execPath, [DRIVER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdin!.end(JSON.stringify(request));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const status = await ('exited' in child
      ? child.exited.then((s) => `${s.code ?? s.signal}`)
      : new Promise<string>((resolve) => child.once('close', (code, signal) => resolve(`${code ?? signal}`))));
    clearTimeout(timer);
    await new Promise((r) => setImmediate(r));
    return parseReport(stdout, stderr, status === 'SIGKILL' ? `killed after ${timeoutMs} ms: a vector hangs` : `exit ${status}`);
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

export interface BadInput {
  /** What is wrong, as the test's title says it. */
  readonly why: string;
  /** The vector, or a function computing it once the table's `before` has run. */
  readonly argv: readonly string[] | (() => readonly string[]);
  /** Text the error line must contain: the option, the value. */
  readonly mentions: readonly (string | (() => string))[];
  /** Files to show in place of the machine's while this row runs (see runDriver). */
  readonly files?: Readonly<Record<string, string>>;
  /**
   * Run as a real process: for input only the kernel refuses, once the program is being
   * started (an offset out of range, a target that has exited), which the driver never reaches.
   */
  readonly launch?: boolean;
}

function launched(cli: CliUnderTest, argv: readonly string[]): Outcome {
  const r = spawnSync(process.execPath, [packagePath(cli, cli.bin), ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  const problem = r.status === 1 ? rejectionProblem(cli.prog, r.stderr, argv) : `exit status ${r.status ?? r.signal}`;
  return { argv, kind: problem ? 'failure' : 'rejected', exit: r.status, stdout: r.stdout, stderr: r.stderr, ...(problem ? { problem } : {}) };
}

const resolve = <T>(v: T | (() => T)): T => (typeof v === 'function' ? (v as () => T)() : v);

/**
 * Declares one test per row: the CLI exits 1 having printed `prog: <message>` naming the
 * option and value (and at most its --help or hint line), no stack trace, no program run.
 * Plus a check that the first rows, launched as real processes, give the same status and text.
 */
export function describeBadInput(cli: CliUnderTest, table: readonly BadInput[], hooks: { before?: () => void | Promise<void>; after?: () => void | Promise<void> } = {}): void {
  describe(`${cli.prog}: bad input`, () => {
    const outcomes = new Map<BadInput, Outcome>();
    before(async function () {
      this.timeout(60_000);
      await hooks.before?.();
      // One driver per distinct set of replaced files.
      const groups = new Map<Readonly<Record<string, string>> | undefined, BadInput[]>();
      for (const row of table) {
        if (row.launch) outcomes.set(row, launched(cli, resolve(row.argv)));
        else groups.set(row.files, [...(groups.get(row.files) ?? []), row]);
      }
      await Promise.all([...groups].map(async ([files, rows]) => {
        const report = await runDriver({ module: packagePath(cli, cli.module), prog: cli.prog, cases: rows.map((r) => resolve(r.argv)) }, files);
        rows.forEach((row, i) => outcomes.set(row, report.cases[i]!));
      }));
    });
    after(async () => {
      await hooks.after?.();
    });

    for (const row of table) {
      it(`${row.why}`, () => {
        const o = outcomes.get(row)!;
        const shown = `${JSON.stringify(o.argv)} -> ${o.kind} exit ${o.exit}: ${o.stderr}${o.problem ?? ''}`;
        expect(o.kind, shown).to.equal('rejected');
        expect(o.exit, shown).to.equal(1);
        const line = o.stderr.split('\n')[0]!;
        for (const m of row.mentions) expect(line, shown).to.contain(resolve(m));
      });
    }

    it('reports what a real launch of the CLI reports (first rows, as processes)', function () {
      this.timeout(30_000);
      const rows = table.filter((r) => !r.files && !r.launch).slice(0, 3);
      expect(rows.length).to.be.greaterThan(0);
      for (const row of rows) {
        const o = outcomes.get(row)!;
        const r = spawnSync(process.execPath, [packagePath(cli, cli.bin), ...o.argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        expect({ status: r.status, stderr: r.stderr }, JSON.stringify(o.argv)).to.deep.equal({ status: o.exit, stderr: o.stderr });
      }
    });
  });
}

/** A failure the CLI's owner knows about (reported to the lead); counted, not failed on. */
export interface KnownBug {
  readonly reported: string;
  readonly matches: (o: Outcome) => boolean;
}

export interface FuzzOptions {
  readonly vectors?: number;
  /** Driver processes run side by side, each taking an equal share of the vectors. */
  readonly workers?: number;
  readonly seed?: number;
  readonly knownBugs?: readonly KnownBug[];
  readonly timeoutMs?: number;
  /** Options --help must name (the vectors are built from them); 0 for a CLI without any. */
  readonly minOptions?: number;
}

/** NSX_CLI_FUZZ_VECTORS shortens the run for a quick local loop; the default is the 10,000. */
const DEFAULT_VECTORS = Number(process.env['NSX_CLI_FUZZ_VECTORS'] ?? 10_000);

/** Feeds random vectors to a CLI's parser and merges the workers' summaries. */
export async function runCliFuzz(cli: CliUnderTest, options: FuzzOptions = {}): Promise<FuzzSummary> {
  const vectors = options.vectors ?? DEFAULT_VECTORS;
  const workers = options.workers ?? 2;
  const seed = options.seed ?? Number(process.env['FUZZ_SEED'] ?? 20_240_601);
  const shares = Array.from({ length: workers }, (_, w) => Math.floor(vectors / workers) + (w < vectors % workers ? 1 : 0));
  const reports = await Promise.all(shares.map((n, w) => runDriver(
    { module: packagePath(cli, cli.module), prog: cli.prog, fuzz: { vectors: n, seed: seed + w } }, undefined, options.timeoutMs)));
  const outcomes: Record<OutcomeKind, number> = { help: 0, rejected: 0, spawn: 0, work: 0, failure: 0 };
  const failures: Outcome[] = [];
  for (const r of reports) {
    for (const [k, n] of Object.entries(r.fuzz!.outcomes)) outcomes[k as OutcomeKind] += n;
    failures.push(...r.fuzz!.failures);
  }
  return { seed, tried: vectors, outcomes, failures, options: reports[0]!.fuzz!.options };
}

/**
 * Declares the fuzz test: no crash, hang, uncaught exception, stack trace or internal error
 * text for any vector; and not vacuous: real shares of the vectors were refused and reached
 * the point where the CLI would start work.
 */
export function describeFuzz(cli: CliUnderTest, options: FuzzOptions = {}): void {
  const vectors = options.vectors ?? DEFAULT_VECTORS;
  describe(`${cli.prog}: parser fuzzing`, () => {
    it(`${vectors.toLocaleString('en')} random argument vectors: no crash, hang or uncaught exception`, async function () {
      this.timeout(180_000);
      const summary = await runCliFuzz(cli, options);
      const known = summary.failures.filter((f) => options.knownBugs?.some((b) => b.matches(f)));
      const unknown = summary.failures.filter((f) => !known.includes(f));
      expect(unknown.map((f) => `${JSON.stringify(f.argv)}: ${f.problem} ${f.stderr}`), `seed ${summary.seed}`).to.deep.equal([]);
      const o = summary.outcomes;
      expect(o.help + o.rejected + o.spawn + o.work + o.failure).to.equal(vectors);
      // Every vector was refused or went through: the first prove the checks run, the second
      // that valid vectors were generated and produced plans the exec stage accepts.
      expect(o.rejected, JSON.stringify(o)).to.be.at.least(vectors * 0.05);
      expect(o.spawn + o.work, JSON.stringify(o)).to.be.at.least(vectors * 0.05);
      expect(summary.options.length, 'options read from --help').to.be.at.least(options.minOptions ?? 1);
    });
  });
}
