/**
 * The in-place path of the executables failing at each of its steps: a map the kernel or its
 * helper refuses, a setns target that is missing, a bind target that cannot be made, a
 * working directory or root that is missing, a program that does not exist (also past a
 * fork). Each ends with util-linux's exit status where util-linux fails the same way, one line
 * on stderr, and nothing left: no mount, no file, no stage or helper process of its session.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { hostSnapshot, leaksSince, settledLeaks, stageProcessesIn } from 'ns-test-kit';
import { bin, run, type Tool, OUR_NAME } from './cli';

const TAG = `nsxf${process.pid}`;
const asNobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

/** Runs argv as a session leader: setsid(1), not a group leader under spawnSync, calls setsid() itself, so its pid is the session's id. */
function inSession(argv: readonly string[]): { sid: number; status: number | null; stderr: string } {
  const r = spawnSync('setsid', ['--wait', ...argv], { encoding: 'utf8', timeout: 30_000, cwd: '/tmp', stdio: ['ignore', 'pipe', 'pipe'] });
  return { sid: r.pid, status: r.status, stderr: String(r.stderr) };
}

const tagged = (dir: string) => readdirSync(dir).filter((f) => f.includes(TAG)).map((f) => `file ${dir}/${f}`);

interface Case {
  readonly what: string;
  readonly tool: Tool;
  readonly args: readonly string[];
  /** The status util-linux ends with too (compared), or ours alone where util-linux fails earlier or not at all. */
  readonly status: number | { readonly ours: number };
  readonly line: RegExp;
  readonly nobody?: boolean;
}

const deadPid = (() => {
  const r = spawnSync('sh', ['-c', 'true & echo $!; wait']);
  return Number(String(r.stdout).trim());
})();

const CASES: readonly Case[] = [
  { what: 'a map its helper refuses (newuidmap, as nobody)', tool: 'unshare', args: ['-U', '--map-users=0,100000,65536', '--', 'true'], status: 1, nobody: true,
    line: /^ns-unshare: --map-users: newuidmap failed: newuidmap: .*not allowed\n$/ },
  { what: 'a setns target that is missing (a path)', tool: 'nsenter', args: [`--net=/no/such/${TAG}`, '--', 'true'], status: 1,
    line: new RegExp(`^ns-enter: open\\(net\\) /no/such/${TAG} failed: ENOENT`) },
  { what: 'a setns target that is gone (a pid)', tool: 'nsenter', args: ['-t', String(deadPid), '-n', '--', 'true'], status: 1,
    line: /^ns-enter: cannot open pid \d+: no such process\n$/ },
  { what: 'a bind target in a directory that is missing', tool: 'unshare', args: [`--net=/tmp/${TAG}-missing/net`, '--', 'true'], status: 1,
    line: new RegExp(`^ns-unshare: persist net: open /tmp/${TAG}-missing/net failed: ENOENT`) },
  { what: 'bind targets made, then the program is missing: both taken back', tool: 'unshare',
    args: [`--uts=/tmp/${TAG}-uts`, `--ipc=/tmp/${TAG}-ipc`, '--', `/no/such/${TAG}`], status: { ours: 127 },
    line: new RegExp(`^ns-unshare: failed to execute /no/such/${TAG}: ENOENT`) },
  { what: 'a missing --wd in a new mount namespace', tool: 'unshare', args: ['-m', `--wd=/no/such/${TAG}`, '--', 'true'], status: 1,
    line: new RegExp(`^ns-unshare: --wd: chdir /no/such/${TAG} failed: ENOENT`) },
  { what: 'a missing --root', tool: 'unshare', args: ['-m', `--root=/no/such/${TAG}`, '--', 'true'], status: 1,
    line: new RegExp(`^ns-unshare: --root: chroot /no/such/${TAG} failed: ENOENT`) },
  { what: 'a missing program', tool: 'unshare', args: ['-n', '--', `/no/such/${TAG}`], status: 127,
    line: new RegExp(`^ns-unshare: failed to execute /no/such/${TAG}: ENOENT`) },
  { what: 'a missing program past a fork, as PID 1 with its own /proc', tool: 'unshare', args: ['-fp', '--mount-proc', '--', `/no/such/${TAG}`], status: 127,
    line: new RegExp(`^ns-unshare: failed to execute /no/such/${TAG}: ENOENT`) },
  { what: 'a missing program in joined namespaces', tool: 'nsenter', args: ['-t', String(process.pid), '-n', '-u', '--', `/no/such/${TAG}`], status: 127,
    line: new RegExp(`^ns-enter: failed to execute /no/such/${TAG}: ENOENT`) },
  { what: 'a missing program past nsenter\'s fork into a pid namespace', tool: 'nsenter', args: ['-t', String(process.pid), '-p', '--', `/no/such/${TAG}`], status: 127,
    line: new RegExp(`^ns-enter: failed to execute /no/such/${TAG}: ENOENT`) },
  { what: 'a missing --wd after joining', tool: 'nsenter', args: ['-t', String(process.pid), '-m', `--wd=/no/such/${TAG}`, '--', 'true'], status: 1,
    line: new RegExp(`^ns-enter: --wd: open /no/such/${TAG} failed: ENOENT`) },
  { what: 'a missing --root after joining', tool: 'nsenter', args: ['-t', String(process.pid), '-m', `--root=/no/such/${TAG}`, '--', 'true'], status: 1,
    line: new RegExp(`^ns-enter: --root: open /no/such/${TAG} failed: ENOENT`) },
];

describe('the executables\' in-place path failing at each step: util-linux\'s status, one line, nothing left', () => {
  for (const c of CASES) {
    it(`${OUR_NAME[c.tool]}: ${c.what}`, async () => {
      const prefix = c.nobody ? asNobody : [];
      const before = hostSnapshot(TAG);
      const ours = inSession([...prefix, bin(OUR_NAME[c.tool]), ...c.args]);
      expect(ours.stderr).to.match(c.line);
      expect(ours.stderr.split('\n')).to.have.length(2);
      if (typeof c.status === 'number') {
        const theirs = run([...prefix, c.tool, ...c.args]);
        expect([ours.status, theirs.status], theirs.stderr).to.deep.equal([c.status, c.status]);
      } else {
        expect(ours.status).to.equal(c.status.ours);
      }
      const leaks = await settledLeaks(() => [
        ...leaksSince(before, hostSnapshot(TAG), TAG),
        ...stageProcessesIn(new Set([ours.sid])).map((p) => `stage process ${p}`),
        ...tagged('/tmp'),
      ]);
      expect(leaks, 'left behind').to.deep.equal([]);
    });
  }
});
