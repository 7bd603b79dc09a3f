/**
 * listNamespaces() looks at every fd of every process, pipes and sockets among them. On Node 20
 * and 22 a plain stat of a FIFO or socket misleads the next realpathSync that require() runs
 * (it trusts the file type the last stat left behind), so a package reached through a symlink
 * (npm workspaces, pnpm) was loaded a second time under its unresolved path: for ns-core, whose
 * koffi types are global, that second copy throws "Duplicate type name". Run in a fresh Node,
 * since this process's module cache already holds what it requires.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('listNamespaces and require() through a symlink', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'nstools-realpath-'));
    mkdirSync(join(dir, 'pkg'));
    writeFileSync(join(dir, 'pkg/package.json'), '{"name":"pkg","main":"index.js"}');
    writeFileSync(join(dir, 'pkg/index.js'), 'module.exports = __filename;');
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync('../pkg', join(dir, 'node_modules/pkg'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('listing stats no FIFO or socket the plain way, and a require() after it resolves the symlink', () => {
    const ls = join(__dirname, '../src/ls.js');
    // Which process listNamespaces looks at last is the machine's business, so the child checks
    // the cause: no plain stat of its own socket (fd 63, as Node makes a child's pipe) or of any
    // other process's pipe may leave that file type behind.
    const script = `const fs = require('node:fs');
      const seen = [];
      for (const name of ['statSync', 'lstatSync', 'fstatSync']) {
        const real = fs[name];
        fs[name] = function (target, options) {
          const st = real.apply(this, arguments);
          if (st && !(options && options.bigint) && (st.isFIFO() || st.isSocket())) seen.push(String(target));
          return st;
        };
      }
      require.resolve('pkg/package.json');
      require(${JSON.stringify(ls)}).listNamespaces({ relations: true });
      process.stdout.write(JSON.stringify({ seen: seen.slice(0, 3), pkg: require.resolve('pkg') }));`;
    const stdio = ['ignore', 'pipe', 'pipe', ...Array<'ignore'>(60).fill('ignore'), 'pipe'] as const;
    const out = spawnSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8', stdio: [...stdio] });
    expect(out.stderr).to.equal('');
    expect(JSON.parse(out.stdout)).to.deep.equal({ seen: [], pkg: join(dir, 'pkg/index.js') });
  });
});
