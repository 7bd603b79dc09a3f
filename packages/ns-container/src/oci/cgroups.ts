/**
 * A container's cgroup, as ns-run-oci's host work: made (ns-cgroup's CgroupGroup) in every
 * v1 controller hierarchy and v2, limits written, the process moved in at the sync point
 * while it waits, and everything made removed at delete.
 *
 * Nothing may be left behind if any call is SIGKILLed: what create is about to make is
 * recorded in ROOT/ID/cgroup.json *before* the first mkdir, so a delete (with or without a
 * state.json) removes exactly that, whatever became of the create.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { posix } from 'node:path';
import { NsError, type Step } from 'ns-core';
import { CgroupGroup, detectCgroupLayout, planGroupDirectories, removeRecordedGroup, startInGroupStep, type CgroupLayout } from 'ns-cgroup';
import { cgroupPathOf, groupControllers, limitsOf } from '../compile/cgroup';
import type { ContainerSpec } from '../spec';

/** ROOT/ID/cgroup.json. */
export interface RecordedCgroup {
  /** The group's path as resolved from cgroupsPath. */
  readonly path: string;
  /** Directories create makes (top first in each hierarchy): delete removes these. */
  readonly made: readonly string[];
  /** The group's own directory in each hierarchy: where processes join, and what pause freezes. */
  readonly leaves: readonly string[];
}

const RECORD = 'cgroup.json';

function writeAtomic(path: string, data: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
}

/**
 * Makes the container's group and writes its limits; records it in `stateDir` first.
 * @throws NsError naming the field for bad resources (before anything is made), or the file a write failed on (what was made is removed).
 */
export function makeContainerCgroup(stateDir: string, id: string, spec: ContainerSpec, warnings: string[], rootless: boolean): RecordedCgroup | undefined {
  const layout = detectCgroupLayout();
  const path = cgroupPathOf(spec.linux?.cgroupsPath, id);
  const limits = limitsOf(spec.linux?.resources, layout, warnings);
  const controllers = groupControllers(layout);
  const { directories, missing } = planGroupDirectories(path, layout, controllers);
  const record: RecordedCgroup = { path, made: missing, leaves: directories.map((d) => d.dir) };
  writeAtomic(posix.join(stateDir, RECORD), JSON.stringify(record));
  try {
    CgroupGroup.open(path, { layout, controllers }).setLimits(limits);
  } catch (e) {
    removeRecordedGroup(record.made, record.leaves);
    const err = NsError.from(e);
    // runc's rootless rule: a cgroup the user may not make is no error while nothing is to be
    // limited (device rules aside: a rootless container cannot mknod, nor open a host device
    // its user could not).
    if (rootless && Object.keys(limits).every((k) => k === 'devices') && ['EACCES', 'EPERM', 'EROFS'].includes(err.code)) {
      rmSync(posix.join(stateDir, RECORD), { force: true });
      return undefined;
    }
    throw new NsError({
      errno: err.errno, code: err.code, step: 'linux.cgroupsPath', ...(err.syscall ? { syscall: err.syscall } : {}), ...(err.path ? { path: err.path } : {}),
      message: `linux.cgroupsPath '${path}': ${err.message.replace(/^--cgroup-path: /, '')}`,
      ...(rootless ? { hint: 'linux.resources need a cgroup this user may write: a cgroup v2 subtree delegated to it, or root' } : {}),
    });
  }
  return record;
}

/** What a state directory says create made, if anything. */
export function recordedCgroup(stateDir: string): RecordedCgroup | undefined {
  try {
    return JSON.parse(readFileSync(posix.join(stateDir, RECORD), 'utf8')) as RecordedCgroup;
  } catch {
    return undefined;
  }
}

/** Removes what create made (and kills what is left in the group): delete's part, also for a create that died. */
export function removeContainerCgroup(stateDir: string): void {
  const record = recordedCgroup(stateDir);
  if (record) removeRecordedGroup(record.made, record.leaves);
}

/**
 * The spawn step that has the process start in the group (ns-cgroup's startInGroupStep: no
 * process moved by pid, which would wait for an RCU grace period) and then, if the spec asks
 * for a cgroup namespace, unshares it: the namespace's root is the cgroup the process is in
 * when it unshares (cgroup_namespaces(7)), so the namespace is made by the child after the
 * join rather than by clone(). `ownNamespace` tells that the caller took 'cgroup' out of the
 * kinds clone() makes.
 */
export function joinCgroupStep(record: RecordedCgroup, ownNamespace: boolean, layout: CgroupLayout = detectCgroupLayout()): Step {
  const start = startInGroupStep(record.leaves, layout, 'linux.cgroupsPath');
  return {
    ...start,
    name: 'oci cgroup',
    child: [...(start.child ?? []), ...(ownNamespace ? [{ op: 'unshare' as const, kinds: ['cgroup' as const], phase: 'namespaces' as const, step: 'cgroup namespace' }] : [])],
  };
}
