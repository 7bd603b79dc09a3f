/**
 * Where cgroups live on this machine: the v2 (unified) mount and any v1 hierarchies, from
 * /proc/self/mountinfo, which controllers each one has, and which cgroup a process is in.
 * Machines differ: pure v2, hybrid (v1 controllers plus a controller-less v2 mount, as
 * systemd's "hybrid" mode), or v1 only. Parsing is pure; reading is separate.
 */
import { NsError, readText } from 'ns-core';

export interface CgroupHierarchy {
  readonly version: 1 | 2;
  /** Where it is mounted in our mount namespace. */
  readonly mountPoint: string;
  /** The cgroup the mount shows at mountPoint (mountinfo's root field): '/' unless bind-mounted or namespaced. */
  readonly root: string;
  /**
   * v1: the controllers bound to it ('name=systemd' for a named hierarchy). v2: the
   * controllers its root offers (cgroup.controllers), empty when v1 holds them all.
   */
  readonly controllers: readonly string[];
}

export interface CgroupLayout {
  readonly v2?: CgroupHierarchy;
  readonly v1: readonly CgroupHierarchy[];
}

/** mountinfo escapes space, tab, newline and backslash as \ooo (proc(5)). */
function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * The cgroup mounts in mountinfo text. `knownControllers` (from /proc/cgroups) tells v1
 * controller names from mount options in the super-block options; v2 controllers come from
 * `v2Controllers` (the root's cgroup.controllers). The first mount of each hierarchy wins.
 */
export function parseCgroupMounts(mountinfo: string, knownControllers: readonly string[],
                                  v2Controllers: (mountPoint: string) => readonly string[]): CgroupLayout {
  const known = new Set(knownControllers);
  let v2: CgroupHierarchy | undefined;
  const v1: CgroupHierarchy[] = [];
  for (const line of mountinfo.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const fields = line.slice(0, dash).split(' ');
    const [fstype, , superOptions = ''] = line.slice(dash + 3).split(' ');
    const root = unescapeMountinfo(fields[3] ?? '/');
    const mountPoint = unescapeMountinfo(fields[4] ?? '');
    if (fstype === 'cgroup2' && !v2) {
      v2 = { version: 2, mountPoint, root, controllers: v2Controllers(mountPoint) };
    } else if (fstype === 'cgroup') {
      const controllers = superOptions.split(',').filter((o) => known.has(o) || o.startsWith('name='));
      if (!v1.some((h) => sameControllers(h.controllers, controllers))) v1.push({ version: 1, mountPoint, root, controllers });
    }
  }
  return { ...(v2 ? { v2 } : {}), v1 };
}

function sameControllers(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((c) => b.includes(c));
}

/** One line of /proc/PID/cgroup: `id:controllers:path` (cgroups(7)); v2 is `0::path`. */
export interface ProcessCgroup {
  readonly hierarchyId: number;
  readonly controllers: readonly string[];
  readonly path: string;
}

export function parseProcCgroup(text: string): ProcessCgroup[] {
  return text.split('\n').filter((l) => l !== '').map((line) => {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) throw new NsError({ errno: 22, code: 'EINVAL', message: `unexpected /proc/PID/cgroup line '${line}'` });
    const controllers = line.slice(first + 1, second);
    return { hierarchyId: Number(line.slice(0, first)), controllers: controllers ? controllers.split(',') : [], path: line.slice(second + 1) };
  });
}

const readOrThrow = (path: string): string => readText(path);

/** The cgroups of a process, as /proc/PID/cgroup lists them (paths relative to the reader's cgroup namespace). */
export function readProcessCgroups(pid: number | 'self'): ProcessCgroup[] {
  return parseProcCgroup(readOrThrow(`/proc/${pid}/cgroup`));
}

/** The cgroup a process is in within one hierarchy. */
export function cgroupIn(cgroups: readonly ProcessCgroup[], h: CgroupHierarchy): string | undefined {
  const line = h.version === 2
    ? cgroups.find((c) => c.hierarchyId === 0 && c.controllers.length === 0)
    : cgroups.find((c) => c.hierarchyId !== 0 && sameControllers(c.controllers, h.controllers));
  return line?.path;
}

/** The layout of this machine, as our mount namespace shows it. */
export function detectCgroupLayout(): CgroupLayout {
  const known = readOrThrow('/proc/cgroups').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split('\t')[0]!);
  return parseCgroupMounts(readOrThrow('/proc/self/mountinfo'), known,
    (mountPoint) => readOrThrow(`${mountPoint}/cgroup.controllers`).trim().split(/\s+/).filter(Boolean));
}

/** Where a controller's limits are set: v2 when its root offers it, else the v1 hierarchy that has it. */
export function hierarchyFor(layout: CgroupLayout, controller: string): CgroupHierarchy | undefined {
  if (layout.v2?.controllers.includes(controller)) return layout.v2;
  return layout.v1.find((h) => h.controllers.includes(controller));
}

/** The directory of a cgroup path (as /proc/PID/cgroup names it) under a hierarchy's mount. */
export function directoryOf(h: CgroupHierarchy, cgroupPath: string): string {
  const root = h.root.replace(/\/+$/, '');
  if (cgroupPath !== root && !cgroupPath.startsWith(`${root}/`)) {
    throw new NsError({ errno: 2, code: 'ENOENT', path: cgroupPath,
                        message: `cgroup ${cgroupPath} is not visible under ${h.mountPoint} (which shows ${h.root})` });
  }
  const rest = cgroupPath.slice(root.length).replace(/^\/+/, '');
  return rest ? `${h.mountPoint.replace(/\/+$/, '')}/${rest}` : h.mountPoint;
}
