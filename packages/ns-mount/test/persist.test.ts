import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Namespace, spawn, type NsChild, type NsError } from 'ns-core';
import { mount, parseMountinfo, persist, persistedNamespaces, persistNamespace, releaseNamespace } from '../src/index';
import { cli, hostMountsUnder, removeScratch, scratch } from './helpers';

/** Runs readlink /proc/self/ns/KIND in the namespaces given, through ns-core's join. */
async function nsLinkInside(ns: Namespace, kind: string): Promise<string> {
  const child = await spawn(['readlink', `/proc/self/ns/${kind}`], { join: [ns], stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  await Promise.all([child.exited, new Promise((resolve) => child.stdout!.on('end', resolve))]);
  return out.trim();
}

async function finished(child: NsChild): Promise<void> {
  child.kill('SIGKILL');
  await child.exited;
}

describe('ns-mount persistence', () => {
  let dir: string;
  beforeEach(() => {
    dir = scratch('persist');
  });
  afterEach(() => removeScratch(dir));

  it('keeps a network namespace on a file that ns-core and nsenter --net=FILE can enter', async () => {
    const file = join(dir, 'net');
    const step = persist([{ kind: 'net', file }]);
    const child = await spawn(['true'], { create: ['net'], steps: [step] });
    const [kept] = step.commit();
    await child.exited;
    expect(kept).to.deep.include({ kind: 'net', file, created: true, id: child.namespaces.net });
    expect(persistedNamespaces()).to.deep.include({ file, kind: 'net', id: child.namespaces.net });

    const ns = Namespace.open(file, 'net');
    try {
      expect(ns.id).to.equal(child.namespaces.net);
      expect(await nsLinkInside(ns, 'net')).to.equal(`net:[${child.namespaces.net}]`);
    } finally {
      ns.close();
    }
    const theirs = spawnSync('nsenter', [`--net=${file}`, 'readlink', '/proc/self/ns/net'], { encoding: 'utf8' });
    expect(theirs.stdout).to.equal(`net:[${child.namespaces.net}]\n`);

    releaseNamespace(file);
    expect(existsSync(file)).to.equal(false);
    expect(hostMountsUnder(dir)).to.deep.equal([]);
  });

  it('opens a namespace that unshare --net=FILE persisted, and releases it leaving the file', () => {
    const file = join(dir, 'theirs');
    writeFileSync(file, '');
    const r = spawnSync('unshare', [`--net=${file}`, 'readlink', '/proc/self/ns/net'], { encoding: 'utf8' });
    expect(r.status).to.equal(0);
    const ns = Namespace.open(file);
    try {
      expect(ns.kind).to.equal('net');
      expect(`net:[${ns.id}]\n`).to.equal(r.stdout);
    } finally {
      ns.close();
    }
    releaseNamespace(file);
    expect(existsSync(file)).to.equal(true);
    expect(hostMountsUnder(dir)).to.deep.equal([]);
  });

  it('CLI --persist mnt=FILE keeps the mount namespace with what the steps mounted in it', () => {
    const file = join(dir, 'mnt');
    const t = join(dir, 't');
    const r = cli(['--persist', `mnt=${file}`, '--tmpfs', t, '--', 'true']);
    expect(r.stderr).to.equal('');
    expect(r.status).to.equal(0);
    // The tmpfs exists in the kept namespace only.
    expect(hostMountsUnder(t)).to.deep.equal([]);
    const inside = spawnSync('nsenter', [`--mount=${file}`, 'cat', '/proc/self/mountinfo'], { encoding: 'utf8' });
    expect(parseMountinfo(inside.stdout).find((e) => e.mountPoint === t)?.fsType).to.equal('tmpfs');
    releaseNamespace(file, { remove: true });
    expect(existsSync(file)).to.equal(false);
    expect(hostMountsUnder(dir)).to.deep.equal([]);
  });

  it('persists pid_for_children for pid, as util-linux does', async () => {
    const file = join(dir, 'pid');
    const step = persist([{ kind: 'pid', file }]);
    const child = await spawn(['sleep', '10'], { create: ['pid'], steps: [step] });
    step.commit();
    try {
      expect(readlinkSync(`/proc/${child.pid}/ns/pid`)).to.equal(`pid:[${child.namespaces.pid}]`);
      Namespace.open(file, 'pid').use((ns) => expect(ns.id).to.equal(child.namespaces.pid));
    } finally {
      await finished(child);
      releaseNamespace(file);
    }
  });

  it('refuses a mount namespace file on a shared mount, naming it, as util-linux fails there', async () => {
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    execFileSync('mount', ['--bind', shared, shared]);
    execFileSync('mount', ['--make-shared', shared]);
    const child = await spawn(['sleep', '10'], { create: ['mnt', 'net'] });
    try {
      const file = join(shared, 'mnt');
      let err: NsError | undefined;
      try {
        persistNamespace(child.pid, 'mnt', file);
      } catch (e) {
        err = e as NsError;
      }
      expect(err).to.include({ code: 'EINVAL', path: file, step: 'persist mnt' });
      expect(err!.message).to.match(new RegExp(`^persist mnt: ${file} is on a shared mount \\(${shared}, peer group shared:\\d+\\)`));
      expect(existsSync(file)).to.equal(false);

      const theirs = join(shared, 'theirs');
      writeFileSync(theirs, '');
      const r = spawnSync('unshare', [`--mount=${theirs}`, 'true'], { encoding: 'utf8' });
      expect(r.status).to.equal(1);
      expect(r.stderr).to.match(/Invalid argument/);
      // Only the test's own shared bind is there: nothing was bound on either file.
      expect(hostMountsUnder(shared).map((m) => m.split(' ')[0])).to.deep.equal([shared]);

      // Other kinds may go there (ip netns keeps /run/netns shared on purpose).
      const net = join(shared, 'net');
      expect(persistNamespace(child.pid, 'net', net).id).to.equal(child.namespaces.net);
      releaseNamespace(net);
    } finally {
      await finished(child);
    }
  });

  it('refuses a file that already holds a namespace', () => {
    const file = join(dir, 'twice');
    persistNamespace(process.pid, 'uts', file);
    try {
      expect(() => persistNamespace(process.pid, 'uts', file)).to.throw(/already has something mounted on it/)
        .with.property('code', 'EBUSY');
    } finally {
      releaseNamespace(file);
    }
    expect(existsSync(file)).to.equal(false);
    expect(() => releaseNamespace(join(dir))).to.throw(/no namespace is bound on/).with.property('code', 'EINVAL');
  });

  it('a spawn that fails after persisting takes the binding and the file away again', async () => {
    const file = join(dir, 'net');
    const plain = join(dir, 'plain');
    writeFileSync(plain, '');
    const step = persist([{ kind: 'net', file }]);
    try {
      await spawn(['true'], { create: ['net'], steps: [step, mount({ ops: [{ op: 'tmpfs', dest: `${plain}/x` }] })] });
      expect.fail('expected the spawn to fail');
    } catch (e) {
      expect(e).to.include({ code: 'ENOTDIR', step: '--tmpfs' });
    }
    expect(existsSync(file)).to.equal(false);
    expect(hostMountsUnder(dir)).to.deep.equal([]);
    expect(step.commit()).to.deep.equal([]);
  });

  it('without commit(), the binding goes when the child does', async () => {
    const file = join(dir, 'net');
    const step = persist([{ kind: 'net', file }]);
    const child = await spawn(['true'], { create: ['net'], steps: [step] });
    await child.exited;
    expect(existsSync(file)).to.equal(false);
    expect(hostMountsUnder(dir)).to.deep.equal([]);
  });
});
