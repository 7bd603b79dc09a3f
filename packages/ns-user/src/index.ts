/**
 * ns-user: user namespaces. uid/gid maps (single ids, ranges, /etc/subuid blocks through the
 * setuid newuidmap/newgidmap), the setgroups policy, ambient capabilities, and the ids the
 * program runs as.
 */
import type { ParentAction, PhasedOp, Step } from 'ns-core/exec/plan';
import { formatIdMap, idMapHelperArgs } from './maps';
import { planUserNamespace, processContext, type IdMapPlan, type UserContext, type UserOptions, type UserPlan } from './plan';

export {
  parseMapRange, parseIdMap, formatIdMap, validateIdMap, withSingleMapping, readIdMap, idMapHelperArgs,
  MAX_ID, MAX_MAP_LINES, type IdKind, type IdRange, type SourcedRange,
} from './maps';
export {
  readSubordinateIds, subordinateIdsOf, parseSubordinateIds, resolveId, userName,
  SUBUID_FILE, SUBGID_FILE, type SubordinateRange, type SubordinateFile, type SubordinateFileProblem,
} from './accounts';
export {
  planUserNamespace, processContext, setgroupsPolicy, singleGidMapNeedsSetgroupsDeny, labelOf,
  type LabelledOption, type UserOptions, type UserContext, type UserPlan, type IdMapPlan, type RangeSpec, type MapWriter,
} from './plan';

function mapAction(kind: 'uid' | 'gid', map: IdMapPlan): ParentAction {
  if (map.writer === 'direct') return { action: 'write-proc', file: `${kind}_map`, data: formatIdMap(map.ranges), step: map.option };
  return { action: 'run', argv: [`new${kind}map`, '{pid}', ...idMapHelperArgs(map.ranges)], step: map.option };
}

/**
 * Kernel ordering rule: "deny" may be written to /proc/PID/setgroups only while gid_map is
 * still unwritten (user_namespaces(7), Linux 3.19), so the policy goes first, then the maps.
 */
export function mapWritingActions(plan: UserPlan): ParentAction[] {
  const actions: ParentAction[] = [];
  if (plan.setgroups) actions.push({ action: 'write-proc', file: 'setgroups', data: plan.setgroups, step: plan.labels.setgroups });
  if (plan.uidMap) actions.push(mapAction('uid', plan.uidMap));
  if (plan.gidMap) actions.push(mapAction('gid', plan.gidMap));
  return actions;
}

/**
 * --owner: the ids change before the namespace exists, so the new user namespace (and every
 * other one made with it, by unshare in the child) belongs to that user. Groups first: after
 * setuid we could no longer change them.
 */
function ownerOps(owner: { uid: number; gid: number }, step: string): PhasedOp[] {
  return [
    { op: 'setgroups', gids: [], phase: 'pre-namespaces', step },
    { op: 'setgid', gid: owner.gid, phase: 'pre-namespaces', step },
    { op: 'setuid', uid: owner.uid, phase: 'pre-namespaces', step },
  ];
}

/** -G/-S/--keep-caps: last before exec, as util-linux does, groups before ids before caps. */
function identityOps(plan: UserPlan): PhasedOp[] {
  const ops: PhasedOp[] = [];
  if (plan.setgid !== undefined) {
    // With setgroups denied the kernel refuses setgroups(2) outright (EPERM), and there is no
    // list to drop: the outer groups stay, unmapped. util-linux fails here; we skip the call.
    if (plan.setgroups !== 'deny') ops.push({ op: 'setgroups', gids: [], phase: 'identity', step: plan.labels.setgid });
    ops.push({ op: 'setgid', gid: plan.setgid, phase: 'identity', step: plan.labels.setgid });
  }
  if (plan.setuid !== undefined) ops.push({ op: 'setuid', uid: plan.setuid, phase: 'identity', step: plan.labels.setuid });
  // Ambient capabilities survive execve(2) for a non-setuid program (capabilities(7)).
  if (plan.keepCaps) ops.push({ op: 'ambient-all', phase: 'identity', step: plan.labels.keepCaps });
  return ops;
}

/**
 * Kernel rule (user_namespaces(7)): a process in a new user namespace may write a one-line map
 * of its own euid into it, and of its own egid once setgroups is denied. That is how util-linux
 * writes -r/-c maps; doing it in the child spares a round trip to the parent. Anything else
 * (ranges, helpers, --owner, whose ids change first) is written by the parent.
 */
export function childCanWriteMaps(plan: UserPlan): boolean {
  if (plan.owner) return false;
  const single = (m: IdMapPlan | undefined) => !m || (m.singleOnly && m.writer === 'direct' && m.ranges.length === 1 && m.ranges[0]!.count === 1);
  return single(plan.uidMap) && single(plan.gidMap) && (!plan.gidMap || plan.setgroups === 'deny');
}

/** The same writes as mapWritingActions, done by the child in its own /proc/self. */
function childMapOps(plan: UserPlan): PhasedOp[] {
  const ops: PhasedOp[] = [];
  if (plan.setgroups) ops.push({ op: 'write-file', path: '/proc/self/setgroups', data: plan.setgroups, phase: 'namespaces', step: plan.labels.setgroups });
  if (plan.uidMap) ops.push({ op: 'write-file', path: '/proc/self/uid_map', data: formatIdMap(plan.uidMap.ranges), phase: 'namespaces', step: plan.uidMap.option });
  if (plan.gidMap) ops.push({ op: 'write-file', path: '/proc/self/gid_map', data: formatIdMap(plan.gidMap.ranges), phase: 'namespaces', step: plan.gidMap.option });
  return ops;
}

/** The setup step for a planned user namespace. */
export function userStep(plan: UserPlan): Step {
  const byChild = childCanWriteMaps(plan);
  return {
    name: 'ns-user',
    create: ['user'],
    ...(plan.owner ? { createInChild: true } : {}),
    child: [...(plan.owner ? ownerOps(plan.owner, plan.labels.owner) : []), ...(byChild ? childMapOps(plan) : []), ...identityOps(plan)],
    parent: byChild ? [] : mapWritingActions(plan),
  };
}

/**
 * Setup step: a new user namespace with the maps and ids the options ask for, e.g.
 * `user({ mapRoot: true })` (like `unshare -r`). Validates everything before returning.
 * @throws NsError EUSAGE for bad input; ENOENT when a needed newuidmap/newgidmap is missing.
 */
export function user(options: UserOptions = {}, context: UserContext = processContext()): Step {
  return userStep(planUserNamespace(options, context));
}
