/**
 * What only the calls that build a process need (create, run, exec, features): the container
 * compiler and the root's lookups. runtime.ts loads this module on first use, so `state`,
 * `start`, `kill`, `delete`, `pause` and `resume` (each its own Node start, as engines call
 * them) load neither the compiler nor ns-mount and ns-user.
 */
export { compileContainer, openJoins } from '../compile';
export { processSteps } from '../compile/process';
export { validateSpec } from '../compile/validate';
export { FLAG_OPTIONS, PROPAGATION_OPTIONS } from '../compile/filesystem';
export { CAPABILITY_NAMES } from '../runner/caps';
export { resolveInRoot } from '../runner/inroot';
