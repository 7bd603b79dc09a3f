/**
 * ns-cgroup creates host state (cgroup directories) before the program runs: whether it fails
 * half-way or is interrupted by SIGINT/SIGTERM at any moment, none may be left behind. Checked
 * with the test kit's host snapshots (every cgroup directory of every hierarchy, tagged processes).
 */
import { expect } from 'chai';
import { spawn as nodeSpawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as snapshots from 'ns-test-kit';

const TAG = `nsxc${process.pid}`;
const bin = join(__dirname, '../../bin/ns-cgroup.js');

describe('ns-cgroup: nothing left behind', () => {
  it('when a deeper level cannot be made (a path through an interface file), the levels made are removed', async () => {
    const before = snapshots.hostSnapshot(TAG);
    const r = spawnSync(process.execPath, [bin, '--cgroup-path', `/${TAG}-a/b/cgroup.procs/c`, '--pids-max', '5', 'true'], { encoding: 'utf8' });
    expect(r.status).to.equal(1);
    // Made in order by the program's own process: the new parent's cgroup.procs (a kernel file) is there first.
    expect(r.stderr).to.match(/^ns-cgroup: --cgroup-path: mkdir \S*\/b\/cgroup\.procs failed: EEXIST/);
    expect(await snapshots.settledLeaks(() => snapshots.leaksSince(before, snapshots.hostSnapshot(TAG), TAG))).to.deep.equal([]);
  });

  it('SIGINT or SIGTERM at any moment of a run in a cgroup of its own', async function () {
    this.timeout(60_000);
    const before = snapshots.hostSnapshot(TAG);
    // Moments: fixed delays from the start, plus two found by watching: as soon as the group's
    // directory exists (the child waits at the sync point), and once the program runs in it.
    type When = number | 'group made' | 'program running';
    const runs: { signal: NodeJS.Signals; when: When }[] = [];
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      for (const when of [0, 50, 100, 150, 200, 250, 300, 400, 'group made', 'program running'] as const) runs.push({ signal, when });
    }
    const groupMade = (name: string) => snapshots.hostSnapshot().cgroups.some((d) => d.endsWith(`/${name}`));
    const programRunning = (name: string) => snapshots.hostSnapshot(name).tagged.length > 0;
    const ends: string[] = [];
    for (let i = 0; i < runs.length; i += 4) {
      ends.push(...await Promise.all(runs.slice(i, i + 4).map(({ signal, when }, j) => new Promise<string>((resolve) => {
        // The tag is in the group's name and is the shell's $0 (the shell stays, as sleep is not its
        // last command): a leftover of either shows.
        const name = `${TAG}-${i + j}`;
        const proc = nodeSpawn(process.execPath, [bin, '--cgroup-path', name, '--pids-max', '20', '--memory', '64M',
          '--', 'sh', '-c', 'sleep 0.3; exit 0', name], { stdio: 'ignore' });
        let ended = false;
        proc.once('exit', (code, sig) => {
          ended = true;
          resolve(`${signal}@${when}: ${sig ?? code}`);
        });
        void (async () => {
          if (typeof when === 'number') await new Promise((r) => setTimeout(r, when));
          else while (!ended && !(when === 'group made' ? groupMade(name) : programRunning(name))) await new Promise((r) => setTimeout(r, 2));
          if (!ended) proc.kill(signal);
        })();
      }))));
    }
    // Ended by the signal (forwarded to the program, or before anything was made), or normally
    // when it came after the program's end; either way the group is gone.
    for (const end of ends) expect(end).to.match(/: (SIGINT|SIGTERM|0)$/);
    expect(await snapshots.settledLeaks(() => snapshots.leaksSince(before, snapshots.hostSnapshot(TAG), TAG))).to.deep.equal([]);
  });
});
