/**
 * ns-run: util-linux drop-ins (ns-unshare, ns-enter) and a small container runner, composed
 * from the per-kind packages.
 */
export { planUnshare, filteredEnv, type UnshareOptions, type UnsharePlan } from './unshare';
export { openTargets, planEnter, type EnterOptions, type OpenedTargets } from './enter';
export * from './run';
