import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, type NsError } from 'ns-core';
import { mount, parseMountinfo, PROPAGATIONS } from '../src/index';
import { busyboxRootfs } from 'ns-test-kit';
import { cli, CLI, hostMountsUnder, removeScratch, scratch } from './helpers';

/** The optional fields of the mountinfo line for `/`, e.g. "shared:1" or "master:7". */
/** A shell word that sh -c passes through unchanged. */
const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

const ROOT_FIELDS = 'awk \'$5 == "/" { f = ""; for (i = 7; $i != "-"; i++) f = f " " $i; print substr(f, 2) }\' /proc/self/mountinfo';

describe('ns-mount against the kernel', function () {
  let dir: string;
  beforeEach(function () {
    dir = scratch(this.currentTest!.title.replace(/\W+/g, '-').slice(0, 20));
  });
  afterEach(() => removeScratch(dir));

  it('sets each --propagation mode on / as unshare -m --propagation does', () => {
    // The host's / may be private, where slave and shared look alike; a shared outer namespace
    // made by util-linux gives every mode something to show.
    for (const mode of PROPAGATIONS) {
      const run = (inner: string) => spawnSync('unshare', ['-m', '--propagation', 'shared', 'sh', '-c', `${ROOT_FIELDS}; ${inner}`],
        { encoding: 'utf8' });
      const ours = run(`${process.execPath} ${CLI} --propagation ${mode} -- sh -c ${quote(ROOT_FIELDS)}`);
      const theirs = run(`unshare -m --propagation ${mode} sh -c ${quote(ROOT_FIELDS)}`);
      expect(ours.stderr).to.equal('');
      // Peer group numbers differ between runs; name the outer group and compare the shape.
      const shape = (out: string) => {
        const [outer, inner] = out.split('\n');
        return inner!.replaceAll(outer!.replace('shared:', ''), 'OUTER');
      };
      expect(shape(ours.stdout), mode).to.equal(shape(theirs.stdout));
      expect(shape(ours.stdout), mode).to.equal({ private: '', slave: 'master:OUTER', shared: 'shared:OUTER', unchanged: 'shared:OUTER' }[mode]);
    }
  });

  it('a mount made inside reaches the host only through shared propagation', () => {
    // A shared mount of the host's, which the child's copy joins as a peer (mount_namespaces(7)).
    const peer = join(dir, 'peer');
    mkdirSync(peer);
    execFileSync('mount', ['--bind', peer, peer]);
    execFileSync('mount', ['--make-shared', peer]);
    for (const mode of PROPAGATIONS) {
      const sub = join(peer, mode);
      const r = cli(['--propagation', mode, '--tmpfs', sub, '--', 'true']);
      expect(r.status, r.stderr).to.equal(0);
      const visible = hostMountsUnder(sub).length > 0;
      expect(visible, mode).to.equal(mode === 'shared' || mode === 'unchanged');
      if (visible) execFileSync('umount', [sub]);
    }
  });

  it('--mount-proc under shared propagation keeps the new proc inside, as unshare makes /proc private first', () => {
    // In a shared outer namespace, a proc mounted on the inner /proc would propagate out
    // unless /proc is made private first; count the outer namespace's proc mounts after.
    const count = 'awk \'$5 == "/proc"\' /proc/self/mountinfo | wc -l';
    const run = (inner: string) => spawnSync('unshare', ['-m', '--propagation', 'shared', 'sh', '-c', `${inner} && ${count}`],
      { encoding: 'utf8' });
    const ours = run(`${process.execPath} ${CLI} --propagation shared --mount-proc -- sh -c ${quote(count)}`);
    const theirs = run(`unshare -m --propagation shared --mount-proc sh -c ${quote(count)}`);
    expect(ours.stderr).to.equal('');
    expect(ours.stdout.split(/\s+/).filter(Boolean)).to.deep.equal(['2', '1']);
    expect(ours.stdout).to.equal(theirs.stdout);
  });

  it('--rootfs pivots into a busybox tree: the host\'s files are out of reach', () => {
    const root = busyboxRootfs({ dir: join(dir, 'root'), bare: true });
    const marker = join(dir, 'host-marker');
    writeFileSync(marker, 'host');
    const script = `ls /; cd /..; pwd; test -e ${marker} && echo REACHED; test -e /bin/busybox && echo own-busybox`;
    const r = cli(['--rootfs', root, '--', '/bin/sh', '-c', script]);
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.equal('bin\n/\nown-busybox\n');
    expect(r.status).to.equal(0);
    // The same marker is plainly there without the pivot.
    expect(cli(['--', 'sh', '-c', `test -e ${marker} && echo REACHED`]).stdout).to.equal('REACHED\n');
    expect(hostMountsUnder(dir)).to.deep.equal([]);
  });

  it('--rootfs with bubblewrap steps: everything mounted inside the new root, nothing of the host\'s table', () => {
    const root = busyboxRootfs({ dir: join(dir, 'root'), bare: true });
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'data'), 'from host');
    const r = cli(['--rootfs', root, '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--ro-bind', src, '/mnt/src',
                   '--dir', '/a/b', '--symlink', '/mnt/src/data', '/a/b/link', '--mount-proc=/proc',
                   '--', '/bin/sh', '-c', 'cat /a/b/link; echo; cat /proc/self/mountinfo']);
    expect(r.stderr).to.equal('');
    const [data, ...rest] = r.stdout.split('\n');
    expect(data).to.equal('from host');
    const inside = parseMountinfo(rest.join('\n'));
    expect(inside[0]!.mountPoint).to.equal('/');
    expect(inside[0]!.root).to.equal(root);
    expect(inside.map((e) => e.mountPoint)).to.deep.equal([
      '/', '/proc', '/dev', '/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty',
      '/dev/shm', '/dev/pts', '/tmp', '/mnt/src', '/proc',
    ]);
    expect(inside.find((e) => e.mountPoint === '/mnt/src')!.mountOptions).to.include('ro');
    expect(hostMountsUnder(dir)).to.deep.equal([]);
  });

  it('--dev gives working device nodes, a private devpts and the stdio links', () => {
    const dev = join(dir, 'dev');
    const script = [
      `echo x > ${dev}/null && head -c 4 ${dev}/zero | od -An -tx1`,
      `readlink ${dev}/ptmx ${dev}/fd ${dev}/stdin ${dev}/stdout ${dev}/stderr`,
      `ls ${dev}/pts`, `stat -c %a ${dev}/shm`, 'echo ---', 'cat /proc/self/mountinfo',
    ].join('; ');
    const r = cli(['--dev', dev, '--', 'sh', '-c', script]);
    expect(r.stderr).to.equal('');
    const [out, table] = r.stdout.split('---\n');
    expect(out).to.equal([
      ' 00 00 00 00', 'pts/ptmx', '/proc/self/fd', '/proc/self/fd/0', '/proc/self/fd/1', '/proc/self/fd/2', 'ptmx', '1777', '',
    ].join('\n'));
    const inside = parseMountinfo(table!);
    const at = (p: string) => inside.find((e) => e.mountPoint === p)!;
    expect(at(dev).fsType).to.equal('tmpfs');
    expect(at(`${dev}/null`).root).to.equal('/null');
    expect(at(`${dev}/shm`).fsType).to.equal('tmpfs');
    expect(at(`${dev}/pts`).fsType).to.equal('devpts');
    expect(at(`${dev}/pts`).superOptions).to.include.members(['mode=620', 'ptmxmode=666']);
    // newinstance: a devpts of its own, not the host's (another device number).
    expect(at(`${dev}/pts`).device).not.to.equal(inside.find((e) => e.mountPoint === '/dev/pts')!.device);
    expect(hostMountsUnder(dir)).to.deep.equal([]);
  });

  it('--tmpfs with --size/--perms, --sysfs read-only, --remount-ro, --dir and --symlink', () => {
    const t = join(dir, 't');
    const s = join(dir, 'sys');
    const script = [
      `stat -c %a ${t}`, `touch ${t}/x 2>/dev/null || echo read-only`, `test -d ${dir}/d/e && echo dir`, `readlink ${dir}/d/l`,
      'echo ---', 'cat /proc/self/mountinfo',
    ].join('; ');
    const r = cli(['--size', '65536', '--perms', '0750', '--tmpfs', t, '--sysfs', s, '--remount-ro', t,
                   '--perms', '0711', '--dir', `${dir}/d/e`, '--symlink', 'e', `${dir}/d/l`, '--', 'sh', '-c', script]);
    expect(r.stderr).to.equal('');
    const [out, table] = r.stdout.split('---\n');
    expect(out).to.equal('750\nread-only\ndir\ne\n');
    const inside = parseMountinfo(table!);
    const tmp = inside.find((e) => e.mountPoint === t)!;
    expect(tmp.mountOptions).to.include.members(['ro', 'nosuid', 'nodev']);
    expect(tmp.superOptions).to.include.members(['size=64k', 'mode=750']);
    expect(inside.find((e) => e.mountPoint === s)!.mountOptions).to.include.members(['ro', 'nosuid', 'nodev', 'noexec']);
    expect(spawnSync('stat', ['-c', '%a', `${dir}/d/e`], { encoding: 'utf8' }).stdout).to.equal('711\n');
    expect(hostMountsUnder(dir)).to.deep.equal([]);
  });

  it('--ro-bind is read-only throughout, submounts included; --bind stays writable', () => {
    const src = join(dir, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'nosuid', 'none', join(src, 'sub')]);
    const ro = join(dir, 'ro');
    const rw = join(dir, 'rw');
    const script = `for f in ${ro}/x ${ro}/sub/x ${rw}/x ${rw}/sub/x; do touch $f 2>/dev/null && echo $f ok || echo $f refused; done; `
      + 'echo ---; cat /proc/self/mountinfo';
    const r = cli(['--ro-bind', src, ro, '--bind', src, rw, '--', 'sh', '-c', script]);
    expect(r.stderr).to.equal('');
    const [out, table] = r.stdout.split('---\n');
    expect(out).to.equal(`${ro}/x refused\n${ro}/sub/x refused\n${rw}/x ok\n${rw}/sub/x ok\n`);
    // The submount kept its nosuid through the read-only remount.
    expect(parseMountinfo(table!).find((e) => e.mountPoint === `${ro}/sub`)!.mountOptions).to.include.members(['ro', 'nosuid']);
    expect(hostMountsUnder(ro)).to.deep.equal([]);
    expect(hostMountsUnder(rw)).to.deep.equal([]);
  });

  it('--overlay merges the lower directories and writes to the upper one', () => {
    for (const d of ['l1', 'l2', 'u', 'w', 'o']) mkdirSync(join(dir, d));
    writeFileSync(join(dir, 'l1/a'), 'top');
    writeFileSync(join(dir, 'l2/a'), 'bottom');
    writeFileSync(join(dir, 'l2/b'), 'only-lower');
    const o = join(dir, 'o');
    const r = cli(['--overlay', `${join(dir, 'l1')}:${join(dir, 'l2')}`, join(dir, 'u'), join(dir, 'w'), o,
                   '--', 'sh', '-c', `cat ${o}/a ${o}/b; echo new > ${o}/c`]);
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.equal('toponly-lower');
    expect(readFileSync(join(dir, 'u/c'), 'utf8')).to.equal('new\n');
    expect(existsSync(join(dir, 'l1/c'))).to.equal(false);
    expect(hostMountsUnder(dir)).to.deep.equal([]);
  });

  it('--ro-overlay stacks lower directories read-only; in a user namespace user.overlay whiteouts hide files', () => {
    for (const d of ['r1', 'r2', 'ro']) mkdirSync(join(dir, d));
    writeFileSync(join(dir, 'r1/a'), 'top');
    writeFileSync(join(dir, 'r2/a'), 'bottom');
    writeFileSync(join(dir, 'r2/gone'), 'hidden by a whiteout above');
    // A whiteout as an unprivileged overlay reads it: a 0:0 character device is root's to make,
    // so the top layer marks the name with the user.overlay.whiteout xattr on an empty file, in a
    // directory whose user.overlay.opaque is "x" (overlayfs.rst: "xattr whiteouts", Linux 6.7).
    writeFileSync(join(dir, 'r1/gone'), '');
    execFileSync('setfattr', ['-n', 'user.overlay.whiteout', '-v', 'y', join(dir, 'r1/gone')]);
    execFileSync('setfattr', ['-n', 'user.overlay.opaque', '-v', 'x', join(dir, 'r1')]);
    const o = join(dir, 'ro');
    const lower = `${join(dir, 'r1')}:${join(dir, 'r2')}`;
    const plain = cli(['--ro-overlay', lower, o, '--', 'sh', '-c', `cat ${o}/a; touch ${o}/new 2>/dev/null || echo read-only`]);
    expect(plain.stderr).to.equal('');
    expect(plain.stdout).to.equal('topread-only\n');
    const rootless = spawnSync(process.execPath, [join(__dirname, '../../../ns-user/bin/ns-user.js'), '-r', '--', process.execPath, CLI,
      '--ro-overlay', lower, o, '--userxattr', '--', 'sh', '-c', `ls ${o}`], { encoding: 'utf8' });
    expect(rootless.stderr).to.equal('');
    expect(rootless.stdout.split('\n').filter(Boolean)).to.deep.equal(['a']);
    expect(hostMountsUnder(dir)).to.deep.equal([]);
  });

  it('--root and --wd behave as unshare --root/--wd', () => {
    const root = busyboxRootfs({ dir: join(dir, 'root'), bare: true });
    mkdirSync(join(root, 'work'));
    for (const args of [['--root', root], ['--root', root, '--wd', '/work']]) {
      const ours = cli([...args, '--', '/bin/sh', '-c', 'pwd; ls /']);
      const theirs = spawnSync('unshare', ['-m', ...args, '/bin/sh', '-c', 'pwd; ls /'], { encoding: 'utf8' });
      expect(ours.stdout).to.equal(theirs.stdout).and.match(/^\/(work)?\nbin\nwork\n$/);
    }
  });

  it('a step that fails names itself and its path, and leaves no mount behind', async () => {
    const before = hostMountsUnder(dir);
    const file = join(dir, 'plain-file');
    writeFileSync(file, '');
    // ENOTDIR at run time, in the child: the destination's parent is a regular file.
    const cases: [Parameters<typeof mount>[0], Partial<NsError>][] = [
      [{ ops: [{ op: 'tmpfs', dest: join(dir, 't') }, { op: 'tmpfs', dest: `${file}/t` }] },
       { code: 'ENOTDIR', step: '--tmpfs', path: `${file}/t`, syscall: 'mkdir' }],
      [{ ops: [{ op: 'bind', source: dir, dest: join(dir, 'b') }, { op: 'remount-ro', dest: join(dir, 'not-a-mount') }] },
       { code: 'ENOENT', step: '--remount-ro', path: join(dir, 'not-a-mount'), syscall: 'mount' }],
    ];
    for (const [options, expected] of cases) {
      try {
        await spawn(['true'], { steps: [mount(options)] });
        expect.fail('expected the spawn to fail');
      } catch (e) {
        expect(e).to.deep.include(expected);
      }
    }
    // EPERM: sysfs belongs to the network namespace's owner, which an unmapped user namespace is not.
    try {
      await spawn(['true'], { create: ['user'], steps: [mount({ ops: [{ op: 'sysfs', dest: dir }] })] });
      expect.fail('expected the spawn to fail');
    } catch (e) {
      expect(e).to.deep.include({ code: 'EPERM', step: '--sysfs', path: dir, syscall: 'mount' });
    }
    expect(hostMountsUnder(dir)).to.deep.equal(before);

    const r = cli(['--tmpfs', join(dir, 'ok'), '--bind', '/no/such/source', join(dir, 'x'), '--', 'true']);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.equal('ns-mount: --bind: stat /no/such/source failed: ENOENT (no such file or directory)\n');
    const late = cli(['--tmpfs', join(dir, 'ok'), '--tmpfs', `${file}/t`, '--', 'true']);
    expect(late.status).to.equal(1);
    expect(late.stderr.split('\n')[0]).to.equal(`ns-mount: --tmpfs: mkdir ${file}/t failed: ENOTDIR (not a directory)`);
    expect(hostMountsUnder(dir)).to.deep.equal(before);
  });

  it('CLI: bad input exits 1 with one line naming the option and value', () => {
    for (const [args, message] of [
      [['--propagation', 'sideways', 'true'], "ns-mount: --propagation: unsupported propagation mode 'sideways' (private, slave, shared, unchanged)\n"],
      [['--size', 'x', '--tmpfs', '/t', 'true'], "ns-mount: --size: invalid size 'x' (a positive number of bytes)\n"],
      [['--size', '10', 'true'], 'ns-mount: --size must be followed by --tmpfs\n'],
      [['--tmpfs', 'relative', 'true'], "ns-mount: --tmpfs: destination 'relative' must be an absolute path\n"],
      [['--persist', 'bogus=/x', 'true'], "ns-mount: --persist: expected KIND=FILE, got 'bogus=/x'\n"],
      [['--rootfs', '/', '--propagation', 'shared', 'true'], 'ns-mount: --rootfs: pivot_root needs a non-shared root; use --propagation private or slave\n'],
    ] as const) {
      const r = cli(args);
      expect(r.stderr).to.equal(message);
      expect(r.status).to.equal(1);
    }
  });
});
