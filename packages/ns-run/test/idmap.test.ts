/**
 * ns-run's roots on any host mount table, and (as root) idmapped roots and volumes: checked
 * from outside, by what the host's files and mount table show, and what the program prints.
 */
import { expect } from 'chai';
import { chmodSync, closeSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { runContainer } from 'ns-container';
import { join } from 'node:path';
import { sys } from 'ns-core';
import { busyboxRootfs, cli, ok, readState, removeTree, snapshot, uniqueName } from './helpers';

/** Where a leaked mount of these tests would show: the staging directories and the test's own trees. */
const WATCHED = ['/tmp', '/run', '/dev/shm'];

describe('the embedded default root on a host with a mount below a directory the container cannot search', () => {
  // A 0700 directory of host root's with a tmpfs below it: the container's root (host uid
  // 1000000000, or nobody rootless) may not look it up, so no remount by path can reach it.
  let closed: string;
  let point: string;
  before(() => {
    closed = mkdtempSync(`/var/tmp/ns-run-idmap-${process.pid}-closed-`); // 0700, host root's
    point = join(closed, 'm');
    mkdirSync(point);
    sys.mount(`ns-run-idmap-${process.pid}`, point, 'tmpfs', sys.MS.NOSUID, 'mode=0755,size=1m');
  });
  after(() => {
    try { sys.umount2(point, sys.MNT.DETACH); } catch { /* before() failed before the mount */ }
    rmSync(closed, { recursive: true, force: true });
  });

  for (const rootless of [false, true]) {
    it(`${rootless ? 'rootless' : 'as root'}: runs, with that mount read-only inside, and leaves nothing mounted`, () => {
      const before = snapshot('never', [...WATCHED, closed], rootless); // mounts only: other suites' state files come and go
      const script = `grep " ${point} " /proc/self/mountinfo | cut -d" " -f6; touch /usr/x 2>/dev/null || echo usr-ro; id -u`;
      const out = ok(cli(['--network', 'none', '--', 'sh', '-c', script], { rootless }));
      const [options, ...rest] = out.trim().split('\n');
      expect(options!.split(',')).to.include.members(['ro', 'nosuid']);
      expect(rest).to.deep.equal(['usr-ro', '0']);
      expect(ok(cli(['--network', 'none', '--', 'true'], { rootless }))).to.equal('');
      expect(snapshot('never', [...WATCHED, closed], rootless).mounts).to.deep.equal(before.mounts);
    });
  }
});

describe('idmapped roots as root', () => {
  // A root-owned rootfs whose own directory is 0700, as an extracted tarball or `mktemp -d` gives.
  let parent: string;
  let rootfs: string;
  before(() => {
    parent = mkdtempSync(`/tmp/ns-run-idmap-${process.pid}-parent-`); // 0700 too: the container's root never walks it
    rootfs = join(parent, 'root');
    const built = busyboxRootfs();
    cpSync(built, rootfs, { recursive: true, verbatimSymlinks: true });
    removeTree(built);
    chmodSync(rootfs, 0o700);
    const st = lstatSync(join(rootfs, 'etc'));
    expect([st.uid, st.gid]).to.deep.equal([0, 0]);
  });
  after(() => rmSync(parent, { recursive: true, force: true }));

  it('a root-owned 0700 rootfs is container root\'s: it runs, shows 0 as owner, and what root writes is host root\'s', () => {
    const before = snapshot('never', [...WATCHED, parent]);
    // Not /proc and /sys: the kernel's, host root's, as in any container with a user namespace.
    const script = 'ls -ln / | grep -v -e " proc$" -e " sys$" | grep -c " 65534 "; stat -c %u:%g / /etc /bin/busybox; touch /etc/x /tmp/x && echo wrote; ' +
      'cat /proc/self/uid_map | tr -s " " | sed "s/^ //"';
    const out = ok(cli(['--network', 'none', '--rootfs', rootfs, '--', 'sh', '-c', script]));
    const lines = out.trim().split('\n');
    expect(lines.slice(0, 5)).to.deep.equal(['0', '0:0', '0:0', '0:0', 'wrote']);
    // The range leased for this container: a 65536-id slot from 1000000000 on.
    expect(lines[5]).to.match(/^0 1\d{9} 65536$/);
    for (const made of ['etc/x', 'tmp/x']) {
      const st = lstatSync(join(rootfs, made));
      expect([made, st.uid, st.gid]).to.deep.equal([made, 0, 0]);
    }
    expect(snapshot('never', [...WATCHED, parent]).mounts).to.deep.equal(before.mounts);
  });

  it('container after container from one Node process (runContainer): each range\'s own idmapping, the same range\'s kept one too', async () => {
    const dir = mkdtempSync(`/tmp/ns-run-idmap-${process.pid}-lib-`);
    try {
      // The first and third share a range (the mapping namespace made for the first is kept);
      // the second has another: its idmapping must not be the first one's.
      for (const [i, range] of [[1, '0:1500000000:65536'], [2, '0:1500131072:65536'], [3, '0:1500000000:65536']] as const) {
        const out = join(dir, `out-${i}`);
        writeFileSync(out, '');
        const fd = openSync(out, 'w');
        try {
          const container = await runContainer(['sh', '-c', 'stat -c %u:%g / /etc; touch /tmp/lib-made; stat -c %u /tmp/lib-made; cat /proc/self/uid_map | tr -s " " | sed "s/^ //"'],
            { rootfs, network: 'none', usernsRange: range, stdio: ['ignore', fd, 'inherit'] });
          expect(await container.exited).to.deep.equal({ code: 0, signal: null });
        } finally {
          closeSync(fd);
        }
        expect(readFileSync(out, 'utf8').trim().split('\n'), `container ${i}`).to.deep.equal(['0:0', '0:0', '0', `0 ${range.split(':')[1]} 65536`]);
        const st = lstatSync(join(rootfs, 'tmp/lib-made'));
        expect([st.uid, st.gid], `container ${i}: what its root made is host root's`).to.deep.equal([0, 0]);
        rmSync(join(rootfs, 'tmp/lib-made'));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('volumes', () => {
    // Under /root (0700 on Debian): host root opens the source, the container's root never looks it up.
    let data: string;
    before(() => {
      data = mkdtempSync(`/root/ns-run-idmap-${process.pid}-data-`);
      writeFileSync(join(data, 'from-host'), 'host\n');
      rmSync(join(parent, 'outside'), { recursive: true, force: true });
      symlinkSync('/../../../outside', join(rootfs, 'escape'));
    });
    after(() => {
      rmSync(data, { recursive: true, force: true });
      rmSync(join(rootfs, 'escape'), { force: true });
    });

    it('-v /root/x:/data is container root\'s and writable; what it writes is host root\'s; :ro is read-only', () => {
      const script = 'stat -c %u:%g /data /data/from-host; echo c > /data/made && echo wrote; echo x > /ro/x 2>/dev/null || echo ro';
      const out = ok(cli(['--network', 'none', '--rootfs', rootfs, '-v', `${data}:/data`, '-v', `${data}:/ro:ro`, '--', 'sh', '-c', script]));
      expect(out.trim().split('\n')).to.deep.equal(['0:0', '0:0', 'wrote', 'ro']);
      const st = lstatSync(join(data, 'made'));
      expect([st.uid, st.gid]).to.deep.equal([0, 0]);
      expect(existsSync(join(data, 'x'))).to.equal(false);
    });

    it('creates mount points the rootfs lacks inside it, a symlink leading out of it resolved inside', () => {
      const script = 'cat /new/deep/from-host /escape/v/from-host';
      const out = ok(cli(['--network', 'none', '--rootfs', rootfs, '-v', `${data}:/new/deep`, '-v', `${data}:/escape/v`, '--', 'sh', '-c', script]));
      expect(out).to.equal('host\nhost\n');
      // '/../../../outside' from inside the root is <root>/outside: made there, never beside the root.
      expect(lstatSync(join(rootfs, 'new/deep')).isDirectory()).to.equal(true);
      expect(lstatSync(join(rootfs, 'outside/v')).isDirectory()).to.equal(true);
      expect(existsSync(join(parent, 'outside'))).to.equal(false);
      expect(existsSync('/outside')).to.equal(false);
    });

    it('on the embedded default root too: a new top-level mount point and one under /tmp, both writable', () => {
      const script = 'touch /data/top /tmp/v/under && stat -c %u /data/top /tmp/v/under';
      const out = ok(cli(['--network', 'none', '-v', `${data}:/data`, '-v', `${data}:/tmp/v`, '--', 'sh', '-c', script]));
      expect(out).to.equal('0\n0\n');
      for (const f of ['top', 'under']) expect(lstatSync(join(data, f)).uid).to.equal(0);
    });
  });

  it('a filesystem that cannot be idmapped: one line naming the path and --userns=host, exit 125, nothing left; --userns=host runs it', () => {
    // ramfs declares no FS_ALLOW_IDMAP (tmpfs does): mount_setattr(MOUNT_ATTR_IDMAP) says EINVAL.
    const ram = join(parent, 'ramfs');
    mkdirSync(ram);
    sys.mount(`ns-run-idmap-${process.pid}-ramfs`, ram, 'ramfs', 0, null);
    try {
      cpSync(rootfs, ram, { recursive: true, verbatimSymlinks: true });
      const before = snapshot('never', [...WATCHED, parent]);
      const name = uniqueName('no-idmap');
      const r = cli(['--name', name, '--network', 'none', '--rootfs', ram, '--', 'true']);
      expect(r.status).to.equal(125);
      expect(r.stderr.trim().split('\n')).to.have.length(1);
      expect(r.stderr).to.match(new RegExp(`^ns-run: --rootfs: ${ram}: its filesystem \\(ramfs\\) cannot be idmapped.*--userns=host`));
      expect(snapshot('never', [...WATCHED, parent]).mounts).to.deep.equal(before.mounts);
      expect(readState(name)).to.equal(undefined);
      expect(existsSync(join(ram, 'proc', 'self'))).to.equal(false);
      // The way out the message names works: the host's ids need no mapping.
      const out = ok(cli(['--network', 'none', '--userns=host', '--rootfs', ram, '--', 'sh', '-c', 'touch /etc/h && stat -c %u /etc/h']));
      expect(out).to.equal('0\n');
      expect(lstatSync(join(ram, 'etc/h')).uid).to.equal(0);
    } finally {
      sys.umount2(ram, sys.MNT.DETACH);
    }
  });
});
