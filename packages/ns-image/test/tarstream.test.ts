import { expect } from 'chai';
import { TarReader, type TarEntry } from '../src/tarstream';
import { tarEntry, tarOf } from './helpers';

function read(bytes: Buffer, chunk = bytes.length): { entries: TarEntry[]; data: Map<string, Buffer> } {
  const entries: TarEntry[] = [];
  const data = new Map<string, Buffer>();
  const r = new TarReader((e) => {
    entries.push(e);
    const parts: Buffer[] = [];
    return { data: (c) => parts.push(Buffer.from(c)), end: () => data.set(e.path, Buffer.concat(parts)) };
  });
  for (let i = 0; i < bytes.length; i += chunk) r.write(bytes.subarray(i, i + chunk));
  r.end();
  return { entries, data };
}

describe('tar reading', () => {
  const sample = tarOf([
    { name: 'dir/', type: 'dir', mode: 0o750, uid: 7, gid: 8 },
    { name: 'dir/file', data: 'hello world', mode: 0o4755 },
    { name: 'dir/link', type: 'symlink', linkpath: '/etc/passwd' },
    { name: 'dir/hard', type: 'link', linkpath: 'dir/file' },
    { name: 'dev/null', type: 'char', devmaj: 1, devmin: 3 },
    { name: `long/${'n'.repeat(150)}`, data: 'x'.repeat(1000) },
  ]);

  it('gives entries with their metadata, in order, whatever the chunking', () => {
    for (const chunk of [1, 7, 511, 512, 513, 4096, sample.length]) {
      const { entries, data } = read(sample, chunk);
      expect(entries.map((e) => [e.path, e.type])).to.deep.equal([
        ['dir/', 'Directory'], ['dir/file', 'File'], ['dir/link', 'SymbolicLink'], ['dir/hard', 'Link'],
        ['dev/null', 'CharacterDevice'], [`long/${'n'.repeat(150)}`, 'File'],
      ]);
      expect(entries[0]).to.include({ mode: 0o750, uid: 7, gid: 8 });
      expect(entries[1]!.mode).to.equal(0o4755);
      expect(entries[2]!.linkpath).to.equal('/etc/passwd');
      expect(entries[4]).to.include({ devmajor: 1, devminor: 3 });
      expect(data.get('dir/file')!.toString()).to.equal('hello world');
      expect(data.get(`long/${'n'.repeat(150)}`)!.length).to.equal(1000);
    }
  });

  it('keeps SCHILY.xattr values byte for byte, NULs and high bytes included', () => {
    const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0xff, 0xfe]);
    const { entries } = read(tarOf([{ name: 'bin/ping', data: 'x', xattrs: { 'security.capability': cap, 'user.note': Buffer.from('a=b\nc') } }]), 100);
    expect(entries).to.have.length(1);
    expect(entries[0]!.xattrs.get('security.capability')).to.deep.equal(cap);
    expect(entries[0]!.xattrs.get('user.note')!.toString()).to.equal('a=b\nc');
  });

  it('applies a PAX size and path to the next entry only', () => {
    const { entries } = read(tarOf([
      { name: 'short', data: 'abc', pax: { path: 'really/long/name' } },
      { name: 'next', data: 'z' },
    ]));
    expect(entries.map((e) => e.path)).to.deep.equal(['really/long/name', 'next']);
  });

  it('refuses truncation, bad checksums, unknown types and sparse files', () => {
    const whole = tarOf([{ name: 'f', data: 'x'.repeat(2000) }], { eof: false });
    expect(() => read(whole.subarray(0, 1000))).to.throw(/truncated archive: it ends inside entry "f"/);
    expect(() => read(whole.subarray(0, 300))).to.throw(/truncated archive: it ends inside a header/);
    const bad = Buffer.from(whole);
    bad[10] ^= 0xff;
    expect(() => read(bad)).to.throw(/checksum failure/);
    const odd = Buffer.from(tarEntry({ name: 'f', data: '' }));
    odd[156] = 'S'.charCodeAt(0);
    // recompute the checksum so only the type is wrong
    odd.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += odd[i]!;
    odd.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    expect(() => read(odd)).to.throw(/unsupported type "S"/);
    expect(() => read(tarOf([{ name: 'f', data: 'x', pax: { 'GNU.sparse.major': '1' } }]))).to.throw(/GNU sparse/);
  });

  it('stops at two zero blocks and accepts an archive without them, as Go does', () => {
    const trailing = Buffer.concat([tarOf([{ name: 'a', data: '1' }]), Buffer.from('garbage after the end')]);
    expect(read(trailing).entries.map((e) => e.path)).to.deep.equal(['a']);
    expect(read(tarOf([{ name: 'a', data: '1' }], { eof: false })).entries).to.have.length(1);
    expect(read(Buffer.alloc(0)).entries).to.have.length(0);
  });
});
