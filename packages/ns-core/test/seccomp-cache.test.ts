/**
 * compileCached: the same filter compileSeccomp makes, kept per process and in a directory of
 * the caller's, keyed so that inputs the compiler tells apart never share an entry.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileCached } from '../src/seccomp/cache';
import { compileSeccomp } from '../src/seccomp/compile';
import { DEFAULT_PROFILE } from '../src/seccomp/default-profile';
import type { LinuxSeccomp } from '../src/seccomp/profile';

const CACHE_MODULE = join(__dirname, '../src/seccomp/cache.js');
const resolve = { capabilities: ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE'] };

/** compileCached in a process of its own (its memory empty): the program it got, base64. */
function inFreshProcess(dir: string): string {
  const script = `const { compileCached } = require(${JSON.stringify(CACHE_MODULE)});
    const { DEFAULT_PROFILE } = require(${JSON.stringify(join(__dirname, '../src/seccomp/default-profile.js'))});
    process.stdout.write(compileCached(DEFAULT_PROFILE, ${JSON.stringify(resolve)}, { dir: ${JSON.stringify(dir)} }).program.toString('base64'));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  expect(r.status, r.stderr).to.equal(0);
  return r.stdout;
}

describe('seccomp compileCached', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nstools-seccomp-cache-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives what compileSeccomp gives, for the default profile and for a profile with 64-bit arguments', () => {
    const fresh = compileSeccomp(DEFAULT_PROFILE, resolve);
    const cached = compileCached(DEFAULT_PROFILE, resolve);
    expect(cached.program.equals(fresh.program)).to.equal(true);
    expect({ ...cached, program: null }).to.deep.equal({ ...fresh, program: null });
    const big: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [
      { names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0xffffffffffffffffn, op: 'SCMP_CMP_EQ' }] }] };
    expect(compileCached(big).program.equals(compileSeccomp(big).program)).to.equal(true);
    // Served from memory the second time, still the same.
    expect(compileCached(DEFAULT_PROFILE, resolve).program.equals(fresh.program)).to.equal(true);
  });

  it('keys on the capabilities: CAP_SYS_ADMIN gives another filter', () => {
    const plain = compileCached(DEFAULT_PROFILE, resolve);
    const admin = compileCached(DEFAULT_PROFILE, { capabilities: [...resolve.capabilities, 'CAP_SYS_ADMIN'] });
    expect(admin.program.equals(plain.program)).to.equal(false);
    expect(admin.program.equals(compileSeccomp(DEFAULT_PROFILE, { capabilities: [...resolve.capabilities, 'CAP_SYS_ADMIN'] }).program)).to.equal(true);
  });

  it('hands each caller its own program buffer', () => {
    const a = compileCached(DEFAULT_PROFILE, resolve);
    a.program.fill(0);
    expect(compileCached(DEFAULT_PROFILE, resolve).program.equals(compileSeccomp(DEFAULT_PROFILE, resolve).program)).to.equal(true);
  });

  it('never serves a value the compiler refuses from the entry of one it accepts (a string "5" is not 5n)', () => {
    const withValue = (value: unknown) => ({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [
      { names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }] }] }) as LinuxSeccomp;
    compileCached(withValue(5n));
    compileCached(withValue(5));
    for (const refused of ['5n', 'b5', 's5', '5']) expect(() => compileCached(withValue(refused))).to.throw().with.property('code', 'EUSAGE');
    expect(() => compileCached(withValue(Number.NaN))).to.throw().with.property('code', 'EUSAGE');
    // A null errnoRet (none) is valid, a NaN or infinite one is refused, whichever came first.
    const errnoRet = (v: unknown) => ({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: v }) as unknown as LinuxSeccomp;
    expect(compileCached(errnoRet(null)).program.equals(compileSeccomp(errnoRet(null)).program)).to.equal(true);
    expect(() => compileCached(errnoRet(Number.NaN))).to.throw().with.property('code', 'EUSAGE');
    expect(() => compileCached(errnoRet(Number.POSITIVE_INFINITY))).to.throw().with.property('code', 'EUSAGE');
  });

  it('writes one file per filter in a 0700 directory, which a later process reads instead of compiling', () => {
    const cacheDir = join(dir, 'seccomp');
    const program = compileCached(DEFAULT_PROFILE, resolve, { dir: cacheDir }).program;
    expect(statSync(cacheDir).mode & 0o777).to.equal(0o700);
    const files = readdirSync(cacheDir);
    expect(files).to.have.length(1);
    expect(statSync(join(cacheDir, files[0]!)).mode & 0o777).to.equal(0o600);
    expect(inFreshProcess(cacheDir)).to.equal(program.toString('base64'));
    // Proof that the file is what a later process uses: a (valid) program put in its place comes back.
    const file = join(cacheDir, files[0]!);
    const entry = JSON.parse(readFileSync(file, 'latin1')) as { program: string; instructions: number };
    const other = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' });
    writeFileSync(file, JSON.stringify({ ...entry, program: other.program.toString('base64'), instructions: other.instructions }));
    expect(inFreshProcess(cacheDir)).to.equal(other.program.toString('base64'));
  });

  it('compiles again, and rewrites, a file that does not hold together', () => {
    const cacheDir = join(dir, 'seccomp');
    const program = compileSeccomp(DEFAULT_PROFILE, resolve).program.toString('base64');
    expect(inFreshProcess(cacheDir)).to.equal(program);
    const file = join(cacheDir, readdirSync(cacheDir)[0]!);
    const whole = JSON.parse(readFileSync(file, 'latin1')) as Record<string, unknown>;
    // Cut short; a count that does not match the program; another key's entry under this name (a hash collision).
    for (const junk of ['{"program": "AAAA"', JSON.stringify({ ...whole, instructions: 3 }), JSON.stringify({ ...whole, key: `${String(whole['key'])} ` })]) {
      writeFileSync(file, junk);
      expect(inFreshProcess(cacheDir)).to.equal(program);
      expect(JSON.parse(readFileSync(file, 'latin1')).program).to.equal(program);
    }
    expect(readdirSync(cacheDir)).to.have.length(1);
  });

  it('keeps at most 64 files, dropping the least recently written', () => {
    const cacheDir = join(dir, 'seccomp');
    mkdirSync(cacheDir, { mode: 0o700 });
    const old = Array.from({ length: 70 }, (_, i) => join(cacheDir, `old${String(i).padStart(2, '0')}.json`));
    old.forEach((f, i) => {
      writeFileSync(f, '{}');
      utimesSync(f, 1000 + i, 1000 + i);
    });
    compileCached(DEFAULT_PROFILE, resolve, { dir: cacheDir });
    const left = readdirSync(cacheDir).sort();
    expect(left).to.have.length(64);
    // The 7 oldest went; the one just written stayed.
    expect(left.filter((n) => n.startsWith('old'))).to.deep.equal(old.slice(7).map((f) => f.slice(cacheDir.length + 1)));
  });

  it('refuses a directory others may write (EPERM), and a profile error leaves no file', () => {
    const open = join(dir, 'open');
    compileCached({ defaultAction: 'SCMP_ACT_ALLOW' }, {}, { dir: join(dir, 'ok') });
    expect(existsSync(join(dir, 'ok'))).to.equal(true);
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(() => compileCached({ defaultAction: 'SCMP_ACT_LOG' }, {}, { dir: open })).to.throw().with.property('code', 'EPERM');
    const bad = join(dir, 'bad');
    expect(() => compileCached({ defaultAction: 'SCMP_ACT_NOPE' } as unknown as LinuxSeccomp, {}, { dir: bad })).to.throw().with.property('code', 'EUSAGE');
    expect(existsSync(bad) ? readdirSync(bad) : []).to.deep.equal([]);
  });
});
