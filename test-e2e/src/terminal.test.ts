/**
 * At a terminal: ^C reaches the foreground process group, launcher and program alike. The
 * program must see it once, as util-linux's does (it replaced unshare, or unshare's waiting
 * parent blocks SIGINT). script(1) gives each run a pseudo-terminal; the test types ^C once
 * the program is ready.
 */
import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { bin, inParallel } from './cli';
import { Target } from './fixtures';

/**
 * Reports each SIGINT with a line; after the first it listens a little longer (a second ^C
 * delivered through the launcher would arrive within milliseconds), then exits.
 */
const PROGRAM = 'trap \'echo INT; n=10\' INT; echo ready; n=100; while [ $n -gt 0 ]; do read -t 0.05 x; n=$((n-1)); done; echo end; : > "$0"';

/**
 * Runs argv on a pseudo-terminal, types ^C after "ready", returns what the terminal showed.
 * A shell that survives ^C (a trap is reset to the default in its children) stays the
 * session leader until the program is done: a launcher that dies of ^C (nsenter -p's parent)
 * would otherwise end the session and hang up on the program.
 */
let runs = 0;

function onTerminal(argv: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // The program creates `done` when it ends; the session leader waits for it (at most 10 s).
    const done = `/tmp/nse2e-tty-${process.pid}-${runs++}`;
    const command = ['sh', '-c', 'trap : INT; f=$1; shift; "$@"; n=200; while [ ! -e "$f" ] && [ $n -gt 0 ]; do sleep 0.05; n=$((n-1)); done; rm -f "$f"',
      'sh', done, ...argv, 'bash', '-c', PROGRAM, done]
      .map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
    const script = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    let typed = false;
    script.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (!typed && out.includes('ready')) {
        typed = true;
        script.stdin.write('\x03');
      }
    });
    script.on('error', reject);
    script.on('close', () => {
      script.stdin.destroy();
      resolve(out.replaceAll('\r', '').replace('^C', ''));
    });
  });
}

describe('at a terminal, ^C reaches the program once', () => {
  let target: Target;
  before(async () => {
    target = await Target.unshare('unshare', ['-upf']);
  });
  after(async () => {
    await target?.stop();
  });

  const rows: { name: string; theirs: () => string[]; ours: () => string[] }[] = [
    { name: 'unshare -U', theirs: () => ['unshare', '-U'], ours: () => [bin('ns-unshare'), '-U'] },
    { name: 'unshare -f', theirs: () => ['unshare', '-f'], ours: () => [bin('ns-unshare'), '-f'] },
    { name: 'nsenter -u', theirs: () => ['nsenter', '-t', String(target.pid), '-u'], ours: () => [bin('ns-enter'), '-t', String(target.pid), '-u'] },
    // nsenter -p forks; its waiting parent dies of the ^C, the program gets it from the terminal.
    { name: 'nsenter -p', theirs: () => ['nsenter', '-t', String(target.pid), '-p'], ours: () => [bin('ns-enter'), '-t', String(target.pid), '-p'] },
  ];
  for (const row of rows) {
    it(row.name, async () => {
      const [theirs, ours] = await inParallel([() => onTerminal(row.theirs()), () => onTerminal(row.ours())]);
      expect(theirs).to.equal('ready\nINT\nend\n');
      expect(ours).to.equal(theirs);
    });
  }
});
