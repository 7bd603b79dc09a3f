/**
 * `ns-run load`: images from a docker archive (`docker save`, `podman save --format
 * docker-archive`; the legacy layout with <id>/layer.tar and the docker 25 one with blobs/),
 * an OCI archive (a tar of an OCI image layout) or an OCI image layout directory (`skopeo
 * copy ... oci:DIR`), optionally gzip-compressed as `docker load` accepts.
 *
 * Archives are read once, front to back, whatever order their members come in: a member that
 * looks like a layer (gzip, zstd or tar) is hashed and unpacked as it streams past (unless its
 * name says it is a layer the store has, when it is only hashed to check that), small JSON
 * members are kept, and once the end is reached the manifests decide which of them are the
 * images' layers. A directory is read at random: only the layers the store lacks are read.
 */
import * as fs from 'node:fs';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { Header } from 'tar/header';
import {
  checkBlob, checkLayer, freshLayers, layerProgress, pendingImage, progressLabel, resolveOciImage, unpackBlob,
  type AssembleContext, type LayerOutcome, type OciSource, type ResolvedImage,
} from './assemble';
import { imageError, shortDigest, Where } from './errors';
import { readChunks, readFileCapped } from './fsutil';
import { LayerSink, zstdDecompressor, type LayerResult } from './layer-stream';
import { limitsOf, type Limits } from './limits';
import { parseConfig, parseDescriptor, parseDockerManifest, parseJson, sha256, type Descriptor } from './manifest';
import { hostPlatform, type Platform } from './platform';
import type { ProgressCallback } from './progress';
import { formatReference, parseReference, withDefaultTag } from './reference';
import type { ImageStore, LoadedImage, PendingImage } from './store';
import { TarFormatError, TarReader, type EntrySink, type TarEntry } from './tarstream';
import type { NsError } from 'ns-core/errors';

export interface LoadOptions {
  readonly onProgress?: ProgressCallback;
  /** Which manifest of an index to load. Default: the host's platform. */
  readonly platform?: Platform;
  readonly limits?: Partial<Limits>;
}

/** Total bytes of small JSON members an archive may make us hold. */
const JSON_TOTAL_MAX = 256 << 20;
const OCI_REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';

interface JsonMember { kind: 'json'; data: Buffer }
interface LayerMember { kind: 'layer'; result?: LayerResult; dir?: string; retained?: string }
interface LinkMember { kind: 'link'; target: string; hard: boolean }
interface OtherMember { kind: 'other'; size: number }
type Member = JsonMember | LayerMember | LinkMember | OtherMember;

/** Loads every image SOURCE (a path, or a stream of an archive) holds. */
export async function loadImages(store: ImageStore, source: string | Readable, options: LoadOptions = {}): Promise<LoadedImage[]> {
  const label = typeof source === 'string' ? source : 'stdin';
  const where = new Where([`load ${label}`]);
  const limits = limitsOf(options.limits);
  const session = store.session();
  const ctx: AssembleContext = { session, limits, platform: options.platform ?? hostPlatform(), ...(options.onProgress ? { onProgress: options.onProgress } : {}) };
  try {
    let images: { resolved: Omit<ResolvedImage, 'manifest'> & { manifest?: ResolvedImage['manifest'] }; tags: string[]; unnamed: string[] }[];
    const st = typeof source === 'string' ? statSource(source, where) : undefined;
    if (st?.isDirectory()) {
      images = await loadDirectory(source as string, ctx, where);
    } else {
      const members = await scanArchive(typeof source === 'string' ? readChunks(source) : source, store, ctx, where);
      images = await assembleArchive(members, ctx, where);
    }
    const pending = mergeImages(images.map((i) => pendingImage(i.resolved, i.tags, [])));
    const loaded = store.commit(session, pending, freshLayers(images.map((i) => i.resolved)));
    return loaded.map((l) => {
      const unnamed = images.filter((i) => i.resolved.id === l.id).flatMap((i) => i.unnamed);
      return unnamed.length ? { ...l, unnamed } : l;
    });
  } catch (e) {
    throw where.wrap(e);
  } finally {
    session.close();
  }
}

function statSource(path: string, where: Where): fs.Stats {
  try {
    return fs.statSync(path);
  } catch (e) {
    throw where.wrap(e);
  }
}

/** The same image listed twice (two manifest.json entries, two index entries): one record. */
function mergeImages(images: PendingImage[]): PendingImage[] {
  const byId = new Map<string, PendingImage>();
  for (const img of images) {
    const old = byId.get(img.id);
    byId.set(img.id, old ? { ...old, repoTags: [...new Set([...old.repoTags, ...img.repoTags])] } : img);
  }
  return [...byId.values()];
}

// ---- reading an archive once ---------------------------------------------------------------

/** 'a/./b/' -> 'a/b'; undefined for names that could not be a layout's (absolute, '..'). */
function memberName(path: string): string | undefined {
  if (path.startsWith('/')) return undefined;
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return undefined;
  return parts.join('/');
}

/** The hex a member's name promises its content hashes to: blobs/sha256/HEX, HEX.tar, HEX/layer.tar. */
function nameDigest(name: string): string | undefined {
  const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name) ?? /^([a-f0-9]{64})\.tar$/.exec(name) ?? /^([a-f0-9]{64})\/layer\.tar$/.exec(name);
  return m ? `sha256:${m[1]}` : undefined;
}

/** A tar header, a zero block (an empty tar), gzip or zstd: worth unpacking as a layer. */
function looksLikeLayer(head: Buffer): boolean {
  if (head[0] === 0x1f && head[1] === 0x8b) return true;
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return true;
  if (head.length < 512) return head.length === 0;
  try {
    const h = new Header(head.subarray(0, 512));
    return h.cksumValid || h.nullBlock;
  } catch {
    return false;
  }
}

function looksLikeJson(head: Buffer): boolean {
  const s = head.subarray(0, 64).toString('latin1').trimStart();
  return s.startsWith('{') || s.startsWith('[');
}

/** The outer stream, decompressed when `docker save | gzip` made it so. */
async function* archiveBytes(stream: AsyncIterable<Buffer>, where: Where): AsyncGenerator<Buffer> {
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await it.next();
  if (first.done) return;
  const head: Buffer = first.value;
  let decomp: zlib.Gunzip | undefined;
  if (head[0] === 0x1f && head[1] === 0x8b) decomp = zlib.createGunzip({ chunkSize: 1 << 20 });
  else if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
    decomp = zstdDecompressor();
    if (!decomp) throw imageError('ENOTSUP', `${where.parts.join(': ')}: the archive is zstd-compressed, which Node ${process.version}'s zlib cannot decompress`, { hint: 'decompress it first (zstd -d), or use Node 22.15 or later' });
  } else if (head.subarray(0, 3).toString('latin1') === 'BZh' || head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) {
    throw where.error('EIMAGE', 'the archive is bzip2- or xz-compressed: decompress it first');
  }
  if (!decomp) {
    try {
      yield head;
      for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    } finally {
      await it.return?.();
    }
    return;
  }
  const d = decomp;
  let stop = false;
  const feed = (async () => {
    d.write(head);
    for (let r = await it.next(); !r.done && !stop; r = await it.next()) {
      if (!d.write(r.value)) await new Promise((res) => { d.once('drain', res); d.once('close', res); });
    }
    d.end();
  })();
  feed.catch((e) => d.destroy(e as Error));
  try {
    for await (const chunk of d) yield chunk as Buffer;
    await feed;
  } catch (e) {
    throw where.error('EIMAGE', `corrupt compressed archive: ${(e as Error).message}`);
  } finally {
    // Stopped early (the tar ended, or failed): stop reading and let go of the source.
    stop = true;
    d.destroy();
    await feed.catch(() => {});
    await it.return?.();
  }
}

async function scanArchive(stream: AsyncIterable<Buffer>, store: ImageStore, ctx: AssembleContext, where: Where): Promise<Map<string, Member>> {
  const members = new Map<string, Member>();
  const waits: Promise<unknown>[] = [];
  /** The layer member being read, to release if the archive breaks off inside it. */
  let reading: LayerSink | undefined;
  let jsonTotal = 0;
  const jsonMax = Math.max(ctx.limits.manifestBytes, ctx.limits.configBytes);

  const onEntry = (entry: TarEntry): EntrySink | undefined => {
    if (members.size >= ctx.limits.archiveMembers) throw new TarFormatError(`more than ${ctx.limits.archiveMembers} members`);
    const name = memberName(entry.path);
    if (name === undefined || name === '') return undefined;
    if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
      members.set(name, { kind: 'link', target: entry.linkpath!, hard: entry.type === 'Link' });
      return undefined;
    }
    if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') return undefined;
    return memberSink(name, entry.size);
  };

  type Target = { data: (c: Buffer) => void; end: () => void };
  const drain: Target = { data: () => {}, end: () => {} };

  /** Where a member goes, decided from its name, size and first 512 bytes. */
  const classify = (name: string, size: number, first: Buffer): Target => {
    const wellKnown = ['manifest.json', 'index.json', 'oci-layout', 'repositories'].includes(name) || name.endsWith('/json');
    // A tar header is checked before the JSON guess: a layer whose first entry is named "{x}" stays a layer.
    const layer = !wellKnown && looksLikeLayer(first);
    if (wellKnown || (!layer && looksLikeJson(first) && size <= jsonMax)) {
      if (size > jsonMax) {
        members.set(name, { kind: 'other', size });
        return drain;
      }
      jsonTotal += size;
      if (jsonTotal > JSON_TOTAL_MAX) throw new TarFormatError(`more than ${JSON_TOTAL_MAX} bytes of JSON members`);
      const parts: Buffer[] = [];
      return { data: (c) => parts.push(Buffer.from(c)), end: () => members.set(name, { kind: 'json', data: Buffer.concat(parts) }) };
    }
    if (!layer) {
      members.set(name, { kind: 'other', size });
      return drain;
    }
    const member: LayerMember = { kind: 'layer' };
    members.set(name, member);
    const promised = nameDigest(name);
    const known = promised ? store.knownLayer(promised) : undefined;
    const progress = layerProgress(ctx.onProgress, promised ? progressLabel(promised) : name, size);
    const policy = { rootless: store.rootless, maxEntries: ctx.limits.layerEntries };
    // The sink's failures get their context (archive, image, blob) when an image claims the blob.
    const where = new Where();
    let sink: LayerSink;
    const done = () => { if (reading === sink) reading = undefined; };
    if (known && ctx.session.retain(known)) {
      // Only hashed: the store has what the name promises, and the hash checks the promise.
      member.retained = known;
      sink = new LayerSink({ where, maxBytes: ctx.limits.layerBytes, policy });
    } else {
      member.dir = ctx.session.layerDir();
      progress.start();
      sink = new LayerSink({ dir: `${member.dir}/diff`, where, maxBytes: ctx.limits.layerBytes, onBytes: progress.bytes, policy });
    }
    reading = sink;
    return {
      data: (c) => {
        const w = sink.write(c);
        if (w) waits.push(w);
      },
      end: () => waits.push(sink.end().then((r) => {
        done();
        member.result = r;
        if (member.retained) progress.exists();
        else if (!r.error) progress.done();
      })),
    };
  };

  const memberSink = (name: string, size: number): EntrySink => {
    let head: Buffer[] = [];
    let headLength = 0;
    let target: Target | undefined;
    const decide = (): Target => {
      const first = Buffer.concat(head);
      head = [];
      const t = classify(name, size, first);
      if (first.length) t.data(first);
      return t;
    };
    return {
      data(chunk) {
        if (target) return target.data(chunk);
        head.push(Buffer.from(chunk));
        headLength += chunk.length;
        if (headLength >= 512 || headLength >= size) target = decide();
      },
      end() {
        target ??= decide();
        target.end();
      },
    };
  };

  const reader = new TarReader(onEntry);
  try {
    for await (const chunk of archiveBytes(stream, where)) {
      reader.write(chunk);
      if (waits.length) await Promise.all(waits.splice(0));
      if (reader.ended) break;
    }
    reader.end();
    await Promise.all(waits.splice(0));
  } catch (e) {
    await Promise.allSettled(waits.splice(0));
    await reading?.abort();
    if (e instanceof TarFormatError) throw where.error('EIMAGE', `not a valid archive: ${e.message}`);
    throw e;
  } finally {
    (stream as Partial<Readable>).destroy?.();
  }
  if (members.size === 0) throw where.error('EIMAGE', 'not an image archive: no members');
  return members;
}

/** Follows symlinks and hard links between members ('<id>/layer.tar -> ../<diffid>.tar'). */
function resolveMember(members: Map<string, Member>, path: string, where: Where): { name: string; member: Member | undefined } {
  let name = memberName(path);
  for (let hops = 0; hops < 16; hops++) {
    if (name === undefined) throw where.error('EIMAGE', `${JSON.stringify(path)} points outside the archive`);
    const m = members.get(name);
    if (!m || m.kind !== 'link') return { name, member: m };
    const base = m.hard ? '' : name.split('/').slice(0, -1).join('/');
    const joined = m.target.startsWith('/') ? undefined : [...(base ? base.split('/') : []), ...m.target.split('/')];
    if (!joined) { name = undefined; continue; }
    const out: string[] = [];
    let escaped = false;
    for (const p of joined) {
      if (p === '' || p === '.') continue;
      if (p === '..') {
        if (!out.length) escaped = true;
        out.pop();
      } else out.push(p);
    }
    name = escaped ? undefined : out.join('/');
  }
  throw where.error('EIMAGE', `${JSON.stringify(path)}: too many links`);
}

function jsonMember(members: Map<string, Member>, path: string, max: number, where: Where): Buffer {
  const { name, member } = resolveMember(members, path, where);
  if (!member) throw where.error('EIMAGE', `${name} is not in the archive`);
  if (member.kind === 'other' && member.size > max) throw where.error('EIMAGE', `${name} is ${member.size} bytes (limit ${max})`);
  if (member.kind !== 'json') throw where.error('EIMAGE', `${name} is not a JSON document`);
  if (member.data.length > max) throw where.error('EIMAGE', `${name} is ${member.data.length} bytes (limit ${max})`);
  return member.data;
}

function layerMember(members: Map<string, Member>, path: string, where: Where): { name: string; member: LayerMember } {
  const { name, member } = resolveMember(members, path, where);
  if (!member) throw where.error('EIMAGE', `layer ${name} is not in the archive`);
  if (member.kind !== 'layer' || !member.result) throw where.error('EIMAGE', `${name} is not a layer (neither tar, gzip nor zstd)`);
  return { name, member };
}

/** A layer from the archive pass, checked against what its image expects. */
function archiveLayer(members: Map<string, Member>, path: string, expect: { digest?: string; size?: number; diffId: string }, where: Where): LayerOutcome {
  const { name, member } = layerMember(members, path, where.with(`blob ${path}`));
  const w = where.with(`blob ${name}`);
  const result = member.result!;
  const promised = nameDigest(name);
  // A content-addressed name (blobs/sha256/HEX) is a promise about the bytes: hold it to it.
  if (promised && name.startsWith('blobs/') && result.digest !== promised) {
    throw w.error('EDIGEST', `blob has digest ${result.digest}, its name says ${promised}`);
  }
  if (member.retained) {
    if (result.error) throw w.wrap(result.error);
    if (result.digest !== promised) throw w.error('EDIGEST', `blob has digest ${result.digest}, its name says ${promised}`);
    if (member.retained !== expect.diffId) throw w.error('EDIGEST', `layer tar has digest ${member.retained}, the image config says ${expect.diffId}`);
    if (expect.digest !== undefined && result.digest !== expect.digest) throw w.error('EDIGEST', `blob has digest ${result.digest}, its manifest says ${expect.digest}`);
    return { diffId: expect.diffId };
  }
  checkLayer(result, expect, w);
  return { diffId: expect.diffId, fresh: { diffId: expect.diffId, dir: member.dir!, digest: result.digest, size: result.size } };
}

type Loaded = { resolved: Omit<ResolvedImage, 'manifest'> & { manifest?: ResolvedImage['manifest'] }; tags: string[]; unnamed: string[] };

async function assembleArchive(members: Map<string, Member>, ctx: AssembleContext, where: Where): Promise<Loaded[]> {
  if (members.has('manifest.json')) return assembleDocker((p, max, w) => jsonMember(members, p, max, w), (p, e, w) => archiveLayer(members, p, e, w), ctx, where);
  if (members.has('index.json')) {
    const source: OciSource = {
      concurrency: 1,
      manifest: async (d, max, w) => checkBlob(jsonMember(members, blobPath(d), max, w), d, w),
      blob: async (d, max, w) => checkBlob(jsonMember(members, blobPath(d), max, w), d, w),
      layer: async (d, diffId, w) => archiveLayer(members, blobPath(d), { digest: d.digest, size: d.size, diffId }, w),
    };
    return assembleOci(source, jsonMember(members, 'index.json', ctx.limits.manifestBytes, where), ctx, where);
  }
  const hint = members.has('repositories') ? ' (only a "repositories" file: a docker 1.9 archive, which docker no longer loads either)' : '';
  throw where.error('EIMAGE', `neither manifest.json (docker save) nor index.json (OCI layout) in the archive${hint}`);
}

function blobPath(d: Descriptor): string {
  return `blobs/sha256/${d.digest.slice('sha256:'.length)}`;
}

/** docker save's manifest.json: one entry per image, config and layers by path. */
async function assembleDocker(
  json: (path: string, max: number, where: Where) => Buffer,
  layer: (path: string, expect: { diffId: string }, where: Where) => LayerOutcome | Promise<LayerOutcome>,
  ctx: AssembleContext, where: Where,
): Promise<Loaded[]> {
  const entries = parseDockerManifest(json('manifest.json', ctx.limits.manifestBytes, where), where.with('manifest.json'));
  const out: Loaded[] = [];
  for (const entry of entries) {
    const tags = entry.repoTags.map((t) => {
      try {
        return formatReference(withDefaultTag(parseReference(t)));
      } catch (e) {
        throw where.error('EIMAGE', `manifest.json: RepoTags ${JSON.stringify(t)}: ${(e as NsError).message}`);
      }
    });
    const iw = where.with(`image ${entry.repoTags[0] ?? entry.config}`);
    const config = json(entry.config, ctx.limits.configBytes, iw);
    const id = sha256(config);
    const promised = /^(?:blobs\/sha256\/)?([a-f0-9]{64})(?:\.json)?$/.exec(memberName(entry.config) ?? '');
    if (promised && `sha256:${promised[1]}` !== id) throw iw.error('EDIGEST', `config ${entry.config} has digest ${id}`);
    const parsed = parseConfig(config, iw.with(`config ${entry.config}`));
    if (entry.layers.length !== parsed.diffIds.length) {
      throw iw.error('EIMAGE', `manifest.json lists ${entry.layers.length} layers, the config ${parsed.diffIds.length} diff_ids`);
    }
    if (entry.layers.length > ctx.limits.layers) throw iw.error('EIMAGE', `${entry.layers.length} layers (overlayfs stacks at most ${ctx.limits.layers})`);
    const layers: LayerOutcome[] = [];
    for (let i = 0; i < entry.layers.length; i++) layers.push(await layer(entry.layers[i]!, { diffId: parsed.diffIds[i]! }, iw));
    out.push({ resolved: { id, config, parsed, layers }, tags, unnamed: [] });
  }
  return out;
}

/** An OCI layout's index.json: each entry an image (or an index of platforms), named by annotations. */
async function assembleOci(source: OciSource, indexBytes: Buffer, ctx: AssembleContext, where: Where): Promise<Loaded[]> {
  const iw = where.with('index.json');
  const doc = parseJson(indexBytes, iw) as { manifests?: unknown };
  if (!doc || typeof doc !== 'object' || !Array.isArray(doc.manifests)) throw iw.error('EIMAGE', 'has no manifests list');
  const out: Loaded[] = [];
  for (const raw of doc.manifests) {
    const desc = parseDescriptor(raw, iw);
    const names = [desc.annotations?.[CONTAINERD_NAME], desc.annotations?.[OCI_REF_NAME]].filter((n): n is string => !!n);
    const tags: string[] = [];
    const unnamed: string[] = [];
    for (const n of names) {
      // ref.name may be a full reference (podman, containerd) or just a tag (skopeo oci:DIR:TAG).
      if (/[:/]/.test(n)) {
        try {
          tags.push(formatReference(withDefaultTag(parseReference(n))));
          continue;
        } catch {
          // not a reference after all: reported as a name
        }
      }
      unnamed.push(n);
    }
    const mw = where.with(`image ${names[0] ?? shortDigest(desc.digest)}`);
    const bytes = await source.manifest(desc, ctx.limits.manifestBytes, mw.with(`manifest ${shortDigest(desc.digest)}`));
    const resolved = await resolveOciImage(source, { digest: desc.digest, bytes, mediaType: desc.mediaType }, ctx, mw);
    out.push({ resolved, tags: [...new Set(tags)], unnamed: tags.length ? [] : unnamed });
  }
  if (out.length === 0) throw iw.error('EIMAGE', 'lists no images');
  return out;
}

// ---- a directory ---------------------------------------------------------------------------

/** A file of DIR by its relative path, refusing anything that resolves outside DIR. */
function dirFile(dir: string, path: string, where: Where): string {
  const name = memberName(path);
  if (name === undefined || name === '') throw where.error('EIMAGE', `${JSON.stringify(path)} points outside ${dir}`);
  const full = `${dir}/${name}`;
  let real: string;
  try {
    real = fs.realpathSync(full);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw where.error('EIMAGE', `${name} is not in ${dir}`);
    throw where.wrap(e);
  }
  const root = fs.realpathSync(dir);
  if (!real.startsWith(`${root}/`)) throw where.error('EIMAGE', `${name} resolves outside ${dir}`);
  return real;
}

function dirJson(dir: string, path: string, max: number, where: Where): Buffer {
  const r = readFileCapped(dirFile(dir, path, where), max);
  if (!r) throw where.error('EIMAGE', `${path} is not in ${dir}`);
  if ('tooBig' in r) throw where.error('EIMAGE', `${path} is ${r.tooBig} bytes (limit ${max})`);
  return r.data;
}

async function dirLayer(dir: string, path: string, expect: { digest?: string; size?: number; diffId: string }, ctx: AssembleContext, where: Where): Promise<LayerOutcome> {
  const label = expect.digest ? progressLabel(expect.digest) : progressLabel(expect.diffId);
  const progress = layerProgress(ctx.onProgress, label, expect.size);
  if (ctx.session.retain(expect.diffId)) {
    progress.exists();
    return { diffId: expect.diffId };
  }
  const file = dirFile(dir, path, where);
  return unpackBlob(ctx, readChunks(file), expect, where, progress);
}

async function loadDirectory(dir: string, ctx: AssembleContext, where: Where): Promise<Loaded[]> {
  if (fs.existsSync(`${dir}/manifest.json`)) {
    return assembleDocker((p, max, w) => dirJson(dir, p, max, w), (p, e, w) => dirLayer(dir, p, e, ctx, w.with(`blob ${p}`)), ctx, where);
  }
  if (!fs.existsSync(`${dir}/index.json`)) throw where.error('EIMAGE', `${basename(dir)} has neither manifest.json nor index.json: not an image layout`);
  const layout = readFileCapped(`${dir}/oci-layout`, 4096);
  if (layout && 'data' in layout) {
    const v = (parseJson(layout.data, where.with('oci-layout')) as { imageLayoutVersion?: string }).imageLayoutVersion;
    if (v !== '1.0.0') throw where.error('EIMAGE', `oci-layout: imageLayoutVersion ${JSON.stringify(v)} (this reads 1.0.0)`);
  }
  const source: OciSource = {
    concurrency: 1,
    manifest: async (d, max, w) => checkBlob(dirJson(dir, blobPath(d), max, w), d, w),
    blob: async (d, max, w) => checkBlob(dirJson(dir, blobPath(d), max, w), d, w),
    layer: (d, diffId, w) => dirLayer(dir, blobPath(d), { digest: d.digest, size: d.size, diffId }, ctx, w),
  };
  return assembleOci(source, dirJson(dir, 'index.json', ctx.limits.manifestBytes, where), ctx, where);
}
