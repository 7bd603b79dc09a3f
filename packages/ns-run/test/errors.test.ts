/**
 * docker's exit codes and one-line errors (issue 13's "Bad input", issue 18 #1): 125 for
 * ns-run's own errors, each naming the option as typed, 126 when the program cannot be
 * executed, 127 when it is not found, otherwise the program's own status; --env-file read by
 * ns-run alone, never by Node.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from 'ns-test-kit';
import { busyboxRootfs, cli, LAUNCHER, removeTree } from './helpers';

let rootfs: string;
const scratch = scratchDir(`ns-run-test-${process.pid}-errors`);

before(() => {
  rootfs = busyboxRootfs();
  writeFileSync(join(scratch(), 'file'), 'not a directory\n');
});

after(() => removeTree(rootfs));

describe('ns-run: exit codes and errors as docker', () => {
  const cases: [string, () => string[], RegExp][] = [
    ['--pids-limit 0 names --pids-limit', () => ['--pids-limit', '0', '--', 'true'], /^ns-run: --pids-limit: '0' is not a positive number/],
    ['--memory below 6M is refused', () => ['--memory', '1M', '--', 'true'], /^ns-run: --memory: '1M' is below the minimum of 6M/],
    ['--cpus names --cpus', () => ['--cpus', 'x', '--', 'true'], /^ns-run: --cpus: 'x' is not a number of CPUs/],
    ['a --rootfs that is a file', () => ['--rootfs', join(scratch(), 'file'), '--', 'true'], /^ns-run: --rootfs: \S+\/file is not a directory$/],
    ['--rootfs /', () => ['--rootfs', '/', '--', 'true'], /^ns-run: --rootfs: \/ is the host's \/; leave --rootfs out/],
    ['--rootfs /tmp/.. (the host\'s / by another name)', () => ['--rootfs', '/tmp/..', '--', 'true'], /^ns-run: --rootfs: \/tmp\/\.\. is the host's \//],
    ['a missing --rootfs', () => ['--rootfs', join(scratch(), 'none'), '--', 'true'], /^ns-run: --rootfs: stat \S+\/none failed: ENOENT/],
    ['--env-file /dev/zero', () => ['--env-file', '/dev/zero', '--', 'true'], /^ns-run: --env-file: \/dev\/zero is not a regular file$/],
    ['--env-file of a missing file', () => ['--env-file', join(scratch(), 'none'), '--', 'true'], /^ns-run: --env-file: open \S+ failed: ENOENT/],
  ];
  for (const [title, args, message] of cases) {
    it(`125 for ${title}`, () => {
      const r = cli(['--network', 'none', ...args()]);
      expect(r.stderr.split('\n')[0]).to.match(message);
      expect(r.status, r.stderr).to.equal(125);
    });
  }

  it('125 for an unknown command word, which is never run as a program', () => {
    const r = cli(['no-such-verb', 'x']);
    expect(r.stderr.split('\n')[0]).to.match(/^ns-run: unknown command 'no-such-verb'/);
    expect(r.status).to.equal(125);
  });

  it('--tmpfs DEST:size=...,mode=... as docker: the size is the mount\'s limit; bad options are 125', () => {
    const r = cli(['--network', 'none', '--rootfs', rootfs, '--tmpfs', '/data:size=1m,mode=700', '--', 'sh', '-c',
      'grep " /data " /proc/mounts | cut -d" " -f4; stat -c %a /data; dd if=/dev/zero of=/data/f bs=1k count=2000 2>/dev/null || echo full']);
    expect(r.stdout.split('\n')[0]).to.match(/(^|,)size=1024k(,|$)/);
    expect(r.stdout.split('\n').slice(1)).to.deep.equal(['700', 'full', '']);
    const bad = cli(['--network', 'none', '--rootfs', rootfs, '--tmpfs', '/x:bogus', '--', 'true']);
    expect([bad.status, bad.stderr.split('\n')[0]]).to.deep.equal([125, "ns-run: --tmpfs: 'bogus' in '/x:bogus' is not size=N[k|m|g], mode=OCTAL, ro, rw, noexec, exec, nosuid or nodev"]);
  });

  it('125 for --env-file of a FIFO, without waiting for a writer', () => {
    const fifo = join(scratch(), 'fifo');
    spawnSync('mkfifo', [fifo]);
    const r = cli(['--network', 'none', '--env-file', fifo, '--', 'true']);
    expect(r.stderr).to.match(/^ns-run: --env-file: \S+\/fifo is not a regular file\n$/);
    expect(r.status).to.equal(125);
  });

  it('125 for an --env-file larger than 1 MiB', () => {
    const big = join(scratch(), 'big');
    writeFileSync(big, `A=${'x'.repeat(1024 * 1024)}\n`);
    const r = cli(['--network', 'none', '--env-file', big, '--', 'true']);
    expect(r.stderr).to.match(/^ns-run: --env-file: \S+\/big is larger than 1048576 bytes\n$/);
    expect(r.status).to.equal(125);
  });

  it('127 when the root lacks the program, saying where it looked', () => {
    const r = cli(['--network', 'none', '--rootfs', rootfs, 'no-such-program']);
    expect(r.stderr).to.equal(`ns-run: failed to execute no-such-program: not found in --rootfs ${rootfs} ` +
      '(PATH /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)\n');
    expect(r.status).to.equal(127);
    expect(cli(['--network', 'none', '--rootfs', rootfs, '/bin/none']).status).to.equal(127);
  });

  it('126 when the program cannot be executed', () => {
    const r = cli(['--network', 'none', '--rootfs', rootfs, '/etc/passwd']);
    expect(r.stderr).to.match(/^ns-run: failed to execute \/etc\/passwd: EACCES/);
    expect(r.status).to.equal(126);
  });

  it('the program\'s own status otherwise, 1 and 125 included', () => {
    for (const code of [1, 3, 125, 126]) {
      expect(cli(['--network', 'none', '--rootfs', rootfs, 'sh', '-c', `exit ${code}`]).status).to.equal(code);
    }
  });

  it('--env-file is read by ns-run: a NODE_OPTIONS line only sets the program\'s environment (issue 18 #1)', () => {
    const marker = join(scratch(), 'evil-ran');
    const evil = join(scratch(), 'evil.js');
    writeFileSync(evil, `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\n`);
    const envFile = join(scratch(), 'env');
    writeFileSync(envFile, `# a comment\nGREETING=hi there\nNODE_OPTIONS=--require=${evil}\n`);
    for (const form of [['--env-file', envFile], [`--env-file=${envFile}`]]) {
      const r = spawnSync(LAUNCHER, [...form, '--network', 'none', '--', 'sh', '-c', 'echo "$GREETING|$NODE_OPTIONS"'], { encoding: 'utf8' });
      expect(r.stderr).to.equal('');
      expect(r.stdout).to.equal(`hi there|--require=${evil}\n`);
      expect(r.status).to.equal(0);
      expect(existsSync(marker), 'the NODE_OPTIONS line ran code in the runner').to.equal(false);
    }
  });
});
