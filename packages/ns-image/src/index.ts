/**
 * ns-image: container images for ns-run and ns-run-oci. A content-addressed store whose
 * layers are unpacked once, as overlayfs lower directories, and shared; import of docker and
 * OCI archives and OCI layouts; pull from registries (OCI distribution API, token auth);
 * images/inspect/tag/rmi with garbage collection; per-container upper and work directories.
 *
 *   const store = ImageStore.open({ root: argv.storage ?? process.env.NS_RUN_STORAGE });
 *   const loaded = await loadImages(store, 'busybox.tar', { onProgress });
 *   const pulled = await pullImage(store, 'localhost:5000/app:1');
 *   const root = store.createContainerRoot('app:1', containerId);   // mount root.lower/upper/work
 *   const proc = resolveProcess(store.inspect('app:1').config, { command: ['sh'] });
 *   store.removeContainerRoot(containerId);
 *   store.remove('app:1');
 *
 * The store (store.ts) is `/var/lib/ns-run` as root, `${XDG_DATA_HOME:-~/.local/share}/ns-run`
 * otherwise, or `root` as given; its directory is 0700 and belongs to the uid that made it
 * (another uid gets EPERM). What a layer becomes on disk (unpack.ts):
 * - As root: the tar's owners, modes (setuid and setgid included), mtimes, device nodes and
 *   xattrs (file capabilities too). Whiteouts are character devices 0:0, opaque directories
 *   carry trusted.overlay.opaque and user.overlay.opaque, so a mount by real root and one in
 *   a user namespace with `userxattr` both read them.
 * - Rootless: every file belongs to the caller, which a container maps to its root; modes are
 *   kept (setuid too: only the caller can reach the store, and in a user namespace they grant
 *   nothing its root lacks); device nodes refuse the layer (EIMAGE); only user.* xattrs are
 *   kept; whiteouts are 0:0 devices (unprivileged since Linux 5.8), opaque directories carry
 *   user.overlay.opaque: mount with `userxattr` (ContainerRoot.userxattr says so).
 * - Names with '..' or a leading '/', writes through symlinks, hard links leaving the layer and
 *   xattrs steering overlayfs refuse the layer. Each layer is its own directory, so a symlink
 *   in a lower layer is never followed while writing an upper one.
 * - Writes are atomic and durable: a layer is unpacked in a private directory, synced, and
 *   renamed into place; the index is replaced by rename after another sync. A process killed
 *   at any point leaves nothing a later run would use. Large files are written by fd through
 *   the thread pool; every path is resolved on the calling thread.
 *
 * Failures are NsError: errno names from syscalls, and EREFERENCE, ENOIMAGE, EIMAGE, EDIGEST,
 * EREGISTRY, EBUSY, ENOTSUP, ETIMEDOUT, EPERM (see errors.ts), each one line naming the image,
 * the blob and what was wrong. Nothing here prints or exits.
 */
export {
  ImageStore, Session, defaultStoreRoot,
  type StoreOptions, type ImageRecord, type ImageSummary, type ImageDetails, type LoadedImage,
  type RemoveOptions, type RemoveResult, type ContainerRoot, type ContainerRootOptions,
} from './store';
export type { LoadOptions } from './load';
export type { PullOptions, PulledImage } from './pull';
export type { Credentials, RegistryOptions } from './registry';
export {
  parseReference, withDefaultTag, formatReference, familiarReference, repositoryName, parseImageId,
  isValidTag, validateDigest, DEFAULT_DOMAIN, type ImageReference,
} from './reference';
export { hostPlatform, parsePlatform, formatPlatform, type Platform } from './platform';
export { ProgressRenderer, formatBytes, type ProgressEvent, type ProgressCallback, type LayerProgress, type RendererOptions } from './progress';
export { resolveProcess, mergeEnv, DEFAULT_PATH, type RunOverrides, type ProcessSpec } from './runconfig';
export { DEFAULT_LIMITS, type Limits } from './limits';
export type { ContainerConfig } from './manifest';
export type { ImageErrorCode } from './errors';

// Loading and pulling (a tar reader, HTTP, the registry client) load on first use: `ns-run run
// IMAGE` needs only the store, and every module it does not require is start-up it does not pay.
type LoadModule = typeof import('./load');
type PullModule = typeof import('./pull');
type RegistryModule = typeof import('./registry');

export function loadImages(...args: Parameters<LoadModule['loadImages']>): ReturnType<LoadModule['loadImages']> {
  return (require('./load') as LoadModule).loadImages(...args);
}

export function pullImage(...args: Parameters<PullModule['pullImage']>): ReturnType<PullModule['pullImage']> {
  return (require('./pull') as PullModule).pullImage(...args);
}

export function registryHost(...args: Parameters<RegistryModule['registryHost']>): ReturnType<RegistryModule['registryHost']> {
  return (require('./registry') as RegistryModule).registryHost(...args);
}

export function isLoopback(...args: Parameters<RegistryModule['isLoopback']>): ReturnType<RegistryModule['isLoopback']> {
  return (require('./registry') as RegistryModule).isLoopback(...args);
}
