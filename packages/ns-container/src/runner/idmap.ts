/**
 * Idmapped roots and volumes for a root runner, made the way crun makes them: the runner
 * (host root) clones each tree detached (open_tree(OPEN_TREE_CLONE)) and idmaps it
 * (mount_setattr(MOUNT_ATTR_IDMAP)) with a user namespace holding the container's maps; the
 * exec stage attaches it in the container's mount namespace (move-mount). Through such a
 * mount a file of host uid N shows as the id the container's namespace gives N (host root's
 * files are container root's), and what the container writes is stored with the host id its
 * own id maps to (container root writes host root's files).
 *
 * Why the runner and not the child: mount_setattr(MOUNT_ATTR_IDMAP) needs CAP_SYS_ADMIN in the
 * user namespace that owns the filesystem's superblock, the host's for ext4 or tmpfs, which the
 * child has lost once it is in its own user namespace. A detached tree belongs to no mount
 * namespace, so it may be attached in the child's (a bind by path or from /proc/self/fd would
 * be refused across mount namespaces). The source is opened by host root, so no directory on
 * the way to it needs to be searchable by the container's root.
 */
import { NsError, Namespace, spawn, sys } from 'ns-core';
import { locate } from 'ns-mount';
import type { FilesystemSpec, OverlayRoot, Volume } from './rootfs';
import type { Identity } from './identity';

/** Detached trees for a FilesystemSpec: the root's (a --rootfs, or an image's overlay), and each volume's by its index. */
export interface DetachedTrees {
  readonly rootfs?: number;
  readonly volumes: readonly (number | undefined)[];
}

/** What `idmappedTrees` made: the trees, and how to close the runner's copies of their fds. */
export interface IdmappedTrees {
  readonly trees: DetachedTrees;
  close(): void;
}

/**
 * Whether a container's root and volumes are idmapped: as root, with a range of host ids of
 * the container's own (with --userns=host every id is itself, and nothing needs mapping).
 */
export function wantsIdmap(identity: Identity): boolean {
  return identity.mode === 'range' && identity.usernsMode !== 'host';
}

/**
 * A user namespace with the container's maps, for MOUNT_ATTR_IDMAP only (crun does the same):
 * made by a process that sleeps until we hold the namespace, then is killed. An idmapped mount
 * depends on the maps alone, and no process ever runs in this namespace: the last one made is
 * kept for the next container with the same maps (a library caller running container after
 * container gets the same leased range back), which saves it a spawn, a kill and a wait.
 */
async function mappingNamespace(identity: Identity): Promise<Namespace> {
  const key = JSON.stringify([identity.uidMap, identity.gidMap]);
  if (lastMapping?.key === key) return lastMapping.ns;
  const holder = await spawn(['/bin/sleep', '1000'], { steps: [identity.userStep], stdio: 'ignore', killWithParent: 'SIGKILL' });
  let ns: Namespace;
  try {
    ns = Namespace.ofPid(holder.pid, 'user');
  } finally {
    holder.kill('SIGKILL');
    await holder.exited;
  }
  lastMapping?.ns.close();
  lastMapping = { key, ns };
  return ns;
}

/** The mapping namespace made last, by its maps (mappingNamespace). */
let lastMapping: { readonly key: string; readonly ns: Namespace } | undefined;

/**
 * A detached clone of the tree at `path` (every mount below it too), private, idmapped with
 * `userns` if given, read-only if asked. `option`: what the user typed, for errors.
 * @throws NsError naming the option and path; for a filesystem that cannot be idmapped
 *   (mount_setattr EINVAL: it lacks FS_ALLOW_IDMAP), one that names the way out.
 */
function detachedTree(path: string, option: string, userns: Namespace | undefined, readOnly: boolean): number {
  let fd: number;
  try {
    fd = sys.openTree(path, true);
  } catch (e) {
    throw NsError.from(e, { step: option, path });
  }
  try {
    sys.mountSetattr(fd, { ...(userns ? { userns: userns.fd } : {}), recursive: true, ...(readOnly ? { set: sys.MOUNT_ATTR.RDONLY } : {}) }, path);
    return fd;
  } catch (e) {
    sys.closeFd(fd);
    const err = e as NsError;
    if (err.code === 'EINVAL' && userns) {
      const fstype = fstypeOf(path);
      throw new NsError({
        errno: err.errno, code: 'EINVAL', syscall: 'mount_setattr', path, step: option,
        message: `${option}: ${path}: its filesystem${fstype ? ` (${fstype})` : ''} cannot be idmapped, which a root runner needs to ` +
                 'show its owners to the container; run with --userns=host (the host\'s ids, nothing to map), or use a directory on ext4, xfs, btrfs or tmpfs',
      });
    }
    throw NsError.from(e, { step: option, path });
  }
}

function fstypeOf(path: string): string | undefined {
  try {
    return locate(path).mount.fsType;
  } catch {
    return undefined; // only for the message
  }
}

/**
 * An image's root as a detached overlay mount: each lower layer an idmapped tree (host root's
 * files are container root's), passed to overlayfs by fd ("lowerdir+", fsconfig(2)), the upper
 * directory as it is (owned by the container's root as the host sees it, createContainerRoot).
 * Mounted by us, the runner: overlayfs does its copy-ups, whiteouts and trusted.* xattrs with its
 * mounter's credentials, which host root has. Measured on this kernel: an idmapped upper fails
 * instead, as the mounter (host uid 0) has no id in the upper's idmapping (EOVERFLOW making
 * work/work, then a read-only overlay), and overlayfs itself cannot be idmapped (EINVAL). Nor
 * may the container mount it in its own user namespace (as crun does rootless): trusted.*
 * xattrs are out of its reach there (xattr(7)), so a root store's opaque directories are not
 * (measured: a file of the layer below shows through one).
 */
function overlayTree(overlay: OverlayRoot, userns: Namespace | undefined): number {
  const layers: number[] = [];
  try {
    for (const dir of overlay.lower) layers.push(detachedTree(dir, 'image root', userns, false));
    try {
      return sys.fsMount('overlay', [
        ...layers.map((fd) => ['lowerdir+', { fd }] as const),
        ...(overlay.upper !== undefined ? [['upperdir', overlay.upper] as const, ['workdir', overlay.work!] as const] : []),
        ...(overlay.userxattr ? [['userxattr', true] as const] : []),
      ], 'image root overlay');
    } catch (e) {
      throw NsError.from(e, { step: 'image root' });
    }
  } finally {
    // overlayfs holds its layers now.
    for (const fd of layers) sys.closeFd(fd);
  }
}

/**
 * Detached trees a root runner makes (none rootless): idmapped trees of the root (a --rootfs,
 * or an image's overlay) and each volume of `spec`; with --userns=host, where nothing needs
 * mapping, only an image's overlay, which overlayfs could not do with the trusted.* xattrs of a
 * root store if the container mounted it in its own user namespace. Closes what it made if any
 * fails. `userns`: a user namespace with the container's maps the caller holds already (the
 * in-place runner's holder made one), used instead of mappingNamespace's.
 */
export async function idmappedTrees(spec: FilesystemSpec, identity: Identity, userns?: Namespace): Promise<IdmappedTrees> {
  const volumes: readonly Volume[] = spec.volumes ?? [];
  const none = { trees: { volumes: [] }, close: () => undefined };
  if (identity.mode !== 'range') return none;
  const made: number[] = [];
  const close = () => { for (const fd of made.splice(0)) sys.closeFd(fd); };
  if (!wantsIdmap(identity)) {
    if (!spec.overlay) return none;
    made.push(overlayTree(spec.overlay, undefined));
    return { trees: { rootfs: made[0]!, volumes: [] }, close };
  }
  if (spec.rootfs === undefined && !spec.overlay && !volumes.length) return none;
  const mapping = userns ?? await mappingNamespace(identity);
  try {
    const keep = (fd: number) => { made.push(fd); return fd; };
    const rootfs = spec.overlay ? keep(overlayTree(spec.overlay, mapping))
      : spec.rootfs !== undefined ? keep(detachedTree(spec.rootfs, '--rootfs', mapping, false)) : undefined;
    const trees = volumes.map((v) => keep(detachedTree(v.source, '--volume', mapping, v.readOnly ?? false)));
    return { trees: { ...(rootfs !== undefined ? { rootfs } : {}), volumes: trees }, close };
  } catch (e) {
    close();
    throw e;
  }
}
