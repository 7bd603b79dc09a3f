/**
 * containerd drives ns-run-oci through its runc v2 shim, as Kubernetes does with a
 * RuntimeClass whose BinaryName is ns-run-oci: a containerd of the test's own (its --config
 * naming a root, state and socket in a temporary directory, stopped by pid after), `ctr run
 * --runc-binary` on a busybox root. Checked from outside: output, exit statuses, what ctr says
 * of a failed create (containerd reads log.json), the processes left.
 */
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxRootfs, mountPoints, waitFor } from 'ns-test-kit';
import { ROOT } from './cli';

const OURS = join(ROOT, 'packages/ns-run/bin/ns-run-oci');

/** Host pids whose command line starts with these words. */
function running(words: readonly string[]): number[] {
  const want = `${words.join('\0')}\0`;
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8') === want;
    } catch {
      return false;
    }
  }).map(Number);
}

describe('containerd (ctr, the runc v2 shim) --runc-binary ns-run-oci', function () {
  this.timeout(120000);
  let work: string;
  let rootfs: string;
  let daemon: ChildProcess;
  let ctr: (args: readonly string[]) => { status: number | null; stdout: string; stderr: string };
  const ns = `nstools-${process.pid}`;
  // Other tests on this machine run sleeps too: ours take durations no one else uses.
  const long = String(70000 + (process.pid % 10000));
  const other = String(80000 + (process.pid % 10000));

  before(async () => {
    work = mkdtempSync(`/tmp/nstools-test-${process.pid}-ctd-`);
    rootfs = busyboxRootfs({ dir: join(work, 'rootfs') });
    const sock = join(work, 'containerd.sock');
    writeFileSync(join(work, 'config.toml'), [
      'version = 2', `root = "${join(work, 'root')}"`, `state = "${join(work, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.tracing"]',
      '[grpc]', `  address = "${sock}"`, '[ttrpc]', `  address = "${sock}.ttrpc"`, '[debug]', `  address = "${sock}.debug"`, '',
    ].join('\n'));
    daemon = spawn('containerd', ['--config', join(work, 'config.toml')], { stdio: ['ignore', 'ignore', 'ignore'] });
    ctr = (args) => {
      const r = spawnSync('ctr', ['--address', sock, '--namespace', ns, ...args], { encoding: 'utf8', timeout: 60000, stdio: ['ignore', 'pipe', 'pipe'] });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    await waitFor('containerd serving', () => existsSync(sock) && ctr(['version']).status === 0, 20000);
  });

  after(async () => {
    for (const line of ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['task', 'kill', '-s', 'SIGKILL', line]);
    for (const line of ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['task', 'rm', '-f', line]);
    for (const line of ctr(['container', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['container', 'rm', line]);
    // The shim keeps runc's state in /run/containerd/runc/NAMESPACE whatever containerd's own
    // --state: a container a failed test left there is reclaimed by our delete --force.
    const shimRoot = `/run/containerd/runc/${ns}`;
    for (const id of existsSync(shimRoot) ? readdirSync(shimRoot) : []) spawnSync(OURS, ['--root', shimRoot, 'delete', '--force', id], { stdio: 'ignore' });
    rmSync(shimRoot, { recursive: true, force: true });
    daemon.kill('SIGTERM');
    await new Promise((resolve) => (daemon.exitCode !== null ? resolve(undefined) : daemon.once('exit', resolve)));
    for (const m of mountPoints().filter((p) => p.startsWith(work)).reverse()) spawnSync('umount', ['-l', m]);
    rmSync(work, { recursive: true, force: true });
  });

  it('ctr run --rm --rootfs: the program\'s output and exit status; nothing left', () => {
    const r = ctr(['run', '--rm', '--runc-binary', OURS, '--rootfs', rootfs, 'c1', 'sh', '-c', 'echo hi; exit 3']);
    expect(r.status, r.stderr).to.equal(3);
    expect(r.stdout).to.equal('hi\n');
    expect(ctr(['container', 'ls', '-q']).stdout).to.equal('');
  });

  it('ctr run -d, task exec (output, status), exec -d then kill --exec-id SIGKILL ends the program itself, task kill, rm', async () => {
    const r = ctr(['run', '-d', '--runc-binary', OURS, '--rootfs', rootfs, 'c2', 'sleep', long]);
    expect(r.status, r.stderr).to.equal(0);
    const exec = ctr(['task', 'exec', '--exec-id', 'e1', 'c2', 'sh', '-c', 'tr "\\0" " " < /proc/1/cmdline; echo; exit 4']);
    expect(exec.status, exec.stderr).to.equal(4);
    expect(exec.stdout).to.equal(`sleep ${long} \n`);
    // The pid the shim was given is the one it signals: the program's own, or SIGKILL would end only a helper.
    expect(ctr(['task', 'exec', '-d', '--exec-id', 'e2', 'c2', 'sleep', other]).status).to.equal(0);
    await waitFor('the exec\'d sleep running', () => running(['sleep', other]).length === 1);
    const killed = ctr(['task', 'kill', '--exec-id', 'e2', '-s', 'SIGKILL', 'c2']);
    expect(killed.status, killed.stderr).to.equal(0);
    await waitFor('the exec\'d sleep gone', () => running(['sleep', other]).length === 0, 5000);
    const ps = ctr(['task', 'ps', 'c2']);
    expect(ps.status, ps.stderr).to.equal(0);
    expect(ps.stdout.trim().split('\n').length, ps.stdout).to.equal(2);
    // sleep as PID 1 of its namespace has no default action for SIGTERM (pid_namespaces(7)), with runc as here
    expect(ctr(['task', 'kill', '-s', 'SIGKILL', 'c2']).status).to.equal(0);
    await waitFor('c2 stopped', () => /STOPPED/.test(ctr(['task', 'ls']).stdout));
    expect(ctr(['task', 'rm', 'c2']).status).to.equal(0);
    expect(ctr(['container', 'rm', 'c2']).status).to.equal(0);
    expect(running(['sleep', long])).to.deep.equal([]);
  });

  it('a failing create: ctr\'s error is ns-run-oci\'s message, as the shim read it from log.json', () => {
    const r = ctr(['run', '--rm', '--runc-binary', OURS, '--rootfs', rootfs, 'c3', 'no-such-program']);
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.include('OCI runtime create failed');
    expect(r.stderr).to.include('exec: "no-such-program": executable file not found in $PATH');
    expect(ctr(['container', 'ls', '-q']).stdout).to.equal('');
    expect(existsSync(`/run/containerd/runc/${ns}`) ? readdirSync(`/run/containerd/runc/${ns}`) : [], 'state the shim\'s runtime left').to.deep.equal([]);
  });
});
