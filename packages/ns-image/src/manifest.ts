/**
 * The JSON documents of an image, checked field by field before anything is trusted: OCI and
 * docker v2 manifests, OCI indexes and docker manifest lists, image configs, docker save's
 * manifest.json. Anything malformed is EIMAGE naming the document.
 */
import { createHash } from 'node:crypto';
import type { Where } from './errors';
import { platformScore, formatPlatform, type Platform } from './platform';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** What `docker pull` sends as Accept for manifests (schema 1 left out: docker dropped it). */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.dockerManifest, MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.ociManifest, MEDIA_TYPES.ociIndex,
].join(', ');

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: Platform;
  readonly annotations?: Readonly<Record<string, string>>;
}

export type Manifest =
  | { readonly kind: 'manifest'; readonly config: Descriptor; readonly layers: readonly Descriptor[] }
  | { readonly kind: 'index'; readonly manifests: readonly Descriptor[] };

/** The parts of an image config (image-spec config.md) that ns-image reads or reports. */
export interface ImageConfig {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  readonly created?: string;
  readonly author?: string;
  readonly config: ContainerConfig;
  readonly diffIds: readonly string[];
}

export interface ContainerConfig {
  readonly User?: string;
  readonly ExposedPorts?: Readonly<Record<string, object>>;
  readonly Env?: readonly string[];
  readonly Entrypoint?: readonly string[] | null;
  readonly Cmd?: readonly string[] | null;
  readonly Volumes?: Readonly<Record<string, object>>;
  readonly WorkingDir?: string;
  readonly Labels?: Readonly<Record<string, string>>;
  readonly StopSignal?: string;
}

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function parseJson(bytes: Buffer, where: Where): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw where.error('EIMAGE', `not valid JSON (${(e as Error).message})`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A sha256 digest in canonical form; other algorithms are refused (docker stores sha256 only). */
export function checkDigest(v: unknown, where: Where, what = 'digest'): string {
  if (typeof v !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(v)) {
    throw where.error('EIMAGE', `${what} ${JSON.stringify(v)} is not a sha256 digest`);
  }
  return v;
}

function stringArray(v: unknown, where: Where, what: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw where.error('EIMAGE', `${what} is not a list of strings`);
  return v as string[];
}

function stringMap(v: unknown, where: Where, what: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v) || Object.values(v).some((s) => typeof s !== 'string')) throw where.error('EIMAGE', `${what} is not a map of strings`);
  return v as Record<string, string>;
}

function objectMap(v: unknown, where: Where, what: string): Record<string, object> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw where.error('EIMAGE', `${what} is not an object`);
  return v as Record<string, object>;
}

function optionalString(v: unknown, where: Where, what: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw where.error('EIMAGE', `${what} is not a string`);
  return v;
}

export function parseDescriptor(v: unknown, where: Where): Descriptor {
  if (!isObject(v)) throw where.error('EIMAGE', 'descriptor is not an object');
  const digest = checkDigest(v.digest, where);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) {
    throw where.error('EIMAGE', `descriptor ${digest} has no valid size`);
  }
  const mediaType = optionalString(v.mediaType, where, 'mediaType') ?? '';
  const out: { mediaType: string; digest: string; size: number; platform?: Platform; annotations?: Record<string, string> } = { mediaType, digest, size: v.size };
  if (isObject(v.platform)) {
    const p = v.platform;
    if (typeof p.os === 'string' && typeof p.architecture === 'string') {
      out.platform = typeof p.variant === 'string' && p.variant ? { os: p.os, architecture: p.architecture, variant: p.variant } : { os: p.os, architecture: p.architecture };
    }
  }
  const annotations = stringMap(v.annotations, where, 'annotations');
  if (annotations) out.annotations = annotations;
  return out;
}

/**
 * A manifest or an index. The kind comes from the document's mediaType, else the transport's
 * Content-Type, else its shape (OCI allows mediaType to be absent).
 */
export function parseManifest(bytes: Buffer, where: Where, contentType?: string): Manifest {
  const doc = parseJson(bytes, where);
  if (!isObject(doc)) throw where.error('EIMAGE', 'manifest is not a JSON object');
  const mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : contentType?.split(';')[0]?.trim();
  if (doc.schemaVersion === 1 || mediaType === MEDIA_TYPES.dockerSchema1 || mediaType === MEDIA_TYPES.dockerSchema1Signed) {
    throw where.error('EIMAGE', 'schema 1 manifests are not supported (docker removed them too); push the image again with a current client');
  }
  if (doc.schemaVersion !== 2) throw where.error('EIMAGE', `unsupported manifest schemaVersion ${JSON.stringify(doc.schemaVersion)}`);
  const isIndex = mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerManifestList
    || (mediaType !== MEDIA_TYPES.ociManifest && mediaType !== MEDIA_TYPES.dockerManifest && Array.isArray(doc.manifests));
  if (isIndex) {
    if (!Array.isArray(doc.manifests)) throw where.error('EIMAGE', 'index has no manifests list');
    return { kind: 'index', manifests: doc.manifests.map((m) => parseDescriptor(m, where)) };
  }
  if (mediaType && mediaType !== MEDIA_TYPES.ociManifest && mediaType !== MEDIA_TYPES.dockerManifest) {
    throw where.error('EIMAGE', `unsupported manifest media type ${JSON.stringify(mediaType)}`);
  }
  if (!isObject(doc.config) || !Array.isArray(doc.layers)) throw where.error('EIMAGE', 'manifest has no config or no layers list');
  return { kind: 'manifest', config: parseDescriptor(doc.config, where), layers: doc.layers.map((l) => parseDescriptor(l, where)) };
}

export function parseConfig(bytes: Buffer, where: Where): ImageConfig {
  const doc = parseJson(bytes, where);
  if (!isObject(doc)) throw where.error('EIMAGE', 'image config is not a JSON object');
  const rootfs = doc.rootfs;
  if (!isObject(rootfs) || rootfs.type !== 'layers' || !Array.isArray(rootfs.diff_ids)) {
    throw where.error('EIMAGE', 'image config has no rootfs of type "layers" with diff_ids');
  }
  const diffIds = rootfs.diff_ids.map((d, i) => checkDigest(d, where, `rootfs.diff_ids[${i}]`));
  const c = doc.config === undefined || doc.config === null ? {} : doc.config;
  if (!isObject(c)) throw where.error('EIMAGE', 'image config\'s "config" is not an object');
  const config: Record<string, unknown> = {};
  const set = (k: string, v: unknown) => { if (v !== undefined) config[k] = v; };
  set('User', optionalString(c.User, where, 'config.User'));
  set('ExposedPorts', objectMap(c.ExposedPorts, where, 'config.ExposedPorts'));
  set('Env', stringArray(c.Env, where, 'config.Env'));
  set('Entrypoint', stringArray(c.Entrypoint, where, 'config.Entrypoint'));
  set('Cmd', stringArray(c.Cmd, where, 'config.Cmd'));
  set('Volumes', objectMap(c.Volumes, where, 'config.Volumes'));
  set('WorkingDir', optionalString(c.WorkingDir, where, 'config.WorkingDir'));
  set('Labels', stringMap(c.Labels, where, 'config.Labels'));
  set('StopSignal', optionalString(c.StopSignal, where, 'config.StopSignal'));
  const out: Record<string, unknown> = {
    architecture: optionalString(doc.architecture, where, 'architecture') ?? '',
    os: optionalString(doc.os, where, 'os') ?? '',
    config,
    diffIds,
  };
  for (const k of ['variant', 'created', 'author'] as const) {
    const v = optionalString(doc[k], where, k);
    if (v !== undefined) out[k] = v;
  }
  return out as unknown as ImageConfig;
}

/**
 * The manifest an index offers for PLATFORM, as containerd's matcher picks: the best score,
 * the first among equals. Attestation manifests (docker buildx's "unknown/unknown") never match.
 */
export function selectPlatform(manifests: readonly Descriptor[], want: Platform, where: Where): Descriptor {
  let best: Descriptor | undefined;
  let bestScore = 0;
  for (const m of manifests) {
    if (m.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') continue;
    const score = platformScore(want, m.platform);
    if (score > bestScore) {
      best = m;
      bestScore = score;
    }
  }
  if (!best) {
    const offered = manifests.map((m) => (m.platform ? formatPlatform(m.platform) : 'unknown')).join(', ');
    throw where.error('EIMAGE', `no manifest for ${formatPlatform(want)} in the index (it has ${offered || 'none'})`);
  }
  return best;
}

/** One entry of docker save's manifest.json. */
export interface DockerArchiveEntry {
  readonly config: string;
  readonly repoTags: readonly string[];
  readonly layers: readonly string[];
}

export function parseDockerManifest(bytes: Buffer, where: Where): DockerArchiveEntry[] {
  const doc = parseJson(bytes, where);
  if (!Array.isArray(doc)) throw where.error('EIMAGE', 'manifest.json is not a list');
  return doc.map((e, i) => {
    const w = where.with(`entry ${i}`);
    if (!isObject(e) || typeof e.Config !== 'string') throw w.error('EIMAGE', 'has no Config');
    return {
      config: e.Config,
      repoTags: stringArray(e.RepoTags, w, 'RepoTags') ?? [],
      layers: stringArray(e.Layers, w, 'Layers') ?? [],
    };
  });
}
