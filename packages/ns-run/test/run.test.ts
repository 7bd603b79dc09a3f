/**
 * ns-run against the kernel, through its CLI, as root (the privileged cases) and as nobody
 * (the rootless ones). Results are checked from outside where possible: /proc of the
 * container's processes, the host's mount table, links, cgroups and state files.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  alive, busyboxRootfs, cli, Netns, NOBODY, readState, removeTree, running, snapshot, start, stateDir, statusField,
  ok, uidMapOf, uniqueName, until, CLI, ThrowawayUser, type Snapshot,
} from './helpers';

/** Docker's default capability set (CHOWN ... SETFCAP), as /proc/PID/status prints it. */
const DEFAULT_CAPS = '00000000a80425fb';

let rootfs: string;
let hostDir: string;
let marker: string;
let netns: Netns;

before(async () => {
  rootfs = busyboxRootfs();
  hostDir = mkdtempSync(`/tmp/ns-run-test-${process.pid}-host-`);
  chmodSync(hostDir, 0o755);
  marker = join(hostDir, 'marker');
  writeFileSync(marker, 'host secret\n', { mode: 0o644 });
  netns = await new Netns().ready();
});

after(() => {
  netns.close();
  removeTree(rootfs);
  removeTree(hostDir);
});

/** Pids in the container's /proc, as it lists them. */
const PROC_PIDS = 'for p in /proc/[0-9]*; do echo ${p#/proc/}; done';

describe('ns-run as root', () => {
  describe('the embedded default root (the host\'s / read-only)', () => {
    it('runs the README example: its own hostname, root inside, an init and only its own processes', () => {
      const name = uniqueName('readme');
      const out = ok(cli(['--name', name, '--network', 'none', '--', 'sh', '-c', 'hostname; id -u; ps -e -o pid=,ppid=,comm=']));
      const [hostname, uid, ...ps] = out.trim().split('\n');
      expect(hostname).to.equal(name);
      expect(uid).to.equal('0');
      const rows = ps.map((l) => l.trim().split(/\s+/));
      expect(rows[0]!.slice(0, 2)).to.deep.equal(['1', '0']);
      expect(rows.find((r) => r[2] === 'sh')!.slice(0, 2)).to.deep.equal(['2', '1']);
      expect(rows.length).to.be.at.most(3); // init, sh, ps
    });

    it('shows the host tree read-only, with a private /tmp, /run and a writable home; nothing reaches the host', () => {
      // A name no other suite on this machine uses, so the check outside means only this container.
      const scratchName = `/tmp/ns-run-private-${process.pid}`;
      const paths = ['/tmp', '/run', '/dev/shm'];
      const before = snapshot('never', paths);
      const out = ok(cli(['--network', 'none', '--', 'sh', '-c',
        `cat /etc/hostname >/dev/null && echo host-etc; ls ${hostDir} 2>&1 | head -1; touch /usr/x 2>/dev/null || echo usr-ro; ` +
        `touch ${scratchName} /run/x "$HOME/x" && echo writable "$HOME"; grep " / " /proc/self/mounts | grep -c "ro,"`]));
      expect(out.split('\n')).to.deep.equal(['host-etc', `ls: cannot access '${hostDir}': No such file or directory`, 'usr-ro', 'writable /root', '1', '']);
      expect(existsSync(scratchName)).to.equal(false);
      expect(snapshot('never', paths).mounts).to.deep.equal(before.mounts);
    });

    it('shares the host\'s network with --network host, /sys then bound read-only', () => {
      const out = ok(cli(['--network', 'host', '--', 'sh', '-c', 'readlink /proc/self/ns/net; grep " /sys " /proc/self/mounts | cut -d" " -f3,4']));
      expect(out).to.equal(`${readlinkSync('/proc/self/ns/net')}\nsysfs ro,nosuid,nodev,noexec,relatime\n`);
    });

    it('passes the exit status through, and 128+N for a signal', () => {
      expect(cli(['--network', 'none', '--', 'sh', '-c', 'exit 7']).status).to.equal(7);
      expect(cli(['--network', 'none', '--', 'sh', '-c', 'kill -TERM $$']).status).to.equal(128 + 15);
      const missing = cli(['--network', 'none', '--', '/no/such/program']);
      expect(missing.status).to.equal(127);
      expect(missing.stderr).to.match(/^ns-run: failed to execute \/no\/such\/program: /);
    });
  });

  describe('a busybox rootfs', () => {
    it('makes the program PID 1\'s child, seeing only its own processes', () => {
      const out = ok(cli(['--rootfs', rootfs, '--network', 'none', '--', 'sh', '-c', `echo $$ $PPID; ${PROC_PIDS}`]));
      const [self, ...pids] = out.trim().split('\n');
      expect(self).to.equal('2 1');
      expect(pids.map(Number)).to.include.members([1, 2]);
      expect(pids.length).to.be.at.most(4); // init, sh, and what the loop forks
    });

    it('has uid 0 inside and a host uid outside; cannot reach the host\'s files', async () => {
      const name = uniqueName('ids');
      const c = start(['--name', name, '--rootfs', rootfs, '--network', 'none', '--', 'sh', '-c', `id -u; cat ${marker} 2>&1; read x || true`]);
      try {
        const state = await running(name);
        await until('the program to print', () => c.stdout.split('\n').length >= 3);
        expect(c.stdout.split('\n').slice(0, 2)).to.deep.equal(['0', `cat: can't open '${marker}': No such file or directory`]);
        // Container root is the first id of the range leased for it (one 65536-id slot from 1000000000 on).
        const outer = uidMapOf(state.program!.pid).split(' ')[1]!;
        expect(uidMapOf(state.program!.pid)).to.equal(`0 ${outer} 65536`);
        expect((Number(outer) - 1000000000) % 65536).to.equal(0);
        expect(statusField(state.program!.pid, 'Uid').split(/\s+/)).to.deep.equal([outer, outer, outer, outer]);
        expect(readFileSync(`/proc/${state.program!.pid}/setgroups`, 'utf8').trim()).to.equal('allow');
      } finally {
        c.proc.stdin!.end();
      }
      expect((await c.exit).code).to.equal(0);
    });

    it('binds volumes read-write and read-only, and --tmpfs', () => {
      const rw = mkdtempSync(join(hostDir, 'rw-'));
      chmodSync(rw, 0o777);
      const out = ok(cli(['--rootfs', rootfs, '--network', 'none', '-v', `${rw}:/data`, '-v', `${hostDir}:/mnt:ro`, '-v', `${marker}:/etc/group:ro`,
        '--tmpfs', '/root', '--', 'sh', '-c',
        'echo inside > /data/file && echo wrote; touch /mnt/x 2>/dev/null || echo ro-refused; cat /etc/group; touch /root/y && echo scratch']));
      expect(out).to.equal('wrote\nro-refused\nhost secret\nscratch\n');
      expect(readFileSync(join(rw, 'file'), 'utf8')).to.equal('inside\n');
    });

    it('resolves a destination through the rootfs\'s symlinks without leaving it', () => {
      const escape = join(hostDir, 'escape-target');
      symlinkSync(`/../../../../..${escape}`, join(rootfs, 'evil'));
      try {
        const out = ok(cli(['--rootfs', rootfs, '--network', 'none', '-v', `${hostDir}:/evil/sub:ro`, '--', 'sh', '-c', `ls ${escape}/sub/marker`]));
        expect(out).to.equal(`${escape}/sub/marker\n`);
        // The mount point was made inside the rootfs, never on the host path the link names.
        expect(existsSync(escape)).to.equal(false);
        expect(existsSync(join(rootfs, escape, 'sub'))).to.equal(true);
      } finally {
        execFileSync('rm', ['-rf', join(rootfs, 'evil'), join(rootfs, hostDir)]);
      }
    });

    it('sets the environment, working directory and user; drops privileges', () => {
      const envFile = join(hostDir, 'env');
      writeFileSync(envFile, 'B=from-file\nA=overridden\n');
      const out = ok(cli(['--rootfs', rootfs, '--network', 'none', '-e', 'A=1', '--env-file', envFile, '-w', '/tmp', '-u', 'user', '--hostname', 'box',
        '--', 'sh', '-c', 'echo $A $B $HOME $HOSTNAME; pwd; id -u; id -g; hostname; grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/self/status']));
      expect(out.split('\n')).to.deep.equal(['1 from-file /home/user box', '/tmp', '1000', '1000', 'box',
        'CapEff:\t0000000000000000', 'CapBnd:\t0000000000000000', 'NoNewPrivs:\t1', '']);
    });

    it('keeps only the default capabilities for root, with no_new_privs, and hides PID 1\'s memory', () => {
      const out = ok(cli(['--rootfs', rootfs, '--network', 'none', '--', 'sh', '-c',
        'grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/self/status; cat /proc/1/environ >/dev/null 2>&1 || echo no-environ; ' +
        'dd if=/proc/1/mem bs=1 count=1 2>/dev/null || echo no-mem']));
      expect(out).to.equal(`CapEff:\t${DEFAULT_CAPS}\nCapBnd:\t${DEFAULT_CAPS}\nNoNewPrivs:\t1\nno-environ\nno-mem\n`);
      const added = ok(cli(['--rootfs', rootfs, '--network', 'none', '--cap-add', 'NET_ADMIN', '--cap-drop', 'ALL', '--', 'sh', '-c', 'grep CapEff /proc/self/status']));
      expect(added).to.equal('CapEff:\t0000000000000000\n');
    });

    it('mounts the rootfs read-only with --read-only, keeping /tmp writable', () => {
      const out = ok(cli(['--rootfs', rootfs, '--network', 'none', '--read-only', '--', 'sh', '-c', 'touch /etc/x 2>&1; touch /tmp/x && echo tmp']));
      expect(out).to.equal("touch: /etc/x: Read-only file system\ntmp\n");
    });
  });

  describe('networking (in a network namespace of the test\'s)', () => {
    it('links the container to the host over a veth with a default route', async () => {
      const server = start(['busybox', 'httpd', '-f', '-p', '9000', '-h', hostDir], { raw: true, netns });
      try {
        const out = ok(cli(['--rootfs', rootfs, '--', 'sh', '-c',
          'gw=$(ip route | awk "/default/{print \\$3}"); ip -o -4 addr show eth0 | awk "{print \\$4}"; ' +
          'for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://$gw:9000/marker && break; sleep 0.2; done'], { netns }));
        const [cidr, reply] = out.trim().split('\n');
        expect(cidr).to.match(/^10\.231\.\d+\.\d+\/30$/);
        expect(reply).to.equal('host secret');
      } finally {
        server.proc.kill('SIGKILL');
      }
    });

    for (const network of ['veth', 'none']) {
      it(`forwards a published port to the container (--network ${network})`, async () => {
        const port = 20000 + (process.pid % 20000);
        const c = start(['--rootfs', rootfs, '--network', network, '-p', `${port}:8080`, '--', 'nc', '-l', '-p', '8080', '-e', 'echo', 'hello'], { netns });
        let reply = '';
        await until('the published port to answer', async () => (reply = await netns.fetch(port)) !== '');
        expect(reply).to.equal('hello\n');
        expect((await c.exit).code).to.equal(0);
      });
    }
  });

  describe('limits', () => {
    it('kills a process that exceeds --memory (the program, not the runner)', () => {
      const dd = ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=100M', 'count=1'];
      const run = (limit: string) => cli(['--rootfs', rootfs, '--network', 'none', '--memory', limit, '--', ...dd]);
      const within = run('256M');
      expect(within.status, within.stderr).to.equal(0);
      const over = run('32M');
      // dd's 100 MB buffer is out of bounds: the OOM killer ends it; the runner reports 128+9.
      expect([over.status, over.signal, over.stdout]).to.deep.equal([128 + 9, null, '']);
    });

    it('caps the number of processes with --pids-limit', () => {
      const r = cli(['--rootfs', rootfs, '--network', 'none', '--pids-limit', '5', '--', 'sh', '-c',
        'for i in 1 2 3 4 5 6 7 8; do sleep 5 & done 2>&1; echo started']);
      expect(r.stdout + r.stderr).to.match(/can't fork/);
    });
  });

  describe('lifecycle', () => {
    it('lists a named container, enters every namespace with exec, and stops it', async () => {
      const name = uniqueName('life');
      const c = start(['--name', name, '--rootfs', rootfs, '--memory', '64M', '--', 'sleep', '60'], { netns });
      const state = await running(name);
      const ps = ok(cli(['ps'], { netns }));
      expect(ps).to.match(new RegExp(`^[0-9a-f]{12}  +${rootfs}  +"sleep 60"  +.* ago  +Up .*  +${name}$`, 'm'));
      const inside = ok(cli(['exec', name, 'sh', '-c', 'for k in pid mnt net; do readlink /proc/self/ns/$k; done; echo $$; id -u; ' +
        'grep -E "^(CapEff|NoNewPrivs)" /proc/self/status; cat /proc/self/cgroup | grep memory']));
      const program = state.program!.pid;
      expect(inside.split('\n')).to.deep.equal([
        readlinkSync(`/proc/${program}/ns/pid`), readlinkSync(`/proc/${program}/ns/mnt`), readlinkSync(`/proc/${program}/ns/net`),
        '3', '0', `CapEff:\t${DEFAULT_CAPS}`, 'NoNewPrivs:\t1', '4:memory:/', '']);
      expect(ok(cli(['exec', '-u', 'user', '-w', '/tmp', '-e', 'X=1', name, 'sh', '-c', 'id -u; pwd; echo $X $HOSTNAME']))).to.equal(`1000\n/tmp\n1 ${name}\n`);
      // docker exec's status: 128+N for a program killed by signal N, its own code otherwise.
      const statuses = ['kill -KILL $$', 'kill -TERM $$', 'exit 3'].map((script) => cli(['exec', name, 'sh', '-c', script]));
      expect(statuses.map((r) => [r.status, r.signal])).to.deep.equal([[137, null], [143, null], [3, null]]);
      const file = join('/run/ns-run/containers', `${name}.json`);
      expect(statSync(file).mode & 0o777).to.equal(0o600);
      expect(statSync('/run/ns-run/containers').mode & 0o777).to.equal(0o700);
      ok(cli(['stop', '-t', '5', name]));
      expect((await c.exit).code).to.equal(128 + 15);
      expect(readState(name)).to.equal(undefined);
      expect(cli(['exec', name, 'true']).stderr).to.match(/no such container/);
    });

    it('takes over a name whose runner is gone, and refuses one in use', async () => {
      const name = uniqueName('stale');
      const file = join('/run/ns-run/containers', `${name}.json`);
      writeFileSync(file, JSON.stringify({ name, status: 'running', created: '', runner: { pid: 1, inode: 0 }, init: { pid: 1, inode: 0 } }), { mode: 0o600 });
      expect(ok(cli(['--name', name, '--rootfs', rootfs, '--network', 'none', 'hostname']))).to.equal(`${name}\n`);
      expect(existsSync(file)).to.equal(false);
      const c = start(['--name', name, '--rootfs', rootfs, '--network', 'none', '--', 'sleep', '60']);
      await running(name);
      const second = cli(['--name', name, '--rootfs', rootfs, '--network', 'none', 'true']);
      expect([second.status, second.stderr]).to.deep.equal([125, `ns-run: a container named '${name}' already exists\n`]);
      ok(cli(['kill', name]));
      await c.exit;
    });

    it('passes the signals it gets on to the program', async () => {
      const name = uniqueName('term');
      const c = start(['--name', name, '--rootfs', rootfs, '--network', 'none', '--', 'sh', '-c',
        'trap "exit 42" TERM; trap "exit 43" INT; cut -d" " -f6 /proc/self/stat; echo ready; while :; do sleep 0.1; done']);
      await running(name);
      await until('the traps to be set', () => c.stdout.includes('ready'));
      // The container is a session of its own (led by its init), so a terminal's keys reach
      // only the runner, which passes them on once.
      expect(c.stdout).to.equal('1\nready\n');
      c.proc.kill('SIGINT');
      expect((await c.exit).code).to.equal(43);
      const d = start(['--rootfs', rootfs, '--network', 'none', '--', 'sh', '-c', 'trap "exit 42" TERM; echo ready; while :; do sleep 0.1; done']);
      await until('the trap to be set', () => d.stdout.includes('ready'));
      d.proc.kill('SIGTERM');
      expect((await d.exit).code).to.equal(42);
    });

    it('kills a container with a signal', async () => {
      const name = uniqueName('kill');
      const c = start(['--name', name, '--rootfs', rootfs, '--network', 'none', '--', 'sleep', '60']);
      await running(name);
      ok(cli(['kill', name]));
      // PID 1 cannot die of a signal it is sent from inside, but SIGKILL from outside kills
      // it; the runner then ends with 128+N, as a shell would report it.
      expect((await c.exit).code).to.equal(128 + 9);
    });
  });

  describe('leaves nothing behind', () => {
    const everything = (name: string) => ['--name', name, '--rootfs', rootfs, '--memory', '64M', '-p', `${30000 + (process.pid % 20000)}:80`];

    function expectSame(after: Snapshot, before: Snapshot): void {
      expect(after.mounts).to.deep.equal(before.mounts);
      expect(after.links).to.deep.equal(before.links);
      expect(after.cgroups).to.deep.equal(before.cgroups);
      expect(after.stateFiles).to.deep.equal(before.stateFiles);
    }

    it('after the program exits', async () => {
      const name = uniqueName('gone');
      const before = snapshot(name, [rootfs], false, netns);
      const c = start([...everything(name), '--', 'sh', '-c', 'read x || true'], { netns });
      await running(name);
      const during = snapshot(name, [rootfs], false, netns);
      expect(during.cgroups.length).to.be.greaterThan(0);
      expect(during.links.length).to.equal(before.links.length + 1);
      // Its state file, its subnet's lease and its id range's.
      expect(during.stateFiles.map((f) => f.split('/').slice(-2)[0])).to.deep.equal(['containers', 'subnets', 'idranges']);
      c.proc.stdin!.end();
      expect((await c.exit).code).to.equal(0);
      expectSame(snapshot(name, [rootfs], false, netns), before);
    });

    it('after SIGKILL of the runner: the container dies with it and the next call reclaims the rest', async () => {
      const name = uniqueName('sigkill');
      const before = snapshot(name, [rootfs], false, netns);
      const c = start([...everything(name), '--', 'sleep', '60'], { netns });
      const state = await running(name);
      expect(snapshot(name, [rootfs], false, netns).cgroups.length).to.be.greaterThan(0);
      c.proc.kill('SIGKILL');
      await c.exit;
      await until('the container to die', () => !alive(state.program!.pid) && !alive(state.init!.pid));
      // No cleanup of the runner's ran: its cgroups, veth, lease and state stay until another call.
      expect(ok(cli(['ps', '-a']))).to.not.include(name);
      expectSame(snapshot(name, [rootfs], false, netns), before);
    });
  });
});

describe('ns-run as an ordinary user (nobody), rootless', () => {
  const asNobody = { rootless: true };

  it('runs the README example on the embedded default', () => {
    const out = ok(cli(['--', 'sh', '-c', 'hostname; id -u; ps -e -o pid=,comm=; echo $HOME; touch $HOME/x /tmp/x && echo writable'], asNobody));
    const lines = out.trim().split('\n');
    expect(lines[0]).to.match(/^nsr-[0-9a-f]{8}$/);
    expect(lines[1]).to.equal('0');
    expect(lines.slice(2, 4).map((l) => l.trim().split(/\s+/)[0])).to.deep.equal(['1', '2']);
    expect(lines.slice(-2)).to.deep.equal(['/root', 'writable']);
  });

  it('runs a busybox rootfs: PID 1\'s child, its own processes and lo, uid 0 inside and nobody outside', async () => {
    const name = uniqueName('rootless');
    const c = start(['--name', name, '--rootfs', rootfs, '--', 'sh', '-c', `echo $$ $PPID; id -u; cat ${marker} 2>&1; ip -o link | wc -l; ${PROC_PIDS} | wc -l; read x || true`], asNobody);
    try {
      const state = await running(name, true);
      await until('the program to print', () => c.stdout.split('\n').length >= 6);
      expect(c.stdout.split('\n').slice(0, 5)).to.deep.equal(['2 1', '0', `cat: can't open '${marker}': No such file or directory`, '1', '4']);
      expect(statusField(state.program!.pid, 'Uid').split(/\s+/)[0]).to.equal(String(NOBODY));
      expect(uidMapOf(state.program!.pid)).to.equal(`0 ${NOBODY} 1`);
      expect(readFileSync(`/proc/${state.program!.pid}/setgroups`, 'utf8').trim()).to.equal('deny');
      expect(statusField(state.program!.pid, 'NoNewPrivs')).to.equal('1');
      const inside = ok(cli(['exec', name, 'readlink', '/proc/self/ns/pid'], asNobody));
      expect(inside).to.equal(`${readlinkSync(`/proc/${state.program!.pid}/ns/pid`)}\n`);
      const killed = cli(['exec', name, 'sh', '-c', 'kill -KILL $$'], asNobody);
      expect([killed.status, killed.signal]).to.deep.equal([137, null]);
    } finally {
      c.proc.stdin!.end();
    }
    expect((await c.exit).code).to.equal(0);
  });

  it('maps the user\'s /etc/subuid block through newuidmap when there is one', async () => {
    const user = new ThrowawayUser('run');
    try {
      const run = (args: string[]) => user.run([process.execPath, CLI, ...args]);
      const r = run(['--rootfs', rootfs, '--', 'sh', '-c', 'id -u; cat /proc/self/uid_map /proc/self/setgroups; grep "^Uid" /proc/self/status']);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout.split('\n').map((l) => l.trim().split(/\s+/).join(' '))).to.deep.equal([
        '0', `0 ${user.uid} 1`, `1 ${user.subStart} 65536`, 'allow', 'Uid: 0 0 0 0', '']);
      const other = run(['--rootfs', rootfs, '-u', 'user', '--', 'sh', '-c', 'id -u; id -g']);
      expect(other.stdout).to.equal('1000\n1000\n');
    } finally {
      expect(await user.remove()).to.deep.equal([]);
      rmSync(`/tmp/ns-run-${user.uid}`, { recursive: true, force: true });
    }
  });

  it('forwards a published port from inside the container\'s namespaces', async () => {
    const port = 21000 + (process.pid % 20000);
    const c = start(['--rootfs', rootfs, '-p', `${port}:8080`, '--', 'nc', '-l', '-p', '8080', '-e', 'echo', 'hello'], { ...asNobody, netns });
    let reply = '';
    await until('the published port to answer', async () => (reply = await netns.fetch(port)) !== '');
    expect(reply).to.equal('hello\n');
    expect((await c.exit).code).to.equal(0);
  });

  it('publishes a port of a short-lived program with no race: 20 runs each of true and exit 3, every status right', function () {
    this.timeout(180_000);
    const port = 22000 + (process.pid % 20000);
    const codes = (argv: string[]) => Array.from({ length: 20 }, () => {
      const r = cli(['--rootfs', rootfs, '--network', 'none', '-p', `${port}:80`, '--', ...argv], { ...asNobody, netns });
      return `${r.status} ${r.stderr}`;
    });
    expect(codes(['true'])).to.deep.equal(Array(20).fill('0 '));
    expect(codes(['sh', '-c', 'exit 3'])).to.deep.equal(Array(20).fill('3 '));
  });

  it('shares the host\'s network too', () => {
    const out = ok(cli(['--network', 'host', '--rootfs', rootfs, '--', 'readlink', '/proc/self/ns/net'], asNobody));
    expect(out).to.equal(`${readlinkSync('/proc/self/ns/net')}\n`);
  });

  it('refuses what needs privilege, before anything exists', () => {
    const before = snapshot('never', [rootfs], true);
    const veth = cli(['--network', 'veth', 'true'], asNobody);
    expect(veth.status).to.equal(125);
    expect(veth.stderr).to.match(/^ns-run: --network veth: a veth to the host needs root/);
    const memory = cli(['--network', 'none', '--memory', '32M', 'true'], asNobody);
    expect(memory.status).to.equal(125);
    expect(memory.stderr).to.match(/^ns-run: --memory: .*EACCES/);
    expect(snapshot('never', [rootfs], true)).to.deep.equal(before);
  });

  it('leaves nothing behind after SIGKILL of the runner (its C supervisor): the container dies with it, the next call reclaims its state', async () => {
    const name = uniqueName('rl-kill');
    const before = snapshot(name, [rootfs], true);
    const c = start(['--name', name, '--rootfs', rootfs, '--', 'sleep', '60'], asNobody);
    const state = await running(name, true);
    const file = join(stateDir(true), 'containers', `${name}.json`);
    expect(existsSync(file)).to.equal(true);
    c.proc.kill('SIGKILL');
    await c.exit;
    await until('the container to die', () => !alive(state.program!.pid) && !alive(state.init!.pid));
    // Nothing of the supervisor ran its cleanup: the state stays until another ns-run call.
    expect(ok(cli(['ps', '-a'], asNobody))).to.not.include(name);
    expect(existsSync(file)).to.equal(false);
    expect(snapshot(name, [rootfs], true)).to.deep.equal(before);
  });
});


