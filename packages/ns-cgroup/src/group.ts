/**
 * A cgroup that may span hierarchies: the v2 one when mounted, plus the v1 hierarchies of
 * the controllers it is limited by. It remembers which directories it created, so removing
 * it takes away exactly those and never a cgroup someone else made.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { NsError, usageError, type Phase, type PhasedOp, type Step } from 'ns-core';
import { cgroupIn, detectCgroupLayout, directoryOf, readProcessCgroups, type CgroupHierarchy, type CgroupLayout } from './layout';
import { planLimitWrites, type ParsedLimits } from './limits';

/** One hierarchy's part of a group. */
export interface GroupDirectory {
  readonly hierarchy: CgroupHierarchy;
  /** The group's own directory. */
  readonly dir: string;
  /** Directories from just below the existing base down to `dir`, top first. */
  readonly levels: readonly string[];
}

export interface OpenGroupOptions {
  /** v1 controllers whose hierarchies the group must be in (beside v2, always used when mounted). */
  readonly controllers?: readonly string[];
  readonly layout?: CgroupLayout;
}

/** Checks a group path: components separated by '/', none empty, '.' or '..'. */
export function validateGroupPath(path: string, option = '--cgroup-path'): string[] {
  const parts = path.replace(/^\/+/, '').replace(/\/+$/, '').split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0') || p.includes('\n'))) {
    throw usageError(`${option}: '${path}' is not a cgroup path (names separated by '/', without '.' or '..')`);
  }
  return parts;
}

function fsError(step: string, syscall: string, path: string, e: unknown): NsError {
  return NsError.from(e, { step, syscall, path });
}

/** The hierarchies a group lives in: v2 if mounted, and each v1 one holding a wanted controller. */
export function hierarchiesFor(layout: CgroupLayout, controllers: readonly string[]): CgroupHierarchy[] {
  const out: CgroupHierarchy[] = layout.v2 ? [layout.v2] : [];
  for (const c of controllers) {
    if (layout.v2?.controllers.includes(c)) continue;
    const h = layout.v1.find((v) => v.controllers.includes(c));
    if (h && !out.includes(h)) out.push(h);
  }
  // With neither v2 nor a limit, membership is all there is to ask for: every v1 controller
  // hierarchy (named ones such as name=systemd belong to their manager).
  if (out.length === 0) out.push(...layout.v1.filter((h) => h.controllers.some((c) => !c.startsWith('name='))));
  return out;
}

/**
 * Where a group lives in each hierarchy it spans, and which of its levels do not exist yet
 * (top first: the ones to create). Reads the machine, changes nothing.
 */
export function planGroupDirectories(path: string, layout: CgroupLayout, controllers: readonly string[]): { directories: GroupDirectory[]; missing: string[] } {
  const parts = validateGroupPath(path);
  const own = readProcessCgroups('self');
  const directories: GroupDirectory[] = [];
  const missing: string[] = [];
  for (const h of hierarchiesFor(layout, controllers)) {
    const base = path.startsWith('/') ? h.root : cgroupIn(own, h);
    if (base === undefined) {
      throw new NsError({ errno: 2, code: 'ENOENT', path: h.mountPoint,
                          message: `--cgroup-path: this process has no cgroup in the hierarchy at ${h.mountPoint}` });
    }
    const levels = parts.map((_, i) => directoryOf(h, `${base.replace(/\/+$/, '')}/${parts.slice(0, i + 1).join('/')}`));
    missing.push(...levels.filter((dir) => !existsSync(dir)));
    directories.push({ hierarchy: h, dir: levels.at(-1)!, levels });
  }
  return { directories, missing };
}

/** One write of a group's setup: a limit, or a controller enabled for children. */
export interface GroupWrite {
  readonly file: string;
  readonly value: string;
  /** The option it comes from, for messages. */
  readonly option: string;
}

/**
 * The writes that set the limits, in order. On v2 a controller's files exist in a group only
 * when its parent enables the controller for children (cgroup.subtree_control, cgroups(7)):
 * it is enabled in parents the group makes (`made`), and required of an existing parent
 * rather than changed in a cgroup that is not ours (which the "no internal processes" rule
 * would often refuse anyway). Reads subtree_control of existing parents, changes nothing.
 */
export function planGroupWrites(directories: readonly GroupDirectory[], made: readonly string[], limits: ParsedLimits, layout: CgroupLayout): GroupWrite[] {
  const writes: GroupWrite[] = [];
  // A v1 cpuset group starts with no cpus and no mems, and a process cannot join it then
  // (ENOSPC, cpusets(7)): each level made gets its parent's, as cgroup.clone_children would.
  for (const d of directories) {
    if (d.hierarchy.version !== 1 || !d.hierarchy.controllers.includes('cpuset')) continue;
    const first = d.levels.findIndex((l) => made.includes(l));
    if (first < 0) continue;
    const parent = first === 0 ? d.levels[0]!.replace(/\/[^/]+$/, '') : d.levels[first - 1]!;
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      const value = readFileSync(`${parent}/${file}`, 'utf8').trim();
      for (const level of d.levels.slice(first)) writes.push({ file: `${level}/${file}`, value, option: 'cpuset' });
    }
  }
  for (const w of planLimitWrites(limits, layout)) {
    const d = directories.find((x) => x.hierarchy === w.hierarchy);
    if (!d) throw new NsError({ errno: 2, code: 'ENOENT', step: w.option, message: `${w.option}: group is not in the ${w.controller} hierarchy` });
    if (w.hierarchy.version === 2) {
      const parents = [d.levels[0]!.replace(/\/[^/]+$/, ''), ...d.levels.slice(0, -1)];
      for (const parent of parents) {
        const control = `${parent}/cgroup.subtree_control`;
        if (made.includes(parent)) {
          if (!writes.some((x) => x.file === control && x.value === `+${w.controller}`)) writes.push({ file: control, value: `+${w.controller}`, option: w.option });
          continue;
        }
        if (readFileSync(control, 'utf8').trim().split(/\s+/).includes(w.controller)) continue;
        throw new NsError({ errno: 16, code: 'EBUSY', step: w.option, path: control,
                            message: `${w.option}: ${w.controller} is not enabled for children of ${parent} (cgroup.subtree_control); enable it there or use a cgroup delegated to you` });
      }
    }
    writes.push({ file: `${d.dir}/${w.file}`, value: w.value, option: w.option });
  }
  return writes;
}

export class CgroupGroup {
  /** The path as asked: relative ones are under the caller's own cgroup in each hierarchy. */
  readonly path: string;
  readonly directories: readonly GroupDirectory[];
  /** The machine's layout when the group was opened: which hierarchy holds each controller. */
  readonly layout: CgroupLayout;
  #created: string[];

  private constructor(path: string, layout: CgroupLayout, directories: GroupDirectory[], created: string[]) {
    this.path = path;
    this.layout = layout;
    this.directories = directories;
    this.#created = created;
  }

  /**
   * Opens the group, creating what is missing (parents too). If creating fails half-way,
   * what was created is removed before the error is thrown.
   */
  static open(path: string, options: OpenGroupOptions = {}): CgroupGroup {
    const layout = options.layout ?? detectCgroupLayout();
    const { directories, missing } = planGroupDirectories(path, layout, options.controllers ?? []);
    const created: string[] = [];
    try {
      for (const dir of missing) {
        try {
          mkdirSync(dir);
        } catch (e) {
          throw fsError('--cgroup-path', 'mkdir', dir, e);
        }
        created.push(dir);
      }
    } catch (e) {
      removeDirectories(created);
      throw e;
    }
    return new CgroupGroup(path, layout, directories, created);
  }

  /** Directories this group made, which remove() takes away (deepest first). */
  get created(): readonly string[] {
    return this.#created;
  }

  dirIn(h: CgroupHierarchy): string {
    const d = this.directories.find((x) => x.hierarchy === h);
    if (!d) throw new NsError({ errno: 2, code: 'ENOENT', message: `group ${this.path} is not in the hierarchy at ${h.mountPoint}` });
    return d.dir;
  }

  /** Writes the limits (see planGroupWrites). */
  setLimits(limits: ParsedLimits): void {
    for (const w of planGroupWrites(this.directories, this.#created, limits, this.layout)) {
      try {
        writeFileSync(w.file, w.value);
      } catch (e) {
        throw fsError(w.option, 'write', w.file, e);
      }
    }
  }

  /** Moves a process (all its threads) into the group in every hierarchy it spans. */
  addProcess(pid: number): void {
    addProcessTo(this.directories.map((d) => d.dir), pid);
  }

  /** Pids in the group, in any of its hierarchies. */
  processes(): number[] {
    return processesIn(this.directories.map((d) => d.dir));
  }

  /** SIGKILLs everything in the group: cgroup.kill on v2 (Linux 5.14), else each pid in turn. */
  kill(): void {
    const v2 = this.directories.find((d) => d.hierarchy.version === 2 && existsSync(`${d.dir}/cgroup.kill`));
    if (v2) writeFileSync(`${v2.dir}/cgroup.kill`, '1');
    for (const pid of this.processes()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch (e) {
        // It exited between listing and killing: that is what we wanted.
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
      }
    }
  }

  /**
   * Removes the directories this group created (a joined, existing cgroup stays). A cgroup
   * can be removed only once no process is in it: with killLeftovers, processes the program
   * left behind are killed first, and we wait (bounded) for the kernel to let them go.
   */
  async remove(options: { killLeftovers?: boolean } = {}): Promise<void> {
    if (this.#created.length === 0) return;
    for (let attempt = 0; this.processes().length > 0; attempt++) {
      if (!options.killLeftovers) {
        throw new NsError({ errno: 16, code: 'EBUSY', path: this.directories[0]!.dir,
                            message: `cgroup ${this.path} still has processes ${this.processes().join(' ')}` });
      }
      if (attempt >= 200) throw new NsError({ errno: 16, code: 'EBUSY', message: `processes in cgroup ${this.path} did not exit after SIGKILL` });
      this.kill();
      await sleep(10);
    }
    // A killed process may hold its cgroup a moment after it left cgroup.procs (it is still
    // exiting): EBUSY then, so try again briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        removeDirectories(this.#created);
        return;
      } catch (e) {
        if ((e as NsError).code !== 'EBUSY' || attempt >= 200) throw e;
        await sleep(10);
      }
    }
  }
}

/**
 * rmdir deepest first (a cgroup dir holds only kernel files, so rmdir is all it takes),
 * taking each removed one off `dirs` (in creation order): after a failure, which throws,
 * `dirs` holds exactly what is left for a retry.
 */
function removeDirectories(dirs: string[]): void {
  while (dirs.length) {
    const dir = dirs.at(-1)!;
    try {
      rmdirSync(dir);
    } catch (e) {
      throw fsError('cgroup cleanup', 'rmdir', dir, e);
    }
    dirs.pop();
  }
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A group directory a removal had to leave, and the error that kept it. */
export interface LeftGroupDirectory {
  readonly path: string;
  readonly error: NsError;
}

/**
 * rmdir of group directories, deepest first, ignoring ones already gone; each failure is
 * recorded and the rest is still tried, so one stuck directory does not keep the others.
 * What is left in a leaf (a group's own directories) is killed first, and a leaf still busy
 * while its killed processes finish exiting is retried for a bounded time (synchronous).
 * With `keepShared`, a level above the leaves that still has other children or processes
 * (EBUSY/ENOTEMPTY: shared with another group) is kept silently, as it is no longer only ours.
 */
export function removeGroupDirectories(
  dirs: readonly string[], { leaves = [], keepShared = false }: { leaves?: readonly string[]; keepShared?: boolean } = {},
): LeftGroupDirectory[] {
  const left: LeftGroupDirectory[] = [];
  const byDepth = [...dirs].sort((a, b) => b.split('/').length - a.split('/').length);
  for (const dir of byDepth) {
    const leaf = leaves.includes(dir);
    for (let attempt = 0; ; attempt++) {
      if (leaf) killIn(dir);
      try {
        rmdirSync(dir);
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (keepShared && !leaf && (code === 'EBUSY' || code === 'ENOTEMPTY')) break;
        if (leaf && code === 'EBUSY' && attempt < 300) {
          pause(10);
          continue;
        }
        left.push({ path: dir, error: fsError('cgroup cleanup', 'rmdir', dir, e) });
        break;
      }
    }
  }
  return left;
}

/**
 * Removes group directories another process made and recorded (an OCI runtime's `delete`,
 * after its `create` ended, or died): removeGroupDirectories with the recorded leaves, a
 * shared level above them kept.
 * @throws NsError for a directory that cannot be removed (the first one).
 */
export function removeRecordedGroup(made: readonly string[], leaves: readonly string[]): void {
  const left = removeGroupDirectories(made, { leaves, keepShared: true });
  if (left.length) throw left[0]!.error;
}

/** SIGKILLs what is in one group directory: cgroup.kill where the kernel has it (v2, 5.14), else each pid. */
function killIn(dir: string): void {
  if (existsSync(`${dir}/cgroup.kill`)) {
    try {
      writeFileSync(`${dir}/cgroup.kill`, '1');
    } catch {
      // gone meanwhile
    }
  }
  let procs = '';
  try {
    procs = readFileSync(`${dir}/cgroup.procs`, 'utf8');
  } catch {
    return;
  }
  for (const line of procs.split('\n')) {
    if (!line) continue;
    try {
      process.kill(Number(line), 'SIGKILL');
    } catch {
      // exited between listing and killing
    }
  }
}

/**
 * The spawn step by which a new process starts in group directories (one per hierarchy of
 * `layout`) instead of being moved in once it runs. Moving a process by pid (cgroup.procs,
 * tasks) takes the kernel's global threadgroup lock for writing, and the first taker waits for
 * an RCU grace period: 8-20 ms measured here, per container. Born there, nothing waits: v2 by
 * clone3() into the directory (ns-core's startInCgroup), and in each v1 hierarchy the child,
 * still a single thread, writes 0 to `tasks` as its first op (a thread moving itself takes no
 * global lock, and a one-thread process is all of it). 0.2 ms measured for v2 and 8 v1
 * hierarchies together.
 */
export function startInGroupStep(dirs: readonly string[], layout: CgroupLayout, step: string): Step {
  const v2 = dirs.find((d) => hierarchyOfDirectory(layout, d)?.version === 2);
  return {
    name: step,
    ...(v2 !== undefined ? { startInCgroup: v2 } : {}),
    child: selfJoinOps(dirs.filter((d) => d !== v2), layout, 'pre-namespaces', step),
  };
}

/**
 * The ops by which a process of the exec stage moves itself into group directories: writing 0
 * (the writer) to cgroup.procs in v2, to `tasks` in v1. The exec stage's processes are single
 * threads, so the thread is the whole process, and a thread moving itself takes no global lock
 * (see startInGroupStep); only v2 has no such file, and its move waits for the grace period.
 */
export function selfJoinOps(dirs: readonly string[], layout: CgroupLayout, phase: Phase, step: string): PhasedOp[] {
  return dirs.map((dir) => ({
    op: 'write-file', path: `${dir}/${hierarchyOfDirectory(layout, dir)?.version === 1 ? 'tasks' : 'cgroup.procs'}`, data: '0', phase, step,
  }));
}

/** The hierarchy a directory is in: the one mounted deepest above it. */
function hierarchyOfDirectory(layout: CgroupLayout, dir: string): CgroupHierarchy | undefined {
  let best: CgroupHierarchy | undefined;
  for (const h of [...(layout.v2 ? [layout.v2] : []), ...layout.v1]) {
    const top = h.mountPoint.replace(/\/+$/, '');
    if ((dir === top || dir.startsWith(`${top}/`)) && top.length >= (best?.mountPoint.replace(/\/+$/, '').length ?? -1)) best = h;
  }
  return best;
}

/** Moves a process (all its threads) into group directories, one per hierarchy (cgroup.procs). */
export function addProcessTo(dirs: readonly string[], pid: number, step = '--cgroup-path'): void {
  for (const dir of dirs) {
    const file = `${dir}/cgroup.procs`;
    try {
      writeFileSync(file, String(pid));
    } catch (e) {
      throw fsError(step, 'write', file, e);
    }
  }
}

/**
 * Freezes (or thaws) the processes of a group: v1 freezer.state where the group has a freezer
 * hierarchy, else v2 cgroup.freeze. Waits (bounded) until the kernel says it is done: a v1
 * freeze passes through FREEZING, a v2 one is done when cgroup.events says `frozen 1`.
 * @throws NsError ENOTSUP when neither is there; EBUSY if the state is not reached in time.
 */
export function setGroupFrozen(dirs: readonly string[], frozen: boolean): void {
  const v1 = dirs.find((d) => existsSync(`${d}/freezer.state`));
  const v2 = v1 ? undefined : dirs.find((d) => existsSync(`${d}/cgroup.freeze`));
  if (!v1 && !v2) throw new NsError({ errno: 95, code: 'ENOTSUP', message: 'the group has no freezer (neither a v1 freezer hierarchy nor cgroup v2)' });
  const file = v1 ? `${v1}/freezer.state` : `${v2}/cgroup.freeze`;
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, v1 ? (frozen ? 'FROZEN' : 'THAWED') : frozen ? '1' : '0');
    } catch (e) {
      throw fsError(frozen ? 'pause' : 'resume', 'write', file, e);
    }
    if (groupFrozen(dirs) === frozen) return;
    if (attempt >= 500) throw new NsError({ errno: 16, code: 'EBUSY', path: file, message: `the group did not ${frozen ? 'freeze' : 'thaw'} in time` });
    pause(2);
  }
}

/** Whether a group is frozen (v1 freezer.state FROZEN, or v2 cgroup.events frozen 1); false without a freezer. */
export function groupFrozen(dirs: readonly string[]): boolean {
  for (const d of dirs) {
    try {
      if (existsSync(`${d}/freezer.state`)) return readFileSync(`${d}/freezer.state`, 'utf8').trim() === 'FROZEN';
    } catch {
      return false;
    }
  }
  for (const d of dirs) {
    try {
      if (existsSync(`${d}/cgroup.events`)) return /^frozen 1$/m.test(readFileSync(`${d}/cgroup.events`, 'utf8'));
    } catch {
      return false;
    }
  }
  return false;
}

/** Pids in group directories (one per hierarchy), sorted; a directory gone meanwhile holds none. */
export function processesIn(dirs: readonly string[]): number[] {
  const pids = new Set<number>();
  for (const dir of dirs) {
    let text = '';
    try {
      text = readFileSync(`${dir}/cgroup.procs`, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    for (const line of text.split('\n')) if (line) pids.add(Number(line));
  }
  return [...pids].sort((a, b) => a - b);
}
