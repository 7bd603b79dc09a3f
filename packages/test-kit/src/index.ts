/**
 * ns-test-kit: fixtures every nstools test suite shares. It depends on ns-core's library only,
 * so any package's tests, ns-core's own included (a project of their own), can use it.
 */
export * from './processes';
export * from './accounts';
export * from './rootfs';
export * from './host-snapshot';
export * from './cli-harness';
export * from './scratch';
export * from './images';
export * from './tree';
export * from './tun';
export * from './load-cost';
