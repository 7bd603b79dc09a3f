/**
 * Image references parsed as docker parses them (github.com/distribution/reference: its
 * grammar, ParseNormalizedNamed, splitDockerDomain, FamiliarString), so `busybox` is
 * docker.io/library/busybox:latest and `localhost:5000/x` names a registry.
 */
import { imageError } from './errors';

const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tagPattern = '[\\w][\\w.-]{0,127}';
const digestPattern = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const namePattern = `(?:${domainAndPort}/)?${remoteName}`;

const REFERENCE = new RegExp(`^(${namePattern})(?::(${tagPattern}))?(?:@(${digestPattern}))?$`);
const NAME = new RegExp(`^(?:(${domainAndPort})/)?(${remoteName})$`);
const IDENTIFIER = /^[a-f0-9]{64}$/;
const TAG = new RegExp(`^${tagPattern}$`);

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const NAME_TOTAL_LENGTH_MAX = 255;
const DIGEST_LENGTHS: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** A parsed, normalized reference: `domain/path[:tag][@digest]`. */
export interface ImageReference {
  /** Registry host[:port], 'docker.io' for Docker Hub. */
  readonly domain: string;
  /** Repository path inside the registry ('library/busybox'). */
  readonly path: string;
  readonly tag?: string;
  /** 'sha256:<64 hex>'. */
  readonly digest?: string;
}

function invalid(message: string): never {
  throw imageError('EREFERENCE', message);
}

/** go-digest's Parse/Validate: algorithm known, encoded part of its length, lowercase hex. */
export function validateDigest(digest: string): string {
  const m = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/.exec(digest);
  if (!m) invalid(`invalid checksum digest format: ${digest}`);
  const length = DIGEST_LENGTHS[m[1]!];
  if (length === undefined) invalid(`unsupported digest algorithm: ${digest}`);
  if (m[2]!.length !== length) invalid(`invalid checksum digest length: ${digest}`);
  if (!/^[a-f0-9]+$/.test(m[2]!)) invalid(`invalid checksum digest format: ${digest}`);
  return digest;
}

/** distribution/reference's splitDockerDomain: the first component is a host only if it looks like one. */
function splitDockerDomain(name: string): [string, string] {
  const i = name.indexOf('/');
  let domain: string;
  let remainder: string;
  const first = i < 0 ? '' : name.slice(0, i);
  if (i < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return [domain, remainder];
}

/**
 * ParseNormalizedNamed: what `docker pull`, `docker run` and `docker tag` accept. Adds the
 * docker.io domain and library/ prefix; does not add a tag (see withDefaultTag).
 * Throws EREFERENCE with docker's message for anything it would refuse.
 */
export function parseReference(text: string): ImageReference {
  if (IDENTIFIER.test(text)) invalid(`invalid repository name (${text}), cannot specify 64-byte hexadecimal strings`);
  const [domain, remainder] = splitDockerDomain(text);
  const tagSep = remainder.indexOf(':');
  const repo = tagSep >= 0 ? remainder.slice(0, tagSep) : remainder;
  if (repo.toLowerCase() !== repo) invalid(`invalid reference format: repository name (${repo}) must be lowercase`);
  return parseCanonical(`${domain}/${remainder}`, text);
}

/** reference.Parse on an already-normalized string. */
function parseCanonical(s: string, asTyped: string): ImageReference {
  const m = REFERENCE.exec(s);
  if (!m) {
    if (REFERENCE.test(s.toLowerCase())) invalid(`invalid reference format: repository name must be lowercase: ${JSON.stringify(asTyped)}`);
    invalid(`invalid reference format: ${JSON.stringify(asTyped)}`);
  }
  const name = m[1]!;
  if (name.length > NAME_TOTAL_LENGTH_MAX) invalid(`repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  const n = NAME.exec(name)!;
  const ref: { domain: string; path: string; tag?: string; digest?: string } = { domain: n[1] ?? '', path: n[2]! };
  if (m[2] !== undefined) ref.tag = m[2];
  if (m[3] !== undefined) ref.digest = validateDigest(m[3]);
  return ref;
}

/** reference.TagNameOnly: a reference with neither tag nor digest gets ':latest'. */
export function withDefaultTag(ref: ImageReference): ImageReference {
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: 'latest' } : ref;
}

/** 'docker.io/library/busybox' */
export function repositoryName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The canonical string: 'docker.io/library/busybox:latest', 'localhost:5000/a@sha256:...'. */
export function formatReference(ref: ImageReference): string {
  return `${repositoryName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** FamiliarString: what docker prints ('busybox:latest', 'user/app:1', 'quay.io/x/y:2'). */
export function familiarReference(ref: ImageReference): string {
  let name = repositoryName(ref);
  if (ref.domain === DEFAULT_DOMAIN) {
    name = ref.path.startsWith(OFFICIAL_REPO_PREFIX) && ref.path.indexOf('/', OFFICIAL_REPO_PREFIX.length) < 0
      ? ref.path.slice(OFFICIAL_REPO_PREFIX.length) : ref.path;
  }
  return `${name}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** A tag as `docker tag` accepts one. */
export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

/** 'sha256:<hex>' or '<64 hex>': the text names an image id rather than a repository. */
export function parseImageId(text: string): string | undefined {
  const hex = text.startsWith('sha256:') ? text.slice(7) : text;
  return IDENTIFIER.test(hex) ? hex : undefined;
}
