/**
 * Keeping a namespace alive without a process in it, by bind-mounting its nsfs file onto a
 * regular file (`unshare --net=FILE`, `ip netns add`). Anyone may later open the file to enter
 * the namespace (setns(2) accepts it), and unmounting it lets the namespace go.
 */
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { posix } from 'node:path';
import * as sys from 'ns-core/sys';
import { NsError } from 'ns-core/errors';
import type { Step } from 'ns-core/exec/plan';
import { bindNamespaceFile } from 'ns-core/exec/spawn';
import { nsProcPath, parseKind, type NamespaceKind } from 'ns-core/kinds';
import { inStep } from './errors';
import { locate, readMountinfo } from './mountinfo';

export interface PersistedNamespace {
  readonly kind: NamespaceKind;
  readonly file: string;
  /** nsfs inode number of the namespace now bound on `file`. */
  readonly id: number;
  /** We created `file`; releaseNamespace() removes it again. */
  readonly created: boolean;
}

/** Files persistNamespace() created in this process, so releaseNamespace() knows to remove them. */
const createdFiles = new Set<string>();

/**
 * Checks the target before binding, to fail with a message that names the file. Something
 * mounted on it already is refused (EBUSY). A mount namespace file on a shared mount is
 * refused as mount(2) would refuse it, with EINVAL (util-linux#289): propagation copies the
 * new mount to every peer, and copy_tree() will not copy a mount namespace file, lest a
 * namespace end up pinning itself (fs/namespace.c). Other kinds bind there and propagate to
 * the peers, which `ip netns` relies on for its shared /run/netns (measured on Linux 6.18).
 */
function checkTarget(file: string, kind: NamespaceKind, step: string): void {
  const existing = existsSync(file);
  const { mount, resolved } = locate(existing ? file : posix.dirname(posix.resolve(file)));
  if (existing && mount.mountPoint === resolved) {
    throw new NsError({ errno: 16, code: 'EBUSY', syscall: 'mount', path: file, step,
                        message: `${step}: ${file} already has something mounted on it (release it first)` });
  }
  if (kind === 'mnt' && mount.propagation.shared !== undefined) {
    throw new NsError({
      errno: 22, code: 'EINVAL', syscall: 'mount', path: file, step,
      message: `${step}: ${file} is on a shared mount (${mount.mountPoint}, peer group shared:${mount.propagation.shared}); `
        + 'the kernel refuses to bind a mount namespace there',
      hint: 'bind the directory onto itself and make it private first: mount --bind DIR DIR && mount --make-private DIR',
    });
  }
}

/**
 * Binds a process's namespace of `kind` onto `file` (created if missing), so it outlives the
 * process: `unshare --KIND=FILE`. For pid and time the namespace its children get is the one
 * bound (pid_for_children, time_for_children), as util-linux does. Runs in the caller's mount
 * namespace, where the file is meant to be seen.
 * @throws NsError EINVAL for a mount namespace and a file on a shared mount, EBUSY if something
 *   is mounted on file already, or what mount(2) reports; a file it created is removed again.
 */
export function persistNamespace(pid: number, kind: NamespaceKind, file: string): PersistedNamespace {
  const step = `persist ${kind}`;
  inStep(step, () => checkTarget(file, kind, step));
  // O_EXCL for a missing file, so a file someone else makes meanwhile is never taken over.
  const { created } = bindNamespaceFile(nsProcPath(pid, kind, true), file, step);
  if (created) createdFiles.add(posix.resolve(file));
  return { kind, file, id: lstatSync(file).ino, created };
}

export interface ReleaseOptions {
  /** Remove the file after unmounting; default: only if persistNamespace() created it in this process. */
  readonly remove?: boolean;
}

/**
 * Unbinds a namespace persisted on `file` (umount2 with MNT_DETACH, so a holder of an open fd
 * keeps its namespace but the file lets go), and removes the file if we created it.
 * @throws NsError EINVAL if no namespace is bound on file.
 */
export function releaseNamespace(file: string, options: ReleaseOptions = {}): void {
  const { mount, resolved } = locate(file);
  if (mount.mountPoint !== resolved || mount.fsType !== 'nsfs') {
    throw new NsError({ errno: 22, code: 'EINVAL', syscall: 'umount2', path: file, step: 'release',
                        message: `release: no namespace is bound on ${file}` });
  }
  sys.umount2(file, sys.MNT.DETACH);
  const absolute = posix.resolve(file);
  if (options.remove ?? createdFiles.has(absolute)) unlinkSync(file);
  createdFiles.delete(absolute);
}

/** Which namespace of the spawned child to keep, and where. */
export interface PersistRequest {
  readonly kind: NamespaceKind;
  readonly file: string;
}

/** A step that persists namespaces of the child; see commit(). */
export interface PersistStep extends Step {
  /**
   * Keeps the bindings: call it as soon as spawn() resolves, before awaiting anything else
   * (runToCompletion's onStart is such a place). Otherwise, and whenever the spawn fails, the
   * step's cleanup releases them once the child is gone, so a failure half-way leaves no
   * mount or file behind. Returns what was persisted.
   */
  commit(): readonly PersistedNamespace[];
}

/**
 * Setup step: bind the child's namespaces onto files while it waits at the sync point, i.e.
 * after its namespaces exist and before anything runs in them. util-linux needs a helper
 * process for this (the unshare process has left the original mount namespace, and for a
 * user namespace the privilege in it); spawn()'s launcher never leaves its own namespaces, so
 * the parent binds them itself, and execInPlace() has the exec stage's helper do it (the data
 * form of each action, bound for good once the program runs). The targets are checked now.
 */
export function persist(requests: readonly PersistRequest[]): PersistStep {
  const persisted: PersistedNamespace[] = [];
  let committed = false;
  for (const r of requests) {
    if (existsSync(r.file) || existsSync(posix.dirname(posix.resolve(r.file)))) {
      inStep(`persist ${r.kind}`, () => checkTarget(r.file, r.kind, `persist ${r.kind}`));
    }
  }
  return {
    name: 'ns-mount persist',
    parent: requests.map((r) => ({
      action: 'call' as const,
      step: `persist ${r.kind}`,
      data: { action: 'bind-ns' as const, kind: r.kind, file: r.file, step: `persist ${r.kind}` },
      run: ({ pid }: { pid: number }) => {
        persisted.push(persistNamespace(pid, r.kind, r.file));
      },
    })),
    cleanup: async () => {
      // ns-core runs cleanups when the child is reaped, which for a short-lived program can be
      // before spawn() has even returned, and it does not say whether exec succeeded. So the
      // decision waits one turn of the event loop (setImmediate runs after every pending
      // promise continuation), giving the caller's `await spawn()` the chance to commit.
      await new Promise((resolve) => setImmediate(resolve));
      if (committed) return;
      let first: unknown;
      for (const p of persisted.splice(0).reverse()) {
        try {
          releaseNamespace(p.file);
        } catch (e) {
          first ??= e; // release the rest, then report the first failure
        }
      }
      if (first) throw first;
    },
    commit: () => {
      committed = true;
      return [...persisted];
    },
  };
}

/** Namespaces bound on files in the caller's mount table: what `--KIND=FILE` left behind. */
export function persistedNamespaces(): { file: string; kind: NamespaceKind | undefined; id: number }[] {
  return readMountinfo()
    .filter((e) => e.fsType === 'nsfs')
    .map((e) => {
      // The mount's root names the namespace as its /proc link does: "net:[4026532180]".
      const [, name, id] = /^(\w+):\[(\d+)\]$/.exec(e.root) ?? [];
      return { file: e.mountPoint, kind: name ? parseKind(name) : undefined, id: Number(id ?? 0) };
    });
}
