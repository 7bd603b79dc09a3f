/**
 * The exec stage built with AddressSanitizer and UndefinedBehaviorSanitizer (NSX_SANITIZE=1,
 * build/libnsexec-asan.so), loaded into a node that has the ASan runtime preloaded
 * (LD_PRELOAD=$(gcc -print-file-name=libasan.so); detect_leaks=0, V8 is not leak-clean), runs
 * the spawn tests without a report. Only the parent side is instrumented: the clone()d child
 * shares Node's memory and TLS on a foreign stack, where the runtimes deadlock Node (see
 * NSX_CHILD in nsexec.c); the decoder fuzzer covers the layout code the child relies on.
 *
 * Before trusting a clean run, two copies of the stage with a bug put in on purpose must be
 * reported in the same set-up: a heap overflow in nsx_spawn and a signed overflow in nsx_decode.
 *
 * These runs take ~10 s, so they start when mocha starts (a root hook) and run beside the other
 * ns-core tests; this file sorts last, and its tests only wait for the results.
 */
import { expect } from 'chai';
import { execFileSync, spawn as nodeSpawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '../..');
const build = join(root, 'build');
const sources = readdirSync(join(root, 'native')).filter((f) => /\.[ch]$/.test(f) && !f.startsWith('fuzz')).map((f) => join(root, 'native', f));

interface Run {
  status: number | null;
  /** stdout and stderr, interleaved. */
  output: string;
}

const LIBASAN = execFileSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();

/** The runtime preloaded into node itself only (through env(1)), not into the shell around it. */
function sanitized(stage: string, argv: readonly string[]): { argv: string[]; env: NodeJS.ProcessEnv } {
  return {
    argv: ['env', `LD_PRELOAD=${LIBASAN}`, ...argv],
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0:halt_on_error=1', UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1', NSX_EXEC_STAGE: stage },
  };
}

let jobs = 0;

/**
 * Runs argv detached: sh starts it in a subshell it does not wait for and exits, so the job is
 * reparented to init. It then never shows among this process's children, which the other
 * ns-core tests check for leaks while it runs. Output and exit status come back through files.
 */
async function run(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const base = join(dir, `job-${++jobs}`);
  const sh = nodeSpawn('sh', ['-c', '("$@" > "$JOB.out" 2>&1; echo $? > "$JOB.tmp"; mv "$JOB.tmp" "$JOB.status") &', 'sh', ...argv],
    { env: { ...env, JOB: base }, stdio: 'ignore' });
  await new Promise((r) => sh.once('exit', r));
  while (!existsSync(`${base}.status`)) await new Promise((r) => setTimeout(r, 50));
  return { status: Number(readFileSync(`${base}.status`, 'utf8')), output: readFileSync(`${base}.out`, 'utf8') };
}

/** Builds the sanitized stage from `source` into `out` unless it is newer than every source. */
async function buildSanitized(out: string, source?: string): Promise<void> {
  const newest = Math.max(...[...sources, ...(source ? [source] : [])].map((f) => statSync(f).mtimeMs));
  if (existsSync(out) && statSync(out).mtimeMs > newest) return;
  const r = await run([process.execPath, join(root, 'scripts/build-native.js')],
    { ...process.env, NSX_SANITIZE: '1', NSX_OUT: out, ...(source ? { NSX_SOURCE: source } : {}) });
  if (r.status !== 0) throw new Error(`building ${out} failed: ${r.output}`);
}

/**
 * A copy of the library's sources with one line of `source` (nsexec.c, or stage.c which it
 * includes: a quoted #include finds the copy beside it first) replaced; fails loudly if the line
 * is no longer there. Returns the nsexec.c to build.
 */
function withBug(dir: string, name: string, source: 'nsexec.c' | 'stage.c', line: string, buggy: string): string {
  const text = readFileSync(join(root, 'native', source), 'utf8');
  expect(text.split(line).length - 1, `${source} still has: ${line}`).to.equal(1);
  const copy = join(dir, name);
  mkdirSync(copy);
  copyFileSync(join(root, 'native/nsexec.c'), join(copy, 'nsexec.c'));
  writeFileSync(join(copy, source), text.replace(line, buggy));
  return join(copy, 'nsexec.c');
}

const SANITIZER_REPORT = /ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer/;

function spawnTrue(stage: string): Promise<Run> {
  const { argv, env } = sanitized(stage, [process.execPath, '-e',
    `require(${JSON.stringify(join(root, 'dist/src/index.js'))}).spawn(['true']).then((c) => c.exited)`]);
  return run(argv, env);
}

let runs: { clean: Promise<Run>; heap: Promise<Run>; ub: Promise<Run> } | undefined;
let dir: string;
before(() => {
  // A root hook: the sanitized runs start with the run and overlap the other files' tests.
  dir = mkdtempSync(join(tmpdir(), 'nsx-asan-'));
  const later = <T>(p: Promise<T>) => {
    p.catch(() => undefined); // awaited, and reported, by the tests below
    return p;
  };
  runs = {
    clean: later((async () => {
      const stage = join(build, 'libnsexec-asan.so');
      await buildSanitized(stage);
      const mocha = require.resolve('mocha/bin/mocha.js');
      const { argv, env } = sanitized(stage, [process.execPath, mocha, '--timeout', '60000', '--exit', join(__dirname, 'spawn.test.js')]);
      return run(argv, env);
    })()),
    heap: later((async () => {
      const stage = join(build, 'libnsexec-canary-heap.so');
      await buildSanitized(stage, withBug(dir, 'heap', 'nsexec.c', 'reg = calloc(1, sizeof(*reg));',
        'reg = calloc(1, sizeof(*reg) - (pid > 0) * sizeof(void *)); /* hidden from -Warray-bounds */'));
      return spawnTrue(stage);
    })()),
    ub: later((async () => {
      const stage = join(build, 'libnsexec-canary-ub.so');
      await buildSanitized(stage, withBug(dir, 'ub', 'stage.c', 'nops = rd32(plan + 20);', 'nops = (uint32_t)((int32_t)rd32(plan + 20) * 65536 * 65536);'));
      return spawnTrue(stage);
    })()),
  };
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('exec stage under AddressSanitizer and UndefinedBehaviorSanitizer', () => {
  it('reports a heap overflow put into nsx_spawn on purpose', async function () {
    this.timeout(120_000);
    const r = await runs!.heap;
    expect(r.status).not.to.equal(0);
    expect(r.output).to.match(/ERROR: AddressSanitizer: heap-buffer-overflow/);
    expect(r.output).to.contain('nsx_spawn');
  });

  it('reports undefined behaviour put into nsx_decode on purpose', async function () {
    this.timeout(120_000);
    const r = await runs!.ub;
    expect(r.status).not.to.equal(0);
    expect(r.output).to.match(/runtime error: signed integer overflow/);
    expect(r.output).to.contain('nsx_decode');
  });

  it('runs the spawn tests without a report (parent side instrumented)', async function () {
    this.timeout(120_000);
    const r = await runs!.clean;
    expect(r.output.match(SANITIZER_REPORT)?.[0], r.output.slice(-3000)).to.equal(undefined);
    expect(r.status, r.output.slice(-3000)).to.equal(0);
  });
});
