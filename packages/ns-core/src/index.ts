/**
 * ns-core: namespace kinds, typed errors, syscall bindings, fd-owning namespace handles,
 * running code inside namespaces, and spawn() through the exec stage.
 */
export {
  NAMESPACE_KINDS, KIND_NAMES, type NamespaceKind, type NamespaceKindInfo,
  isNamespaceKind, kindInfo, kindFromCloneFlag, parseKind, cloneFlagsOf, kindsOfFlags, kindsToString, nsProcPath,
} from './kinds';
export { NsError, usageError, errnoName, errnoMessage, errnoNumber, type NsErrorInit } from './errors';
export { Namespace, namespaceIds, openNamespaces, supportedKinds } from './namespace';
export { runInside, runInNew, type InProcessKind } from './inside';
export { spawn, NsChild, liveChildren, exitCodeOf, type ExitStatus } from './exec/spawn';
export {
  compileSpawn, envToList, programCandidates, joinOps, PHASES, RELAYED_SIGNALS,
  type Phase, type PhasedOp, type Step, type ParentAction, type ParentContext, type JoinTarget,
  type SpawnOptions, type StdioSpec, type CompiledSpawn,
} from './exec/plan';
export { encodePlan, type ChildOp, type ExecPlan } from './exec/ops';
export { CHILD_FAILURE_EXIT } from './exec/protocol';
export { listNamespaces, type NamespaceEntry, type ListOptions } from './ls';
export * as sys from './sys';
export {
  EXIT, exitCodeForError, formatError, failAndExit, defaultProgram, runToCompletion, exitLike,
  yargsBase, programArgs, inheritedIgnoredSignals, type RunOptions,
} from './cli-support';
export { normalizeGetopt, type GetoptSpec } from './getopt';
export {
  seccomp, compileSeccomp, defaultSeccompProfile, parseSeccompJson, resolveProfile, DEFAULT_PROFILE,
  type SeccompStepOptions, type CompiledSeccomp, type CompileOptions, type LinuxSeccomp, type SeccompProfile,
} from './seccomp';
