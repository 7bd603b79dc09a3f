/** nf_tables over netlink: verbs named like nft(8), and the rules container engines need. */
export * from './objects';
export * from './verbs';
export { NftHandle } from './handle';
export * from './rule';
export * from './engine';
export * from './forwarding';
