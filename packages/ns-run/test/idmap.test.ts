/**
 * ns-run's roots on any host mount table, and (as root) idmapped roots and volumes: checked
 * from outside, by what the host's files and mount table show, and what the program prints.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sys } from 'ns-core';
import { cli, ok, snapshot } from './helpers';

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
