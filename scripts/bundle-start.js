'use strict';
// How a bin starts its CLI: copied by scripts/build-bundles.js into each package's
// dist/bundle/start.js beside the bundles (dist/bundle/NAME.js, one file per CLI). It compiles
// the bundle with the V8 code cache written for this Node (NAME.<node version>-<arch>.cache:
// compiled bytecode, so start-up neither parses nor compiles what the cache holds) and runs it.
//
// - No cache, or one V8 rejects (another Node, other V8 flags): the bundle compiles as any
//   script would; nothing is written then (the package directory may not be the user's).
// - NSTOOLS_CODE_CACHE_WRITE=1 (the warm-up run of ns-core/scripts/install-bins.js, at build
//   and at install): after the run (at exit, or just before the exec stage replaces the
//   process) the cache of everything the run compiled is written for this Node.
// - A source checkout whose TypeScript output is newer than the bundle (`tsc -b` ran, the
//   bundle step did not) runs the compiled modules in dist/src instead: never stale code.
const { existsSync, readFileSync, renameSync, statSync, writeFileSync } = require('node:fs');
const { Script } = require('node:vm');

module.exports = function start(name) {
  const file = `${__dirname}/${name}.js`;
  const fallback = staleIn(name, file);
  if (fallback) return require(fallback).main();
  const cacheFile = `${__dirname}/${name}.${process.version}-${process.arch}.cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  // latin1: the bundle is ASCII (build-bundles.js), and a one-byte read skips UTF-8 decoding.
  // It is written as the function (exports, require, module, __filename, __dirname) { ... }.
  const script = new Script(readFileSync(file, 'latin1'), { filename: file, cachedData });
  if (process.env.NSTOOLS_CODE_CACHE_WRITE === '1') {
    delete process.env.NSTOOLS_CODE_CACHE_WRITE;
    let written = false;
    const write = () => {
      if (written) return;
      written = true;
      try {
        writeFileSync(`${cacheFile}.${process.pid}.tmp`, script.createCachedData());
        renameSync(`${cacheFile}.${process.pid}.tmp`, cacheFile);
      } catch {
        // Not this user's directory: the CLI ran; only the cache is missing.
      }
    };
    process.once('exit', write);
    process.once('nstools:exec-in-place', write);
  }
  const module = { exports: {}, filename: file, id: file, loaded: false, children: [], paths: [] };
  // This file's own require: it resolves from the bundle's directory as createRequire(file)
  // would (they sit side by side), without making a second Module and require at each start.
  script.runInThisContext()(module.exports, require, module, file, __dirname);
  return module.exports.main();
};

/**
 * In a source checkout only (dist/tsconfig.tsbuildinfo is not in the package): when an input
 * of the bundle is newer than it, the compiled module to run instead (NAME.json says which).
 */
function staleIn(name, file) {
  if (!existsSync(`${__dirname}/../tsconfig.tsbuildinfo`)) return undefined;
  const manifest = JSON.parse(readFileSync(`${__dirname}/${name}.json`, 'utf8'));
  const built = statSync(file).mtimeMs;
  const newer = manifest.inputs.some((p) => {
    try {
      return statSync(`${__dirname}/${p}`).mtimeMs > built;
    } catch {
      return true;
    }
  });
  return newer ? `${__dirname}/../../${manifest.entry}` : undefined;
}
