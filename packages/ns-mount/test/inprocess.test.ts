import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bindMount, isMountPoint, locate, mountOf, propagationName, setPropagation, unmount } from '../src/index';
import { hostMountsUnder, removeScratch, scratch } from './helpers';

describe('ns-mount in-process helpers (the caller\'s own mount namespace)', () => {
  let dir: string;
  beforeEach(() => {
    dir = scratch('inproc');
  });
  afterEach(() => removeScratch(dir));

  it('bindMount read-only covers the submounts; setPropagation and unmount act on the table', () => {
    const src = join(dir, 'src');
    const dst = join(dir, 'dst');
    mkdirSync(join(src, 'sub'), { recursive: true });
    mkdirSync(dst);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'noexec', 'none', join(src, 'sub')]);
    bindMount(src, dst, { readOnly: true });
    expect(isMountPoint(dst)).to.equal(true);
    expect(mountOf(dst).mountOptions).to.include('ro');
    expect(mountOf(join(dst, 'sub')).mountOptions).to.include.members(['ro', 'noexec']);
    expect(mountOf(join(src, 'sub')).mountOptions).not.to.include('ro');

    setPropagation(dst, 'shared', { recursive: true });
    expect(propagationName(mountOf(join(dst, 'sub')).propagation)).to.equal('shared');
    setPropagation(dst, 'private', { recursive: true });
    expect(propagationName(mountOf(dst).propagation)).to.equal('private');

    unmount(dst, { detach: true });
    expect(hostMountsUnder(dst)).to.deep.equal([]);
    expect(isMountPoint(dst)).to.equal(false);
  });

  it('locate resolves symlinks to the mount the kernel would use', () => {
    const real = join(dir, 'real');
    mkdirSync(real);
    writeFileSync(join(real, 'f'), '');
    symlinkSync(real, join(dir, 'link'));
    expect(locate(join(dir, 'link/f')).resolved).to.equal(join(real, 'f'));
    expect(isMountPoint('/')).to.equal(true);
    expect(isMountPoint(real)).to.equal(false);
    expect(() => locate(join(dir, 'missing'))).to.throw().with.property('code', 'ENOENT');
  });
});
