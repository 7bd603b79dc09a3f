/**
 * The exec-stage ops an OCI container needs beyond the others (rlimit, umask, masked and
 * read-only paths, the exec fifo), run in the real kernel and checked from outside: by what
 * the program prints and by the host's view of the fifo.
 */
import { expect } from 'chai';
import { chmodSync, closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, read, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { programOutput, rejected } from 'ns-test-kit';
import { encodePlan, Namespace, NsError, spawn, sys, type Step } from '../src/index';

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

/** A user namespace whose ids 0..65535 are host ids `outer`.., with a private mount namespace. */
function rangeMapped(outer: number): Step {
  return {
    name: 'map', create: ['user', 'mnt'],
    parent: [
      { action: 'write-proc', file: 'uid_map', data: `0 ${outer} 65536\n` },
      { action: 'write-proc', file: 'gid_map', data: `0 ${outer} 65536\n` },
    ],
    child: [{ op: 'mount', target: '/', flags: ['REC', 'PRIVATE'], phase: 'propagation' },
            { op: 'setgid', gid: 0, phase: 'propagation' }, { op: 'setuid', uid: 0, phase: 'propagation' }],
  };
}

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
    const error = await rejected(async () => (await spawn(['true'], { steps: [{ name: 'limits', child: [
      { op: 'rlimit', resource: 7, soft: hard + 1n, hard: hard + 1n, phase: 'identity', step: 'process.rlimits[0]' }] }] })).exited);
    expect(error).to.be.instanceOf(NsError).and.include({ code: 'EPERM', syscall: 'prlimit64', step: 'process.rlimits[0]' });
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

  describe('bind-tree and move-mount', function () {
    // A tree the test owns: a 0700 directory of host root's with a tmpfs below it.
    let dir: string;
    const OUTER = 1000000000 + 7 * 65536; // outside every /etc/subuid block; the test's own
    before(function () {
      if (process.getuid!() !== 0) this.skip(); // host root makes the tmpfs; this machine's tests run as root
      dir = mkdtempSync('/tmp/nstools-test-tree-');
      mkdirSync(join(dir, 'secret/m'), { recursive: true });
      chmodSync(join(dir, 'secret'), 0o700);
      sys.mount('nstools-test-tree', join(dir, 'secret/m'), 'tmpfs', 0, 'mode=0755');
      writeFileSync(join(dir, 'owned-by-root'), 'x');
    });
    after(() => {
      if (!dir) return;
      try { sys.umount2(join(dir, 'secret/m'), sys.MNT.DETACH); } catch { /* not mounted: before() failed early */ }
      rmSync(dir, { recursive: true, force: true });
    });

    it('bind-tree copies a mount below a directory the program may not search, read-only, with no lookup of its path', async () => {
      // As host uid OUTER (mapped root) the 0700 directory is closed: a bind plus a remount of
      // secret/m by path would fail with EACCES; the clone of the tree reaches it anyway.
      const script = `grep ' /mnt/t/secret/m ' /proc/self/mountinfo | cut -d' ' -f5,6; ls /mnt/t/secret 2>/dev/null || echo closed; ` +
        'touch /mnt/t/x 2>/dev/null || echo read-only';
      const child = await spawn(['sh', '-c', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
        steps: [rangeMapped(OUTER), { name: 'tree', child: [
          { op: 'mount', source: 'tmpfs', target: '/mnt', fstype: 'tmpfs', phase: 'mounts' },
          { op: 'mkdir', path: '/mnt/t', phase: 'mounts' },
          { op: 'bind-tree', source: dir, target: '/mnt/t', recursive: true, set: ['RDONLY', 'NOSUID'], phase: 'mounts' },
        ] }],
      });
      const { out, code } = await programOutput(child);
      expect(code).to.equal(0);
      const [mountLine, ...rest] = out.trim().split('\n');
      expect(mountLine!.split(' ')[0]).to.equal('/mnt/t/secret/m');
      expect(mountLine!.split(' ')[1]!.split(',')).to.include.members(['ro', 'nosuid']);
      expect(rest).to.deep.equal(['closed', 'read-only']);
    });

    it('bind-tree fails naming open_tree and the source when the source is missing', async () => {
      const error = await rejected(async () => (await spawn(['true'], { steps: [rangeMapped(OUTER), { name: 'tree', child: [
        { op: 'bind-tree', source: '/nstools-test-no-such-dir', target: '/mnt', phase: 'mounts', step: 'rootfs' }] }] })).exited);
      expect(error).to.be.instanceOf(NsError).and.include({ code: 'ENOENT', syscall: 'open_tree', path: '/nstools-test-no-such-dir' });
    });

    it('move-mount attaches an idmapped tree the parent made: host root\'s files are root\'s inside, and writes are host root\'s', async () => {
      // The mapping comes from a throwaway user namespace with the container's maps.
      const holder = await spawn(['sleep', '100'], { stdio: 'ignore', steps: [rangeMapped(OUTER)] });
      let tree: number | undefined;
      try {
        const userns = Namespace.ofPid(holder.pid, 'user');
        try {
          tree = sys.openTree(dir, false);
          sys.mountSetattr(tree, { userns: userns.fd }, dir);
        } finally {
          userns.close();
        }
      } finally {
        holder.kill('SIGKILL');
        await holder.exited;
      }
      const script = 'stat -c %u:%g /mnt/t/owned-by-root; touch /mnt/t/made-inside && echo wrote';
      const child = await spawn(['sh', '-c', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
        steps: [rangeMapped(OUTER), { name: 'tree', child: [
          { op: 'mount', source: 'tmpfs', target: '/mnt', fstype: 'tmpfs', phase: 'mounts' },
          { op: 'mkdir', path: '/mnt/t', phase: 'mounts' },
          { op: 'move-mount', fd: tree, target: '/mnt/t', phase: 'mounts' },
        ] }],
      });
      sys.closeFd(tree);
      const { out, code } = await programOutput(child);
      expect(code).to.equal(0);
      expect(out.trim().split('\n')).to.deep.equal(['0:0', 'wrote']);
      const made = lstatSync(join(dir, 'made-inside'));
      expect([made.uid, made.gid]).to.deep.equal([0, 0]);
    });

    it('the encoder refuses an attribute both set and cleared, and one that is not a mount attribute', () => {
      const plan = (op: Record<string, unknown>) => encodePlan({ cloneKinds: [], fdFloor: 3, ops: [{ op: 'bind-tree', source: '/a', target: '/b', ...op } as never] });
      expect(() => plan({ set: ['RDONLY'], clear: ['RDONLY'] })).to.throw(/both set and cleared/);
      expect(() => plan({ set: ['IDMAP'] })).to.throw(/IDMAP is not a mount attribute/);
    });
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
