import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { sys, type NsError } from 'ns-core';
import { ImageStore, loadImages } from '../src/index';
import { dockerArchive, gz, layoutArchive, ociLayout, sha256, snapshot, tarOf, tempDir, writeLayout } from './helpers';
import { child, CHILD, inOverlay, whiteoutImage, writeTemp } from './harness';
import { podmanFixtures, run, type PodmanFixtures } from './fixtures';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as NsError).code;
  }
  return undefined;
}

describe('the image store (as root)', function () {
  this.timeout(120_000);
  let fx: PodmanFixtures;
  const roots: string[] = [];
  const newStore = () => {
    const root = tempDir('store');
    roots.push(root);
    return ImageStore.open({ root: join(root, 's') });
  };

  before(() => {
    fx = podmanFixtures();
  });
  after(() => {
    for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
    fx.cleanup();
  });

  describe('loading', () => {
    it('loads podman\'s docker archive, lists it and reports what it loaded', async () => {
      const store = newStore();
      const loaded = await loadImages(store, fx.dockerArchive);
      expect(loaded).to.have.length(1);
      expect(loaded[0]!.references).to.deep.equal(['localhost/nsimage-test:1']);
      expect(loaded[0]!.id).to.match(/^sha256:[a-f0-9]{64}$/);
      const podmanId = run(['podman', '--root', join(fx.dir, 'root'), '--runroot', join(fx.dir, 'runroot'), '--storage-driver', 'vfs', 'image', 'inspect', '--format', '{{.Id}}', fx.reference]).trim();
      expect(loaded[0]!.id).to.equal(`sha256:${podmanId}`);
      const [img] = store.list();
      expect(img).to.include({ id: loaded[0]!.id });
      expect(img!.repoTags).to.deep.equal(['localhost/nsimage-test:1']);
      expect(img!.size).to.be.greaterThan(fs.statSync('/bin/busybox').size);
      expect(Date.parse(img!.created!)).to.be.closeTo(Date.now(), 3_600_000);
      expect(fs.readdirSync(join(store.root, 'tmp'))).to.deep.equal([]);
    });

    it('gives the config\'s Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts and Labels', async () => {
      const store = newStore();
      await loadImages(store, fx.ociArchive);
      const d = store.inspect('localhost/nsimage-test:1');
      expect(d.config.Cmd).to.deep.equal(['/bin/sh', '-c', 'echo hi']);
      expect(d.config.Entrypoint).to.deep.equal(['/bin/env']);
      expect(d.config.Env).to.include('GREETING=hello');
      expect(d.config.WorkingDir).to.equal('/srv');
      expect(d.config.User).to.equal('nobody');
      expect(d.config.ExposedPorts).to.have.property('8080/tcp');
      expect(d.config.Labels).to.deep.equal({ 'org.test': 'yes' });
      expect(d).to.include({ architecture: 'amd64', os: 'linux' });
    });

    it('stores the layer once when the same image comes as docker archive, OCI archive and OCI layout', async () => {
      const store = newStore();
      const a = await loadImages(store, fx.dockerArchive);
      const b = await loadImages(store, fx.ociArchive);
      const c = await loadImages(store, fx.ociDir);
      expect(new Set([a[0]!.id, b[0]!.id, c[0]!.id]).size).to.equal(1);
      // skopeo's oci:DIR:v1 names the image by a bare tag: reported, not made a reference.
      expect(c[0]!.references).to.deep.equal([]);
      expect(c[0]!.unnamed).to.deep.equal(['v1']);
      expect(fs.readdirSync(join(store.root, 'layers'))).to.have.length(1);
      expect(store.list()).to.have.length(1);
      expect(fs.readdirSync(join(store.root, 'tmp'))).to.deep.equal([]);
    });

    it('unpacks the layer with the tar\'s owners, modes and symlinks', async () => {
      const store = newStore();
      const [img] = await loadImages(store, fx.dockerArchive);
      const diff = store.layerPath(store.image(img!.id).layers[0]!);
      expect(fs.readFileSync(join(diff, 'bin/busybox')).equals(fs.readFileSync('/bin/busybox'))).to.equal(true);
      expect(fs.readlinkSync(join(diff, 'bin/sh'))).to.equal('busybox');
      expect(fs.statSync(join(diff, 'tmp')).mode & 0o7777).to.equal(0o1777);
      expect(fs.statSync(join(diff, 'bin/busybox')).mode & 0o7777).to.equal(0o755);
      expect(fs.readFileSync(join(diff, 'etc/motd'), 'utf8')).to.equal('hello from the image\n');
      // Oracle: GNU tar's own listing of the layer against what is on disk.
      const listing = run(['tar', '-tvf', fx.rootfsTar]).split('\n').filter((l) => l.includes(' ./etc/motd'));
      expect(listing[0]).to.match(/^-rw-r--r-- root\/root/);
      expect(fs.statSync(join(diff, 'etc/motd'))).to.include({ uid: 0, gid: 0 });
    });

    it('loads docker 25\'s blobs/ layout, a gzipped archive and keeps mtimes, owners and xattrs', async () => {
      const store = newStore();
      const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
      const layer = tarOf([
        { name: 'bin/', type: 'dir', mtime: new Date(1_500_000_000_000) },
        { name: 'bin/ping', data: 'x', mode: 0o755, uid: 1234, gid: 5678, xattrs: { 'security.capability': cap, 'user.note': Buffer.from('hi') } },
        { name: 'bin/su', data: 'y', mode: 0o4755 },
        { name: 'bin/big', data: Buffer.alloc(3 << 20, 7), mode: 0o4711, xattrs: { 'security.capability': cap } },
        { name: 'bin/bigplain', data: Buffer.alloc(3 << 20, 8), mode: 0o2755, uid: 42, gid: 43, mtime: new Date(1_400_000_000_000) },
        { name: 'dev/', type: 'dir' }, { name: 'dev/null', type: 'char', devmaj: 1, devmin: 3, mode: 0o666 },
        { name: 'run/fifo', type: 'fifo', mode: 0o600 },
      ]);
      const [img] = await loadImages(store, writeTemp(gz(dockerArchive({ layers: [layer], repoTags: ['example.com/x:1'] }, 'blobs'))));
      expect(img!.references).to.deep.equal(['example.com/x:1']);
      const diff = store.layerPath(sha256(layer));
      expect(fs.statSync(join(diff, 'bin/ping'))).to.include({ uid: 1234, gid: 5678 });
      expect(sys.lgetxattr(join(diff, 'bin/ping'), 'security.capability')).to.deep.equal(cap);
      expect(sys.lgetxattr(join(diff, 'bin/ping'), 'user.note')!.toString()).to.equal('hi');
      expect(fs.statSync(join(diff, 'bin/su')).mode & 0o7777).to.equal(0o4755);
      // Files large enough to be written behind keep their metadata too.
      expect(sys.lgetxattr(join(diff, 'bin/big'), 'security.capability')).to.deep.equal(cap);
      expect(fs.statSync(join(diff, 'bin/big')).mode & 0o7777).to.equal(0o4711);
      expect(fs.statSync(join(diff, 'bin/bigplain'))).to.include({ uid: 42, gid: 43, size: 3 << 20, mtimeMs: 1_400_000_000_000 });
      expect(fs.statSync(join(diff, 'bin/bigplain')).mode & 0o7777).to.equal(0o2755);
      expect(fs.readFileSync(join(diff, 'bin/bigplain')).equals(Buffer.alloc(3 << 20, 8))).to.equal(true);
      expect(fs.statSync(join(diff, 'bin')).mtimeMs).to.equal(1_500_000_000_000);
      expect(fs.statSync(join(diff, 'dev/null')).isCharacterDevice()).to.equal(true);
      expect(fs.statSync(join(diff, 'dev/null')).rdev).to.equal((1 << 8) | 3);
      expect(fs.lstatSync(join(diff, 'run/fifo')).isFIFO()).to.equal(true);
    });

    it('chooses the host\'s platform from an index, or the one asked for', async () => {
      const store = newStore();
      const amd = { layers: [tarOf([{ name: 'arch', data: 'amd64' }])], architecture: 'amd64' };
      const arm = { layers: [tarOf([{ name: 'arch', data: 'arm64' }])], architecture: 'arm64', variant: 'v8' };
      const dir = tempDir('layout');
      roots.push(dir);
      writeLayout(dir, ociLayout([arm, amd], { refName: 'localhost/multi:1', asIndex: true }));
      const [host] = await loadImages(store, dir);
      expect(store.inspect(host!.id).architecture).to.equal('amd64');
      const [other] = await loadImages(store, writeTemp(layoutArchive(ociLayout([arm, amd], { refName: 'localhost/multi:arm', asIndex: true }))), { platform: { os: 'linux', architecture: 'arm64' } });
      expect(store.inspect(other!.id).architecture).to.equal('arm64');
      expect(other!.id).not.to.equal(host!.id);
      expect(fs.readFileSync(join(store.layerPath(store.image('localhost/multi:arm').layers[0]!), 'arch'), 'utf8')).to.equal('arm64');
    });

    it('takes a layer whose first entry looks like JSON for the layer it is', async () => {
      const store = newStore();
      const layer = tarOf([{ name: '{"not":"json"}', data: 'curly' }, { name: '[x]', data: 'square' }]);
      const [img] = await loadImages(store, writeTemp(dockerArchive({ layers: [layer], repoTags: ['curly:1'] }, 'blobs')));
      expect(fs.readFileSync(join(store.layerPath(store.image(img!.id).layers[0]!), '{"not":"json"}'), 'utf8')).to.equal('curly');
    });

    it('moves a tag to the image loaded last; the one it left stays, untagged', async () => {
      const store = newStore();
      const one = await loadImages(store, writeTemp(dockerArchive({ layers: [tarOf([{ name: 'v', data: '1' }])], repoTags: ['app:v'] })));
      const two = await loadImages(store, writeTemp(dockerArchive({ layers: [tarOf([{ name: 'v', data: '2' }])], repoTags: ['app:v'] })));
      expect(store.image('app:v').id).to.equal(two[0]!.id);
      expect(store.image(one[0]!.id).repoTags).to.deep.equal([]);
      expect(store.list()).to.have.length(2);
    });

    it('reads an archive from a stream (docker load < FILE)', async () => {
      const store = newStore();
      const [img] = await loadImages(store, fs.createReadStream(fx.dockerArchive));
      expect(img!.references).to.deep.equal(['localhost/nsimage-test:1']);
    });

    it('refuses zstd clearly where Node cannot decompress it, and reads it where it can', async () => {
      const store = newStore();
      const layer = tarOf([{ name: 'z', data: 'zstd layer' }]);
      const zlib = await import('node:zlib');
      // Test code may use the zstd CLI as a fixture maker; product code decompresses in-process.
      const zst = spawnSync('zstd', ['-q', '-c'], { input: layer }).stdout;
      expect(zst.subarray(0, 4).toString('hex')).to.equal('28b52ffd');
      const archive = writeTemp(dockerArchive({ layers: [zst], repoTags: ['zstd:1'], diffIds: [sha256(layer)] }));
      if (typeof (zlib as { zstdDecompressSync?: unknown }).zstdDecompressSync === 'function') {
        const [img] = await loadImages(store, archive);
        expect(fs.readFileSync(join(store.layerPath(store.image(img!.id).layers[0]!), 'z'), 'utf8')).to.equal('zstd layer');
      } else {
        const before = snapshot(store.root);
        const err = await loadImages(store, archive).then(() => undefined, (e: NsError) => e);
        expect(err?.code).to.equal('ENOTSUP');
        expect(err?.message).to.match(/image zstd:1: blob .*: layer is zstd-compressed, which Node v\d+\.\d+\.\d+'s zlib cannot decompress$/);
        expect(err?.hint).to.match(/Node 22\.15/);
        expect(snapshot(store.root)).to.deep.equal(before);
        const outer = writeTemp(spawnSync('zstd', ['-q', '-c'], { input: fs.readFileSync(fx.dockerArchive) }).stdout);
        expect((await loadImages(store, outer).then(() => undefined, (e: NsError) => e))?.code).to.equal('ENOTSUP');
      }
    });

    it('tags, and keeps a layer a running writer has leased through a concurrent rmi', async () => {
      const store = newStore();
      const [img] = await loadImages(store, writeTemp(dockerArchive({ layers: [tarOf([{ name: 'l', data: 'leased' }])], repoTags: ['lease:1'] })));
      store.tag('lease:1', 'other.example/copy:2');
      expect(store.image('other.example/copy:2').id).to.equal(img!.id);
      expect(store.inspect('lease:1').repoTags).to.deep.equal(['lease:1', 'other.example/copy:2']);
      expect(code(() => store.tag('lease:1', `x@sha256:${'a'.repeat(64)}`))).to.equal('EREFERENCE');
      const layer = store.image(img!.id).layers[0]!;
      const session = store.session();
      expect(session.retain(layer)).to.equal(true);
      store.remove('lease:1');
      expect(store.remove('other.example/copy:2').deleted).to.deep.equal([img!.id]);
      expect(store.hasLayer(layer), 'leased').to.equal(true);
      session.close();
      expect(store.prune()).to.deep.equal([layer]);
      expect(code(() => store.inspect('lease:1'))).to.equal('ENOIMAGE');
    });

    it('survives two loads of the same archive at once, in two processes', async () => {
      const store = newStore();
      const results = await Promise.all([0, 1].map(() => child('load', { root: store.root, source: fx.dockerArchive })));
      for (const r of results) expect(r).to.have.property('ok');
      expect(fs.readdirSync(join(store.root, 'layers'))).to.have.length(1);
      expect(store.list()).to.have.length(1);
    });

    it('leaves no layer behind when the loader is killed half-way, and the next load cleans up', async () => {
      const store = newStore();
      const big = tarOf([{ name: 'big', data: randomBytes(20 << 20) }, { name: 'small', data: 'x' }]);
      const archive = writeTemp(dockerArchive({ layers: [big], repoTags: ['big:1'] }));
      const before = snapshot(store.root);
      const proc = spawn(process.execPath, [CHILD, 'load', JSON.stringify({ root: store.root, source: archive, slow: true })], { stdio: 'ignore' });
      // Wait until it is writing the layer, then SIGKILL it.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const sessions = fs.readdirSync(join(store.root, 'tmp'));
        const f = sessions.map((s) => join(store.root, 'tmp', s, '0/diff/big')).find((p) => fs.existsSync(p) && fs.statSync(p).size > 1 << 20);
        if (f) break;
        if (Date.now() > deadline) throw new Error('the loader never started writing');
        await new Promise((r) => setTimeout(r, 5));
      }
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
      const after = snapshot(store.root);
      const visible = (s: Record<string, string>) => Object.keys(s).filter((k) => !k.startsWith('tmp/') && k !== 'tmp' && k !== 'lock');
      expect(visible(after)).to.deep.equal(visible(before));
      expect(fs.readdirSync(join(store.root, 'layers'))).to.deep.equal([]);
      expect(fs.readdirSync(join(store.root, 'tmp'))).to.have.length(1);
      expect(code(() => store.image('big:1'))).to.equal('ENOIMAGE');
      // The next writer sweeps the dead one's directory (nobody holds its lock any more).
      await loadImages(store, fx.dockerArchive);
      expect(fs.readdirSync(join(store.root, 'tmp'))).to.deep.equal([]);
    });
  });

  describe('container roots', () => {
    it('stacks the layers with whiteouts and opaque directories honoured, writes going to the upper', async () => {
      const store = newStore();
      await loadImages(store, writeTemp(dockerArchive({ layers: whiteoutImage().layers, repoTags: ['wh:1'] })));
      const root = store.createContainerRoot('wh:1', 'c1');
      expect(root.lower).to.have.length(2);
      expect(root.userxattr).to.equal(false);
      const top = root.lower[0]!;
      expect(fs.statSync(join(top, 'a/gone')).isCharacterDevice()).to.equal(true);
      expect(sys.lgetxattr(join(top, 'd'), 'trusted.overlay.opaque')!.toString()).to.equal('y');
      const r = inOverlay(root, 'ls "$M/a"; echo --; ls "$M/d"; echo --; cat "$M/keep"; echo written > "$M/new-file"; mkdir "$M/a/sub"');
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.equal('stays\n--\nnew\n--\nkeep');
      expect(fs.readFileSync(join(root.upper!, 'new-file'), 'utf8')).to.equal('written\n');
      // The next container starts from the image, not from c1's writes.
      const second = store.createContainerRoot('wh:1', 'c2');
      const r2 = inOverlay(second, 'test ! -e "$M/new-file" && test ! -e "$M/a/sub" && echo clean');
      expect(r2.stdout.trim(), r2.stderr).to.equal('clean');
      expect(store.containerRoots().map((c) => c.id).sort()).to.deep.equal(['c1', 'c2']);
      expect(store.removeContainerRoot('c1')).to.equal(true);
      expect(store.removeContainerRoot('c1')).to.equal(false);
      expect(fs.existsSync(join(store.root, 'containers/c1'))).to.equal(false);
      expect(code(() => store.createContainerRoot('wh:1', 'c2'))).to.equal('EEXIST');
      expect(code(() => store.createContainerRoot('wh:1', '../x'))).to.equal('EUSAGE');
      store.removeContainerRoot('c2');
    });

    it('mounts an image that repeats a layer, keeping its topmost copy', async () => {
      const store = newStore();
      const a = tarOf([{ name: 'f', data: 'from a' }]);
      const b = tarOf([{ name: 'f', data: 'from b' }, { name: 'g', data: 'b only' }]);
      await loadImages(store, writeTemp(dockerArchive({ layers: [a, b, a], repoTags: ['repeat:1'] })));
      expect(store.image('repeat:1').layers).to.have.length(3);
      const root = store.createContainerRoot('repeat:1', 'rep', { readOnly: true });
      expect(root.lower).to.deep.equal([store.layerPath(sha256(a)), store.layerPath(sha256(b))]);
      const r = inOverlay(root, 'cat "$M/f" "$M/g"');
      expect(r.stdout, r.stderr).to.equal('from ab only');
      store.removeContainerRoot('rep');
    });

    it('gives a read-only root without upper, padding a one-layer image as overlayfs needs', async () => {
      const store = newStore();
      await loadImages(store, fx.dockerArchive);
      const root = store.createContainerRoot('localhost/nsimage-test:1', 'ro', { readOnly: true });
      expect(root.upper).to.equal(undefined);
      expect(root.lower).to.have.length(2);
      const r = inOverlay(root, 'cat "$M/etc/motd"; touch "$M/x" 2>/dev/null || echo read-only');
      expect(r.stdout, r.stderr).to.equal('hello from the image\nread-only\n');
      store.removeContainerRoot('ro');
    });

    it('refuses a storage path that overlayfs options cannot carry', () => {
      expect(code(() => ImageStore.open({ root: '/tmp/a,b' }))).to.equal('EUSAGE');
      expect(code(() => ImageStore.open({ root: '/tmp/a:b' }))).to.equal('EUSAGE');
    });
  });

  describe('rmi', () => {
    it('untags, then deletes the image and every layer no other image uses', async () => {
      const store = newStore();
      const shared = tarOf([{ name: 'shared', data: 'base' }]);
      const a = await loadImages(store, writeTemp(dockerArchive({ layers: [shared, tarOf([{ name: 'a', data: 'a' }])], repoTags: ['a:1', 'a:2'] })));
      await loadImages(store, writeTemp(dockerArchive({ layers: [shared, tarOf([{ name: 'b', data: 'b' }])], repoTags: ['b:1'] })));
      expect(fs.readdirSync(join(store.root, 'layers'))).to.have.length(3);
      expect(store.remove('a:1')).to.deep.equal({ untagged: ['a:1'], deleted: [], layers: [] });
      const r = store.remove('a:2');
      expect(r.untagged).to.deep.equal(['a:2']);
      expect(r.deleted).to.deep.equal([a[0]!.id]);
      expect(r.layers).to.deep.equal([sha256(tarOf([{ name: 'a', data: 'a' }]))]);
      expect(fs.readdirSync(join(store.root, 'layers'))).to.have.length(2);
      expect(fs.existsSync(join(store.root, 'blobs/sha256', a[0]!.id.slice(7)))).to.equal(false);
      expect(code(() => store.image('a:2'))).to.equal('ENOIMAGE');
      expect(code(() => store.remove('a:2'))).to.equal('ENOIMAGE');
      const b = store.image('b:1');
      expect(store.remove(b.id.slice(7, 19)).deleted).to.deep.equal([b.id]);
      expect(fs.readdirSync(join(store.root, 'layers'))).to.deep.equal([]);
      expect(fs.readdirSync(join(store.root, 'blobs/sha256'))).to.deep.equal([]);
      expect(fs.readdirSync(join(store.root, 'tmp'))).to.deep.equal([]);
    });

    it('refuses while a container uses the image, and an id named in several repositories unless forced', async () => {
      const store = newStore();
      const [img] = await loadImages(store, writeTemp(dockerArchive({ layers: [tarOf([{ name: 'x', data: 'x' }])], repoTags: ['one:1', 'two:1'] })));
      expect(code(() => store.remove(img!.id))).to.equal('EBUSY');
      store.createContainerRoot('one:1', 'user');
      store.remove('one:1');
      const before = snapshot(store.root);
      expect(() => store.remove('two:1')).to.throw(/container user is using its image/).with.property('code', 'EBUSY');
      expect(snapshot(store.root)).to.deep.equal(before);
      store.removeContainerRoot('user');
      const layer = store.image('two:1').layers[0]!;
      expect(() => store.remove('two:1', { inUseLayers: [layer] })).to.throw(/is in use/).with.property('code', 'EBUSY');
      expect(store.remove('two:1').deleted).to.deep.equal([img!.id]);
    });

    it('keeps a layer a caller says is in use even when its image goes (force)', async () => {
      const store = newStore();
      const [img] = await loadImages(store, writeTemp(dockerArchive({ layers: [tarOf([{ name: 'y', data: 'y' }])], repoTags: ['y:1'] })));
      const layer = store.image(img!.id).layers[0]!;
      const r = store.remove('y:1', { force: true, inUseLayers: () => [layer] });
      expect(r.deleted).to.deep.equal([img!.id]);
      expect(store.hasLayer(layer)).to.equal(true);
      expect(store.prune()).to.deep.equal([layer]);
      expect(store.hasLayer(layer)).to.equal(false);
    });
  });
});

