import { expect } from 'chai';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { sys } from 'ns-core';
import { ImageStore, type ContainerRoot } from '../src/index';
import { podmanFixtures, type PodmanFixtures } from './fixtures';
import { child, inOverlay, whiteoutImage, writeTemp } from './harness';
import { dockerArchive, snapshot, tarOf, tempDir } from './helpers';

const NOBODY = 65534;

/** The store as an unprivileged user sees it: everything the caller's, user.* attributes only. */
describe('rootless (as uid 65534, a store under its own HOME)', function () {
  this.timeout(120_000);
  let fx: PodmanFixtures;
  let home: string;
  let env: NodeJS.ProcessEnv;
  const as = (op: string, args: Record<string, unknown>, extraEnv: NodeJS.ProcessEnv = {}) => child(op, args, { uid: NOBODY, env: { ...env, ...extraEnv } });

  before(() => {
    fx = podmanFixtures();
    fs.chmodSync(fx.dir, 0o755);
    for (const f of [fx.dockerArchive, fx.ociArchive]) fs.chmodSync(f, 0o644);
    home = tempDir('home');
    fs.chownSync(home, NOBODY, NOBODY);
    env = { PATH: process.env.PATH, HOME: home };
  });
  after(() => {
    fs.rmSync(home, { recursive: true, force: true });
    fx.cleanup();
  });

  it('keeps its store in ${XDG_DATA_HOME:-~/.local/share}/ns-run', async () => {
    expect(await as('root', {})).to.deep.equal({ ok: { root: `${home}/.local/share/ns-run`, rootless: true } });
    const xdg = join(home, 'xdg');
    expect(await as('root', {}, { XDG_DATA_HOME: xdg })).to.deep.equal({ ok: { root: `${xdg}/ns-run`, rootless: true } });
    // A relative XDG_DATA_HOME is invalid by the XDG spec and ignored.
    expect(await as('root', {}, { XDG_DATA_HOME: 'rel' })).to.deep.equal({ ok: { root: `${home}/.local/share/ns-run`, rootless: true } });
    expect(fs.statSync(`${home}/.local/share/ns-run`)).to.include({ uid: NOBODY });
    expect(fs.statSync(`${home}/.local/share/ns-run`).mode & 0o777).to.equal(0o700);
  });

  it('loads podman\'s image with every file the caller\'s, and refuses a store of another uid', async () => {
    const r = await as('load', { source: fx.dockerArchive });
    expect(r.ok).to.deep.equal([{ id: (r.ok as { id: string }[])[0]!.id, references: ['localhost/nsimage-test:1'] }]);
    const root = `${home}/.local/share/ns-run`;
    const [layer] = fs.readdirSync(join(root, 'layers'));
    const diff = join(root, 'layers', layer!, 'diff');
    for (const p of ['bin/busybox', 'etc/motd', 'tmp', 'bin/sh']) expect(fs.lstatSync(join(diff, p)).uid, p).to.equal(NOBODY);
    expect(fs.statSync(join(diff, 'tmp')).mode & 0o7777).to.equal(0o1777);
    expect(() => ImageStore.open({ root })).to.throw(/belongs to uid 65534, not 0/).with.property('code', 'EPERM');
  });

  it('writes whiteouts and opaque marks that overlayfs mounted with userxattr in a user namespace honours', async () => {
    const source = writeTemp(dockerArchive({ layers: whiteoutImage().layers, repoTags: ['wh:1'] }));
    fs.chmodSync(source, 0o644);
    expect(await as('load', { source })).to.have.property('ok');
    const r = await as('container', { image: 'wh:1', id: 'rl1' });
    const root = r.ok as ContainerRoot;
    expect(root.userxattr).to.equal(true);
    const top = root.lower[0]!;
    const gone = fs.lstatSync(join(top, 'a/gone'));
    expect(gone.isCharacterDevice() && gone.rdev === 0).to.equal(true);
    expect(sys.lgetxattr(join(top, 'd'), 'user.overlay.opaque')!.toString()).to.equal('y');
    expect(sys.lgetxattr(join(top, 'd'), 'trusted.overlay.opaque')).to.equal(null);
    const m = inOverlay(root, 'ls "$M/a"; echo --; ls "$M/d"; echo --; cat "$M/keep"; echo w > "$M/new"; rm "$M/a/stays"; id -u', NOBODY);
    expect(m.status, m.stderr).to.equal(0);
    expect(m.stdout).to.equal('stays\n--\nnew\n--\nkeep0\n');
    expect(fs.lstatSync(join(root.upper!, 'new')).uid).to.equal(NOBODY);
    // The container's delete shows as a whiteout in its upper, which the caller can remove.
    expect(fs.lstatSync(join(root.upper!, 'a/stays')).isCharacterDevice()).to.equal(true);
    expect(await as('remove-container', { id: 'rl1' })).to.deep.equal({ ok: true });
    expect(fs.existsSync(join(home, '.local/share/ns-run/containers/rl1'))).to.equal(false);
  });

  it('refuses device nodes, keeps only user.* xattrs, and copes with directories the owner cannot write', async () => {
    const root = `${home}/.local/share/ns-run`;
    const dev = writeTemp(dockerArchive({ layers: [tarOf([{ name: 'ok', data: '1' }, { name: 'dev/sda', type: 'block', devmaj: 8, devmin: 0 }])], repoTags: ['dev:1'] }));
    fs.chmodSync(dev, 0o644);
    const before = snapshot(root);
    const refused = await as('load', { source: dev });
    expect(refused.error!.code).to.equal('EIMAGE');
    expect(refused.error!.message).to.match(/image dev:1: blob .*: entry "dev\/sda": block device 8:0, which a rootless store does not create$/);
    expect(snapshot(root)).to.deep.equal(before);

    const odd = writeTemp(dockerArchive({
      layers: [tarOf([
        { name: 'proc/', type: 'dir', mode: 0o555 },
        { name: 'locked/', type: 'dir', mode: 0o500 },
        { name: 'locked/inside', data: 'x', mode: 0o000 },
        { name: 'bin/ping', data: 'p', mode: 0o755, uid: 0, xattrs: { 'security.capability': Buffer.from([1, 0, 0, 2, 0, 32, 0, 0]), 'user.kept': Buffer.from('yes') } },
      ])],
      repoTags: ['odd:1'],
    }));
    fs.chmodSync(odd, 0o644);
    expect(await as('load', { source: odd })).to.have.property('ok');
    const diff = join(root, 'layers', fs.readdirSync(join(root, 'layers')).find((l) => fs.existsSync(join(root, 'layers', l, 'diff/locked')))!, 'diff');
    expect(fs.statSync(join(diff, 'proc')).mode & 0o777).to.equal(0o555);
    expect(fs.statSync(join(diff, 'locked')).mode & 0o777).to.equal(0o500);
    expect(sys.lgetxattr(join(diff, 'bin/ping'), 'user.kept')!.toString()).to.equal('yes');
    expect(sys.lgetxattr(join(diff, 'bin/ping'), 'security.capability')).to.equal(null);
    const rmi = await as('rmi', { image: 'odd:1' });
    expect((rmi.ok as { layers: string[] }).layers).to.have.length(1);
    expect(fs.existsSync(diff)).to.equal(false);
  });
});
