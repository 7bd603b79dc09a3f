/**
 * ns-run-oci's process.terminal through --console-socket, as runc does it: the engine listens
 * on a unix socket, the runtime sends the pty master there (SCM_RIGHTS) during create, and
 * what the program writes comes out of that master. The receiver is a few lines of Python
 * (Node cannot receive an fd); checked: the program's tty, its stdio on the pty, the owner.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxRootfs, waitFor } from 'ns-test-kit';
import { ROOT } from './cli';

const OURS = join(ROOT, 'packages/ns-run/bin/ns-run-oci');

const RECEIVER = `
import os, socket, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(path); s.listen(1)
open(path + '.ready', 'w').close()
c, _ = s.accept()
msg, fds, _, _ = socket.recv_fds(c, 4096, 1)
st = os.fstat(fds[0])
sys.stderr.write('fds=%d major=%d\\n' % (len(fds), os.major(st.st_rdev)))
out = b''
while True:
    try: d = os.read(fds[0], 4096)
    except OSError: break
    if not d: break
    out += d
sys.stdout.buffer.write(out)
`;

describe('ns-run-oci: process.terminal through --console-socket', function () {
  this.timeout(60000);
  let work: string;
  let root: string;

  function bundle(args: readonly string[], terminal: boolean): string {
    rmSync(join(work, 'config.json'), { force: true });
    spawnSync('runc', ['spec', '--bundle', work]);
    const spec = JSON.parse(readFileSync(join(work, 'config.json'), 'utf8'));
    spec.process.terminal = terminal;
    spec.process.args = args;
    spec.process.user = { uid: 1000, gid: 1000 };
    writeFileSync(join(work, 'config.json'), JSON.stringify(spec));
    return work;
  }

  function oci(args: readonly string[]) {
    const r = spawnSync(OURS, ['--root', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  before(() => {
    work = mkdtempSync(`/tmp/nstools-test-${process.pid}-ocicon-`);
    root = join(work, 'state');
    busyboxRootfs({ dir: join(work, 'rootfs') });
    writeFileSync(join(work, 'receiver.py'), RECEIVER);
  });
  after(() => {
    for (const id of ['con1', 'con2']) oci(['delete', '--force', id]);
    rmSync(work, { recursive: true, force: true });
  });

  it('create sends the master before it returns; start: the program\'s stdio is /dev/pts/N of its own devpts, owned by its user', async () => {
    const socketPath = join(work, 'console.sock');
    const receiver = spawn('python3', [join(work, 'receiver.py'), socketPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    receiver.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    receiver.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    await waitFor('the console socket', () => existsSync(`${socketPath}.ready`));
    bundle(['sh', '-c', 'tty; test -t 0 && test -t 1 && test -t 2 && echo all-tty; stat -c %u:%g $(tty)'], true);
    const created = oci(['create', '--bundle', work, '--console-socket', socketPath, 'con1']);
    expect(created.status, created.stderr).to.equal(0);
    expect(created.stdout).to.equal('');
    await waitFor('the master received', () => err.includes('fds=1'));
    const started = oci(['start', 'con1']);
    expect(started.status, started.stderr).to.equal(0);
    await new Promise((resolve) => receiver.once('exit', resolve));
    // the master is a pty multiplexer's end: major 5 (ptmx) or 128+ (Unix98 pty masters)
    expect(out.replace(/\r/g, '')).to.match(/^\/dev\/pts\/\d+\nall-tty\n1000:1000\n$/);
    expect(oci(['delete', 'con1']).status).to.equal(0);
  });

  it('a terminal without --console-socket, and --console-socket without a terminal, are refused as runc refuses them; nothing left', () => {
    bundle(['true'], true);
    const noSocket = oci(['create', '--bundle', work, 'con2']);
    expect(noSocket.status).to.not.equal(0);
    expect(noSocket.stderr).to.include('process.terminal: a terminal needs --console-socket');
    bundle(['true'], false);
    const noTerminal = oci(['create', '--bundle', work, '--console-socket', join(work, 'nothing.sock'), 'con2']);
    expect(noTerminal.status).to.not.equal(0);
    expect(noTerminal.stderr).to.include('--console-socket');
    bundle(['true'], true);
    const missing = oci(['create', '--bundle', work, '--console-socket', join(work, 'nothing.sock'), 'con2']);
    expect(missing.status).to.not.equal(0);
    expect(missing.stderr).to.match(/connect.*nothing\.sock.*ENOENT|ENOENT.*nothing\.sock/);
    expect(existsSync(join(root, 'con2'))).to.equal(false);
  });
});
