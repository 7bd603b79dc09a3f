/**
 * config.json's `process` and user namespace as exec-stage ops: the maps (written from
 * outside), ids, groups, capabilities (all five sets), rlimits, umask, oomScoreAdj,
 * noNewPrivileges and seccomp, in the order the kernel needs them.
 */
import { compileCached, defaultSeccompProfile, seccomp, type LinuxSeccomp, type ParentAction, type PhasedOp, type Step } from 'ns-core';
import { formatIdMap, idMapHelperArgs, type IdRange } from 'ns-user';
import { CAPABILITY_NAMES, namesOf as capabilityNames } from '../runner/caps';
import type { ContainerSpec, SpecCapabilities, SpecIdMapping } from '../spec';
import { RLIMITS, specError } from './validate';

const PR_SET_KEEPCAPS = 8;
const PR_SET_NO_NEW_PRIVS = 38;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_RAISE = 2;
/** OCI's numbers are uint64; JSON numbers at or past 2^64-1 mean RLIM_INFINITY. */
const RLIM_INFINITY = (1n << 64n) - 1n;

export interface ProcessContext {
  /** Whether this runtime runs as the host's root (maps written directly) or not (newuidmap, or a single own id). */
  readonly rootless: boolean;
  /** The caller's own ids (a rootless runtime may map exactly these without a helper). */
  readonly uid: number;
  readonly gid: number;
  /** An O_PATH fd of the exec fifo, as the child will have it: the program waits on it before execve. */
  readonly execFifoFd?: number;
  readonly execReadyFd?: number;
  /** compileCached's directory for linux.seccomp (none: compiled each time). */
  readonly seccompCacheDir?: string;
}

const rangesOf = (maps: readonly SpecIdMapping[]): IdRange[] => maps.map((m) => ({ inner: m.containerID, outer: m.hostID, count: m.size }));
const maps = (ranges: readonly IdRange[], id: number) => ranges.some((r) => id >= r.inner && id < r.inner + r.count);

/**
 * The writes that give a new user namespace its maps, from outside (user_namespaces(7)):
 * the host's root writes any map; anyone else only a map of their own id (with setgroups
 * denied first for the gid map), or through the setuid newuidmap/newgidmap.
 */
export function mapActions(uidMap: readonly IdRange[], gidMap: readonly IdRange[], ctx: ProcessContext): { actions: ParentAction[]; setgroups: boolean } {
  if (!ctx.rootless) {
    return { actions: [
      { action: 'write-proc', file: 'uid_map', data: formatIdMap(uidMap), step: 'linux.uidMappings' },
      { action: 'write-proc', file: 'gid_map', data: formatIdMap(gidMap), step: 'linux.gidMappings' },
    ], setgroups: true };
  }
  const own = (ranges: readonly IdRange[], id: number) => ranges.length === 1 && ranges[0]!.outer === id && ranges[0]!.count === 1;
  if (own(uidMap, ctx.uid) && own(gidMap, ctx.gid)) {
    return { actions: [
      { action: 'write-proc', file: 'uid_map', data: formatIdMap(uidMap), step: 'linux.uidMappings' },
      { action: 'write-proc', file: 'setgroups', data: 'deny', step: 'linux.gidMappings' },
      { action: 'write-proc', file: 'gid_map', data: formatIdMap(gidMap), step: 'linux.gidMappings' },
    ], setgroups: false };
  }
  return { actions: [
    { action: 'run', argv: ['newuidmap', '{pid}', ...idMapHelperArgs(uidMap)], step: 'linux.uidMappings' },
    { action: 'run', argv: ['newgidmap', '{pid}', ...idMapHelperArgs(gidMap)], step: 'linux.gidMappings' },
  ], setgroups: true };
}

/** A capability set by OCI names; names this kernel's list lacks are warnings (config.md: MUST be logged). */
function capabilityMask(field: string, names: readonly string[] | undefined, warnings: string[]): bigint {
  let mask = 0n;
  for (const name of names ?? []) {
    const index = (CAPABILITY_NAMES as readonly string[]).indexOf(name.replace(/^CAP_/, ''));
    if (!name.startsWith('CAP_') || index < 0) warnings.push(`${field}: unknown capability '${name}' ignored`);
    else mask |= 1n << BigInt(index);
  }
  return mask;
}

interface CapabilitySets {
  readonly bounding: bigint; readonly effective: bigint; readonly permitted: bigint; readonly inheritable: bigint; readonly ambient: bigint;
}

function capabilitySets(caps: SpecCapabilities, warnings: string[]): CapabilitySets {
  const f = 'process.capabilities';
  return {
    bounding: capabilityMask(`${f}.bounding`, caps.bounding, warnings),
    effective: capabilityMask(`${f}.effective`, caps.effective, warnings),
    permitted: capabilityMask(`${f}.permitted`, caps.permitted, warnings),
    inheritable: capabilityMask(`${f}.inheritable`, caps.inheritable, warnings),
    ambient: capabilityMask(`${f}.ambient`, caps.ambient, warnings),
  };
}

function rlimitValue(v: number): bigint {
  return v >= 2 ** 64 - 1 ? RLIM_INFINITY : BigInt(v);
}

/**
 * The steps for the user namespace and the process. Kernel ordering rules:
 * - right after the maps exist the child becomes the namespace's root (setresuid(0)), so the
 *   mounts and directories it makes belong to an id the namespace maps (else EOVERFLOW);
 * - rlimits and the bounding set while still privileged, then groups, gid, uid (after setuid a
 *   process can change neither), with PR_SET_KEEPCAPS so a non-zero uid keeps its permitted set;
 * - capset, then ambient raises (they need the capability permitted and inheritable: prctl(2));
 * - no_new_privs and the seccomp filter last (ns-core's seccomp step orders the filter).
 */
export function processSteps(spec: ContainerSpec, ctx: ProcessContext, warnings: string[]): Step[] {
  const p = spec.process!;
  const linux = spec.linux ?? {};
  const userns = (linux.namespaces ?? []).find((n) => n.type === 'user');
  const newUserns = userns !== undefined && userns.path === undefined;
  const ops: PhasedOp[] = [];
  const steps: Step[] = [];
  let setgroups = true;
  if (newUserns) {
    const uidMap = rangesOf(linux.uidMappings!);
    const gidMap = rangesOf(linux.gidMappings!);
    const written = mapActions(uidMap, gidMap, ctx);
    setgroups = written.setgroups;
    steps.push({ name: 'oci user namespace', parent: written.actions });
    if (maps(uidMap, 0) && maps(gidMap, 0)) {
      if (setgroups) ops.push({ op: 'setgroups', gids: [], phase: 'namespaces', step: 'root inside' });
      ops.push({ op: 'setgid', gid: 0, phase: 'namespaces', step: 'root inside' }, { op: 'setuid', uid: 0, phase: 'namespaces', step: 'root inside' });
    }
    if (!maps(uidMap, p.user.uid)) throw specError('process.user.uid', `${p.user.uid} is not mapped by linux.uidMappings`);
    if (!maps(gidMap, p.user.gid)) throw specError('process.user.gid', `${p.user.gid} is not mapped by linux.gidMappings`);
  }
  if (p.oomScoreAdj !== undefined) ops.push({ op: 'write-file', path: '/proc/self/oom_score_adj', data: String(p.oomScoreAdj), phase: 'namespaces', step: 'process.oomScoreAdj' });
  if (spec.hostname !== undefined) ops.push({ op: 'sethostname', name: spec.hostname, phase: 'namespaces', step: 'hostname' });
  if (spec.domainname !== undefined) ops.push({ op: 'setdomainname', name: spec.domainname, phase: 'namespaces', step: 'domainname' });

  for (const [i, r] of (p.rlimits ?? []).entries()) {
    ops.push({ op: 'rlimit', resource: RLIMITS[r.type]!, soft: rlimitValue(r.soft), hard: rlimitValue(r.hard), phase: 'identity', step: `process.rlimits[${i}]` });
  }
  const caps = p.capabilities ? capabilitySets(p.capabilities, warnings) : undefined;
  if (caps) ops.push({ op: 'bounding-keep', keep: caps.bounding, phase: 'identity', step: 'process.capabilities.bounding' });
  const groups = p.user.additionalGids ?? [];
  if (setgroups) ops.push({ op: 'setgroups', gids: groups, phase: 'identity', step: 'process.user.additionalGids' });
  else if (groups.length) throw specError('process.user.additionalGids', 'a rootless single-id gid map denies setgroups(2): use newgidmap ranges (more than one id)');
  if (caps && p.user.uid !== 0) ops.push({ op: 'prctl', option: PR_SET_KEEPCAPS, args: [1], phase: 'identity', step: 'process.capabilities' });
  ops.push({ op: 'setgid', gid: p.user.gid, phase: 'identity', step: 'process.user.gid' });
  ops.push({ op: 'setuid', uid: p.user.uid, phase: 'identity', step: 'process.user.uid' });
  if (caps) {
    ops.push({ op: 'capset', effective: caps.effective, permitted: caps.permitted, inheritable: caps.inheritable, phase: 'final', step: 'process.capabilities' });
    // prctl(2): an ambient capability must be permitted and inheritable, else EPERM. runc warns
    // and goes on (runc spec's own default lists ambient caps without inheritable ones): so do we.
    const raisable = caps.ambient & caps.permitted & caps.inheritable;
    const refused = caps.ambient & ~raisable;
    if (refused) warnings.push(`process.capabilities.ambient: ${capabilityNames(refused).join(', ')} not raised (an ambient capability must be permitted and inheritable)`);
    for (let bit = 0n; raisable >> bit; bit++) {
      if ((raisable >> bit) & 1n) ops.push({ op: 'prctl', option: PR_CAP_AMBIENT, args: [PR_CAP_AMBIENT_RAISE, Number(bit)], phase: 'final', step: 'process.capabilities.ambient' });
    }
  }
  if (p.user.umask !== undefined) ops.push({ op: 'umask', mask: p.user.umask, phase: 'final', step: 'process.user.umask' });
  if (ctx.execFifoFd !== undefined) ops.push({ op: 'exec-fifo', fd: ctx.execFifoFd, ...(ctx.execReadyFd !== undefined ? { ready: ctx.execReadyFd } : {}), phase: 'final', step: 'exec.fifo' });
  const filter = linux.seccomp;
  if (!filter && p.noNewPrivileges) ops.push({ op: 'prctl', option: PR_SET_NO_NEW_PRIVS, args: [1], phase: 'final', step: 'process.noNewPrivileges' });
  steps.push({ name: 'oci process', child: ops });
  if (filter) {
    // Without noNewPrivileges the kernel takes the filter only with CAP_SYS_ADMIN: before the ids change, as runc loads it.
    const compiled = ctx.seccompCacheDir !== undefined ? compileCached(filter as LinuxSeccomp, {}, { dir: ctx.seccompCacheDir }) : filter as LinuxSeccomp;
    steps.push(seccomp(compiled, { requires: p.noNewPrivileges ? 'no-new-privs' : 'cap-sys-admin' }));
  }
  return steps;
}

/** nstools' default seccomp profile as config.json's linux.seccomp, for a spec made without one. */
export function defaultSeccomp(): LinuxSeccomp {
  return defaultSeccompProfile();
}
