/**
 * `ns-net netns` against `ip netns` (iproute2 6.1): the same words, output and exit codes;
 * iproute2's own testsuite/tests/ip/netns/*.t checks rewritten here (CI has no network to
 * fetch iproute2); `-all` in a mount namespace of its own so that only our names are seen;
 * the monitor's events; and the lock on /run/netns that ip takes while making it a mount point.
 */
import { expect } from 'chai';
import { spawn as spawnProcess, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { spawn, sys, type NsChild } from 'ns-core';
import { CLI, runIp, runNsNet, show, type Run } from './cli-harness';
import { uniqueName } from './helpers';

/** Runs a command inside the network namespace of `holder` (nsenter), as the testsuite's `unshare -n` does. */
function inside(holder: NsChild, tool: 'ip' | 'ns-net', args: readonly string[]): Run {
  const argv = tool === 'ip' ? ['ip', ...args] : [process.execPath, CLI, ...args];
  const r = spawnSync('nsenter', ['-t', String(holder.pid), '-n', ...argv], { encoding: 'utf8' });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe('ns-net netns = ip netns', function () {
  this.timeout(60000);
  const made: string[] = [];
  after(() => {
    for (const n of made) if (existsSync(`/run/netns/${n}`)) spawnSync('ip', ['netns', 'delete', n]);
  });
  const name = (suffix: string) => {
    const n = uniqueName(suffix);
    made.push(n);
    return n;
  };

  describe("iproute2's testsuite/tests/ip/netns, with IP=ns-net", () => {
    let holders: NsChild[] = [];
    beforeEach(async () => {
      // The testsuite runs each .t under `unshare -n`: ids are given in that fresh namespace.
      holders = [await spawn(['sleep', '600'], { create: ['net'], stdio: 'ignore' })];
    });
    afterEach(async () => {
      for (const h of holders) {
        h.kill('SIGKILL');
        await h.exited;
      }
    });

    it('set_nsid.t: add, set the nsid to 99, list (with and without "list") and list-id show it, delete', () => {
      const h = holders[0]!;
      const ns = name('tn');
      const run = (...args: string[]) => {
        const r = inside(h, 'ns-net', args);
        // ts_ip: anything on stderr fails the test.
        expect(r.stderr, args.join(' ')).to.equal('');
        expect(r.status, args.join(' ')).to.equal(0);
        return r.stdout;
      };
      run('netns', 'add', ns);
      run('netns', 'set', ns, '99');
      expect(run('netns', 'list')).to.match(new RegExp(`${ns} \\(id: 99\\)`));
      expect(run('netns')).to.match(new RegExp(`${ns} \\(id: 99\\)`));
      expect(run('netns', 'list-id')).to.match(new RegExp(`99 \\(iproute2 netns name: ${ns}\\)`));
      run('netns', 'del', ns);
      expect(existsSync(`/run/netns/${ns}`)).to.equal(false);
    });

    it('set_nsid_batch.t: the same three commands from a batch file (-b)', () => {
      const h = holders[0]!;
      const ns = name('tb');
      const dir = mkdtempSync(join(tmpdir(), 'ns-net-batch-'));
      try {
        const file = join(dir, 'batch');
        writeFileSync(file, `netns add ${ns}\nnetns set ${ns} 99\nnetns list-id\n`);
        const r = inside(h, 'ns-net', ['-b', file]);
        expect(r.stderr).to.equal('');
        expect(r.stdout).to.match(new RegExp(`nsid 99 \\(iproute2 netns name: ${ns}\\)`));
        expect(inside(h, 'ns-net', ['netns', 'del', ns]).status).to.equal(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  /**
   * The same shell script with IP=ip and with IP=ns-net, each in a new network namespace (ids
   * are its own) and a new mount namespace with an empty /run/netns (names are its own), so
   * that the two runs see the same and nothing else: their outputs must be equal.
   */
  function script(body: string): [Run, Run] {
    const run = (ipCommand: string): Run => {
      const r = spawnSync('unshare', ['-m', '-n', '--propagation', 'private', 'sh', '-c',
        `mkdir -p /run/netns && mount -t tmpfs nsnet-test /run/netns && ${body}`], {
        encoding: 'utf8', env: { ...process.env, IP: ipCommand },
      });
      return { stdout: r.stdout, stderr: r.stderr, status: r.status };
    };
    return [run('ip'), run(`${process.execPath} ${CLI}`)];
  }

  /** Each command of a script followed by its exit status, so that every status is compared. */
  const each = (...commands: string[]) => commands.map((c) => `${c}; echo "[$?] ${c.replace(/["$]/g, '')}"`).join('; ');

  describe('side by side with ip, each in namespaces of its own', () => {
    it('add, set (number, auto, taken, invalid), list in text and JSON, list-id with its filters, delete', () => {
      const [theirs, mine] = script(each(
        '$IP netns add a1', '$IP netns a a2', '$IP netns add a1', '$IP netns add', '$IP netns add a/b', '$IP netns add ..',
        '$IP netns set a1 7', '$IP netns set a1 8', '$IP netns set a2 auto', '$IP netns set a2 x', '$IP netns set a2 -3',
        '$IP netns set a2', '$IP netns set', '$IP netns set nosuch 5',
        '$IP netns list', '$IP netns l', '$IP netns', '$IP netns show', '$IP -j netns', '$IP -j -p netns',
        '$IP netns list-id', '$IP -j netns list-id', '$IP -j -p netns list-id', '$IP netns list-id nsid 7',
        '$IP netns list-id nsid 55', '$IP netns list-id nsid x', '$IP netns list-id nsid 7 nsid 7', '$IP netns list-id bogus',
        '$IP netns list-id target-nsid 7', '$IP -n a1 netns list-id', '$IP -n a1 netns',
        '$IP netns del a1', '$IP netns delete a2', '$IP netns del a2', '$IP netns del', '$IP netns frob', '$IP netns help',
        '$IP netns list', '$IP -j netns',
      ));
      expect(show(mine)).to.equal(show(theirs));
      expect(theirs.stdout).to.match(/a[12] \(id: [07]\)\na[12] \(id: [07]\)\n/).and.include('nsid 7 (iproute2 netns name: a1)\n');
    });

    it('identify, pids, attach: the names of a process\'s namespace, the processes of a name', () => {
      const [theirs, mine] = script(`unshare -n sleep 30 & P=$!; sleep 0.3; ${each(
        '$IP netns attach i1 $P', '$IP netns attach i2 $P', '$IP netns identify $P', '$IP netns identify', '$IP netns identify x1',
        '$IP netns identify 1 2', '$IP netns identify 999999999', '$IP -n i1 netns identify', '$IP netns pids i1 | grep -qx $P',
        '$IP netns pids i1 x', '$IP netns pids', '$IP netns pids nosuch', '$IP netns attach i3 abc', '$IP netns attach i3',
        '$IP netns attach i3 0', '$IP netns attach i3 999999999', 'ls /run/netns',
      )}; kill $P`);
      expect(show(mine)).to.equal(show(theirs));
      // ip prints the last name it reads (readdir order): ns-net reads them in the same order.
      expect(theirs.stdout).to.match(/\ni[12]\n\[0\] IP netns identify P\n/);
    });

    it('exec: the program\'s status, a fresh /sys, /etc/netns/NAME, ip\'s messages when it cannot start or the name is missing', () => {
      const [theirs, mine] = script(each(
        '$IP netns add e1', '$IP netns exec e1 sh -c "ls /sys/class/net; exit 3"', '$IP netns e e1 /no/such/program',
        '$IP netns exec nosuch true', '$IP netns exec', '$IP netns exec e1', '$IP -n e1 netns exec e1 true',
        'mkdir -p /etc/netns/e1 && echo inside > /etc/netns/e1/hostname-nsnet-test && touch /etc/hostname-nsnet-test && '
          + '$IP netns exec e1 cat /etc/hostname-nsnet-test; rm -rf /etc/netns/e1 /etc/hostname-nsnet-test; rmdir /etc/netns 2>/dev/null; true',
      ));
      expect(show(mine)).to.equal(show(theirs));
      expect(theirs.stdout).to.include('lo\n[3] IP netns exec e1 sh -c ls /sys/class/net; exit 3\n').and.include('inside\n');
    });

    it('-all netns exec runs in each name in turn, "netns: NAME" first, and ends with 0', () => {
      const [theirs, mine] = script(each('$IP netns add x1', '$IP netns add x2', '$IP -all netns exec sh -c "echo in; exit 4"',
        '$IP -all netns exec', '$IP -a netns exec /no/such'));
      expect(show(mine)).to.equal(show(theirs));
      expect(theirs.stdout).to.match(/netns: x[12]\nin\n/);
    });

    it('-all netns delete removes every name (and says nothing when there are none)', () => {
      const [theirs, mine] = script(each('$IP netns add y1', '$IP netns add y2', '$IP -all netns delete', '$IP netns list',
        'ls /run/netns | wc -l', '$IP -all netns delete', '$IP -j netns'));
      expect(show(mine)).to.equal(show(theirs));
      expect(theirs.stdout).to.include('[0] IP -all netns delete\n[0] IP netns list\n0\n');
    });
  });

  describe('monitor', () => {
    /** A monitor process and the lines it prints that are about our names. */
    function watch(argv: string[], names: readonly string[]): { proc: ChildProcess; lines: string[]; ready: Promise<void> } {
      const proc = spawnProcess(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
      const lines: string[] = [];
      createInterface({ input: proc.stdout! }).on('line', (l) => { if (names.some((n) => l.endsWith(` ${n}`))) lines.push(l); });
      return { proc, lines, ready: new Promise((resolve) => setTimeout(resolve, 600)) };
    }

    it('prints "add NAME" and "delete NAME" as names come and go, whichever tool makes them', async () => {
      const [m1, m2] = [name('m1'), name('m2')];
      // ip's stdout is a pipe here: line-buffer it, or it would hold the lines back.
      const theirs = watch(['stdbuf', '-oL', 'ip', 'netns', 'monitor'], [m1, m2]);
      const mine = watch([process.execPath, CLI, 'netns', 'monitor'], [m1, m2]);
      try {
        await Promise.all([theirs.ready, mine.ready]);
        expect(runNsNet(['netns', 'add', m1]).status).to.equal(0);
        expect(runIp(['netns', 'add', m2]).status).to.equal(0);
        expect(runIp(['netns', 'del', m1]).status).to.equal(0);
        expect(runNsNet(['netns', 'del', m2]).status).to.equal(0);
        for (let i = 0; i < 50 && (mine.lines.length < 4 || theirs.lines.length < 4); i++) await new Promise((r) => setTimeout(r, 50));
        expect(mine.lines).to.deep.equal([`add ${m1}`, `add ${m2}`, `delete ${m1}`, `delete ${m2}`]);
        expect(mine.lines).to.deep.equal(theirs.lines);
      } finally {
        theirs.proc.kill();
        mine.proc.kill();
      }
    });
  });

  describe('the lock on /run/netns', () => {
    it('netns add waits while another holds flock(LOCK_EX) on /run/netns, as ip does', async () => {
      expect(runIp(['netns', 'add', name('k0')]).status).to.equal(0); // /run/netns exists
      for (const [argv, n] of [[['ip'], name('k1')], [[process.execPath, CLI], name('k2')]] as const) {
        const lock = sys.openRaw('/run/netns', sys.O_DIRECTORY);
        try {
          sys.flock(lock, sys.LOCK_EX);
          const adder = spawnProcess(argv[0]!, [...argv.slice(1), 'netns', 'add', n], { stdio: 'ignore' });
          const status = new Promise<number | null>((r) => adder.on('exit', (code) => r(code)));
          await new Promise((r) => setTimeout(r, 800));
          // Still waiting for the lock: the name is not made yet and the tool has not ended.
          expect(existsSync(`/run/netns/${n}`), `${argv[0]} made ${n} under another's lock`).to.equal(false);
          expect(adder.exitCode, `${argv.join(' ')} ended under another's lock`).to.equal(null);
          sys.flock(lock, sys.LOCK_UN);
          expect(await status).to.equal(0);
          expect(existsSync(`/run/netns/${n}`)).to.equal(true);
        } finally {
          sys.closeFd(lock);
        }
      }
    });
  });
});
