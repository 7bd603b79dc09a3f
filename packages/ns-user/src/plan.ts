/**
 * From ns-user options to a user-namespace plan: the final uid/gid maps, who writes them
 * (the kernel directly, or the setuid newuidmap/newgidmap), the setgroups policy, and the
 * identity changes around the unshare. Pure but for the context it is given, so tests can
 * plan as any user without privileges.
 */
import { accessSync, constants as fsConstants } from 'node:fs';
import { delimiter } from 'node:path';
import { NsError, usageError } from 'ns-core/errors';
import { parseDecimal } from 'ns-core/numbers';
import { readTextFile, resolveId, subordinateIdsOf, SUBGID_FILE, SUBUID_FILE, userName, type SubordinateRange } from './accounts';
import { formatIdMap, MAX_ID, MAX_MAP_BYTES, parseIdMap, parseMapRange, validateIdMap, withSingleMapping,
         type IdKind, type IdRange, type SourcedRange } from './maps';

/** A block of ids for --map-users/--map-groups, or one of util-linux's keywords. */
export type RangeSpec = string | IdRange | 'auto' | 'subids' | 'all';

export interface UserOptions {
  /** -r: map the caller's euid/egid to 0 (the same as mapUser: 0, mapGroup: 0). */
  readonly mapRoot?: boolean;
  /** -c: map the caller's euid/egid to themselves. */
  readonly mapCurrent?: boolean;
  /** --map-user: the id (or name) the caller's euid has inside. */
  readonly mapUser?: number | string;
  /** --map-group: the id (or name) the caller's egid has inside. */
  readonly mapGroup?: number | string;
  /** --map-users: ranges ('inner:outer:count'), 'auto', 'subids' or 'all'. */
  readonly mapUsers?: readonly RangeSpec[];
  readonly mapGroups?: readonly RangeSpec[];
  /** --map-auto: mapUsers and mapGroups 'auto'. */
  readonly mapAuto?: boolean;
  /** --map-subids: mapUsers and mapGroups 'subids'. */
  readonly mapSubids?: boolean;
  /** --setgroups: whether setgroups(2) may be used inside. */
  readonly setgroups?: 'allow' | 'deny';
  /** --keep-caps: the program keeps its capabilities as ambient ones across exec. */
  readonly keepCaps?: boolean;
  /** --owner: a privileged caller creates the namespace as this user (it owns it). */
  readonly owner?: { readonly uid: number; readonly gid: number } | string;
  /** -S: setuid inside before exec. */
  readonly setuid?: number | string;
  /** -G: setgroups([]) and setgid inside before exec. */
  readonly setgid?: number | string;
  /**
   * How the caller's users name each option, for messages and error steps: unshare's flag
   * names by default; the container runner says `--userns-range` where unshare says `--map-users`.
   */
  readonly labels?: Partial<Readonly<Record<LabelledOption, string>>>;
}

/** Options whose name appears in messages. */
export type LabelledOption = 'mapRoot' | 'mapCurrent' | 'mapUser' | 'mapGroup' | 'mapUsers' | 'mapGroups' | 'setgroups' | 'owner' | 'setuid' | 'setgid';

/** util-linux unshare(1)'s names, which ns-user's CLI shares. */
const UTIL_LINUX_LABELS: Readonly<Record<LabelledOption, string>> = {
  mapRoot: '--map-root-user', mapCurrent: '--map-current-user', mapUser: '--map-user', mapGroup: '--map-group',
  mapUsers: '--map-users', mapGroups: '--map-groups', setgroups: '--setgroups', owner: '--owner', setuid: '--setuid', setgid: '--setgid',
};

/** The label the caller uses for an option. */
export function labelOf(options: Pick<UserOptions, 'labels'>, option: LabelledOption): string {
  return options.labels?.[option] ?? UTIL_LINUX_LABELS[option];
}

/** Who is asking, and where ids come from: the real process and /etc by default. */
export interface UserContext {
  readonly euid: number;
  readonly egid: number;
  /** May write any map directly (CAP_SETUID/CAP_SETGID in the parent namespace): euid 0, as util-linux decides. */
  readonly privileged: boolean;
  readonly readFile: (path: string) => string;
  /** Finds a helper program (newuidmap) or returns undefined. */
  readonly findProgram: (name: string) => string | undefined;
}

function findInPath(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    const candidate = `${dir || '.'}/${name}`;
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not in this directory: keep looking, as execvp(3) does
    }
  }
  return undefined;
}

export function processContext(): UserContext {
  const euid = process.geteuid!();
  return {
    euid, egid: process.getegid!(), privileged: euid === 0,
    readFile: readTextFile, findProgram: findInPath,
  };
}

/** How one map reaches the kernel. */
export type MapWriter = 'direct' | 'helper';

export interface IdMapPlan {
  readonly ranges: readonly IdRange[];
  readonly writer: MapWriter;
  /** Only the caller's own id, from -r/-c/--map-user/--map-group: the map util-linux writes itself. */
  readonly singleOnly: boolean;
  /** The option that asked for it, for messages. */
  readonly option: string;
}

export interface UserPlan {
  readonly uidMap?: IdMapPlan;
  readonly gidMap?: IdMapPlan;
  readonly setgroups?: 'allow' | 'deny';
  readonly owner?: { readonly uid: number; readonly gid: number };
  readonly setuid?: number;
  readonly setgid?: number;
  readonly keepCaps: boolean;
  /** The caller's names for the options, for the steps' error labels. */
  readonly labels: Readonly<Record<LabelledOption | 'keepCaps', string>>;
}

function parseIdValue(value: number | string, option: string): number {
  const text = String(value);
  const id = parseDecimal(text, MAX_ID);
  if (id === undefined) throw usageError(`${option}: '${text}' is not a valid id`);
  return id;
}

function parseOwner(value: NonNullable<UserOptions['owner']>, label: string): { uid: number; gid: number } {
  if (typeof value !== 'string') {
    return { uid: parseIdValue(value.uid, label), gid: parseIdValue(value.gid, label) };
  }
  const m = /^(\d+):(\d+)$/.exec(value);
  if (!m) throw usageError(`${label}: '${value}' is not UID:GID`);
  return { uid: parseIdValue(m[1]!, label), gid: parseIdValue(m[2]!, label) };
}

/** The first block /etc/subuid (or subgid) gives the caller, as util-linux's `auto` and `subids` use. */
function firstSubordinateBlock(kind: IdKind, ctx: UserContext, option: string, keyword: string): SubordinateRange {
  const file = kind === 'uid' ? SUBUID_FILE : SUBGID_FILE;
  let name: string | undefined;
  let blocks: SubordinateRange[];
  try {
    name = userName(ctx.euid, ctx.readFile);
    blocks = subordinateIdsOf(ctx.readFile(file), { uid: ctx.euid, name }, file);
  } catch (e) {
    throw NsError.from(e).withStep(`${option}: '${keyword}'`);
  }
  if (!blocks[0]) throw usageError(`${option}: '${keyword}': no line for user ${name ?? ctx.euid} (uid ${ctx.euid}) in ${file}`);
  return blocks[0];
}

function expandRangeSpecs(kind: IdKind, specs: readonly RangeSpec[], option: string, ctx: UserContext): SourcedRange[] {
  const out: SourcedRange[] = [];
  for (const spec of specs) {
    if (typeof spec === 'object') {
      out.push({ ...spec, option, text: `${spec.inner}:${spec.outer}:${spec.count}` });
    } else if (spec === 'auto' || spec === 'subids') {
      const b = firstSubordinateBlock(kind, ctx, option, spec);
      out.push({ inner: spec === 'auto' ? 0 : b.start, outer: b.start, count: b.count, option, text: spec });
    } else if (spec === 'all') {
      // Pass every id of the parent namespace through unchanged: a copy of our own map.
      const own = parseIdMap(ctx.readFile(`/proc/self/${kind}_map`));
      out.push(...own.map((r) => ({ inner: r.inner, outer: r.inner, count: r.count, option, text: 'all' })));
    } else {
      out.push(parseMapRange(spec, option));
    }
  }
  return out;
}

/**
 * Outer ids must be mapped in the caller's own namespace or the kernel answers EPERM
 * (user_namespaces(7), rule 3); checking first lets the message name the range.
 */
function checkOuterIdsMapped(kind: IdKind, ranges: readonly SourcedRange[], ctx: UserContext): void {
  let parent: IdRange[];
  try {
    parent = parseIdMap(ctx.readFile(`/proc/self/${kind}_map`));
  } catch (e) {
    // A kernel without user namespaces has no map to compare with; its own check still applies.
    if ((e as { code?: string }).code === 'ENOENT') return;
    throw e;
  }
  for (const r of ranges) {
    let next = r.outer;
    const end = r.outer + r.count;
    while (next < end) {
      const cover = parent.find((p) => next >= p.inner && next < p.inner + p.count);
      if (!cover) {
        throw usageError(`${r.option}: '${r.text}': outer ${kind} ${next} is not mapped in the current user namespace`);
      }
      next = cover.inner + cover.count;
    }
  }
}

/**
 * Kernel rule (user_namespaces(7), since Linux 3.19): an unprivileged process may write a
 * gid_map only after it has written "deny" to /proc/PID/setgroups, so a namespace made by
 * an unprivileged user can never drop a group the user was kept out by. util-linux applies
 * it to every single-id group map it writes itself (-r, -c, --map-group) and refuses
 * --setgroups=allow with them; helper-written and privileged range maps keep what was asked.
 */
export function singleGidMapNeedsSetgroupsDeny(gidMap: IdMapPlan | undefined, owner: boolean): boolean {
  return gidMap !== undefined && gidMap.singleOnly && !owner;
}

/** The setgroups policy to write, or undefined to leave the kernel's default ("allow"). */
export function setgroupsPolicy(asked: 'allow' | 'deny' | undefined, gidMap: IdMapPlan | undefined, owner: boolean,
                                label = UTIL_LINUX_LABELS.setgroups): 'allow' | 'deny' | undefined {
  if (!singleGidMapNeedsSetgroupsDeny(gidMap, owner)) return asked;
  if (asked === 'allow') {
    throw usageError(`${label}: 'allow' cannot be combined with ${gidMap!.option}: a single group mapping needs setgroups denied`);
  }
  return 'deny';
}

function planMap(kind: IdKind, single: number | undefined, singleOption: string, specs: readonly RangeSpec[],
                 rangeOption: string, outerOfSingle: number, ctx: UserContext, owner: boolean): IdMapPlan | undefined {
  const ranges = expandRangeSpecs(kind, specs, rangeOption, ctx);
  if (ranges.length === 0 && single === undefined) return undefined;
  validateIdMap(ranges);
  let all = ranges;
  if (single !== undefined) {
    all = withSingleMapping(ranges, { inner: single, outer: outerOfSingle, count: 1, option: singleOption, text: String(single) });
  }
  validateIdMap(all);
  checkOuterIdsMapped(kind, ranges, ctx);
  // One line mapping our own id is what an unprivileged writer may do itself; anything more
  // needs CAP_SET[UG]ID in the parent namespace, or the setuid helper checking /etc/sub[ug]id.
  const helperNeeded = ranges.length > 0 || owner;
  const writer: MapWriter = ctx.privileged || !helperNeeded ? 'direct' : 'helper';
  const text = formatIdMap(all);
  if (writer === 'direct' && Buffer.byteLength(text) > MAX_MAP_BYTES) {
    throw usageError(`${ranges.length ? rangeOption : singleOption}: the map is ${Buffer.byteLength(text)} bytes, more than the kernel takes in one write`);
  }
  return { ranges: all.map(({ inner, outer, count }) => ({ inner, outer, count })), writer,
           singleOnly: ranges.length === 0, option: ranges.length ? rangeOption : singleOption };
}

/**
 * Resolves options into the maps and ids to apply.
 * @throws NsError EUSAGE for bad syntax, overlaps, unknown names, conflicting options.
 */
export function planUserNamespace(options: UserOptions, ctx: UserContext = processContext()): UserPlan {
  const label = (option: LabelledOption) => labelOf(options, option);
  if (options.mapRoot && options.mapCurrent) {
    throw usageError(`${label('mapRoot')}: cannot be combined with ${label('mapCurrent')}`);
  }
  const uidSpecs: RangeSpec[] = [...(options.mapUsers ?? [])];
  const gidSpecs: RangeSpec[] = [...(options.mapGroups ?? [])];
  if (options.mapAuto) { uidSpecs.push('auto'); gidSpecs.push('auto'); }
  if (options.mapSubids) { uidSpecs.push('subids'); gidSpecs.push('subids'); }

  const defaultInner = (own: number) => (options.mapRoot ? 0 : options.mapCurrent ? own : undefined);
  const singleUid = options.mapUser !== undefined ? resolveId('uid', options.mapUser, label('mapUser'), ctx.readFile) : defaultInner(ctx.euid);
  const singleGid = options.mapGroup !== undefined ? resolveId('gid', options.mapGroup, label('mapGroup'), ctx.readFile) : defaultInner(ctx.egid);
  const uidSingleOption = label(options.mapUser !== undefined ? 'mapUser' : options.mapRoot ? 'mapRoot' : 'mapCurrent');
  const gidSingleOption = label(options.mapGroup !== undefined ? 'mapGroup' : options.mapRoot ? 'mapRoot' : 'mapCurrent');

  const owner = options.owner !== undefined ? parseOwner(options.owner, label('owner')) : undefined;
  if (owner && !ctx.privileged) throw usageError(`${label('owner')}: creating a namespace for another user needs root (euid is ${ctx.euid})`);

  const uidMap = planMap('uid', singleUid, uidSingleOption, uidSpecs, label('mapUsers'), ctx.euid, ctx, owner !== undefined);
  const gidMap = planMap('gid', singleGid, gidSingleOption, gidSpecs, label('mapGroups'), ctx.egid, ctx, owner !== undefined);
  for (const [m, helper] of [[uidMap, 'newuidmap'], [gidMap, 'newgidmap']] as const) {
    if (m?.writer === 'helper' && !ctx.findProgram(helper)) {
      throw new NsError({ errno: 2, code: 'ENOENT', path: helper,
                          message: `${m.option}: ${helper} not found in PATH (it comes with the uidmap package)` });
    }
  }
  const setgroups = setgroupsPolicy(options.setgroups, gidMap, owner !== undefined, label('setgroups'));
  return {
    ...(uidMap ? { uidMap } : {}),
    ...(gidMap ? { gidMap } : {}),
    ...(setgroups ? { setgroups } : {}),
    ...(owner ? { owner } : {}),
    ...(options.setuid !== undefined ? { setuid: parseIdValue(options.setuid, label('setuid')) } : {}),
    ...(options.setgid !== undefined ? { setgid: parseIdValue(options.setgid, label('setgid')) } : {}),
    keepCaps: options.keepCaps ?? false,
    labels: { ...UTIL_LINUX_LABELS, keepCaps: '--keep-caps', ...options.labels },
  };
}
