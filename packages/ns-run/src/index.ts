/**
 * ns-run: the util-linux drop-ins ns-unshare and ns-enter (unshare's meaning as a library here;
 * entering, which containers share, is ns-core's), and the CLI of the ns-run container runner,
 * whose logic lives in ns-container.
 */
export { planUnshare, filteredEnv, type UnshareOptions, type UnsharePlan } from './unshare/plan';
