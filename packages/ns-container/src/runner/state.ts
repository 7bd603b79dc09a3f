/**
 * Where containers are recorded: one JSON file (0600) per container in a directory only its
 * owner may enter (0700): /run/ns-run/containers for root, else $XDG_RUNTIME_DIR/ns-run, else
 * /run/user/UID/ns-run (each only if the user owns it), else a private directory in the temp
 * dir. A state directory not owned by the user or open to others is refused, reading too.
 * Each file is created with O_EXCL (that claims the name) and replaced atomically by rename(2);
 * a file that cannot be read or is not a container's state is reported and skipped.
 */
import { closeSync, existsSync, fstatSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type { NamespaceKind } from 'ns-core';
import { NsError, usageError } from 'ns-core/errors';
import * as sys from 'ns-core/sys';
import type { AttachmentInfo } from '../network';
import type { SeccompChoice } from './options';

export const STATE_VERSION = 1;

/** A process by pid and the inode of its pidfd (pidfs, Linux 6.9+: unique while the system runs). */
export interface ProcessRef {
  readonly pid: number;
  readonly inode: number;
}

export interface PublishedPort {
  readonly hostAddress: string;
  readonly hostPort: number;
  readonly containerPort: number;
}

export interface ContainerState {
  readonly version: number;
  readonly name: string;
  /** ISO time the container was created. */
  readonly created: string;
  /** Docker's words: created (being set up), running, exited. */
  readonly status: 'creating' | 'running' | 'exited';
  /** 64 hex digits, as docker's ids; commands take it, a unique prefix of it, or the name. */
  readonly id?: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** Docker's: the program's status, or 128+N for signal N. */
  readonly exitCode?: number;
  /** --rm: removed when it exits (the default in the foreground); otherwise kept until `rm`. */
  readonly autoRemove?: boolean;
  /** -d -p: the process serving its published ports from inside its network namespace. */
  readonly forwarder?: ProcessRef;
  /** -d: its C supervisor, which outlives the CLI that started it. */
  readonly supervisor?: ProcessRef;
  /**
   * The runner became the supervisor in place (execInPlace): no TypeScript learnt the init's
   * pid, which is the supervisor's grandchild (below its relay).
   */
  readonly inPlace?: boolean;
  /**
   * Host objects the runner makes for the container, each recorded before it is made: what the
   * next ns-run call removes if the runner (or supervisor) died without its cleanup.
   */
  readonly reclaim?: {
    /** Subnet lease files. */
    readonly leases?: readonly string[];
    /** Host ends of veths (usually gone with the container's network namespace). */
    readonly links?: readonly string[];
    /** cgroup directories, in any order (removed deepest first). */
    readonly cgroups?: readonly string[];
  };
  /** What `inspect` shows of how it was made (docker's Config and HostConfig). */
  readonly config?: {
    readonly hostname: string;
    readonly user: string;
    readonly image?: string;
    readonly exposedPorts?: readonly string[];
    readonly volumes: readonly { readonly source: string; readonly dest: string; readonly readOnly: boolean }[];
    readonly tmpfs: readonly string[];
    readonly readOnly: boolean;
    readonly memory?: string;
    readonly pidsLimit?: string;
    readonly cpus?: string;
    readonly capAdd: readonly string[];
    readonly capDrop: readonly string[];
    readonly usernsMode: string;
    /** Bytes /dev/shm may hold (docker's HostConfig.ShmSize). */
    readonly shmSize?: number;
  };
  readonly runner: ProcessRef;
  /** PID 1 of the container (our init), in the runner's pid namespace. */
  readonly init?: ProcessRef;
  /** The program (PID 2 inside). */
  readonly program?: ProcessRef;
  readonly argv: readonly string[];
  /** The root filesystem, or null for the embedded default. */
  readonly rootfs: string | null;
  /** The image's id and the reference it was run by (`run IMAGE`), and the store holding its root. */
  readonly image?: { readonly id: string; readonly reference: string; readonly store: string };
  /** none, host, veth, or the network's name. */
  readonly network: string;
  /** On a network: its address, gateway, aliases. */
  readonly attachment?: AttachmentInfo;
  readonly address?: string;
  readonly hostAddress?: string;
  readonly hostInterface?: string;
  readonly ports: readonly PublishedPort[];
  /** Kinds `exec` enters. */
  readonly namespaces: readonly NamespaceKind[];
  /** cgroup directories of the container (one per hierarchy), for `exec` to join. */
  readonly cgroups: readonly string[];
  /** What `exec` gives a new process: the container's environment, directory, ids and privileges. */
  readonly env: readonly string[];
  readonly workdir: string;
  readonly uid: number;
  readonly gid: number;
  readonly setgroupsAllowed: boolean;
  /** Capabilities kept, as a hex mask. */
  readonly capabilities: string;
  /** The seccomp profile `exec` puts a new process under (absent: a container from before filters, none). */
  readonly seccomp?: SeccompChoice;
}

/** Docker's rule for names, which also keeps them usable as hostnames and file names. */
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

export function validateName(name: string): string {
  if (!NAME_RE.test(name)) throw usageError(`--name: '${name}' must be 1-63 characters of [a-zA-Z0-9_.-], starting with a letter or digit`);
  return name;
}

function fsError(e: unknown, syscall: string, path: string): NsError {
  return NsError.from(e, { syscall, path });
}

/** The directory for this user's state, by convention; not created. */
export function defaultStateRoot(euid = process.geteuid!(), env: NodeJS.ProcessEnv = process.env): string {
  if (euid === 0) return '/run/ns-run';
  const xdg = env['XDG_RUNTIME_DIR'];
  // A directory only this user can create entries in; a stale XDG_RUNTIME_DIR (logged-out
  // session) or one of another user is passed over.
  for (const dir of [...(xdg && xdg.startsWith('/') ? [xdg] : []), `/run/user/${euid}`]) {
    try {
      const st = lstatSync(dir);
      if (st.isDirectory() && st.uid === euid && (st.mode & 0o022) === 0) return posix.join(dir, 'ns-run');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(e, 'lstat', dir);
    }
  }
  return posix.join(tmpdir(), `ns-run-${euid}`);
}

/**
 * Makes (or checks) a directory that only we may use: ours, 0700, not a symlink. A directory
 * someone else made in a shared place (/tmp) is refused rather than trusted.
 */
export function privateDir(path: string, searchable = false): string {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (e) {
    // Already there: checked below like a new one.
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(e, 'mkdir', path);
  }
  checkPrivate(path, searchable);
  return path;
}

/**
 * A state directory that exists must be ours and closed to others (`searchable`: others may
 * pass through it but not list or write it, as /run/ns-run, which network files below it need);
 * false if it does not exist.
 */
export function checkPrivate(path: string, searchable = false): boolean {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw fsError(e, 'lstat', path);
  }
  if (!st.isDirectory() || st.uid !== process.geteuid!() || (st.mode & (searchable ? 0o066 : 0o077)) !== 0) {
    throw new NsError({ errno: 1, code: 'EPERM', syscall: 'lstat', path,
                        message: `state directory ${path} must be a directory owned by uid ${process.geteuid!()} with mode ${searchable ? '0700 or 0711' : '0700'}` });
  }
  return true;
}

/** A state file that could not be used, and why. */
export interface SkippedState {
  readonly file: string;
  readonly reason: string;
}

/** The names exitFileOf gives (a state file's, then `.exit.` and the container's 64-hex id). */
const EXIT_FILE_NAME = /^.+\.json\.exit\.[0-9a-f]{64}$/;

/** The fields every reader relies on; anything else in a file is optional. */
function validState(v: unknown): v is ContainerState {
  const s = v as Partial<ContainerState> | null;
  const ref = (r: unknown) => r === undefined || (typeof r === 'object' && r !== null && Number.isInteger((r as ProcessRef).pid) && typeof (r as ProcessRef).inode === 'number');
  return typeof s === 'object' && s !== null && typeof s.name === 'string' && typeof s.created === 'string' &&
    ['creating', 'running', 'exited'].includes(s.status as string) && s.runner !== undefined && ref(s.runner) && ref(s.init) && ref(s.program) &&
    Array.isArray(s.argv) && Array.isArray(s.ports) && Array.isArray(s.namespaces) && Array.isArray(s.cgroups) && Array.isArray(s.env);
}

export class StateStore {
  readonly root: string;

  constructor(root: string = defaultStateRoot()) {
    this.root = root;
  }

  get containersDir(): string {
    return posix.join(this.root, 'containers');
  }

  get subnetsDir(): string {
    return posix.join(this.root, 'subnets');
  }

  /** The state directories are ours and closed to others (EPERM otherwise); false if there are none yet. */
  private checkDirs(): boolean {
    return checkPrivate(this.root, true) && checkPrivate(this.containersDir);
  }

  /** Creates the directories (0700). */
  prepare(): this {
    privateDir(this.root, true);
    privateDir(this.containersDir);
    privateDir(this.subnetsDir);
    return this;
  }

  fileOf(name: string): string {
    return posix.join(this.containersDir, `${validateName(name)}.json`);
  }

  /**
   * Claims the name: the file is created only if no container has it, complete from the start
   * (written aside, then link(2)ed into place, which fails if the name exists), so that a
   * file that does not parse is never a claim in progress. @throws NsError EEXIST.
   */
  claim(state: ContainerState): string {
    const file = this.fileOf(state.name);
    const temp = this.writeTemp(file, state);
    try {
      linkSync(temp, file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new NsError({ errno: 17, code: 'EEXIST', path: file, message: `a container named '${state.name}' already exists` });
      }
      throw fsError(e, 'link', file);
    } finally {
      removeFile(temp);
    }
    return file;
  }

  private writeTemp(file: string, state: ContainerState): string {
    const temp = `${file}.${process.pid}.tmp`;
    const fd = openSync(temp, 'wx', 0o600);
    try {
      writeAll(fd, state);
    } finally {
      closeSync(fd);
    }
    return temp;
  }

  /** Replaces the file atomically (readers see the old or the new state, never half). */
  update(state: ContainerState): void {
    const file = this.fileOf(state.name);
    const temp = this.writeTemp(file, state);
    try {
      renameSync(temp, file);
    } catch (e) {
      unlinkSync(temp);
      throw fsError(e, 'rename', file);
    }
  }

  /** With `id`, the exit code an in-place supervisor recorded for that container (exitFileOf) goes too. */
  remove(name: string, id?: string): void {
    // Looked for first: most containers have neither (a throwing unlink costs more than a stat).
    const log = this.logOf(name);
    if (existsSync(log)) removeFile(log);
    removeFile(this.fileOf(name));
    const exit = id !== undefined ? this.exitFileOf(name, id) : undefined;
    if (exit !== undefined && existsSync(exit)) removeFile(exit);
  }

  /**
   * Where an in-place container's C supervisor writes its exit code ("N\n") when the program is
   * gone, before it removes the state (its `release` word): the state file itself is TypeScript's
   * to write. Named by the id too, so that no later container of the name reads it.
   */
  exitFileOf(name: string, id: string): string {
    return `${this.fileOf(name)}.exit.${id}`;
  }

  /** A detached container's output (stdout and stderr), for `logs`. */
  logOf(name: string): string {
    return posix.join(this.containersDir, `${validateName(name)}.log`);
  }

  read(name: string): ContainerState {
    const file = this.fileOf(name);
    let value: unknown;
    try {
      this.checkDirs();
      value = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new NsError({ errno: 2, code: 'ENOENT', path: file, message: `no such container: ${name}` });
      }
      if (e instanceof NsError) throw e;
      throw e instanceof SyntaxError ? new NsError({ errno: 22, code: 'EINVAL', path: file, message: `${file}: not JSON (${e.message})` }) : fsError(e, 'read', file);
    }
    if (!validState(value)) throw new NsError({ errno: 22, code: 'EINVAL', path: file, message: `${file}: not the state of a container` });
    const ended = value.inPlace && value.status === 'running' ? this.recordedExit(value) : undefined;
    if (ended) return ended;
    if (value.inPlace && !value.init && isAlive(value.supervisor)) {
      const init = grandchildOf(value.supervisor!.pid);
      const program = init !== undefined ? childRef(init.pid) : undefined;
      if (init !== undefined) return { ...value, init, ...(program ? { program } : {}) };
    }
    return value;
  }

  /** An in-place container as exited, once its supervisor has written the exit code (exitFileOf). */
  private recordedExit(state: ContainerState): ContainerState | undefined {
    if (state.id === undefined) return undefined;
    const file = this.exitFileOf(state.name, state.id);
    // While it runs there is none (a throwing read costs more than a stat).
    if (!existsSync(file)) return undefined;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fsError(e, 'read', file);
    }
    // Written in one write(2): empty until then (O_CREAT first), never half a number.
    if (!/^\d+\n$/.test(text)) return undefined;
    let finishedAt: string;
    try {
      finishedAt = statSync(file).mtime.toISOString();
    } catch {
      finishedAt = new Date().toISOString(); // removed meanwhile by the supervisor: it ended now
    }
    return { ...state, status: 'exited', exitCode: Number(text), finishedAt };
  }

  /** Every recorded container, oldest first; unreadable or half-written files are skipped. */
  list(): ContainerState[] {
    return this.scan().states;
  }

  /** Every recorded container, oldest first, and the files that could not be used. */
  scan(): { states: ContainerState[]; skipped: SkippedState[] } {
    let names: string[];
    try {
      if (!this.checkDirs()) return { states: [], skipped: [] };
      names = readdirSync(this.containersDir);
    } catch (e) {
      // No directory yet: no container was ever run by this user.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { states: [], skipped: [] };
      if (e instanceof NsError) throw e;
      throw fsError(e, 'opendir', this.containersDir);
    }
    for (const n of names) this.sweepTemp(n);
    const states: ContainerState[] = [];
    const skipped: SkippedState[] = [];
    for (const n of names.filter((f) => f.endsWith('.json'))) {
      try {
        states.push(this.read(n.slice(0, -'.json'.length)));
      } catch (e) {
        // Removed while we listed it (the container exited): it is no longer there.
        if ((e as NsError).code === 'ENOENT') continue;
        if ((e as NsError).code === 'EUSAGE' || (e as NsError).code === 'EINVAL' || (e as NsError).code === 'EACCES') {
          skipped.push({ file: join(this.containersDir, n), reason: (e as NsError).message });
          continue;
        }
        throw e;
      }
    }
    this.sweepExits(names, states);
    return { states: states.sort((a, b) => a.created.localeCompare(b.created)), skipped };
  }

  /**
   * An in-place supervisor's exit file (exitFileOf) whose container's state is gone, or is
   * another container's now: it was killed between removing the state and the exit file, or the
   * state was reclaimed. Listed before the states were read, so its state was there when it was
   * written (the supervisor writes it while the state exists): one read now without it is gone.
   */
  private sweepExits(names: readonly string[], states: readonly ContainerState[]): void {
    const live = new Set(states.flatMap((s) => (s.id !== undefined ? [this.exitFileOf(s.name, s.id)] : [])));
    for (const n of names) {
      const file = posix.join(this.containersDir, n);
      if (EXIT_FILE_NAME.test(n) && !live.has(file)) removeFile(file);
    }
  }

  /**
   * A state write's temporary file (NAME.json.PID.tmp, renamed over NAME.json when whole) whose
   * writer is gone: it was SIGKILLed between the write and the rename, and nothing renames it
   * now. One whose pid lives (the writer, or a process that got its pid) is left alone.
   */
  private sweepTemp(entry: string): void {
    const m = /^.+\.json\.(\d+)\.tmp$/.exec(entry);
    if (!m) return;
    try {
      process.kill(Number(m[1]), 0);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') return;
    }
    removeFile(join(this.containersDir, entry));
  }

  /**
   * The container NAME, or the one whose id starts with NAME (docker's rule: a name first,
   * then a unique id prefix).
   * @throws NsError ENOENT when none matches, EUSAGE when a prefix matches several.
   */
  resolve(nameOrId: string): ContainerState {
    if (NAME_RE.test(nameOrId)) {
      try {
        return this.read(nameOrId);
      } catch (e) {
        if ((e as NsError).code !== 'ENOENT') throw e;
      }
    }
    const matches = /^[0-9a-f]+$/.test(nameOrId) ? this.list().filter((s) => s.id?.startsWith(nameOrId)) : [];
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw usageError(`'${nameOrId}' names ${matches.length} containers: give more of the id, or the name`);
    throw new NsError({ errno: 2, code: 'ENOENT', message: `no such container: ${nameOrId}` });
  }

  /** Files of processes waiting for a container's end (`ns-run wait`), which keep its state. */
  private waiterPrefix(name: string): string {
    return `${this.fileOf(name)}.wait.`;
  }

  /** Registers us as waiting for NAME's end: until unregistered, its exited state stays. */
  addWaiter(name: string): string {
    const file = `${this.waiterPrefix(name)}${process.pid}`;
    writeFileSync(file, `${JSON.stringify(processRef(process.pid))}\n`, { mode: 0o600 });
    return file;
  }

  /** Whether a live process other than us waits for NAME (dead waiters' files are removed). */
  hasWaiters(name: string, except?: string): boolean {
    const prefix = posix.basename(this.waiterPrefix(name));
    let live = false;
    for (const f of readdirSync(this.containersDir).filter((n) => n.startsWith(prefix))) {
      const file = join(this.containersDir, f);
      if (file === except) continue;
      let ref: ProcessRef | undefined;
      try {
        ref = JSON.parse(readFileSync(file, 'utf8')) as ProcessRef;
      } catch {
        ref = undefined; // half-written by a waiter that is starting: count it as live
        live = true;
        continue;
      }
      if (isAlive(ref)) live = true;
      else removeFile(file);
    }
    return live;
  }

  /**
   * The end of an auto-removed container: its state goes unless a waiter will read it, which
   * then removes it (a waiter registers before it reads the state, and we look for waiters
   * after writing the exit: one of the two always sees the other).
   */
  release(name: string, runner: ProcessRef): void {
    if (this.hasWaiters(name)) return;
    let state: ContainerState;
    try {
      state = this.read(name);
    } catch (e) {
      // Removed by the waiter that read it, or never written: nothing of ours is left.
      if ((e as NsError).code === 'ENOENT') return;
      throw e;
    }
    // A waiter removed ours and a new container took the name: that one is not ours to remove.
    if (state.runner.pid === runner.pid && state.runner.inode === runner.inode) this.remove(name, state.id);
  }
}

function writeAll(fd: number, state: ContainerState): void {
  writeSync(fd, `${JSON.stringify(state, null, 2)}\n`);
}

/**
 * `bytes` random bytes as hex (container names and ids), read from /dev/urandom, the pool
 * getrandom(2) and node:crypto draw from: loading node:crypto for them alone cost every ns-run ~2 ms.
 */
export function randomHex(bytes: number): string {
  const out = Buffer.alloc(bytes);
  let fd: number;
  try {
    fd = openSync('/dev/urandom', 'r');
  } catch (e) {
    throw fsError(e, 'open', '/dev/urandom');
  }
  try {
    for (let done = 0; done < bytes;) done += readSync(fd, out, done, bytes - done, null);
  } catch (e) {
    throw fsError(e, 'read', '/dev/urandom');
  } finally {
    closeSync(fd);
  }
  return out.toString('hex');
}

/** unlink(2); a file that is already gone is what we wanted. */
export function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(e, 'unlink', path);
  }
}

/** The inode of a pidfd for pid (pidfs): with the pid, it names one process for good. */
export function processRef(pid: number): ProcessRef {
  const fd = sys.pidfdOpen(pid);
  try {
    return { pid, inode: fstatSync(fd).ino };
  } finally {
    sys.closeFd(fd);
  }
}

/**
 * fn on a pidfd of the process a ref names; undefined if that process is gone (exited, or its
 * pid reused: the pidfs inode differs).
 */
function withRef<T>(ref: ProcessRef, fn: (fd: number) => T): T | undefined {
  let fd: number;
  try {
    fd = sys.pidfdOpen(ref.pid);
  } catch (e) {
    // ESRCH: no such process any more.
    if ((e as NsError).code === 'ESRCH') return undefined;
    throw e;
  }
  try {
    return fstatSync(fd).ino === ref.inode ? fn(fd) : undefined;
  } finally {
    sys.closeFd(fd);
  }
}

/** Sends a signal to the process a ref names, if it still runs; false if it does not. */
export function signalRef(ref: ProcessRef, signal: number): boolean {
  return withRef(ref, (fd) => {
    try {
      sys.pidfdSendSignal(fd, signal);
      return true;
    } catch (e) {
      // Exited between the check and the signal.
      if ((e as NsError).code === 'ESRCH') return false;
      throw e;
    }
  }) ?? false;
}

/** Whether the process a ref names still runs (it may have exited, or its pid been reused). */
export function isAlive(ref: ProcessRef | undefined): boolean {
  return ref !== undefined && (withRef(ref, () => !isZombie(ref.pid)) ?? false);
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch (e) {
    // Gone between pidfd_open and the read: not alive.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
}


/**
 * An in-place container's init: the child of the supervisor's relay. Only a child of the
 * live supervisor can be it, so the ref is made from what /proc says now.
 */
function grandchildOf(pid: number): ProcessRef | undefined {
  const relay = sys.firstChildOf(pid);
  return relay !== undefined ? childRef(relay) : undefined;
}

/** A ref to pid's first child, if it has one. */
export function childRef(pid: number): ProcessRef | undefined {
  const child = sys.firstChildOf(pid);
  if (child === undefined) return undefined;
  try {
    return processRef(child);
  } catch {
    return undefined; // ended between the read and the pidfd
  }
}
