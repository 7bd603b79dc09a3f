/**
 * uid/gid maps as an unprivileged user: single ids written by the tool itself, ranges written
 * through setuid newuidmap/newgidmap from the user's /etc/subuid block, the util-linux 2.38
 * comma syntax and the 2.39 colon syntax, and the keywords. A throwaway user owns the block;
 * /etc/subuid and /etc/subgid are restored byte for byte.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { bin, expectUsageError, inParallel, runAsync, type Ran } from './cli';
import { NOBODY, ThrowawayUser, asUser } from './fixtures';

const MAPS = 'cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id -u; id -g';

interface Row {
  readonly name: string;
  readonly who: 'user' | 'nobody' | 'root';
  readonly ours: readonly string[];
  /**
   * util-linux's arguments: the same unless its 2.38.1 syntax or options differ (then `why`);
   * 'none' when 2.38.1 has no way to do it at all (the row then checks ours against `expected`).
   */
  readonly theirs?: readonly string[] | 'none';
  readonly why?: string;
  /** What the maps must look like (s: the user's first subordinate id, written {S} in arguments). */
  readonly expected: (s: number, user: ThrowawayUser) => RegExp;
}

const line = (inner: number, outer: number, count: number) => `\\s*${inner}\\s+${outer}\\s+${count}\\n`;

/** This process's map as a pattern: what --map-users=all copies. */
const ownMap = (kind: 'uid' | 'gid') => readFileSync(`/proc/self/${kind}_map`, 'utf8').trim().split('\n')
  .map((l) => l.trim().split(/\s+/).map(Number)).map(([i, o, c]) => line(i!, o!, c!)).join('');

const ROWS: Row[] = [
  {
    name: '--map-users/--map-groups inner:outer:count', who: 'user',
    ours: ['--map-users=0:{S}:65536', '--map-groups=0:{S}:65536'], theirs: ['--map-users={S},0,65536', '--map-groups={S},0,65536'],
    why: 'util-linux 2.38.1 only knows the outer,inner,count form (2.39 introduced inner:outer:count)',
    // The caller's own ids are not in the map: it sees itself as the overflow ids.
    expected: (s) => new RegExp(`^${line(0, s, 65536)}${line(0, s, 65536)}allow\\n65534\\n65534\\n$`),
  },
  {
    name: '--map-users/--map-groups outer,inner,count (2.38 syntax)', who: 'user',
    ours: ['--map-users={S},1,1000', '--map-groups={S},1,1000'],
    expected: (s) => new RegExp(`^${line(1, s, 1000)}${line(1, s, 1000)}allow\\n65534\\n65534\\n$`),
  },
  {
    name: '--map-users VALUE (separate argument)', who: 'user',
    ours: ['--map-users', '0:{S}:10', '--map-groups', '0:{S}:10'], theirs: ['--map-users', '{S},0,10', '--map-groups', '{S},0,10'],
    why: 'colon syntax is 2.39', expected: (s) => new RegExp(`^${line(0, s, 10)}${line(0, s, 10)}allow`),
  },
  {
    name: '--map-auto', who: 'user', ours: ['--map-auto'],
    // The caller's own ids are not in the map: it sees itself as the overflow ids.
    expected: (s) => new RegExp(`^${line(0, s, 65536)}${line(0, s, 65536)}allow\\n65534\\n65534\\n$`),
  },
  {
    name: '--map-users=auto --map-groups=auto', who: 'user', ours: ['--map-users=auto', '--map-groups=auto'],
    expected: (s) => new RegExp(`^${line(0, s, 65536)}${line(0, s, 65536)}allow`),
  },
  {
    name: '--map-subids', who: 'user', ours: ['--map-subids'], theirs: ['--map-users={S},{S},65536', '--map-groups={S},{S},65536'],
    why: '--map-subids is 2.41: an identity map of the subordinate block',
    expected: (s) => new RegExp(`^${line(s, s, 65536)}${line(s, s, 65536)}allow\\n65534\\n65534\\n$`),
  },
  {
    name: '--map-users=subids --map-groups=subids', who: 'user', ours: ['--map-users=subids', '--map-groups=subids'],
    theirs: ['--map-users={S},{S},65536', '--map-groups={S},{S},65536'], why: 'the subids keyword is 2.41',
    expected: (s) => new RegExp(`^${line(s, s, 65536)}${line(s, s, 65536)}`),
  },
  {
    name: '-r as a user with subordinate ids', who: 'user', ours: ['-r'],
    expected: (_s, u) => new RegExp(`^${line(0, u.uid, 1)}${line(0, u.gid, 1)}deny\\n0\\n0\\n$`),
  },
  {
    name: '-c as nobody', who: 'nobody', ours: ['-c'],
    expected: () => new RegExp(`^${line(NOBODY, NOBODY, 1)}${line(NOBODY, NOBODY, 1)}deny\\n65534\\n65534\\n$`),
  },
  {
    name: '--map-user=1000 --map-group=1000 as nobody', who: 'nobody', ours: ['--map-user=1000', '--map-group=1000'],
    expected: () => new RegExp(`^${line(1000, NOBODY, 1)}${line(1000, NOBODY, 1)}deny\\n1000\\n1000\\n$`),
  },
  {
    name: '--map-user=0 alone as nobody (no gid map)', who: 'nobody', ours: ['--map-user=0'],
    expected: () => new RegExp(`^${line(0, NOBODY, 1)}allow\\n0\\n65534\\n$`),
  },
  {
    name: '-U alone as nobody (nothing mapped)', who: 'nobody', ours: ['-U'],
    expected: () => /^allow\n65534\n65534\n$/,
  },
  {
    name: '--map-users=all --map-groups=all as root', who: 'root', ours: ['--map-users=all', '--map-groups=all'],
    theirs: 'none',
    why: 'the all keyword is 2.40 and 2.38.1 would go through newuidmap as root: the caller\'s own maps, copied',
    expected: () => new RegExp(`^${ownMap('uid')}${ownMap('gid')}allow\\n0\\n0\\n$`),
  },
];

describe('unshare vs ns-unshare: id maps, as unprivileged users', () => {
  let user: ThrowawayUser;
  let results: { theirs: Ran | undefined; ours: Ran }[];
  const subst = (args: readonly string[]) => args.map((a) => a.replaceAll('{S}', String(user.subStart)));

  before(async () => {
    user = new ThrowawayUser('maps');
    const wrap = (who: Row['who'], argv: readonly string[]) =>
      who === 'user' ? user.argv(argv) : who === 'nobody' ? asUser(NOBODY, NOBODY, argv) : [...argv];
    results = await inParallel(ROWS.map((row) => async () => {
      const ours = runAsync(wrap(row.who, [bin('ns-unshare'), ...subst(row.ours), 'sh', '-c', MAPS]), { cwd: '/' });
      if (row.theirs === 'none') return { theirs: undefined, ours: await ours };
      const theirs = runAsync(wrap(row.who, ['unshare', ...subst(row.theirs ?? row.ours), 'sh', '-c', MAPS]), { cwd: '/' });
      return { theirs: await theirs, ours: await ours };
    }));
  });

  after(async () => {
    const changed = await user?.remove();
    expect(changed, 'files still naming the throwaway user').to.deep.equal([]);
  });

  for (const [i, row] of ROWS.entries()) {
    const oracle = row.theirs === 'none' ? ' (ours only)' : row.theirs ? ` (util-linux: ${row.theirs.slice(0, 2).join(' ')})` : '';
    it(`${row.name}${oracle}`, () => {
      const { theirs, ours } = results[i]!;
      const expected = row.expected(user.subStart, user);
      if (theirs) {
        expect(theirs.stderr, 'unshare stderr').to.equal('');
        expect(theirs.stdout, 'unshare').to.match(expected);
        expect(theirs.status, 'unshare status').to.equal(0);
      }
      expect(ours.stderr, 'ns-unshare stderr').to.equal('');
      expect(ours.stdout, 'ns-unshare').to.match(expected);
      if (theirs) expect(ours.stdout, 'ns-unshare').to.equal(theirs.stdout);
      expect(ours.status, 'ns-unshare status').to.equal(0);
    });
  }

  describe('refused maps', () => {
    const refused: { name: string; args: readonly string[]; subject: RegExp }[] = [
      { name: 'a range outside the user\'s block', args: ['--map-users=0:5000:10'], subject: /map-users|newuidmap|5000/ },
      { name: '--map-auto for a user without a block (nobody)', args: ['--map-auto'], subject: /subuid|auto/ },
      { name: 'a range that is not one', args: ['--map-users=abc'], subject: /abc/ },
      { name: '--setgroups allow with -r', args: ['-r', '--setgroups', 'allow'], subject: /setgroups/ },
    ];
    for (const row of refused) {
      it(`${row.name}: exit 1, one line, nothing started`, async () => {
        const as = row.args.includes('--map-auto') ? (a: readonly string[]) => asUser(NOBODY, NOBODY, a) : (a: readonly string[]) => user.argv(a);
        const marker = `nse2e-refused-${process.pid}-${row.name.length}`;
        const [theirs, ours] = await Promise.all([
          runAsync(as(['unshare', ...row.args, 'sh', '-c', `echo ${marker}`]), { cwd: '/' }),
          runAsync(as([bin('ns-unshare'), ...row.args, 'sh', '-c', `echo ${marker}`]), { cwd: '/' }),
        ]);
        expect(theirs.status, `unshare: ${theirs.stderr}`).to.equal(1);
        expect(theirs.stdout).to.equal('');
        expectUsageError(ours, 'ns-unshare', row.subject);
        expect(ours.stdout).to.equal('');
      });
    }
  });
});
