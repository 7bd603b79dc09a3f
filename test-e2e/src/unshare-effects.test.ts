/**
 * Effects seen from outside that a probe inside cannot show on its own: mounts made inside
 * reaching (or not) the host's peer group, per --propagation; the owner of a user namespace
 * made with --owner; binfmt_misc instances (--mount-binfmt, --load-interp) that exist only
 * inside. util-linux 2.38.1 lacks --owner and binfmt: those are checked against what
 * util-linux documents (and, for --owner, against util-linux run as the owner).
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import { Namespace } from 'ns-core';
import { bin, inParallel, run, runAsync } from './cli';
import { NOBODY, Scratch, Target, asUser } from './fixtures';
import { mountinfoOf } from './ns';

describe('unshare vs ns-unshare: effects seen from outside', () => {
  let scratch: Scratch;
  let shared: string;
  before(() => {
    scratch = new Scratch('effects');
    shared = scratch.sharedDir('peer');
  });
  after(() => {
    scratch?.remove();
  });

  describe('a mount made inside reaches the host only through a shared peer group', () => {
    const modes = [
      { args: ['-m', '--propagation', 'shared'], reaches: true },
      { args: ['-m', '--propagation', 'unchanged'], reaches: true },
      { args: ['-m', '--propagation', 'slave'], reaches: false },
      { args: ['-m', '--propagation', 'private'], reaches: false },
      { args: ['-m'], reaches: false },
      { args: ['--mount-proc', '-pf'], reaches: false },
    ];
    let seen: { theirs: boolean; ours: boolean }[];
    before(async () => {
      seen = await inParallel(modes.map((m, i) => async () => {
        const result = { theirs: false, ours: false };
        for (const [who, launcher] of [['theirs', 'unshare'], ['ours', bin('ns-unshare')]] as const) {
          const dir = `${shared}/${who}-${i}`;
          mkdirSync(dir);
          const r = await runAsync([launcher, ...m.args, 'mount', '-t', 'tmpfs', `nse2e-inside-${i}`, dir]);
          expect(r.stderr, `${launcher} ${m.args.join(' ')}`).to.equal('');
          const line = mountinfoOf(dir);
          result[who] = line !== undefined && line.includes(`nse2e-inside-${i}`);
          if (result[who]) run(['umount', dir]);
        }
        return result;
      }), 2);
    });

    modes.forEach((m, i) => {
      it(`${m.args.join(' ')}: ${m.reaches ? 'reaches' : 'does not reach'} the host`, () => {
        expect(seen[i]!.theirs, 'unshare').to.equal(m.reaches);
        expect(seen[i]!.ours, 'ns-unshare').to.equal(m.reaches);
      });
    });
  });

  describe('--owner (util-linux 2.42)', () => {
    it('the user namespace belongs to UID, as one util-linux makes when run as UID', async () => {
      // util-linux: setgid/setuid to the owner before unshare(CLONE_NEWUSER); a single map's
      // outer id is still the caller's euid (unshare.c add_single_map_range(real_euid)).
      const ours = await Target.unshare('ns-unshare', ['--owner', `${NOBODY}:${NOBODY}`, '--map-user=0', '--map-group=0']);
      const theirs = await Target.start(asUser(NOBODY, NOBODY, ['unshare', '-r', 'sh', '-c', 'echo ready; exec sleep 600']));
      try {
        const owner = (pid: number) => Namespace.ofPid(pid, 'user').use((ns) => ns.ownerUid());
        expect(owner(theirs.pid)).to.equal(NOBODY);
        expect(owner(ours.pid)).to.equal(owner(theirs.pid));
        expect(readFileSync(`/proc/${ours.pid}/uid_map`, 'utf8').trim().split(/\s+/)).to.deep.equal(['0', '0', '1']);
        expect(readFileSync(`/proc/${ours.pid}/status`, 'utf8')).to.match(new RegExp(`^Uid:\\s+${NOBODY}\\s`, 'm'));
      } finally {
        await Promise.all([ours.stop(), theirs.stop()]);
      }
    });
  });

  describe('binfmt_misc (util-linux 2.41; Linux 6.7 made it per user namespace)', () => {
    it('--mount-binfmt mounts an instance (and /proc) inside only', async () => {
      const r = await runAsync([bin('ns-unshare'), '-pf', '--mount-binfmt', 'sh', '-c',
        'cat /proc/sys/fs/binfmt_misc/status; grep -c " /proc/sys/fs/binfmt_misc .* binfmt_misc " /proc/self/mountinfo; cat /proc/1/comm']);
      expect(r.stderr).to.equal('');
      expect(r.stdout).to.equal('enabled\n1\nsh\n');
      expect(mountinfoOf('/proc/sys/fs/binfmt_misc'), 'on the host').to.equal(undefined);
    });

    it('--mount-binfmt=DIR mounts it at DIR', async () => {
      const dir = scratch.path('binfmt');
      mkdirSync(dir);
      const r = await runAsync([bin('ns-unshare'), `--mount-binfmt=${dir}`, 'sh', '-c', `cat ${dir}/status`]);
      expect(r.stderr).to.equal('');
      expect(r.stdout).to.equal('enabled\n');
      expect(mountinfoOf(dir), 'on the host').to.equal(undefined);
    });

    it('-l/--load-interp registers an interpreter the program\'s children use, nowhere else', async () => {
      // The interpreter is cat(1): with the registration, running the file prints its text;
      // without, execvp falls back to sh, which runs it and prints "run by sh".
      const file = scratch.path('x.nse2e');
      writeFileSync(file, 'echo run by sh\n');
      chmodSync(file, 0o755);
      const spec = ':nse2e:E::nse2e::/bin/cat:';
      const [long, short] = await Promise.all([
        runAsync([bin('ns-unshare'), '-r', '-pf', `--load-interp=${spec}`, 'sh', '-c', `cat /proc/sys/fs/binfmt_misc/nse2e; env ${file}`]),
        runAsync([bin('ns-unshare'), '-r', '-pf', '-l', spec, 'env', file]),
      ]);
      expect(long.stderr).to.equal('');
      expect(long.stdout).to.equal('enabled\ninterpreter /bin/cat\nflags: \nextension .nse2e\necho run by sh\n');
      expect(short.stdout).to.equal('echo run by sh\n');
      const outside = await runAsync(['env', file]);
      expect(outside.stdout).to.equal('run by sh\n');
    });
  });
});
