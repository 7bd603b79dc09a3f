/**
 * The container's filesystem, as exec-stage ops. Two constructions:
 *
 * - `--rootfs DIR`: ns-mount binds DIR on itself and pivot_root()s into it; /proc, /dev,
 *   /sys and the volumes are mounted on destinations resolved inside DIR first (inroot.ts).
 * - the embedded default (no rootfs): a fresh tmpfs, mounted in the child's private mount
 *   namespace over a staging directory, becomes the new root. Each entry of the host's / is
 *   bound into it read-only with every mount below it, whatever directory that mount sits in
 *   (bind-tree; symlinks such as /bin -> usr/bin are recreated), except /proc,
 *   /sys, /dev, /tmp, /run and the home directory, which are fresh mounts. Every directory the
 *   exec stage creates is on that tmpfs, so nothing is ever created on the host, and the tmpfs
 *   root itself is made read-only once the program's view is complete.
 *
 * Bind sources are paths, resolved here in the runner's mount table, which the child's starts
 * as a copy of (mount_namespaces(7)). The exec stage cannot bind from an fd the runner opened:
 * that fd's mount belongs to the runner's namespace, and mount(2) refuses to bind across
 * namespaces (EINVAL). So the staging directory is chosen where it hides no source.
 */
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import { NsError, sys, usageError, type ChildOp, type MountAttr, type PhasedOp, type Step } from 'ns-core';
import { compileFsOps, locate, mount, perMountFlags, type FsOp, type PathLocation } from 'ns-mount';
import { directoryView, resolveInRoot, type RootView } from './inroot';
import type { IdRange } from 'ns-user';
import type { DetachedTrees } from './idmap';

const { MS } = sys;

/** A bind of a host path into the container. */
export interface Volume {
  readonly source: string;
  readonly dest: string;
  readonly readOnly?: boolean;
}

/** An image's root: overlayfs of its layers, with an upper directory unless read-only. */
export interface OverlayRoot {
  /** Topmost first. */
  readonly lower: readonly string[];
  /** The merged view of `lower`, where mount points are looked up. */
  readonly view: RootView;
  readonly upper?: string;
  readonly work?: string;
  /** Whiteouts and opaque marks in user.overlay.* (a store made rootless). */
  readonly userxattr: boolean;
}

export interface FilesystemSpec {
  /** The root filesystem; undefined for the embedded default (the host's / read-only). */
  readonly rootfs?: string;
  /** An image's overlay root instead of `rootfs`. */
  readonly overlay?: OverlayRoot;
  /**
   * The program's working directory, made inside the root (as container root) when the root
   * lacks it, as docker does for an image's WorkingDir or -w.
   */
  readonly workdir?: string;
  /** Remount the rootfs read-only (the embedded default always is). */
  readonly readOnly?: boolean;
  readonly volumes?: readonly Volume[];
  /** Extra tmpfs mounts (--tmpfs DEST[:OPTIONS], see parseTmpfs). */
  readonly tmpfs?: readonly string[];
  /** Bytes each fresh tmpfs (/tmp, /run, home, --tmpfs without size=) may hold; unset: the kernel's half of RAM. */
  readonly tmpfsSize?: number;
  /** Bytes /dev/shm may hold (--shm-size); unset: the kernel's half of RAM. */
  readonly shmSize?: number;
  /** A new sysfs needs a network namespace of its own; with the host's, /sys is bound read-only. */
  readonly ownNetwork: boolean;
  /** The program's home, made a private writable tmpfs in the embedded default. */
  readonly home: string;
  /** Owner of the fresh tmpfs mounts, as ids inside. */
  readonly uid: number;
  readonly gid: number;
  /**
   * Host ids the container's root has when they are not the caller's (a root runner's range
   * map): the exec stage looks bind sources up as that user, so each must be reachable by it.
   */
  readonly hostRoot?: { readonly uids: IdRange; readonly gids: IdRange };
  /**
   * Detached trees the runner made (idmapped, as root: idmap.ts), attached by fd (move-mount)
   * instead of bound by path: the rootfs's and each volume's, by index.
   */
  readonly trees?: DetachedTrees;
}

export interface Filesystem {
  readonly steps: Step[];
  /** The home the program gets ('/' when no writable home could be made, as Docker does). */
  readonly home: string;
}

/**
 * Where the embedded default may assemble its root before pivot_root, in order of preference:
 * a tmpfs is mounted over it in the child's private mount namespace only, so it must be a
 * directory whose host contents no bind needs (none of the host entries bound into the root).
 */
export const STAGING_CANDIDATES = ['/tmp', '/run', '/dev/shm'] as const;
/** Host entries that are always fresh mounts in the embedded default. */
const FRESH_TOP = ['proc', 'sys', 'dev', 'tmp', 'run'] as const;
const TMPFS_FLAGS = MS.NOSUID | MS.NODEV;

interface Emitter {
  readonly ops: PhasedOp[];
  readonly spec: FilesystemSpec;
}

/** Every op here belongs to the 'mounts' phase: before pivot_root, after the namespaces exist. */
function emit(e: Emitter, step: string, op: ChildOp): void {
  e.ops.push({ ...op, phase: 'mounts', step });
}

/** Where a mount goes: `inside` the container, under `base` before pivot_root. */
interface Placement {
  readonly base: string;
  readonly inside: string;
  /** Components of `inside` that exist already; the exec stage creates the rest. */
  readonly existingDepth: number;
  readonly kind?: 'dir' | 'file' | 'other';
}

const targetOf = (p: Placement) => posix.join(p.base, p.inside);

/** mkdir (or, for the last component of a file bind, mkfile) of what does not exist yet. */
function create(e: Emitter, step: string, p: Placement, lastIsFile = false): void {
  const parts = p.inside.split('/').filter(Boolean);
  for (let i = p.existingDepth; i < parts.length; i++) {
    const path = posix.join(p.base, ...parts.slice(0, i + 1));
    if (lastIsFile && i === parts.length - 1) emit(e, step, { op: 'mkfile', path, mode: 0o444 });
    else emit(e, step, { op: 'mkdir', path, mode: 0o755, existOk: true });
  }
}

function tmpfsData(mode: number, uid: number, gid: number, size?: number): string {
  return `mode=0${mode.toString(8)},uid=${uid},gid=${gid}${size !== undefined ? `,size=${size}` : ''}`;
}

/** A fresh tmpfs owned by the program's ids inside (interpreted in the new user namespace). */
function tmpfs(e: Emitter, step: string, p: Placement, mode: number, spec: FilesystemSpec, size?: number, flags = 0): void {
  create(e, step, p);
  emit(e, step, { op: 'mount', source: 'tmpfs', target: targetOf(p), fstype: 'tmpfs', flags: TMPFS_FLAGS | flags,
                  data: tmpfsData(mode, spec.uid, spec.gid, size ?? spec.tmpfsSize) });
}

/** --tmpfs DEST[:OPTIONS], docker's options: size=N[k|m|g], mode=OCTAL, ro|rw, noexec|exec. */
export interface TmpfsMount {
  readonly dest: string;
  readonly size?: number;
  readonly mode: number;
  readonly flags: number;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

export function parseTmpfs(spec: string): TmpfsMount {
  const colon = spec.indexOf(':');
  const dest = colon < 0 ? spec : spec.slice(0, colon);
  let size: number | undefined;
  let mode = 0o1777;
  let flags = 0;
  for (const opt of colon < 0 ? [] : spec.slice(colon + 1).split(',').filter(Boolean)) {
    const [key, value] = opt.includes('=') ? [opt.slice(0, opt.indexOf('=')), opt.slice(opt.indexOf('=') + 1)] : [opt, undefined];
    const m = key === 'size' ? /^(\d+)([bkmg]?)$/i.exec(value ?? '') : null;
    if (key === 'size' && m) size = Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!;
    else if (key === 'mode' && value !== undefined && /^[0-7]{3,4}$/.test(value)) mode = parseInt(value, 8);
    else if (opt === 'ro') flags |= MS.RDONLY;
    else if (opt === 'noexec') flags |= MS.NOEXEC;
    else if (opt !== 'rw' && opt !== 'exec' && opt !== 'nosuid' && opt !== 'nodev') {
      throw usageError(`--tmpfs: '${opt}' in '${spec}' is not size=N[k|m|g], mode=OCTAL, ro, rw, noexec, exec, nosuid or nodev`);
    }
    if (size !== undefined && (!Number.isSafeInteger(size) || size <= 0)) throw usageError(`--tmpfs: size in '${spec}' must be above 0`);
  }
  return { dest, ...(size !== undefined ? { size } : {}), mode, flags };
}

/** A bind source as the child will find it. */
interface Source {
  readonly path: string;
  readonly location: PathLocation;
  readonly isDir: boolean;
  /** A detached tree of it the runner made, which the child attaches instead of binding the path. */
  readonly tree?: number;
}

function inRange(id: number, r: IdRange): boolean {
  return id >= r.outer && id < r.outer + r.count;
}

/**
 * Resolves a bind source on the host (its symlinks are the caller's to choose), and checks the
 * container's root can walk to it: the exec stage binds as that user, and a host-owned
 * directory it may not search fails the lookup (EACCES) with no capability to help
 * (capabilities(7): CAP_DAC_* apply only to files whose owner is mapped). With a `tree` the
 * runner opened the source itself, and the child makes no lookup.
 */
function resolveSource(e: Emitter, step: string, path: string, tree?: number): Source {
  let location: PathLocation;
  try {
    location = locate(path);
  } catch (err) {
    throw NsError.from(err, { syscall: 'open', path, step });
  }
  const host = e.spec.hostRoot;
  if (host && tree === undefined) {
    for (let dir = posix.dirname(location.resolved); ; dir = posix.dirname(dir)) {
      const st = lstatSync(dir);
      const mapped = inRange(st.uid, host.uids) && inRange(st.gid, host.gids);
      if (!mapped && (st.mode & 0o001) === 0) {
        throw new NsError({ errno: 13, code: 'EACCES', syscall: 'stat', path, step,
          message: `${step}: ${path}: the container's root (host uid ${host.uids.outer}) may not search ${dir} ` +
                   `(mode 0${(st.mode & 0o777).toString(8)}), and ns-run binds as that user; choose a source it can reach` });
      }
      if (dir === '/') break;
    }
  }
  return { path, location, isDir: lstatSync(location.resolved).isDirectory(), ...(tree !== undefined ? { tree } : {}) };
}

/**
 * Binds a source's whole mount tree on target (bind-tree: a detached clone, its flags set
 * before it is attached), read-only with every mount it carries if asked. mount_setattr(2)
 * adds flags to each mount's own, so each keeps its nosuid/nodev/noexec, and it reaches mounts
 * below directories the container may not search (a tmpfs under a 0700 directory, podman's
 * storage), where a remount by path fails with EACCES.
 */
function bind(e: Emitter, step: string, source: Source, target: string, readOnly: boolean, extra: readonly MountAttr[] = []): void {
  // The runner made it read-only already, if asked (idmap.ts).
  if (source.tree !== undefined) return emit(e, step, { op: 'move-mount', fd: source.tree, target });
  const set: MountAttr[] = [...(readOnly ? ['RDONLY' as const] : []), ...extra];
  emit(e, step, { op: 'bind-tree', source: source.location.resolved, target, recursive: true, ...(set.length ? { set } : {}) });
}

/** Checks a container path given on the command line. */
function checkInside(option: string, dest: string): string {
  if (!dest.startsWith('/')) throw usageError(`${option}: '${dest}' must be an absolute path inside the container`);
  const normal = posix.normalize(dest).replace(/\/+$/, '') || '/';
  if (normal === '/') throw usageError(`${option}: cannot mount over the container's /`);
  return normal;
}

function refuseSystemDirs(option: string, dest: string, inside: string): void {
  for (const reserved of ['/proc', '/sys']) {
    if (under(inside, reserved)) throw usageError(`${option}: ${dest} leads into ${reserved}, which ns-run mounts itself`);
  }
}

/** The steps for a container's filesystem. */
export function assembleFilesystem(spec: FilesystemSpec): Filesystem {
  const e: Emitter = { ops: [], spec };
  if (spec.overlay) return overlayRoot(spec.overlay, spec, e);
  if (spec.rootfs === undefined) return embeddedDefault(spec, e);
  return spec.trees?.rootfs !== undefined ? attachedRootfs(spec.rootfs, spec.trees.rootfs, spec, e) : ownRootfs(spec.rootfs, directoryView(spec.rootfs), spec, e);
}

/** The volumes of `spec` as sources, each with the detached tree the runner made of it, if any. */
function volumeSources(e: Emitter): (Volume & { src: Source })[] {
  return (e.spec.volumes ?? []).map((v, i) => ({ ...v, src: resolveSource(e, '--volume', v.source, e.spec.trees?.volumes[i]) }));
}

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/** The first candidate that exists as a directory and hides none of the sources. */
function stagingDir(sources: readonly string[]): string {
  for (const dir of STAGING_CANDIDATES) {
    let st;
    try {
      st = lstatSync(dir);
    } catch (err) {
      // Not on this machine: try the next.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    if (st.isDirectory() && !sources.some((s) => under(s, dir) || under(dir, s))) return dir;
  }
  throw usageError(`--volume: every place to stage the root in (${STAGING_CANDIDATES.join(', ')}) holds a volume source; bind from elsewhere`);
}

function normalHome(home: string): string {
  if (!home.startsWith('/')) throw usageError(`home directory '${home}' must be absolute`);
  return posix.normalize(home).replace(/\/+$/, '') || '/';
}

function embeddedDefault(spec: FilesystemSpec, e: Emitter): Filesystem {
  const home = normalHome(spec.home);
  const freshTop = FRESH_TOP.map((n) => `/${n}`);
  const inFresh = (fresh: readonly string[]) => (p: string) => fresh.some((f) => under(p, f));
  // A home at the top level becomes a fresh tmpfs in the new root; a deeper one is covered by
  // a tmpfs only where it exists on the host (we cannot create in the read-only host tree).
  let writableHome: string | undefined;
  if (home !== '/') {
    const placed = resolveInRoot('/', home, 'home', inFresh(freshTop));
    if (placed.inside.split('/').length === 2 || inFresh(freshTop)(placed.inside) || placed.kind === 'dir') writableHome = placed.inside;
  }
  const skipped = writableHome && writableHome.split('/').length === 2 ? [...freshTop, writableHome] : freshTop;
  const fresh = writableHome ? [...freshTop, writableHome] : freshTop;

  const entries = readdirSync('/', { withFileTypes: true }).filter((d) => !skipped.includes(`/${d.name}`));
  // Sockets, fifos and devices at / are not part of a filesystem view; they are left out.
  const bound = entries.filter((d) => d.isDirectory() || d.isFile()).map((d) => resolveSource(e, 'rootfs', `/${d.name}`));
  const volumes = volumeSources(e);
  const system = ['/dev', ...(spec.ownNetwork ? [] : ['/sys'])];
  const base = stagingDir([...bound, ...volumes.map((v) => v.src)].map((s) => s.location.resolved).concat(system));
  const at = (inside: string, existingDepth = 0): Placement => ({ base, inside, existingDepth });

  emit(e, 'rootfs', { op: 'mount', source: 'tmpfs', target: base, fstype: 'tmpfs', flags: TMPFS_FLAGS, data: tmpfsData(0o755, spec.uid, spec.gid) });
  for (const entry of entries) {
    if (entry.isSymbolicLink()) emit(e, 'rootfs', { op: 'symlink', target: readlinkSync(`/${entry.name}`), path: posix.join(base, entry.name) });
  }
  for (const source of bound) {
    create(e, 'rootfs', at(source.path), !source.isDir);
    bind(e, 'rootfs', source, posix.join(base, source.path), true);
  }
  tmpfs(e, 'rootfs', at('/tmp'), 0o1777, spec);
  tmpfs(e, 'rootfs', at('/run'), 0o755, spec);
  e.ops.push(...compileFsOps(systemMounts(spec), base));
  if (!spec.ownNetwork) bindSys(e, at('/sys'));
  if (writableHome) {
    const depth = writableHome.split('/').length - 1;
    tmpfs(e, 'home', at(writableHome, inFresh(freshTop)(writableHome) ? 1 : depth === 1 ? 0 : depth), 0o700, spec);
  }

  const place = (option: string, dest: string): Placement => {
    const r = resolveInRoot('/', dest, option, inFresh(fresh));
    refuseSystemDirs(option, dest, r.inside);
    const freshRoot = fresh.find((f) => under(r.inside, f));
    // Below a fresh mount only what earlier ops made exists: create the whole path.
    if (freshRoot !== undefined) return at(r.inside, freshRoot.split('/').length - 1);
    if (r.kind !== undefined) return { ...at(r.inside, r.existingDepth), kind: r.kind };
    // A new top-level directory goes on the tmpfs root; deeper, the parent is the host's.
    if (r.existingDepth === 0) return at(r.inside);
    throw usageError(`${option}: ${dest} does not exist, and ${posix.dirname(r.inside)} is part of the host's read-only tree ` +
                     '(choose an existing path, a new top-level directory, or one under /tmp or /run)');
  };
  placeMounts(spec, e, place, volumes);
  e.ops.push({ op: 'pivot-root', newRoot: base, phase: 'root', step: 'rootfs' });
  // The tmpfs root is complete: make it read-only too, like the host tree bound into it.
  e.ops.push({ op: 'mount', target: '/', flags: MS.BIND | MS.REMOUNT | MS.RDONLY | TMPFS_FLAGS, phase: 'after-root', step: 'rootfs' });
  return { steps: [mount({ propagation: 'private' }), { name: 'ns-run filesystem', child: e.ops }], home: writableHome ?? '/' };
}

/**
 * An image's root: the overlay is mounted on a staging directory (as in the embedded default,
 * one that hides no volume source), which then becomes the root like a --rootfs directory,
 * its mount points looked up in the layers' merged view. As root the runner made it, a
 * detached overlay of idmapped layers (idmap.ts), which is attached there instead; rootless
 * the container's root mounts it in its own user namespace, where the layers are its own.
 */
function overlayRoot(overlay: OverlayRoot, spec: FilesystemSpec, e: Emitter): Filesystem {
  const base = stagingDir(volumeSources(e).map((v) => v.src.location.resolved));
  if (spec.trees?.rootfs !== undefined) return attachRoot(ownRootfs(base, overlay.view, spec, e), base, spec.trees.rootfs);
  const mountOps = compileFsOps([{
    op: 'overlay', lower: overlay.lower, dest: base, ...(overlay.userxattr ? { userxattr: true } : {}),
    ...(overlay.upper !== undefined ? { upper: overlay.upper, work: overlay.work! } : {}),
  }]).map((op) => ({ ...op, step: 'image root' }));
  const fs = ownRootfs(base, overlay.view, spec, e);
  // The first mount of the container's namespace, before the root's bind onto itself.
  const [mountStep, ...rest] = fs.steps;
  const child = [...(mountStep!.child ?? [])];
  const firstMount = child.findIndex((op) => op.phase !== 'propagation');
  child.splice(firstMount < 0 ? child.length : firstMount, 0, ...mountOps);
  return { ...fs, steps: [{ ...mountStep!, child }, ...rest] };
}

/** `fs` with the detached tree `tree` attached at `base` in place of the bind of `base` onto itself. */
function attachRoot(fs: Filesystem, base: string, tree: number): Filesystem {
  const [mountStep, ...rest] = fs.steps;
  const isSelfBind = (op: PhasedOp) => op.op === 'mount' && op.source === base && op.target === base && op.step === '--rootfs';
  const ops = mountStep!.child ?? [];
  // Without it the staging directory itself (the host's /tmp) would become the root.
  if (ops.filter(isSelfBind).length !== 1) throw new Error(`rootfs: ns-mount's plan has no single bind of ${base} onto itself to attach the root in place of`);
  const child = ops.map((op): PhasedOp => (isSelfBind(op) ? { op: 'move-mount', fd: tree, target: base, phase: op.phase, step: '--rootfs' } : op));
  return { ...fs, steps: [{ ...mountStep!, child }, ...rest] };
}

/**
 * A --rootfs the runner made a detached (idmapped) tree of: attached on a staging directory
 * (one that hides no volume source) in place of the bind of the directory onto itself, then
 * made the root like any --rootfs. No directory on the host's way to it is looked up by the
 * container's root, who may not search it (a rootfs under /root).
 */
function attachedRootfs(rootfs: string, tree: number, spec: FilesystemSpec, e: Emitter): Filesystem {
  const root = rootSource(e, rootfs, tree);
  const base = stagingDir(volumeSources(e).map((v) => v.src.location.resolved));
  return attachRoot(ownRootfs(base, directoryView(root.location.resolved), spec, e, root), base, tree);
}

function rootSource(e: Emitter, rootfs: string, tree?: number): Source {
  const root = resolveSource(e, '--rootfs', rootfs, tree);
  if (!root.isDir) throw new NsError({ errno: 20, syscall: 'stat', path: rootfs, step: '--rootfs' });
  return root;
}

/**
 * `rootfs` bound onto itself and made the root. `flagsOf`: the root as the user gave it, whose
 * mount's flags a --read-only remount keeps, when `rootfs` is where it was attached.
 */
function ownRootfs(rootfs: string, view: RootView, spec: FilesystemSpec, e: Emitter, flagsOf?: Source): Filesystem {
  const root = rootSource(e, rootfs);
  const dir = root.location.resolved;
  const place = (option: string, dest: string): Placement => {
    const r = resolveInRoot(view, dest, option);
    refuseSystemDirs(option, dest, r.inside);
    return { base: dir, inside: r.inside, existingDepth: r.existingDepth, ...(r.kind ? { kind: r.kind } : {}) };
  };
  // The system mounts' destinations are resolved inside the root like any other.
  const systemOps = systemMounts(spec).map((op) => ({ ...op, dest: resolveInRoot(view, op.dest, 'rootfs').inside }));
  const mountStep = mount({ propagation: 'private', rootfs: dir, ops: systemOps });
  if (!spec.ownNetwork) {
    const sysfs = resolveInRoot(view, '/sys', 'rootfs');
    bindSys(e, { base: dir, inside: sysfs.inside, existingDepth: sysfs.existingDepth });
  }
  if (spec.readOnly) {
    // podman's --read-only-tmpfs: a read-only root still has writable scratch space.
    for (const [scratch, mode] of [['/tmp', 0o1777], ['/run', 0o755]] as const) {
      const p = place('--read-only', scratch);
      if (p.kind === 'dir') tmpfs(e, '--read-only', p, mode, spec);
    }
  }
  placeMounts(spec, e, place, volumeSources(e));
  if (spec.workdir !== undefined) createWorkdir(e, spec, spec.workdir, place);
  if (spec.readOnly) {
    e.ops.push({ op: 'mount', target: '/', flags: MS.BIND | MS.REMOUNT | MS.RDONLY | perMountFlags((flagsOf ?? root).location.mount),
                 phase: 'after-root', step: '--read-only' });
  }
  return { steps: [mountStep, { name: 'ns-run filesystem', child: e.ops }], home: normalHome(spec.home) };
}

/**
 * The working directory, if the root lacks it: made as container root after the mounts (so a
 * path through a volume or tmpfs is made there), before a --read-only root is remounted
 * read-only. An image's container then has an upper layer for it (image.ts: writableLayer);
 * a read-only --rootfs is the user's own directory, left as it is (chdir then fails naming
 * the path). Not below /proc or /sys.
 */
function createWorkdir(e: Emitter, spec: FilesystemSpec, workdir: string, place: (option: string, dest: string) => Placement): void {
  if ((spec.readOnly && spec.overlay?.upper === undefined) || !workdir.startsWith('/') || ['/proc', '/sys'].some((d) => under(posix.normalize(workdir), d))) return;
  const mounted = [...(spec.volumes ?? []).map((v) => v.dest), ...(spec.tmpfs ?? []).map((t) => parseTmpfs(t).dest)].map((d) => posix.normalize(d));
  if (mounted.some((d) => under(posix.normalize(workdir), d))) return; // what is there is known only once it is mounted
  const p = place('--workdir', workdir);
  if (p.kind === undefined) create(e, '--workdir', p);
}

/** /proc, a minimal /dev, and (with a network namespace of its own) a read-only sysfs. */
function systemMounts(spec: Pick<FilesystemSpec, 'ownNetwork' | 'shmSize'>): FsOp[] {
  return [{ op: 'proc', dest: '/proc' }, { op: 'dev', dest: '/dev', ...(spec.shmSize !== undefined ? { shmSize: spec.shmSize } : {}) },
          ...(spec.ownNetwork ? [{ op: 'sysfs' as const, dest: '/sys' }] : [])];
}

/**
 * With the host's network namespace a new sysfs cannot be mounted without privilege over it
 * (sysfs belongs to the network namespace that mounts it): bind the host's read-only instead.
 */
function bindSys(e: Emitter, p: Placement): void {
  create(e, 'sysfs', p);
  // As a sysfs of its own would be mounted (and as Docker does): no setuid, devices or programs.
  bind(e, 'sysfs', resolveSource(e, 'sysfs', '/sys'), targetOf(p), true, ['NOSUID', 'NODEV', 'NOEXEC']);
}

/** --tmpfs and -v mounts, in that order, on destinations the construction placed. */
function placeMounts(spec: FilesystemSpec, e: Emitter, place: (option: string, dest: string) => Placement,
                     volumes: readonly (Volume & { src: Source })[]): void {
  for (const text of spec.tmpfs ?? []) {
    const t = parseTmpfs(text);
    const dest = t.dest;
    const p = place('--tmpfs', checkInside('--tmpfs', dest));
    if (p.kind !== undefined && p.kind !== 'dir') throw usageError(`--tmpfs: ${dest} is not a directory inside the container`);
    tmpfs(e, '--tmpfs', p, t.mode, spec, t.size, t.flags);
  }
  for (const v of volumes) {
    const dest = checkInside('--volume', v.dest);
    const p = place('--volume', dest);
    if (p.kind !== undefined && (p.kind === 'dir') !== v.src.isDir) {
      throw usageError(`--volume: cannot bind ${v.src.isDir ? 'directory' : 'file'} ${v.source} on ${dest}, ` +
                       `which is ${p.kind === 'dir' ? 'a directory' : 'not a directory'} inside the container`);
    }
    create(e, '--volume', p, !v.src.isDir);
    bind(e, '--volume', v.src, targetOf(p), v.readOnly ?? false);
  }
}
