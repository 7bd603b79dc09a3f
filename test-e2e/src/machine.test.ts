/**
 * bubblewrap's machine interfaces on ns-unshare and ns-enter: --info-fd FD gets one JSON object
 * (the program's pid and its namespace ids) and is closed; --json-status-fd FD gets that
 * object as a line, then {"exit-code": N}. Checked against what the program sees of itself,
 * against bwrap's own output for the shape, and that neither fd reaches the program.
 */
import { expect } from 'chai';
import { bin, runAsync, type Ran } from './cli';
import { Target } from './fixtures';
import { inodeOf, nsLinks } from './ns';

/** Prints the program's pid as our /proc shows it, then its namespace links, one per line. */
const SELF = ['sh', '-c', 'read pid rest < /proc/self/stat; echo $pid; for k in user mnt uts ipc net pid cgroup time; do readlink /proc/$pid/ns/$k; done; ls /proc/$pid/fd'];

/** Runs argv with fd 3 open for writing to a pipe we read (the shell's 3>&1, kept apart from stdout). */
async function withFd3(argv: readonly string[]): Promise<Ran & { fd3: string }> {
  const r = await runAsync(['bash', '-c', 'set -o pipefail; exec 4>&1; "$@" 3>&1 1>&4 | cat >&2', 'bash', ...argv]);
  // bash printed the program's stdout as stdout and fd 3's writes on stderr (through cat).
  return { ...r, fd3: r.stderr };
}

function parseInfo(text: string): Record<string, number> {
  return JSON.parse(text) as Record<string, number>;
}

describe('--info-fd and --json-status-fd, as bubblewrap has them', () => {
  it('bwrap\'s keys are all there, with numbers', async () => {
    const [bwrap, ours] = await Promise.all([
      withFd3(['bwrap', '--unshare-all', '--ro-bind', '/', '/', '--info-fd', '3', 'true']),
      withFd3([bin('ns-unshare'), '-Umuinp', '-C', '--fork', '--info-fd', '3', 'true']),
    ]);
    const theirs = parseInfo(bwrap.fd3);
    const mine = parseInfo(ours.fd3);
    expect(Object.keys(mine)).to.include.members(Object.keys(theirs));
    for (const v of Object.values(mine)) expect(v).to.be.a('number');
  });

  for (const args of [['-Un'], ['-r', '-pf'], ['-muT']]) {
    it(`ns-unshare ${args.join(' ')} --info-fd 3: the program's pid and namespaces, and fd 3 is not the program's`, async () => {
      const r = await withFd3([bin('ns-unshare'), ...args, '--info-fd', '3', ...SELF]);
      expect(r.status).to.equal(0);
      const [pid, ...rest] = r.stdout.trim().split('\n');
      const links = rest.slice(0, 8);
      const fds = rest.slice(8);
      const info = parseInfo(r.fd3);
      expect(info['child-pid']).to.equal(Number(pid));
      ['user', 'mnt', 'uts', 'ipc', 'net', 'pid', 'cgroup', 'time'].forEach((kind, i) => {
        // pid and time: the namespace the program's children get, which is its own here.
        expect(info[`${kind}-namespace`], kind).to.equal(inodeOf(links[i]!));
      });
      expect(fds.map(Number), 'fds of the program').to.not.include(3);
    });
  }

  it('ns-unshare --json-status-fd: the info line at start, then the exit code from the process that waits', async () => {
    const [exit5, killed, inPlace] = await Promise.all([
      withFd3([bin('ns-unshare'), '-r', '-pf', '--json-status-fd', '3', 'sh', '-c', 'exit 5']),
      withFd3([bin('ns-unshare'), '-r', '-f', '--json-status-fd', '3', 'sh', '-c', 'kill -TERM $$']),
      withFd3([bin('ns-unshare'), '-r', '--json-status-fd', '3', 'sh', '-c', 'echo $$; exit 6']),
    ]);
    const lines = exit5.fd3.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(lines).to.have.lengthOf(2);
    expect(lines[0]).to.have.property('child-pid').that.is.a('number');
    expect(lines[0]).to.have.property('pid-namespace').that.is.a('number');
    expect(lines[1]).to.deep.equal({ 'exit-code': 5 });
    expect(exit5.status).to.equal(5);
    // bwrap reports a signal death as 128+N.
    expect(JSON.parse(killed.fd3.trim().split('\n')[1]!)).to.deep.equal({ 'exit-code': 143 });
    // Without --fork the program replaced ns-unshare, as util-linux's does: nobody is left to
    // write an exit code, and the one line names the program by the launcher's own pid.
    const only = inPlace.fd3.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(only).to.have.lengthOf(1);
    expect(only[0]!['child-pid']).to.equal(Number(inPlace.stdout.trim()));
    expect(inPlace.status).to.equal(6);
  });

  it('bwrap\'s --json-status-fd has the same two lines', async () => {
    const r = await withFd3(['bwrap', '--unshare-all', '--ro-bind', '/', '/', '--json-status-fd', '3', 'sh', '-c', 'exit 5']);
    const lines = r.fd3.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(lines[0]).to.have.property('child-pid');
    expect(lines[lines.length - 1]).to.deep.equal({ 'exit-code': 5 });
  });

  it('ns-enter --info-fd and --json-status-fd: the entered namespaces', async () => {
    const t = await Target.unshare('unshare', ['-Urmuinpf', '--mount-proc']);
    try {
      const target = nsLinks(t.pid);
      const r = await withFd3([bin('ns-enter'), '-t', String(t.pid), '-a', '--info-fd', '3', 'true']);
      expect(r.status).to.equal(0);
      const info = parseInfo(r.fd3);
      for (const kind of ['user', 'mnt', 'uts', 'ipc', 'net', 'cgroup'] as const) {
        expect(info[`${kind}-namespace`], kind).to.equal(inodeOf(target[kind]));
      }
      expect(info['pid-namespace']).to.equal(inodeOf(target.pid_for_children));
      // -p forks (nsenter's waiting parent): the exit code comes from it; -u alone execs in place.
      const s = await withFd3([bin('ns-enter'), '-t', String(t.pid), '-u', '-p', '--json-status-fd', '3', 'sh', '-c', 'exit 3']);
      const lines = s.fd3.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
      expect(lines[0]!['uts-namespace']).to.equal(inodeOf(target.uts));
      expect(lines[1]).to.deep.equal({ 'exit-code': 3 });
      expect(s.status).to.equal(3);
      const u = await withFd3([bin('ns-enter'), '-t', String(t.pid), '-u', '--json-status-fd', '3', 'sh', '-c', 'echo $$; exit 4']);
      const one = u.fd3.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
      expect(one).to.have.lengthOf(1);
      expect(one[0]!['child-pid']).to.equal(Number(u.stdout.trim()));
      expect(u.status).to.equal(4);
    } finally {
      await t.stop();
    }
  });
});
