/**
 * A container's filesystem from config.json: the root (bind onto itself + pivot_root, or
 * MS_MOVE + chroot with --no-pivot; read-only), `mounts` in order, the default devices,
 * `linux.devices`, `sysctl`, `maskedPaths` and `readonlyPaths`, as exec-stage ops.
 *
 * Every destination is resolved inside the root first (resolveInRoot: symlinks followed as
 * openat2's RESOLVE_IN_ROOT would, never out of the root), through a view that knows what the
 * earlier mounts put there: below a fresh filesystem nothing exists yet, below a bind the
 * source's tree shows. The exec stage then creates exactly the missing components of that
 * symlink-free path, and mounts on it.
 */
import { lstatSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { NsError, sys, type ChildOp, type PhasedOp, type Step } from 'ns-core';
import { locate, mount, perMountFlags, readOnlyRemounts, type PathLocation } from 'ns-mount';
import { resolveInRoot, type InRootPath, type RootView } from '../runner/inroot';
import type { ContainerSpec, SpecMount } from '../spec';
import { specError } from './validate';

const { MS } = sys;

/** mount(8)'s flag options: [clears the flag, flag]. */
export const FLAG_OPTIONS: Readonly<Record<string, readonly [boolean, number]>> = {
  ro: [false, MS.RDONLY], rw: [true, MS.RDONLY], nosuid: [false, MS.NOSUID], suid: [true, MS.NOSUID],
  nodev: [false, MS.NODEV], dev: [true, MS.NODEV], noexec: [false, MS.NOEXEC], exec: [true, MS.NOEXEC],
  sync: [false, MS.SYNCHRONOUS], async: [true, MS.SYNCHRONOUS], dirsync: [false, MS.DIRSYNC],
  mand: [false, MS.MANDLOCK], nomand: [true, MS.MANDLOCK], noatime: [false, MS.NOATIME], atime: [true, MS.NOATIME],
  nodiratime: [false, MS.NODIRATIME], diratime: [true, MS.NODIRATIME], relatime: [false, MS.RELATIME], norelatime: [true, MS.RELATIME],
  strictatime: [false, MS.STRICTATIME], nostrictatime: [true, MS.STRICTATIME], nosymfollow: [false, MS.NOSYMFOLLOW],
  remount: [false, MS.REMOUNT], bind: [false, MS.BIND], rbind: [false, MS.BIND | MS.REC],
};
export const PROPAGATION_OPTIONS: Readonly<Record<string, number>> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, shared: MS.SHARED, rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};
/** Options the runtime-spec and crun define that this runtime does not do yet: refused, never silently dropped. */
const UNSUPPORTED_OPTIONS = new Set(['tmpcopyup', 'idmap', 'ridmap', 'copy-symlink', 'src-nofollow', 'dest-nofollow']);

export interface MountOptions {
  readonly flags: number;
  readonly propagation: number[];
  /** What the filesystem itself is given (size=64m, mode=1777, newinstance...). */
  readonly data: string[];
}

/** Splits a mount's options into flags, propagation changes and filesystem data, as runc does. */
export function parseMountOptions(field: string, options: readonly string[] = []): MountOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  options.forEach((option, i) => {
    if (UNSUPPORTED_OPTIONS.has(option)) throw specError(`${field}.options[${i}]`, `'${option}' is not supported by ns-run-oci`);
    const flag = FLAG_OPTIONS[option];
    if (flag) flags = flag[0] ? flags & ~flag[1] : flags | flag[1];
    else if (PROPAGATION_OPTIONS[option] !== undefined) propagation.push(PROPAGATION_OPTIONS[option]!);
    else data.push(option);
  });
  return { flags, propagation, data };
}

/** What the compiler reads from the host: passed in, so plans are computed and tested apart. */
export interface FilesystemContext {
  /** The bundle directory: relative root.path and bind sources are resolved against it. */
  readonly bundle: string;
  /** The root as the compiler looks mount points up in (default: the directory itself). */
  readonly view?: RootView;
  /** MS_MOVE + chroot instead of pivot_root (runc's --no-pivot, for a root on ramfs). */
  readonly noPivot?: boolean;
  /** The container's own cgroup directory in each hierarchy (host paths): what a cgroup mount shows on a v1 or hybrid host. */
  readonly cgroupDirs?: readonly string[];
}

/** A destination placed inside the root: the host path under the root before the pivot. */
interface Placed extends InRootPath {
  readonly target: string;
}

interface Mounted {
  readonly inside: string;
  /** A bind's source on the host: the tree that shows below `inside`. Undefined: a fresh filesystem. */
  readonly source?: string;
}

const under = (path: string, dir: string) => dir === '/' || path === dir || path.startsWith(`${dir}/`);

/** The root's view once `mounted` are in place: the last mount covering a path decides what is there. */
function mountedView(base: RootView, mounted: readonly Mounted[]): RootView {
  return {
    hostPath(components) {
      const inside = `/${components.join('/')}`;
      for (let i = mounted.length - 1; i >= 0; i--) {
        const m = mounted[i]!;
        if (!under(inside, m.inside)) continue;
        if (m.source === undefined) return inside === m.inside ? base.hostPath(components) ?? '/' : undefined;
        return posix.join(m.source, inside.slice(m.inside.length));
      }
      return base.hostPath(components);
    },
  };
}

class Emitter {
  readonly ops: PhasedOp[] = [];
  readonly mounted: Mounted[] = [];
  constructor(readonly rootfs: string, readonly base: RootView) {}

  emit(phase: PhasedOp['phase'], step: string, op: ChildOp): void {
    this.ops.push({ ...op, phase, step });
  }

  /** Resolves `dest` inside the root as the mounts so far left it. */
  place(field: string, dest: string): Placed {
    const r = resolveInRoot(mountedView(this.base, this.mounted), dest, field);
    return { ...r, target: r.inside === '/' ? this.rootfs : posix.join(this.rootfs, r.inside) };
  }

  /** mkdir of each missing component but the last. */
  parents(step: string, p: Placed): void {
    const parts = p.inside.split('/').filter(Boolean);
    for (let i = p.existingDepth; i < parts.length - 1; i++) {
      this.emit('mounts', step, { op: 'mkdir', path: posix.join(this.rootfs, ...parts.slice(0, i + 1)), mode: 0o755, existOk: true });
    }
  }

  /** mkdir of each missing component (mkfile for the last when `file`). */
  create(step: string, p: Placed, file: boolean): void {
    const parts = p.inside.split('/').filter(Boolean);
    if (p.kind !== undefined) {
      if (file && p.kind === 'dir') throw specError(step, `cannot mount a file on ${p.inside}, a directory inside the root`);
      if (!file && p.kind !== 'dir') throw specError(step, `${p.inside} is not a directory inside the root`);
      return;
    }
    for (let i = p.existingDepth; i < parts.length; i++) {
      const path = posix.join(this.rootfs, ...parts.slice(0, i + 1));
      if (file && i === parts.length - 1) this.emit('mounts', step, { op: 'mkfile', path, mode: 0o644 });
      else this.emit('mounts', step, { op: 'mkdir', path, mode: 0o755, existOk: true });
    }
  }
}

function locateIn(field: string, path: string): PathLocation {
  try {
    return locate(path);
  } catch (e) {
    throw NsError.from(e, { syscall: 'open', path, step: field });
  }
}

/** The host's /sys/fs/cgroup: cgroup2 (unified), or a tmpfs of v1 hierarchies (legacy, hybrid). */
function hostCgroupIsUnified(): boolean {
  return locate('/sys/fs/cgroup').mount.fsType === 'cgroup2';
}

/**
 * A bind of a host path (resolved there, its symlinks the bundle author's to choose), then
 * the remount that applies the flags asked for: a bind takes its source's flags and ignores
 * any given with MS_BIND, and a remount sets exactly the flags given (mount(2)), so the
 * source's nosuid/nodev/noexec, which a user namespace may not clear, are kept; `ro` on an
 * rbind reaches every submount it brought along.
 */
function bindMount(e: Emitter, field: string, source: string, p: Placed, options: MountOptions, recursive: boolean): void {
  const location = locateIn(`${field}.source`, source);
  const isDir = statSync(location.resolved).isDirectory();
  e.create(field, p, !isDir);
  e.emit('mounts', field, { op: 'mount', source: location.resolved, target: p.target, flags: MS.BIND | (recursive ? MS.REC : 0) });
  const asked = options.flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
  const locked = perMountFlags(location.mount) & ~MS.RDONLY;
  if (asked & MS.RDONLY) {
    for (const r of readOnlyRemounts(location, p.target, recursive && isDir)) e.emit('mounts', field, { op: 'mount', target: r.target, flags: r.flags | asked });
  } else if (asked) {
    e.emit('mounts', field, { op: 'mount', target: p.target, flags: MS.BIND | MS.REMOUNT | asked | locked });
  }
  e.mounted.push({ inside: p.inside, source: location.resolved });
}

const HOST_CGROUPS = '/sys/fs/cgroup';

/**
 * runc's cgroup mount on a v1 or hybrid host: a tmpfs with, at each hierarchy's name, the
 * container's own directory there bound read-only (and the host's symlinks such as
 * cpu -> cpu,cpuacct), so the program reads its own limits where it looks for them
 * (/sys/fs/cgroup/memory/memory.limit_in_bytes) and sees no other group.
 */
function ownCgroupView(e: Emitter, field: string, p: Placed, options: MountOptions, dirs: readonly string[]): void {
  const hidden = MS.NOSUID | MS.NODEV | MS.NOEXEC;
  e.create(field, p, false);
  e.emit('mounts', field, { op: 'mount', source: 'tmpfs', target: p.target, fstype: 'tmpfs', flags: hidden, data: 'mode=755' });
  e.mounted.push({ inside: p.inside });
  for (const dir of dirs) {
    const name = dir.startsWith(`${HOST_CGROUPS}/`) ? dir.slice(HOST_CGROUPS.length + 1).split('/')[0] : undefined;
    if (!name) continue;
    bindMount(e, field, dir, e.place(field, posix.join(p.inside, name)), { ...options, flags: MS.RDONLY | hidden }, false);
  }
  for (const entry of readdirSync(HOST_CGROUPS, { withFileTypes: true })) {
    if (entry.isSymbolicLink()) e.emit('mounts', field, { op: 'symlink', target: readlinkSync(posix.join(HOST_CGROUPS, entry.name)), path: posix.join(p.target, entry.name) });
  }
  if (options.flags & MS.RDONLY) e.emit('mounts', field, { op: 'mount', target: p.target, flags: MS.REMOUNT | MS.RDONLY | hidden });
}

function compileMount(e: Emitter, m: SpecMount, i: number, ctx: FilesystemContext, ownNetwork: boolean): void {
  const field = `mounts[${i}]`;
  const options = parseMountOptions(field, m.options);
  const p = e.place(`${field}.destination`, m.destination);
  if (p.inside === '/') throw specError(`${field}.destination`, 'cannot mount over the container\'s root (root.path is the root)');
  if (m.uidMappings || m.gidMappings) throw specError(`${field}.uidMappings`, 'idmapped mounts are not supported by ns-run-oci yet');
  const type = m.type ?? '';
  const isBind = (options.flags & MS.BIND) !== 0 || type === 'bind' || type === 'rbind';
  if (isBind) {
    if (m.source === undefined) throw specError(`${field}.source`, 'a bind mount needs a source');
    const source = posix.isAbsolute(m.source) ? m.source : posix.join(ctx.bundle, m.source);
    bindMount(e, field, source, p, options, (options.flags & MS.REC) !== 0 || type === 'rbind');
  } else if (type === 'sysfs' && !ownNetwork) {
    // A sysfs belongs to the network namespace that mounts it: with the host's, bind the host's read-only (as crun does).
    bindMount(e, field, '/sys', p, { ...options, flags: options.flags | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC }, true);
  } else if ((type === 'cgroup' || type === 'cgroup2') && !hostCgroupIsUnified() && ctx.cgroupDirs?.length) {
    ownCgroupView(e, field, p, options, ctx.cgroupDirs);
  } else if ((type === 'cgroup' || type === 'cgroup2') && !hostCgroupIsUnified()) {
    // A hybrid host's v1 hierarchies: shown read-only, as they are (a new cgroup2 would hide them).
    bindMount(e, field, '/sys/fs/cgroup', p, { ...options, flags: options.flags | MS.RDONLY }, true);
  } else {
    if (type === '') throw specError(`${field}.type`, 'is required for a mount that is not a bind');
    e.create(field, p, false);
    const fstype = type === 'cgroup' ? 'cgroup2' : type;
    e.emit('mounts', field, { op: 'mount', source: m.source ?? fstype, target: p.target, fstype, flags: options.flags & ~MS.REMOUNT,
                              ...(options.data.length ? { data: options.data.join(',') } : {}) });
    e.mounted.push({ inside: p.inside });
  }
  for (const flag of options.propagation) e.emit('mounts', field, { op: 'mount', target: p.target, flags: flag });
}

/** runc's default devices (libcontainer/specconv AllowedDevices): character devices, mode 0666. */
export const DEFAULT_DEVICES: readonly { readonly path: string; readonly major: number; readonly minor: number }[] = [
  { path: '/dev/null', major: 1, minor: 3 }, { path: '/dev/zero', major: 1, minor: 5 }, { path: '/dev/full', major: 1, minor: 7 },
  { path: '/dev/random', major: 1, minor: 8 }, { path: '/dev/urandom', major: 1, minor: 9 }, { path: '/dev/tty', major: 5, minor: 0 },
];
const DEV_SYMLINKS: readonly [string, string][] = [
  ['/dev/fd', '/proc/self/fd'], ['/dev/stdin', '/proc/self/fd/0'], ['/dev/stdout', '/proc/self/fd/1'], ['/dev/stderr', '/proc/self/fd/2'],
  ['/dev/ptmx', 'pts/ptmx'],
];
const S_IF = { c: 0o020000, u: 0o020000, b: 0o060000, p: 0o010000 } as const;

/**
 * Device nodes. Made by mknod where the runtime may (the host's root, no user namespace: as
 * runc does); otherwise bound from the host's node of the same path (mknod needs CAP_MKNOD in
 * the initial user namespace), checked to be the device the spec names.
 */
function devices(e: Emitter, spec: ContainerSpec, mknod: boolean): void {
  type Wanted = { field: string; path: string; type: 'c' | 'b' | 'u' | 'p'; major: number; minor: number; mode: number; uid?: number; gid?: number };
  const wanted: Wanted[] = (spec.linux?.devices ?? []).map((d, i) => ({
    field: `linux.devices[${i}]`, path: d.path, type: d.type, major: d.major ?? 0, minor: d.minor ?? 0, mode: d.fileMode ?? 0o666,
    ...(d.uid !== undefined ? { uid: d.uid } : {}), ...(d.gid !== undefined ? { gid: d.gid } : {}),
  }));
  const listed = new Set(wanted.map((w) => w.path));
  for (const d of DEFAULT_DEVICES) if (!listed.has(d.path)) wanted.push({ field: 'default devices', type: 'c', mode: 0o666, uid: 0, gid: 0, ...d });
  for (const d of wanted) {
    const p = e.place(d.field, d.path);
    if (mknod && p.kind === undefined) {
      e.parents(d.field, p);
      e.emit('mounts', d.field, { op: 'mknod', path: p.target, mode: S_IF[d.type] | (d.mode & 0o7777), dev: sys.makedev(d.major, d.minor),
                                  ...(d.uid !== undefined || d.gid !== undefined ? { owner: { uid: d.uid ?? 0, gid: d.gid ?? 0 } } : {}) });
      continue;
    }
    let st;
    try {
      st = statSync(d.path);
    } catch (err) {
      throw NsError.from(err, { syscall: 'stat', path: d.path, step: d.field });
    }
    const kind = d.type === 'b' ? st.isBlockDevice() : d.type === 'p' ? st.isFIFO() : st.isCharacterDevice();
    if (!kind || (d.type !== 'p' && sys.makedev(d.major, d.minor) !== BigInt(st.rdev))) {
      throw specError(d.field, `the host's ${d.path} is not the device ${d.type} ${d.major}:${d.minor}, and in a user namespace ns-run-oci binds devices from the host`);
    }
    e.create(d.field, p, true);
    e.emit('mounts', d.field, { op: 'mount', source: d.path, target: p.target, flags: MS.BIND });
  }
  for (const [path, link] of DEV_SYMLINKS) {
    const p = e.place('default devices', path);
    if (p.kind !== undefined || p.existingDepth < 1) continue; // there already, or no /dev
    e.emit('mounts', 'default devices', { op: 'symlink', target: link, path: p.target });
  }
}

/** What `root.path` names on the host. */
export function rootfsOf(spec: ContainerSpec, bundle: string): string {
  const path = posix.isAbsolute(spec.root!.path) ? spec.root!.path : posix.join(bundle, spec.root!.path);
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    throw NsError.from(e, { syscall: 'stat', path, step: 'root.path' });
  }
  if (!st.isDirectory()) throw specError('root.path', `${path} is not a directory`);
  return locateIn('root.path', path).resolved;
}

/**
 * The propagation of the container's mount tree. runc's default is rslave (host mounts still
 * reach the container, none go back); pivot_root(2) refuses a shared new root's parent, so a
 * shared or unbindable tree is set once the root has changed.
 */
function propagationOf(spec: ContainerSpec): { before: 'private' | 'slave'; after?: number } {
  const p = spec.linux?.rootfsPropagation;
  if (p === undefined || p === 'slave' || p === 'rslave') return { before: 'slave' };
  if (p === 'private' || p === 'rprivate') return { before: 'private' };
  return { before: p.includes('shared') ? 'slave' : 'private', after: PROPAGATION_OPTIONS[p]! | MS.REC };
}

/**
 * docker's (moby oci/defaults.go) and runc spec's maskedPaths: kernel state that is not
 * namespaced and tells a container about the host (kernel memory, timers, keys of every user,
 * firmware tables, power-capping counters an unprivileged reader could time other code with).
 */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats',
  '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
/** docker's readonlyPaths: host-wide kernel knobs a container's root must not turn. */
export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/**
 * readonlyPaths then maskedPaths as 'after-root' ops (paths inside the new root, its own
 * /proc and /sys mounted), as runc applies them; `label` names each entry in errors.
 */
export function protectedPathOps(readonlyPaths: readonly string[], maskedPaths: readonly string[],
                                 label: (field: 'readonlyPaths' | 'maskedPaths', index: number, path: string) => string): PhasedOp[] {
  return [
    ...readonlyPaths.map((path, i): PhasedOp => ({ op: 'readonly-path', path, phase: 'after-root', step: label('readonlyPaths', i, path) })),
    ...maskedPaths.map((path, i): PhasedOp => ({ op: 'mask-path', path, phase: 'after-root', step: label('maskedPaths', i, path) })),
  ];
}

/** The filesystem steps of a validated spec. */
export function filesystemSteps(spec: ContainerSpec, ctx: FilesystemContext, ownNetwork: boolean, mknod: boolean): Step[] {
  const rootfs = rootfsOf(spec, ctx.bundle);
  const e = new Emitter(rootfs, ctx.view ?? { hostPath: (c) => posix.join(rootfs, ...c) });
  const propagation = propagationOf(spec);
  const steps: Step[] = [];
  if (ctx.noPivot) {
    steps.push(mount({ propagation: propagation.before }));
    e.emit('mounts', 'root', { op: 'mount', source: rootfs, target: rootfs, flags: MS.BIND | MS.REC });
  } else {
    steps.push(mount({ propagation: propagation.before, rootfs }));
  }
  (spec.mounts ?? []).forEach((m, i) => compileMount(e, m, i, ctx, ownNetwork));
  devices(e, spec, mknod);
  if (ctx.noPivot) {
    // runc's msMoveRoot: the root moves over / and the process chroots into it (no pivot_root on ramfs).
    e.emit('root', '--no-pivot', { op: 'chdir', path: rootfs });
    e.emit('root', '--no-pivot', { op: 'mount', source: '.', target: '/', flags: MS.MOVE });
    e.emit('root', '--no-pivot', { op: 'chroot', path: '.' });
    e.emit('root', '--no-pivot', { op: 'chdir', path: '/' });
  }
  if (propagation.after !== undefined) e.emit('after-root', 'linux.rootfsPropagation', { op: 'mount', target: '/', flags: propagation.after });
  // In the container's namespaces, through its own /proc, before readonlyPaths makes /proc/sys read-only.
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    e.emit('after-root', `linux.sysctl.${key}`, { op: 'write-file', path: `/proc/sys/${key.replace(/\./g, '/')}`, data: value });
  }
  e.ops.push(...protectedPathOps(spec.linux?.readonlyPaths ?? [], spec.linux?.maskedPaths ?? [],
                                 (field, i) => `linux.${field}[${i}]`));
  if (spec.root!.readonly) {
    e.emit('after-root', 'root.readonly', { op: 'mount', target: '/', flags: MS.BIND | MS.REMOUNT | MS.RDONLY | perMountFlags(locate(rootfs).mount) });
  }
  steps.push({ name: 'oci filesystem', child: e.ops });
  return steps;
}
