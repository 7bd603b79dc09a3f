/**
 * `ns-run pull REF`: the manifest (or index, then the platform's manifest), the config, and
 * the layers the store lacks, three at a time as docker does, each streamed straight into its
 * layer directory while its digest, size and diff_id are checked. The store changes only once
 * everything checked out.
 */
import { freshLayers, layerProgress, pendingImage, progressLabel, resolveOciImage, unpackBlob, checkBlob, type AssembleContext, type OciSource } from './assemble';
import { Where } from './errors';
import { limitsOf, type Limits } from './limits';
import { MANIFEST_ACCEPT, sha256 } from './manifest';
import { hostPlatform, type Platform } from './platform';
import type { ProgressCallback } from './progress';
import { familiarReference, formatReference, parseReference, repositoryName, withDefaultTag } from './reference';
import { RegistryClient, type RegistryOptions } from './registry';
import type { ImageStore, LoadedImage } from './store';

export interface PullOptions extends RegistryOptions {
  readonly onProgress?: ProgressCallback;
  /** Default: the host's platform (docker pull --platform). */
  readonly platform?: Platform;
  readonly limits?: Partial<Limits>;
}

export interface PulledImage extends LoadedImage {
  /** The digest of what the reference resolved to (the index for a multi-platform image), as docker prints it. */
  readonly digest: string;
  /** The canonical reference pulled ('docker.io/library/busybox:latest'). */
  readonly reference: string;
}

export async function pullImage(store: ImageStore, text: string, options: PullOptions = {}): Promise<PulledImage> {
  const ref = withDefaultTag(parseReference(text));
  const where = new Where([`pull ${familiarReference(ref)}`]);
  const limits: Limits = limitsOf(options.limits);
  const client = new RegistryClient(ref.domain, ref.path, options);
  const session = store.session();
  const ctx: AssembleContext = { session, limits, platform: options.platform ?? hostPlatform(), ...(options.onProgress ? { onProgress: options.onProgress } : {}) };
  try {
    const wanted = ref.digest ?? ref.tag!;
    const top = await client.manifest(wanted, MANIFEST_ACCEPT, limits.manifestBytes, where);
    const digest = sha256(top.bytes);
    if (ref.digest !== undefined && digest !== ref.digest) {
      throw where.error('EDIGEST', `registry ${client.host} sent a manifest with digest ${digest} for ${ref.digest}`);
    }
    if (top.digestHeader && /^sha256:/.test(top.digestHeader) && top.digestHeader !== digest) {
      throw where.error('EDIGEST', `registry ${client.host} says the manifest is ${top.digestHeader}, its content is ${digest}`);
    }
    const source: OciSource = {
      concurrency: 3,
      manifest: async (d, max, w) => {
        if (d.size > max) throw w.error('EIMAGE', `manifest is ${d.size} bytes (limit ${max})`);
        return checkBlob((await client.manifest(d.digest, d.mediaType || MANIFEST_ACCEPT, max, w)).bytes, d, w);
      },
      blob: async (d, max, w) => checkBlob(await client.blob(d.digest, Math.min(max, d.size), w), d, w),
      layer: async (d, diffId, w) => {
        const progress = layerProgress(ctx.onProgress, progressLabel(d.digest), d.size);
        if (session.retain(diffId)) {
          progress.exists();
          return { diffId };
        }
        return unpackBlob(ctx, client.blobStream(d.digest, d.size, w), { digest: d.digest, size: d.size, diffId }, w, progress);
      },
    };
    const topMediaType = top.mediaType?.split(';')[0]?.trim();
    const resolved = await resolveOciImage(source, { digest, bytes: top.bytes, ...(topMediaType ? { mediaType: topMediaType } : {}) }, ctx, where);
    const tags = ref.digest === undefined ? [formatReference(ref)] : [];
    const repoDigests = [`${repositoryName(ref)}@${digest}`];
    const [loaded] = store.commit(session, [pendingImage(resolved, tags, repoDigests)], freshLayers([resolved]));
    return { ...loaded!, digest, reference: formatReference(ref) };
  } catch (e) {
    throw where.wrap(e);
  } finally {
    session.close();
  }
}
