/**
 * podman drives ns-run-oci: a containers.conf of the test's own (the runtime by name in
 * [engine.runtimes], cgroupfs, the file events logger, default ulimits this machine's root can
 * grant: it lacks CAP_SYS_RESOURCE and has a 20000 open-files hard limit), a podman root and
 * runroot in a temporary directory (the host's storage untouched), and an image imported from
 * a busybox root. Checked from outside: output, exit statuses, podman's own debug log naming
 * the runtime it ran.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxRootfs, mountPoints } from 'ns-test-kit';
import { ROOT } from './cli';

const OURS = join(ROOT, 'packages/ns-run/bin/ns-run-oci');
const IMAGE = 'localhost/nstools-oci-busybox:test';

describe('podman --runtime ns-run-oci', function () {
  this.timeout(180000);
  let work: string;
  let base: string[];
  let podman: (args: readonly string[], input?: Buffer) => { status: number | null; stdout: string; stderr: string };

  before(() => {
    work = mkdtempSync(`/tmp/nstools-test-${process.pid}-podman-`);
    const rootfs = busyboxRootfs({ dir: join(work, 'rootfs') });
    writeFileSync(join(work, 'containers.conf'), [
      '[containers]', 'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
      '[engine]', 'cgroup_manager = "cgroupfs"', 'events_logger = "file"',
      '[engine.runtimes]', `ns-run-oci = ["${OURS}"]`, '',
    ].join('\n'));
    base = ['--root', join(work, 'root'), '--runroot', join(work, 'runroot'), '--storage-driver', 'vfs', '--tmpdir', join(work, 'tmp')];
    podman = (args, input) => {
      const r = spawnSync('podman', [...base, ...args], {
        encoding: 'utf8', timeout: 60000, env: { ...process.env, CONTAINERS_CONF: join(work, 'containers.conf') }, ...(input ? { input } : {}),
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const tar = spawnSync('tar', ['-C', rootfs, '-c', '.'], { maxBuffer: 64 << 20 });
    const imported = podman(['import', '-', IMAGE], tar.stdout);
    if (imported.status !== 0) throw new Error(`podman import: ${imported.stderr}`);
  });

  after(() => {
    podman(['rm', '-af']);
    podman(['rmi', '-af']);
    // podman's own mounts under its root (the vfs layers, shm) go before the directory does.
    for (const m of mountPoints().filter((p) => p.startsWith(work)).reverse()) spawnSync('umount', ['-l', m]);
    rmSync(work, { recursive: true, force: true });
  });

  it('run --rm IMAGE echo hi: the output, exit 0, through ns-run-oci (podman\'s debug log names it)', () => {
    const r = podman(['--runtime', 'ns-run-oci', '--log-level', 'debug', 'run', '--rm', IMAGE, 'echo', 'hi']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('hi\n');
    expect(r.stderr).to.include(`Using OCI runtime \\"${OURS}\\"`);
  });

  it('the program\'s exit status is podman\'s; a program not in the image is 127, as with runc', () => {
    expect(podman(['--runtime', 'ns-run-oci', 'run', '--rm', IMAGE, 'sh', '-c', 'exit 3']).status).to.equal(3);
    const missing = podman(['--runtime', 'ns-run-oci', 'run', '--rm', IMAGE, 'no-such-program']);
    expect(missing.status).to.equal(127);
    expect(missing.stderr).to.include('exec: "no-such-program": executable file not found in $PATH');
  });

  it('--hostname, podman\'s seccomp profile and ulimits reach the program', () => {
    const r = podman(['--runtime', 'ns-run-oci', 'run', '--rm', '--hostname', 'nstools-box', IMAGE, 'sh', '-c',
                      'hostname; grep Seccomp: /proc/self/status; ulimit -n; echo $$']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.split('\n').map((l) => l.replace(/\s+/g, ' '))).to.deep.equal(['nstools-box', 'Seccomp: 2', '20000', '1', '']);
  });

  it('run -d, exec (output and status), stop, rm', () => {
    const name = `nstools-oci-${process.pid}`;
    const started = podman(['--runtime', 'ns-run-oci', 'run', '-d', '--name', name, IMAGE, 'sleep', '60']);
    expect(started.status, started.stderr).to.equal(0);
    const exec = podman(['exec', name, 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "; echo; exit 5']);
    expect(exec.status, exec.stderr).to.equal(5);
    expect(exec.stdout).to.equal('sleep 60 \n');
    expect(podman(['stop', '-t', '1', name]).status).to.equal(0);
    expect(podman(['rm', name]).status).to.equal(0);
    expect(podman(['ps', '-aq']).stdout).to.equal('');
  });

  it('--memory 64m --pids-limit 50: the limits on the container\'s own cgroup, read from outside; gone after rm', () => {
    const name = `nstools-oci-limits-${process.pid}`;
    const started = podman(['--runtime', 'ns-run-oci', 'run', '-d', '--name', name, '--memory', '64m', '--pids-limit', '50', IMAGE, 'sleep', '60']);
    expect(started.status, started.stderr).to.equal(0);
    const pid = Number(podman(['inspect', '--format', '{{.State.Pid}}', name]).stdout.trim());
    const groups = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    const memory = /^\d+:memory:(.*)$/m.exec(groups)![1]!;
    const pids = /^\d+:pids:(.*)$/m.exec(groups)![1]!;
    expect(memory).to.include(started.stdout.trim());
    expect(readFileSync(`/sys/fs/cgroup/memory${memory}/memory.limit_in_bytes`, 'utf8').trim()).to.equal(String(64 << 20));
    expect(readFileSync(`/sys/fs/cgroup/pids${pids}/pids.max`, 'utf8').trim()).to.equal('50');
    // podman's default device rules: deny all, then its and the runtime's defaults
    expect(readFileSync(`/sys/fs/cgroup/devices${memory}/devices.list`, 'utf8')).to.not.include('a *:* rwm');
    expect(podman(['rm', '-f', '-t', '0', name]).status).to.equal(0);
    expect(existsSync(`/sys/fs/cgroup/memory${memory}`)).to.equal(false);
    expect(existsSync(`/sys/fs/cgroup/pids${pids}`)).to.equal(false);
    // inside, as runc shows it: its own group of each hierarchy at /sys/fs/cgroup/NAME, read-only
    const inside = podman(['--runtime', 'ns-run-oci', 'run', '--rm', '--memory', '64m', '--pids-limit', '50', IMAGE, 'sh', '-c',
                           'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; echo 1 > /sys/fs/cgroup/pids/pids.max || echo read-only']);
    expect(inside.status, inside.stderr).to.equal(0);
    expect(inside.stdout).to.equal(`${64 << 20}\n50\nread-only\n`);
  });

  it('pause and unpause: podman says paused, the program\'s freezer is FROZEN, then it runs again', () => {
    const name = `nstools-oci-pause-${process.pid}`;
    expect(podman(['--runtime', 'ns-run-oci', 'run', '-d', '--name', name, IMAGE, 'sleep', '60']).status).to.equal(0);
    const pid = Number(podman(['inspect', '--format', '{{.State.Pid}}', name]).stdout.trim());
    const freezer = () => readFileSync(`/sys/fs/cgroup/freezer${/^\d+:freezer:(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))![1]!}/freezer.state`, 'utf8').trim();
    const paused = podman(['pause', name]);
    expect(paused.status, paused.stderr).to.equal(0);
    expect(podman(['inspect', '--format', '{{.State.Status}}', name]).stdout.trim()).to.equal('paused');
    expect(freezer()).to.equal('FROZEN');
    const resumed = podman(['unpause', name]);
    expect(resumed.status, resumed.stderr).to.equal(0);
    expect(podman(['inspect', '--format', '{{.State.Status}}', name]).stdout.trim()).to.equal('running');
    expect(freezer()).to.equal('THAWED');
    expect(podman(['exec', name, 'echo', 'thawed']).stdout).to.equal('thawed\n');
    expect(podman(['rm', '-f', '-t', '0', name]).status).to.equal(0);
  });

  it('run -t (a console socket): the program\'s stdio is a pty of its own devpts; exec -t gets another', () => {
    // podman -t wants a terminal of its own: `script` gives it one.
    const inScript = (args: readonly string[]) => {
      const line = ['podman', ...base, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
      const r = spawnSync('script', ['-qec', line, '/dev/null'], { encoding: 'utf8', timeout: 60000, env: { ...process.env, CONTAINERS_CONF: join(work, 'containers.conf') } });
      return { status: r.status, stdout: r.stdout.replace(/\r/g, ''), stderr: r.stderr };
    };
    const r = inScript(['--runtime', 'ns-run-oci', 'run', '--rm', '-t', IMAGE, 'sh', '-c', 'tty; test -t 0 && test -t 2 && echo all-tty']);
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^\/dev\/pts\/\d+\nall-tty\n$/);
    const name = `nstools-oci-tty-${process.pid}`;
    expect(podman(['--runtime', 'ns-run-oci', 'run', '-d', '--name', name, IMAGE, 'sleep', '60']).status).to.equal(0);
    const e = inScript(['exec', '-t', name, 'tty']);
    expect(e.status, e.stdout + e.stderr).to.equal(0);
    expect(e.stdout).to.match(/^\/dev\/pts\/\d+\n$/);
    expect(podman(['rm', '-f', '-t', '0', name]).status).to.equal(0);
  });
});
