/**
 * seccomp(profile): the setup step that loads a compiled filter in the exec stage, for
 * spawn(argv, { steps: [..., seccomp(profile)] }).
 */
import type { PhasedOp, Step } from '../exec/plan';
import { compileSeccomp, type CompiledSeccomp, type CompileOptions } from './compile';
import type { LinuxSeccomp, SeccompProfile } from './profile';

const PR_SET_NO_NEW_PRIVS = 38;

export interface SeccompStepOptions extends CompileOptions {
  /**
   * How the kernel is to accept the filter (seccomp(2): no_new_privs or CAP_SYS_ADMIN).
   * 'no-new-privs' (default): this step sets PR_SET_NO_NEW_PRIVS and the filter is the last
   * thing before execve, so the exec stage's own steps never run under it.
   * 'cap-sys-admin': no no_new_privs (OCI noNewPrivileges false); the filter is loaded before
   * ids and capabilities change, while the stage still holds CAP_SYS_ADMIN in its user
   * namespace, as runc does. The profile must then allow what the later steps call (setgroups,
   * setresgid, setresuid, capset, prctl, chdir, execve); docker's and podman's defaults do.
   */
  readonly requires?: 'no-new-privs' | 'cap-sys-admin';
}

function isCompiled(p: unknown): p is CompiledSeccomp {
  return typeof p === 'object' && p !== null && Buffer.isBuffer((p as CompiledSeccomp).program);
}

/**
 * A step loading `profile` (a LinuxSeccomp, a docker/podman profile file's object, or what
 * compileSeccomp returned) into the program. Compiles up front, so a bad profile fails here.
 * @throws NsError EUSAGE for a profile the compiler refuses.
 */
export function seccomp(profile: SeccompProfile | LinuxSeccomp | CompiledSeccomp, options: SeccompStepOptions = {}): Step {
  const compiled = isCompiled(profile) ? profile : compileSeccomp(profile, options);
  const requires = options.requires ?? 'no-new-privs';
  const child: PhasedOp[] = [];
  if (requires === 'no-new-privs') {
    child.push({ op: 'prctl', option: PR_SET_NO_NEW_PRIVS, args: [1], phase: 'final', step: 'no_new_privs' });
  }
  child.push({ op: 'seccomp', program: compiled.program, flags: compiled.flags, requires, phase: 'final', step: 'seccomp' });
  return { name: 'seccomp', child };
}
