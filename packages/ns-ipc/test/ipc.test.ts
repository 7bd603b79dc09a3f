import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSpawn, liveChildren, Namespace, NsError, spawn, type NsChild } from 'ns-core';
import { ipc, listIpcObjects, listMessageQueues, listSysvObjects, parseSysvTable } from '../src/index';

const CLI = join(__dirname, '../../bin/ns-ipc.js');
const SYSV_TABLES = ['cat', '/proc/sysvipc/shm', '/proc/sysvipc/msg', '/proc/sysvipc/sem'];

/** Resolves with everything the child printed once `marker` appears on its stdout. */
function waitForOutput(child: NsChild, marker: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(marker)) resolve(out);
    });
    child.stdout!.on('end', () => reject(new Error(`child ended before '${marker}': ${out}`)));
  });
}

const mountIds = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[0]).join(',');

describe('ns-ipc', () => {
  describe('parsing and plan (no privileges)', () => {
    it('parses /proc/sysvipc tables by header, perms as octal', () => {
      const text = '       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n'
        + ' 355880235          7   640                  4096  2829     0      2     5     6     0     0          0          0 1795369218                     0                     0\n';
      const [seg] = parseSysvTable(text);
      expect(seg).to.deep.include({ key: 355880235, id: 7, mode: 0o640, uid: 5, gid: 6, cuid: 0 });
      expect(seg!.fields).to.include({ size: 4096, nattch: 2, rss: 0 });
      expect(parseSysvTable('       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n')).to.deep.equal([]);
      expect(() => parseSysvTable('key semid\n1 2 3\n')).to.throw(/unexpected \/proc\/sysvipc row/);
    });

    it('asks for one new ipc namespace by clone', () => {
      expect(compileSpawn(['true'], { steps: [ipc()] }, new Map()).plan.cloneKinds).to.deep.equal(['ipc']);
    });
  });

  describe('against the kernel', () => {
    afterEach(() => expect(liveChildren()).to.equal(0));

    it('lists from outside the SysV objects and POSIX queues made inside; the host does not see them', async () => {
      const script = 'mount --make-rprivate / && mount -t mqueue none /tmp && touch /tmp/nsipc-q /tmp/nsipc-r && chmod 600 /tmp/nsipc-q && chmod 640 /tmp/nsipc-r'
        + ' && ipcmk -M 4096 && ipcmk -Q && ipcmk -S 3 && echo ready && exec sleep 20';
      const child = await spawn(['sh', '-c', script], { create: ['mnt'], steps: [ipc()], stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        const out = await waitForOutput(child, 'ready');
        const shmid = Number(/Shared memory id: (\d+)/.exec(out)![1]);
        const fds = readdirSync('/proc/self/fd').length;
        const mnt = Namespace.ofPid('self', 'mnt').use((ns) => ns.id);
        const mountsBefore = mountIds();

        const inside = listIpcObjects(child.pid);
        expect(inside.shm.map((s) => [s.id, s.size, s.cpid === 0])).to.deep.equal([[shmid, 4096, false]]);
        expect(inside.msg).to.have.length(1);
        expect(inside.sem.map((s) => s.nsems)).to.deep.equal([3]);
        expect(inside.mqueue.map((q) => [q.name, q.mode, q.bytes])).to.deep.equal([['nsipc-q', 0o600, 0], ['nsipc-r', 0o640, 0]]);

        const host = listSysvObjects(process.pid);
        for (const kind of ['shm', 'msg', 'sem'] as const) {
          const hostKeys = new Set(host[kind].map((o) => o.key));
          expect(inside[kind].filter((o) => hostKeys.has(o.key))).to.deep.equal([]);
        }
        expect(listMessageQueues(process.pid).map((q) => q.name)).to.not.include('nsipc-q');
        // Looking left nothing behind in this process: same mount namespace, mounts and fds.
        expect(Namespace.ofPid('self', 'mnt').use((ns) => ns.id)).to.equal(mnt);
        expect(mountIds()).to.equal(mountsBefore);
        expect(readdirSync('/proc/self/fd').length).to.equal(fds);
      } finally {
        child.kill('SIGKILL');
        await child.exited;
      }
    });

    it('listing through a held handle works after the process has gone', async () => {
      const child = await spawn(['sh', '-c', 'ipcmk -S 2 >/dev/null && echo ready && exec sleep 20'], { steps: [ipc()], stdio: ['ignore', 'pipe', 'inherit'] });
      const handle = Namespace.ofPid(child.pid, 'ipc');
      try {
        await waitForOutput(child, 'ready');
        child.kill('SIGKILL');
        await child.exited;
        expect(listSysvObjects(handle).sem.map((s) => s.nsems)).to.deep.equal([2]);
        expect(handle.closed).to.equal(false);
      } finally {
        handle.close();
      }
    });

    it('starts empty like unshare -i, even inside a namespace that holds objects', () => {
      const inner = `ipcmk -M 100 >/dev/null; echo ours; ${process.execPath} ${CLI} -- ${SYSV_TABLES.join(' ')}; echo theirs; unshare -i ${SYSV_TABLES.join(' ')}; echo outer; cat /proc/sysvipc/shm`;
      const res = spawnSync('unshare', ['-i', 'sh', '-c', inner], { encoding: 'utf8' });
      const [, ours, theirs, outer] = res.stdout.split(/^(?:ours|theirs|outer)\n/m);
      expect(ours).to.equal(theirs);
      expect(ours!.trim().split('\n')).to.have.length(3); // three headers, no rows
      expect(outer!.trim().split('\n')).to.have.length(2); // the segment made outside is there
    });

    it('CLI: unknown options exit 1; the exit status passes through', () => {
      const unknown = spawnSync(process.execPath, [CLI, '--map-root-user', 'true'], { encoding: 'utf8' });
      expect(unknown.status).to.equal(1);
      expect(unknown.stderr).to.equal("ns-ipc: unrecognized option '--map-root-user'\nTry 'ns-ipc --help' for more information.\n");
      expect(spawnSync(process.execPath, [CLI, 'sh', '-c', 'exit 4']).status).to.equal(4);
    });

    it('rootless under ns-user -r: a new ipc namespace as nobody', () => {
      const bin = join(__dirname, '../../../../node_modules/.bin');
      const res = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', join(bin, 'ns-user'), '-r', '--',
                                        join(bin, 'ns-ipc'), '--', 'sh', '-c', 'ipcmk -M 64 >/dev/null && wc -l < /proc/sysvipc/shm'],
                            { encoding: 'utf8', cwd: '/' });
      expect(res.stderr).to.equal('');
      expect(res.stdout).to.equal('2\n');
    });

    it('a process that does not exist is an NsError ENOENT', () => {
      expect(() => listSysvObjects(-1)).to.throw(NsError).with.property('code', 'ENOENT');
    });
  });
});
