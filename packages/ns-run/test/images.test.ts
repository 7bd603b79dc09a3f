/**
 * ns-run's images (issue 14's CLI): load, images, run IMAGE with the image's config, a
 * writable root of the container's own, rmi, pull from a registry on loopback. Images are made
 * by podman (import --change, save) in a throwaway root; the registry is Debian's
 * docker-registry with a temporary store, filled by skopeo.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, loopbackRegistry, podmanImage, treeSnapshot, type LoopbackRegistry, type PodmanImage } from 'ns-test-kit';
import { cli, CLI, LAUNCHER, NOBODY, removeTree, start, uniqueName, until, ok } from './helpers';

const CHANGES = ['CMD ["/bin/sh","-c","echo $GREETING from $(pwd) as $(id -u)"]', 'ENV GREETING=hello', 'WORKDIR /srv', 'EXPOSE 8080/tcp'];

let image: PodmanImage;
/** The image with a 24 MB layer on top: a layer that takes long enough for a terminal to see it move. */
let derived: PodmanImage;
let scratch: string;

before(function () {
  this.timeout(120_000);
  image = podmanImage(`localhost/${uniqueName('img')}:1`, CHANGES, { 'srv/motd': 'from the image\n' });
  derived = image.derive(`localhost/${uniqueName('derived')}:2`, { 'srv/big': 'x'.repeat(24_000_000), 'srv/motd': 'from the derived image\n' });
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

/** What a user saw running `command` on a terminal: util-linux script(1)'s typescript. */
function onTerminal(command: string): string {
  const typescript = join(scratch, `typescript-${stores++}`);
  const r = spawnSync('script', ['-qec', command, typescript], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stdout).to.equal(0);
  return readFileSync(typescript, 'utf8');
}

/** node -e SLOW_PROXY PORT TARGET: a TCP proxy on 127.0.0.1 that pauses 200 ms after every 256 KiB back. */
const SLOW_PROXY = `
const net = require('node:net');
const [port, target] = process.argv.slice(1).map(Number);
net.createServer((client) => {
  const up = net.connect(target, '127.0.0.1');
  let passed = 0;
  client.pipe(up);
  up.on('data', (chunk) => {
    client.write(chunk);
    passed += chunk.length;
    if (passed >= 256 * 1024) { passed = 0; up.pause(); setTimeout(() => up.resume(), 200); }
  });
  up.on('end', () => client.end());
  for (const s of [client, up]) s.on('error', () => { client.destroy(); up.destroy(); });
}).listen(port, '127.0.0.1', () => process.stdout.write('ready\\n'));
`;

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** What the store holds, seen from outside: its blobs (by name) and its unpacked layers. */
function storeContents(store: string): { blobs: string[]; layers: string[] } {
  return { blobs: readdirSync(join(store, 'blobs/sha256')).sort(), layers: readdirSync(join(store, 'layers')).sort() };
}

/** The image's diff_ids, from its config in the docker archive (GNU tar as the oracle). */
function diffIdsOf(archive: string): string[] {
  const tarOut = (member: string) => spawnSync('tar', ['-xOf', archive, member], { encoding: 'utf8' }).stdout;
  const [manifest] = JSON.parse(tarOut('manifest.json')) as { Config: string }[];
  return (JSON.parse(tarOut(manifest!.Config)) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids.map((d) => d.replace(/^sha256:/, ''));
}

/**
 * A docker archive (docker save's layout) around one layer that GNU tar writes from `dir`
 * (tar as the fixture maker: -P keeps '..' and absolute names, --transform renames).
 */
function craftedArchive(dir: string, tag: string, ...tarRuns: string[][]): string {
  const layer = join(dir, 'layer.tar');
  for (const [i, args] of tarRuns.entries()) {
    const r = spawnSync('tar', ['-C', dir, i === 0 ? '-cf' : '-rf', layer, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tar ${args.join(' ')}: ${r.stderr}`);
  }
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(readFileSync(layer))}`] } });
  const configName = `${sha256(config)}.json`;
  writeFileSync(join(dir, configName), config);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: [tag], Layers: ['layer.tar'] }]));
  const archive = `${dir}.tar`;
  spawnSync('tar', ['-C', dir, '-cf', archive, 'manifest.json', configName, 'layer.tar']);
  return archive;
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

    it('in place, root\'s container layer goes by the supervisor\'s own words (no second Node): copied-up files, whiteouts, new trees', () => {
      // A lower file deleted (a whiteout), one changed (a copy-up), a new tree with a symlink out of it.
      const script = 'rm /srv/motd && echo changed > /etc/hostname.new && mkdir -p /a/b/c && echo x > /a/b/c/f && ln -s /etc /a/link && echo done';
      const trace = spawnSync('strace', ['-f', '-qq', '-e', 'trace=execve', '-e', 'signal=none', LAUNCHER, 'run', '--storage', store, '--network', 'none',
        image.reference, 'sh', '-c', script], { encoding: 'utf8', cwd: '/' });
      expect(trace.status, trace.stderr).to.equal(0);
      expect(trace.stdout).to.equal('done\n');
      expect(trace.stderr).to.not.include('reap-main');
      expect(containerRoots(store)).to.deep.equal([]);
      // The image itself is untouched, and still runs.
      expect(ok(cli(['run', '--storage', store, '--network', 'none', image.reference, 'cat', 'motd']))).to.equal('from the image\n');
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
      // The image's files belong to host root; through the idmapped layers they are container
      // root's, so it writes anywhere in the root: its own upper layer takes the writes.
      ok(cli(['run', '--storage', store, '--network', 'none', image.reference, 'sh', '-c', 'echo mine > /written && echo mine > /tmp/written']));
      const second = ok(cli(['run', '--storage', store, '--network', 'none', image.reference, 'sh', '-c', 'ls /written /tmp/written 2>&1 || true']));
      expect(second).to.equal('ls: /written: No such file or directory\nls: /tmp/written: No such file or directory\n');
    });

    it('container root owns the image\'s files and writes in any of its directories, not in the image\'s layers', () => {
      const script = 'stat -c %u:%g / /etc /srv/motd; echo changed > /srv/motd && echo new > /etc/new && mkdir /bin/d && echo wrote; cat /srv/motd';
      const out = ok(cli(['run', '--storage', store, '--network', 'none', image.reference, 'sh', '-c', script]));
      expect(out.split('\n')).to.deep.equal(['0:0', '0:0', '0:0', 'wrote', 'changed', '']);
      expect(ok(cli(['run', '--storage', store, '--network', 'none', image.reference, 'cat', 'motd']))).to.equal('from the image\n');
      expect(containerRoots(store)).to.deep.equal([]);
    });

    it('with --userns=host too (no idmapping): the overlay is the runner\'s, container root is host root and writes in it', () => {
      const script = 'echo x > /etc/host-ids && stat -c %u:%g /etc/host-ids /etc; tr -s " " < /proc/self/uid_map | sed "s/^ //"';
      const out = ok(cli(['run', '--storage', store, '--network', 'none', '--userns=host', image.reference, 'sh', '-c', script]));
      expect(out).to.equal('0:0\n0:0\n0 0 4294967295\n');
      expect(containerRoots(store)).to.deep.equal([]);
    });

    it('makes a missing WorkingDir, the image\'s or -w\'s, inside the container\'s root', function () {
      this.timeout(60_000);
      const other = podmanImage(`localhost/${uniqueName('img-wd')}:1`, ['CMD ["/bin/sh","-c","pwd; stat -c %u:%g ."]', 'WORKDIR /made/by/image']);
      try {
        ok(cli(['load', '-q', '--storage', store, '-i', other.dockerArchive]));
        expect(ok(cli(['run', '--storage', store, '--network', 'none', other.reference]))).to.equal('/made/by/image\n0:0\n');
        expect(ok(cli(['run', '--storage', store, '--network', 'none', '-w', '/by/run', image.reference, 'pwd']))).to.equal('/by/run\n');
        ok(cli(['rmi', '--storage', store, other.reference]));
      } finally {
        other.cleanup();
      }
    });

    it('--read-only with a WorkingDir (or -w) the image lacks: made in a layer of the container\'s own first, the root read-only after', function () {
      this.timeout(60_000);
      const other = podmanImage(`localhost/${uniqueName('img-ro-wd')}:1`, ['CMD ["/bin/sh","-c","pwd; touch here"]', 'WORKDIR /made/by/image']);
      try {
        ok(cli(['load', '-q', '--storage', store, '-i', other.dockerArchive]));
        const r = cli(['run', '--storage', store, '--network', 'none', '--read-only', other.reference]);
        expect(r.stdout).to.equal('/made/by/image\n');
        expect(r.stderr).to.include('Read-only file system');
        expect(r.status).to.equal(1);
        const w = cli(['run', '--storage', store, '--network', 'none', '--read-only', '-w', '/by/run', image.reference, 'sh', '-c', 'pwd; mkdir /nope']);
        expect([w.stdout, w.status]).to.deep.equal(['/by/run\n', 1]);
        expect(w.stderr).to.include('Read-only file system');
        ok(cli(['rmi', '--storage', store, other.reference]));
      } finally {
        other.cleanup();
      }
      expect(containerRoots(store)).to.deep.equal([]);
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

  describe('one image in three forms, and images that share a layer (as root)', () => {
    it('loads docker archive, OCI archive and OCI layout of one image: its layer unpacked once, its config stored once', () => {
      const store = newStore();
      expect(ok(cli(['load', '-q', '--storage', store, '-i', image.dockerArchive]))).to.equal(`Loaded image: ${image.reference}\n`);
      const afterDocker = storeContents(store);
      expect(ok(cli(['load', '-q', '--storage', store, '-i', image.ociArchive]))).to.equal(`Loaded image: ${image.reference}\n`);
      // skopeo's oci:DIR:TAG names the image by a bare tag, which is no reference: docker prints the id.
      const [, idLine] = ok(cli(['load', '-q', '--storage', store, '-i', image.ociLayout])).match(/^Loaded image ID: (sha256:[0-9a-f]{64})\n$/) ?? [];
      const after = storeContents(store);
      const diffIds = diffIdsOf(image.dockerArchive);
      expect(diffIds).to.have.length(1);
      expect(after.layers).to.deep.equal(diffIds);
      // The image's config once (its name is the image id); the OCI forms add their manifests, never a layer blob.
      expect(afterDocker.blobs).to.deep.equal([idLine!.slice(7)]);
      expect(after.blobs).to.include(idLine!.slice(7));
      for (const blob of after.blobs) {
        const bytes = readFileSync(join(store, 'blobs/sha256', blob));
        expect(sha256(bytes), blob).to.equal(blob);
        if (blob !== idLine!.slice(7)) expect(JSON.parse(bytes.toString()).config.digest, `${blob} is a manifest of the image`).to.equal(idLine);
      }
      expect(after.blobs.length).to.be.within(2, 3);
      expect(ok(cli(['images', '--storage', store, '-q']))).to.equal(`${idLine!.slice(7, 19)}\n`);
      expect(ok(cli(['run', '--storage', store, '--network', 'none', image.reference]))).to.equal('hello from /srv as 0\n');
    });

    it('load shows one line per layer when not on a terminal, nothing with -q, bytes and rate on a terminal (script)', () => {
      const store = newStore();
      const plain = cli(['load', '--storage', store, '-i', derived.dockerArchive]);
      expect(plain.status, plain.stderr).to.equal(0);
      expect(plain.stdout).to.equal(`Loaded image: ${derived.reference}\n`);
      const [base, top] = diffIdsOf(derived.dockerArchive);
      // A line per layer as it is done, in the archive's order.
      const lines = (text: string) => text.trimEnd().split('\n').sort();
      expect(lines(plain.stderr)).to.have.length(2);
      const lineOf = (layer: string) => lines(plain.stderr).find((l) => l.startsWith(`${layer.slice(0, 12)}: `));
      expect(lineOf(base!)).to.match(/: Done 2\.\d+MB in [0-9.]+s$/);
      expect(lineOf(top!)).to.match(/: Done 24(\.\d)?MB in [0-9.]+s$/);
      const again = cli(['load', '--storage', store, '-i', derived.dockerArchive]);
      expect(lines(again.stderr)).to.deep.equal([`${base!.slice(0, 12)}: Already exists`, `${top!.slice(0, 12)}: Already exists`].sort());
      const quiet = cli(['load', '-q', '--storage', newStore(), '-i', derived.dockerArchive]);
      expect([quiet.status, quiet.stderr, quiet.stdout]).to.deep.equal([0, '', `Loaded image: ${derived.reference}\n`]);
      // From stdin (docker load < FILE), paused inside the 24 MB layer: the terminal gets redraws
      // with the layer's rate however fast this machine reads.
      const A = derived.dockerArchive;
      const seen = onTerminal(`(head -c 12000000 ${A}; sleep 0.3; tail -c +12000001 ${A}) | ${LAUNCHER} load --storage ${newStore()}`);
      expect(seen).to.match(new RegExp(`\x1b\\[2K${top!.slice(0, 12)}: Receiving [0-9.]+[kM]B/24(\\.\\d)?MB [0-9.]+[kMG]?B/s\r?\n`));
      expect(seen).to.match(new RegExp(`\x1b\\[\\dA`)); // lines rewritten in place
      expect(seen).to.match(new RegExp(`\x1b\\[2K${top!.slice(0, 12)}: Done 24(\\.\\d)?MB in [0-9.]+s\r?\n`));
      expect(seen).to.include(`Loaded image: ${derived.reference}`);
    });

    it('load reads the archive from stdin without -i, as docker load does, and refuses a terminal there', () => {
      const store = newStore();
      const r = spawnSync('sh', ['-c', `exec ${LAUNCHER} load -q --storage ${store} < ${image.ociArchive}`], { encoding: 'utf8', timeout: 30_000 });
      expect([r.status, r.stderr, r.stdout]).to.deep.equal([0, '', `Loaded image: ${image.reference}\n`]);
      expect(storeContents(store).layers).to.deep.equal(diffIdsOf(image.dockerArchive));
      const seen = onTerminal(`${LAUNCHER} load --storage ${store}; echo "exit $?"`);
      expect(seen).to.match(/\nns-run load: requested load from stdin, but stdin is a terminal \(-i FILE\|DIR\)\r?\nexit 125\r?\n/);
    });

    it('rmi removes the layers no other image uses and keeps the shared ones', () => {
      const store = newStore();
      ok(cli(['load', '-q', '--storage', store, '-i', image.dockerArchive]));
      ok(cli(['load', '-q', '--storage', store, '-i', derived.dockerArchive]));
      const [base, top] = diffIdsOf(derived.dockerArchive);
      expect(diffIdsOf(image.dockerArchive)).to.deep.equal([base]);
      expect(storeContents(store).layers).to.deep.equal([base, top].sort());
      const removed = ok(cli(['rmi', '--storage', store, derived.reference]));
      expect(removed).to.match(new RegExp(`^Untagged: ${derived.reference}\nDeleted: sha256:[0-9a-f]{64}\n$`));
      expect(storeContents(store).layers).to.deep.equal([base]);
      expect(ok(cli(['run', '--storage', store, '--network', 'none', image.reference, 'cat', 'motd']))).to.equal('from the image\n');
      ok(cli(['rmi', '--storage', store, image.reference]));
      expect(storeContents(store)).to.deep.equal({ blobs: [], layers: [] });
      expect(readdirSync(join(store, 'tmp'))).to.deep.equal([]);
    });

    it('refuses hostile archives with one line and exit 125, the store and what is around it as they were', () => {
      const store = newStore();
      ok(cli(['load', '-q', '--storage', store, '-i', image.dockerArchive]));
      const around = join(store, '..');
      const canary = join(around, 'canary');
      mkdirSync(canary);
      writeFileSync(join(canary, 'secret'), 'do not touch\n');
      const crafted = (name: string) => {
        const dir = join(around, name);
        mkdirSync(dir);
        writeFileSync(join(dir, 'pwned'), 'pwned\n');
        return dir;
      };
      const dotdot = craftedArchive(crafted('dotdot'), 'hostile:1', ['-P', '--transform', 's,^pwned$,../../canary/pwned,', 'pwned']);
      const absolute = craftedArchive(crafted('absolute'), 'hostile:1', ['-P', '--transform', `s,^pwned$,${canary}/pwned,`, 'pwned']);
      const viaLinkDir = crafted('vialink');
      symlinkSync(canary, join(viaLinkDir, 'link'));
      const viaLink = craftedArchive(viaLinkDir, 'hostile:1', ['link'], ['--transform', 's,^pwned$,link/pwned,', 'pwned']);
      const truncated = join(around, 'truncated.tar');
      writeFileSync(truncated, readFileSync(derived.dockerArchive).subarray(0, 12 << 20));
      const cases: [string, RegExp][] = [
        [dotdot, /image hostile:1: blob layer\.tar: entry "\.\.\/\.\.\/canary\/pwned": path has a '\.\.' component$/],
        [absolute, /image hostile:1: blob layer\.tar: entry ".*\/canary\/pwned": absolute path/],
        [viaLink, /image hostile:1: blob layer\.tar: entry "link\/pwned": "link" is a symlink in this layer/],
        [truncated, /truncated\.tar: .*truncated archive/],
      ];
      for (const [archive, message] of cases) {
        const before = treeSnapshot(around);
        const r = cli(['load', '--storage', store, '-i', archive]);
        expect(r.status, `${archive}: ${r.stderr}`).to.equal(125);
        // Progress lines of layers it had (the truncated archive's base), then the one-line error.
        const lines = r.stderr.trimEnd().split('\n');
        for (const progress of lines.slice(0, -1)) expect(progress).to.match(/^[0-9a-f]{12}: Already exists$/);
        expect(lines.at(-1)).to.match(/^ns-run load: /);
        expect(lines.at(-1)).to.match(message);
        expect(r.stdout).to.equal('');
        expect(treeSnapshot(around), archive).to.deep.equal(before);
      }
      expect(readFileSync(join(canary, 'secret'), 'utf8')).to.equal('do not touch\n');
      expect(readdirSync(canary)).to.deep.equal(['secret']);
    });
  });

  describe('where the store is', () => {
    it('--storage wins over NS_RUN_STORAGE, which wins over the default', () => {
      const flag = newStore();
      const env = newStore();
      const r = spawnSync(LAUNCHER, ['load', '-q', '--storage', flag, '-i', image.dockerArchive], { encoding: 'utf8', env: { ...process.env, NS_RUN_STORAGE: env } });
      expect([r.status, r.stderr]).to.deep.equal([0, '']);
      expect(storeContents(flag).layers).to.deep.equal(diffIdsOf(image.dockerArchive));
      expect(readdirSync(join(env, '..'))).to.deep.equal([]);
      const viaEnv = spawnSync(LAUNCHER, ['load', '-q', '-i', image.dockerArchive], { encoding: 'utf8', env: { ...process.env, NS_RUN_STORAGE: env } });
      expect([viaEnv.status, viaEnv.stderr]).to.deep.equal([0, '']);
      expect(storeContents(env).layers).to.deep.equal(diffIdsOf(image.dockerArchive));
      const empty = spawnSync(LAUNCHER, ['images', '--storage', ''], { encoding: 'utf8' });
      expect([empty.status, empty.stderr]).to.deep.equal([125, 'ns-run images: --storage: the directory must not be empty\n']);
    });

    it('as root, /var/lib/ns-run by default (in a mount namespace whose /var/lib is the test\'s)', () => {
      const varLib = join(scratch, `varlib-${stores++}`);
      mkdirSync(varLib);
      const env = { ...process.env };
      delete env.NS_RUN_STORAGE;
      // unshare(1) and mount(8) as the oracle's tools: the host's /var/lib is never written.
      const script = `mount --bind '${varLib}' /var/lib && '${LAUNCHER}' load -q -i '${image.dockerArchive}' && '${LAUNCHER}' images -q`;
      const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8', env, timeout: 30_000 });
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(new RegExp(`^Loaded image: ${image.reference}\n[0-9a-f]{12}\n$`));
      expect(storeContents(join(varLib, 'ns-run')).layers).to.deep.equal(diffIdsOf(image.dockerArchive));
    });

    it('rootless, ${XDG_DATA_HOME:-~/.local/share}/ns-run by default, and run finds the image there', function () {
      this.timeout(60_000);
      const home = join(scratch, `home-${stores++}`);
      mkdirSync(home, { mode: 0o755 });
      chownSync(home, NOBODY, NOBODY);
      const asNobody = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
        spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', LAUNCHER, ...args],
          { encoding: 'utf8', cwd: '/', timeout: 30_000, env: { PATH: process.env.PATH, HOME: home, ...extra } });
      const loaded = asNobody(['load', '-q', '-i', image.dockerArchive]);
      expect([loaded.status, loaded.stderr]).to.deep.equal([0, '']);
      const store = join(home, '.local/share/ns-run');
      expect(storeContents(store).layers).to.deep.equal(diffIdsOf(image.dockerArchive));
      expect(readdirSync(join(store, 'layers')).map((l) => statSync(join(store, 'layers', l, 'diff/bin/busybox')).uid)).to.deep.equal([NOBODY]);
      const ran = asNobody(['run', '--network', 'none', image.reference]);
      expect([ran.status, ran.stderr, ran.stdout]).to.deep.equal([0, '', 'hello from /srv as 0\n']);
      const xdg = join(home, 'data');
      const other = asNobody(['load', '-q', '-i', image.dockerArchive], { XDG_DATA_HOME: xdg });
      expect([other.status, other.stderr]).to.deep.equal([0, '']);
      expect(storeContents(join(xdg, 'ns-run')).layers).to.deep.equal(diffIdsOf(image.dockerArchive));
      expect(statSync(join(xdg, 'ns-run')).mode & 0o777).to.equal(0o700);
      // A relative XDG_DATA_HOME is invalid (XDG Base Directory spec): the default again.
      const relative = asNobody(['images', '-q'], { XDG_DATA_HOME: 'data' });
      expect([relative.status, relative.stderr, relative.stdout]).to.deep.equal([0, '', `${storeContents(store).blobs[0]!.slice(0, 12)}\n`]);
    });
  });

  describe('a load killed (SIGKILL) at any point', () => {
    let reference: string;
    let layers: string[];
    before(function () {
      this.timeout(60_000);
      reference = newStore();
      ok(cli(['load', '-q', '--storage', reference, '-i', derived.dockerArchive]));
      layers = storeContents(reference).layers;
      expect(layers).to.have.length(2);
    });

    /**
     * strace(1) as the oracle's tool: SIGKILL delivered at the Nth call of a system call (in
     * one thread: strace counts per thread), so each point of the load is hit exactly, not by
     * timing. The 24 MB file goes out in 4 MiB pwrite64s spread over libuv's threads. Into a
     * fresh store (rename #1 is its store.json), unpacking the 24 MB file (pwrite64), before
     * the layers leave the writer's directory (syncfs #1), before and between the two layers'
     * renames into layers/, at the config blob, at the sync before the index, at the index's
     * rename, and after it (fsync #4, of the store's directory).
     */
    const POINTS: [syscall: string, nth: number, layersThen: number, listed: boolean][] = [
      ['rename', 1, 0, false], ['pwrite64', 2, 0, false], ['syncfs', 1, 0, false], ['rename', 2, 0, false], ['rename', 3, 1, false],
      ['rename', 4, 2, false], ['syncfs', 2, 2, false], ['rename', 5, 2, false], ['fsync', 4, 2, true],
    ];
    for (const [syscall, nth, layersThen, listed] of POINTS) {
      it(`at ${syscall} #${nth}: ${layersThen} whole layers, the image ${listed ? 'listed' : 'not listed'}; the next load and run work`, function () {
        this.timeout(60_000);
        const store = newStore();
        // strace stops the tracee on entry: SIGKILL lands before that call runs.
        const killed = spawnSync('strace', ['-f', '-qq', '-o', '/dev/null', '-e', `trace=${syscall}`, '-e', `inject=${syscall}:signal=SIGKILL:when=${nth}`,
          LAUNCHER, 'load', '-q', '--storage', store, '-i', derived.dockerArchive], { encoding: 'utf8', timeout: 30_000 });
        expect(killed.stdout, 'killed before it reported success').to.equal('');
        // strace ends as its tracee did: by SIGKILL.
        expect(killed.signal, `${killed.status} ${killed.stderr}`).to.equal('SIGKILL');
        // What a later run would use is whole: each layer in layers/ as a full load made it.
        const there = existsSync(join(store, 'layers')) ? storeContents(store).layers : [];
        expect(there).to.have.length(layersThen);
        for (const layer of there) {
          expect(layers, 'a layer of the image').to.include(layer);
          expect(treeSnapshot(join(store, 'layers', layer)), layer).to.deep.equal(treeSnapshot(join(reference, 'layers', layer)));
        }
        // The index names the image only once every layer is in place.
        expect(ok(cli(['images', '-q', '--storage', store])) !== '').to.equal(listed);
        const again = cli(['load', '-q', '--storage', store, '-i', derived.dockerArchive]);
        expect([again.status, again.stderr, again.stdout]).to.deep.equal([0, '', `Loaded image: ${derived.reference}\n`]);
        expect(storeContents(store).layers).to.deep.equal(layers);
        expect(readdirSync(join(store, 'tmp')), 'the dead loader\'s directory swept').to.deep.equal([]);
        expect(ok(cli(['run', '--storage', store, '--network', 'none', derived.reference, 'sh', '-c', 'cat motd; wc -c < big']))).to.equal('from the derived image\n24000000\n');
      });
    }
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
      // The same image loaded under its own name: only the repository it was pulled from has a digest.
      ok(cli(['load', '-q', '--storage', store, '-i', image.dockerArchive]));
      const digest = out.match(/^Digest: (sha256:[0-9a-f]{64})$/m)![1];
      const listed = ok(cli(['images', '--storage', store, '--format', 'json'])).trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
      expect(listed.map((r) => [`${r.Repository}:${r.Tag}`, r.Digest]).sort()).to.deep.equal([[ref, digest], [image.reference, '<none>']].sort());
    });

    it('on a terminal (script), shows each layer\'s bytes, total and rate as it comes', async function () {
      this.timeout(60_000);
      registry.push(derived.dockerArchive, 'nstools/big:3');
      // Through a proxy that pauses 200 ms after every 256 KiB it passes back: the download is
      // slow enough for the terminal's redraws however fast loopback is (a child process:
      // script(1) runs synchronously here).
      const port = await freePort();
      const proxy = spawn(process.execPath, ['-e', SLOW_PROXY, String(port), registry.address.split(':')[1]!], { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        await new Promise((resolve) => proxy.stdout!.once('data', resolve));
        const ref = `127.0.0.1:${port}/nstools/big:3`;
        const seen = onTerminal(`${LAUNCHER} pull --storage ${newStore()} ${ref}`);
        expect(seen).to.match(/\x1b\[2K[0-9a-f]{12}: Receiving [0-9.]+[kM]B\/[0-9.]+[kM]B [0-9.]+[kMG]?B\/s\r?\n/);
        expect(seen).to.match(/\x1b\[\dA/);
        expect(seen).to.match(/Digest: sha256:[0-9a-f]{64}\r?\n/);
        expect(seen).to.include(ref);
      } finally {
        proxy.kill();
      }
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
      expect(ok(cli(['run', '--storage', store, '-w', '/made/here', image.reference, 'sh', '-c', 'pwd; stat -c "%u %a" /made/here'], { rootless: true })))
        .to.equal('/made/here\n0 755\n');
      const readOnly = cli(['run', '--storage', store, '--read-only', '-w', '/made/here', image.reference, 'sh', '-c', 'pwd; touch x'], { rootless: true });
      expect([readOnly.stdout, readOnly.status]).to.deep.equal(['/made/here\n', 1]);
      expect(readOnly.stderr).to.include('Read-only file system');
      expect(containerRoots(store)).to.deep.equal([]);
    });
  });
});
