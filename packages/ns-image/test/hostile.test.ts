import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { NsError } from 'ns-core';
import { ImageStore, loadImages, type LoadOptions } from '../src/index';
import { configOf, dockerArchive, gz, layoutArchive, ociLayout, sha256, snapshot, tarOf, tempDir, writeLayout, type EntrySpec } from './helpers';
import { CHILD, writeTemp } from './harness';

/**
 * Hostile archives, crafted here. Each must be refused with a one-line NsError naming the
 * image, the blob and what was wrong, and leave the store and everything around it (a canary
 * directory the archive aims at) exactly as they were.
 */
describe('hostile input', function () {
  this.timeout(60_000);
  let base: string;
  let canary: string;
  let store: ImageStore;

  before(async () => {
    base = tempDir('hostile');
    canary = join(base, 'canary');
    fs.mkdirSync(canary);
    fs.writeFileSync(join(canary, 'secret'), 'do not touch');
    store = ImageStore.open({ root: join(base, 'store') });
    // A store with something in it: what must stay as it was.
    await loadImages(store, writeTemp(dockerArchive({ layers: [tarOf([{ name: 'etc/', type: 'dir' }, { name: 'etc/ok', data: 'ok' }])], repoTags: ['good:1'] })));
  });
  after(() => fs.rmSync(base, { recursive: true, force: true }));

  /** Loads SOURCE, expecting code and message; checks that nothing changed anywhere under base. */
  async function refused(source: string, codeWanted: string, message: RegExp, options: LoadOptions = {}): Promise<NsError> {
    const before = snapshot(base);
    const fds = fs.readdirSync('/proc/self/fd').length;
    let err: NsError | undefined;
    try {
      await loadImages(store, source, options);
    } catch (e) {
      err = e as NsError;
    }
    expect(err, 'the load should have failed').to.be.instanceOf(Error);
    expect(err!.message).to.match(message);
    expect(err!.code, err!.message).to.equal(codeWanted);
    expect(err!.message, 'one line').not.to.include('\n');
    expect(err!.name).to.equal('NsError');
    expect(snapshot(base)).to.deep.equal(before);
    expect(fs.readdirSync(join(store.root, 'tmp'))).to.deep.equal([]);
    expect(fs.readdirSync('/proc/self/fd').length, 'no file left open').to.equal(fds);
    return err!;
  }

  const image = (layers: Buffer[], extra: Partial<Parameters<typeof dockerArchive>[0]> = {}) =>
    writeTemp(dockerArchive({ layers, repoTags: ['hostile:1'], ...extra }));
  const layerOf = (entries: EntrySpec[]) => tarOf([{ name: 'ok', data: 'fine' }, ...entries]);

  describe('layer entries', () => {
    it('refuses a ".." component', async () => {
      const err = await refused(image([layerOf([{ name: '../../canary/pwned', data: 'x' }])]), 'EIMAGE', /'\.\.' component/);
      expect(err.message).to.match(/^load .*: image hostile:1: blob [a]{63}0\/layer\.tar: entry "\.\.\/\.\.\/canary\/pwned": path has a '\.\.' component$/);
      await refused(image([layerOf([{ name: 'a/../../../canary/x', data: 'x' }])]), 'EIMAGE', /'\.\.' component/);
    });

    it('refuses an absolute path', async () => {
      await refused(image([layerOf([{ name: `${canary}/pwned`, data: 'x' }])]), 'EIMAGE', /image hostile:1: .*entry ".*canary\/pwned": absolute path/);
    });

    it('refuses writing through a symlink planted earlier in the same layer', async () => {
      await refused(image([layerOf([{ name: 'link', type: 'symlink', linkpath: canary }, { name: 'link/pwned', data: 'x' }])]), 'EIMAGE', /"link" is a symlink in this layer, and nothing is written through it/);
      await refused(image([layerOf([{ name: 'up', type: 'symlink', linkpath: '../../../../canary' }, { name: 'up/pwned', data: 'x' }])]), 'EIMAGE', /"up" is a symlink/);
      await refused(image([layerOf([{ name: 'd/', type: 'dir' }, { name: 'd/l', type: 'symlink', linkpath: '/' }, { name: 'd/l/etc/x', type: 'dir' }])]), 'EIMAGE', /"d\/l" is a symlink/);
      // A file where a directory should be is refused too.
      await refused(image([layerOf([{ name: 'f', data: 'x' }, { name: 'f/under', data: 'x' }])]), 'EIMAGE', /"f" is not a directory/);
    });

    it('keeps a symlink of a lower layer out of the way: the upper layer gets its own directory', async () => {
      const before = snapshot(canary);
      const lower = tarOf([{ name: 'link', type: 'symlink', linkpath: canary }]);
      const upper = tarOf([{ name: 'link/pwned', data: 'x' }]);
      const [img] = await loadImages(store, image([lower, upper], { repoTags: ['lower-link:1'] }));
      expect(snapshot(canary)).to.deep.equal(before);
      const top = store.layerPath(sha256(upper));
      expect(fs.lstatSync(join(top, 'link')).isDirectory()).to.equal(true);
      expect(fs.readFileSync(join(top, 'link/pwned'), 'utf8')).to.equal('x');
      expect(fs.readlinkSync(join(store.layerPath(sha256(lower)), 'link'))).to.equal(canary);
      store.remove(img!.id);
    });

    it('refuses hard links that leave the layer or pass through a symlink', async () => {
      await refused(image([layerOf([{ name: 'h', type: 'link', linkpath: '../../canary/secret' }])]), 'EIMAGE', /hard link to "\.\.\/\.\.\/canary\/secret", outside the layer/);
      await refused(image([layerOf([{ name: 'h', type: 'link', linkpath: join(canary, 'secret') }])]), 'EIMAGE', /hard link to an absolute path/);
      await refused(image([layerOf([{ name: 'l', type: 'symlink', linkpath: canary }, { name: 'h', type: 'link', linkpath: 'l/secret' }])]), 'EIMAGE', /not reached through this layer's own directories/);
      await refused(image([layerOf([{ name: 'h', type: 'link', linkpath: 'missing' }])]), 'EIMAGE', /which is not in this layer/);
      await refused(image([layerOf([{ name: 'd/', type: 'dir' }, { name: 'h', type: 'link', linkpath: 'd' }])]), 'EIMAGE', /hard link to the directory "d"/);
    });

    it('refuses xattrs that would steer overlayfs, nameless whiteouts and a file for the root', async () => {
      await refused(image([layerOf([{ name: 'x', data: 'x', xattrs: { 'trusted.overlay.redirect': Buffer.from('/etc') } }])]), 'EIMAGE', /xattr trusted\.overlay\.redirect would steer overlayfs/);
      await refused(image([layerOf([{ name: 'd/.wh.', data: '' }])]), 'EIMAGE', /whiteout without a name/);
      await refused(image([tarOf([{ name: './', type: 'symlink', linkpath: '/' }])]), 'EIMAGE', /cannot replace the layer's root/);
    });

    it('refuses more entries than the limit', async () => {
      const many = Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, data: '' }));
      await refused(image([layerOf(many)]), 'EIMAGE', /more than 10 entries in one layer/, { limits: { layerEntries: 10 } });
    });
  });

  describe('digests and sizes', () => {
    it('refuses a layer whose tar is not the diff_id its config names', async () => {
      const real = tarOf([{ name: 'a', data: 'a' }]);
      const err = await refused(image([real], { diffIds: [sha256(Buffer.from('other'))] }), 'EDIGEST', /layer tar has digest sha256:[a-f0-9]{64}, the image config says sha256:/);
      expect(err.message).to.match(/image hostile:1: blob /);
    });

    it('refuses a config whose name is not its digest', async () => {
      const spec = { layers: [tarOf([{ name: 'a', data: 'a' }])], repoTags: ['hostile:1'] };
      const archive = dockerArchive(spec);
      const cfg = configOf(spec);
      const tampered = Buffer.from(archive.toString('latin1').replace('"Cmd":["/bin/sh"]', '"Cmd":["/bin/xx"]'), 'latin1');
      expect(tampered.equals(archive)).to.equal(false);
      await refused(writeTemp(tampered), 'EDIGEST', /image hostile:1: config [a-f0-9]{64}\.json has digest sha256:/);
      // Rebuilt properly around a lying name: the digest check itself.
      const lie = tarOf([
        { name: 'l.tar', data: spec.layers[0]! },
        { name: `${'0'.repeat(64)}.json`, data: cfg },
        { name: 'manifest.json', data: JSON.stringify([{ Config: `${'0'.repeat(64)}.json`, RepoTags: ['hostile:1'], Layers: ['l.tar'] }]) },
      ]);
      await refused(writeTemp(lie), 'EDIGEST', /config 0{64}\.json has digest sha256:/);
    });

    it('refuses OCI blobs whose content, size or name disagree with their descriptors', async () => {
      const layout = ociLayout([{ layers: [gz(tarOf([{ name: 'a', data: 'a' }]))] }], { refName: 'localhost/hostile:oci' });
      const layerName = [...layout.files.keys()].find((k) => k.startsWith('blobs/') && layout.files.get(k)![0] === 0x1f)!;
      const swapped = new Map(layout.files);
      swapped.set(layerName, gz(tarOf([{ name: 'a', data: 'b' }])));
      await refused(writeTemp(layoutArchive({ ...layout, files: swapped })), 'EDIGEST', /image localhost\/hostile:oci: layer sha256:[a-f0-9]{12}: blob blobs\/sha256\/[a-f0-9]{64}: blob has digest sha256:[a-f0-9]{64}, its name says/);
      const dir = tempDir('badlayout');
      try {
        writeLayout(dir, { ...layout, files: swapped });
        await refused(dir, 'EDIGEST', /blob has digest sha256:[a-f0-9]{64}, its manifest says/);
        // index.json claiming the wrong size of the manifest.
        const idx = JSON.parse(layout.files.get('index.json')!.toString());
        idx.manifests[0].size += 1;
        writeLayout(dir, { ...layout, files: new Map([...layout.files, ['index.json', Buffer.from(JSON.stringify(idx))]]) });
        await refused(dir, 'EDIGEST', /content is \d+ bytes, its descriptor says \d+/);
        // A blob that is a symlink out of the layout.
        writeLayout(dir, layout);
        fs.rmSync(join(dir, layerName));
        fs.symlinkSync(join(canary, 'secret'), join(dir, layerName));
        await refused(dir, 'EIMAGE', /resolves outside/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('truncated and corrupt archives', () => {
    it('refuses an archive cut in the middle of a layer, gzipped or not', async () => {
      const whole = dockerArchive({ layers: [tarOf([{ name: 'big', data: 'z'.repeat(3 << 20) }])], repoTags: ['hostile:1'] });
      await refused(writeTemp(whole.subarray(0, 2 << 20)), 'EIMAGE', /not a valid archive: truncated archive: it ends inside entry "a{63}0\/layer\.tar"/);
      const zipped = gz(whole);
      await refused(writeTemp(zipped.subarray(0, zipped.length >> 1)), 'EIMAGE', /corrupt compressed archive: unexpected end of file/);
    });

    it('refuses a corrupt gzip layer, a cut gzip layer and a cut tar inside gzip', async () => {
      const tar = tarOf([{ name: 'data', data: Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251)) }]);
      const good = gz(tar);
      const corrupt = Buffer.from(good);
      for (let i = 100; i < 200; i++) corrupt[i] ^= 0x55;
      await refused(image([corrupt], { diffIds: [sha256(tar)] }), 'EIMAGE', /image hostile:1: blob .*: corrupt gzip data/);
      await refused(image([good.subarray(0, good.length - 100)], { diffIds: [sha256(tar)] }), 'EIMAGE', /corrupt gzip data: unexpected end of file/);
      const cut = tar.subarray(0, 100_000);
      await refused(image([gz(cut)], { diffIds: [sha256(cut)] }), 'EIMAGE', /corrupt tar: truncated archive: it ends inside entry "data"/);
    });

    it('refuses JSON garbage in manifest.json and index.json, and names nobody can use', async () => {
      await refused(writeTemp(tarOf([{ name: 'manifest.json', data: '[{"Config": ' }])), 'EIMAGE', /manifest.json: not valid JSON/);
      await refused(writeTemp(tarOf([{ name: 'manifest.json', data: '{"a":1}' }])), 'EIMAGE', /manifest.json is not a list/);
      await refused(writeTemp(tarOf([{ name: 'index.json', data: 'garbage' }])), 'EIMAGE', /index.json is not a JSON document|index.json: not valid JSON/);
      await refused(writeTemp(tarOf([{ name: 'hello', data: 'not an image' }])), 'EIMAGE', /neither manifest.json \(docker save\) nor index.json/);
      await refused(writeTemp(Buffer.from('this is not a tar file at all, not even close'.repeat(20))), 'EIMAGE', /not a valid archive: tar header checksum failure/);
      const cfg = configOf({ layers: [] });
      await refused(writeTemp(tarOf([
        { name: 'c.json', data: cfg },
        { name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['hostile:1'], Layers: ['../../etc/passwd'] }]) },
      ])), 'EIMAGE', /manifest.json lists 1 layers, the config 0 diff_ids/);
      const one = tarOf([{ name: 'a', data: 'a' }]);
      const cfg1 = configOf({ layers: [one] });
      await refused(writeTemp(tarOf([
        { name: 'c.json', data: cfg1 },
        { name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['hostile:1'], Layers: ['../../etc/passwd'] }]) },
      ])), 'EIMAGE', /points outside the archive/);
      await refused(writeTemp(tarOf([
        { name: 'c.json', data: cfg1 },
        { name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['NOT VALID'], Layers: ['x'] }]) },
      ])), 'EIMAGE', /RepoTags "NOT VALID"/);
    });
  });

  describe('a full disk', () => {
    it('fails with ENOSPC naming the entry, and leaves neither layer nor session behind', () => {
      // A 4 MiB tmpfs in a mount namespace of its own: nothing of it reaches the host's table.
      const big = image([tarOf([{ name: 'small', data: 'x' }, { name: 'huge', data: Buffer.alloc(8 << 20, 1) }])]);
      const dir = tempDir('enospc');
      try {
        const script = `mount -t tmpfs -o size=4m tmpfs '${dir}' && ${JSON.stringify(process.execPath)} '${CHILD}' load '${JSON.stringify({ root: `${dir}/s`, source: big })}'; echo; ls -A '${dir}/s/tmp' '${dir}/s/layers'`;
        const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8' });
        const [line, ...rest] = r.stdout.split('\n');
        const out = JSON.parse(line!) as { error?: { code: string; message: string } };
        expect(out.error?.code, r.stderr).to.equal('ENOSPC');
        expect(out.error?.message).to.match(/^load .*: image hostile:1: blob a{63}0\/layer\.tar: entry "huge": write failed: ENOSPC$/);
        expect(rest.join('\n').trim()).to.equal(`${dir}/s/layers:\n\n${dir}/s/tmp:`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('sizes over the limits', () => {
    it('refuses a decompression bomb past the uncompressed limit', async () => {
      const bomb = tarOf([{ name: 'zeros', data: Buffer.alloc(8 << 20) }]);
      await refused(image([gz(bomb)], { diffIds: [sha256(bomb)] }), 'EIMAGE', /layer is more than 1048576 bytes uncompressed \(the limit\)/, { limits: { layerBytes: 1 << 20 } });
    });

    it('refuses a manifest.json over its limit', async () => {
      const big = JSON.stringify([{ Config: 'c.json', RepoTags: [], Layers: [], pad: 'x'.repeat(5000) }]);
      await refused(writeTemp(tarOf([{ name: 'manifest.json', data: big }])), 'EIMAGE', /manifest.json is \d+ bytes \(limit 4096\)/, { limits: { manifestBytes: 4096, configBytes: 4096 } });
    });
  });
});
