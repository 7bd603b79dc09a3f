/**
 * Persistence round trips between the two tool sets: a namespace bound on a file by one
 * `unshare --KIND=FILE` is entered by the other `nsenter --KIND=FILE`, for every kind. The
 * file must hold the namespace the program itself was in (pid and time: the one its children
 * get, so those need --fork, as util-linux requires). Files live on a private tmpfs of ours:
 * a mount namespace cannot be bound on a shared mount.
 */
import { statSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import { bin, expectOneLineError, inParallel, run, runAsync, type Ran } from './cli';
import { Scratch } from './fixtures';
import { nsfsMountsUnder } from './ns';

interface Kind {
  readonly long: string;
  /** The /proc/self/ns entry that shows the persisted namespace. */
  readonly entry: string;
  readonly unshareArgs: readonly string[];
  readonly enterArgs: readonly string[];
}

const KINDS: Kind[] = [
  { long: 'net', entry: 'net', unshareArgs: [], enterArgs: [] },
  { long: 'uts', entry: 'uts', unshareArgs: [], enterArgs: [] },
  { long: 'ipc', entry: 'ipc', unshareArgs: [], enterArgs: [] },
  { long: 'mount', entry: 'mnt', unshareArgs: [], enterArgs: [] },
  { long: 'cgroup', entry: 'cgroup', unshareArgs: [], enterArgs: [] },
  { long: 'user', entry: 'user', unshareArgs: ['-r'], enterArgs: [] },
  // pid_for_children exists once a process is in the namespace: --fork. Entering a pid
  // namespace whose init has exited works, but no process can be forked into it: -F.
  { long: 'pid', entry: 'pid_for_children', unshareArgs: ['--fork'], enterArgs: ['-F'] },
  { long: 'time', entry: 'time', unshareArgs: ['--fork'], enterArgs: [] },
];

describe('persistence: unshare --KIND=FILE, then nsenter --KIND=FILE, across the two tools', () => {
  let scratch: Scratch;
  before(() => {
    scratch = new Scratch('persist');
  });
  after(() => {
    scratch?.remove();
  });

  interface Trip { kind: Kind; maker: 'unshare' | 'ns-unshare'; enterer: 'nsenter' | 'ns-enter' }
  const trips: Trip[] = KINDS.flatMap((kind) => ([['unshare', 'ns-enter'], ['ns-unshare', 'nsenter'], ['ns-unshare', 'ns-enter']] as const)
    // util-linux before 2.42 cannot persist a user namespace (its helper binds after the parent
    // lost privilege over it: EPERM, util-linux PR #3905); checked on its own below.
    .filter(([maker]) => !(maker === 'unshare' && kind.long === 'user'))
    .map(([maker, enterer]) => ({ kind, maker, enterer })));

  /** Persists with one tool, enters with the other: what each printed, and the file's inode. */
  async function roundTrip({ kind, maker, enterer }: Trip): Promise<{ made: Ran; inode: number; entered: Ran | undefined }> {
    const file = scratch.path(`${kind.long}-${maker}-${enterer}`);
    writeFileSync(file, ''); // util-linux binds onto an existing file only
    const made = await runAsync([maker === 'unshare' ? 'unshare' : bin('ns-unshare'), `--${kind.long}=${file}`, ...kind.unshareArgs,
      'readlink', `/proc/self/ns/${kind.entry}`]);
    if (made.status !== 0) return { made, inode: 0, entered: undefined };
    try {
      const entered = await runAsync([enterer === 'nsenter' ? 'nsenter' : bin('ns-enter'), `--${kind.long}=${file}`, ...kind.enterArgs,
        'readlink', `/proc/self/ns/${kind.entry}`]);
      return { made, inode: statSync(file).ino, entered };
    } finally {
      run(['umount', file]);
    }
  }

  let results: Awaited<ReturnType<typeof roundTrip>>[];
  before(async () => {
    results = await inParallel(trips.map((trip) => () => roundTrip(trip)));
  });

  trips.forEach((trip, i) => {
    const { kind, maker, enterer } = trip;
    it(`${maker} --${kind.long}=FILE ${kind.unshareArgs.join(' ')} -> ${enterer} --${kind.long}=FILE`, () => {
      const { made, inode, entered } = results[i]!;
      expect(made.stderr, `${maker} stderr`).to.equal('');
      expect(made.status).to.equal(0);
      // The program's own namespace is the one on the file...
      expect(made.stdout.trim()).to.match(new RegExp(`:\\[${inode}\\]$`));
      // ...and the other tool enters it.
      expect(entered!.stderr, `${enterer} stderr`).to.equal('');
      expect(entered!.stdout.trim()).to.equal(made.stdout.trim());
    });
  });

  it('util-linux 2.38.1 cannot persist a user namespace; ns-unshare can (2.42 behaviour)', async () => {
    const file = scratch.path('user-broken');
    writeFileSync(file, '');
    const theirs = await runAsync(['unshare', `--user=${file}`, '-r', 'true']);
    expect(theirs.status).to.equal(1);
    expect(theirs.stderr).to.match(/Operation not permitted/);
    expect(nsfsMountsUnder(scratch.dir)).to.deep.equal([]);
  });

  it('ns-unshare creates FILE when missing (util-linux 2.38.1 wants it to exist) and binds all kinds at once', async () => {
    const files = KINDS.map((k) => scratch.path(`all-${k.long}`));
    const args = KINDS.map((k, i) => `--${k.long}=${files[i]}`);
    const r = await runAsync([bin('ns-unshare'), ...args, '-r', '--fork', 'true']);
    expect(r.stderr).to.equal('');
    expect(r.status).to.equal(0);
    try {
      expect(nsfsMountsUnder(scratch.dir).sort()).to.deep.equal([...files].sort());
      const nsenter = await runAsync(['nsenter', ...KINDS.filter((k) => k.long !== 'pid').map((k) => `--${k.long}=${files[KINDS.indexOf(k)]}`),
        'sh', '-c', 'id -u; hostname']);
      expect(nsenter.stderr).to.equal('');
      expect(nsenter.stdout.split('\n')[0]).to.equal('0');
    } finally {
      for (const f of files) run(['umount', f]);
    }
  });

  describe('a failure leaves nothing bound', () => {
    const failing: { name: string; args: (dir: string) => string[]; status: number; subject: RegExp }[] = [
      { name: 'the program cannot be found', args: (d) => [`--net=${d}/f1`, `--uts=${d}/f2`, 'nse2e-no-such-program'], status: 127, subject: /nse2e-no-such-program/ },
      { name: 'a later file is in a missing directory', args: (d) => [`--net=${d}/f3`, `--uts=${d}/missing/f4`, 'true'], status: 1, subject: /missing/ },
      { name: '--pid=FILE without --fork', args: (d) => [`--pid=${d}/f5`, 'true'], status: 1, subject: /pid|fork/ },
      { name: 'a mount namespace on a shared mount', args: (d) => [`--net=${d}/f6`, `--mount=${d}/shared/f7`, 'true'], status: 1, subject: /shared|f7/ },
    ];
    before(() => {
      scratch.sharedDir('shared');
    });

    for (const row of failing) {
      it(`${row.name}: exit ${row.status}, one line, no file bound or created`, async () => {
        const before = nsfsMountsUnder(scratch.dir);
        const r = await runAsync([bin('ns-unshare'), ...row.args(scratch.dir)]);
        expect(r.status, r.stderr).to.equal(row.status);
        expectOneLineError(r, 'ns-unshare', row.subject);
        expect(nsfsMountsUnder(scratch.dir)).to.deep.equal(before);
        for (const f of row.args(scratch.dir).filter((a) => a.includes('=')).map((a) => a.slice(a.indexOf('=') + 1))) {
          expect(() => statSync(f), `${f} left behind`).to.throw();
        }
      });
    }
  });

  it('a file with no namespace bound on it cannot be entered, by either tool', async () => {
    const file = scratch.path('plain-file');
    writeFileSync(file, '');
    const [theirs, ours] = await inParallel([
      () => runAsync(['nsenter', `--net=${file}`, 'true']),
      () => runAsync([bin('ns-enter'), `--net=${file}`, 'true']),
    ]);
    expect(theirs!.status).to.equal(1);
    expect(ours!.status).to.equal(1);
    expectOneLineError(ours!, 'ns-enter', file);
  });
});
