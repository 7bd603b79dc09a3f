/**
 * ns-container/oci: what ns-run-oci needs (the OCI runtime operations), without loading the
 * runner, networks and images of the package's main entry: every ns-run-oci call is a process
 * of its own, and engines call it several times per container.
 */
export { OciRuntime, stateText, type OciState, type CreateOptions, type RuntimeOptions } from './runtime';
export { OCI_VERSION, type ContainerSpec } from '../spec';
