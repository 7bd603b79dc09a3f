/**
 * ns-ls against util-linux lsns (the local 2.38.1), run after run in one world of known
 * processes and namespaces (lsns-fixture.ts): stdout, stderr and exit status must be the same,
 * byte for byte, for every option and output form both have. The world holds no namespace that
 * only an fd, socket or mount keeps alive: 2.38.1 does not list those (util-linux 2.41 does,
 * and so does ns-ls); lsns-held.test.ts covers them.
 */
import { expect } from 'chai';
import { bin, type Ran } from './cli';
import { LsnsWorld } from './lsns-fixture';

describe('ns-ls = lsns: the same output in a world of known namespaces', function () {
  this.timeout(30_000);
  let world: LsnsWorld;
  /** Values that exist once the world runs: pids and namespace ids inside it. */
  const v: Record<string, string> = {};

  before(async function () {
    this.timeout(60_000);
    world = await LsnsWorld.start();
    v['uts3'] = String(world.ns('bash -c sleep 1002 & sleep 1003 & wait', 'uts'));
    v['ipc10'] = String(world.ns('bash -c unshare --uts sleep 1010 & sleep 1011 & wait', 'ipc'));
    v['user4'] = String(world.ns('sleep 1004', 'user'));
    v['pid4'] = String(world.worldPid('sleep 1004'));
    v['pid8'] = String(world.worldPid('sleep 1008'));
    v['pid6'] = String(world.worldPid('unshare --user --pid --fork sleep 1006'));
  });
  after(() => world?.stop());

  const same = (args: readonly string[], how: { nobody?: boolean; columns?: number } = {}) => {
    const argv = args.map((a) => a.replace(/\{(\w+)\}/g, (_, k: string) => v[k]!));
    const { theirs, ours } = world.both(argv, how);
    const show = (r: Ran) => ({ status: r.status, stdout: r.stdout, stderr: r.stderr });
    expect(show(ours), `ns-ls ${argv.join(' ')}`).to.deep.equal(show(theirs));
    return theirs;
  };

  const cases: Record<string, readonly (readonly string[])[]> = {
    'the default table and its forms': [[], ['-J'], ['-r'], ['-l'], ['-n'], ['-u'], ['-W'], ['-n', '-r'], ['-l', '-J']],
    'column lists': [
      ['--output-all'], ['--output-all', '-J'], ['--output-all', '-r'],
      ['-o', 'NS,TYPE,PATH,NPROCS,PID,PPID,COMMAND,UID,USER,PNS,ONS'], ['-o', '+PATH,PPID'], ['-oNS,TYPE'],
      ['-o', 'ns,command'], ['-o', 'COMMAND,NS'], ['-o', 'NS,NS,TYPE'], ['--output=UID,USER,PID', '-l'],
      ['-o', 'NS', '--output-all'], ['--output-all', '-o', '+PATH'], ['-o', 'PNS,ONS', '-J'],
    ],
    'types, NETNSID and NSFS (a named netns bound at two paths, one with a space)': [
      ['-t', 'net'], ['-tnet', '-J'], ['-t', 'net', '-r'], ['-t', 'net', '-W'], ['-t', 'user', '-t', 'pid'],
      ['-t', 'uts', '-r'], ['-t', 'net', '--output-all'], ['-t', 'net', '-o', '+NETNSID,NSFS', '-J'],
      ['-t', 'net', '-o', 'NS,NSFS,PID,COMMAND'], ['-t', 'net', '-o', 'NSFS,NS'], ['-t', 'net', '-o', 'NS,COMMAND,NSFS'],
      ['-t', 'time', '-t', 'cgroup', '-o', '+PATH'], ['--type=mnt', '-n', '-o', 'NS,PID'],
    ],
    'trees': [
      ['-T'], ['-T', '-J'], ['--tree=owner'], ['-Tparent'], ['--tree=parent', '-J'], ['-Tprocess'], ['-Tprocess', '-J'],
      ['-T', '-t', 'net'], ['-T', '-t', 'net', '-J'], ['-Towner', '-r'], ['-Tparent', '-o', 'NS,TYPE,PNS,ONS'],
      ['-T', '-l'], ['-l', '-Tparent', '-t', 'pid'], ['-T=parent', '-o', 'NS'], ['-T', '-o', 'TYPE,NPROCS'],
      ['-T', '-o', 'TYPE,NS,PNS', '-J'], ['-Tparent', '-t', 'user', '-J', '-o', 'NS,PNS'],
    ],
    '-p, a process': [
      ['-p', '{pid4}'], ['-p', '{pid4}', '-J'], ['-p', '{pid8}', '-o', '+NETNSID,NSFS'], ['-p', '{pid8}', '-W', '-o', 'NS,NSFS'],
      ['-p', '{pid4}', '-T'], ['-p', '{pid6}', '-Tparent', '-J'], ['--task={pid8}', '-t', 'net', '-r'], ['-p', '999999'],
      ['-p', '+{pid4}'], ['-p', ' {pid4}'],
    ],
    'a namespace argument: its processes': [
      ['{uts3}'], ['-J', '{uts3}'], ['-r', '{uts3}'], ['-l', '{uts3}'], ['{uts3}', '-o', '+NS,TYPE,NPROCS,PATH,UID'],
      ['--output-all', '{uts3}'], ['-T', '{uts3}'], ['{ipc10}'], ['-J', '{ipc10}'], ['-o', 'PID,COMMAND', '{ipc10}'],
      ['{user4}', '-o', 'PID,PPID,COMMAND'], ['{uts3}', '4026531840'], ['0'], ['+{uts3}'],
    ],
    'refused command lines': [
      ['-t', 'bogus'], ['-t', 'network'], ['-p', 'abc'], ['-p', ''], ['-p', '0x10'], ['-p', '99999999999'], ['-p'],
      ['12345'], ['123abc'], ['--', '-1'], ['--', '99999999999999999999'], ['18446744073709551615'],
      ['-J', '-r'], ['--raw', '--json'], ['-o', 'NS,BOGUS,TYPE'], ['-o', 'NS,'], ['--tree=sideways'], ['--tree='],
      ['-Tfoo'], ['-p', '1', '{uts3}'], ['--bogus'], ['--json=yes'], ['--tree', 'owner'], ['--no'], ['--outp', 'NS'],
      ['-x'], ['-o'],
    ],
  };

  for (const [title, list] of Object.entries(cases)) {
    describe(title, () => {
      for (const args of list) it(`ns-ls ${args.join(' ') || '(no arguments)'}`, () => same(args));
    });
  }

  describe('on a terminal: widths fitted and commands truncated as lsns does', () => {
    const terminal: [number, string[]][] = [
      [80, []], [60, []], [40, []], [20, []], [60, ['--output-all']], [60, ['-u']], [100, ['-t', 'net', '-o', 'NS,NSFS,COMMAND']],
      [50, ['-T']], [45, ['-o', 'COMMAND,NS']], [60, ['-t', 'net', '-W', '-o', 'NS,NSFS,COMMAND']], [25, ['-t', 'uts', '-o', 'COMMAND']], [200, []], [70, ['{ipc10}']], [30, ['-r']], [30, ['-J', '-o', 'NS,COMMAND']],
    ];
    for (const [columns, args] of terminal) {
      it(`COLUMNS=${columns} ns-ls ${args.join(' ')}`, () => {
        const out = same(args, { columns });
        // Not vacuous: at 60 columns the 9000-byte command line was cut to fit.
        if (columns === 60 && !args.length) for (const line of out.stdout.split('\r\n')) expect(line.length).to.be.at.most(60);
      });
    }
  });

  describe('as an unprivileged user (other processes unreadable)', () => {
    for (const args of [['-p', '1'], ['-p', '1', '-J'], ['-t', 'uts', '-o', 'NS,TYPE,NPROCS,USER'], ['-t', 'ipc', '-J', '-o', 'NS,TYPE,NPROCS,USER,PNS,ONS'],
      ['{uts3}']]) {
      it(`setpriv --reuid=65534 ns-ls ${args.join(' ')}`, () => {
        const out = same(args, { nobody: true });
        if (args[0] === '-p') expect(out.stderr).to.equal('');
      });
    }
  });

  describe('where util-linux 2.42 changed what 2.38.1 does, ns-ls follows 2.42', () => {
    it('-p 0 and negative pids are refused (2.38.1 took 0 for "no -p" and listed everything)', () => {
      for (const pid of ['0', '-1']) {
        const r = world.run([bin('ns-ls'), '-p', pid]);
        expect(r.status).to.equal(1);
        expect(r.stderr).to.equal(`ns-ls: invalid PID argument: '${pid}': Numerical result out of range\n`);
      }
    });
    it('-H lists the columns, as text, raw and JSON', () => {
      const text = world.run([bin('ns-ls'), '-H']).stdout.split('\n');
      expect(text[0]).to.equal('     NS <integer> namespace identifier (inode number)');
      expect(text).to.have.length(14);
      const json = JSON.parse(world.run([bin('ns-ls'), '-H', '-J']).stdout) as Record<string, { holder: string; type: string }[]>;
      expect(json['lsns-columns']!.map((c) => c.holder)).to.deep.equal(
        ['NS', 'TYPE', 'PATH', 'NPROCS', 'PID', 'PPID', 'COMMAND', 'UID', 'USER', 'NETNSID', 'NSFS', 'PNS', 'ONS']);
      expect(world.run([bin('ns-ls'), '-H', '-r']).stdout.split('\n')[1]).to.equal('TYPE <string> kind\\x20of\\x20namespace');
    });
  });

  it('really lists the world: every namespace made for it appears, with its lowest pid', () => {
    const out = same(['-J', '-o', 'NS,TYPE,NPROCS,PID']);
    const listed = new Map((JSON.parse(out.stdout) as { namespaces: { ns: number; nprocs: number; pid: number }[] }).namespaces
      .map((e) => [e.ns, e]));
    expect(listed.get(Number(v['uts3']))).to.include({ nprocs: 3 });
    expect(listed.get(Number(v['ipc10']))).to.include({ nprocs: 3 });
    expect(listed.get(Number(v['user4']))).to.include({ nprocs: 1, pid: Number(v['pid4']) });
    expect(listed.get(world.rootNs('pid'))).to.include({ pid: 1 });
  });
});
