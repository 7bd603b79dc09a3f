/**
 * The content-addressed image store.
 *
 *   ROOT/store.json            {"version":1,"owner":UID}: who made the store, checked on open
 *   ROOT/lock                  flock(2) target: held only for short sections that read and
 *                              change the index or move directories in or out of layers/
 *   ROOT/index.json            images (by config digest), their tags and digests, and which
 *                              blob digest unpacks to which layer; replaced atomically
 *   ROOT/blobs/sha256/HEX      manifests and configs, as received
 *   ROOT/layers/HEX/diff       a layer unpacked, HEX its diff_id (the sha256 of its tar):
 *                              one directory per layer, shared by every image that has it
 *   ROOT/layers/HEX/layer.json its size and the blob it came from
 *   ROOT/containers/ID/        a container's upper and work directories, and which image
 *   ROOT/tmp/                  private directories of running writers, each held with flock
 *
 * A layer is unpacked inside its writer's private directory, synced (syncfs), and only then
 * renamed into layers/: a process killed at any point leaves either nothing there or a whole
 * layer. A private directory nobody holds a lock on belongs to a dead writer and is removed
 * by the next writer. Removal goes the other way: out of the index first, then out of
 * layers/ by rename into a private directory, then deleted.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { NsError, usageError } from 'ns-core/errors';
import * as sys from 'ns-core/sys';
import { imageError, shortDigest, Where } from './errors';
import { fsyncDir, readFileCapped, sleepSync, writeFileAtomic } from './fsutil';
import { parseConfig, type ContainerConfig, type ImageConfig } from './manifest';
import {
  familiarReference, formatReference, parseImageId, parseReference, repositoryName, withDefaultTag, type ImageReference,
} from './reference';
import { removeTree } from './unpack';

export interface StoreOptions {
  /** The store directory. Default: defaultStoreRoot(). The CLI maps --storage and NS_RUN_STORAGE here. */
  readonly root?: string;
  /** How long to wait for another process's critical section on the store. Default 60 s. */
  readonly lockTimeoutMs?: number;
}

/** `/var/lib/ns-run` for root, `${XDG_DATA_HOME:-~/.local/share}/ns-run` for everyone else. */
export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env, euid: number = process.geteuid!()): string {
  if (euid === 0) return '/var/lib/ns-run';
  const xdg = env.XDG_DATA_HOME;
  // XDG Base Directory spec: a relative XDG_DATA_HOME is invalid and must be ignored.
  const base = xdg && isAbsolute(xdg) ? xdg : `${env.HOME || homedir()}/.local/share`;
  return `${base}/ns-run`;
}

export interface ImageRecord {
  /** 'sha256:...' of the config: docker's image id. */
  readonly id: string;
  readonly manifest?: string;
  /** diff_ids, base layer first. */
  readonly layers: readonly string[];
  /** Canonical references: 'docker.io/library/busybox:latest'. */
  readonly repoTags: readonly string[];
  /** Canonical 'name@sha256:...' the image was pulled by. */
  readonly repoDigests: readonly string[];
  readonly created?: string;
  /** Bytes of its layers' tars, uncompressed. */
  readonly size: number;
  /** When this store got it. */
  readonly loaded: string;
}

interface IndexFile {
  version: 1;
  images: Record<string, ImageRecord>;
  /** Blob digest -> diff_id, for blobs that are compressed forms of a stored layer. */
  blobs: Record<string, string>;
}

/** An image ready to be recorded: its layers are in the store or in the session. */
export interface PendingImage {
  readonly id: string;
  readonly config: Buffer;
  readonly manifest?: { readonly digest: string; readonly bytes: Buffer };
  readonly layers: readonly string[];
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
  readonly created?: string;
}

/** What load and pull report: what the CLI prints ("Loaded image: busybox:latest"). */
export interface LoadedImage {
  readonly id: string;
  /** Familiar references now pointing at it ('busybox:latest'); empty for an untagged image. */
  readonly references: readonly string[];
  /** Names the source gave that are not references (an OCI layout's bare "ref.name" tag). */
  readonly unnamed?: readonly string[];
}

export interface ImageSummary {
  readonly id: string;
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
  readonly created?: string;
  readonly size: number;
  readonly layers: readonly string[];
}

export interface ImageDetails extends ImageSummary {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  readonly author?: string;
  /** Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts, Labels, Volumes, StopSignal. */
  readonly config: ContainerConfig;
}

export interface RemoveOptions {
  /** docker rmi -f: untag an image referenced in several repositories, or used by a container. */
  readonly force?: boolean;
  /** Layers the caller knows to be in use (by containers this store did not make). */
  readonly inUseLayers?: Iterable<string> | (() => Iterable<string>);
}

export interface RemoveResult {
  /** Familiar references removed. */
  readonly untagged: readonly string[];
  /** Image ids deleted. */
  readonly deleted: readonly string[];
  /** diff_ids whose directories were removed. */
  readonly layers: readonly string[];
}

export interface ContainerRootOptions {
  /** --read-only: no upper or work directory; the root is the layers alone. */
  readonly readOnly?: boolean;
  /** Owner of the upper directory (the container's root as the host sees it). Default: root, or the caller rootless. */
  readonly owner?: { readonly uid: number; readonly gid: number };
}

/**
 * What the caller's exec-stage ops mount: overlayfs with `lowerdir=lower.join(':')`,
 * `upperdir=upper`, `workdir=work`, and `userxattr` when `userxattr` is true (a store made
 * rootless, whose whiteouts and opaque marks are in user.overlay.* attributes, mounted in a
 * user namespace). Without upper the mount is read-only. No path contains ',', ':' or '\'.
 */
export interface ContainerRoot {
  readonly id: string;
  readonly image: string;
  /** Topmost first, as overlayfs's lowerdir wants them. */
  readonly lower: readonly string[];
  readonly upper?: string;
  readonly work?: string;
  readonly userxattr: boolean;
  readonly readOnly: boolean;
}

interface ContainerFile {
  id: string;
  image: string;
  layers: string[];
  readOnly: boolean;
  created: string;
}

const STORE_VERSION = 1;
const INDEX_MAX = 64 * 1024 * 1024;
const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

function hexOf(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1);
}

/** A writer's private directory under tmp/, held with flock for as long as the writer lives. */
export class Session {
  private fd: number;
  private n = 0;
  private readonly leases = new Set<string>();

  constructor(private readonly store: ImageStore, readonly dir: string, readonly rootless: boolean) {
    fs.mkdirSync(dir, 0o700);
    this.fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    sys.flock(this.fd, sys.LOCK_EX | sys.LOCK_NB);
  }

  /** A new directory for one layer: its tree goes in `${dir}/diff`. */
  layerDir(): string {
    const dir = `${this.dir}/${this.n++}`;
    fs.mkdirSync(`${dir}/diff`, { recursive: true, mode: 0o700 });
    fs.chmodSync(`${dir}/diff`, 0o755);
    return dir;
  }

  /**
   * True when the store has that layer, which then stays until this session ends: the check
   * and the lease are made under the store lock, and garbage collection keeps leased layers.
   */
  retain(diffId: string): boolean {
    return this.store.locked(() => {
      if (!this.store.hasLayer(diffId)) return false;
      this.leases.add(diffId);
      // A lease lives as long as its writer, never longer: it needs no fsync.
      writeFileAtomic(`${this.dir}/lease.json`, JSON.stringify([...this.leases]), this.dir, 0o600, false);
      return true;
    });
  }

  /** Everything written to this file system so far reaches the disk (one call for all layers). */
  sync(): void {
    sys.syncfs(this.fd);
  }

  /**
   * Removes the directory and releases it. Best effort: what cannot be removed now (a file a
   * container made as another uid) is left for the next writer's sweep, never for a reader.
   */
  close(): void {
    if (this.fd < 0) return;
    try {
      removeTree(this.dir);
    } catch {
      // Left behind unlocked: sweepTmp() retries.
    } finally {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }
}

/** A layer unpacked in a session, ready to be moved into the store. */
export interface FreshLayer {
  readonly diffId: string;
  readonly dir: string;
  readonly digest: string;
  readonly size: number;
}

export class ImageStore {
  readonly root: string;
  /** A store of an unprivileged user: caller-owned files, user.overlay.* attributes. */
  readonly rootless: boolean;
  private readonly lockTimeoutMs: number;

  private constructor(root: string, rootless: boolean, lockTimeoutMs: number) {
    this.root = root;
    this.rootless = rootless;
    this.lockTimeoutMs = lockTimeoutMs;
  }

  /** Opens (creating when absent) the store; refuses one that another uid made. */
  static open(options: StoreOptions = {}): ImageStore {
    const euid = process.geteuid!();
    const root = resolve(options.root ?? defaultStoreRoot());
    // overlayfs splits its options on ',' and lowerdir on ':' (and '\' escapes): a store whose
    // path holds them could not be mounted safely, so it is refused up front.
    if (/[,:\\\n]/.test(root)) {
      throw usageError(`storage directory ${root} contains ',', ':', '\\' or a newline, which overlayfs mount options cannot carry`);
    }
    const where = new Where([`storage ${root}`]);
    try {
      fs.mkdirSync(root, { recursive: true, mode: 0o700 });
      const meta = readFileCapped(`${root}/store.json`, 4096);
      if (meta && 'data' in meta) {
        const info = JSON.parse(meta.data.toString()) as { version?: number; owner?: number };
        if (info.owner !== euid) {
          throw imageError('EPERM', `storage ${root} belongs to uid ${info.owner}, not ${euid}; use a store of your own (--storage)`);
        }
        if (info.version !== STORE_VERSION) throw imageError('EIMAGE', `storage ${root} has version ${info.version}, this ns-image reads ${STORE_VERSION}`);
      } else {
        if (fs.statSync(root).uid !== euid) throw imageError('EPERM', `storage ${root} belongs to uid ${fs.statSync(root).uid}, not ${euid}`);
        fs.chmodSync(root, 0o700);
        for (const d of ['blobs/sha256', 'layers', 'containers', 'tmp', 'empty/0', 'empty/1']) fs.mkdirSync(`${root}/${d}`, { recursive: true, mode: 0o700 });
        for (const d of ['empty', 'empty/0', 'empty/1']) fs.chmodSync(`${root}/${d}`, 0o755);
        fs.closeSync(fs.openSync(`${root}/lock`, 'a', 0o600));
        writeFileAtomic(`${root}/store.json`, JSON.stringify({ version: STORE_VERSION, owner: euid }), `${root}/tmp`);
      }
    } catch (e) {
      throw where.wrap(e);
    }
    return new ImageStore(root, euid !== 0, options.lockTimeoutMs ?? 60_000);
  }

  // ---- paths -------------------------------------------------------------------------------

  layerPath(diffId: string): string {
    return `${this.root}/layers/${hexOf(diffId)}/diff`;
  }

  hasLayer(diffId: string): boolean {
    return fs.existsSync(`${this.root}/layers/${hexOf(diffId)}/diff`);
  }

  private blobPath(digest: string): string {
    return `${this.root}/blobs/sha256/${hexOf(digest)}`;
  }

  // ---- locking and sessions ----------------------------------------------------------------

  /**
   * Runs FN holding the store's flock. Sections are synchronous and short; waiting polls so a
   * holder that hangs yields ETIMEDOUT rather than a hung caller.
   */
  locked<T>(fn: () => T): T {
    const fd = fs.openSync(`${this.root}/lock`, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    try {
      const deadline = Date.now() + this.lockTimeoutMs;
      for (let wait = 1; !sys.flock(fd, sys.LOCK_EX | sys.LOCK_NB); wait = Math.min(wait * 2, 50)) {
        if (Date.now() > deadline) {
          throw imageError('ETIMEDOUT', `storage ${this.root}: another process held its lock for more than ${this.lockTimeoutMs} ms`);
        }
        sleepSync(wait);
      }
      return fn();
    } finally {
      fs.closeSync(fd);
    }
  }

  /** A new private directory for a writer (load, pull, removal). */
  session(): Session {
    return new Session(this, `${this.root}/tmp/${process.pid}-${randomBytes(6).toString('hex')}`, this.rootless);
  }

  /**
   * Private directories nobody holds any more (their writer died): removed. Files there are
   * temporaries of atomic writes, which happen only under the store lock the caller holds.
   */
  private sweepTmp(): void {
    for (const name of fs.readdirSync(`${this.root}/tmp`)) {
      const path = `${this.root}/tmp/${name}`;
      const st = fs.lstatSync(path, { throwIfNoEntry: false });
      if (!st) continue;
      if (!st.isDirectory()) {
        fs.rmSync(path, { force: true });
        continue;
      }
      const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
      try {
        if (sys.flock(fd, sys.LOCK_EX | sys.LOCK_NB)) removeTree(path);
      } catch {
        // Best effort (see Session.close): garbage that resists removal must not stop a writer.
      } finally {
        fs.closeSync(fd);
      }
    }
  }

  /** Layers leased by writers still running. */
  private leasedLayers(): Set<string> {
    const out = new Set<string>();
    for (const name of fs.readdirSync(`${this.root}/tmp`)) {
      const lease = readFileCapped(`${this.root}/tmp/${name}/lease.json`, 1 << 20);
      if (lease && 'data' in lease) {
        try {
          for (const d of JSON.parse(lease.data.toString()) as string[]) out.add(d);
        } catch {
          // A lease half-written by a writer that died: that writer needs nothing any more.
        }
      }
    }
    return out;
  }

  // ---- the index ---------------------------------------------------------------------------

  private readIndex(): IndexFile {
    const r = readFileCapped(`${this.root}/index.json`, INDEX_MAX);
    if (!r) return { version: 1, images: {}, blobs: {} };
    if ('tooBig' in r) throw imageError('EIMAGE', `storage ${this.root}: index.json is ${r.tooBig} bytes`);
    try {
      const idx = JSON.parse(r.data.toString()) as IndexFile;
      if (idx.version !== 1 || typeof idx.images !== 'object' || typeof idx.blobs !== 'object') throw new Error('unexpected shape');
      return idx;
    } catch (e) {
      throw imageError('EIMAGE', `storage ${this.root}: index.json is damaged (${(e as Error).message})`, { path: `${this.root}/index.json` });
    }
  }

  private writeIndex(idx: IndexFile): void {
    writeFileAtomic(`${this.root}/index.json`, JSON.stringify(idx), `${this.root}/tmp`);
  }

  /** The diff_id a blob unpacks to, when that layer is already stored. */
  knownLayer(blobDigest: string): string | undefined {
    const idx = this.readIndex();
    const diffId = idx.blobs[blobDigest] ?? blobDigest;
    return this.hasLayer(diffId) ? diffId : undefined;
  }

  /**
   * Records images whose layers are in the store or among FRESH (which are moved in first).
   * Tags move to the new image as `docker load` moves them; the image they left stays,
   * untagged. Returns what the CLI prints.
   */
  commit(session: Session, images: readonly PendingImage[], fresh: readonly FreshLayer[]): LoadedImage[] {
    for (const layer of fresh) {
      fs.writeFileSync(`${layer.dir}/layer.json`, JSON.stringify({ diffId: layer.diffId, size: layer.size, blob: layer.digest }), { mode: 0o600, flag: 'wx' });
    }
    // Durability costs one syncfs per sync point rather than an fsync per file: here every
    // file of every layer reaches the disk before any of them becomes visible in layers/.
    session.sync();
    return this.locked(() => {
      this.sweepTmp();
      const idx = this.readIndex();
      for (const layer of fresh) {
        const target = `${this.root}/layers/${hexOf(layer.diffId)}`;
        if (!fs.existsSync(target)) fs.renameSync(layer.dir, target);
        if (layer.digest !== layer.diffId) idx.blobs[layer.digest] = layer.diffId;
      }
      const out: LoadedImage[] = [];
      for (const img of images) {
        for (const l of img.layers) {
          if (!this.hasLayer(l)) {
            throw imageError('EIMAGE', `image ${shortDigest(img.id)}: layer ${shortDigest(l)} is missing from the store (removed while loading?)`);
          }
        }
        this.writeBlob(img.id, img.config, false);
        if (img.manifest) this.writeBlob(img.manifest.digest, img.manifest.bytes, false);
        const key = hexOf(img.id);
        const old = idx.images[key];
        for (const tag of img.repoTags) {
          for (const [k, other] of Object.entries(idx.images)) {
            if (k !== key && other.repoTags.includes(tag)) idx.images[k] = { ...other, repoTags: other.repoTags.filter((t) => t !== tag) };
          }
        }
        const record: ImageRecord = {
          id: img.id,
          ...(img.manifest ? { manifest: img.manifest.digest } : old?.manifest ? { manifest: old.manifest } : {}),
          layers: [...img.layers],
          repoTags: [...new Set([...(old?.repoTags ?? []), ...img.repoTags])],
          repoDigests: [...new Set([...(old?.repoDigests ?? []), ...img.repoDigests])],
          ...(img.created !== undefined ? { created: img.created } : {}),
          size: img.layers.reduce((sum, l) => sum + this.layerSize(l), 0),
          loaded: old?.loaded ?? new Date().toISOString(),
        };
        idx.images[key] = record;
        out.push({ id: img.id, references: img.repoTags.map((t) => familiarReference(parseReference(t))) });
      }
      // The second sync point: the renames into layers/ and the blobs before the index that names them.
      session.sync();
      this.writeIndex(idx);
      return out;
    });
  }

  private writeBlob(digest: string, bytes: Buffer, durable = true): void {
    const path = this.blobPath(digest);
    if (!fs.existsSync(path)) writeFileAtomic(path, bytes, `${this.root}/tmp`, 0o644, durable);
  }

  private layerSize(diffId: string): number {
    const r = readFileCapped(`${this.root}/layers/${hexOf(diffId)}/layer.json`, 4096);
    if (!r || !('data' in r)) return 0;
    try {
      return (JSON.parse(r.data.toString()) as { size?: number }).size ?? 0;
    } catch {
      return 0;
    }
  }

  // ---- lookups -----------------------------------------------------------------------------

  /**
   * The image TEXT names, as docker resolves it: a full id ('sha256:HEX' or 64 hex), a
   * reference (tag, default ':latest', or digest), else a unique id prefix.
   */
  private find(idx: IndexFile, text: string, where: Where): { record: ImageRecord; ref?: { kind: 'tag' | 'digest'; canonical: string } } {
    const id = parseImageId(text);
    if (id && idx.images[id]) return { record: idx.images[id]! };
    let ref: ImageReference | undefined;
    let refError: NsError | undefined;
    try {
      ref = withDefaultTag(parseReference(text));
    } catch (e) {
      refError = e as NsError;
    }
    if (ref) {
      if (ref.digest !== undefined) {
        const canonical = `${repositoryName(ref)}@${ref.digest}`;
        for (const r of Object.values(idx.images)) if (r.repoDigests.includes(canonical)) return { record: r, ref: { kind: 'digest', canonical } };
      } else {
        const canonical = formatReference(ref);
        for (const r of Object.values(idx.images)) if (r.repoTags.includes(canonical)) return { record: r, ref: { kind: 'tag', canonical } };
      }
    }
    const prefix = text.startsWith('sha256:') ? text.slice(7) : text;
    if (/^[a-f0-9]{1,64}$/.test(prefix)) {
      const matches = Object.keys(idx.images).filter((k) => k.startsWith(prefix));
      if (matches.length === 1) return { record: idx.images[matches[0]!]! };
      if (matches.length > 1) throw where.error('ENOIMAGE', `${text} is ambiguous: it begins ${matches.length} image ids`);
    }
    if (refError && !id) throw refError;
    throw where.error('ENOIMAGE', `No such image: ${text}`);
  }

  /** The record of the image TEXT names (ENOIMAGE if none). */
  image(text: string): ImageRecord {
    return this.find(this.readIndex(), text, new Where()).record;
  }

  private summary(r: ImageRecord): ImageSummary {
    return {
      id: r.id,
      repoTags: r.repoTags.map((t) => familiarReference(parseReference(t))),
      repoDigests: r.repoDigests.map((t) => familiarReference(parseReference(t))),
      ...(r.created !== undefined ? { created: r.created } : {}),
      size: r.size,
      layers: r.layers,
    };
  }

  /** `ns-run images`: every image, newest first. */
  list(): ImageSummary[] {
    return Object.values(this.readIndex().images)
      .sort((a, b) => (b.created ?? '').localeCompare(a.created ?? '') || a.id.localeCompare(b.id))
      .map((r) => this.summary(r));
  }

  /** The image's config and identity: what `inspect` shows and what `run` starts from. */
  inspect(text: string): ImageDetails {
    const r = this.image(text);
    const cfg = this.config(r);
    return {
      ...this.summary(r),
      architecture: cfg.architecture,
      os: cfg.os,
      ...(cfg.variant !== undefined ? { variant: cfg.variant } : {}),
      ...(cfg.author !== undefined ? { author: cfg.author } : {}),
      config: cfg.config,
    };
  }

  private config(r: ImageRecord): ImageConfig {
    const where = new Where([`image ${shortDigest(r.id)}`, 'config']);
    const blob = readFileCapped(this.blobPath(r.id), INDEX_MAX);
    if (!blob || !('data' in blob)) throw where.error('EIMAGE', `blob ${this.blobPath(r.id)} is missing from the store`);
    return parseConfig(blob.data, where);
  }

  /** `docker tag SOURCE TARGET`. */
  tag(source: string, target: string): void {
    const ref = withDefaultTag(parseReference(target));
    if (ref.digest !== undefined) throw imageError('EREFERENCE', `refusing to create a tag with a digest reference: ${target}`);
    const canonical = formatReference(ref);
    this.locked(() => {
      const idx = this.readIndex();
      const { record } = this.find(idx, source, new Where());
      for (const [k, other] of Object.entries(idx.images)) {
        if (other.repoTags.includes(canonical)) idx.images[k] = { ...other, repoTags: other.repoTags.filter((t) => t !== canonical) };
      }
      const key = hexOf(record.id);
      idx.images[key] = { ...idx.images[key]!, repoTags: [...idx.images[key]!.repoTags, canonical] };
      this.writeIndex(idx);
    });
  }

  // ---- removal -----------------------------------------------------------------------------

  /**
   * `docker rmi REF`: a tag or digest is removed; the image goes when nothing names it any
   * more, and with it every layer no other image, container or running writer uses. An id
   * removes the image unless several repositories name it (EBUSY without force). An image a
   * container of this store uses is not deleted (EBUSY; with force it is only untagged).
   * Nothing changes when it fails.
   */
  remove(text: string, options: RemoveOptions = {}): RemoveResult {
    const where = new Where([`rmi ${text}`]);
    const inUse = new Set(typeof options.inUseLayers === 'function' ? options.inUseLayers() : options.inUseLayers ?? []);
    const session = this.session();
    try {
      const result = this.locked(() => {
        const idx = this.readIndex();
        const { record, ref } = this.find(idx, text, where);
        const key = hexOf(record.id);
        let tags = [...record.repoTags];
        let digests = [...record.repoDigests];
        const untagged: string[] = [];
        const drop = (list: string[], item: string) => {
          untagged.push(familiarReference(parseReference(item)));
          return list.filter((x) => x !== item);
        };
        if (ref?.kind === 'tag') {
          tags = drop(tags, ref.canonical);
          if (tags.length === 0) for (const d of digests) digests = drop(digests, d);
        } else if (ref?.kind === 'digest') {
          digests = drop(digests, ref.canonical);
        } else {
          const repos = new Set([...tags, ...digests].map((t) => repositoryName(parseReference(t))));
          if (repos.size > 1 && !options.force) {
            throw where.error('EBUSY', `conflict: unable to delete ${shortDigest(record.id)} (must be forced) - image is referenced in multiple repositories`);
          }
          for (const t of tags) tags = drop(tags, t);
          for (const d of digests) digests = drop(digests, d);
        }
        const deleted: string[] = [];
        if (tags.length === 0 && digests.length === 0) {
          const user = this.containers().find((c) => c.image === record.id);
          if (user && !options.force) {
            throw where.error('EBUSY', `conflict: unable to remove ${text} (must be forced) - container ${user.id} is using its image ${shortDigest(record.id)}`);
          }
          if (!user) {
            const others = new Set(Object.entries(idx.images).filter(([k]) => k !== key).flatMap(([, r]) => r.layers));
            const busy = record.layers.find((l) => inUse.has(l) && !others.has(l));
            if (busy && !options.force) {
              throw where.error('EBUSY', `conflict: unable to remove ${text} - its layer ${shortDigest(busy)} is in use`);
            }
            delete idx.images[key];
            deleted.push(record.id);
          }
        }
        if (!deleted.length) idx.images[key] = { ...record, repoTags: tags, repoDigests: digests };
        this.writeIndex(idx);
        const layers = this.collect(idx, session, inUse);
        return { untagged, deleted, layers };
      });
      return result;
    } finally {
      session.close();
    }
  }

  /** Garbage collection on its own: layers and blobs nothing refers to. */
  prune(options: Pick<RemoveOptions, 'inUseLayers'> = {}): string[] {
    const session = this.session();
    try {
      return this.locked(() => this.collect(this.readIndex(), session, options.inUseLayers));
    } finally {
      session.close();
    }
  }

  /**
   * Under the lock: moves every unreferenced layer into SESSION (deleted when it closes, after
   * the lock is gone) and unlinks unreferenced blobs. Referenced: by an image, a container of
   * this store, a running writer's lease, or the caller's set.
   */
  private collect(idx: IndexFile, session: Session, inUse: RemoveOptions['inUseLayers']): string[] {
    this.sweepTmp();
    const keep = new Set<string>(Object.values(idx.images).flatMap((r) => r.layers));
    for (const c of this.containers()) for (const l of c.layers) keep.add(l);
    for (const l of this.leasedLayers()) keep.add(l);
    for (const l of typeof inUse === 'function' ? inUse() : inUse ?? []) keep.add(l);
    const removed: string[] = [];
    let n = 0;
    for (const hex of fs.readdirSync(`${this.root}/layers`)) {
      const diffId = `sha256:${hex}`;
      if (keep.has(diffId)) continue;
      fs.renameSync(`${this.root}/layers/${hex}`, `${session.dir}/gone-${n++}`);
      removed.push(diffId);
    }
    if (removed.length) fsyncDir(`${this.root}/layers`);
    const blobs = new Set(Object.values(idx.images).flatMap((r) => [hexOf(r.id), ...(r.manifest ? [hexOf(r.manifest)] : [])]));
    for (const hex of fs.readdirSync(`${this.root}/blobs/sha256`)) {
      if (!blobs.has(hex)) fs.rmSync(`${this.root}/blobs/sha256/${hex}`, { force: true });
    }
    let changed = false;
    for (const [blob, diffId] of Object.entries(idx.blobs)) {
      if (!this.hasLayer(diffId)) {
        delete idx.blobs[blob];
        changed = true;
      }
    }
    if (changed) this.writeIndex(idx);
    return removed;
  }

  // ---- container roots ---------------------------------------------------------------------

  private containers(): ContainerFile[] {
    const out: ContainerFile[] = [];
    for (const id of fs.readdirSync(`${this.root}/containers`)) {
      const r = readFileCapped(`${this.root}/containers/${id}/container.json`, 1 << 20);
      if (r && 'data' in r) {
        try {
          out.push(JSON.parse(r.data.toString()) as ContainerFile);
        } catch {
          // Written atomically, so only a foreign file could be unreadable: not one of ours.
        }
      }
    }
    return out;
  }

  /** Ids and images of the container roots this store holds. */
  containerRoots(): { id: string; image: string; readOnly: boolean }[] {
    return this.containers().map((c) => ({ id: c.id, image: c.image, readOnly: c.readOnly }));
  }

  /**
   * The overlayfs lowerdir list of an image's layers (bottom first), topmost first. overlayfs
   * refuses the same directory twice (ELOOP, "conflicting lowerdir path"); a layer repeated in
   * an image adds nothing under its topmost copy, whose files, whiteouts and opaque marks
   * already cover everything below: only that copy is kept.
   */
  lowerDirs(layers: readonly string[], readOnly = false): string[] {
    const lower = [...new Set([...layers].reverse())].map((l) => this.layerPath(l));
    // overlayfs refuses a mount without upperdir that has fewer than two lower layers.
    if (readOnly) while (lower.length < 2) lower.push(`${this.root}/empty/${lower.length}`);
    else if (lower.length === 0) lower.push(`${this.root}/empty/0`);
    return lower;
  }

  /**
   * Makes container ID's root from IMAGE: the lower directories, and (unless read-only) an
   * empty upper and work directory of its own under containers/ID. The image and its layers
   * stay until removeContainerRoot(ID). The caller mounts it (see ContainerRoot).
   */
  createContainerRoot(image: string, id: string, options: ContainerRootOptions = {}): ContainerRoot {
    if (!CONTAINER_ID.test(id)) throw usageError(`container id ${JSON.stringify(id)}: use letters, digits, '_', '.', '-' (at most 128)`);
    const where = new Where([`container ${id}`]);
    return this.locked(() => {
      const { record } = this.find(this.readIndex(), image, where);
      const dir = `${this.root}/containers/${id}`;
      try {
        fs.mkdirSync(dir, 0o700);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new NsError({ errno: 17, code: 'EEXIST', message: `container ${id}: a root for it exists already in ${this.root}` });
        throw where.wrap(e);
      }
      try {
        const readOnly = options.readOnly ?? false;
        const lower = this.lowerDirs(record.layers, readOnly);
        let upper: string | undefined;
        let work: string | undefined;
        if (!readOnly) {
          upper = `${dir}/upper`;
          work = `${dir}/work`;
          fs.mkdirSync(upper, 0o755);
          fs.mkdirSync(work, 0o700);
          fs.chmodSync(upper, 0o755);
          if (options.owner && !this.rootless) fs.chownSync(upper, options.owner.uid, options.owner.gid);
        }
        const file: ContainerFile = { id, image: record.id, layers: [...record.layers], readOnly, created: new Date().toISOString() };
        // Not synced (podman's containers are not either): a container does not outlive the
        // machine, and a root whose record a power loss dropped keeps no image or layer alive.
        writeFileAtomic(`${dir}/container.json`, JSON.stringify(file), `${this.root}/tmp`, 0o600, false);
        return { id, image: record.id, lower, ...(upper ? { upper, work: work! } : {}), userxattr: this.rootless, readOnly };
      } catch (e) {
        removeTree(dir);
        throw where.wrap(e);
      }
    });
  }

  /**
   * What removeContainerRoot(ID) removes, in its order, for a remover that is not this code (a
   * container's C supervisor, as rmtree words): the upper and work directories, then the
   * directory with the record, whose removal lets the image go. Root's stores only: rootless,
   * files of other subordinate ids must stay recorded when they cannot be removed.
   */
  containerRootTrees(id: string): string[] {
    if (!CONTAINER_ID.test(id)) throw usageError(`container id ${JSON.stringify(id)}: use letters, digits, '_', '.', '-' (at most 128)`);
    const dir = `${this.root}/containers/${id}`;
    return [`${dir}/upper`, `${dir}/work`, dir];
  }

  /**
   * Removes container ID's root (upper, work, record); false if there was none. The caller
   * unmounts first. Rootless, files a container made as another subordinate uid cannot be
   * removed from outside its user namespace: that fails with EACCES (or EPERM) and keeps the
   * record, so the image stays too.
   */
  removeContainerRoot(id: string): boolean {
    if (!CONTAINER_ID.test(id)) throw usageError(`container id ${JSON.stringify(id)}: use letters, digits, '_', '.', '-' (at most 128)`);
    const dir = `${this.root}/containers/${id}`;
    if (!fs.existsSync(`${dir}/container.json`) && !fs.existsSync(dir)) return false;
    const where = new Where([`container ${id}`]);
    try {
      // The container is gone, so nothing else writes here: its files go first, in place, and
      // the record (which keeps the image) only once they are gone.
      for (const sub of ['upper', 'work']) removeTree(`${dir}/${sub}`);
    } catch (e) {
      const err = where.wrap(e);
      if (err.code === 'EACCES' || err.code === 'EPERM') {
        throw new NsError({ errno: Math.abs(err.errno), code: err.code, message: err.message, hint: 'files made by another uid in a user namespace must be removed inside that namespace' });
      }
      throw err;
    }
    // Out of containers/ in one rename, into tmp/ under a name no writer holds: what cannot be
    // removed now, the next writer's sweepTmp() removes (no session needed for one directory).
    const gone = `${this.root}/tmp/gone-${process.pid}-${randomBytes(6).toString('hex')}`;
    let moved: boolean;
    try {
      moved = this.locked(() => {
        if (!fs.existsSync(dir)) return false;
        fs.renameSync(dir, gone);
        return true;
      });
    } catch (e) {
      throw where.wrap(e);
    }
    try {
      if (moved) removeTree(gone);
    } catch {
      // Left for sweepTmp().
    }
    return moved;
  }
}
