/**
 * Seccomp profiles in the two JSON shapes engines use:
 *  - the OCI runtime spec's `linux.seccomp` (LinuxSeccomp), what config.json carries and what
 *    the compiler takes;
 *  - docker's and podman's profile files (moby's default.json, /usr/share/containers/seccomp.json,
 *    `--security-opt seccomp=FILE`): the same plus `archMap` and per-entry `includes`/`excludes`
 *    (capabilities, architectures, minimum kernel), which `resolveProfile` settles for one
 *    container as docker and podman do before they hand the runtime a LinuxSeccomp.
 * podman's files also name errnos ('errno', 'defaultErrno'), which win over the numbers as in
 * podman. Unknown properties are ignored, as the runtime spec requires of readers of config.json.
 */
import { release as osRelease } from 'node:os';
import { errnoNumber, usageError } from '../errors';
import { HOSTS, hostArch, type HostArch } from './arch';

export type SeccompAction =
  | 'SCMP_ACT_KILL' | 'SCMP_ACT_KILL_PROCESS' | 'SCMP_ACT_KILL_THREAD' | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_ERRNO' | 'SCMP_ACT_TRACE' | 'SCMP_ACT_ALLOW' | 'SCMP_ACT_LOG' | 'SCMP_ACT_NOTIFY';

export type SeccompOperator =
  | 'SCMP_CMP_NE' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_EQ' | 'SCMP_CMP_GE' | 'SCMP_CMP_GT' | 'SCMP_CMP_MASKED_EQ';

/** A 64-bit argument value: JSON numbers above 2^53 arrive as bigint from parseSeccompJson. */
export type ArgValue = number | bigint;

export interface LinuxSeccompArg {
  readonly index: number;
  /** For SCMP_CMP_MASKED_EQ, the mask. */
  readonly value: ArgValue;
  /** For SCMP_CMP_MASKED_EQ, what the masked argument must equal; unused otherwise. */
  readonly valueTwo?: ArgValue;
  readonly op: SeccompOperator;
}

export interface LinuxSyscall {
  readonly names: readonly string[];
  readonly action: SeccompAction;
  readonly errnoRet?: number;
  readonly args?: readonly LinuxSeccompArg[] | null;
}

/** The runtime spec's linux.seccomp. */
export interface LinuxSeccomp {
  readonly defaultAction: SeccompAction;
  readonly defaultErrnoRet?: number;
  readonly architectures?: readonly string[] | null;
  readonly flags?: readonly string[] | null;
  readonly listenerPath?: string;
  readonly listenerMetadata?: string;
  readonly syscalls?: readonly LinuxSyscall[] | null;
}

/** docker's and podman's condition on a profile entry. */
export interface ProfileFilter {
  readonly caps?: readonly string[] | null;
  readonly arches?: readonly string[] | null;
  readonly minKernel?: string | null;
}

export interface ProfileSyscall extends Omit<LinuxSyscall, 'names'> {
  readonly names?: readonly string[] | null;
  /** docker's older single-name form. */
  readonly name?: string;
  /** podman's (containers/common) errno by name ('EPERM'); it wins over errnoRet, as in podman. */
  readonly errno?: string;
  readonly comment?: string;
  readonly includes?: ProfileFilter | null;
  readonly excludes?: ProfileFilter | null;
}

/** A docker/podman profile file; a plain LinuxSeccomp is one too. */
export interface SeccompProfile extends Omit<LinuxSeccomp, 'syscalls'> {
  /** podman's default errno by name ('ENOSYS'); it wins over defaultErrnoRet, as in podman. */
  readonly defaultErrno?: string;
  readonly archMap?: readonly { readonly architecture: string; readonly subArchitectures?: readonly string[] | null }[] | null;
  readonly syscalls?: readonly ProfileSyscall[] | null;
}

/** Profiles frozen whole by constantProfile(): compileCached may know their filters by identity. */
const constants = new WeakSet<object>();

/** Freezes a profile and everything in it, and marks it constant (nstools' own profiles). */
export function constantProfile<T extends object>(profile: T): T {
  const freeze = (v: unknown): void => {
    if (typeof v !== 'object' || v === null || Object.isFrozen(v)) return;
    Object.freeze(v);
    for (const e of Object.values(v)) freeze(e);
  };
  freeze(profile);
  constants.add(profile);
  return profile;
}

export function isConstantProfile(profile: object): boolean {
  return constants.has(profile);
}

export interface ResolveOptions {
  /** The container's bounding set, as names ('CAP_SYS_ADMIN'; 'SYS_ADMIN' is accepted too). */
  readonly capabilities?: readonly string[];
  /** Default: this host's. */
  readonly arch?: HostArch;
  /** Kernel release for `minKernel` ('6.1.0-18-amd64'). Default: the running kernel's. */
  readonly kernelRelease?: string;
}

const BIG_MARK = '\u0000big:';

/**
 * JSON.parse for profile files, keeping integers above 2^53 exact: a profile may compare an
 * argument with 0xffffffffffffffff, which a double would round. Such integers become bigints.
 * @throws NsError EUSAGE on malformed JSON, naming `source`.
 */
export function parseSeccompJson(text: string, source = 'seccomp profile'): unknown {
  let out = '';
  let i = 0;
  let last = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      // Skip the string, escapes included.
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    if (c === '-' || (c >= '0' && c <= '9')) {
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 40));
      const tok = m?.[0] ?? c;
      if (m && !m[1] && !m[2] && !Number.isSafeInteger(Number(tok))) {
        out += `${text.slice(last, i)}"\\u0000big:${tok}"`;
        last = i + tok.length;
      }
      i += tok.length;
      continue;
    }
    i++;
  }
  out += text.slice(last);
  try {
    return JSON.parse(out, (_k, v: unknown) => (typeof v === 'string' && v.startsWith(BIG_MARK) ? BigInt(v.slice(BIG_MARK.length)) : v));
  } catch (e) {
    throw usageError(`${source}: not valid JSON: ${(e as Error).message}`);
  }
}

/** podman's errno names ('EPERM') to numbers. */
function errnoByName(name: unknown, where: string): number {
  try {
    if (typeof name === 'string' && /^E[A-Z0-9]+$/.test(name)) return errnoNumber(name);
  } catch {
    // an E-name Node does not know: refused below
  }
  throw usageError(`${where}: unknown errno ${JSON.stringify(name)}`);
}

function normalizeCap(name: string): string {
  const upper = name.toUpperCase();
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

/** 'X.Y[.Z][-flavour]' as [X, Y, Z]; docker's minKernel comparison. */
function kernelVersion(release: string, what: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  if (!m) throw usageError(`${what}: ${JSON.stringify(release)} is not a kernel version`);
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

function atLeast(have: [number, number, number], want: [number, number, number]): boolean {
  for (let i = 0; i < 3; i++) if (have[i] !== want[i]) return have[i]! > want[i]!;
  return true;
}

function listOf(v: unknown, what: string): readonly string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw usageError(`${what}: expected a list of strings`);
  return v as string[];
}

/**
 * docker's and podman's profile to the LinuxSeccomp one container gets, as moby's setupSeccomp
 * and containers/common do it: `archMap` picks this host's arch and its sub-arches; an entry is
 * dropped if `excludes` names this arch, any granted capability or a kernel at most the running
 * one, or if `includes` names other arches, a capability not granted (all must be) or a newer
 * kernel. A profile without these fields comes back as it is.
 * @throws NsError EUSAGE naming the entry that is malformed.
 */
export function resolveProfile(profile: SeccompProfile, options: ResolveOptions = {}): LinuxSeccomp {
  if (typeof profile !== 'object' || profile === null || Array.isArray(profile)) {
    throw usageError('seccomp profile: expected a JSON object');
  }
  const host = options.arch ?? hostArch();
  const caps = new Set((options.capabilities ?? []).map(normalizeCap));
  // uname(2)'s release, as docker's kernel.GetKernelVersion reads it.
  const release = options.kernelRelease ?? osRelease();
  const kernel = kernelVersion(release, 'kernel release');
  const archName = HOSTS[host].profileName;
  const native = HOSTS[host].native;

  if (profile.architectures?.length && profile.archMap?.length) {
    throw usageError("seccomp profile: 'architectures' and 'archMap' were both given; use one");
  }
  let architectures = profile.architectures ? [...listOf(profile.architectures, 'seccomp profile: architectures')] : undefined;
  if (profile.archMap?.length) {
    if (!Array.isArray(profile.archMap)) throw usageError('seccomp profile: archMap: expected a list');
    const entry = profile.archMap.find((a) => a?.architecture === native);
    architectures = entry ? [native, ...listOf(entry.subArchitectures, 'seccomp profile: archMap subArchitectures')] : [];
  }

  const syscalls: LinuxSyscall[] = [];
  const entries = profile.syscalls ?? [];
  if (!Array.isArray(entries)) throw usageError('seccomp profile: syscalls: expected a list');
  entries.forEach((call, i) => {
    const where = `seccomp profile: syscalls[${i}]`;
    if (typeof call !== 'object' || call === null) throw usageError(`${where}: expected an object`);
    const inc = call.includes ?? {};
    const exc = call.excludes ?? {};
    const minKernel = (f: ProfileFilter, which: string) => (f.minKernel ? kernelVersion(f.minKernel, `${where}: ${which}.minKernel`) : undefined);
    const excArches = listOf(exc.arches, `${where}: excludes.arches`);
    const excCaps = listOf(exc.caps, `${where}: excludes.caps`).map(normalizeCap);
    const excKernel = minKernel(exc, 'excludes');
    const incArches = listOf(inc.arches, `${where}: includes.arches`);
    const incCaps = listOf(inc.caps, `${where}: includes.caps`).map(normalizeCap);
    const incKernel = minKernel(inc, 'includes');
    if (excArches.includes(archName)) return;
    if (excCaps.some((c) => caps.has(c))) return;
    if (excKernel && atLeast(kernel, excKernel)) return;
    if (incArches.length && !incArches.includes(archName)) return;
    if (incCaps.some((c) => !caps.has(c))) return;
    if (incKernel && !atLeast(kernel, incKernel)) return;
    if (call.name !== undefined && call.names?.length) throw usageError(`${where}: 'name' and 'names' were both given; use one`);
    const names = call.name !== undefined ? [call.name] : listOf(call.names, `${where}: names`);
    const errnoRet = call.errno ? errnoByName(call.errno, `${where}: errno`) : call.errnoRet;
    syscalls.push({
      names,
      action: call.action,
      ...(errnoRet !== undefined && errnoRet !== null ? { errnoRet } : {}),
      ...(call.args?.length ? { args: call.args } : {}),
    });
  });

  const defaultErrnoRet = profile.defaultErrno ? errnoByName(profile.defaultErrno, 'seccomp profile: defaultErrno') : profile.defaultErrnoRet;
  return {
    defaultAction: profile.defaultAction,
    ...(defaultErrnoRet !== undefined && defaultErrnoRet !== null ? { defaultErrnoRet } : {}),
    ...(architectures ? { architectures } : {}),
    ...(profile.flags?.length ? { flags: profile.flags } : {}),
    ...(profile.listenerPath ? { listenerPath: profile.listenerPath } : {}),
    ...(profile.listenerMetadata ? { listenerMetadata: profile.listenerMetadata } : {}),
    syscalls,
  };
}
