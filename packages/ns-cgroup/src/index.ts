/**
 * ns-cgroup: a new cgroup namespace, optionally rooted at a cgroup of its own with memory,
 * pids and cpu limits (cgroup v2 where the controller is there, v1 hierarchies otherwise).
 */
import type { PhasedOp, Step, SuperviseCleanup } from 'ns-core';
import { CgroupGroup, planGroupDirectories, planGroupWrites, selfJoinOps, validateGroupPath } from './group';
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
export {
  CgroupGroup, addProcessTo, selfJoinOps, startInGroupStep, processesIn, groupFrozen, setGroupFrozen, hierarchiesFor, planGroupDirectories, planGroupWrites, removeGroupDirectories, removeRecordedGroup, validateGroupPath,
  type GroupDirectory, type GroupWrite, type LeftGroupDirectory, type OpenGroupOptions,
} from './group';

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

/**
 * The same as cgroup(), as data for a process that replaces its caller (execInPlace, the
 * CLI): the program's own process, past the supervisor's fork, makes the missing levels,
 * writes the limits, joins the group in every hierarchy (selfJoinOps: "0" is the writer) and then unshares its cgroup namespace. `cleanup` is the supervisor's, for
 * once the program is gone: the levels made, deepest first, whatever was left in them killed
 * (cgroup.kill). Empty when the group exists already: it is joined and kept, and nothing
 * needs to wait. Nothing is made here; the machine's layout is read.
 * @throws NsError EUSAGE for bad limits or paths; EBUSY for a limit an existing parent does not delegate.
 */
export function supervisedCgroup(options: CgroupOptions = {}): { step: Step; cleanup: SuperviseCleanup[] } {
  const limits = parseLimits(options);
  if (options.path !== undefined) validateGroupPath(options.path);
  if (options.path === undefined && Object.keys(limits).length === 0) return { step: { name: 'ns-cgroup', create: ['cgroup'] }, cleanup: [] };
  const path = options.path ?? `ns-cgroup-${process.pid}-${++groupsMade}`;
  const step = options.path !== undefined ? '--cgroup-path' : 'cgroup';
  const layout = detectCgroupLayout();
  const controllers = planLimitWrites(limits, layout).map((w) => w.controller);
  const { directories, missing } = planGroupDirectories(path, layout, controllers);
  const ops: PhasedOp[] = [
    ...missing.map((dir): PhasedOp => ({ op: 'mkdir', path: dir, mode: 0o755, phase: 'pre-namespaces', step })),
    ...planGroupWrites(directories, missing, limits, layout).map((w): PhasedOp => ({ op: 'write-file', path: w.file, data: w.value, phase: 'pre-namespaces', step: w.option })),
    ...selfJoinOps(directories.map((d) => d.dir), layout, 'pre-namespaces', step),
    // The namespace's root is the cgroup its first process is in when it unshares (cgroup_namespaces(7)).
    { op: 'unshare', kinds: ['cgroup'], phase: 'namespaces', step: 'cgroup namespace' },
  ];
  // v2 first: its cgroup.kill ends what the program left, in the v1 groups too.
  const ordered = [...directories].sort((a, b) => b.hierarchy.version - a.hierarchy.version);
  const cleanup = ordered.flatMap((d) => d.levels.filter((l) => missing.includes(l)).reverse().map((dir) => ({ rmcgroup: dir })));
  return { step: { name: 'ns-cgroup', child: ops }, cleanup };
}
