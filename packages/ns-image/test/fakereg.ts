/**
 * A registry written for the tests with node:http: it serves an OCI layout over the
 * distribution API, can demand bearer tokens from a token server of its own (docker's token
 * flow), send blobs elsewhere by redirect, speak HTTPS, and misbehave on request.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { OciLayout } from './helpers';

export interface Seen {
  readonly url: string;
  readonly authorization?: string;
}

export type Misbehaviour = (req: http.IncomingMessage, res: http.ServerResponse, kind: 'manifest' | 'blob', ref: string) => boolean;

export interface FakeOptions {
  /** Demand `Authorization: Bearer <token>` and send clients to this token server's realm. */
  readonly token?: TokenServer;
  /** Demand HTTP Basic auth with these credentials instead. */
  readonly basic?: { readonly username: string; readonly password: string };
  /** Answer blob GETs with a 307 to this server. */
  readonly redirectTo?: BlobMirror;
  readonly tls?: { readonly key: string; readonly cert: string };
  /** Called first for every manifest or blob request; true if it answered. */
  misbehave?: Misbehaviour;
}

/** A request as the tests check it: where it went, and the credentials it carried. */
function seenOf(req: http.IncomingMessage): Seen {
  return { url: req.url!, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) };
}

/** A server of the tests' on 127.0.0.1, on a port the kernel picks when it starts. */
abstract class LocalServer {
  port = 0;
  protected abstract readonly server: http.Server;

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  close(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}

export class TokenServer extends LocalServer {
  readonly requests: { service: string | null; scope: string | null; authorization?: string }[] = [];
  protected readonly server: http.Server;
  /** Credentials the token server insists on (else anonymous tokens for everyone). */
  constructor(readonly token: string, private readonly creds?: { username: string; password: string }, private readonly answer?: string) {
    super();
    this.server = http.createServer((req, res) => {
      const u = new URL(req.url!, 'http://x');
      this.requests.push({ service: u.searchParams.get('service'), scope: u.searchParams.get('scope'), ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      if (this.creds && req.headers.authorization !== `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString('base64')}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(this.answer ?? JSON.stringify({ token: this.token, expires_in: 300 }));
    });
  }
  get realm(): string {
    return `http://127.0.0.1:${this.port}/token`;
  }
}

/** Where redirected blobs are fetched from: records whether credentials leaked to it. */
export class BlobMirror extends LocalServer {
  readonly seen: Seen[] = [];
  protected readonly server: http.Server;
  constructor(private readonly blobs: Map<string, Buffer>) {
    super();
    this.server = http.createServer((req, res) => {
      this.seen.push(seenOf(req));
      const blob = this.blobs.get(req.url!.slice('/blob/'.length));
      if (!blob) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': blob.length }).end(blob);
    });
  }
}

export class FakeRegistry extends LocalServer {
  readonly seen: Seen[] = [];
  readonly blobs = new Map<string, Buffer>();
  protected readonly server: http.Server;
  private readonly top: { digest: string; mediaType: string };

  constructor(layout: OciLayout, readonly name: string, readonly tag: string, readonly options: FakeOptions = {}) {
    super();
    for (const [path, data] of layout.files) if (path.startsWith('blobs/sha256/')) this.blobs.set(`sha256:${path.slice(13)}`, data);
    const idx = JSON.parse(layout.files.get('index.json')!.toString()) as { manifests: { digest: string; mediaType: string }[] };
    this.top = idx.manifests[0]!;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => this.handle(req, res);
    this.server = options.tls ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, handler) : http.createServer(handler);
  }


  get host(): string {
    return `127.0.0.1:${this.port}`;
  }


  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.seen.push(seenOf(req));
    const { token, basic } = this.options;
    if (token && req.headers.authorization !== `Bearer ${token.token}`) {
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="${token.realm}",service="fake-registry",scope="repository:${this.name}:pull"`,
        'content-type': 'application/json',
      }).end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    if (basic && req.headers.authorization !== `Basic ${Buffer.from(`${basic.username}:${basic.password}`).toString('base64')}`) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' }).end();
      return;
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(req.url!);
    if (req.url === '/v2/') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    if (!m || m[1] !== this.name) return void res.writeHead(404).end('{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}');
    const kind = m[2] === 'manifests' ? 'manifest' : 'blob';
    const ref = m[3]!;
    if (this.options.misbehave?.(req, res, kind, ref)) return;
    if (kind === 'manifest') {
      const digest = ref === this.tag ? this.top.digest : ref;
      const body = this.blobs.get(digest);
      if (!body) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
      const mediaType = (JSON.parse(body.toString()) as { mediaType?: string }).mediaType ?? this.top.mediaType;
      res.writeHead(200, { 'content-type': mediaType, 'docker-content-digest': digest, 'content-length': body.length }).end(body);
      return;
    }
    const blob = this.blobs.get(ref);
    if (!blob) return void res.writeHead(404).end('{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}');
    if (this.options.redirectTo) {
      res.writeHead(307, { location: `http://127.0.0.1:${this.options.redirectTo.port}/blob/${ref}` }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.length }).end(blob);
  }
}
