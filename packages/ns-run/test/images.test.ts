/**
 * ns-run's images (issue 14's CLI): load, images, run IMAGE with the image's config, a
 * writable root of the container's own, rmi, pull from a registry on loopback. Images are made
 * by podman (import --change, save) in a throwaway root; the registry is Debian's
 * docker-registry with a temporary store, filled by skopeo.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loopbackRegistry, podmanImage, type LoopbackRegistry, type PodmanImage } from 'ns-test-kit';
import { cli, CLI, LAUNCHER, NOBODY, removeTree, start, uniqueName, until, ok } from './helpers';

const CHANGES = ['CMD ["/bin/sh","-c","echo $GREETING from $(pwd) as $(id -u)"]', 'ENV GREETING=hello', 'WORKDIR /srv', 'EXPOSE 8080/tcp'];

let image: PodmanImage;
let scratch: string;

before(function () {
  this.timeout(120_000);
  image = podmanImage(`localhost/${uniqueName('img')}:1`, CHANGES, { 'srv/motd': 'from the image\n' });
  scratch = mkdtempSync(`/tmp/ns-run-test-${process.pid}-images-`);
  chmodSync(scratch, 0o755);
});

after(() => {
  image.cleanup();
  removeTree(scratch);
});

let stores = 0;
/** A new empty store directory (the store makes it), owned by `uid` when rootless. */
function newStore(uid?: number): string {
  const parent = join(scratch, `s${stores++}`);
  mkdirSync(parent, { mode: 0o755 });
  if (uid !== undefined) chownSync(parent, uid, uid);
  return join(parent, 'store');
}

function containerRoots(store: string): string[] {
  return readdirSync(join(store, 'containers'));
}

describe('ns-run images', () => {
  describe('as root', () => {
    let store: string;
    before(function () {
      this.timeout(60_000);
      store = newStore();
      const out = ok(cli(['load', '--storage', store, '-i', image.dockerArchive]));
      expect(out).to.equal(`Loaded image: ${image.reference}\n`);
    });

    it('images lists it in docker\'s columns, and as JSON lines with --format json', () => {
      const [header, row, ...rest] = ok(cli(['images', '--storage', store])).trimEnd().split('\n');
      expect(header).to.match(/^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$/);
      expect(rest).to.deep.equal([]);
      const [repo, tag, id] = row!.split(/ {2,}/);
      expect(`${repo}:${tag}`).to.equal(image.reference);
      expect(id).to.match(/^[0-9a-f]{12}$/);
      const json = ok(cli(['images', '--storage', store, '--format', 'json'])).trimEnd().split('\n').map((l) => JSON.parse(l));
      expect(json).to.have.length(1);
      expect(json[0].ID).to.match(new RegExp(`^sha256:${id}[0-9a-f]{52}$`));
      expect(`${json[0].Repository}:${json[0].Tag}`).to.equal(image.reference);
      expect(ok(cli(['images', '--storage', store, '-q']))).to.equal(`${id}\n`);
    });

    it('run IMAGE starts its CMD with its ENV and WORKDIR, and removes the container\'s layer after', () => {
      expect(ok(cli(['run', '--storage', store, '--network', 'none', image.reference]))).to.equal('hello from /srv as 0\n');
      expect(containerRoots(store)).to.deep.equal([]);
    });

    it('in place (no Node left, the foreground default): the same config, and the container\'s layer removed by its supervisor', async () => {
      const r = spawnSync(LAUNCHER, ['run', '--storage', store, '--network', 'none', image.reference], { encoding: 'utf8' });
      expect([r.status, r.stderr, r.stdout]).to.deep.equal([0, '', 'hello from /srv as 0\n']);
      await until('the supervisor\'s cleanup', () => containerRoots(store).length === 0);
    });

    it('NS_RUN_STORAGE names the store when --storage does not', () => {
      const r = spawnSync(process.execPath, [CLI, 'run', '--network', 'none', image.reference, 'cat', 'motd'],
        { encoding: 'utf8', env: { ...process.env, NS_RUN_STORAGE: store } });
      expect(r.stderr).to.equal('');
      expect(r.stdout).to.equal('from the image\n');
    });

    it('the command, -e, -w, -u and --entrypoint override the image\'s', () => {
      expect(ok(cli(['run', '--storage', store, '--network', 'none', '-e', 'GREETING=bye', '-w', '/etc', '-u', '1000', image.reference])))
        .to.equal('bye from /etc as 1000\n');
      expect(ok(cli(['run', '--storage', store, '--network', 'none', image.reference, 'sh', '-c', 'echo $GREETING; pwd']))).to.equal('hello\n/srv\n');
      expect(ok(cli(['run', '--storage', store, '--network', 'none', '--entrypoint', '/bin/echo', image.reference, 'a', 'b']))).to.equal('a b\n');
    });

    it('the writable root is the container\'s own: the next container does not see what one wrote', () => {
      // Files of the image belong to host root, which the container's root is not (until the
      // root is idmapped): it writes its own layer's top directory and /tmp.
      ok(cli(['run', '--storage', store, '--network', 'none', image.reference, 'sh', '-c', 'echo mine > /written && echo mine > /tmp/written']));
      const second = ok(cli(['run', '--storage', store, '--network', 'none', image.reference, 'sh', '-c', 'ls /written /tmp/written 2>&1 || true']));
      expect(second).to.equal('ls: /written: No such file or directory\nls: /tmp/written: No such file or directory\n');
    });

    it('--read-only: no upper layer, writes to the root fail, /tmp stays writable', () => {
      const r = cli(['run', '--storage', store, '--network', 'none', '--read-only', image.reference, 'sh', '-c',
        'touch /tmp/ok && echo tmp-ok; touch /nope']);
      expect(r.stdout).to.equal('tmp-ok\n');
      expect(r.stderr).to.include('Read-only file system');
      expect(r.status).to.equal(1);
    });

    it('a missing image or program: 125 for ns-run\'s own error, 127 not found, 126 cannot execute', () => {
      const missing = cli(['run', '--storage', store, 'localhost/no-such-image:1']);
      expect(missing.status).to.equal(125);
      expect(missing.stderr).to.match(/^ns-run run: No such image: localhost\/no-such-image:1\n$/);
      expect(cli(['run', '--storage', store, '--network', 'none', image.reference, 'no-such-program']).status).to.equal(127);
      expect(cli(['run', '--storage', store, '--network', 'none', image.reference, '/srv/motd']).status).to.equal(126);
    });

    it('inspect shows the image; rmi is refused while a container uses it, and removes it once none does (its root reclaimed)', async function () {
      this.timeout(60_000);
      const name = uniqueName('rmi');
      const running = start(['run', '--storage', store, '--name', name, '--network', 'none', image.reference, 'sh', '-c', 'echo up; exec sleep 30']);
      await until('the container', () => running.stdout.includes('up'));
      const [inspected] = JSON.parse(ok(cli(['inspect', name])));
      expect(inspected.Image).to.match(/^sha256:[0-9a-f]{64}$/);
      expect(inspected.Config).to.deep.include({ Image: image.reference, WorkingDir: '/srv', ExposedPorts: { '8080/tcp': {} } });
      expect(inspected.Config.Env).to.include('GREETING=hello');
      expect(ok(cli(['ps'])).split('\n').find((l) => l.endsWith(name))).to.match(new RegExp(`^[0-9a-f]{12}  +${image.reference}  +`));
      const refused = cli(['rmi', '--storage', store, image.reference]);
      expect(refused.status).to.equal(125);
      expect(refused.stderr).to.include(`container ${name} is using its image`);
      // The runner killed: its container dies with it, but its root stays until a later
      // command reclaims it (rmi does: no container of it is left).
      running.proc.kill('SIGKILL');
      await running.exit;
      const removed = ok(cli(['rmi', '--storage', store, image.reference]));
      expect(removed).to.match(new RegExp(`^Untagged: ${image.reference}\nDeleted: sha256:[0-9a-f]{64}\n$`));
      expect(ok(cli(['images', '--storage', store, '-q']))).to.equal('');
      expect(readdirSync(join(store, 'layers'))).to.deep.equal([]);
      expect(containerRoots(store)).to.deep.equal([]);
    });
  });

  describe('pull from a registry on loopback', () => {
    let registry: LoopbackRegistry;
    before(async function () {
      this.timeout(60_000);
      registry = await loopbackRegistry();
      registry.push(image.dockerArchive, 'nstools/app:2');
    });
    after(async () => registry?.stop());

    it('pulls (a line per layer when not a terminal, nothing but the reference with -q) and runs it', function () {
      this.timeout(60_000);
      const store = newStore();
      const ref = `${registry.address}/nstools/app:2`;
      const out = ok(cli(['pull', '--storage', store, ref]));
      expect(out).to.match(new RegExp(`^[0-9a-f]{12}: Done \\S+ in [0-9.]+s\nDigest: sha256:[0-9a-f]{64}\n${ref.replace(/\./g, '\\.')}\n$`));
      expect(ok(cli(['pull', '-q', '--storage', store, ref]))).to.equal(`${ref}\n`);
      expect(ok(cli(['run', '--storage', store, '--network', 'none', ref]))).to.equal('hello from /srv as 0\n');
    });
  });

  describe('rootless (as nobody)', () => {
    it('loads into a store of its own and runs the image with its config and a writable root', function () {
      this.timeout(60_000);
      const store = newStore(NOBODY);
      ok(cli(['load', '-q', '--storage', store, '-i', image.dockerArchive], { rootless: true }));
      expect(ok(cli(['run', '--storage', store, image.reference], { rootless: true }))).to.equal('hello from /srv as 0\n');
      expect(ok(cli(['run', '--storage', store, image.reference, 'sh', '-c', 'echo x > /etc/new && echo changed > /srv/motd && cat /etc/new'], { rootless: true }))).to.equal('x\n');
      expect(ok(cli(['run', '--storage', store, image.reference, 'sh', '-c', 'cat /srv/motd; ls /etc/new 2>&1 || true'], { rootless: true })))
        .to.equal('from the image\nls: /etc/new: No such file or directory\n');
      expect(containerRoots(store)).to.deep.equal([]);
    });
  });
});
