#!/usr/bin/env node
// Writes each CLI's man page (man/PROG.1) and bash completion (completion/PROG.bash) into its
// package, rendered from the same option table that parses its command line and prints its
// --help. Runs after the TypeScript build (npm run build / prepare); `--check` only reports
// whether the files on disk are what the tables render now.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const check = process.argv.includes('--check');
const { renderManPage, renderBashCompletion } = require(path.join(root, 'packages/ns-core/dist/src/cli-kit/index.js'));

/** Every exported command table of a package's CLI modules, keyed by program name. */
function commandsOf(pkgDir) {
  const found = new Map();
  const dist = path.join(pkgDir, 'dist/src');
  // A CLI module is src/cli.ts, src/cli/*.ts, or src/<product>/cli.ts (ns-run: unshare/, enter/, runner/).
  const jsIn = (dir) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.js')).map((f) => path.join(dir, f)) : []);
  const products = fs.readdirSync(dist, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => path.join(dist, d.name, 'cli.js'));
  const candidates = [path.join(dist, 'cli.js'), ...jsIn(path.join(dist, 'cli')), ...products].filter((f) => fs.existsSync(f));
  for (const file of candidates) {
    const mod = require(file);
    for (const value of Object.values(mod)) {
      if (value && typeof value === 'object' && typeof value.prog === 'string' && Array.isArray(value.options) && !value.prog.includes(' ')) {
        found.set(value.prog, value);
      }
    }
  }
  return found;
}

let stale = 0;
for (const name of fs.readdirSync(path.join(root, 'packages'))) {
  const pkgDir = path.join(root, 'packages', name);
  const manifest = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  const bins = Object.keys(manifest.bin ?? {});
  if (!bins.length) continue;
  const commands = commandsOf(pkgDir);
  for (const prog of bins) {
    const command = commands.get(prog);
    if (!command) throw new Error(`${name}: no option table exported for ${prog}`);
    for (const [dir, file, text] of [['man', `${prog}.1`, renderManPage(command)], ['completion', `${prog}.bash`, renderBashCompletion(command)]]) {
      const target = path.join(pkgDir, dir, file);
      const current = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : undefined;
      if (current === text) continue;
      if (check) {
        stale++;
        console.error(`${path.relative(root, target)} is not what ${prog}'s table renders`);
      } else {
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, text);
      }
    }
  }
}
process.exit(stale ? 1 : 0);
