/** Bytes that are not UTF-8 survive the trip through strings; every thrown value becomes one NsError. */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeBytes, encodeText, fsPath, hasEscapedBytes, NsError, readText } from '../src/index';

describe('bytes', () => {
  const samples: Buffer[] = [
    Buffer.from('plain ascii'), Buffer.from('é☃ valid utf-8 \u{1f600}'), Buffer.from([0xff]), Buffer.from([0x61, 0xc3, 0x28, 0x62]),
    Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf0, 0x9f, 0x98]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xe2, 0x98, 0x83, 0x80, 0xe2]),
  ];

  it('decodes and encodes back to the same bytes, valid UTF-8 or not', () => {
    for (const b of samples) expect(encodeText(decodeBytes(b)).equals(b), b.toString('hex')).to.equal(true);
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.from(Array.from({ length: 1 + (i % 13) }, (_, j) => (i * 31 + j * 97) % 256));
      expect(encodeText(decodeBytes(b)).equals(b), b.toString('hex')).to.equal(true);
    }
  });

  it('leaves valid text alone and marks only strings that hold escaped bytes', () => {
    expect(decodeBytes(Buffer.from('é☃'))).to.equal('é☃');
    expect(hasEscapedBytes('é☃ \u{1f600}')).to.equal(false);
    expect(hasEscapedBytes(decodeBytes(Buffer.from([0x41, 0xff])))).to.equal(true);
  });

  it('reaches the file a non-UTF-8 path names', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nsx-bytes-'));
    try {
      const name = decodeBytes(Buffer.from([0x66, 0xff, 0x67]));
      writeFileSync(fsPath(join(dir, name)), 'x');
      const listed = readdirSync(dir, { encoding: 'buffer' });
      expect(listed.map((b) => b.toString('hex'))).to.deep.equal(['66ff67']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a script\'s arguments as the kernel passed them (process.argv has lost the bytes)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nsx-argv-'));
    try {
      const script = join(dir, 'argv.js');
      const bytes = JSON.stringify(join(__dirname, '../src/bytes.js'));
      writeFileSync(script, `const b = require(${bytes}); process.stdout.write(b.encodeText(b.scriptArguments().join('|')));`);
      const odd = Buffer.from([0xff, 0x41]);
      // Node itself cannot pass such bytes (it re-encodes arguments as UTF-8): printf(1) makes them.
      const r = spawnSync('/bin/sh', ['-c', 'exec "$0" "$1" "$(printf \'\\377A\')" 0x10 ""', process.execPath, script], { encoding: 'buffer' });
      expect(r.status).to.equal(0);
      expect(r.stdout.equals(Buffer.concat([odd, Buffer.from('|0x10|')]))).to.equal(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('inheritedEnvironment', () => {
  it('the bytes the kernel passed, with what this process changed in process.env applied', () => {
    const core = JSON.stringify(join(__dirname, '../src/index.js'));
    const script = `const core = require(${core});
      delete process.env.GONE; process.env.CHANGED = 'new'; process.env.ADDED = 'a';
      process.stdout.write(JSON.stringify(core.inheritedEnvironment().map((e) => core.encodeText(e).toString('hex'))));`;
    const r = spawnSync('/bin/sh', ['-c', `exec env -i "X=$(printf '\\377')" "$(printf 'K\\376')=v" GONE=1 CHANGED=old "D=$(printf 'a\\300')" ${process.execPath} -e "$0"`, script],
      { encoding: 'utf8' });
    expect(r.stderr).to.equal('');
    const entries = (JSON.parse(r.stdout) as string[]).map((h) => Buffer.from(h, 'hex').toString('latin1'));
    expect(entries).to.deep.equal(['X=\xff', 'K\xfe=v', 'CHANGED=new', 'D=a\xc0', 'ADDED=a']);
  });
});

describe('NsError.from', () => {
  it('keeps a Node error\'s errno, code and syscall, and names the path and step', () => {
    let thrown: unknown;
    try {
      readText('/no/such/file');
    } catch (e) {
      thrown = e;
    }
    const err = thrown as NsError;
    expect(err).to.be.instanceOf(NsError);
    expect(err).to.include({ code: 'ENOENT', errno: -2, syscall: 'open', path: '/no/such/file' });
    expect(err.withStep('--env-file').message).to.equal('--env-file: open /no/such/file failed: ENOENT (no such file or directory)');
  });

  it('keeps the words of an error without an errno, and returns an NsError as it is', () => {
    const plain = NsError.from(new Error('the helper said no'), { step: 'veth' });
    expect(plain).to.include({ code: 'EUNKNOWN', step: 'veth', message: 'veth: the helper said no' });
    const ns = new NsError({ errno: 1, syscall: 'mount', path: '/x' });
    expect(NsError.from(ns)).to.equal(ns);
    expect(NsError.from(ns, { step: '--proc' }).message).to.equal('--proc: mount /x failed: EPERM (operation not permitted)');
  });

  it('gives the uid_map hint only for a map write, and a root-specific hint for setns', () => {
    expect(new NsError({ errno: 1, syscall: 'write', path: '/proc/5/uid_map' }).hint).to.match(/uid_map\/gid_map/);
    expect(new NsError({ errno: 1, syscall: 'write', path: '/sys/fs/cgroup/x/cgroup.procs' }).hint).to.equal(undefined);
  });
});
