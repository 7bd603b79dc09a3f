/**
 * Every example in README.md runs as written. A fenced block whose info string is
 * `sh example` runs in one bash session (`set -e`), its lines in order, from a scratch
 * directory, with the repository's node_modules/.bin on PATH as `npx` would find it; a
 * `js example` block runs as a CommonJS file with `node`. Each must exit 0.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN_DIR, ROOT } from './cli';

interface Example {
  readonly lang: 'sh' | 'js';
  readonly line: number;
  readonly code: string;
}

/** The marked blocks of a Markdown text, with the line each starts on. */
export function examplesIn(markdown: string): Example[] {
  const out: Example[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^```(sh|js) example\s*$/.exec(lines[i]!);
    if (!m) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end] !== '```') end++;
    out.push({ lang: m[1] as 'sh' | 'js', line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return out;
}

describe('README examples run as written', () => {
  const examples = examplesIn(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  let scratch: string;
  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'nstools-readme-'));
    // A user's own directory, as ~ or a project directory usually is (mkdtemp makes it 0700).
    chmodSync(scratch, 0o755);
    // In the repository, `npx ns-run` runs the workspace's bin; from the scratch directory a
    // stand-in does the same (the real npx would look for a package of that name elsewhere).
    mkdirSync(join(scratch, '.npx'));
    writeFileSync(join(scratch, '.npx/npx'), '#!/bin/sh\nexec "$@"\n', { mode: 0o755 });
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('marks its examples', () => {
    expect(examples.filter((e) => e.lang === 'sh').length).to.be.greaterThan(3);
    expect(examples.filter((e) => e.lang === 'js').length).to.be.greaterThan(1);
  });

  for (const [i, example] of examplesIn(readFileSync(join(ROOT, 'README.md'), 'utf8')).entries()) {
    it(`${example.lang} example at README.md line ${example.line}`, function () {
      this.timeout(120_000);
      const env = { ...process.env, PATH: `${join(scratch, '.npx')}:${BIN_DIR}:${process.env['PATH']}`, NODE_PATH: join(ROOT, 'node_modules') };
      let r;
      if (example.lang === 'sh') {
        r = spawnSync('bash', ['-e', '-c', example.code], { cwd: scratch, env, encoding: 'utf8', timeout: 110_000 });
      } else {
        const file = join(scratch, `example-${i}.js`);
        writeFileSync(file, example.code);
        r = spawnSync(process.execPath, [file], { cwd: ROOT, env, encoding: 'utf8', timeout: 110_000 });
      }
      expect(r.status, `exit ${r.status ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`).to.equal(0);
    });
  }
});
