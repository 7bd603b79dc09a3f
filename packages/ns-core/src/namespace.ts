import { closeSync, fstatSync, openSync, readdirSync, statSync } from 'node:fs';
import { NsError } from './errors';
import { withHandle } from './handle';
import { kindFromCloneFlag, kindInfo, NAMESPACE_KINDS, nsProcPath, type NamespaceKind } from './kinds';
import { nsGetOwnerUid, nsGetParent, nsGetType, nsGetUserns } from './sys/nsfs';

const O_RDONLY_CLOEXEC = 0o2000000;

function openOrThrow(path: string, kind?: NamespaceKind): number {
  try {
    return openSync(path, O_RDONLY_CLOEXEC);
  } catch (e) {
    const err = NsError.from(e, { syscall: 'open', path });
    // Which kind was wanted, for the message and hints (the open itself knows no kind).
    throw kind ? new NsError({ errno: Math.abs(err.errno), code: err.code, syscall: 'open', path, namespaces: [kind] }) : err;
  }
}

/**
 * A namespace held by an open fd: it stays the same namespace however long you keep it,
 * even after the process it came from exits. Close it when done.
 */
export class Namespace {
  readonly kind: NamespaceKind;
  /** The nsfs inode number: what /proc/PID/ns/* links show and lsns prints as NS. */
  readonly id: number;
  /** The nsfs device, needed with `id` to compare namespaces across nsfs instances. */
  readonly dev: number;
  #fd: number;

  private constructor(fd: number, kind: NamespaceKind) {
    const st = fstatSync(fd);
    this.#fd = fd;
    this.kind = kind;
    this.id = st.ino;
    this.dev = st.dev;
  }

  /** The fd; valid until close(). */
  get fd(): number {
    if (this.#fd < 0) throw new NsError({ errno: 9, syscall: 'use', path: `${this.kind} namespace handle (closed)` });
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** /proc/PID/ns/KIND (or the for-children entry). */
  static ofPid(pid: number | 'self', kind: NamespaceKind, forChildren = false): Namespace {
    return Namespace.fromFd(openOrThrow(nsProcPath(pid, kind, forChildren), kind), kind);
  }

  /** A /proc/PID/ns file or a file a namespace was bind-mounted on (`unshare --net=FILE`). */
  static open(path: string, expected?: NamespaceKind): Namespace {
    const fd = openOrThrow(path, expected);
    try {
      return Namespace.fromFd(fd, expected);
    } catch (e) {
      if (e instanceof NsError && e.syscall === 'ioctl(NS_GET_NSTYPE)') {
        throw new NsError({ errno: 22, syscall: 'open', path, message: `${path} is not a namespace file` });
      }
      // The kind mismatch from fromFd knows no path: name the file the user gave.
      if (e instanceof NsError && e.syscall === 'open' && e.path === undefined) {
        throw new NsError({ errno: 22, syscall: 'open', path, ...(e.namespaces ? { namespaces: e.namespaces } : {}),
                            message: `${path}: ${e.message}` });
      }
      throw e;
    }
  }

  /**
   * Takes ownership of fd (closed if this throws); the kind comes from the kernel
   * (NS_GET_NSTYPE), not from a file name, and is checked against `expected`.
   */
  static fromFd(fd: number, expected?: NamespaceKind): Namespace {
    try {
      const kind = kindFromCloneFlag(nsGetType(fd));
      if (!kind) throw new NsError({ errno: 22, syscall: 'ioctl(NS_GET_NSTYPE)', message: `fd ${fd} is not a namespace` });
      if (expected && kind !== expected) {
        throw new NsError({ errno: 22, syscall: 'open', namespaces: [expected],
                            message: `expected a ${expected} namespace, got ${kind}` });
      }
      return new Namespace(fd, kind);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** The user namespace that owns this one. */
  owner(): Namespace {
    return Namespace.fromFd(nsGetUserns(this.fd), 'user');
  }

  /** Parent of a pid or user namespace. Throws EPERM at the caller's own root. */
  parent(): Namespace {
    if (this.kind !== 'pid' && this.kind !== 'user') {
      throw new NsError({ errno: 22, syscall: 'ioctl(NS_GET_PARENT)', namespaces: [this.kind],
                          message: `only pid and user namespaces have parents, not ${this.kind}` });
    }
    return Namespace.fromFd(nsGetParent(this.fd), this.kind);
  }

  /** Uid that created this user namespace, as seen from the caller's user namespace. */
  ownerUid(): number {
    if (this.kind !== 'user') return this.owner().use((u) => u.ownerUid());
    return nsGetOwnerUid(this.fd);
  }

  equals(other: Namespace | { id: number; dev: number }): boolean {
    return this.id === other.id && this.dev === other.dev;
  }

  /** Runs fn with this handle and closes it afterwards. */
  use<T>(fn: (ns: this) => T): T {
    return withHandle(this, fn);
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }

  toString(): string {
    return `${this.kind}:[${this.id}]`;
  }
}

/** Inode ids of a process's namespaces, for every kind the kernel has; no fds kept. */
export function namespaceIds(pid: number | 'self', forChildren = false): Partial<Record<NamespaceKind, number>> {
  const ids: Partial<Record<NamespaceKind, number>> = {};
  for (const k of NAMESPACE_KINDS) {
    try {
      ids[k.kind] = statSync(nsProcPath(pid, k.kind, forChildren)).ino;
    } catch {
      // The kernel lacks this kind, or the process is gone: absent from the answer.
    }
  }
  return ids;
}

/** Open handles for every namespace of a process (caller closes them). */
export function openNamespaces(pid: number | 'self', kinds: readonly NamespaceKind[] = NAMESPACE_KINDS.map((k) => k.kind)): Map<NamespaceKind, Namespace> {
  const out = new Map<NamespaceKind, Namespace>();
  try {
    for (const kind of kinds) out.set(kind, Namespace.ofPid(pid, kind));
  } catch (e) {
    for (const ns of out.values()) ns.close();
    throw e;
  }
  return out;
}

/** Kinds this kernel supports (an entry exists in /proc/self/ns). */
export function supportedKinds(): NamespaceKind[] {
  const present = new Set(readdirSync('/proc/self/ns'));
  return NAMESPACE_KINDS.filter((k) => present.has(kindInfo(k.kind).procName)).map((k) => k.kind);
}
