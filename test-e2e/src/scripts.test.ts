/**
 * Tried as a new user would: scripts written for util-linux, run unchanged but for
 * `sed -e s/unshare/ns-unshare/g -e s/nsenter/ns-enter/g`, with our tools first on PATH.
 * Each script's output is compared with the original's (times and pids masked).
 */
import { spawnSync } from 'node:child_process';
import { expect } from 'chai';
import { BIN_DIR, inParallel, runAsync, type Ran } from './cli';
import { NOBODY, Scratch, asUser } from './fixtures';

interface Script {
  readonly name: string;
  readonly text: (dir: string) => string;
  readonly nobody?: boolean;
  readonly normalize?: (out: string) => string;
  /** What the original must print, so a script that does nothing cannot pass. */
  readonly shows: RegExp;
}

const maskPs = (s: string) => s.replace(/\d\d:\d\d(:\d\d)?/g, 'T');

const SCRIPTS: Script[] = [
  {
    name: 'the README line: a root shell with its own pids',
    text: () => 'unshare --user --map-root-user --pid --fork --mount-proc ps -ef',
    nobody: true, normalize: maskPs, shows: /^UID\s+PID\s+PPID.*\nroot\s+1\s+0\s.*ps -ef\n$/,
  },
  {
    name: 'loopback in a private network namespace',
    text: () => `unshare -r -n sh -c 'ip link set lo up && ip -o -4 addr show lo | awk "{ print \\$4 }"'`,
    nobody: true, shows: /^127\.0\.0\.1\/8\n$/,
  },
  {
    name: 'a hostname that stays inside',
    text: () => 'unshare --uts sh -c "hostname isolated; hostname"; hostname',
    shows: /^isolated\n(?!isolated)\S+\n$/,
  },
  {
    name: 'a tmpfs only the namespace sees',
    text: (d) => `mkdir -p ${d}/m; unshare -m sh -c 'mount -t tmpfs none ${d}/m && touch ${d}/m/inside && ls ${d}/m'; ls ${d}/m; echo done`,
    shows: /^inside\ndone\n$/,
  },
  {
    name: 'persist a uts namespace, enter it later, release it',
    text: (d) => [
      `touch ${d}/uts`,
      `unshare --uts=${d}/uts hostname persisted`,
      `nsenter --uts=${d}/uts hostname`,
      `umount ${d}/uts`,
      `nsenter --uts=${d}/uts hostname 2>/dev/null || echo released`,
    ].join('\n'),
    shows: /^persisted\nreleased\n$/,
  },
  {
    name: 'start a container-ish process, nsenter -t PID -a into it, stop it',
    text: (d) => [
      `unshare --fork --pid --mount-proc --uts --ipc --net sh -c 'hostname box; touch ${d}/up; while [ ! -e ${d}/stop ]; do sleep 0.05; done' &`,
      'launcher=$!',
      `while [ ! -e ${d}/up ]; do sleep 0.05; done`,
      'pid=$(pgrep -P $launcher)',
      `nsenter -t "$pid" -a sh -c 'hostname; ps -o pid=,comm= | head -1; ip -o link | cut -d: -f2'`,
      `touch ${d}/stop`,
      'wait $launcher; echo "exit $?"',
    ].join('\n'),
    shows: /^box\n\s*1 sh\n lo\nexit 0\n$/,
  },
  {
    name: 'a log fd opened by the script reaches the program',
    text: (d) => `exec 7>${d}/log; unshare -r sh -c 'echo inside >&7'; nsenter -t $$ -u sh -c 'echo entered >&7'; cat ${d}/log`,
    shows: /^inside\nentered\n$/,
  },
  {
    name: 'nsenter with no program runs $SHELL',
    text: () => `echo 'hostname' | SHELL=/bin/sh nsenter -t $$ -u`,
    shows: /^\S+\n$/,
  },
  {
    // The pattern: without --fork the program *is* $!, in the new namespaces.
    name: 'the program is $!: a background unshare without --fork, entered by nsenter -t $!',
    text: (d) => [
      `unshare -u -n -- sh -c 'hostname inplace; touch ${d}/up; exec sleep 60' &`,
      `while [ ! -e ${d}/up ] || [ "$(cat /proc/$!/comm)" != sleep ]; do sleep 0.05; done`,
      'nsenter -t $! -u hostname',
      '[ "$(readlink /proc/$!/ns/net)" != "$(readlink /proc/$$/ns/net)" ] && echo "own netns"',
      'kill $!; wait $! 2>/dev/null; echo "exit $?"',
    ].join('\n'),
    shows: /^inplace\nown netns\nexit 143\n$/,
  },
  {
    name: 'the program is $!: a background nsenter without -p',
    text: (d) => [
      `nsenter -t $$ -u -- sh -c 'touch ${d}/up; exec sleep 60' &`,
      `while [ ! -e ${d}/up ] || [ "$(cat /proc/$!/comm)" != sleep ]; do sleep 0.05; done`,
      '[ "$(readlink /proc/$!/ns/uts)" = "$(readlink /proc/$$/ns/uts)" ] && echo "same uts"',
      'grep -c . /proc/$!/task/$!/children || echo "no children"',
      'kill $!; wait $! 2>/dev/null; echo "exit $?"',
    ].join('\n'),
    shows: /^same uts\n0\nno children\nexit 143\n$/,
  },
  {
    name: 'no program: $SHELL as a login shell ($0 is -sh), for unshare and nsenter',
    text: () => `echo 'echo $0' | SHELL=/bin/sh unshare -u; echo 'echo $0' | SHELL=/bin/sh nsenter -t $$ -u`,
    shows: /^-sh\n-sh\n$/,
  },
  {
    name: 'exit statuses and a shell default',
    text: () => `unshare -r sh -c 'exit 7'; echo "status $?"; echo 'echo from \\$SHELL' | SHELL=/bin/sh unshare -r; echo "status $?"`,
    shows: /^status 7\nfrom \$SHELL\nstatus 0\n$/,
  },
];

describe('scripts written for util-linux, run with the ns- names', () => {
  let scratch: Scratch;
  let results: { theirs: Ran; ours: Ran; oursText: string }[];

  before(async () => {
    scratch = new Scratch('scripts');
    results = await inParallel(SCRIPTS.map((s, i) => async () => {
      const text = s.text(`${scratch.dir}/${i}`);
      spawnSync('mkdir', ['-p', `${scratch.dir}/${i}`, `${scratch.dir}/${i}o`]);
      const oursText = spawnSync('sed', ['-e', 's/unshare/ns-unshare/g', '-e', 's/nsenter/ns-enter/g'],
        { input: s.text(`${scratch.dir}/${i}o`), encoding: 'utf8' }).stdout;
      const wrap = (argv: string[]) => (s.nobody ? asUser(NOBODY, NOBODY, argv) : argv);
      const [theirs, ours] = await Promise.all([
        runAsync(wrap(['sh', '-c', text]), { cwd: '/' }),
        runAsync(wrap(['sh', '-c', oursText]), { cwd: '/', env: { ...process.env, PATH: `${BIN_DIR}:${process.env['PATH']}` } }),
      ]);
      return { theirs, ours, oursText };
    }), 3);
  });
  after(() => {
    scratch?.remove();
  });

  SCRIPTS.forEach((s, i) => {
    it(`${s.name}${s.nobody ? ' (as nobody)' : ''}`, () => {
      const { theirs, ours, oursText } = results[i]!;
      const norm = s.normalize ?? ((x: string) => x);
      const mask = (x: string) => norm(x).replaceAll(`${scratch.dir}/${i}o`, 'DIR').replaceAll(`${scratch.dir}/${i}`, 'DIR');
      expect(oursText, 'sed changed the tool names').to.match(/ns-(unshare|enter)/);
      expect(theirs.stderr, 'util-linux stderr').to.equal('');
      expect(theirs.stdout, 'util-linux').to.match(s.shows);
      expect(mask(ours.stderr), 'ns- stderr').to.equal(mask(theirs.stderr));
      expect(mask(ours.stdout), 'ns- output').to.equal(mask(theirs.stdout));
      expect(ours.status).to.equal(theirs.status);
    });
  });
});
