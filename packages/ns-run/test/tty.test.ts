/**
 * -t and -it (issue 13): the program's terminal is a pty of its own in the container's devpts
 * (`tty` names /dev/pts/N), sized as the caller's, relayed by the C supervisor; with -i what is
 * typed reaches it, ^C included (once), and the caller's terminal mode comes back. Run under
 * script(1), which gives ns-run a terminal as a user's shell would.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { busyboxRootfs, LAUNCHER, removeTree, until } from './helpers';

let rootfs: string;

before(() => {
  rootfs = busyboxRootfs();
});

after(() => removeTree(rootfs));

/** `command` under `script -qec`, with `dialogue` typing as the output asks for it. */
async function underScript(command: string, dialogue: (out: () => string, type: (s: string) => void) => Promise<void>): Promise<{ out: string; code: number | null }> {
  const p = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  const code = new Promise<number | null>((resolve) => p.on('exit', (c) => resolve(c)));
  try {
    await dialogue(() => out, (s) => p.stdin!.write(s));
    p.stdin!.end();
    return { out: out.replace(/\r\n/g, '\n'), code: await code };
  } finally {
    p.kill('SIGKILL');
  }
}

const field = (out: string, k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(out)?.[1];

describe('ns-run -t / -it', () => {
  it('-t: tty is /dev/pts/N of the container\'s own devpts, sized as ours; the exit status is the program\'s', async () => {
    const r = await underScript(`stty rows 21 cols 71; echo "outer=$(tty)"; echo "before=$(stty -g)"; ` +
      `${LAUNCHER} -t --network none --rootfs ${rootfs} -- sh -c 'echo "tty=$(tty)"; echo "size=$(stty size)"; ls /dev/pts | tr "\\n" " "; echo; exit 3'; ` +
      'echo "rc=$?"; echo "after=$(stty -g)"', async (out) => { await until('the end', () => out().includes('after=')); });
    expect(field(r.out, 'tty')).to.match(/^\/dev\/pts\/\d+$/);
    expect(field(r.out, 'size')).to.equal('21 71');
    expect(r.out).to.match(/^0 ptmx $/m); // a devpts of its own: its one pty
    expect(field(r.out, 'rc')).to.equal('3');
    expect(field(r.out, 'after')).to.equal(field(r.out, 'before'));
  });

  it('-t rootless (as nobody): the same pty of its own', async () => {
    const r = await underScript(`setpriv --reuid=65534 --regid=65534 --clear-groups ${LAUNCHER} -t --rootfs ${rootfs} -- ` +
      `sh -c 'echo "tty=$(tty)"; echo "uid=$(id -u)"; exit 2'; echo "rc=$?"`, async (out) => { await until('the end', () => out().includes('rc=')); });
    expect(field(r.out, 'tty')).to.match(/^\/dev\/pts\/\d+$/);
    expect(field(r.out, 'uid')).to.equal('0');
    expect(field(r.out, 'rc')).to.equal('2');
  });

  it('-it: what is typed reaches the program; ^C reaches it once', async () => {
    const r = await underScript(`${LAUNCHER} -it --network none --rootfs ${rootfs} -- sh -c ` +
      `'trap "echo got-INT" INT; echo ready; while ! read line; do :; done; echo "read=$line"; exit 4'; echo "rc=$?"`, async (out, type) => {
      await until('the program', () => out().includes('ready'));
      type('\x03');
      await until('the signal', () => out().includes('got-INT'));
      type('typed words\r');
      await until('the end', () => /rc=/.test(out()));
    });
    expect(r.out.match(/got-INT/g)).to.have.length(1);
    expect(r.out).to.match(/^read=typed words$/m);
    expect(field(r.out, 'rc')).to.equal('4');
  });

  it('-it sh: an interactive shell with job control (no "can\'t access tty")', async () => {
    const r = await underScript(`${LAUNCHER} -it --network none --rootfs ${rootfs} -- sh; echo "rc=$?"`, async (out, type) => {
      await until('the prompt', () => out().includes('# '));
      type('sleep 30 &\r');
      type('jobs; echo "tty=$(tty)"\r');
      await until('jobs', () => out().includes('tty='));
      type('kill %1; exit 6\r');
      await until('the end', () => /rc=/.test(out()));
    });
    expect(r.out).to.not.include('can\'t access tty');
    expect(r.out).to.match(/\[1\]\+ +Running +sleep 30/);
    expect(field(r.out, 'tty')).to.match(/^\/dev\/pts\/\d+$/);
    expect(field(r.out, 'rc')).to.equal('6');
  });
});
