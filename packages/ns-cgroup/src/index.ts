/**
 * ns-cgroup: a new cgroup namespace, optionally rooted at a cgroup of its own with memory,
 * pids and cpu limits (cgroup v2 where the controller is there, v1 hierarchies otherwise).
 */
import type { Step } from 'ns-core';
import { CgroupGroup, validateGroupPath } from './group';
import { parseLimits, planLimitWrites, type CgroupLimits } from './limits';
import { detectCgroupLayout } from './layout';

export {
  detectCgroupLayout, parseCgroupMounts, parseProcCgroup, readProcessCgroups, cgroupIn, hierarchyFor, directoryOf,
  type CgroupHierarchy, type CgroupLayout, type ProcessCgroup,
} from './layout';
export {
  parseLimits, parseBytes, parsePidsMax, parseCpus, planLimitWrites, CPU_PERIOD_US, MIN_CPU_QUOTA_US,
  type CgroupLimits, type ParsedLimits, type LimitWrite,
} from './limits';
export { CgroupGroup, hierarchiesFor, validateGroupPath, type GroupDirectory, type OpenGroupOptions } from './group';

export interface CgroupOptions extends CgroupLimits {
  /**
   * The cgroup to run in: joined if it exists, else created and removed once the program and
   * anything it left in the group are gone. Relative paths are under the caller's own cgroup
   * in each hierarchy; '/a/b' starts at the hierarchy's root. Limits without a path get a
   * fresh group named after our pid.
   */
  readonly path?: string;
}

let groupsMade = 0;

/**
 * Setup step: a new cgroup namespace. With a path or limits, the child waits while the parent
 * opens the group, writes the limits and moves the child in, and only then unshares its
 * cgroup namespace: the namespace's root is the cgroup a process is in when it unshares
 * (cgroup_namespaces(7)), so the program sees its group as '/'.
 * @throws NsError EUSAGE for bad limits or paths, before anything is created.
 */
export function cgroup(options: CgroupOptions = {}): Step {
  const limits = parseLimits(options);
  if (options.path !== undefined) validateGroupPath(options.path);
  if (options.path === undefined && Object.keys(limits).length === 0) return { name: 'ns-cgroup', create: ['cgroup'] };
  const path = options.path ?? `ns-cgroup-${process.pid}-${++groupsMade}`;
  let group: CgroupGroup | undefined;
  return {
    name: 'ns-cgroup',
    child: [{ op: 'unshare', kinds: ['cgroup'], phase: 'namespaces', step: 'cgroup namespace' }],
    parent: [{
      action: 'call',
      step: options.path !== undefined ? '--cgroup-path' : 'cgroup',
      run: ({ pid }) => {
        const layout = detectCgroupLayout();
        const controllers = planLimitWrites(limits, layout).map((w) => w.controller);
        group = CgroupGroup.open(path, { layout, controllers });
        group.setLimits(limits);
        group.addProcess(pid);
      },
    }],
    cleanup: async () => {
      const made = group;
      group = undefined;
      await made?.remove({ killLeftovers: true });
    },
  };
}
