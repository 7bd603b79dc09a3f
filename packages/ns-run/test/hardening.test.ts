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
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { arch } from 'node:os';
import { join } from 'node:path';
import { busyboxRootfs, cli, LAUNCHER, ok, removeTree, snapshot, uniqueName, until } from './helpers';

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
    expect(bad.stderr).to.equal("ns-run: --userns: 'hots' is not host or private\n");
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
      expect(r.status === 137 || r.signal === 'SIGKILL', `${r.status}/${r.signal}`).to.equal(true);
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
