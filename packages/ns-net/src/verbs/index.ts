/** Verbs named like `ip`: module functions over a NetlinkSocket, and RtnlHandle bundling them. */
export * from './link';
export * from './addr';
export * from './route';
export { nsidOf } from './nsid';
export { RtnlHandle } from './handle';
