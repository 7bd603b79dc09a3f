import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Namespace, NsError, kindCommand, listNamespaces, namespaceIds, runInside, spawn, supportedKinds, sys, KIND_NAMES } from '../src/index';
import { nsInode } from 'ns-test-kit';

describe('namespace handles', () => {
  it('open by pid and kind, with the id and kind the kernel reports', () => {
    for (const kind of KIND_NAMES) {
      const ns = Namespace.ofPid('self', kind);
      try {
        expect(ns.kind).to.equal(kind);
        expect(ns.id).to.equal(nsInode('self', kind));
      } finally {
        ns.close();
      }
    }
    expect(supportedKinds()).to.have.members([...KIND_NAMES]);
  });

  it('open by path checks the kind from NS_GET_NSTYPE, not the name', () => {
    expect(() => Namespace.open('/proc/self/ns/net', 'uts')).to.throw(/expected a uts namespace, got net/);
    expect(() => Namespace.open('/etc/hostname')).to.throw(/is not a namespace file/);
    expect(() => Namespace.open('/no/such/file')).to.throw(NsError).with.property('code', 'ENOENT');
  });

  it('knows its owner, parent and owner uid', async () => {
    const child = await spawn(['sleep', '10'], { create: ['user', 'pid'], steps: [{ name: 'm', parent: [
      { action: 'write-proc', file: 'uid_map', data: '0 0 1' }] }] });
    try {
      const pidns = Namespace.ofPid(child.pid, 'pid');
      const userns = Namespace.ofPid(child.pid, 'user');
      const hostPid = Namespace.ofPid('self', 'pid');
      const hostUser = Namespace.ofPid('self', 'user');
      expect(pidns.parent().use((p) => p.equals(hostPid))).to.equal(true);
      expect(pidns.owner().use((o) => o.equals(userns))).to.equal(true);
      expect(userns.parent().use((p) => p.equals(hostUser))).to.equal(true);
      expect(userns.ownerUid()).to.equal(0);
      expect(() => Namespace.ofPid('self', 'net').use((n) => n.parent())).to.throw(/only pid and user namespaces have parents/);
      for (const h of [pidns, userns, hostPid, hostUser]) h.close();
    } finally {
      child.kill('SIGKILL');
      await child.exited;
    }
  });

  it('a closed handle refuses use instead of acting on a recycled fd', () => {
    const ns = Namespace.ofPid('self', 'uts');
    ns.close();
    expect(ns.closed).to.equal(true);
    expect(() => ns.fd).to.throw(NsError).with.property('code', 'EBADF');
  });

  it('namespaceIds lists every kind of a process', () => {
    const ids = namespaceIds('self');
    expect(Object.keys(ids)).to.have.members([...KIND_NAMES]);
  });
});

describe('runInside', () => {
  it('runs code in another uts/net/ipc/cgroup/mnt/pid namespace and always comes back', async () => {
    const child = await spawn(['sleep', '10'], { create: ['uts', 'net', 'ipc', 'cgroup', 'mnt', 'pid'],
      steps: [{ name: 'h', child: [{ op: 'sethostname', name: 'elsewhere', phase: 'namespaces' }] }] });
    const before = Object.fromEntries(['uts', 'net', 'ipc', 'cgroup', 'mnt', 'pid_for_children'].map((k) => [k, nsInode('self', k)]));
    const cwd = process.cwd();
    const handles = (['uts', 'net', 'ipc', 'cgroup', 'mnt', 'pid'] as const).map((k) => Namespace.ofPid(child.pid, k));
    try {
      const seen = runInside(handles, () => ({ host: sys.uname().hostname, net: nsInode('self', 'net'), thread: readFileSync('/proc/thread-self/comm', 'utf8') }));
      expect(seen.host).to.equal('elsewhere');
      expect(seen.net).to.equal(nsInode(child.pid, 'net'));
      const after = Object.fromEntries(Object.keys(before).map((k) => [k, nsInode('self', k)]));
      expect(after).to.deep.equal(before);
      expect(hostname()).not.to.equal('elsewhere');
      expect(process.cwd()).to.equal(cwd);
      // Node's own file I/O still sees the host's tree after the mnt round trip.
      closeSync(openSync('/proc/self/mountinfo', 'r'));
    } finally {
      for (const h of handles) h.close();
      child.kill('SIGKILL');
      await child.exited;
    }
  });

  it('restores even when the callback throws', () => {
    const net = Namespace.ofPid('self', 'net');
    const before = nsInode('self', 'net');
    expect(() => runInside([net], () => { throw new Error('boom'); })).to.throw('boom');
    expect(nsInode('self', 'net')).to.equal(before);
    net.close();
  });

  it('refuses user and time namespaces with an NsError saying why', () => {
    for (const kind of ['user', 'time'] as const) {
      const ns = Namespace.ofPid('self', kind);
      try {
        runInside([ns], () => 1);
        expect.fail('should refuse');
      } catch (e) {
        expect(e).to.be.instanceOf(NsError);
        expect((e as NsError).code).to.equal('EINVAL');
        expect((e as Error).message).to.match(/multithreaded/);
      } finally {
        ns.close();
      }
    }
  });
});

describe('listNamespaces / ns-ls', () => {
  it('agrees with util-linux lsns on the namespaces of a process', async () => {
    const child = await spawn(['sleep', '10'], { create: ['uts', 'net'] });
    try {
      const ours = listNamespaces({ pid: child.pid }).map((e) => `${e.ns} ${e.type} ${e.pid}`).sort();
      // lsns exits 1, silently, when a process vanishes while it reads /proc (other suites on
      // this machine start and end processes all the time): ask again.
      const runLsns = () => spawnSync('lsns', ['-J', '-p', String(child.pid), '-o', 'NS,TYPE,PID'], { encoding: 'utf8' });
      let r = runLsns();
      for (let attempt = 0; attempt < 20 && r.status !== 0; attempt++) r = runLsns();
      const lsns = JSON.parse(r.stdout);
      const theirs = lsns.namespaces.map((e: { ns: number; type: string; pid: number }) => `${e.ns} ${e.type} ${e.pid}`).sort();
      expect(ours).to.deep.equal(theirs);
      const cli = spawnSync(process.execPath, [require.resolve('../../bin/ns-ls.js'), '-p', String(child.pid), '-t', 'net', '-n', '-o', 'NS,TYPE,PID'], { encoding: 'utf8' });
      expect(cli.stdout.trim().split(/\s+/)).to.deep.equal([String(child.namespaces.net), 'net', String(child.pid)]);
    } finally {
      child.kill('SIGKILL');
      await child.exited;
    }
  });

  it('ns-ls rejects bad input with exit 1 and one line', () => {
    for (const args of [['-t', 'bogus'], ['-p', 'abc'], ['--tree', 'sideways'], ['--frobnicate']]) {
      const r = spawnSync(process.execPath, [require.resolve('../../bin/ns-ls.js'), ...args], { encoding: 'utf8' });
      expect(r.status, args.join(' ')).to.equal(1);
      expect(r.stderr, args.join(' ')).to.match(/^ns-ls: /);
      expect(r.stderr).not.to.match(/\n\s+at /);
    }
  });
});

describe('kindCommand', () => {
  it('names a kind\'s CLI after its long option and points at its man page first, ns-unshare(1) last', () => {
    expect(kindCommand('mnt', ['bwrap(1)'])).to.deep.equal({
      prog: 'ns-mount', usage: ['[options] [--] [<program> [<argument>...]]'], seeAlso: ['mount_namespaces(7)', 'bwrap(1)', 'ns-unshare(1)'],
    });
    expect(kindCommand('net').seeAlso).to.deep.equal(['network_namespaces(7)', 'ns-unshare(1)']);
  });
});
