/**
 * Runs a CLI's `main(argv)` many times in one Node process, without running any program, and
 * reports what each argument vector led to. Started by cli-harness.ts as
 * `node cli-driver.js` with a JSON DriverRequest on stdin; writes a DriverReport to stdout.
 *
 * Why in-process: 10,000 launches of a CLI cost ~150 ms each; calling `main` costs ~0.5 ms.
 * How, without touching the CLIs: they reach ns-core through `require('ns-core/cli')`, whose
 * exports are getters reading the modules' own export objects at call time. So replacing
 * `execInPlace` on dist/src/exec/in-place.js, and `spawn` on dist/src/exec/spawn.js for the
 * launches that must keep Node (and `listNamespaces` on dist/src/ls.js for ns-ls), intercepts
 * every CLI at the point where it would start work. The stubs compile the options exactly as
 * execInPlace() or spawn() would (compileInPlace or compileSpawn, encodePlan, then the C
 * decoder, and in place no clone flags), so a vector only counts as "reached spawn" if its
 * plan is one the exec stage accepts, and then stop the CLI by throwing. process.exit throws too (the first code is kept, as a real exit
 * would end there), and stdout/stderr writes are captured up to that point. cli-harness.ts
 * also launches a few vectors as real processes and compares, so a stub that changed
 * behaviour would show.
 */
import { readFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { InPlaceOptions, NamespaceEntry, SpawnOptions } from 'ns-core';

export type OutcomeKind = 'help' | 'rejected' | 'spawn' | 'work' | 'failure';

export interface Outcome {
  readonly argv: readonly string[];
  readonly kind: OutcomeKind;
  /** First exit code the CLI asked for, or null if it returned or hung. */
  readonly exit: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Why a 'failure' is one. */
  readonly problem?: string;
}

export interface DriverRequest {
  /** Compiled CLI module exporting main(argv). */
  readonly module: string;
  readonly prog: string;
  readonly cases?: readonly (readonly string[])[];
  readonly fuzz?: { readonly vectors: number; readonly seed: number };
  /** The exit status of a refused command line (util-linux 1, ns-run 125). */
  readonly usageExit?: number;
  /** Per-vector limit: a main() that has not settled by then hangs. */
  readonly vectorTimeoutMs?: number;
}

export interface FuzzSummary {
  readonly seed: number;
  readonly tried: number;
  readonly outcomes: Record<OutcomeKind, number>;
  /** The first failures (at most 20), with their vectors. */
  readonly failures: readonly Outcome[];
  /** The option vocabulary the vectors were built from (read from --help). */
  readonly options: readonly string[];
}

export interface DriverReport {
  readonly cases: readonly Outcome[];
  readonly fuzz?: FuzzSummary;
}

/** Error text that is JavaScript's, not ours: a CLI let an internal error through. */
const INTERNAL_ERROR = /is not a function|Cannot read propert|of undefined|of null|Received (type|an instance)|is not iterable|Maximum call stack|Invalid (array|string) length|\[object Object\]/;
const STACK_LINE = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;

class ExitCalled extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
class ReachedWork extends Error {
  constructor() {
    super('the driver stops the CLI here: no program runs');
  }
}

/** Checks a rejection's text: `prog: message`, then at most a --help or hint line, no stack. */
export function rejectionProblem(prog: string, stderr: string, argv: readonly string[] = []): string | undefined {
  if (STACK_LINE.test(stderr)) return 'stack trace printed';
  const lines = stderr.replace(/\n$/, '').split('\n');
  if (lines.length === 0 || !lines[0]!.startsWith(`${prog}: `) || lines[0]!.length <= prog.length + 2) return 'no "prog: message" line';
  // What the user typed may say anything: only the rest of the line must not be JavaScript's.
  const ours = argv.filter((w) => w.length >= 3).reduce((line, w) => line.split(w).join(''), lines[0]!);
  if (INTERNAL_ERROR.test(ours)) return 'a JavaScript error leaked into the message';
  // A value with a line break, echoed in the message, breaks the line: the user's doing.
  if (argv.some((w) => /[\n\r]/.test(w))) return undefined;
  const extra = lines.slice(1).filter((l) => l !== `Try '${prog} --help' for more information.` && !l.startsWith(`${prog}: hint: `));
  if (extra.length) return `more than one error line: ${JSON.stringify(extra)}`;
  return undefined;
}

interface Capture {
  stdout: string;
  stderr: string;
  exit: number | null;
  reached: boolean;
  stray: unknown;
}

async function main(): Promise<void> {
  const request = JSON.parse(readFileSync(0, 'utf8')) as DriverRequest;
  // ns-core's own modules, by path: the driver patches their export objects (see above).
  const src = join(dirname(require.resolve('ns-core/package.json')), 'dist/src');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const spawnModule = require(join(src, 'exec/spawn.js')) as Record<string, unknown>;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ls = require(join(src, 'ls.js')) as { listNamespaces: (o: unknown) => NamespaceEntry[] };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const core = require(join(src, 'index.js')) as typeof import('ns-core');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { execStage } = require(join(src, 'exec/native.js')) as { execStage(): { decode(plan: Buffer, len: number, out: Buffer, bad: Buffer): number } };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { DECODE_ERRORS } = require(join(src, 'exec/protocol.js')) as { DECODE_ERRORS: readonly string[] };

  const realExit = process.exit.bind(process);
  const realStdoutWrite = process.stdout.write.bind(process.stdout);
  let cap: Capture = { stdout: '', stderr: '', exit: null, reached: false, stray: undefined };
  const capture = (stream: 'stdout' | 'stderr') => (chunk: string | Uint8Array): boolean => {
    if (cap.exit === null && !cap.reached) cap[stream] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  };
  process.stdout.write = capture('stdout') as typeof process.stdout.write;
  process.stderr.write = capture('stderr') as typeof process.stderr.write;
  // A CLI that writes its output with ns-core's writeAll (one write(2), no stream: ns-ls) is
  // captured the same way; an fd other than 1 and 2 is written as it would be.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bytes = require(join(src, 'bytes.js')) as Record<string, unknown>;
  const realWriteAll = bytes['writeAll'] as (fd: number, text: string) => void;
  bytes['writeAll'] = (fd: number, text: string) => {
    if (fd === 1 || fd === 2) capture(fd === 1 ? 'stdout' : 'stderr')(text);
    else realWriteAll(fd, text);
  };
  process.exit = ((code?: number) => {
    if (cap.exit === null && !cap.reached) cap.exit = code ?? 0;
    throw new ExitCalled(code ?? 0);
  }) as typeof process.exit;
  process.on('unhandledRejection', (e) => { cap.stray ??= e; });
  process.on('uncaughtException', (e) => { cap.stray ??= e; });

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const inPlace = require(join(src, 'exec/in-place.js')) as Record<string, unknown>;
  inPlace['execInPlace'] = (argv: readonly string[], options: InPlaceOptions) => {
    const fdMap = new Map<number, number>([[0, 0], [1, 1], [2, 2]]);
    for (const [child, ours] of Object.entries(options.fds ?? {})) fdMap.set(Number(child), ours);
    const compiled = core.compileInPlace(argv, options, fdMap, process.pid).plan;
    if (compiled.cloneKinds.length) throw new Error(`an in-place plan with clone flags: ${compiled.cloneKinds.join(',')}`);
    const plan = core.encodePlan(compiled);
    const rc = execStage().decode(plan, plan.length, Buffer.alloc(64), Buffer.alloc(8));
    if (rc !== 0) throw new Error(`the exec stage refuses the plan this CLI built: ${DECODE_ERRORS[rc]}`);
    cap.reached = true;
    throw new ReachedWork();
  };
  spawnModule['spawn'] = async (argv: readonly string[], options: SpawnOptions) => {
    const fdMap = new Map<number, number>([[0, 0], [1, 1], [2, 2]]);
    for (const [child, ours] of Object.entries(options.fds ?? {})) fdMap.set(Number(child), ours);
    // Usage errors found here are real ones the CLI would print: let them through.
    const plan = core.encodePlan(core.compileSpawn(argv, options, fdMap).plan);
    const out = Buffer.alloc(64);
    const rc = execStage().decode(plan, plan.length, out, Buffer.alloc(8));
    if (rc !== 0) throw new Error(`the exec stage refuses the plan this CLI built: ${DECODE_ERRORS[rc]}`);
    cap.reached = true;
    throw new ReachedWork();
  };
  // ns-ls reads every process's namespaces: do it once, then hand the CLI (a few of) them.
  const entries = ls.listNamespaces({ relations: true }).slice(0, 12);
  ls.listNamespaces = () => {
    cap.reached = true;
    return entries.map((e) => ({ ...e }));
  };

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cli = require(request.module) as { main: (argv: readonly string[]) => void | Promise<void> };
  const timeoutMs = request.vectorTimeoutMs ?? 10_000;

  async function run(argv: readonly string[]): Promise<Outcome> {
    cap = { stdout: '', stderr: '', exit: null, reached: false, stray: undefined };
    let thrown: unknown;
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<'hang'>((resolve) => { timer = setTimeout(() => resolve('hang'), timeoutMs); });
    try {
      const settled = await Promise.race([Promise.resolve().then(() => cli.main(argv)).then(() => 'done' as const), hang]);
      if (settled === 'hang') return { argv, kind: 'failure', exit: null, stdout: cap.stdout, stderr: cap.stderr, problem: `no result after ${timeoutMs} ms` };
    } catch (e) {
      thrown = e;
    } finally {
      clearTimeout(timer);
    }
    // Let stray promises of this vector surface before judging it.
    await new Promise((r) => setImmediate(r));
    const base = { argv, exit: cap.exit, stdout: cap.stdout, stderr: cap.stderr };
    const fail = (problem: string): Outcome => ({ ...base, kind: 'failure', problem });
    if (cap.stray) return fail(`uncaught: ${(cap.stray as Error)?.stack ?? String(cap.stray)}`);
    if (thrown !== undefined && !(thrown instanceof ExitCalled) && !(thrown instanceof ReachedWork)) {
      return fail(`main threw: ${(thrown as Error)?.stack ?? String(thrown)}`);
    }
    if (cap.reached) return { ...base, kind: request.prog === 'ns-ls' ? 'work' : 'spawn' };
    if (cap.exit === 0) return STACK_LINE.test(cap.stderr) ? fail('stack trace printed') : { ...base, kind: 'help' };
    if (cap.exit === (request.usageExit ?? 1)) {
      const problem = rejectionProblem(request.prog, cap.stderr, argv);
      return problem ? fail(problem) : { ...base, kind: 'rejected' };
    }
    return fail(cap.exit === null ? 'main returned without exiting or starting work' : `exit status ${cap.exit}`);
  }

  const cases: Outcome[] = [];
  for (const argv of request.cases ?? []) cases.push(await run(argv));
  let fuzz: FuzzSummary | undefined;
  if (request.fuzz) {
    const help = await run(['--help']);
    const vocabulary = optionVocabulary(help.stdout);
    const random = mulberry32(request.fuzz.seed);
    const outcomes: Record<OutcomeKind, number> = { help: 0, rejected: 0, spawn: 0, work: 0, failure: 0 };
    const failures: Outcome[] = [];
    for (let i = 0; i < request.fuzz.vectors; i++) {
      const o = await run(randomVector(random, vocabulary));
      outcomes[o.kind]++;
      if (o.kind === 'failure' && failures.length < 20) failures.push(o);
    }
    fuzz = { seed: request.fuzz.seed, tried: request.fuzz.vectors, outcomes, failures, options: vocabulary };
  }
  const report: DriverReport = { cases, ...(fuzz ? { fuzz } : {}) };
  writeSync(1, JSON.stringify(report));
  process.stdout.write = realStdoutWrite;
  realExit(0);
}

/** Options named in --help: long ones, and short letters ("-r," or nsenter-style "-U:"). */
export function optionVocabulary(help: string): string[] {
  const names = new Set<string>();
  for (const m of help.matchAll(/(?<![\w-])(--[a-z][\w-]*|-[A-Za-z])(?=[\s,:=[]|$)/g)) names.add(m[1]!);
  for (const meta of ['--help', '-h', '--version', '-V']) names.delete(meta);
  return [...names].sort();
}

/** Values that sit on edges: types, ranges, separators, names, paths, sizes, odd characters. */
const VALUES = [
  '', ' ', '0', '1', '-1', '2', '3', '42', '65535', '65536', '4294967294', '4294967295', '4294967296',
  '9007199254740993', '1e3', '0x10', '010', '1.5', '-0.5', '.5', '1.0000000001', 'NaN', 'Infinity', ' 7', '7 ',
  'max', 'auto', 'subids', 'all', 'allow', 'deny', 'follow', 'root', 'nobody', 'nosuchuser-nsx', '0:0:1',
  '0:100000:65536', '1,2,3', '0:0:0', '1:2', 'a:b:c', '0:0', '1:123', '/', '/proc/self/ns/net',
  '/proc/self/ns/user', '/proc/1/ns/mnt', '/no/such/path', '../x', 'a/../b', '/sys/fs/cgroup', 'nsx-fuzz-group',
  '64M', '1G', '10T', '0.001', '1KiB', 'SIGKILL', 'x'.repeat(70), 'é', '☃', '-', '--', '-x', '$(id)', '%n%s',
  'true', '/bin/true', '\t', 'a\nb', String(process.pid), '99999999', '1048577',
];
const PROGRAMS = ['true', '/bin/true', 'sh', '-c', 'exit 3', '/no/such/program'];

/** A small, seedable PRNG (mulberry32): the same seed gives the same vectors. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomVector(random: () => number, vocabulary: readonly string[]): string[] {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const longs = vocabulary.filter((o) => o.startsWith('--'));
  const shorts = vocabulary.filter((o) => !o.startsWith('--'));
  const out: string[] = [];
  const tokens = Math.floor(random() * 7);
  for (let t = 0; t < tokens; t++) {
    const r = random();
    const long = longs.length ? pick(longs) : '--bogus';
    const short = shorts.length ? pick(shorts) : '-Q';
    if (r < 0.2) out.push(long);
    else if (r < 0.35) out.push(long, pick(VALUES));
    else if (r < 0.45) out.push(`${long}=${pick(VALUES)}`);
    else if (r < 0.5) out.push(`--no-${long.slice(2)}`);
    else if (r < 0.6) out.push(short);
    else if (r < 0.65) out.push(`${short}${pick(VALUES)}`);
    else if (r < 0.7) out.push(short, pick(VALUES));
    else if (r < 0.75) out.push(`${short}${shorts.length ? pick(shorts).slice(1) : 'x'}`);
    else if (r < 0.8) out.push(pick(['--bogus', '-Q', '--', '-', '--=', '---x', '--help=1']));
    else if (r < 0.9) out.push(pick(VALUES));
    else out.push(pick(PROGRAMS));
  }
  // Most real command lines name a program; some end with the options alone.
  if (random() < 0.7) out.push(pick(PROGRAMS));
  return out;
}

if (require.main === module) {
  main().catch((e: unknown) => {
    writeSync(2, `cli-driver: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 2;
  });
}

