import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileSpawn, liveChildren, Namespace, NsError, spawn } from 'ns-core';
import {
  parseMapRange, parseSubordinateIds, planUserNamespace, readIdMap, readSubordinateIds, user, validateIdMap,
  withSingleMapping, type SourcedRange, type UserContext,
} from '../src/index';
import { childrenOf, processesOf, runAs, stopChild, ThrowawayUser } from 'ns-test-kit';

const CLI = join(__dirname, '../../bin/ns-user.js');
const BIN = join(__dirname, '../../../../node_modules/.bin');
const SHOW_MAPS = ['sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id -u; id -g'];
const NOBODY = 65534;

const FILES: Record<string, string> = {
  '/etc/passwd': 'root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n',
  '/etc/group': 'root:x:0:\nalice:x:1000:\nstaff:x:50:\n',
  '/etc/subuid': 'bob:200000:65536\nalice:100000:65536\nalice:300000:10\n',
  '/etc/subgid': 'broken line\n1000:100000:65536\n',
  '/proc/self/uid_map': '         0          0 4294967295\n',
  '/proc/self/gid_map': '         0          0 4294967295\n',
};

function context(over: Partial<UserContext> = {}, files = FILES): UserContext {
  return {
    euid: 1000, egid: 1000, privileged: false,
    readFile: (path) => {
      if (path in files) return files[path]!;
      throw new NsError({ errno: 2, syscall: 'open', path });
    },
    findProgram: (name) => `/usr/bin/${name}`,
    ...over,
  };
}

const r = (inner: number, outer: number, count: number, option = '--map-users'): SourcedRange =>
  ({ inner, outer, count, option, text: `${inner}:${outer}:${count}` });
const plain = (ranges: readonly SourcedRange[]) => ranges.map(({ inner, outer, count }) => ({ inner, outer, count }));

function cli(args: readonly string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

function expectOneLineUsageError(res: { status: number | null; stderr: string }, pattern: RegExp): void {
  expect(res.status).to.equal(1);
  expect(res.stderr.trim().split('\n')).to.have.length(1);
  expect(res.stderr).to.match(pattern);
}

describe('ns-user', () => {
  describe('maps (no privileges)', () => {
    it('parses inner:outer:count and the older outer,inner,count', () => {
      expect(plain([parseMapRange('0:100000:65536')])).to.deep.equal([{ inner: 0, outer: 100000, count: 65536 }]);
      expect(plain([parseMapRange('100000,0,65536')])).to.deep.equal([{ inner: 0, outer: 100000, count: 65536 }]);
    });

    it('rejects bad syntax, empty and out-of-range ranges naming option and value', () => {
      expect(() => parseMapRange('0:1', '--map-groups')).to.throw("--map-groups: '0:1' is not inner:outer:count")
        .with.property('code', 'EUSAGE');
      expect(() => parseMapRange('a:1:2')).to.throw(/'a:1:2' is not/);
      expect(() => parseMapRange('0:1:0')).to.throw(/'0:1:0' maps no ids/);
      expect(() => parseMapRange('4294967290:0:10')).to.throw(/reaches past the highest id 4294967294/);
      expect(() => parseMapRange('0:1:99999999999')).to.throw(/is not inner:outer:count/);
    });

    it('finds overlaps on either side of the namespace', () => {
      expect(() => validateIdMap([r(0, 100, 10), r(5, 200, 10)])).to.throw("--map-users: '0:100:10' overlaps '5:200:10' (ids inside");
      expect(() => validateIdMap([r(0, 100, 10), r(50, 109, 1)])).to.throw(/ids outside the namespace/);
      expect(() => validateIdMap([r(0, 100, 10), r(10, 110, 10)])).not.to.throw();
      expect(() => validateIdMap([r(0, -1, 10)])).to.throw("--map-users: '0:-1:10' has an id that is not a whole number");
    });

    it('punches a single mapping into ranges the way util-linux does (-r --map-auto, -c --map-auto)', () => {
      expect(plain(withSingleMapping([r(0, 100000, 65536)], r(0, 1000, 1, '-r'))))
        .to.deep.equal([{ inner: 0, outer: 1000, count: 1 }, { inner: 1, outer: 100000, count: 65535 }]);
      // Measured with unshare 2.38.1 -c --map-auto for uid 999 and block 1000000000:65536.
      expect(plain(withSingleMapping([r(0, 1000000000, 65536)], r(999, 999, 1, '-c')))).to.deep.equal([
        { inner: 999, outer: 999, count: 1 }, { inner: 0, outer: 1000000000, count: 999 },
        { inner: 1000, outer: 1000000999, count: 64536 }]);
      expect(plain(withSingleMapping([r(0, 0, 2000)], r(1000, 1000, 1)))).to.deep.equal([
        { inner: 1000, outer: 1000, count: 1 }, { inner: 0, outer: 0, count: 1000 }, { inner: 1001, outer: 1001, count: 999 }]);
      expect(plain(withSingleMapping([r(10, 20, 5)], r(0, 1000, 1)))).to.deep.equal([
        { inner: 0, outer: 1000, count: 1 }, { inner: 10, outer: 20, count: 5 }]);
    });

    it('reads subordinate ids by name or uid and reports malformed lines instead of crashing', () => {
      const parsed = parseSubordinateIds('a:1:2\n\n# comment\nb:x:1\nc:1\n:5:5\n');
      expect(parsed.ranges).to.deep.equal([{ owner: 'a', start: 1, count: 2, line: 1 }]);
      expect(parsed.problems.map((p) => p.line)).to.deep.equal([4, 5, 6]);
      const file = join(tmpdir(), `subuid-${process.pid}`);
      writeFileSync(file, 'bob:200000:65536\n1000:100000:65536\nalice:300000:10\n');
      try {
        expect(readSubordinateIds('uid', { uid: 1000, name: 'alice' }, file).map((b) => b.start)).to.deep.equal([100000, 300000]);
        writeFileSync(file, 'bob:2:x\nalice:300000\n');
        expect(readSubordinateIds('uid', { uid: 7, name: 'carol' }, file)).to.deep.equal([]);
        expect(() => readSubordinateIds('uid', { uid: 1000, name: 'alice' }, file))
          .to.throw(`${file}:2: expected owner:start:count, found 2 field(s): 'alice:300000'`);
      } finally {
        unlinkSync(file);
      }
    });
  });

  describe('plans (no privileges)', () => {
    it('-r unprivileged: setgroups deny, then one-line maps, written by the child itself', () => {
      const step = user({ mapRoot: true }, context());
      expect(step.create).to.deep.equal(['user']);
      expect(step.parent).to.deep.equal([]);
      expect(step.child).to.deep.equal([
        { op: 'write-file', path: '/proc/self/setgroups', data: 'deny', phase: 'namespaces', step: '--setgroups' },
        { op: 'write-file', path: '/proc/self/uid_map', data: '0 1000 1\n', phase: 'namespaces', step: '--map-root-user' },
        { op: 'write-file', path: '/proc/self/gid_map', data: '0 1000 1\n', phase: 'namespaces', step: '--map-root-user' },
      ]);
    });

    it('the parent writes one-line maps when the child may not (--owner, setgroups allow)', () => {
      const owned = user({ mapRoot: true, owner: '1000:1000' }, context({ euid: 0, egid: 0, privileged: true }));
      expect(owned.parent!.map((a) => a.action === 'write-proc' && a.file)).to.deep.equal(['uid_map', 'gid_map']);
      expect(owned.child!.some((o) => o.op === 'write-file')).to.equal(false);
      const allow = user({ mapUser: 0 }, context({ euid: 0, egid: 0, privileged: true }));
      expect(allow.child!.some((o) => o.op === 'write-file')).to.equal(true);
    });

    it('ranges go through newuidmap/newgidmap unprivileged, and are written directly as root', () => {
      const step = user({ mapRoot: true, mapAuto: true }, context());
      expect(step.parent).to.deep.equal([
        { action: 'run', argv: ['newuidmap', '{pid}', '0', '1000', '1', '1', '100000', '65535'], step: '--map-users' },
        { action: 'run', argv: ['newgidmap', '{pid}', '0', '1000', '1', '1', '100000', '65535'], step: '--map-groups' },
      ]);
      const root = user({ mapUsers: ['0:100000:65536'] }, context({ euid: 0, egid: 0, privileged: true }));
      expect(root.parent).to.deep.equal([{ action: 'write-proc', file: 'uid_map', data: '0 100000 65536\n', step: '--map-users' }]);
    });

    it('subids is the identity map of the first block; all copies the parent map', () => {
      const plan = planUserNamespace({ mapSubids: true }, context());
      expect(plan.uidMap!.ranges).to.deep.equal([{ inner: 100000, outer: 100000, count: 65536 }]);
      const all = planUserNamespace({ mapUsers: ['all'] }, context({ privileged: true }));
      expect(all.uidMap!.ranges).to.deep.equal([{ inner: 0, outer: 0, count: 4294967295 }]);
    });

    it('names what is wrong: unknown user, missing subuid line, unmapped outer ids, --owner without root', () => {
      expect(() => user({ mapUser: 'mallory' }, context())).to.throw("--map-user: unknown user 'mallory' (not in /etc/passwd)");
      expect(user({ mapGroup: 'staff' }, context()).child!.at(-1)).to.deep.include({ data: '50 1000 1\n' });
      expect(() => user({ mapAuto: true }, context({ euid: 7 }))).to.throw("--map-users: 'auto': no line for user 7 (uid 7) in /etc/subuid");
      expect(() => user({ mapGroups: ['subids'] }, context({ euid: 1000 }, { ...FILES, '/etc/subgid': 'alice:1\n' })))
        .to.throw("--map-groups: 'subids': /etc/subgid:1: expected owner:start:count, found 2 field(s): 'alice:1'");
      expect(() => user({ mapUsers: ['0:5000:10'] }, context({}, { ...FILES, '/proc/self/uid_map': '0 1000 4000\n' })))
        .to.throw("--map-users: '0:5000:10': outer uid 5000 is not mapped in the current user namespace");
      expect(() => user({ owner: '0:0' }, context())).to.throw(/--owner: creating a namespace for another user needs root/);
      expect(() => user({ owner: '5' }, context({ privileged: true }))).to.throw("--owner: '5' is not UID:GID");
      expect(() => user({ mapRoot: true, mapCurrent: true }, context())).to.throw(/cannot be combined with --map-current-user/);
      expect(() => user({ mapUsers: ['0:100000:10'] }, { ...context(), findProgram: () => undefined }))
        .to.throw(/--map-users: newuidmap not found in PATH \(it comes with the uidmap package\)/).with.property('code', 'ENOENT');
    });

    it('setgroups: deny is forced for a single group map, allow with it is an error, ranges keep the choice', () => {
      expect(() => user({ mapGroup: 0, setgroups: 'allow' }, context()))
        .to.throw("--setgroups: 'allow' cannot be combined with --map-group");
      expect(planUserNamespace({ mapGroups: ['0:100000:10'], setgroups: 'allow' }, context()).setgroups).to.equal('allow');
      expect(planUserNamespace({ mapGroups: ['0:100000:10'] }, context()).setgroups).to.equal(undefined);
      expect(planUserNamespace({ mapGroups: ['0:100000:10'], setgroups: 'deny' }, context()).setgroups).to.equal('deny');
    });

    it('--owner changes ids before any namespace exists; -G/-S/--keep-caps act last', () => {
      const step = user({ owner: '1000:1000', mapUsers: ['0:100000:10'], setgid: 0, setuid: 0, keepCaps: true },
                        context({ euid: 0, egid: 0, privileged: true }));
      expect(step.createInChild).to.equal(true);
      const mine = new Set(['setgroups', 'setgid', 'setuid', 'unshare', 'sync', 'ambient-all', 'exec']);
      const ops = compileSpawn(['true'], { steps: [step] }, new Map()).plan.ops.map((o) => o.op).filter((o) => mine.has(o));
      expect(ops).to.deep.equal(['setgroups', 'setgid', 'setuid', 'unshare', 'sync',
                                 'setgroups', 'setgid', 'setuid', 'ambient-all', 'exec']);
    });
  });

  describe('against the kernel', () => {
    afterEach(() => {
      expect(liveChildren()).to.equal(0);
      expect(childrenOf()).to.deep.equal([]);
    });

    it('-r matches unshare -r: maps, setgroups and ids, seen inside and from outside', async () => {
      const ours = cli(['-r', '--', ...SHOW_MAPS]);
      const theirs = spawnSync('unshare', ['-r', ...SHOW_MAPS], { encoding: 'utf8' });
      expect(ours.stderr).to.equal('');
      expect(ours.stdout).to.equal(theirs.stdout);
      expect(ours.stdout).to.match(/deny\n0\n0\n$/);
      const child = await spawn(['sleep', '10'], { steps: [user({ mapRoot: true })] });
      try {
        expect(readIdMap(child.pid, 'uid')).to.deep.equal([{ inner: 0, outer: 0, count: 1 }]);
        expect(readFileSync(`/proc/${child.pid}/setgroups`, 'utf8')).to.equal('deny\n');
        expect(child.namespaces.user).to.not.equal(Namespace.ofPid('self', 'user').use((ns) => ns.id));
      } finally {
        await stopChild(child);
      }
    });

    for (const args of [['-c'], ['--map-user=games', '--map-group=lp'], ['--map-user=7', '--setgroups', 'deny']]) {
      it(`${args.join(' ')} matches unshare`, () => {
        const ours = cli([...args, '--', ...SHOW_MAPS]);
        const theirs = spawnSync('unshare', [...args, ...SHOW_MAPS], { encoding: 'utf8' });
        expect(ours.status).to.equal(0);
        expect(ours.stdout).to.equal(theirs.stdout);
      });
    }

    it('--setgroups allow with a single group map is refused, as by unshare', () => {
      const theirs = spawnSync('unshare', ['--map-group=0', '--setgroups', 'allow', 'true'], { encoding: 'utf8' });
      expect(theirs.status).to.equal(1);
      expectOneLineUsageError(cli(['--map-group=0', '--setgroups', 'allow', 'true']), /^ns-user: --setgroups: 'allow' cannot be combined with --map-group/);
    });

    it('--keep-caps raises every permitted capability into the ambient set, like unshare', () => {
      const show = ['grep', '^CapAmb', '/proc/self/status'];
      const ours = cli(['-r', '--keep-caps', '--', ...show]);
      expect(ours.stdout).to.equal(spawnSync('unshare', ['-r', '--keep-caps', ...show], { encoding: 'utf8' }).stdout);
      expect(ours.stdout).to.not.match(/CapAmb:\s+0+\n/);
      expect(cli(['-r', '--', ...show]).stdout).to.match(/CapAmb:\s+0+\n/);
    });

    it('as root: range maps written directly, -S/-G switch ids inside (util-linux 2.38 needs newuidmap here)', async () => {
      const ours = cli(['--map-users=0:100000:65536', '--map-groups', '0:100000:65536', '-S', '5', '-G', '7', '--', 'id']);
      expect(ours.stdout).to.equal('uid=5(games) gid=7(lp) groups=7(lp)\n');
      const child = await spawn(['sleep', '10'], { steps: [user({ mapUsers: ['0:100000:65536', '70000:300000:5'], mapGroups: ['0:100000:65536'], setuid: 5, setgid: 7 })] });
      try {
        expect(readIdMap(child.pid, 'uid')).to.deep.equal([{ inner: 0, outer: 100000, count: 65536 }, { inner: 70000, outer: 300000, count: 5 }]);
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        expect(status).to.match(/\nUid:\t100005\t100005\t100005\t100005\n/);
      } finally {
        await stopChild(child);
      }
    });

    it('a failure inside the child rejects naming the step, and leaves no process behind', async () => {
      try {
        await spawn(['true'], { steps: [user({ mapUsers: ['0:100000:10'], mapGroups: ['0:100000:10'], setgid: 5000 })] });
        expect.fail('expected an error');
      } catch (e) {
        expect(e).to.be.instanceOf(NsError).and.include({ step: '--setgid', code: 'EINVAL' });
      }
    });

    it('--map-users all passes every id of the parent namespace through', () => {
      const own = readFileSync('/proc/self/uid_map', 'utf8');
      const ours = cli(['--map-users', 'all', '--map-groups=all', '--', 'cat', '/proc/self/uid_map']);
      expect(ours.stdout).to.equal(own);
    });

    it('--owner: the namespace belongs to that user, maps written by the privileged parent', async () => {
      const child = await spawn(['sleep', '10'], { steps: [user({ owner: `${NOBODY}:${NOBODY}`, mapUsers: ['0:200000:1000'], mapGroups: ['0:200000:1000'] })] });
      try {
        expect(Namespace.ofPid(child.pid, 'user').use((ns) => ns.ownerUid())).to.equal(NOBODY);
        expect(readIdMap(child.pid, 'gid')).to.deep.equal([{ inner: 0, outer: 200000, count: 1000 }]);
        expect(readFileSync(`/proc/${child.pid}/status`, 'utf8')).to.match(/\nUid:\t65534\t/);
      } finally {
        await stopChild(child);
      }
    });

    it('bad input exits 1 with one line naming the option and value, and starts nothing', () => {
      expectOneLineUsageError(cli(['--map-users', '0:1', 'true']), /^ns-user: --map-users: '0:1' is not inner:outer:count/);
      expectOneLineUsageError(cli(['--map-users', '0:100000:10', '--map-users=5:200000:10', 'true']),
                              /^ns-user: --map-users: '0:100000:10' overlaps '5:200000:10'/);
      expectOneLineUsageError(cli(['--map-user', 'no-such-user-here', 'true']), /^ns-user: --map-user: unknown user 'no-such-user-here'/);
      expectOneLineUsageError(cli(['--map-group', 'no-such-group', 'true']), /^ns-user: --map-group: unknown group 'no-such-group'/);
      expectOneLineUsageError(cli(['--setgroups', 'maybe', 'true']), /^ns-user: --setgroups: 'maybe' is not allow or deny/);
      expectOneLineUsageError(cli(['-S', 'x', 'true']), /^ns-user: --setuid: 'x' is not a valid id/);
      expectOneLineUsageError(cli(['--owner', '1:', 'true']), /^ns-user: --owner: '1:' is not UID:GID/);
      const unknown = cli(['--net', 'true']);
      expect(unknown.status).to.equal(1);
      expect(unknown.stderr).to.match(/^ns-user: unrecognized option '--net'\n/);
    });

    it('chains with ns-uts: ns-user -r -- ns-uts --hostname box -- hostname', () => {
      const res = spawnSync(join(BIN, 'ns-user'), ['-r', '--', join(BIN, 'ns-uts'), '--hostname', 'box', '--', 'hostname'], { encoding: 'utf8' });
      expect(res.stderr).to.equal('');
      expect(res.stdout).to.equal('box\n');
    });
  });

  describe('rootless (as an unprivileged uid)', () => {
    it('ns-user -r -- id -u prints 0 as nobody, with the same maps unshare -r makes', () => {
      const ours = runAs(NOBODY, NOBODY, [process.execPath, CLI, '-r', '--', ...SHOW_MAPS]);
      const theirs = runAs(NOBODY, NOBODY, ['unshare', '-r', ...SHOW_MAPS]);
      expect(ours.stderr).to.equal('');
      expect(ours.stdout).to.equal(theirs.stdout);
      expect(ours.stdout).to.equal(`         0      65534          1\n         0      65534          1\ndeny\n0\n0\n`);
    });

    it('chains rootless: ns-user -r -- ns-uts --hostname box -- hostname', () => {
      const res = runAs(NOBODY, NOBODY, [join(BIN, 'ns-user'), '-r', '--', join(BIN, 'ns-uts'), '--hostname', 'box', '--', 'hostname']);
      expect(res.stdout).to.equal('box\n');
    });

    it('an unprivileged range map without newuidmap rights fails cleanly, naming the option', () => {
      const res = runAs(NOBODY, NOBODY, [process.execPath, CLI, '--map-users=0:300000:10', '--', 'sleep', '10']);
      expect(res.status).to.equal(1);
      expect(res.stderr).to.match(/^ns-user: --map-users: newuidmap failed: newuidmap: uid range \[0-10\) -> \[300000-300010\) not allowed\n$/);
      expect(processesOf(NOBODY).filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep'))).to.deep.equal([]);
    });

    describe('with /etc/subuid blocks (throwaway user)', () => {
      let tmpUser: ThrowawayUser;
      before(() => { tmpUser = new ThrowawayUser('u'); });
      after(async () => {
        const changed = await tmpUser.remove();
        expect(changed, 'files still naming the throwaway user').to.deep.equal([]);
        expect(spawnSync('id', [tmpUser.name]).status).to.equal(1);
      });

      const block = () => `${tmpUser.subStart},0,${tmpUser.subCount}`;
      for (const args of [['--map-auto'], ['-r', '--map-auto'], ['-c', '--map-auto'], ['--map-users=BLOCK', '--map-groups=BLOCK']]) {
        it(`${args.join(' ')} through newuidmap/newgidmap matches unshare`, () => {
          const argv = args.map((a) => a.replace('BLOCK', block()));
          const ours = tmpUser.run([process.execPath, CLI, ...argv, '--', ...SHOW_MAPS]);
          const theirs = tmpUser.run(['unshare', ...argv, ...SHOW_MAPS]);
          expect(ours.stderr).to.equal('');
          expect(ours.stdout).to.equal(theirs.stdout);
          expect(ours.stdout).to.include(`${tmpUser.subStart}`);
        });
      }

      it('--map-subids maps the block to itself (not in util-linux 2.38)', () => {
        const ours = tmpUser.run([process.execPath, CLI, '--map-subids', '--', 'cat', '/proc/self/uid_map']);
        expect(ours.stdout.trim().split(/\s+/)).to.deep.equal([String(tmpUser.subStart), String(tmpUser.subStart), String(tmpUser.subCount)]);
      });
    });
  });
});
