/**
 * ns-container: the container logic the `ns-run` runner and the `ns-run-oci` runtime share:
 * root filesystems, identity and user namespace ranges, networks, limits, lifecycle and state.
 * Composed from the per-kind packages; the CLIs are thin tables over it.
 */
export * from './container';
export * from './spec';
/** The container compiler (config.json -> spawn steps), shared by ns-run-oci and the runner: compile/index.ts. */
export { compileContainer, openJoins, type CompileContext, type CompiledContainer } from './compile';
