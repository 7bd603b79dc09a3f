import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import type { NsError } from 'ns-core';
import { ImageStore, pullImage, type ProgressEvent, type PullOptions } from '../src/index';
import { BlobMirror, FakeRegistry, TokenServer } from './fakereg';
import { podmanFixtures, run, type PodmanFixtures } from './fixtures';
import { gz, ociLayout, snapshot, tarOf, tempDir, writeLayout, type OciLayout } from './helpers';
import { CHILD, inOverlay } from './harness';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Debian's docker-registry on 127.0.0.1 with a store of its own; stopped by stop(). */
async function dockerRegistry(dir: string): Promise<{ host: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const config = join(dir, 'config.yml');
  fs.writeFileSync(config, [
    'version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:', '    enabled: true', 'http:', `  addr: 127.0.0.1:${port}`, '',
  ].join('\n'));
  const proc: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (c) => (stderr += c));
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/v2/`);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`docker-registry did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: `127.0.0.1:${port}`,
    stop: async () => {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => proc.once('exit', r));
      }
    },
  };
}

async function failure(p: Promise<unknown>): Promise<NsError> {
  try {
    await p;
  } catch (e) {
    return e as NsError;
  }
  throw new Error('expected a failure');
}

describe('pull', function () {
  this.timeout(120_000);
  let fx: PodmanFixtures;
  let base: string;
  let registry: { host: string; stop: () => Promise<void> };
  let multiDigest: string;
  const stores: string[] = [];
  const newStore = () => {
    const root = join(base, `store${stores.length}`);
    stores.push(root);
    return ImageStore.open({ root });
  };

  before(async () => {
    fx = podmanFixtures();
    base = tempDir('pull');
    registry = await dockerRegistry(base);
    run(['skopeo', 'copy', '-q', '--dest-tls-verify=false', `docker-archive:${fx.dockerArchive}`, `docker://${registry.host}/nsimage/test:1`]);
    // Two platforms behind one index, pushed as an index (skopeo copy --all).
    const layout = ociLayout([
      { layers: [gz(tarOf([{ name: 'arch', data: 'amd64' }]))], architecture: 'amd64' },
      { layers: [gz(tarOf([{ name: 'arch', data: 'arm64' }]))], architecture: 'arm64', variant: 'v8' },
    ], { asIndex: true, refName: 'multi' });
    const dir = join(base, 'multi');
    writeLayout(dir, layout);
    run(['skopeo', 'copy', '-q', '--all', '--dest-tls-verify=false', `oci:${dir}:multi`, `docker://${registry.host}/nsimage/multi:1`]);
    multiDigest = run(['skopeo', 'inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/nsimage/multi:1`]);
  });
  after(async () => {
    await registry?.stop();
    fs.rmSync(base, { recursive: true, force: true });
    fx.cleanup();
  });

  describe('from docker-registry on loopback (plain HTTP, as docker allows)', () => {
    it('pulls by tag: the image, its tag and digest, its config, a root that mounts', async () => {
      const store = newStore();
      const events: ProgressEvent[] = [];
      const pulled = await pullImage(store, `${registry.host}/nsimage/test:1`, { onProgress: (e) => events.push(e) });
      expect(pulled.references).to.deep.equal([`${registry.host}/nsimage/test:1`]);
      const skopeoDigest = JSON.parse(run(['skopeo', 'inspect', '--tls-verify=false', `docker://${registry.host}/nsimage/test:1`])).Digest;
      expect(pulled.digest).to.equal(skopeoDigest);
      const [img] = store.list();
      expect(img!.repoDigests).to.deep.equal([`${registry.host}/nsimage/test@${skopeoDigest}`]);
      expect(store.inspect(pulled.id).config.Cmd).to.deep.equal(['/bin/sh', '-c', 'echo hi']);
      expect(events.map((e) => e.phase)).to.include.members(['start', 'bytes', 'done']);
      const root = store.createContainerRoot(pulled.id, 'pulled');
      const r = inOverlay(root, 'cat "$M/etc/motd"');
      expect(r.stdout, r.stderr).to.equal('hello from the image\n');
      store.removeContainerRoot('pulled');
    });

    it('pulls by digest without making a tag, and skips layers it has', async () => {
      const store = newStore();
      const first = await pullImage(store, `${registry.host}/nsimage/test:1`);
      const events: ProgressEvent[] = [];
      const byDigest = await pullImage(store, `${registry.host}/nsimage/test@${first.digest}`, { onProgress: (e) => events.push(e) });
      expect(byDigest.id).to.equal(first.id);
      expect(byDigest.references).to.deep.equal([]);
      expect(events.map((e) => e.phase)).to.deep.equal(['exists']);
      expect(store.list()).to.have.length(1);
      expect(fs.readdirSync(join(store.root, 'layers'))).to.have.length(1);
    });

    it('chooses the platform\'s manifest from an index, the index digest kept as the repo digest', async () => {
      const store = newStore();
      const amd = await pullImage(store, `${registry.host}/nsimage/multi:1`, { platform: { os: 'linux', architecture: 'amd64' } });
      const arm = await pullImage(store, `${registry.host}/nsimage/multi:1`, { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
      expect(amd.id).not.to.equal(arm.id);
      expect(store.inspect(amd.id).architecture).to.equal('amd64');
      expect(store.inspect(arm.id).architecture).to.equal('arm64');
      expect(JSON.parse(multiDigest).manifests).to.have.length(2);
      expect(amd.digest).to.equal(arm.digest);
      expect(fs.readFileSync(join(store.layerPath(store.image(arm.id).layers[0]!), 'arch'), 'utf8')).to.equal('arm64');
      // The tag moved to the last pull; the first stays by id.
      expect(store.image(`${registry.host}/nsimage/multi:1`).id).to.equal(arm.id);
      const err = await failure(pullImage(store, `${registry.host}/nsimage/multi:1`, { platform: { os: 'linux', architecture: 's390x' } }));
      expect(err.message).to.match(/no manifest for linux\/s390x in the index \(it has linux\/amd64, linux\/arm64\/v8\)/);
    });

    it('says which manifest is unknown, and changes nothing', async () => {
      const store = newStore();
      const before = snapshot(store.root);
      const err = await failure(pullImage(store, `${registry.host}/nsimage/test:nope`));
      expect(err.code).to.equal('ENOIMAGE');
      expect(err.message).to.equal(`pull ${registry.host}/nsimage/test:nope: manifest for nsimage/test:nope not found on ${registry.host}: manifest unknown`);
      expect(snapshot(store.root)).to.deep.equal(before);
    });
  });

  describe('token auth, redirects and HTTPS (registries written in the test)', () => {
    let layout: OciLayout;
    before(() => {
      layout = ociLayout([{ layers: [gz(tarOf([{ name: 'hello', data: 'from a fake registry' }]))] }]);
    });

    it('follows WWW-Authenticate Bearer to the token server, anonymously, then with credentials', async () => {
      const tokens = await new TokenServer('tok-anon').start();
      const reg = await new FakeRegistry(layout, 'team/app', 'v1', { token: tokens }).start();
      try {
        const pulled = await pullImage(newStore(), `${reg.host}/team/app:v1`);
        expect(pulled.references).to.deep.equal([`${reg.host}/team/app:v1`]);
        expect(tokens.requests[0]).to.deep.equal({ service: 'fake-registry', scope: 'repository:team/app:pull' });
        expect(reg.seen[0]!.authorization).to.equal(undefined);
        expect(reg.seen.slice(1).every((s) => s.authorization === 'Bearer tok-anon')).to.equal(true);
      } finally {
        reg.close();
        tokens.close();
      }
      const creds = { username: 'alice', password: 's3cret' };
      const strict = await new TokenServer('tok-alice', creds).start();
      const reg2 = await new FakeRegistry(layout, 'team/app', 'v1', { token: strict }).start();
      try {
        const err = await failure(pullImage(newStore(), `${reg2.host}/team/app:v1`));
        expect(err.code).to.equal('EREGISTRY');
        expect(err.message).to.match(/token server 127\.0\.0\.1:\d+ answered 401/);
        await pullImage(newStore(), `${reg2.host}/team/app:v1`, { credentials: (host) => (host === reg2.host ? creds : undefined) });
        expect(strict.requests.at(-1)!.authorization).to.equal(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
      } finally {
        reg2.close();
        strict.close();
      }
    });

    it('answers a Basic challenge with credentials, and refuses without', async () => {
      const creds = { username: 'bob', password: 'pw' };
      const reg = await new FakeRegistry(layout, 'app', 'v1', { basic: creds }).start();
      try {
        const err = await failure(pullImage(newStore(), `${reg.host}/app:v1`));
        expect(err.message).to.match(/refused access to app \(401\)/);
        const ok = await pullImage(newStore(), `${reg.host}/app:v1`, { credentials: () => creds });
        expect(ok.references).to.have.length(1);
      } finally {
        reg.close();
      }
    });

    it('refuses a token realm that is plain HTTP away from loopback, and token garbage', async () => {
      const bad = { realm: 'http://example.com/token', token: 'x', requests: [] } as unknown as TokenServer;
      const reg = await new FakeRegistry(layout, 'app', 'v1', { token: bad }).start();
      const garbage = await new TokenServer('t', undefined, 'this is not json').start();
      const reg2 = await new FakeRegistry(layout, 'app', 'v1', { token: garbage }).start();
      try {
        expect((await failure(pullImage(newStore(), `${reg.host}/app:v1`))).message).to.match(/sent us for a token to http:\/\/example\.com, which is neither HTTPS nor a loopback or insecure registry/);
        expect((await failure(pullImage(newStore(), `${reg2.host}/app:v1`))).message).to.match(/token server 127\.0\.0\.1:\d+ answered something that is not JSON/);
      } finally {
        reg.close();
        reg2.close();
        garbage.close();
      }
    });

    it('follows blob redirects without sending credentials to the other origin', async () => {
      const tokens = await new TokenServer('tok').start();
      const files = new Map<string, Buffer>();
      for (const [p, d] of layout.files) if (p.startsWith('blobs/')) files.set(`sha256:${p.slice(13)}`, d);
      const mirror = await new BlobMirror(files).start();
      const reg = await new FakeRegistry(layout, 'app', 'v1', { token: tokens, redirectTo: mirror }).start();
      try {
        await pullImage(newStore(), `${reg.host}/app:v1`);
        expect(mirror.seen.length).to.be.greaterThan(0);
        expect(mirror.seen.every((s) => s.authorization === undefined)).to.equal(true);
      } finally {
        reg.close();
        mirror.close();
        tokens.close();
      }
    });

    it('speaks HTTPS to a registry that has it, loopback included', async () => {
      const dir = tempDir('tls');
      try {
        run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
          '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
        const tls = { key: fs.readFileSync(join(dir, 'key.pem'), 'utf8'), cert: fs.readFileSync(join(dir, 'cert.pem'), 'utf8') };
        const reg = await new FakeRegistry(layout, 'secure', 'v1', { tls }).start();
        try {
          // NODE_EXTRA_CA_CERTS is read at start-up only: the pull runs in a child.
          const r = await new Promise<string>((resolve) => {
            const p = spawn(process.execPath, [CHILD, 'pull', JSON.stringify({ root: join(dir, 'store'), ref: `localhost:${reg.port}/secure:v1` })], {
              env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') }, stdio: ['ignore', 'pipe', 'inherit'],
            });
            let out = '';
            p.stdout!.on('data', (c) => (out += c));
            p.on('exit', () => resolve(out));
          });
          expect(JSON.parse(r)).to.have.nested.property('ok.references[0]', `localhost:${reg.port}/secure:v1`);
          expect(reg.seen.length).to.be.greaterThan(1);
        } finally {
          reg.close();
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('uses plain HTTP only for loopback and listed registries', async () => {
      const urls: string[] = [];
      const refusing = (async (url: string) => {
        urls.push(url);
        throw Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
      }) as unknown as typeof fetch;
      const store = newStore();
      await failure(pullImage(store, 'registry.example:5000/app:1', { fetch: refusing }));
      expect(urls).to.deep.equal(['https://registry.example:5000/v2/app/manifests/1']);
      urls.length = 0;
      const err = await failure(pullImage(store, 'registry.example:5000/app:1', { fetch: refusing, insecureRegistries: ['registry.example:5000'] }));
      expect(urls).to.deep.equal(['https://registry.example:5000/v2/app/manifests/1', 'http://registry.example:5000/v2/app/manifests/1']);
      expect(err.code).to.equal('ECONNREFUSED');
      urls.length = 0;
      await failure(pullImage(store, 'busybox', { fetch: refusing }));
      expect(urls).to.deep.equal(['https://registry-1.docker.io/v2/library/busybox/manifests/latest']);
    });
  });

  describe('a registry that misbehaves', () => {
    let layout: OciLayout;
    let layerDigest: string;
    before(() => {
      layout = ociLayout([{ layers: [gz(tarOf([{ name: 'f', data: 'x'.repeat(100_000) }]))] }]);
      const manifest = JSON.parse(layout.files.get(`blobs/sha256/${layout.manifestDigest.slice(7)}`)!.toString());
      layerDigest = manifest.layers[0].digest;
    });

    async function against(misbehave: FakeRegistry['options']['misbehave'], options: PullOptions = {}): Promise<NsError> {
      const reg = await new FakeRegistry(layout, 'bad', 'v1', { misbehave }).start();
      const store = newStore();
      const before = snapshot(store.root);
      try {
        const err = await failure(pullImage(store, `${reg.host}/bad:v1`, options));
        expect(err.message).not.to.include('\n');
        expect(err.message).to.match(new RegExp(`^pull ${reg.host}/bad:v1: `));
        expect(snapshot(store.root)).to.deep.equal(before);
        return err;
      } finally {
        reg.close();
      }
    }

    it('answering garbage for the manifest', async () => {
      const err = await against((_q, res, kind) => kind === 'manifest' && !!res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end('<html>oops</html>'));
      expect(err.code).to.equal('EIMAGE');
      expect(err.message).to.match(/manifest sha256:[a-f0-9]{12}: not valid JSON/);
    });

    it('offering too much, or sending more than it said', async () => {
      const big = await against((_q, res, kind) => kind === 'manifest' && !!res.writeHead(200, { 'content-length': String(50 << 20) }).end(), { limits: { manifestBytes: 1 << 20 } });
      expect(big.code).to.equal('EREGISTRY');
      expect(big.message).to.match(/offers 52428800 bytes for \/v2\/bad\/manifests\/v1 \(limit 1048576\)/);
      const streaming = await against((_q, res, kind) => {
        if (kind !== 'manifest') return false;
        res.writeHead(200);
        res.write(Buffer.alloc(600_000, 0x20));
        res.end(Buffer.alloc(600_000, 0x20));
        return true;
      }, { limits: { manifestBytes: 1 << 20 } });
      expect(streaming.message).to.match(/sent more than 1048576 bytes/);
      const longer = await against((_q, res, kind, ref) => {
        if (kind !== 'blob' || ref !== layerDigest) return false;
        res.writeHead(200);
        res.end(Buffer.concat([layout.files.get(`blobs/sha256/${layerDigest.slice(7)}`)!, Buffer.from('extra bytes')]));
        return true;
      });
      expect(longer.message).to.match(/sent more than \d+ bytes for http:\/\/127\.0\.0\.1:\d+\/v2\/bad\/blobs\/sha256:/);
    });

    it('sending a layer that is not the one its manifest names', async () => {
      const err = await against((_q, res, kind, ref) => kind === 'blob' && ref === layerDigest && !!res.writeHead(200).end(gz(tarOf([{ name: 'f', data: 'y'.repeat(100_000) }]))));
      expect(err.code).to.equal('EDIGEST');
      expect(err.message).to.match(/layer sha256:[a-f0-9]{12}: blob has digest sha256:[a-f0-9]{64}, its manifest says sha256:/);
    });

    it('never answering, or stopping half-way', async () => {
      const silent = await against(() => true, { timeoutMs: 300 });
      expect(silent.code).to.equal('ETIMEDOUT');
      expect(silent.message).to.match(/did not answer GET http:\/\/127\.0\.0\.1:\d+\/v2\/bad\/manifests\/v1 within 300 ms/);
      const stalled = await against((_q, res, kind, ref) => {
        if (kind !== 'blob' || ref !== layerDigest) return false;
        res.writeHead(200);
        res.write(layout.files.get(`blobs/sha256/${layerDigest.slice(7)}`)!.subarray(0, 1000));
        return true;
      }, { timeoutMs: 300 });
      expect(stalled.code).to.equal('ETIMEDOUT');
      expect(stalled.message).to.match(/sent nothing for 300 ms in the middle of/);
    });

    it('failing with a server error', async () => {
      const err = await against((_q, res, kind) => kind === 'blob' && !!res.writeHead(500, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNKNOWN","message":"disk on fire"}]}'));
      expect(err.code).to.equal('EREGISTRY');
      expect(err.message).to.match(/answered 500 for GET \/v2\/bad\/blobs\/sha256:[a-f0-9]{64}: disk on fire/);
    });
  });
});
