/** Seccomp: profiles (OCI and docker/podman files), the BPF compiler and its cache, nstools' default profile, the spawn step. */
export {
  type SeccompAction, type SeccompOperator, type ArgValue, type LinuxSeccompArg, type LinuxSyscall, type LinuxSeccomp,
  type ProfileFilter, type ProfileSyscall, type SeccompProfile, type ResolveOptions, parseSeccompJson, resolveProfile,
} from './profile';
export {
  compileSeccomp, actionValue, SECCOMP_RET, SECCOMP_FILTER_FLAGS, BAD_ARCH_ACTION, type CompileOptions, type CompiledSeccomp,
} from './compile';
export { compileCached, type SeccompCacheOptions } from './cache';
export { DEFAULT_PROFILE, defaultSeccompProfile } from './default-profile';
export { seccomp, type SeccompStepOptions } from './step';
export { hostArch, type HostArch } from './arch';
export { decodeProgram, type Insn } from './bpf';
