/**
 * Writes one layer's tar entries into a fresh directory that only this process writes to,
 * so that what is created can be checked once and trusted afterwards:
 *
 * - Entry names are relative, cleaned of '.' and empty components; '..' anywhere, or a leading
 *   '/', refuses the layer. Nothing is ever opened through a symlink: every parent component
 *   must be a directory this layer made or found (lstat, never stat), and files are created
 *   with O_CREAT|O_EXCL|O_NOFOLLOW after removing whatever the name held before.
 * - Symlinks are stored as they are: their targets are resolved inside the container's root at
 *   run time, never by us. Writing *through* a symlink planted earlier in the same layer
 *   refuses the layer; a symlink in a lower layer is never seen here, because each layer gets
 *   its own directory (overlayfs then shows this layer's directory over the lower symlink,
 *   as docker's overlay2 does).
 * - Hard links must name an entry already in this layer, reached without symlinks, that is not
 *   a directory.
 * - Whiteouts become what overlayfs reads (Documentation/filesystems/overlayfs.rst): `.wh.NAME`
 *   a character device 0:0 named NAME (mknod of 0:0 needs no privilege since Linux 5.8);
 *   `.wh..wh..opq` the opaque xattr on its directory, "trusted.overlay.opaque" for a mount made
 *   by real root and "user.overlay.opaque" for one made in a user namespace with -o userxattr
 *   (root stores set both, so either kind of mount reads them).
 * - As root, owners, modes (setuid/setgid included), mtimes, device nodes and xattrs are kept.
 *   Rootless, every file belongs to the caller (a container maps the caller to its root, so
 *   they belong to the container's root); modes including setuid/setgid are kept, since only
 *   the caller can reach the store (0700) and inside a user namespace they grant nothing the
 *   container's root does not have; device nodes refuse the layer; only user.* xattrs are kept
 *   (the kernel lets no one else set security.* or trusted.*).
 * - xattrs that steer overlayfs itself (trusted.overlay.*, user.overlay.*) refuse the layer:
 *   a redirect or metacopy planted by an image would change what the container sees.
 */
import * as fs from 'node:fs';
import { NsError } from 'ns-core/errors';
import * as sys from 'ns-core/sys';
import type { Where } from './errors';
import type { EntrySink, TarEntry } from './tarstream';

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const WRITE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
const NAME_MAX = 255;
/** Files at least this large are written behind (see file()); at most this much in flight. */
const WRITE_BEHIND_MIN = 1 << 20;
const WRITE_BEHIND_MAX = 16 << 20;
const PATH_MAX = 4095;

export interface UnpackPolicy {
  readonly rootless: boolean;
  /** Most entries one layer may have. */
  readonly maxEntries: number;
}

interface DirMeta {
  mode: number;
  mtime: Date | undefined;
  atime: Date | undefined;
}

export class LayerWriter {
  /** Directories (relative) known to be real directories of this layer, checked once. */
  private readonly dirs = new Set<string>(['']);
  /** Modes and times applied to directories at the end, after their children are written. */
  private readonly dirMeta = new Map<string, DirMeta>();
  private count = 0;
  private inflight = 0;
  private readonly pending = new Set<Promise<void>>();
  /** Files opened and not yet closed (an entry still being written). */
  private readonly open = new Set<number>();
  private readonly waiters: (() => void)[] = [];
  private failure: unknown;

  constructor(readonly root: string, private readonly policy: UnpackPolicy, private readonly where: Where) {}

  /** For TarReader: creates the entry, returns where its data goes (regular files only). */
  readonly onEntry = (entry: TarEntry): EntrySink | undefined => {
    if (++this.count > this.policy.maxEntries) throw this.fail(entry, `more than ${this.policy.maxEntries} entries in one layer`);
    const parts = this.clean(entry);
    const base = parts[parts.length - 1] ?? '';
    if (base.startsWith(WHITEOUT_PREFIX)) {
      this.whiteout(entry, parts.slice(0, -1), base);
      return undefined;
    }
    if (parts.length === 0) {
      if (entry.type !== 'Directory') throw this.fail(entry, `a ${entry.type} cannot replace the layer's root`);
      this.directory(entry, '');
      return undefined;
    }
    const rel = parts.join('/');
    this.parents(entry, parts.slice(0, -1));
    const write = Object.hasOwn(this.writers, entry.type) ? this.writers[entry.type] : undefined;
    if (!write) throw this.fail(entry, `unsupported entry type ${entry.type}`);
    return write(entry, rel) ?? undefined;
  };

  /** How each type of entry is written (tar(5)'s, and GNU's dump directory); only regular files take data. */
  private readonly writers: Readonly<Record<string, (entry: TarEntry, rel: string) => EntrySink | void>> = {
    Directory: (e, rel) => this.directory(e, rel),
    GNUDumpDir: (e, rel) => this.directory(e, rel),
    File: (e, rel) => this.file(e, rel),
    OldFile: (e, rel) => this.file(e, rel),
    ContiguousFile: (e, rel) => this.file(e, rel),
    SymbolicLink: (e, rel) => this.symlink(e, rel),
    Link: (e, rel) => this.hardlink(e, rel),
    CharacterDevice: (e, rel) => this.special(e, rel),
    BlockDevice: (e, rel) => this.special(e, rel),
    FIFO: (e, rel) => this.special(e, rel),
  };

  /** Directory modes and times, last: creating children changes a directory's mtime. */
  finish(): void {
    for (const [rel, meta] of this.dirMeta) {
      const path = this.abs(rel);
      this.attempt(undefined, () => {
        fs.chmodSync(path, meta.mode);
        if (meta.mtime) fs.lutimesSync(path, meta.atime ?? meta.mtime, meta.mtime);
      });
    }
  }

  private abs(rel: string): string {
    return rel ? `${this.root}/${rel}` : this.root;
  }

  private fail(entry: TarEntry | undefined, what: string) {
    return this.where.error('EIMAGE', entry ? `entry ${JSON.stringify(entry.path)}: ${what}` : what);
  }

  /** Runs a filesystem call, turning its failure into one line naming the entry. */
  private attempt<T>(entry: TarEntry | undefined, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw this.syscallError(entry, e);
    }
  }

  /** 'entry "usr/bin/x": write failed: ENOSPC', keeping the errno name as the code. */
  private syscallError(entry: TarEntry | undefined, e: unknown): unknown {
    const err = e as NodeJS.ErrnoException & { syscall?: string };
    // Our own refusals pass through; failed syscalls (node:fs's, or ns-core's with a syscall) are re-said.
    if (e instanceof NsError ? e.syscall === undefined : !(err?.code && typeof err.errno === 'number')) return e;
    const code = err.code!;
    const what = `${err.syscall ?? 'operation'} failed: ${code}`;
    return new NsError({
      errno: Math.abs(err.errno ?? 0), code, syscall: err.syscall ?? 'operation',
      message: [...this.where.parts, entry ? `entry ${JSON.stringify(entry.path)}: ${what}` : `${err.path ?? this.root}: ${what}`].join(': '),
      ...(entry ? { path: entry.path } : err.path ? { path: err.path } : {}),
    });
  }

  /** The entry's name as components, or a refusal for anything that could leave the layer. */
  private clean(entry: TarEntry): string[] {
    const name = entry.path;
    if (name.startsWith('/')) throw this.fail(entry, 'absolute path');
    if (Buffer.byteLength(name) > PATH_MAX) throw this.fail(entry, `path longer than ${PATH_MAX} bytes`);
    const parts = name.split('/').filter((p) => p !== '' && p !== '.');
    for (const p of parts) {
      if (p === '..') throw this.fail(entry, "path has a '..' component");
      if (Buffer.byteLength(p) > NAME_MAX) throw this.fail(entry, `a path component longer than ${NAME_MAX} bytes`);
    }
    return parts;
  }

  /**
   * Makes sure every parent is a real directory of this layer, creating missing ones 0755 as
   * docker does; a symlink or a file where a directory should be refuses the layer.
   */
  private parents(entry: TarEntry, parts: readonly string[]): void {
    let rel = '';
    for (const p of parts) {
      rel = rel ? `${rel}/${p}` : p;
      if (this.dirs.has(rel)) continue;
      const st = this.lstat(rel);
      if (!st) {
        this.attempt(entry, () => {
          fs.mkdirSync(this.abs(rel), 0o755);
          fs.chmodSync(this.abs(rel), 0o755);
        });
      } else if (!st.isDirectory()) {
        throw this.fail(entry, `${JSON.stringify(rel)} is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'} in this layer, and nothing is written through it`);
      }
      this.dirs.add(rel);
    }
  }

  private lstat(rel: string): fs.Stats | undefined {
    return fs.lstatSync(this.abs(rel), { throwIfNoEntry: false });
  }

  /** Removes what REL holds (a directory with everything below it) so a new entry takes the name. */
  private replace(rel: string, keepDirectory = false): boolean {
    const st = this.lstat(rel);
    if (!st) return false;
    if (st.isDirectory()) {
      if (keepDirectory) return true;
      removeTree(this.abs(rel));
      for (const set of [this.dirs, this.dirMeta]) {
        for (const k of set.keys()) if (k === rel || k.startsWith(`${rel}/`)) set.delete(k);
      }
      return false;
    }
    fs.unlinkSync(this.abs(rel));
    return false;
  }

  private directory(entry: TarEntry, rel: string): void {
    if (rel && !this.replace(rel, true)) this.attempt(entry, () => fs.mkdirSync(this.abs(rel), 0o700));
    this.dirs.add(rel);
    this.metadata(entry, rel, false, true);
    this.dirMeta.set(rel, { mode: entry.mode, mtime: entry.mtime, atime: entry.atime });
  }

  private file(entry: TarEntry, rel: string): EntrySink {
    this.replace(rel);
    const path = this.abs(rel);
    const fd = this.attempt(entry, () => fs.openSync(path, WRITE_FLAGS, 0o600));
    this.open.add(fd);
    const finish = () => {
      this.open.delete(fd);
      try {
        this.attempt(entry, () => {
          if (!this.policy.rootless) fs.fchownSync(fd, entry.uid, entry.gid);
          this.xattrs(entry, path, false);
          fs.fchmodSync(fd, entry.mode);
          if (entry.mtime) fs.futimesSync(fd, entry.atime ?? entry.mtime, entry.mtime);
        });
      } finally {
        fs.closeSync(fd);
      }
    };
    // xattrs are set by path (there is no fsetxattr binding) and only after the data, since a
    // write drops security.capability: such files are written here, while the name is theirs.
    if (entry.size < WRITE_BEHIND_MIN || entry.xattrs.size > 0) {
      return {
        data: (chunk) => this.attempt(entry, () => writeAllSync(fd, chunk)),
        end: finish,
      };
    }
    // Large files are written behind: the thread pool copies one chunk into the page cache
    // while this thread hashes the next. Writes go by fd at explicit offsets, so no path is
    // resolved off this thread, and the metadata follows once every write has landed.
    let position = 0;
    const writes: Promise<void>[] = [];
    return {
      data: (chunk) => {
        const at = position;
        position += chunk.length;
        this.inflight += chunk.length;
        const write = writeAll(fd, chunk, at).finally(() => { this.inflight -= chunk.length; this.wake(); });
        writes.push(write);
        // Its failure is reported by end(), with the entry's name; here it is only waited for.
        this.track(write.catch(() => {}));
      },
      end: () => {
        this.track(Promise.allSettled(writes).then((rs) => {
          const bad = rs.find((r): r is PromiseRejectedResult => r.status === 'rejected');
          if (bad) {
            this.open.delete(fd);
            fs.closeSync(fd);
            throw this.syscallError(entry, bad.reason);
          }
          finish();
        }));
      },
    };
  }

  /** Keeps P until it settles; its failure is the layer's. */
  private track(p: Promise<void>): Promise<void> {
    const kept = p.catch((e: unknown) => { this.failure ??= e; });
    this.pending.add(kept);
    void kept.finally(() => this.pending.delete(kept));
    return kept;
  }

  private wake(): void {
    if (this.inflight > WRITE_BEHIND_MAX / 2) return;
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when the bytes written behind are few enough to take more; undefined if they are already. */
  backpressure(): Promise<void> | undefined {
    if (this.inflight <= WRITE_BEHIND_MAX) return undefined;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * After a failure or a cut stream: waits for writes in flight, then closes the files whose
   * entries never ended. Their directory is the session's, removed with it.
   */
  async abandon(): Promise<void> {
    await this.settle().catch(() => {});
    for (const fd of this.open) fs.closeSync(fd);
    this.open.clear();
  }

  /** Every write behind landed and every file's metadata applied; throws the first failure. */
  async settle(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
    if (this.failure) throw this.failure;
  }

  private hardlink(entry: TarEntry, rel: string): void {
    const target = entry.linkpath!;
    if (target.startsWith('/')) throw this.fail(entry, `hard link to an absolute path ${JSON.stringify(target)}`);
    const parts = target.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) throw this.fail(entry, `hard link to ${JSON.stringify(target)}, outside the layer`);
    if (parts.length === 0) throw this.fail(entry, 'hard link to the layer root');
    let dir = '';
    for (const p of parts.slice(0, -1)) {
      dir = dir ? `${dir}/${p}` : p;
      if (this.dirs.has(dir)) continue;
      if (!this.lstat(dir)?.isDirectory()) {
        throw this.fail(entry, `hard link to ${JSON.stringify(target)}, which is not reached through this layer's own directories`);
      }
    }
    const targetRel = parts.join('/');
    if (targetRel === rel) return;
    const st = this.lstat(targetRel);
    if (!st) throw this.fail(entry, `hard link to ${JSON.stringify(target)}, which is not in this layer`);
    if (st.isDirectory()) throw this.fail(entry, `hard link to the directory ${JSON.stringify(target)}`);
    this.replace(rel);
    // link(2) does not follow a symlink at oldpath on Linux: a link to a symlink stays one.
    this.attempt(entry, () => fs.linkSync(this.abs(targetRel), this.abs(rel)));
  }

  private symlink(entry: TarEntry, rel: string): void {
    this.replace(rel);
    this.attempt(entry, () => fs.symlinkSync(entry.linkpath!, this.abs(rel)));
    this.metadata(entry, rel, true);
  }

  private special(entry: TarEntry, rel: string): void {
    let mode: number;
    if (entry.type === 'FIFO') mode = S_IFIFO;
    else if (this.policy.rootless) throw this.fail(entry, `${entry.type === 'BlockDevice' ? 'block' : 'character'} device ${entry.devmajor}:${entry.devminor}, which a rootless store does not create`);
    else mode = entry.type === 'BlockDevice' ? S_IFBLK : S_IFCHR;
    this.replace(rel);
    const path = this.abs(rel);
    this.attempt(entry, () => sys.mknod(path, mode | 0o600, sys.makedev(entry.devmajor, entry.devminor)));
    this.metadata(entry, rel, false);
    this.attempt(entry, () => fs.chmodSync(path, entry.mode));
  }

  private whiteout(entry: TarEntry, parentParts: string[], base: string): void {
    this.parents(entry, parentParts);
    const parent = parentParts.join('/');
    if (base === OPAQUE_MARKER) {
      const path = this.abs(parent);
      for (const name of this.opaqueXattrs()) this.attempt(entry, () => sys.lsetxattr(path, name, Buffer.from('y')));
      return;
    }
    // aufs's own metadata (.wh..wh.plnk, .wh..wh.aufs): nothing to apply.
    if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return;
    const name = base.slice(WHITEOUT_PREFIX.length);
    if (name === '' || name === '.' || name === '..') throw this.fail(entry, 'whiteout without a name');
    const rel = parent ? `${parent}/${name}` : name;
    this.replace(rel);
    this.attempt(entry, () => sys.mknod(this.abs(rel), S_IFCHR | 0o600, 0n));
  }

  private opaqueXattrs(): string[] {
    return this.policy.rootless ? ['user.overlay.opaque'] : ['trusted.overlay.opaque', 'user.overlay.opaque'];
  }

  private metadata(entry: TarEntry, rel: string, symlink: boolean, directory = false): void {
    const path = this.abs(rel);
    this.attempt(entry, () => {
      if (!this.policy.rootless) fs.lchownSync(path, entry.uid, entry.gid);
      this.xattrs(entry, path, symlink);
      if (symlink && entry.mtime) fs.lutimesSync(path, entry.atime ?? entry.mtime, entry.mtime);
      if (!symlink && !directory && entry.mtime) fs.lutimesSync(path, entry.atime ?? entry.mtime, entry.mtime);
    });
  }

  private xattrs(entry: TarEntry, path: string, symlink: boolean): void {
    for (const [name, value] of entry.xattrs) {
      if (/^(trusted|user)\.overlay\./.test(name)) throw this.fail(entry, `xattr ${name} would steer overlayfs`);
      if (this.policy.rootless && !name.startsWith('user.')) continue;
      // user.* attributes exist on regular files and directories only (xattr(7)).
      if (symlink && name.startsWith('user.')) continue;
      sys.lsetxattr(path, name, value);
    }
  }
}

function writeAllSync(fd: number, chunk: Buffer): void {
  let off = 0;
  while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
}

function writeAll(fd: number, chunk: Buffer, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (off: number) => {
      fs.write(fd, chunk, off, chunk.length - off, position + off, (err, n) => {
        if (err) return reject(err);
        if (off + n < chunk.length) return step(off + n);
        resolve();
      });
    };
    step(0);
  });
}

/**
 * rm -rf that also works rootless on trees whose modes deny the owner (a 0555 /proc, a 0000
 * /etc/shadow directory): directories are made 0700 before their entries go.
 */
export function removeTree(path: string): void {
  const st = fs.lstatSync(path, { throwIfNoEntry: false });
  if (!st) return;
  if (!st.isDirectory()) {
    fs.unlinkSync(path);
    return;
  }
  if ((st.mode & 0o700) !== 0o700) fs.chmodSync(path, 0o700);
  for (const name of fs.readdirSync(path)) removeTree(`${path}/${name}`);
  fs.rmdirSync(path);
}
