/**
 * Issue 18 #3: every container gets docker's masked and read-only paths and ns-core's default
 * seccomp profile (foreground, -d, in place); --security-opt seccomp=unconfined|FILE. Checked
 * from inside the container, as root and as nobody, on the host's root read-only (perl and
 * util-linux's unshare from the host make the raw syscalls).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync, chmodSync } from 'node:fs';
import { arch } from 'node:os';
import { join } from 'node:path';
import { cli, LAUNCHER, ok, removeTree, uniqueName, until } from './helpers';

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
