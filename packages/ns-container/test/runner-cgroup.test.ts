import { expect } from 'chai';
import { spawn as nodeSpawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { Step } from 'ns-core';
import { detectCgroupLayout, readProcessCgroups } from 'ns-cgroup';
import { containerCgroup } from '../src/runner/cgroup';

/** The cgroup lines of a process, without the named (systemd) one. */
/** A step's one parent action (a 'call'), run for `pid` as spawn() would at the sync point. */
async function runParent(step: Step, pid: number): Promise<void> {
  const action = step.parent?.[0];
  if (action?.action !== 'call') throw new Error(`${step.name}: expected one call action`);
  await action.run({ pid, pidfd: -1 });
}

const cgroupsOf = (pid: number) => readProcessCgroups(pid).filter((c) => !c.controllers.some((n) => n.startsWith('name='))).map((c) => c.path);

describe("ns-run's container cgroup (runner/cgroup.ts)", () => {
  it("makeStep makes the groups and moves nothing; step moves the init; in place the relay and the program are born in v2 and join v1 through tasks", async () => {
    const sleeper = nodeSpawn('sleep', ['30'], { stdio: 'ignore' });
    const pid = sleeper.pid!;
    const before = cgroupsOf(pid);
    const cg = containerCgroup(`nstest-runner-${process.pid}`, { pidsMax: 20 }, undefined);
    try {
      await runParent(cg.makeStep, pid);
      for (const dir of cg.all) expect(existsSync(dir), dir).to.equal(true);
      expect(cgroupsOf(pid), 'a holder is not moved').to.deep.equal(before);
      await runParent(cg.step, pid);
      const inits = cg.all.filter((d) => d.endsWith('/init'));
      for (const dir of inits) expect(readFileSync(`${dir}/cgroup.procs`, 'utf8').trim(), dir).to.equal(String(pid));
      // In place, the relay is born in init's v2 directory and the program in payload's (the
      // supervisor's and the init fork's cgroup); the v1 ones are joined by writes to tasks.
      const layout = detectCgroupLayout();
      const inV2 = (d: string) => layout.v2 !== undefined && d.startsWith(`${layout.v2.mountPoint}/`);
      expect(cg.initCgroup).to.equal(inits.find(inV2));
      expect(cg.programCgroup).to.equal(cg.payload.find(inV2));
      expect(cg.initOps.map((o) => (o.op === 'write-file' ? o.path : o.op)).sort()).to.deep.equal(
        inits.filter((d) => !inV2(d)).map((d) => `${d}/tasks`).sort());
      expect(cg.programOps.map((o) => (o.op === 'write-file' ? o.path : o.op))).to.deep.equal(
        [...cg.payload.filter((d) => !inV2(d)).map((d) => `${d}/tasks`), 'unshare']);
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise((r) => sleeper.once('exit', r));
      await cg.step.cleanup!(undefined, { execed: true });
    }
    for (const dir of cg.all) expect(existsSync(dir), dir).to.equal(false);
  });
});
