/**
 * The container's cgroup: ns-cgroup's group, made while the child waits, with the limits
 * written and the child moved in before it unshares its cgroup namespace (so the container
 * sees its group as '/', cgroup_namespaces(7)). Unlike ns-cgroup's cgroup() step, the runner
 * needs the group's directories: the janitor must know them before they exist, and `exec`
 * joins them later.
 */
import { NsError, type Step } from 'ns-core';
import {
  CgroupGroup, cgroupIn, detectCgroupLayout, directoryOf, hierarchiesFor, parseLimits, planLimitWrites, readProcessCgroups,
  type CgroupLimits,
} from 'ns-cgroup';

export interface ContainerCgroup {
  readonly step: Step;
  /** The group's directories once made (one per hierarchy). */
  readonly directories: () => readonly string[];
}

/**
 * A group `path` (one component, relative to the runner's own cgroup in each hierarchy, so
 * the container stays within every limit the runner is under) with the limits. `announce`
 * gets the directories before any is created.
 * @throws NsError EUSAGE for bad limits, before anything exists.
 */
export function containerCgroup(path: string, limits: CgroupLimits, announce: (dirs: readonly string[]) => void): ContainerCgroup {
  const parsed = parseLimits(limits);
  let group: CgroupGroup | undefined;
  const step: Step = {
    name: 'ns-run cgroup',
    child: [{ op: 'unshare', kinds: ['cgroup'], phase: 'namespaces', step: 'cgroup namespace' }],
    parent: [{
      action: 'call', step: 'cgroup',
      run: ({ pid }) => {
        const layout = detectCgroupLayout();
        const controllers = planLimitWrites(parsed, layout).map((w) => w.controller);
        const own = readProcessCgroups('self');
        announce(hierarchiesFor(layout, controllers).map((h) => {
          const base = cgroupIn(own, h);
          if (base === undefined) throw new NsError({ errno: 2, code: 'ENOENT', path: h.mountPoint, message: `cgroup: the runner has no cgroup in ${h.mountPoint}` });
          return directoryOf(h, `${base.replace(/\/+$/, '')}/${path}`);
        }));
        group = CgroupGroup.open(path, { layout, controllers });
        group.setLimits(parsed);
        group.addProcess(pid);
      },
    }],
    cleanup: async () => {
      const made = group;
      group = undefined;
      await made?.remove({ killLeftovers: true });
    },
  };
  return { step, directories: () => group?.directories.map((d) => d.dir) ?? [] };
}
