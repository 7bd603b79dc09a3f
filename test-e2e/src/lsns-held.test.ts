/**
 * Namespaces no process is in, and the options util-linux added after 2.38 (-P, -Q, -H): a
 * world (lsns-fixture.ts) with a named netns nobody runs in, a bind-mounted uts namespace, an
 * ipc namespace held by an open fd and a netns held by a socket. util-linux 2.38.1 does not
 * see these four; 2.41+ does, and so must ns-ls. Where 2.38.1 can still judge, it does: its
 * output must be ns-ls's minus exactly those four rows. Elsewhere the oracle is the kernel
 * (the ids the world's script printed with stat(1)), iproute2, and util-linux's own
 * tests/ts/lsns expectations.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { bin } from './cli';
import { LsnsWorld, type Held } from './lsns-fixture';

interface Row {
  ns: number;
  type?: string;
  nprocs?: number;
  pid?: number | null;
  user?: string;
  netnsid?: string | null;
  nsfs?: string | null;
  command?: string | null;
  children?: Row[];
}

/** Rows of a JSON tree whose ids are not in `keep`, taken out (their ids returned); childless parents lose "children". */
function prune(rows: Row[], keep: Set<number>, removed: number[]): Row[] {
  return rows.filter((r) => {
    if (!keep.has(r.ns)) {
      removed.push(r.ns);
      return false;
    }
    if (r.children) {
      r.children = prune(r.children, keep, removed);
      if (!r.children.length) delete r.children;
    }
    return true;
  });
}

function ids(rows: Row[], out = new Set<number>()): Set<number> {
  for (const r of rows) {
    out.add(r.ns);
    if (r.children) ids(r.children, out);
  }
  return out;
}

describe('ns-ls: namespaces only an fd, a socket or a mount holds, -P, -Q and -H', function () {
  this.timeout(30_000);
  let world: LsnsWorld;
  let held: Map<Held, number>;

  before(async function () {
    this.timeout(60_000);
    world = await LsnsWorld.start(true);
    held = world.held;
  });
  after(() => world?.stop());

  const ours = (...args: string[]) => world.run([bin('ns-ls'), ...args]);
  const rows = (...args: string[]) => {
    const r = ours('-J', ...args);
    expect(r.status, r.stderr).to.equal(0);
    return (JSON.parse(r.stdout) as { namespaces: Row[] }).namespaces;
  };

  for (const args of [[], ['-t', 'net'], ['-T'], ['-Tparent'], ['--output-all'], ['-t', 'net', '-T'], ['-t', 'ipc', '-t', 'uts', '-o', '+NSFS']]) {
    it(`lsns 2.38.1's -J ${args.join(' ')} is ns-ls's without the held namespaces`, () => {
      const theirs = world.run(['lsns', '-J', ...args]);
      const mine = ours('-J', ...args);
      expect(mine.status, mine.stderr).to.equal(0);
      const t = JSON.parse(theirs.stdout) as { namespaces: Row[] };
      const m = JSON.parse(mine.stdout) as { namespaces: Row[] };
      const removed: number[] = [];
      m.namespaces = prune(m.namespaces, ids(t.namespaces), removed);
      expect(m).to.deep.equal(t);
      const types = args.filter((_, i) => args[i - 1] === '-t');
      const expected = ([['netns', 'net'], ['mount', 'uts'], ['fd', 'ipc'], ['socket', 'net']] as const)
        .filter(([, type]) => !types.length || types.includes(type)).map(([how]) => held.get(how)!);
      expect(removed.sort()).to.deep.equal(expected.sort());
    });
  }

  it('each held namespace is listed as lsns 2.41 lists it: no process, its nsfs mount, its NETNSID, owner uid 0', () => {
    const all = new Map(rows('-o', 'NS,TYPE,NPROCS,PID,USER,NETNSID,NSFS,COMMAND').map((r) => [r.ns, r]));
    const none = { nprocs: 0, pid: null, user: 'root', command: null };
    expect(all.get(held.get('netns')!)).to.deep.equal({ ns: held.get('netns'), type: 'net', ...none, netnsid: '7', nsfs: '/run/netns/nsx-b' });
    expect(all.get(held.get('mount')!)).to.deep.equal({ ns: held.get('mount'), type: 'uts', ...none, netnsid: null, nsfs: '/mnt/uts-file' });
    expect(all.get(held.get('fd')!)).to.deep.equal({ ns: held.get('fd'), type: 'ipc', ...none, netnsid: null, nsfs: null });
    expect(all.get(held.get('socket')!)).to.deep.equal({ ns: held.get('socket'), type: 'net', ...none, netnsid: 'unassigned', nsfs: null });
  });

  it('-P/--persistent lists exactly the namespaces no process is in', () => {
    expect(rows('-P').map((r) => r.ns).sort()).to.deep.equal([...held.values()].sort());
    expect(rows('--persistent', '-t', 'net').map((r) => r.ns).sort()).to.deep.equal([held.get('netns'), held.get('socket')].sort());
    const r = ours('-P', '-p', '1');
    expect([r.status, r.stderr]).to.deep.equal([1, 'ns-ls: mutually exclusive arguments: --persistent --task\n']);
  });

  it('a held namespace as the namespace argument has no processes to list: nothing, exit 0 (lsns 2.41 says the same)', () => {
    expect(ours(String(held.get('fd')))).to.deep.equal({ status: 0, signal: null, stdout: '', stderr: '' });
    expect(ours('-J', String(held.get('netns'))).stdout).to.equal('{\n   "namespaces": [\n\n   ]\n}\n');
    // lsns 2.38.1 never saw it.
    expect(world.run(['lsns', String(held.get('fd'))]).stderr).to.equal(`lsns: not found namespace: ${held.get('fd')}\n`);
  });

  it('-p still matches lsns 2.38.1 (a process filter leaves held namespaces out)', () => {
    const pid = String(world.worldPid('sleep 1008'));
    for (const args of [['-p', pid, '-o', '+NETNSID,NSFS'], ['-p', pid, '-J', '--output-all'], ['-p', String(world.worldPid('sleep 1021'))]]) {
      const theirs = world.run(['lsns', ...args]);
      expect(ours(...args)).to.deep.equal(theirs);
    }
  });

  describe("util-linux's tests/ts/lsns, their checks made here", () => {
    it('netns-from-sock: a netns found through a socket, by -Q "NS == id"', () => {
      const expected: Record<string, string> = { NS: String(held.get('socket')), TYPE: 'net', NPROCS: '0', PID: '', USER: 'root', COMMAND: '' };
      for (const [column, value] of Object.entries(expected)) {
        const r = ours('--noheadings', '--raw', '--output', column, '--filter', `NS == ${held.get('socket')}`);
        expect([r.status, r.stdout], column).to.deep.equal([0, `${value}\n`]);
      }
    });
    it('netnsid-for-persistent-namespaces: NETNSID, TYPE and NSFS of a named netns nobody runs in', () => {
      const q = (column: string) => ours('--raw', '--noheadings', '--filter', "NETNSID == '7'", '--output', column).stdout;
      expect(q('NETNSID')).to.equal('7\n');
      expect(q('TYPE')).to.equal('net\n');
      expect(q('NSFS')).to.equal('/run/netns/nsx-b\n');
    });
    it('filedesc: a namespace only an open fd holds', () => {
      expect(ours('--noheadings', '--raw', '--output', 'TYPE,NPROCS,USER', '-Q', `NS == ${held.get('fd')}`).stdout).to.equal('ipc 0 root\n');
    });
    it('filter: -Q and --filter select a user namespace and its one process', () => {
      const ns = world.ns('sleep 1004', 'user');
      for (const opt of ['-Q', '--filter']) {
        expect(ours('-n', '--raw', '-o', 'PID', opt, `NS == ${ns} && NPROCS == 1`).stdout).to.equal(`${world.worldPid('sleep 1004')}\n`);
      }
    });
    it('nsfs: both mount points of a named netns, one per line or, with --nowrap, comma-separated', () => {
      const pid = String(world.worldPid('sleep 1008'));
      expect(ours('-n', '-o', 'NSFS', '--type', 'net', '--task', pid).stdout).to.equal('/run/netns/nsx-a\n/mnt/with space\n');
      expect(ours('-n', '-o', 'NSFS', '--nowrap', '--type', 'net', '--task', pid).stdout).to.equal('/run/netns/nsx-a,/mnt/with space\n');
    });
    it('netnsid: NETNSID is the id ip netns list-id shows', () => {
      const ipId = /nsid (\d+) \(iproute2 netns name: nsx-a\)/.exec(world.run(['ip', 'netns', 'list-id']).stdout)?.[1];
      expect(ipId).to.equal('5');
      expect(ours('-n', '-o', 'NETNSID', '--type', 'net', '--task', String(world.worldPid('sleep 1008'))).stdout.trim()).to.equal(ipId);
    });
    it('ioctl_ns: a child user and pid namespace with their parents and owners', () => {
      const userns = world.ns('sleep 1006', 'user');
      const pidns = world.ns('sleep 1006', 'pid');
      const uniq = (s: string) => [...new Set(s.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' ')))].join('\n');
      expect(uniq(ours('--type', 'user', '--noheadings', '--output', 'NS,PNS,ONS', String(userns)).stdout))
        .to.equal(`${userns} ${world.rootNs('user')} ${world.rootNs('user')}`);
      expect(uniq(ours('-t', 'pid', '-n', '-o', 'NS,PNS,ONS', String(pidns)).stdout)).to.equal(`${pidns} ${world.rootNs('pid')} ${userns}`);
    });
  });

  describe('-Q/--filter against the same rows chosen by hand from lsns 2.38.1 -J', () => {
    const listAll = () => (JSON.parse(world.run(['lsns', '-J', '-l', '--output-all']).stdout) as { namespaces: (Row & Record<string, unknown>)[] }).namespaces;
    const cases: [string, (r: Record<string, unknown>) => boolean][] = [
      ['TYPE == "net" && NPROCS > 0', (r) => r['type'] === 'net' && (r['nprocs'] as number) > 0],
      ['type eq \'uts\' AND NOT (pid == 1)', (r) => r['type'] === 'uts' && r['pid'] !== 1],
      ['COMMAND =~ "^sleep 100[0-4]$" || PPID > 1', (r) => /^sleep 100[0-4]$/.test(String(r['command'])) || (r['ppid'] as number) > 1],
      ['COMMAND !~ "sleep"', (r) => !/sleep/.test(String(r['command'] ?? ''))],
      ['NPROCS >= 3 and NPROCS <= 3', (r) => r['nprocs'] === 3],
      ['ONS != 0 && PNS == 0 && TYPE < "net"', (r) => r['ons'] !== 0 && r['pns'] === 0 && String(r['type']) < 'net'],
      ['NETNSID', (r) => Boolean(r['netnsid'])],
      ['PID > 1.5', (r) => (r['pid'] as number) > 1.5],
      ['USER == "root" && UID == 0 && PATH =~ "/ns/(uts|ipc)$"', (r) => r['user'] === 'root' && r['uid'] === 0 && /\/ns\/(uts|ipc)$/.test(String(r['path']))],
    ];
    for (const [expr, pick] of cases) {
      it(`-Q '${expr}'`, () => {
        const wanted = listAll().filter((r) => pick(r)).map((r) => r.ns).sort();
        expect(wanted.length, 'the filter selects something').to.be.greaterThan(0);
        const got = rows('-l', '-Q', expr).map((r) => r.ns).filter((id) => ![...held.values()].includes(id)).sort();
        expect(got).to.deep.equal(wanted);
      });
    }
    it('filters in tree and namespace modes too (a rejected parent leaves its children at the root)', () => {
      const uts = String(world.ns('bash -c sleep 1002 & sleep 1003 & wait', 'uts'));
      const procs = rows(uts, '-Q', 'COMMAND =~ "^sleep"', '-o', 'PID,COMMAND');
      expect(procs.map((r) => r.command)).to.deep.equal(['sleep 1002', 'sleep 1003']);
      expect(procs.every((r) => !r.children)).to.equal(true);
    });
  });

  describe('-Q errors, as libsmartcols words them', () => {
    const refused: [string, string][] = [
      ['NS ==', 'failed to parse "NS ==": syntax error, unexpected end of file'],
      ['NS NS', 'failed to parse "NS NS": syntax error, unexpected HOLDER'],
      ['(NS == 1', 'failed to parse "(NS == 1": syntax error, unexpected end of file'],
      ['NS == 1)', 'failed to parse "NS == 1)": syntax error, unexpected \')\''],
      ['NS =~ 5', 'failed to parse "NS =~ 5": (null)'],
      ['NS == 99Y', 'failed to parse "NS == 99Y": "99Y" token error: Numerical result out of range'],
      ['BOGUS == 1', 'unknown column: BOGUS'],
      ['TYPE == 5', 'failed to apply filter: Invalid argument'],
    ];
    for (const [expr, message] of refused) {
      it(`-Q '${expr}'`, () => {
        const r = ours('-Q', expr);
        expect([r.status, r.stdout, r.stderr]).to.deep.equal([1, '', `ns-ls: ${message}\n`]);
      });
    }
  });

  // Last: it leaves the world changed.
  describe('racing exits', () => {
    it('processes that exit while ns-ls reads /proc are passed over: exit 0, no message, valid JSON', function () {
      this.timeout(60_000);
      // Thousands of short-lived processes inside the world (stdio /dev/null: no sockets held),
      // in a process group of their own to end them all after.
      const churn = spawn('nsenter', ['-t', String(world.init), '-a', 'bash', '-c', 'for i in $(seq 20000); do /bin/true & done; wait'],
        { stdio: 'ignore', detached: true });
      try {
        for (let i = 0; i < 15; i++) {
          const r = ours('-J', '--output-all');
          expect([r.status, r.stderr], `run ${i}`).to.deep.equal([0, '']);
          expect((JSON.parse(r.stdout) as { namespaces: Row[] }).namespaces.length).to.be.greaterThan(10);
        }
        expect(churn.exitCode, 'the churn outlived the runs').to.equal(null);
      } finally {
        process.kill(-churn.pid!, 'SIGKILL');
      }
    });
  });
});
