/**
 * From a source of blobs (an OCI layout, an archive, a registry) to images the store can
 * record: manifests followed down to the platform's, configs parsed, every layer checked
 * against the digest, size and diff_id its manifest and config name.
 */
import { shortDigest, type Where } from './errors';
import { LayerSink, type LayerResult } from './layer-stream';
import type { Limits } from './limits';
import { checkDigest, parseConfig, parseManifest, selectPlatform, sha256, type Descriptor, type ImageConfig } from './manifest';
import type { Platform } from './platform';
import type { LayerProgress, ProgressCallback } from './progress';
import type { FreshLayer, PendingImage, Session } from './store';

/** A layer's place in the store once checked: already there, or freshly unpacked in the session. */
export interface LayerOutcome {
  readonly diffId: string;
  readonly fresh?: FreshLayer;
}

export interface OciSource {
  /** How many layers to fetch at once (a registry: 3, as docker; local sources: 1). */
  readonly concurrency: number;
  /** A manifest or index by digest, at most MAX bytes, checked against its digest. */
  manifest(desc: Descriptor, max: number, where: Where): Promise<Buffer>;
  /** A config blob by digest, checked likewise. */
  blob(desc: Descriptor, max: number, where: Where): Promise<Buffer>;
  /** The layer DESC whose tar has DIFFID: from the store, or unpacked into the session. */
  layer(desc: Descriptor, diffId: string, where: Where): Promise<LayerOutcome>;
}

export interface ResolvedImage {
  readonly id: string;
  readonly config: Buffer;
  readonly parsed: ImageConfig;
  readonly manifest: { readonly digest: string; readonly bytes: Buffer };
  readonly layers: readonly LayerOutcome[];
}

export interface AssembleContext {
  readonly session: Session;
  readonly limits: Limits;
  readonly platform: Platform;
  readonly onProgress?: ProgressCallback;
}

/** The bytes are the ones DESC names: EDIGEST otherwise. */
export function checkBlob(bytes: Buffer, desc: Pick<Descriptor, 'digest' | 'size'>, where: Where): Buffer {
  const got = sha256(bytes);
  if (got !== desc.digest) throw where.error('EDIGEST', `content has digest ${got}, not ${desc.digest}`);
  if (bytes.length !== desc.size) throw where.error('EDIGEST', `content is ${bytes.length} bytes, its descriptor says ${desc.size}`);
  return bytes;
}

/**
 * A layer's hashes against what names it. DIGEST/SIZE: the blob descriptor (OCI), when known;
 * DIFFID: the config's rootfs.diff_ids entry.
 */
export function checkLayer(result: LayerResult, expect: { digest?: string; size?: number; diffId: string }, where: Where): void {
  if (result.error) throw where.wrap(result.error);
  if (expect.digest !== undefined && result.digest !== expect.digest) {
    throw where.error('EDIGEST', `blob has digest ${result.digest}, its manifest says ${expect.digest}`);
  }
  if (expect.size !== undefined && result.compressedSize !== expect.size) {
    throw where.error('EDIGEST', `blob is ${result.compressedSize} bytes, its manifest says ${expect.size}`);
  }
  if (result.diffId !== undefined && result.diffId !== expect.diffId) {
    throw where.error('EDIGEST', `layer tar has digest ${result.diffId}, the image config says ${expect.diffId}`);
  }
}

/** Progress events for one layer, labelled by its digest's first 12 hex digits (or a name). */
export function layerProgress(onProgress: ProgressCallback | undefined, label: string, total?: number) {
  let bytes = 0;
  const emit = (phase: LayerProgress['phase']) => onProgress?.({ kind: 'layer', layer: label, phase, bytes, ...(total !== undefined ? { total } : {}) });
  return {
    start: () => emit('start'),
    bytes: (n: number) => {
      bytes += n;
      emit('bytes');
    },
    done: () => emit('done'),
    exists: () => emit('exists'),
  };
}

export function progressLabel(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1, digest.indexOf(':') + 13);
}

/**
 * Streams one blob into a new layer directory of the session and checks it. The directory is
 * returned to the store only when every check passed.
 */
export async function unpackBlob(
  ctx: AssembleContext, chunks: AsyncIterable<Buffer>, expect: { digest?: string; size?: number; diffId: string },
  where: Where, progress: ReturnType<typeof layerProgress>,
): Promise<LayerOutcome> {
  const dir = ctx.session.layerDir();
  const sink = new LayerSink({
    dir: `${dir}/diff`, where, maxBytes: ctx.limits.layerBytes, onBytes: progress.bytes,
    policy: { rootless: ctx.session.rootless, maxEntries: ctx.limits.layerEntries },
  });
  progress.start();
  let transferError: unknown;
  try {
    for await (const chunk of chunks) {
      const wait = sink.write(chunk);
      if (wait) await wait;
    }
  } catch (e) {
    transferError = e;
  }
  const result = await sink.end();
  if (transferError) throw where.wrap(transferError);
  checkLayer(result, expect, where);
  progress.done();
  return { diffId: expect.diffId, fresh: { diffId: expect.diffId, dir, digest: result.digest, size: result.size } };
}

/** Runs FN over ITEMS with at most N at once, keeping order; the first failure wins. */
export async function mapLimit<T, R>(items: readonly T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let failure: { e: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (e) {
        failure ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
  if (failure) throw failure.e;
  return out;
}

/**
 * Follows TOP (a manifest or an index, already fetched and checked) down to the platform's
 * manifest, its config and its layers. Indexes may nest once (an OCI layout's index.json
 * pointing at an image index).
 */
export async function resolveOciImage(
  source: OciSource, top: { digest: string; bytes: Buffer; mediaType?: string }, ctx: AssembleContext, where: Where,
): Promise<ResolvedImage> {
  let current = top;
  for (let depth = 0; ; depth++) {
    const m = parseManifest(current.bytes, where.with(`manifest ${shortDigest(current.digest)}`), current.mediaType);
    if (m.kind === 'index') {
      if (depth >= 2) throw where.error('EIMAGE', 'indexes nested more than twice');
      const chosen = selectPlatform(m.manifests, ctx.platform, where.with(`index ${shortDigest(current.digest)}`));
      const bytes = await source.manifest(chosen, ctx.limits.manifestBytes, where.with(`manifest ${shortDigest(chosen.digest)}`));
      current = { digest: chosen.digest, bytes, mediaType: chosen.mediaType };
      continue;
    }
    const cw = where.with(`config ${shortDigest(m.config.digest)}`);
    if (m.config.size > ctx.limits.configBytes) throw cw.error('EIMAGE', `config is ${m.config.size} bytes (limit ${ctx.limits.configBytes})`);
    const config = await source.blob(m.config, ctx.limits.configBytes, cw);
    const parsed = parseConfig(config, cw);
    if (m.layers.length !== parsed.diffIds.length) {
      throw where.error('EIMAGE', `manifest lists ${m.layers.length} layers, its config ${parsed.diffIds.length} diff_ids`);
    }
    if (m.layers.length > ctx.limits.layers) throw where.error('EIMAGE', `${m.layers.length} layers (overlayfs stacks at most ${ctx.limits.layers})`);
    for (const l of m.layers) {
      checkDigest(l.digest, where);
      if (l.size > ctx.limits.blobBytes) throw where.error('EIMAGE', `layer ${shortDigest(l.digest)} is ${l.size} bytes (limit ${ctx.limits.blobBytes})`);
    }
    const layers = await mapLimit(m.layers, source.concurrency, (l, i) => source.layer(l, parsed.diffIds[i]!, where.with(`layer ${shortDigest(l.digest)}`)));
    return { id: sha256(config), config, parsed, manifest: { digest: current.digest, bytes: current.bytes }, layers };
  }
}

export function pendingImage(img: Pick<ResolvedImage, 'id' | 'config' | 'parsed' | 'layers'> & { manifest?: ResolvedImage['manifest'] }, repoTags: string[], repoDigests: string[]): PendingImage {
  return {
    id: img.id, config: img.config, layers: img.layers.map((l) => l.diffId), repoTags, repoDigests,
    ...(img.manifest ? { manifest: img.manifest } : {}),
    ...(img.parsed.created !== undefined ? { created: img.parsed.created } : {}),
  };
}

/** Fresh layers of many images, once each. */
export function freshLayers(images: readonly { layers: readonly LayerOutcome[] }[]): FreshLayer[] {
  const seen = new Map<string, FreshLayer>();
  for (const img of images) for (const l of img.layers) if (l.fresh && !seen.has(l.diffId)) seen.set(l.diffId, l.fresh);
  return [...seen.values()];
}
