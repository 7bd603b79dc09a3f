/**
 * A private world for comparing ns-ls with util-linux lsns: new pid, mount, net, uts, ipc and
 * cgroup namespaces whose init (bash) starts a fixed set of sleeping processes in namespaces
 * made with util-linux unshare and iproute2. Both tools run inside it (nsenter -a), where /proc
 * shows these processes and the tool itself, which is never a namespace's lowest pid: the two
 * tables can be compared byte for byte.
 *
 * Nothing leaks to the host: the nsfs mounts the private mount table copied from the host are
 * unmounted there, /run and /mnt are private tmpfs (so `ip netns add` and bind-mount targets
 * live and die with the world), and killing init ends every process in it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { descendantsOf, waitFor } from 'ns-test-kit';
import { bin, type Ran } from './cli';

/** The processes every world has, as `comm` counts once all have exec'd. */
const BASE_SCRIPT = String.raw`
set -e
grep ' - nsfs ' /proc/self/mountinfo | cut -d' ' -f5 | sort -r | while read -r m; do umount "$(printf '%b' "$m")"; done
mount -t tmpfs nsx-lsns-run /run
mount -t tmpfs nsx-lsns-mnt /mnt
mkdir -p /run/netns
sleep 1000 &
unshare --uts --ipc sleep 1001 &
unshare --uts bash -c 'sleep 1002 & sleep 1003 & wait' &
unshare --user --map-root-user --net --mount sleep 1004 &
unshare --pid --fork --mount-proc sleep 1005 &
unshare --user --pid --fork sleep 1006 &
unshare --time --cgroup sleep 1007 &
ip netns add nsx-a
ip netns set nsx-a 5
ip netns exec nsx-a sleep 1008 &
touch "/mnt/with space"
mount --bind /run/netns/nsx-a "/mnt/with space"
unshare --uts bash -c 'exec -a "$(printf "odd\\tname \\\\x41 \\xff \\xe2\\x98\\x83 \\xe6\\xbc\\xa2\\xe5\\xad\\x97 e\\xcc\\x81")" sleep 1009' &
unshare --ipc bash -c 'unshare --uts sleep 1010 & sleep 1011 & wait' &
unshare --uts bash -c 'exec -a "$(head -c 9000 /dev/zero | tr "\0" x)" sleep 1012' &
`;
const BASE_COMMS: Record<string, number> = { bash: 2, unshare: 2, sleep: 13 };

/**
 * Namespaces no process is in: a named netns (NETNSID 7), a bind-mounted uts namespace, an ipc
 * namespace only an open fd holds, a netns only a socket holds (its creator moved out with
 * nsenter, keeping the socket).
 */
export const HELD_SCRIPT = String.raw`
ip netns add nsx-b
ip netns set nsx-b 7
echo "held netns $(stat -L -c %i /run/netns/nsx-b)"
touch /mnt/uts-file
unshare --uts=/mnt/uts-file true
echo "held mount $(stat -L -c %i /mnt/uts-file)"
unshare --ipc bash -c 'echo "held fd $(stat -L -c %i /proc/self/ns/ipc)"; exec 3</proc/self/ns/ipc; exec nsenter --ipc=/proc/1/ns/ipc sleep 1020' &
unshare --net bash -c 'echo "held socket $(stat -L -c %i /proc/self/ns/net)"; ip link set lo up; exec 3<>/dev/udp/127.0.0.1/9; exec nsenter --net=/proc/1/ns/net sleep 1021' &
`;
/** The namespaces HELD_SCRIPT makes, by how they are held. */
export type Held = 'netns' | 'mount' | 'fd' | 'socket';
const HELD_COMMS: Record<string, number> = { sleep: 2 };

const ENV = { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface WorldRun {
  /** As an unprivileged user (setpriv --reuid=65534). */
  readonly nobody?: boolean;
  /** On a pseudo-terminal (script(1)) this many columns wide. */
  readonly columns?: number;
}

/**
 * Files for a child's output. Not pipes: Node gives children socketpairs, created in the test's
 * network namespace, and lsns 2.41+ (and ns-ls) list a netns a socket held in the world keeps.
 */
class OutputFiles {
  readonly dir = mkdtempSync(join(tmpdir(), 'nsx-lsns-'));
  readonly out = openSync(join(this.dir, 'out'), 'w+');
  readonly err = openSync(join(this.dir, 'err'), 'w+');

  read(which: 'out' | 'err'): string {
    return readFileSync(join(this.dir, which), 'utf8');
  }

  remove(): void {
    closeSync(this.out);
    closeSync(this.err);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class LsnsWorld {
  private constructor(private readonly launcher: ChildProcess, private readonly output: OutputFiles, readonly init: number) {}

  /** Ids of HELD_SCRIPT's namespaces, as the script printed them. */
  get held(): Map<Held, number> {
    return new Map([...this.output.read('out').matchAll(/^held (\w+) (\d+)$/gm)].map((m) => [m[1] as Held, Number(m[2])]));
  }

  /** Starts the world (plus HELD_SCRIPT's namespaces when `held`) and waits until every process has exec'd. */
  static async start(held = false): Promise<LsnsWorld> {
    const script = `${BASE_SCRIPT}${held ? HELD_SCRIPT : ''}echo ready\nwait\n`;
    const output = new OutputFiles();
    // The script in the environment: init's command line is short, the same in both tables.
    const launcher = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--mount', '--net', '--uts', '--ipc', '--cgroup',
      'bash', '-c', 'eval "$LSNS_WORLD"'], { stdio: ['ignore', output.out, output.err], env: { ...ENV, LSNS_WORLD: script } });
    const init = await waitFor('the lsns world to start', () => descendantsOf(launcher.pid!)[0], 10_000);
    const world = new LsnsWorld(launcher, output, init);
    const stderr = () => output.read('err');
    const want = { ...BASE_COMMS };
    if (held) for (const [k, n] of Object.entries(HELD_COMMS)) want[k] = (want[k] ?? 0) + n;
    want['bash'] = (want['bash'] ?? 0) + 1; // init
    const census = () => {
      const counts: Record<string, number> = {};
      for (const c of [init, ...descendantsOf(init)].map(comm)) counts[c] = (counts[c] ?? 0) + 1;
      return JSON.stringify(Object.entries(counts).sort());
    };
    const wanted = JSON.stringify(Object.entries(want).sort());
    try {
      await waitFor(`the lsns world's processes (${wanted})`, () => census() === wanted && (!held || world.held.size === 4), 15_000);
    } catch (e) {
      const message = `${(e as Error).message}; its stderr: ${stderr()}`;
      world.stop();
      throw new Error(message);
    }
    return world;
  }

  /** Runs argv inside the world (all of init's namespaces), its output into files. */
  run(argv: readonly string[], how: WorldRun = {}): Ran {
    const user = how.nobody ? ['setpriv', '--reuid=65534'] : [];
    const inner = [...user, ...argv];
    const enter = ['nsenter', '-t', String(this.init), '-a'];
    const full = how.columns === undefined ? [...enter, ...inner] : [...enter, 'script', '-qec', inner.map(quote).join(' '), '/dev/null'];
    const output = new OutputFiles();
    try {
      const r = spawnSync(full[0]!, full.slice(1), {
        stdio: ['ignore', output.out, output.err], timeout: 30_000,
        env: how.columns === undefined ? ENV : { ...ENV, COLUMNS: String(how.columns) },
      });
      if (r.error) throw new Error(`${full.join(' ')}: ${r.error.message}`);
      return { status: r.status, signal: r.signal, stdout: output.read('out'), stderr: output.read('err') };
    } finally {
      output.remove();
    }
  }

  /** lsns and ns-ls with the same arguments; ns-ls's name in its messages read as lsns'. */
  both(args: readonly string[], how: WorldRun = {}): { theirs: Ran; ours: Ran } {
    const theirs = this.run(['lsns', ...args], how);
    const ours = this.run([bin('ns-ls'), ...args], how);
    const rename = (s: string) => s.replace(/ns-ls/g, 'lsns');
    return { theirs, ours: { ...ours, stderr: rename(ours.stderr), stdout: how.columns === undefined ? ours.stdout : rename(ours.stdout) } };
  }

  /** Host pid of the world's process whose command line is exactly `cmdline`. */
  hostPid(cmdline: string): number {
    const pid = [this.init, ...descendantsOf(this.init)].find((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0$/, '').replace(/\0/g, ' ') === cmdline;
      } catch {
        return false;
      }
    });
    if (pid === undefined) throw new Error(`no "${cmdline}" in the lsns world`);
    return pid;
  }

  /** The pid the world's own /proc shows for a process (NSpid's second field). */
  worldPid(cmdline: string): number {
    const status = readFileSync(`/proc/${this.hostPid(cmdline)}/status`, 'utf8');
    return Number(/^NSpid:\s+(.*)$/m.exec(status)![1]!.trim().split(/\s+/)[1]);
  }

  /** The namespace id of a world process. */
  ns(cmdline: string, kind: string): number {
    return statSync(`/proc/${this.hostPid(cmdline)}/ns/${kind}`).ino;
  }

  /** The init's own namespace of a kind (what the world's root namespaces are). */
  rootNs(kind: string): number {
    return statSync(`/proc/${this.init}/ns/${kind}`).ino;
  }

  stop(): void {
    try {
      process.kill(this.init, 'SIGKILL');
    } catch {
      // already gone
    }
    this.launcher.kill('SIGKILL');
    this.output.remove();
  }
}
