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
 * Failures are NsError: errno names from syscalls, and EREFERENCE, ENOIMAGE, EIMAGE, EDIGEST,
 * EREGISTRY, EBUSY, ENOTSUP, ETIMEDOUT (see errors.ts). Nothing here prints or exits.
 */
export {
  ImageStore, Session, defaultStoreRoot,
  type StoreOptions, type ImageRecord, type ImageSummary, type ImageDetails, type LoadedImage,
  type RemoveOptions, type RemoveResult, type ContainerRoot, type ContainerRootOptions,
} from './store';
export { loadImages, type LoadOptions } from './load';
export { pullImage, type PullOptions, type PulledImage } from './pull';
export { registryHost, isLoopback, type Credentials, type RegistryOptions } from './registry';
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
