#!/usr/bin/env node
// One bundle per CLI, and the V8 code cache of each for the Node running this script.
//
//   node scripts/build-bundles.js            bundles + code caches (npm run build)
//   node scripts/build-bundles.js --cache    code caches only, for this Node (another Node line)
//   node scripts/build-bundles.js --metafile DIR   also esbuild's metafile of each, DIR/BIN.json
//                                            (what each bundle holds and which import brought it)
//
// A package lists its CLIs in package.json `nstools.bundles` ({ bin: "src/.../cli.ts" }). Each
// becomes dist/bundle/BIN.js: esbuild over the TypeScript sources of every ns-* package it
// imports (ES modules, so what no call reaches is left out; a require() in the sources stays a
// lazy load), with
// - the third-party packages (yargs, tar) left out and required, when used, from the package
//   that depends on them, as the library would;
// - koffi's prebuilt module loaded directly, not through koffi's entry (which reads Node's ELF
//   header to tell glibc from musl and wraps deprecated API: ~5 ms); koffi's entry otherwise;
// - __dirname and __filename of each source file the directory its compiled module has in
//   dist/src (ns-core finds its exec stage, ns-container its janitor, through them).
// Beside it: BIN.json (what start.js needs) and start.js (copied from scripts/bundle-start.js).
// The library (`require('ns-net')`) is dist/src as before; the bundles are only what bins run.
//
// The code cache is written by running each CLI once (ns-core/scripts/install-bins.js's
// WARM_UP: a correct command line where one is harmless, else one that fails after parsing and
// planning): V8 then serialises every function that run compiled. It is valid for this Node
// binary only (BIN.<version>-<arch>.cache); a Node without its cache compiles the bundle as any
// script. Installed packages write it again for the Node that installs them (their install
// script, install-bins.js), which is the Node their bins then run.
'use strict';
const fs = require('node:fs');
const { builtinModules } = require('node:module');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const { writeCodeCache } = require('../packages/ns-core/scripts/install-bins.js');
const PACKAGES = path.join(ROOT, 'packages');

function packageDirs() {
  return fs.readdirSync(PACKAGES).sort().map((d) => path.join(PACKAGES, d))
    .filter((d) => fs.existsSync(path.join(d, 'package.json')));
}

const manifestOf = (dir) => JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));

/** package name -> directory, for every workspace package. */
function workspace() {
  return new Map(packageDirs().map((d) => [manifestOf(d).name, d]));
}

/** `ns-core/cli` -> packages/ns-core/src/cli-kit/index.ts, through the package's exports map. */
function sourceOf(packages, request) {
  const [name, ...rest] = request.split('/');
  const dir = packages.get(name);
  if (!dir) return undefined;
  const exportsMap = manifestOf(dir).exports ?? {};
  const target = exportsMap[rest.length ? `./${rest.join('/')}` : '.'];
  if (typeof target !== 'string' || !target.startsWith('./dist/src/')) return undefined;
  return path.join(dir, target.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'));
}

/** The workspace package a source file belongs to. */
function packageOf(packages, file) {
  for (const [name, dir] of packages) if (file.startsWith(`${dir}/`)) return { name, dir };
  return undefined;
}

const BUILTIN = new Set(builtinModules);

/** (exports, require, module, __filename, __dirname), as Node wraps a CommonJS file. */
const WRAPPER = '(function (exports, require, module, __filename, __dirname) {';

/**
 * The modules the plugin makes up. `paths` finds packages as Node's lookup does (node_modules of
 * each directory up from the bundle's package), without the exports-map resolver that
 * require.resolve loads on first use (~2 ms); the bundle's own package is two directories up.
 */
const VIRTUAL = {
  paths: (own) => `
const { existsSync } = require('node:fs');
const { dirname, join } = require('node:path');
const OWN = join(__dirname, '../..');
function lookUp(name, from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) throw new Error('cannot find ' + name + ' from ' + from + ' (is it installed?)');
  }
}
const dirs = new Map([[${JSON.stringify(own)}, OWN]]);
/** A package's directory: this bundle's own, or the one Node would load from here. */
exports.packageDir = (name, from = OWN) => {
  let dir = dirs.get(name);
  if (dir === undefined) dirs.set(name, dir = lookUp(name, from));
  return dir;
};`,
  koffi: () => `
const { join } = require('node:path');
const { packageDir } = require('nstools:paths');
function load() {
  const koffi = packageDir('koffi', packageDir('ns-core'));
  // koffi 3's layout: @koromix/koffi-<platform>-<arch>/<platform>_<arch>/koffi.node, the glibc
  // build (a musl system fails to load it and takes koffi's entry, which picks its musl build).
  // process.dlopen is what require() of a .node file ends in, without the loader's resolution,
  // realpath and package scope lookups before it: ~0.5 ms of every start that loads koffi.
  try {
    const prebuilt = packageDir('@koromix/koffi-' + process.platform + '-' + process.arch, koffi);
    const addon = { exports: {} };
    process.dlopen(addon, join(prebuilt, process.platform + '_' + process.arch, 'koffi.node'));
    return addon.exports;
  } catch {
    return require(koffi);
  }
}
module.exports = load();`,
};

function plugin(packages, own) {
  return {
    name: 'nstools',
    setup(build) {
      build.onResolve({ filter: /^nstools:/ }, (a) => ({ path: a.path.slice(8), namespace: 'nstools' }));
      build.onResolve({ filter: /^ns-[a-z-]+(\/[a-z-]+)*$/ }, (a) => {
        const file = sourceOf(packages, a.path);
        return file ? { path: file } : undefined;
      });
      build.onResolve({ filter: /^[^./]/ }, (a) => {
        if (a.namespace === 'nstools' || BUILTIN.has(a.path) || a.path.startsWith('node:')) return undefined;
        const from = packageOf(packages, a.importer);
        if (!from) throw new Error(`build-bundles: ${a.path} imported from ${a.importer}, outside the workspace`);
        if (a.path === 'koffi') return { path: 'koffi', namespace: 'nstools' };
        return { path: `external:${from.name}:${a.path}`, namespace: 'nstools' };
      });
      build.onLoad({ filter: /.*/, namespace: 'nstools' }, (a) => {
        if (a.path.startsWith('external:')) {
          const [, pkg, request] = a.path.split(':');
          return {
            contents: `const { packageDir } = require('nstools:paths');\nmodule.exports = require(require.resolve(${JSON.stringify(request)}, { paths: [packageDir(${JSON.stringify(pkg)})] }));`,
            loader: 'js',
          };
        }
        return { contents: VIRTUAL[a.path](own), loader: 'js' };
      });
      build.onLoad({ filter: /\/src\/.*\.ts$/ }, (a) => {
        const source = fs.readFileSync(a.path, 'utf8');
        if (!/\b__(dirname|filename)\b/.test(source)) return undefined;
        const pkg = packageOf(packages, a.path);
        const compiled = path.relative(pkg.dir, a.path).replace(/^src\//, 'dist/src/').replace(/\.ts$/, '.js');
        const prelude = `import { packageDir as __nstoolsPackageDir } from 'nstools:paths';\n`
          + `const __filename = __nstoolsPackageDir(${JSON.stringify(pkg.name)}) + ${JSON.stringify(`/${compiled}`)};\n`
          + `const __dirname = __nstoolsPackageDir(${JSON.stringify(pkg.name)}) + ${JSON.stringify(`/${path.posix.dirname(compiled)}`)};\n`;
        return { contents: prelude + source, loader: 'ts' };
      });
    },
  };
}

/** Every CLI of the workspace: { pkg, dir, name, entry (package-relative .ts) }. */
function bundles() {
  return packageDirs().flatMap((dir) => {
    const m = manifestOf(dir);
    return Object.entries(m.nstools?.bundles ?? {}).map(([name, entry]) => ({ pkg: m.name, dir, name, entry }));
  });
}

async function bundle(packages, b) {
  const esbuild = require('esbuild');
  const out = path.join(b.dir, 'dist/bundle');
  fs.mkdirSync(out, { recursive: true });
  const result = await esbuild.build({
    entryPoints: [path.join(b.dir, b.entry)],
    outfile: path.join(out, `${b.name}.js`),
    bundle: true, platform: 'node', format: 'cjs', target: 'node20',
    // Smaller source to read and hash at every start (identifiers are kept: stacks stay
    // readable); ASCII only (esbuild's default), which start.js relies on to read it as latin1.
    // keepNames: classes and functions keep the names written (esbuild renames a top-level
    // name two modules share, `class _X` where a class refers to itself): errors print them.
    minifyWhitespace: true, minifySyntax: true, charset: 'ascii', keepNames: true,
    legalComments: 'none', metafile: true, logLevel: 'warning',
    // The file is the function start.js compiles, CommonJS's wrapper written in: start.js then
    // hands V8 the string it read, where adding the wrapper at each start made a second copy of
    // the whole bundle on the young heap (with the first, most of what tips ns-unshare into a
    // scavenge before its exec).
    banner: { js: WRAPPER }, footer: { js: '})' },
    plugins: [plugin(packages, b.pkg)],
  });
  // The TypeScript build outputs the bundle was made from: newer ones make it stale (start.js).
  const inputs = new Set(Object.keys(result.metafile.inputs).flatMap((i) => {
    const p = packageOf(packages, path.resolve(ROOT, i));
    return p ? [path.relative(out, path.join(p.dir, 'dist/tsconfig.tsbuildinfo'))] : [];
  }));
  const entry = b.entry.replace(/^src\//, 'dist/src/').replace(/\.ts$/, '.js');
  fs.writeFileSync(path.join(out, `${b.name}.json`), `${JSON.stringify({ entry, inputs: [...inputs].sort() })}\n`);
  fs.copyFileSync(path.join(__dirname, 'bundle-start.js'), path.join(out, 'start.js'));
  return result.metafile;
}

async function main() {
  const cacheOnly = process.argv.includes('--cache');
  const at = process.argv.indexOf('--metafile');
  const metaDir = at > 0 ? path.resolve(process.argv[at + 1]) : undefined;
  if (metaDir) fs.mkdirSync(metaDir, { recursive: true });
  const packages = workspace();
  for (const b of bundles()) {
    if (!cacheOnly) {
      const meta = await bundle(packages, b);
      if (metaDir) fs.writeFileSync(path.join(metaDir, `${b.name}.json`), JSON.stringify(meta));
    }
    writeCodeCache(b.dir, b.name);
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}
