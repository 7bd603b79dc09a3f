/** Verbs named like `ip`: module functions over a NetlinkSocket, and RtnlHandle bundling them. */
export * from './link';
export * from './addr';
export * from './route';
export { nsidOf, nsidSet, nsidList, nsidGet, type NsidEntry } from './nsid';
export { RtnlHandle } from './handle';
