/**
 * The exec-stage ops an OCI container needs beyond the others (rlimit, umask, masked and
 * read-only paths, the exec fifo), run in the real kernel and checked from outside: by what
 * the program prints and by the host's view of the fifo.
 */
import { expect } from 'chai';
import { closeSync, mkdtempSync, openSync, read, readFileSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { programOutput } from 'ns-test-kit';
import { encodePlan, NsError, spawn, sys, type Step } from '../src/index';

const S_IFIFO = 0o010000;


/** A user namespace whose root is the caller, with a private mount namespace. */
const mapped: Step = {
  name: 'map', create: ['user', 'mnt'],
  parent: [
    { action: 'write-proc', file: 'uid_map', data: `0 ${process.getuid!()} 1\n` },
    { action: 'write-proc', file: 'setgroups', data: 'deny' },
    { action: 'write-proc', file: 'gid_map', data: `0 ${process.getgid!()} 1\n` },
  ],
  child: [{ op: 'mount', target: '/', flags: ['REC', 'PRIVATE'], phase: 'propagation' }],
};

describe('container ops', () => {
  it('rlimit sets soft and hard limits the program inherits, and umask its mask', async () => {
    const child = await spawn(['sh', '-c', 'ulimit -Sn; ulimit -Hn; ulimit -Sc; umask'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      steps: [{ name: 'limits', child: [
        { op: 'rlimit', resource: 7, soft: 321n, hard: 654n, phase: 'identity' },
        { op: 'rlimit', resource: 4, soft: 0n, hard: 0n, phase: 'identity' },
        { op: 'umask', mask: 0o027, phase: 'final' },
      ] }],
    });
    const { out, code } = await programOutput(child);
    expect(code).to.equal(0);
    expect(out.trim().split('\n')).to.deep.equal(['321', '654', '0', '0027']);
  });

  it('a hard limit above what the caller may raise to fails naming prlimit64 and EPERM', async () => {
    // This machine's root lacks CAP_SYS_RESOURCE: nofile's hard limit cannot be raised.
    const hard = BigInt(readFileSync('/proc/self/limits', 'utf8').match(/Max open files\s+\d+\s+(\d+)/)![1]!);
    let error: unknown;
    try {
      const child = await spawn(['true'], { steps: [{ name: 'limits', child: [
        { op: 'rlimit', resource: 7, soft: hard + 1n, hard: hard + 1n, phase: 'identity', step: 'process.rlimits[0]' }] }] });
      await child.exited;
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(NsError);
    expect((error as NsError).code).to.equal('EPERM');
    expect((error as NsError).syscall).to.equal('prlimit64');
    expect((error as NsError).step).to.equal('process.rlimits[0]');
  });

  it('the encoder refuses a soft limit above the hard one', () => {
    expect(() => encodePlan({ cloneKinds: [], fdFloor: 3, ops: [{ op: 'rlimit', resource: 7, soft: 10n, hard: 5n, step: 'process.rlimits[0]' }] }))
      .to.throw(/process.rlimits\[0\]: soft limit 10 is above the hard limit 5/);
  });

  it('mask-path hides a file and a directory, skips a missing path; readonly-path makes a mount read-only', async () => {
    const script = 'cat /proc/version | wc -c; test -d /proc/acpi && ls -A /proc/acpi | wc -l; touch /proc/acpi/x 2>/dev/null || echo ro-dir; ' +
      'echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null || echo ro-sys; grep -c . /proc/mounts >/dev/null && echo ok';
    const child = await spawn(['sh', '-c', script], {
      stdio: ['ignore', 'pipe', 'inherit'], create: ['pid'],
      steps: [mapped, { name: 'paths', child: [
        { op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', flags: ['NOSUID', 'NODEV', 'NOEXEC'], phase: 'after-root' },
        { op: 'mask-path', path: '/proc/version', phase: 'after-root' },
        { op: 'mask-path', path: '/proc/acpi', phase: 'after-root' },
        { op: 'mask-path', path: '/proc/no-such-entry', phase: 'after-root' },
        { op: 'readonly-path', path: '/proc/sys', phase: 'after-root' },
        { op: 'readonly-path', path: '/proc/no-such-entry', phase: 'after-root' },
      ] }],
    });
    const { out, code } = await programOutput(child);
    expect(code).to.equal(0);
    expect(out.trim().split('\n')).to.deep.equal(['0', '0', 'ro-dir', 'ro-sys', 'ok']);
  });

  describe('exec-fifo', () => {
    let dir: string;
    before(() => { dir = mkdtempSync('/tmp/nstools-test-fifo-'); });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('says it is parked, parks the program until the fifo is opened for reading, then writes one byte', async () => {
      const fifo = join(dir, 'exec.fifo');
      sys.mknod(fifo, S_IFIFO | 0o600);
      const pathFd = sys.openRaw(fifo, sys.O_PATH);
      const [readyRead, readyWrite] = sys.pipe();
      const started = spawn(['sh', '-c', 'echo started'], {
        stdio: ['ignore', 'pipe', 'inherit'], waitForExec: 'async', fds: { 5: pathFd, 6: readyWrite },
        steps: [{ name: 'park', child: [{ op: 'exec-fifo', fd: 5, ready: 6, phase: 'final' }] }],
      });
      sys.closeFd(readyWrite);
      let resolved = false;
      void started.then(() => { resolved = true; }, () => { resolved = true; });
      // The child says it is parked (one byte), then nothing more comes: EOF once it closed its end.
      const said = Buffer.alloc(2);
      expect(await new Promise<number>((res, rej) => read(readyRead, said, 0, 2, null, (e: Error | null, n: number) => (e ? rej(e) : res(n))))).to.equal(1);
      expect(said.subarray(0, 1).toString()).to.equal('1');
      sys.closeFd(readyRead);
      await new Promise((r) => setTimeout(r, 200));
      expect(resolved, 'exec before start').to.equal(false);
      const reader = openSync(fifo, 'r');
      const byte = Buffer.alloc(4);
      const n = readSync(reader, byte);
      closeSync(reader);
      closeSync(pathFd);
      expect(byte.subarray(0, n).toString()).to.equal('0');
      const { out, code } = await programOutput(await started);
      expect(code).to.equal(0);
      expect(out).to.equal('started\n');
    });
  });
});
