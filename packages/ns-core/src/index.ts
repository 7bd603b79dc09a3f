/**
 * ns-core: namespace kinds, typed errors, syscall bindings, fd-owning namespace handles,
 * running code inside namespaces, and spawn() through the exec stage.
 */
export {
  NAMESPACE_KINDS, KIND_NAMES, type NamespaceKind, type NamespaceKindInfo,
  isNamespaceKind, kindInfo, kindFromCloneFlag, parseKind, cloneFlagsOf, kindsOfFlags, kindsToString, nsProcPath, kindCommand,
} from './kinds';
export { NsError, usageError, readText, errnoName, errnoMessage, errnoNumber, type NsErrorInit } from './errors';
export { decodeBytes, encodeText, environBytes, fsPath, hasEscapedBytes, inheritedEnvironment, writeAll } from './bytes';
export { parseDecimal } from './numbers';
export { parsePasswd, parseGroup, PASSWD_FILE, GROUP_FILE, type PasswdEntry, type GroupEntry } from './accounts';
export { Namespace, namespaceIds, openNamespaces, supportedKinds } from './namespace';
export { withHandle, type Closeable } from './handle';
export { runInside, runInNew, type InProcessKind } from './inside';
export { openTargets, planEnter, type EnterOptions, type OpenedTargets } from './enter';
export { spawn, NsChild, liveChildren, exitCodeOf, bindNamespaceFile, unbindNamespaceFile, pollPipe, type ExitStatus } from './exec/spawn';
export { execInPlace } from './exec/in-place';
export {
  compileSpawn, compileInPlace, envToList, programCandidates, joinOps, PHASES, RELAYED_SIGNALS, UTIL_LINUX_EXIT_CODES,
  type Phase, type PhasedOp, type Step, type ParentAction, type DataParentAction, type ParentContext, type JoinTarget,
  type SpawnOptions, type StdioSpec, type CompiledSpawn, type InPlaceOptions, type ForkPolicy, type SuperviseOptions,
  type SuperviseCleanup, type TerminalOptions, supervisorWords,
} from './exec/plan';
export { encodePlan, opError, opLabel, type ChildOp, type MountAttr, type ExecPlan, type ExitCodes, type OpLabel } from './exec/ops';
export { CHILD_FAILURE_EXIT } from './exec/protocol';
export { listNamespaces, type NamespaceEntry, type ListOptions } from './ls';
export * as sys from './sys';
export {
  seccomp, compileSeccomp, compileCached, defaultSeccompProfile, parseSeccompJson, resolveProfile, DEFAULT_PROFILE,
  type SeccompStepOptions, type SeccompCacheOptions, type CompiledSeccomp, type CompileOptions, type LinuxSeccomp, type SeccompProfile,
} from './seccomp';
