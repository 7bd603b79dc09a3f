import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSpawn, sys, type ChildOp, type NsError } from 'ns-core';
import { getopt } from 'ns-core/cli';
import { fsOps, MOUNT_COMMAND } from '../src/cli';
import { mount, parseMountinfo, perMountFlags, propagationName, type MountOptions } from '../src/index';
import { thrown } from 'ns-test-kit';
import { removeScratch, scratch } from './helpers';

const { MS } = sys;

function planOf(options: MountOptions): ChildOp[] {
  return [...compileSpawn(['true'], { steps: [mount(options)] }, new Map()).plan.ops];
}


describe('ns-mount plan (no privileges)', () => {
  let dir: string;
  before(() => {
    dir = scratch('plan');
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'file'), 'x');
  });
  after(() => removeScratch(dir));

  describe('mountinfo', () => {
    const text = [
      '27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard',
      '40 27 0:37 /sub /with\\040space ro,nosuid,nodev,noexec master:3 propagate_from:2 - tmpfs none rw,size=4k',
      '41 27 0:38 / /both rw shared:5 master:3 - tmpfs tmpfs rw',
      '42 27 0:4 net:[4026532180] /run/netns/x rw unbindable - nsfs nsfs rw',
    ].join('\n');

    it('parses fields, octal escapes and every propagation tag', () => {
      const [root, slave, both, ns] = parseMountinfo(text);
      expect(root).to.deep.include({ mountId: 27, parentId: 1, device: '254:0', root: '/', mountPoint: '/', fsType: 'ext4', source: '/dev/vda' });
      expect(root!.propagation).to.deep.equal({ shared: 1, unbindable: false });
      expect(slave!.mountPoint).to.equal('/with space');
      expect(slave!.propagation).to.deep.equal({ master: 3, propagateFrom: 2, unbindable: false });
      expect(slave!.superOptions).to.deep.equal(['rw', 'size=4k']);
      expect([root, slave, both, ns].map((e) => propagationName(e!.propagation)))
        .to.deep.equal(['shared', 'slave', 'shared,slave', 'unbindable']);
      expect(perMountFlags(slave!)).to.equal(MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC);
      expect(ns!.root).to.equal('net:[4026532180]');
    });

    it('refuses a malformed line', () => {
      expect(() => parseMountinfo('1 2 3')).to.throw(/malformed mountinfo line: 1 2 3/);
    });
  });

  describe('mount', () => {
    it('sets private propagation recursively on / by default, before anything is mounted', () => {
      const ops = planOf({ ops: [{ op: 'tmpfs', dest: '/mnt/t' }] });
      const mounts = ops.filter((o) => o.op === 'mount');
      expect(mounts[0]).to.deep.equal({ op: 'mount', target: '/', flags: MS.REC | MS.PRIVATE, step: '--propagation' });
      expect(planOf({ propagation: 'slave' }).find((o) => o.op === 'mount')).to.include({ flags: MS.REC | MS.SLAVE });
      expect(planOf({ propagation: 'shared' }).find((o) => o.op === 'mount')).to.include({ flags: MS.REC | MS.SHARED });
      expect(planOf({ propagation: 'unchanged' }).filter((o) => o.op === 'mount')).to.deep.equal([]);
      expect(() => mount({ propagation: 'bogus' as 'private' })).to.throw("--propagation: unsupported propagation mode 'bogus'");
    });

    it('runs filesystem ops in the order given, creating missing parents as bwrap does', () => {
      const ops = planOf({ ops: [
        { op: 'dir', dest: '/m/a/b', perms: 0o700 },
        { op: 'symlink', target: '../x', dest: '/m/a/l' },
        { op: 'tmpfs', dest: '/m/t', size: 4096, perms: 0o1777 },
      ] }).filter((o) => o.op !== 'mount' || o.target !== '/').map((o) => ({ ...o, step: undefined }));
      const fs = ops.slice(ops.findIndex((o) => o.op === 'mkdir'), ops.findIndex((o) => o.op === 'exec'));
      expect(fs).to.deep.equal([
        { op: 'mkdir', path: '/m', mode: 0o755, existOk: true, step: undefined },
        { op: 'mkdir', path: '/m/a', mode: 0o755, existOk: true, step: undefined },
        { op: 'mkdir', path: '/m/a/b', mode: 0o700, existOk: true, step: undefined },
        { op: 'mkdir', path: '/m', mode: 0o755, existOk: true, step: undefined },
        { op: 'mkdir', path: '/m/a', mode: 0o755, existOk: true, step: undefined },
        { op: 'symlink', target: '../x', path: '/m/a/l', step: undefined },
        { op: 'mkdir', path: '/m', mode: 0o755, existOk: true, step: undefined },
        { op: 'mkdir', path: '/m/t', mode: 0o755, existOk: true, step: undefined },
        { op: 'mount', target: '/m/t', fstype: 'tmpfs', flags: MS.NOSUID | MS.NODEV, data: 'mode=01777,size=4096', step: undefined },
      ]);
    });

    it('with --rootfs: binds it onto itself, mounts every DEST inside it, then pivots', () => {
      const ops = planOf({ rootfs: dir, ops: [{ op: 'proc', dest: '/proc' }, { op: 'bind', source: join(dir, 'file'), dest: '/etc/f' }] });
      const names = ops.map((o) => `${o.op}${'target' in o ? ` ${o.target}` : ''}${'path' in o ? ` ${o.path}` : ''}${'newRoot' in o ? ` ${o.newRoot}` : ''}`);
      const from = names.indexOf(`mount ${dir}`);
      expect(names.slice(from, names.indexOf(`pivot-root ${dir}`) + 1)).to.deep.equal([
        `mount ${dir}`,
        `mkdir ${dir}/proc`, `mount ${dir}/proc`,
        `mkdir ${dir}/etc`, `mkfile ${dir}/etc/f`, `mount ${dir}/etc/f`,
        `pivot-root ${dir}`,
      ]);
      expect(ops[from]).to.include({ source: dir, flags: MS.BIND | MS.REC, step: '--rootfs' });
      expect(() => mount({ rootfs: dir, propagation: 'shared' })).to.throw(/--rootfs: pivot_root needs a non-shared root/);
    });

    it('--root chroots after any pivot and starts in /, --wd and --mount-proc come after', () => {
      const ops = planOf({ root: '/srv/r', wd: '/work', mountProc: true });
      const tail = ops.slice(ops.findIndex((o) => o.op === 'chroot')).map((o) => o.op);
      expect(tail).to.deep.equal(['chroot', 'chdir', 'mount', 'exec']);
      expect(planOf({ root: '/srv/r' }).find((o) => o.op === 'chdir')).to.include({ path: '/' });
    });

    it('--ro-bind remounts read-only keeping the source mount\'s flags', () => {
      const ops = planOf({ ops: [{ op: 'bind', source: join(dir, 'src'), dest: '/m/ro', readOnly: true }] });
      const mounts = ops.filter((o) => o.op === 'mount' && o.target === '/m/ro');
      expect(mounts).to.have.length(2);
      expect(mounts[0]).to.include({ flags: MS.BIND | MS.REC });
      expect((mounts[1] as { flags: number }).flags & (MS.BIND | MS.REMOUNT | MS.RDONLY)).to.equal(MS.BIND | MS.REMOUNT | MS.RDONLY);
    });

    it('names the step and path of a source that does not exist, before anything runs', () => {
      const err = thrown<NsError>(() => mount({ ops: [{ op: 'bind', source: '/no/such/src', dest: '/x' }] }));
      expect(err).to.include({ code: 'ENOENT', step: '--bind', path: '/no/such/src' });
      expect(thrown<NsError>(() => mount({ rootfs: '/no/such/root' }))).to.include({ code: 'ENOENT', step: '--rootfs', path: '/no/such/root' });
      expect(thrown<NsError>(() => mount({ ops: [{ op: 'overlay', lower: [join(dir, 'file')], upper: dir, work: dir, dest: '/o' }] })))
        .to.include({ code: 'ENOTDIR', step: '--overlay', path: join(dir, 'file') });
      expect(thrown<NsError>(() => mount({ ops: [{ op: 'tmpfs', dest: 'rel' }] })).message)
        .to.equal("--tmpfs: destination 'rel' must be an absolute path");
      expect(thrown<NsError>(() => mount({ ops: [{ op: 'overlay', lower: ['/a,b'], upper: dir, work: dir, dest: '/o' }] })).code)
        .to.equal('EUSAGE');
    });
  });

  describe('command line', () => {
    it('keeps the bwrap-style options in order and leaves the rest to yargs', () => {
      const args = getopt([
        '--propagation', 'slave', '--bind', '/a', '/b', '--perms', '0700', '--size', '100', '--tmpfs', '/t',
        '--mount-proc', '--overlay', '/l1:/l2', '/u', '/w', '/o', '--dir', '/d', 'sh', '--bind', 'x', 'y',
      ], MOUNT_COMMAND);
      const ops = fsOps(args);
      expect(ops).to.deep.equal([
        { op: 'bind', source: '/a', dest: '/b' },
        { op: 'tmpfs', dest: '/t', size: 100, perms: 0o700 },
        { op: 'overlay', lower: ['/l1', '/l2'], upper: '/u', work: '/w', dest: '/o' },
        { op: 'dir', dest: '/d' },
      ]);
      expect(args.last('propagation')).to.equal('slave');
      expect(args.last('mount-proc')).to.equal('');
      expect(args.operands).to.deep.equal(['sh', '--bind', 'x', 'y']);
    });

    it('refuses modifiers that nothing uses, missing arguments and bad values', () => {
      const usage = (argv: string[]) => thrown<NsError>(() => fsOps(getopt(argv, MOUNT_COMMAND))).message;
      expect(usage(['--size', '10', '--dir', '/d'])).to.equal('--size must be followed by --tmpfs');
      expect(usage(['--perms', '0700', '--bind', '/a', '/b'])).to.equal('--perms must be followed by --tmpfs or --dir');
      expect(usage(['--perms', '0700'])).to.equal('--perms must be followed by --tmpfs or --dir');
      expect(usage(['--bind', '/a'])).to.equal("option '--bind' requires 2 arguments (src dest)");
      expect(usage(['--size', 'lots', '--tmpfs', '/t'])).to.equal("--size: invalid size 'lots' (a positive number of bytes)");
      expect(usage(['--perms', '0800', '--tmpfs', '/t'])).to.equal("--perms: invalid mode '0800' (octal, at most 07777)");
      expect(usage(['--tmpfs=/t'])).to.equal("option '--tmpfs' doesn't allow an argument");
    });
  });
});
