/**
 * A client of the OCI distribution API (distribution-spec v1.1) as docker pulls with it:
 * GET /v2/<name>/manifests/<ref> with docker's Accept list, GET /v2/<name>/blobs/<digest>,
 * token auth as public registries use it (a 401 with `WWW-Authenticate: Bearer realm=...,
 * service=..., scope=...` sends us to the realm for a token, anonymous or with credentials;
 * `Basic` takes the credentials directly), HTTPS, and plain HTTP for registries on loopback
 * or listed as insecure, trying HTTPS first as docker does.
 *
 * Every request has a deadline for its answer and an idle timeout while its body streams;
 * every body a bound on its size. Redirects (blob stores) are followed by hand so credentials
 * never travel to another origin.
 */
import { errnoNumber, NsError } from 'ns-core/errors';
import type { Where } from './errors';

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export interface RegistryOptions {
  /** Registries (host or host:port) to reach over plain HTTP too; loopback ones always are. */
  readonly insecureRegistries?: readonly string[];
  /** Credentials for a registry host; undefined for anonymous access. */
  readonly credentials?: (registry: string) => Credentials | undefined;
  /** Milliseconds to wait for an answer, or between two pieces of a body. Default 30 s. */
  readonly timeoutMs?: number;
  /** The fetch to use (tests); Node's own by default. */
  readonly fetch?: typeof fetch;
}

/** Docker Hub's API lives on another host than its name (docker's registry.IndexServer). */
export function registryHost(domain: string): string {
  return domain === 'docker.io' ? 'registry-1.docker.io' : domain;
}

/** 127.0.0.0/8, ::1 and localhost: docker talks plain HTTP to these without being told. */
export function isLoopback(host: string): boolean {
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return name === 'localhost' || name === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/** RFC 7235 challenges: `Bearer realm="https://auth",service="reg",scope="repository:a:pull"`. */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  const re = /\s*([A-Za-z][A-Za-z0-9._~+/-]*)((?:\s+|\s*,\s*)?(?:[A-Za-z0-9._~+/-]+\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^\s,]*)\s*,?\s*)*)/y;
  let pos = 0;
  while (pos < header.length) {
    re.lastIndex = pos;
    const m = re.exec(header);
    if (!m || m[0].length === 0) break;
    pos = re.lastIndex;
    const params: Record<string, string> = {};
    const pr = /([A-Za-z0-9._~+/-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
    for (let p = pr.exec(m[2] ?? ''); p; p = pr.exec(m[2] ?? '')) {
      params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
    }
    out.push({ scheme: m[1]!.toLowerCase(), params });
    while (header[pos] === ',' || header[pos] === ' ') pos++;
  }
  return out;
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: ReadableStream<Uint8Array> | null;
  readonly url: string;
}

export class RegistryClient {
  readonly host: string;
  private scheme: 'https' | 'http' | undefined;
  private readonly insecure: boolean;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;
  private token: string | undefined;
  private basic: string | undefined;

  constructor(domain: string, readonly repository: string, private readonly options: RegistryOptions = {}) {
    this.host = registryHost(domain);
    this.insecure = isLoopback(this.host) || (options.insecureRegistries ?? []).includes(this.host) || (options.insecureRegistries ?? []).includes(domain);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.fetchFn = options.fetch ?? fetch;
  }

  /** A manifest or index by tag or digest: bytes, the media type the registry said, its digest header. */
  async manifest(ref: string, accept: string, max: number, where: Where): Promise<{ bytes: Buffer; mediaType?: string; digestHeader?: string }> {
    const a = await this.get(`/v2/${this.repository}/manifests/${ref}`, accept, where, max);
    const bytes = await this.readAll(a, max, where);
    const mediaType = a.headers.get('content-type') ?? undefined;
    const digestHeader = a.headers.get('docker-content-digest') ?? undefined;
    return { bytes, ...(mediaType ? { mediaType } : {}), ...(digestHeader ? { digestHeader } : {}) };
  }

  /** A whole small blob (a config), at most MAX bytes. */
  async blob(digest: string, max: number, where: Where): Promise<Buffer> {
    const a = await this.get(`/v2/${this.repository}/blobs/${digest}`, '*/*', where, max);
    return this.readAll(a, max, where);
  }

  /** A blob as it arrives, never more than MAX bytes (a layer: its descriptor's size). */
  async *blobStream(digest: string, max: number, where: Where): AsyncGenerator<Buffer> {
    const a = await this.get(`/v2/${this.repository}/blobs/${digest}`, '*/*', where, max);
    yield* this.chunks(a, max, where);
  }

  private async get(path: string, accept: string, where: Where, max: number): Promise<Answer> {
    const scheme = this.scheme ?? 'https';
    let a: Answer;
    try {
      a = await this.authorized(`${scheme}://${this.host}${path}`, accept, where);
      this.scheme = scheme;
    } catch (e) {
      // docker's fallback for insecure registries: HTTPS first, plain HTTP when that fails to connect.
      if (this.scheme === undefined && this.insecure && (e as NsError).step === 'connect') {
        a = await this.authorized(`http://${this.host}${path}`, accept, where);
        this.scheme = 'http';
      } else throw e;
    }
    if (a.status === 200) {
      const length = Number(a.headers.get('content-length') ?? NaN);
      if (Number.isFinite(length) && length > max) {
        await a.body?.cancel();
        throw where.error('EREGISTRY', `registry ${this.host} offers ${length} bytes for ${path} (limit ${max})`);
      }
      return a;
    }
    const detail = await this.errorText(a);
    if (a.status === 404 && path.includes('/manifests/')) {
      const ref = path.slice(path.lastIndexOf('/') + 1);
      throw where.error('ENOIMAGE', `manifest for ${this.repository}${ref.includes(':') ? '@' : ':'}${ref} not found on ${this.host}${detail}`);
    }
    if (a.status === 401 || a.status === 403) {
      throw where.error('EREGISTRY', `registry ${this.host} refused access to ${this.repository} (${a.status})${detail}`, { hint: 'the repository may not exist, or it needs credentials' });
    }
    throw where.error('EREGISTRY', `registry ${this.host} answered ${a.status} for GET ${path}${detail}`);
  }

  /** One request; on a 401 with a challenge we can answer, the answer and the same request again. */
  private async authorized(url: string, accept: string, where: Where): Promise<Answer> {
    let a = await this.send(url, accept, where, this.authHeader());
    if (a.status !== 401) return a;
    const header = a.headers.get('www-authenticate') ?? '';
    await a.body?.cancel();
    const challenges = parseChallenges(header);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    const creds = this.options.credentials?.(this.host);
    if (bearer) {
      this.token = await this.fetchToken(bearer, creds, where);
    } else if (basic && creds) {
      this.basic = Buffer.from(`${creds.username}:${creds.password}`).toString('base64');
    } else {
      return { ...a, body: null };
    }
    a = await this.send(url, accept, where, this.authHeader());
    return a;
  }

  private authHeader(): string | undefined {
    if (this.token) return `Bearer ${this.token}`;
    if (this.basic) return `Basic ${this.basic}`;
    return undefined;
  }

  /** The token endpoint's answer: `{"token": ...}` or `{"access_token": ...}` (docker's token spec). */
  private async fetchToken(c: Challenge, creds: Credentials | undefined, where: Where): Promise<string> {
    const realm = c.params.realm;
    if (!realm) throw where.error('EREGISTRY', `registry ${this.host} asked for a bearer token without a realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw where.error('EREGISTRY', `registry ${this.host} named a token realm that is not a URL: ${JSON.stringify(realm)}`);
    }
    // Tokens (and credentials on their way to get one) travel in clear only to hosts docker
    // would talk plain HTTP to: loopback, or listed as insecure.
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (isLoopback(url.host) || (this.options.insecureRegistries ?? []).includes(url.host)))) {
      throw where.error('EREGISTRY', `registry ${this.host} sent us for a token to ${url.origin}, which is neither HTTPS nor a loopback or insecure registry`);
    }
    if (c.params.service) url.searchParams.set('service', c.params.service);
    url.searchParams.set('scope', c.params.scope ?? `repository:${this.repository}:pull`);
    const auth = creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` : undefined;
    const a = await this.send(url.toString(), 'application/json', where, auth, url.origin);
    if (a.status !== 200) {
      const detail = await this.errorText(a);
      throw where.error('EREGISTRY', `token server ${url.host} answered ${a.status}${detail}`);
    }
    const body = await this.readAll(a, 1 << 20, where);
    let doc: { token?: unknown; access_token?: unknown };
    try {
      doc = JSON.parse(body.toString()) as typeof doc;
    } catch {
      throw where.error('EREGISTRY', `token server ${url.host} answered something that is not JSON`);
    }
    const token = typeof doc.token === 'string' ? doc.token : typeof doc.access_token === 'string' ? doc.access_token : undefined;
    if (!token) throw where.error('EREGISTRY', `token server ${url.host} answered without a token`);
    return token;
  }

  /**
   * fetch with a deadline for the headers, following up to 5 redirects by hand: an
   * Authorization header goes only to the origin it was meant for.
   */
  private async send(url: string, accept: string, where: Where, authorization: string | undefined, authOrigin?: string): Promise<Answer> {
    const origin = authOrigin ?? new URL(url).origin;
    let current = url;
    for (let hop = 0; hop <= 5; hop++) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), this.timeoutMs);
      const headers: Record<string, string> = { accept, 'user-agent': 'ns-image/0.1' };
      if (authorization && new URL(current).origin === origin) headers.authorization = authorization;
      let res: Response;
      try {
        res = await this.fetchFn(current, { headers, redirect: 'manual', signal: controller.signal });
      } catch (e) {
        clearTimeout(timer);
        if (controller.signal.aborted) throw where.error('ETIMEDOUT', `registry ${this.host} did not answer GET ${current} within ${this.timeoutMs} ms`);
        throw connectError(e, current, where);
      }
      clearTimeout(timer);
      if ([301, 302, 303, 307, 308].includes(res.status) && res.headers.get('location')) {
        await res.body?.cancel();
        current = new URL(res.headers.get('location')!, current).toString();
        continue;
      }
      return { status: res.status, headers: res.headers, body: res.body, url: current };
    }
    throw where.error('EREGISTRY', `registry ${this.host}: more than 5 redirects for ${url}`);
  }

  /** The body's pieces, with the idle timeout and the size bound. */
  private async *chunks(a: Answer, max: number, where: Where): AsyncGenerator<Buffer> {
    if (!a.body) return;
    const reader = a.body.getReader();
    let total = 0;
    try {
      for (;;) {
        let timer: NodeJS.Timeout | undefined;
        const idle = new Promise<'idle'>((resolve) => { timer = setTimeout(() => resolve('idle'), this.timeoutMs); });
        const r = await Promise.race([reader.read(), idle]).catch((e: unknown) => {
          throw connectError(e, a.url, where);
        });
        clearTimeout(timer);
        if (r === 'idle') throw where.error('ETIMEDOUT', `registry ${this.host} sent nothing for ${this.timeoutMs} ms in the middle of ${a.url}`);
        if (r.done) return;
        total += r.value.length;
        if (total > max) throw where.error('EREGISTRY', `registry ${this.host} sent more than ${max} bytes for ${a.url}`);
        yield Buffer.from(r.value.buffer, r.value.byteOffset, r.value.length);
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  private async readAll(a: Answer, max: number, where: Where): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of this.chunks(a, max, where)) parts.push(c);
    return Buffer.concat(parts);
  }

  /** ": manifest unknown" from the registry's JSON errors, if it sent any. */
  private async errorText(a: Answer): Promise<string> {
    try {
      const parts: Buffer[] = [];
      let n = 0;
      if (a.body) {
        const reader = a.body.getReader();
        for (let r = await reader.read(); !r.done && n < 65536; r = await reader.read()) {
          parts.push(Buffer.from(r.value));
          n += r.value.length;
        }
        reader.cancel().catch(() => {});
      }
      const doc = JSON.parse(Buffer.concat(parts).toString()) as { errors?: { message?: string }[] };
      const msg = doc.errors?.map((e) => e.message).filter(Boolean).join('; ');
      return msg ? `: ${msg.slice(0, 200)}` : '';
    } catch {
      return '';
    }
  }
}

/**
 * fetch's TypeError('fetch failed') made one line: the errno name of its cause when it has
 * one (ECONNREFUSED, ENOTFOUND...), else EREGISTRY; step 'connect' marks it for the fallback.
 */
function connectError(e: unknown, url: string, where: Where): NsError {
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  const reason = cause?.message ?? (e as Error)?.message ?? String(e);
  const message = `${[...where.parts, `GET ${url} failed`].join(': ')}: ${reason}`;
  let errno = 0;
  try {
    errno = cause?.code ? errnoNumber(cause.code) : 0;
  } catch {
    errno = 0;
  }
  return new NsError({ errno, code: errno ? cause!.code! : 'EREGISTRY', message, step: 'connect' });
}
