/** The container runner's library surface: options and plans (runner/options.ts), running (runner/run.ts). */
export { DEFAULT_CAPABILITIES, CAPABILITY_NAMES, keptCapabilities, namesOf as capabilityNames } from './runner/caps';
export {
  ACCOUNT_FILE_MAX, DEFAULT_USERNS_RANGE, HOST_USERNS_RANGE, planIdentity, readAccountsInRoot, resolveUser, type Identity, type MapMode, type UsernsMode,
} from './runner/identity';
export { resolveInRoot, type InRootPath } from './runner/inroot';
export { assembleFilesystem, STAGING_CANDIDATES, type FilesystemSpec, type Volume } from './runner/rootfs';
export { defaultStateRoot, isAlive, StateStore, type ContainerState, type ProcessRef, type SkippedState } from './runner/state';
export {
  followLog, listContainers, liveStatus, planExec, removeContainer, scanContainers, signalContainer, stopContainer, waitContainer,
  type ContainerInfo, type ExecOptions, type ExecPlan,
} from './runner/lifecycle';
export { inspectContainer } from './runner/inspect';
export * from './runner/options';
export { LeftoversError, type Leftover } from './runner/cgroup';
export * from './runner/run';
export { parseEnvFile, readEnvFile, ENV_FILE_MAX } from './runner/envfile';
export { planImage, type ImageSource, type PlannedImage } from './runner/image';
export { directoryView, layersView, type RootView } from './runner/inroot';
export * from './network';
