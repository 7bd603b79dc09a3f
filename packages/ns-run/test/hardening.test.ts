/**
 * Issue 18 #3: every container gets docker's masked and read-only paths and ns-core's default
 * seccomp profile (foreground, -d, in place); --security-opt seccomp=unconfined|FILE. Checked
 * from inside the container, as root and as nobody, on the host's root read-only (perl and
 * util-linux's unshare from the host make the raw syscalls).
 * Issue 18 #11: a range mapping host root is refused unless --userns=host, which inspect names.
 * Issue 18 #4: every tmpfs is sized (64m by default, --shm-size, --tmpfs DEST:size=N): df
 * inside shows the size and writing past it fails with ENOSPC.
 * Issue 18 #10: --memory below 6m is refused; at and above it the OOM killer can only ever
 * choose the program (the runner's memory is never in the limited cgroup).
 * Issue 18 #5: a container swapping its /etc/passwd between a symlink to a host file, a FIFO and
 * a regular file cannot make root's `exec -u NAME` read the host's file or hang.
 * Issue 18 #2: each of root's containers has an id range of its own, leased without collisions
 * and reclaimed from dead owners, so one cannot move itself into another's cgroup.
 * Issue 18 #6: a state file naming a process that is not a container's init (forged or stale)
 * does not make kill, stop or rm -f signal it.
 * Issue 18 #8: a cgroup the runner cannot remove is named on stderr, and the exit is non-zero.
 * Issue 18 #7: a SIGKILL of the supervisor's on-exit command or of a relay costs neither the
 * status nor a leftover; what a killed supervisor leaves, the next call reclaims (also when it
 * was killed between recording the exit and removing the state).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, fstatSync, mkdirSync, mkdtempSync, rmdirSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { sys } from 'ns-core';
import { childrenOf } from 'ns-test-kit';
import { arch } from 'node:os';
import { join } from 'node:path';
import { AS_NOBODY, alive, busyboxRootfs, cli, LAUNCHER, NOBODY, ok, readState, removeTree, running, snapshot, start, stateDir, uniqueName, until } from './helpers';

const MASKED = ['/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats',
                '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap'];
const READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** keyctl(2)'s number (asm/unistd.h): perl's syscall() makes it without a libkeyutils. */
const KEYCTL = arch() === 'arm64' ? 219 : 250;
/** keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, create): errno 0 when it worked. */
const KEYCTL_SCRIPT = `perl -e 'syscall(${KEYCTL}, 0, -2, 1); print "keyctl=", $!+0, "\\n"'`;
const NESTED_USERNS = 'unshare -U true 2>/dev/null; echo "unshare=$?"';

/** Mount points and options as the container's /proc/self/mountinfo lists them. */
const MOUNTS_SCRIPT = "awk '{print \"mount\", $5, $6}' /proc/self/mountinfo";

function mountsOf(out: string): Map<string, string> {
  return new Map(out.split('\n').filter((l) => l.startsWith('mount ')).map((l) => {
    const [, point, options] = l.split(' ');
    return [point!, options!];
  }));
}

const valueOf = (out: string, key: string) => out.split('\n').find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);

let dir: string;

before(() => {
  dir = mkdtempSync(`/tmp/ns-run-test-${process.pid}-hardening-`);
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'broken.json'), '{"defaultAction": "SCMP_ACT_ERRNO", ');
  writeFileSync(join(dir, 'bad-action.json'), '{"defaultAction": "SCMP_ACT_NOPE"}');
  // A profile refusing only mkdir (EACCES): the program runs under the file's rules, not the default's.
  writeFileSync(join(dir, 'no-mkdir.json'), JSON.stringify({
    defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
  }));
  for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644);
});

after(() => removeTree(dir));

for (const rootless of [false, true]) {
  describe(`ns-run hardening${rootless ? ', rootless' : ', as root'}`, () => {
    const run = (args: readonly string[], script: string) => cli(['--network', 'none', ...args, '--', 'sh', '-c', script], { rootless });

    it('docker\'s masked paths are masked: /proc/keys is /dev/null, /sys/firmware an empty read-only tmpfs', () => {
      expect(readdirSync('/sys/firmware'), 'the host\'s /sys/firmware has entries to hide').to.not.deep.equal([]);
      const out = ok(run([], `echo "keys=$(cat /proc/keys | wc -c) $(stat -c %t:%T /proc/keys)"; echo "firmware=$(ls -A /sys/firmware | wc -l)"; ${MOUNTS_SCRIPT}`));
      expect(valueOf(out, 'keys')).to.equal('0 1:3');
      expect(valueOf(out, 'firmware')).to.equal('0');
      const mounts = mountsOf(out);
      // Each masked path the host has is a mount point inside (/dev/null bound on it, or a tmpfs).
      const present = MASKED.filter((p) => existsSync(p));
      expect(present).to.include.members(['/proc/keys', '/sys/firmware']);
      expect(present.filter((p) => !mounts.has(p))).to.deep.equal([]);
      expect(mounts.get('/sys/firmware')!.split(',')).to.include('ro');
    });

    it('docker\'s read-only paths are read-only: writing /proc/sys fails with EROFS', () => {
      // The container's own network namespace: its root owns net.* sysctls, so only the read-only mount stops the write.
      const r = run([], `echo 1 > /proc/sys/net/ipv4/ip_forward; echo "write=$?"; ${MOUNTS_SCRIPT}`);
      expect(valueOf(r.stdout, 'write')).to.not.equal('0');
      expect(r.stderr).to.match(/Read-only file system/);
      const mounts = mountsOf(r.stdout);
      for (const p of READONLY.filter((x) => existsSync(x))) expect(mounts.get(p)?.split(','), p).to.include('ro');
    });

    it('the default seccomp profile: a nested user namespace and keyctl fail with EPERM', () => {
      const out = ok(run([], `grep ^Seccomp: /proc/self/status; ${NESTED_USERNS}; ${KEYCTL_SCRIPT}`));
      expect(out).to.match(/^Seccomp:\s+2$/m);
      expect(valueOf(out, 'unshare')).to.equal('1');
      expect(valueOf(out, 'keyctl')).to.equal('1'); // EPERM
    });

    it('--security-opt seccomp=unconfined: no filter; the nested user namespace and keyctl work', () => {
      const out = ok(run(['--security-opt', 'seccomp=unconfined'], `grep ^Seccomp: /proc/self/status; ${NESTED_USERNS}; ${KEYCTL_SCRIPT}`));
      expect(out).to.match(/^Seccomp:\s+0$/m);
      expect(valueOf(out, 'unshare')).to.equal('0');
      expect(valueOf(out, 'keyctl')).to.equal('0');
    });

    it('--cap-add SYS_ADMIN gives back what the profile keeps for it (unshare), as docker\'s does', () => {
      const out = ok(run(['--cap-add', 'SYS_ADMIN'], `grep ^Seccomp: /proc/self/status; ${NESTED_USERNS}; ${KEYCTL_SCRIPT}`));
      expect(out).to.match(/^Seccomp:\s+2$/m);
      expect(valueOf(out, 'unshare')).to.equal('0');
      expect(valueOf(out, 'keyctl')).to.equal('1');
    });

    it('--security-opt seccomp=FILE: the file\'s rules, not the default\'s', () => {
      const out = ok(run(['--security-opt', `seccomp=${join(dir, 'no-mkdir.json')}`],
                         `mkdir /tmp/x 2>/dev/null; echo "mkdir=$?"; ${NESTED_USERNS}; ${KEYCTL_SCRIPT}`));
      expect(valueOf(out, 'mkdir')).to.equal('1');
      expect(valueOf(out, 'unshare')).to.equal('0');
      expect(valueOf(out, 'keyctl')).to.equal('0');
    });
  });
}

describe('ns-run hardening: bad --security-opt', () => {
  const cases: [string, () => string, RegExp][] = [
    ['a FILE that is not JSON', () => `seccomp=${join(dir, 'broken.json')}`, /^ns-run: --security-opt seccomp=\S+\/broken\.json: not valid JSON/],
    ['a FILE with an unknown action', () => `seccomp=${join(dir, 'bad-action.json')}`,
     /^ns-run: --security-opt seccomp=\S+\/bad-action\.json: defaultAction: unknown action "SCMP_ACT_NOPE"$/],
    ['a missing FILE', () => `seccomp=${join(dir, 'none.json')}`, /^ns-run: --security-opt seccomp=\S+\/none\.json: open \S+ failed: ENOENT/],
    ['seccomp= with nothing', () => 'seccomp=', /^ns-run: --security-opt: 'seccomp=' names no profile/],
    ['an option other than seccomp', () => 'apparmor=unconfined', /^ns-run: --security-opt: 'apparmor=unconfined' is not supported/],
  ];
  for (const [title, opt, message] of cases) {
    it(`125 and one line for ${title}`, () => {
      const r = cli(['--network', 'none', '--security-opt', opt(), '--', 'true']);
      expect(r.stderr.split('\n').filter(Boolean)).to.have.length(1);
      expect(r.stderr.split('\n')[0]).to.match(message);
      expect(r.status, r.stderr).to.equal(125);
    });
  }
});

describe('ns-run hardening: -d, exec and in place', () => {
  const script = `stat -c "keys=%t:%T" /proc/keys; grep ^Seccomp: /proc/self/status; ${NESTED_USERNS}`;

  it('a detached container is masked and filtered', async () => {
    const name = uniqueName('hard');
    ok(cli(['run', '-d', '--name', name, '--network', 'none', '--', 'sh', '-c', script]));
    try {
      await until('its output', () => ok(cli(['logs', name])).includes('unshare='));
      const out = ok(cli(['logs', name]));
      expect(valueOf(out, 'keys')).to.equal('1:3');
      expect(out).to.match(/^Seccomp:\s+2$/m);
      expect(valueOf(out, 'unshare')).to.equal('1');
    } finally {
      cli(['rm', '-f', name]);
    }
  });

  for (const [title, args, seccompMode, unshare] of [['the default profile', [], '2', '1'], ['seccomp=unconfined', ['--security-opt', 'seccomp=unconfined'], '0', '0']] as const) {
    it(`exec puts a new process under the container's filter (${title})`, async () => {
      const name = uniqueName('hardx');
      ok(cli(['run', '-d', '--name', name, '--network', 'none', ...args, '--', 'sleep', '60']));
      try {
        const out = ok(cli(['exec', name, 'sh', '-c', script]));
        expect(out).to.match(new RegExp(`^Seccomp:\\s+${seccompMode}$`, 'm'));
        expect(valueOf(out, 'unshare')).to.equal(unshare);
      } finally {
        cli(['rm', '-f', name]);
      }
    });
  }

  it('in place (the foreground default) too, and seccomp=unconfined there', () => {
    const inPlace = (args: readonly string[]) => spawnSync(LAUNCHER, ['--network', 'none', ...args, '--', 'sh', '-c', script],
                                                           { encoding: 'utf8', cwd: '/', timeout: 30_000 });
    const out = ok(inPlace([]));
    expect(valueOf(out, 'keys')).to.equal('1:3');
    expect(out).to.match(/^Seccomp:\s+2$/m);
    expect(valueOf(out, 'unshare')).to.equal('1');
    const unconfined = ok(inPlace(['--security-opt', 'seccomp=unconfined']));
    expect(unconfined).to.match(/^Seccomp:\s+0$/m);
    expect(valueOf(unconfined, 'unshare')).to.equal('0');
    expect(valueOf(unconfined, 'keys')).to.equal('1:3');
  });
});

describe('ns-run hardening: --userns=host (issue 18 #11)', () => {
  const SHADOW = 'head -n 1 /etc/shadow';

  for (const range of ['0:0:65536', '1:0:65536', '0:0:4294967295']) {
    it(`--userns-range ${range} alone is refused: 125, one line, the program never runs`, () => {
      const r = cli(['--network', 'none', '--userns-range', range, '--', 'sh', '-c', SHADOW]);
      expect(r.status, r.stderr).to.equal(125);
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.match(new RegExp(`^ns-run: --userns-range: ${range} maps host id 0 \\(.*would be host root\\); add --userns=host to mean that\n$`));
    });
  }

  it('without it, container root cannot read /etc/shadow (its ids are not the host\'s)', () => {
    const r = cli(['--network', 'none', '--', 'sh', '-c', SHADOW]);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/Permission denied/);
  });

  it('--userns=host: the host\'s ids, /etc/shadow readable as in docker\'s host mode; with a range of its choosing too', () => {
    const first = readFileSync('/etc/shadow', 'utf8').split('\n')[0];
    const out = ok(cli(['--network', 'none', '--userns=host', '--', 'sh', '-c', `${SHADOW}; cat /proc/self/uid_map`]));
    expect(out.split('\n')[0]).to.equal(first);
    expect(out.split('\n')[1]!.trim().split(/\s+/)).to.deep.equal(['0', '0', '4294967295']);
    const ranged = ok(cli(['--network', 'none', '--userns', 'host', '--userns-range', '0:0:65536', '--', 'sh', '-c', `${SHADOW}; cat /proc/self/uid_map`]));
    expect(ranged.split('\n')[0]).to.equal(first);
    expect(ranged.split('\n')[1]!.trim().split(/\s+/)).to.deep.equal(['0', '0', '65536']);
  });

  it('inspect names it: HostConfig.UsernsMode is "host", and not for a default container', async () => {
    const host = uniqueName('userns-host');
    const own = uniqueName('userns-own');
    try {
      ok(cli(['run', '-d', '--name', host, '--network', 'none', '--userns=host', '--', 'sleep', '60']));
      ok(cli(['run', '-d', '--name', own, '--network', 'none', '--', 'sleep', '60']));
      const [h, o] = JSON.parse(ok(cli(['inspect', host, own]))) as { HostConfig: { UsernsMode: string } }[];
      expect(h!.HostConfig.UsernsMode).to.equal('host');
      expect(o!.HostConfig.UsernsMode).to.not.equal('host');
    } finally {
      cli(['rm', '-f', host, own]);
    }
  });

  it('an ordinary user cannot ask for it (125, one line); a bad value is refused', () => {
    const r = cli(['--network', 'none', '--userns=host', '--', 'true'], { rootless: true });
    expect(r.status, r.stderr).to.equal(125);
    expect(r.stderr).to.match(/^ns-run: --userns=host: only root may share the host's ids.*\n$/);
    const bad = cli(['--network', 'none', '--userns=hots', '--', 'true']);
    expect(bad.status).to.equal(125);
    expect(bad.stderr).to.equal("ns-run: --userns: 'hots' is not host, private or auto\n");
  });
});

describe('ns-run hardening: tmpfs sizes (issue 18 #4)', () => {
  const MIB = 1024 * 1024;
  /**
   * For each DIR: its size in KiB as df (or busybox's stat -f) reports it, then whether
   * writing MIB mebibytes into it failed with ENOSPC ("No space left on device"), then the bytes kept.
   */
  const fill = (dirs: readonly string[], mib: number, df = true) => dirs.map((d) =>
    `s=$(${df ? `df -k ${d} | awk 'NR==2{print $2}'` : `stat -f -c '%b %S' ${d} | awk '{print $1*$2/1024}'`}); ` +
    `e=$(dd if=/dev/zero of=${d}/fill bs=${MIB} count=${mib} 2>&1); k=$(wc -c < ${d}/fill); rm -f ${d}/fill; ` +
    `case "$e" in *"No space left on device"*) n=ENOSPC;; *) n="none:$e";; esac; echo "${d} $s $n $k"`).join('; ');
  const rows = (out: string) => Object.fromEntries(out.trim().split('\n').map((l) => { const [d, ...rest] = l.split(' '); return [d!, rest.join(' ')]; }));
  let rootfs: string;

  before(() => {
    rootfs = busyboxRootfs();
  });

  after(() => removeTree(rootfs));

  for (const rootless of [false, true]) {
    it(`the embedded default${rootless ? ', rootless' : ''}: /dev/shm, /tmp, /run and home hold 64m, no more`, () => {
      const dirs = ['/dev/shm', '/tmp', '/run', '$HOME'];
      const out = ok(cli(['--network', 'none', '--', 'sh', '-c', `echo "home $HOME"; ${fill(dirs, 65)}`], { rootless }));
      const got = rows(out);
      expect(got['home']).to.not.equal('/');
      for (const d of ['/dev/shm', '/tmp', '/run', got['home']!]) expect(got[d], d).to.equal(`65536 ENOSPC ${64 * MIB}`);
    });
  }

  it('--shm-size and --tmpfs DEST:size=N set their sizes; a --tmpfs without size= gets 64m', () => {
    const out = ok(cli(['--network', 'none', '--shm-size', '8m', '--tmpfs', '/scratch:size=4m', '--tmpfs', '/other', '--', 'sh', '-c',
                        fill(['/dev/shm', '/scratch'], 9) + '; ' + fill(['/other'], 65)]));
    expect(rows(out)).to.deep.equal({ '/dev/shm': `8192 ENOSPC ${8 * MIB}`, '/scratch': `4096 ENOSPC ${4 * MIB}`, '/other': `65536 ENOSPC ${64 * MIB}` });
  });

  it('a --rootfs and its --read-only scratch dirs are sized too', () => {
    const out = ok(cli(['--network', 'none', '--rootfs', rootfs, '--read-only', '--shm-size', '2m', '--', 'sh', '-c',
                        fill(['/dev/shm'], 3, false) + '; ' + fill(['/tmp', '/run'], 65, false)]));
    expect(rows(out)).to.deep.equal({ '/dev/shm': `2048 ENOSPC ${2 * MIB}`, '/tmp': `65536 ENOSPC ${64 * MIB}`, '/run': `65536 ENOSPC ${64 * MIB}` });
  });

  it('inspect shows HostConfig.ShmSize', () => {
    const name = uniqueName('shm');
    try {
      ok(cli(['run', '-d', '--name', name, '--network', 'none', '--shm-size', '16m', '--', 'sleep', '60']));
      const [c] = JSON.parse(ok(cli(['inspect', name]))) as { HostConfig: { ShmSize: number } }[];
      expect(c!.HostConfig.ShmSize).to.equal(16 * MIB);
    } finally {
      cli(['rm', '-f', name]);
    }
  });

  for (const bad of ['0', 'max', '-1', '12q', '']) {
    it(`--shm-size '${bad}' is refused: 125, one line naming it`, () => {
      const r = cli(['--network', 'none', '--shm-size', bad, '--', 'true']);
      expect(r.status, r.stderr).to.equal(125);
      expect(r.stderr).to.match(new RegExp(`^ns-run: --shm-size: '${bad}' is not a size in bytes.*\\n$`));
    });
  }
});

describe('ns-run hardening: --memory cannot kill the runner (issue 18 #10)', () => {
  /** A program that needs 64m: python3 from the host's root. */
  const ALLOC_64M = ['python3', '-c', 'b = bytearray(64 << 20); print("allocated")'];

  it('--memory 32k, 25 times: refused, 125 and one line naming --memory, never 137', () => {
    const codes = new Set<number | null>();
    for (let i = 0; i < 25; i++) {
      const r = cli(['--network', 'none', '--memory', '32k', '--', 'true']);
      codes.add(r.status);
      expect(r.signal).to.equal(null);
      expect(r.stderr).to.equal("ns-run: --memory: '32k' is below the minimum of 6M a container can start with\n");
    }
    expect([...codes]).to.deep.equal([125]);
    for (const below of ['5m', '6291455', '1k']) expect(cli(['--network', 'none', '--memory', below, '--', 'true']).status, below).to.equal(125);
  });

  it('--memory 6m (the smallest), 25 times: the program runs and the runner exits with its status every time', () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 25; i++) {
      const r = cli(['--network', 'none', '--memory', '6m', '--', 'sh', '-c', 'exit 7']);
      outcomes.push(`${r.status}/${r.signal}/${r.stderr}`);
    }
    expect([...new Set(outcomes)]).to.deep.equal(["7/null/"]);
  });

  it('--memory 8m and a program allocating 64m: the program is OOM-killed (137), the runner reports it and removes its cgroups', () => {
    const name = uniqueName('oom');
    const r = cli(['--name', name, '--network', 'none', '--memory', '8m', '--', ...ALLOC_64M]);
    expect(r.signal, 'the runner itself was killed').to.equal(null);
    expect(r.status).to.equal(137);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.equal('');
    expect(snapshot(name, []).cgroups).to.deep.equal([]);
    // What fits under the limit runs to its end.
    expect(ok(cli(['--network', 'none', '--memory', '8m', '--', 'python3', '-c', 'b = bytearray(1 << 20); print("fits")']))).to.equal('fits\n');
  });

  it('detached and through exec too: the OOM kill ends only the program, the container and its runner go on', async () => {
    const name = uniqueName('oomd');
    try {
      ok(cli(['run', '-d', '--name', name, '--network', 'none', '--memory', '8m', '--', 'sleep', '60']));
      const r = cli(['exec', name, ...ALLOC_64M]);
      expect(r.stdout).to.equal('');
      // docker exec's status for a program the OOM killer ended: 128+9.
      expect([r.status, r.signal]).to.deep.equal([137, null]);
      expect(ok(cli(['exec', name, 'echo', 'still here']))).to.equal('still here\n');
      const oom = uniqueName('oomd2');
      ok(cli(['run', '-d', '--name', oom, '--network', 'none', '--memory', '8m', '--', ...ALLOC_64M]));
      expect(ok(cli(['wait', oom]))).to.equal('137\n');
      cli(['rm', '-f', oom]);
    } finally {
      cli(['rm', '-f', name]);
    }
  });
});

describe('ns-run hardening: exec -u NAME reads names inside the container only (issue 18 #5)', () => {
  let rootfs: string;
  let hostFile: string;
  let name: string;
  /** The program's uid, read without looking any name up (busybox's id reads /etc/passwd, and would wait on the FIFO). */
  const UID = ['awk', '/^Uid:/{print $2}', '/proc/self/status'];

  before(() => {
    rootfs = busyboxRootfs();
    // Host root's files, container root's inside (the rootfs is idmapped to the container's range): it may change /etc.
    writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nprobe:x:1000:1000::/:/bin/sh\n');
    writeFileSync(join(rootfs, 'etc/p.real'), readFileSync(join(rootfs, 'etc/passwd')));
    // What root would read by following an absolute symlink from outside: another uid for the name.
    hostFile = join(dir, 'host-passwd');
    writeFileSync(hostFile, 'probe:x:4242:4242::/:/bin/sh\n', { mode: 0o644 });
    name = uniqueName('exec-u');
  });

  after(() => {
    cli(['rm', '-f', name]);
    removeTree(rootfs);
  });

  it('a plain swap at rest: a symlink or a FIFO as /etc/passwd is refused (125, one line), a regular file read', () => {
    ok(cli(['run', '-d', '--name', name, '--network', 'none', '--rootfs', rootfs, '--', 'sleep', '600']));
    expect(ok(cli(['exec', '-u', 'probe', name, ...UID]))).to.equal('1000\n');
    for (const [kind, make] of [['a symlink', `ln -s ${hostFile} /etc/passwd`], ['a FIFO', 'mkfifo /etc/passwd']] as const) {
      ok(cli(['exec', name, 'sh', '-c', `rm -f /etc/passwd && ${make}`]));
      const r = spawnSync(LAUNCHER, ['exec', '-u', 'probe', name, ...UID], { encoding: 'utf8', input: '', timeout: 15_000 });
      expect(r.error, 'exec -u hung').to.equal(undefined);
      expect(r.status, r.stderr).to.equal(125);
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.equal(`ns-run exec: --user: the container's /etc/passwd is ${kind}, not a regular file; names are read only from one\n`);
    }
    ok(cli(['exec', name, 'sh', '-c', 'rm -f /etc/passwd && cp /etc/p.real /etc/passwd']));
    expect(ok(cli(['exec', '-u', 'probe', name, ...UID]))).to.equal('1000\n');
  });

  it('swapped in a loop while root runs exec -u 40 times: never the host file\'s uid, never a hang', function () {
    this.timeout(300_000);
    const swapper = uniqueName('exec-u-swap');
    // Each state made beside and renamed over /etc/passwd (rename(2) is atomic), as fast as the shell can.
    ok(cli(['run', '-d', '--name', swapper, '--network', 'none', '--rootfs', rootfs, '--', 'sh', '-c', 'while :; do ' +
            `ln -sf ${hostFile} /etc/passwd.l && mv -f /etc/passwd.l /etc/passwd; ` +
            'rm -f /etc/passwd.f; mkfifo /etc/passwd.f && mv -f /etc/passwd.f /etc/passwd; ' +
            'cp /etc/p.real /etc/passwd.r && mv -f /etc/passwd.r /etc/passwd; done']));
    try {
      const outcomes = new Map<string, number>();
      for (let i = 0; i < 40; i++) {
        const r = spawnSync(LAUNCHER, ['exec', '-u', 'probe', swapper, ...UID], { encoding: 'utf8', input: '', timeout: 15_000 });
        expect(r.error, `exec -u hung (run ${i})`).to.equal(undefined);
        expect(r.stdout, 'the host file was read').to.not.include('4242');
        const outcome = r.status === 0 ? `ran as ${r.stdout.trim()}` : `${r.status}: ${r.stderr.replace(/^.*is (a \w+|larger).*$/s, '$1')}`;
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
      const seen = JSON.stringify([...outcomes]);
      expect([...outcomes.keys()].every((o) => ['ran as 1000', '125: a symlink', '125: a FIFO'].includes(o)), seen).to.equal(true);
      // The swap did happen under it: some runs met the regular file, some another kind.
      expect(outcomes.get('ran as 1000') ?? 0, seen).to.be.greaterThan(0);
      expect(40 - (outcomes.get('ran as 1000') ?? 0), seen).to.be.greaterThan(0);
    } finally {
      cli(['rm', '-f', swapper]);
    }
  });
});

describe('ns-run hardening: an id range per container (issue 18 #2)', () => {
  const LEASES = '/run/ns-run/idranges';
  const BASE = 1000000000;
  const SIZE = 65536;
  const outerOf = (uidMap: string) => Number(uidMap.trim().split(/\s+/)[1]);
  const leaseOwner = (outer: number): string | undefined => {
    try {
      return (JSON.parse(readFileSync(join(LEASES, String(outer)), 'utf8')) as { name: string }).name;
    } catch {
      return undefined; // no lease (any more)
    }
  };

  it('20 concurrent runs get 20 distinct ranges of 65536 ids, and release them', async function () {
    this.timeout(120_000);
    const names = Array.from({ length: 20 }, (_, i) => uniqueName(`range${i}`));
    const runs = names.map((n) => start(['--name', n, '--network', 'none', '--', 'sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map; sleep 3']));
    const exits = await Promise.all(runs.map((r) => r.exit));
    expect(exits.map((e) => e.code), runs.map((r) => r.stderr).join('')).to.deep.equal(names.map(() => 0));
    const maps = runs.map((r) => r.stdout.trim().split('\n'));
    const outers = maps.map(([uid]) => outerOf(uid!));
    expect(new Set(outers).size, JSON.stringify(outers)).to.equal(20);
    for (const [uid, gid] of maps) {
      expect(uid!.trim().split(/\s+/)).to.deep.equal(['0', String(outerOf(uid!)), String(SIZE)]);
      expect(gid!.trim().split(/\s+/)).to.deep.equal(uid!.trim().split(/\s+/));
      expect((outerOf(uid!) - BASE) % SIZE).to.equal(0);
      expect(outerOf(uid!)).to.be.at.least(BASE).and.below(2 ** 31 - SIZE + 1);
    }
    // Released: no lease names one of them any more.
    expect(outers.map(leaseOwner).filter((n) => n !== undefined && names.includes(n))).to.deep.equal([]);
  });

  it('a detached container holds its range until removed; a dead owner\'s lease is reclaimed, a live one\'s kept', async () => {
    const name = uniqueName('range-d');
    const slots = new Set(readdirSync(LEASES).filter((f) => /^\d+$/.test(f)).map(Number));
    const free = Array.from({ length: 100 }, (_, i) => BASE + i * SIZE).filter((o) => !slots.has(o));
    const [dead, live] = free;
    // A lease whose runner is gone and whose container has no state; one whose runner (this test) lives.
    const exited = spawnSync('true');
    writeFileSync(join(LEASES, String(dead)), JSON.stringify({ name: uniqueName('gone'), id: 'x', runner: { pid: exited.pid, inode: 1 } }), { mode: 0o600 });
    const pidfd = sys.pidfdOpen(process.pid);
    const ref = { pid: process.pid, inode: fstatSync(pidfd).ino };
    sys.closeFd(pidfd);
    writeFileSync(join(LEASES, String(live)), JSON.stringify({ name: uniqueName('alive'), id: 'y', runner: ref }), { mode: 0o600 });
    try {
      ok(cli(['run', '-d', '--name', name, '--network', 'none', '--', 'sleep', '60']));
      const state = readState(name)!;
      const uidMap = readFileSync(`/proc/${state.init!.pid}/uid_map`, 'utf8');
      expect(outerOf(uidMap), 'the dead owner\'s range is reused').to.equal(dead);
      expect(leaseOwner(dead!)).to.equal(name);
      expect(leaseOwner(live!)).to.equal(uniqueName('alive'));
      ok(cli(['rm', '-f', name]));
      await until('the supervisor to release the range', () => leaseOwner(dead!) === undefined);
    } finally {
      cli(['rm', '-f', name]);
      rmSync(join(LEASES, String(live)), { force: true });
      rmSync(join(LEASES, String(dead)), { force: true });
    }
  });

  it('a range chosen with --userns-range is leased too: an overlapping one is refused (125), no auto range falls in it', () => {
    const chosen = uniqueName('range-chosen');
    const slots = new Set(readdirSync(LEASES).filter((f) => /^\d+$/.test(f)).map(Number));
    // Two free slots in a row (other containers on this machine hold some meanwhile).
    const free = Array.from({ length: 100 }, (_, i) => BASE + i * SIZE).find((o) => !slots.has(o) && !slots.has(o + SIZE))!;
    try {
      // A free slot, and half of the next: an auto range would otherwise be one of these.
      ok(cli(['run', '-d', '--name', chosen, '--network', 'none', '--userns-range', `0:${free}:${SIZE + SIZE / 2}`, '--', 'sleep', '60']));
      const r = cli(['--network', 'none', '--userns-range', `0:${free + SIZE}:1000`, '--', 'true']);
      expect(r.status).to.equal(125);
      expect(r.stderr).to.equal(`ns-run: --userns-range: host ids ${free + SIZE}-${free + SIZE + 999} are container ${chosen}'s ` +
                                `(${free}-${free + SIZE + SIZE / 2 - 1}); choose another range, or leave --userns-range out\n`);
      const auto = outerOf(ok(cli(['--network', 'none', '--', 'cat', '/proc/self/uid_map'])));
      expect(auto < free || auto >= free + 2 * SIZE, `auto range ${auto} inside ${free}+${SIZE + SIZE / 2}`).to.equal(true);
    } finally {
      cli(['rm', '-f', chosen]);
    }
  });

  it('the issue\'s attack: from a nested user and cgroup namespace, the v1 pids hierarchy, into B\'s cgroup: EACCES', () => {
    const b = uniqueName('victim');
    try {
      ok(cli(['run', '-d', '--name', b, '--network', 'none', '--pids-limit', '50', '--', 'sleep', '600']));
      const payload = readState(b)!.cgroups.find((d) => d.includes('/pids/'))!;
      const before = readFileSync(join(payload, 'cgroup.procs'), 'utf8');
      // Without seccomp, as in the issue; mount and unshare are the host's (util-linux).
      const attack = `mount -t cgroup -o pids none /mnt || exit 3; d=$(find /mnt -type d -path "*ns-run-${b}-*/payload" | head -n 1); ` +
        'test -n "$d" || exit 4; echo "found"; ' +
        'for f in "$d/cgroup.procs" "$(dirname "$d")/cgroup.procs" "$d/tasks"; do if echo $$ > "$f"; then echo "moved into $f"; fi; done';
      const r = cli(['--network', 'none', '--security-opt', 'seccomp=unconfined', '--', 'unshare', '-U', '-r', '-C', '-m', 'sh', '-c', attack]);
      expect(r.stdout, r.stderr).to.equal('found\n');
      expect(r.stderr.match(/Permission denied/g) ?? []).to.have.length(3);
      expect(readFileSync(join(payload, 'cgroup.procs'), 'utf8')).to.equal(before);
      expect(ok(cli(['exec', b, 'echo', 'B is fine']))).to.equal('B is fine\n');
    } finally {
      cli(['rm', '-f', b]);
    }
  });
});

describe('ns-run hardening: a forged state file cannot make ns-run signal another process (issue 18 #6)', () => {
  for (const rootless of [false, true]) {
    it(`kill, stop and rm -f of an entry naming an ordinary process${rootless ? ' (nobody\'s)' : ''}: refused, the process lives`, async () => {
      const model = uniqueName(`forge-model${rootless ? '-rl' : ''}`);
      const forged = uniqueName(`forged${rootless ? '-rl' : ''}`);
      // A real state file's shape, from a detached container of the same user.
      ok(cli(['run', '-d', '--name', model, '--network', 'none', '--', 'sleep', '60'], { rootless }));
      const shape = JSON.parse(readFileSync(join(stateDir(rootless), 'containers', `${model}.json`), 'utf8')) as Record<string, unknown>;
      cli(['rm', '-f', model], { rootless });
      // The victim: an ordinary process of the same user, named by its true pid and pidfs inode.
      const victim = start([...(rootless ? AS_NOBODY : []), 'sleep', '60'], { raw: true });
      const pidfd = sys.pidfdOpen(victim.proc.pid!);
      const ref = { pid: victim.proc.pid!, inode: fstatSync(pidfd).ino };
      sys.closeFd(pidfd);
      const file = join(stateDir(rootless), 'containers', `${forged}.json`);
      writeFileSync(file, JSON.stringify({ ...shape, name: forged, id: 'f'.repeat(64), status: 'running', init: ref, supervisor: ref, runner: ref }), { mode: 0o600 });
      if (rootless) chownSync(file, NOBODY, NOBODY);
      try {
        for (const args of [['kill', forged], ['kill', '-s', 'TERM', forged], ['stop', '-t', '1', forged], ['rm', '-f', forged]]) {
          const r = cli(args, { rootless });
          expect(r.status, `${args.join(' ')}: ${r.stderr}`).to.not.equal(0);
          expect(r.stderr, args.join(' ')).to.match(/its recorded init \(pid \d+\) is not the init of a pid namespace of its own; refusing to signal it/);
          expect(alive(victim.proc.pid!), `${args.join(' ')} signalled the victim`).to.equal(true);
        }
      } finally {
        rmSync(file, { force: true });
        victim.proc.kill('SIGKILL');
        await victim.exit;
      }
    });
  }
});

describe('ns-run hardening: a cleanup failure is reported (issue 18 #8)', () => {
  for (const [program, code] of [['exit 0', 125], ['exit 7', 7]] as const) {
    it(`a payload cgroup kept by a child cgroup made from outside: one line naming it, exit ${code} (program: ${program})`, async () => {
      const name = uniqueName(`left${code}`);
      const c = start(['--name', name, '--network', 'none', '--pids-limit', '20', '--', 'sh', '-c', `read x; ${program}`]);
      const state = await running(name);
      const payload = state.cgroups.find((d) => d.includes('/pids/'))!;
      const top = payload.slice(0, -'/payload'.length);
      const blocker = join(payload, 'blocker');
      mkdirSync(blocker);
      try {
        c.proc.stdin!.end();
        const exit = await c.exit;
        expect(exit.code, c.stderr).to.equal(code);
        expect(c.stderr).to.equal(`ns-run: the container ended, but ${payload}, ${top} could not be removed (rmdir: EBUSY); remove them by hand\n`);
        // Everything else it had is gone: its other hierarchies' directories (named by it), its state.
        expect(snapshot(name, []).cgroups).to.deep.equal([top]);
        expect(readdirSync(payload, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)).to.deep.equal(['blocker']);
        expect(readState(name)).to.equal(undefined);
      } finally {
        for (const dir of [blocker, payload, top]) rmdirSync(dir);
      }
    });
  }
});

describe('ns-run hardening: a process of the container killed (issue 18 #7)', () => {
  // In place, ns-run's own process is the container's C supervisor (ns-supervise); its child
  // is a relay (ns-relay), whose child the container's init. Once the program is gone the
  // supervisor removes the cgroups and leases (its cleanup words), then runs its on-exit
  // command, reap-main, which records the exit and removes the state.
  const childOf = (parent: number, matches: (cmdline: string) => boolean) => childrenOf(parent).find((p) => {
    try {
      return matches(readFileSync(`/proc/${p}/cmdline`, 'utf8'));
    } catch {
      return false; // gone meanwhile
    }
  });
  /** Polls at every turn of the event loop: reap-main lives for some tens of ms (Node's start-up) before it has done anything. */
  async function caught(parent: number, what: string, matches: (cmdline: string) => boolean): Promise<number> {
    for (const end = Date.now() + 10_000; Date.now() < end;) {
      const pid = childOf(parent, matches);
      if (pid !== undefined) return pid;
      await new Promise((resolve) => setImmediate(resolve));
    }
    throw new Error(`no ${what} under ${parent} within 10 s`);
  }
  // A limit and the default network: cgroups, a subnet lease and an id range lease to lose.
  const leased = (name: string) => snapshot(name, []).stateFiles.map((f) => f.split('/').slice(-2)[0]);
  const container = (name: string, program: string) => start(['--name', name, '--pids-limit', '20', '--', 'sh', '-c', program]);

  // On a network, the supervisor's end still needs TypeScript (the network's lease): reap-main.
  const reapNet = uniqueName('reapnet');
  before(() => ok(cli(['network', 'create', reapNet])));
  after(() => ok(cli(['network', 'rm', reapNet])));
  for (let i = 0; i < 3; i++) {
    it(`SIGKILL of the supervisor's on-exit command (reap-main, on a network): ns-run exits with the program's 7, silently; cgroups and leases are gone, the state it left the next call reclaims (${i + 1} of 3)`, async () => {
      const name = uniqueName(`reapkill${i}`);
      const before = snapshot(name, []);
      const c = start(['--name', name, '--network', reapNet, '--pids-limit', '20', '--', 'sh', '-c', 'read x; exit 7']);
      await running(name);
      expect(leased(name)).to.deep.equal(['containers', 'idranges']);
      c.proc.stdin!.end();
      const reaper = await caught(c.proc.pid!, 'reap-main', (cmdline) => cmdline.includes('reap-main'));
      process.kill(reaper, 'SIGKILL');
      const exit = await c.exit;
      expect(c.stderr).to.equal('');
      expect(exit.code).to.equal(7);
      const after = snapshot(name, []);
      expect(after.cgroups).to.deep.equal([]);
      expect(after.stateFiles.filter((f) => !f.includes('/containers/'))).to.deep.equal([]);
      // Killed before it recorded anything: the supervisor's 'running' stays until another call.
      expect(readState(name)?.status, 'the state reap-main was to record and remove').to.equal('running');
      expect(ok(cli(['ps', '-a']))).to.not.include(name);
      expect(snapshot(name, [])).to.deep.equal(before);
    });
  }

  for (let i = 0; i < 3; i++) {
    it(`SIGKILL of the relay: the container ends with it, ns-run exits 137 (docker's for a killed container), silently, nothing left (${i + 1} of 3)`, async () => {
      const name = uniqueName(`relaykill${i}`);
      const before = snapshot(name, []);
      const c = container(name, 'sleep 60');
      const state = await running(name);
      const relay = childOf(c.proc.pid!, (cmdline) => cmdline.startsWith('ns-relay\0'));
      expect(relay, 'the relay').to.not.equal(undefined);
      process.kill(relay!, 'SIGKILL');
      const exit = await c.exit;
      expect(c.stderr).to.equal('');
      expect(exit.code).to.equal(137);
      expect(alive(state.program!.pid) || alive(state.init!.pid), 'the program or its init lives').to.equal(false);
      expect(snapshot(name, [])).to.deep.equal(before);
    });
  }

  it('SIGKILL of the supervisor (ns-run itself): the container dies with it; its state, cgroups and leases stay, and the next run reclaims them', async () => {
    const name = uniqueName('supkill');
    const before = snapshot(name, []);
    const c = container(name, 'sleep 60');
    const state = await running(name);
    c.proc.kill('SIGKILL');
    await c.exit;
    await until('the container to die', () => !alive(state.program!.pid) && !alive(state.init!.pid));
    const left = snapshot(name, []);
    expect(left.cgroups.length, 'cgroup directories left by the death').to.be.at.least(1);
    expect(left.stateFiles.map((f) => f.split('/').slice(-2)[0])).to.deep.equal(['containers', 'subnets', 'idranges']);
    expect(readState(name)?.status).to.equal('running');
    // A cgroup something outside still holds (a child group made in it): the reclaim of this one
    // container cannot finish; ps says so on one line, lists the rest, and the next call retries.
    const payload = [...left.cgroups].sort((a, b) => b.length - a.length)[0]!;
    mkdirSync(join(payload, 'held'));
    try {
      const listed = cli(['ps', '-a']);
      expect(listed.status, listed.stderr).to.equal(0);
      expect(listed.stdout.split('\n')[0]).to.match(/^CONTAINER ID/);
      expect(listed.stderr).to.match(new RegExp(`^ns-run ps: skipped \\S+/${name}\\.json: what the dead container ${name} left cannot be removed yet: .*EBUSY.*\n$`));
      expect(readState(name)?.status).to.equal('running');
    } finally {
      rmdirSync(join(payload, 'held'));
    }
    ok(cli(['--network', 'none', '--', 'true']));
    expect(snapshot(name, [])).to.deep.equal(before);
  });
});
