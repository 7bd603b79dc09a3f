/**
 * Where running containers are recorded: one JSON file (0600) per container in a directory
 * only its owner may enter (0700): /run/nstools/containers for root, else
 * $XDG_RUNTIME_DIR/nstools/containers, else a private directory in the temp dir. Each file is
 * created with O_EXCL (that claims the name) and replaced atomically by rename(2).
 */
import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { posix } from 'node:path';
import { NsError, sys, usageError, type NamespaceKind } from 'ns-core';
import type { AttachmentInfo } from '../network';

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
  readonly status: 'creating' | 'running';
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
  if (euid === 0) return '/run/nstools';
  const xdg = env['XDG_RUNTIME_DIR'];
  if (xdg && xdg.startsWith('/')) {
    try {
      if (lstatSync(xdg).uid === euid) return posix.join(xdg, 'nstools');
    } catch (e) {
      // A stale XDG_RUNTIME_DIR (logged-out session): use the fallback below.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(e, 'lstat', xdg);
    }
  }
  return posix.join(tmpdir(), `nstools-${euid}`);
}

/**
 * Makes (or checks) a directory that only we may use: ours, 0700, not a symlink. A directory
 * someone else made in a shared place (/tmp) is refused rather than trusted.
 */
export function privateDir(path: string): string {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (e) {
    // Already there: checked below like a new one.
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(e, 'mkdir', path);
  }
  const st = lstatSync(path);
  if (!st.isDirectory() || st.uid !== process.geteuid!() || (st.mode & 0o077) !== 0) {
    throw new NsError({ errno: 1, code: 'EPERM', syscall: 'lstat', path,
                        message: `state directory ${path} must be a directory owned by uid ${process.geteuid!()} with mode 0700` });
  }
  return path;
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

  /** Creates the directories (0700). */
  prepare(): this {
    privateDir(this.root);
    privateDir(this.containersDir);
    privateDir(this.subnetsDir);
    return this;
  }

  fileOf(name: string): string {
    return posix.join(this.containersDir, `${validateName(name)}.json`);
  }

  /** Claims the name: the file is created only if no container has it. @throws NsError EEXIST. */
  claim(state: ContainerState): string {
    const file = this.fileOf(state.name);
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new NsError({ errno: 17, code: 'EEXIST', path: file, message: `a container named '${state.name}' already exists` });
      }
      throw fsError(e, 'open', file);
    }
    try {
      writeAll(fd, state);
    } finally {
      closeSync(fd);
    }
    return file;
  }

  /** Replaces the file atomically (readers see the old or the new state, never half). */
  update(state: ContainerState): void {
    const file = this.fileOf(state.name);
    const temp = `${file}.${process.pid}.tmp`;
    const fd = openSync(temp, 'wx', 0o600);
    try {
      writeAll(fd, state);
    } finally {
      closeSync(fd);
    }
    try {
      renameSync(temp, file);
    } catch (e) {
      unlinkSync(temp);
      throw fsError(e, 'rename', file);
    }
  }

  remove(name: string): void {
    removeFile(this.fileOf(name));
  }

  read(name: string): ContainerState {
    const file = this.fileOf(name);
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as ContainerState;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new NsError({ errno: 2, code: 'ENOENT', path: file, message: `no such container: ${name}` });
      }
      throw e instanceof SyntaxError ? new NsError({ errno: 22, code: 'EINVAL', path: file, message: `${file}: ${e.message}` }) : fsError(e, 'read', file);
    }
  }

  /** Every recorded container, oldest first; unreadable or half-written files are skipped. */
  list(): ContainerState[] {
    let names: string[];
    try {
      names = readdirSync(this.containersDir);
    } catch (e) {
      // No directory yet: no container was ever run by this user.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw fsError(e, 'opendir', this.containersDir);
    }
    const states: ContainerState[] = [];
    for (const n of names.filter((f) => f.endsWith('.json'))) {
      try {
        states.push(this.read(n.slice(0, -'.json'.length)));
      } catch (e) {
        // Removed while we listed it (the container exited): it is no longer running.
        if ((e as NsError).code === 'ENOENT') continue;
        throw e;
      }
    }
    return states.sort((a, b) => a.created.localeCompare(b.created));
  }
}

function writeAll(fd: number, state: ContainerState): void {
  writeSync(fd, `${JSON.stringify(state, null, 2)}\n`);
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

/** Whether the process a ref names still runs (it may have exited, or its pid been reused). */
export function isAlive(ref: ProcessRef | undefined): boolean {
  if (!ref) return false;
  let fd: number;
  try {
    fd = sys.pidfdOpen(ref.pid);
  } catch (e) {
    // ESRCH: no such process any more.
    if ((e as NsError).code === 'ESRCH') return false;
    throw e;
  }
  try {
    if (fstatSync(fd).ino !== ref.inode) return false;
    return !isZombie(ref.pid);
  } finally {
    sys.closeFd(fd);
  }
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
