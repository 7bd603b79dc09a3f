/**
 * Architectures as seccomp sees them: the AUDIT_ARCH_* value the kernel puts in
 * seccomp_data.arch (linux/audit.h) and the syscall table behind each SCMP_ARCH_* name.
 */
import { usageError } from '../errors';
import type { SYSCALL_TABLES } from './syscall-tables';

export type TableName = keyof typeof SYSCALL_TABLES;
/** Hosts this compiler builds filters for (those the exec stage runs on). */
export type HostArch = 'x86_64' | 'aarch64';

/** __X32_SYSCALL_BIT (asm/unistd.h): x32 syscalls arrive as AUDIT_ARCH_X86_64 with this bit set. */
export const X32_SYSCALL_BIT = 0x40000000;

export interface ArchSection {
  /** The SCMP_ARCH_* name. */
  readonly name: string;
  readonly auditArch: number;
  readonly table: TableName;
  /**
   * 32-bit ABIs pass 32-bit arguments: as libseccomp does, only the low word is compared
   * (with the rule's value cut to 32 bits).
   */
  readonly bits: 32 | 64;
}

/** linux/elf-em.h: the ELF machines of the arches we build filters for. */
const EM = { I386: 3, ARM: 40, X86_64: 62, AARCH64: 183 } as const;

/** AUDIT_ARCH_* as linux/audit.h builds it: the ELF machine, __AUDIT_ARCH_64BIT, __AUDIT_ARCH_LE (all ours are little-endian). */
function auditArch(machine: number, bits: 32 | 64): number {
  return (machine | (bits === 64 ? 0x80000000 : 0) | 0x40000000) >>> 0;
}

export const SECTIONS: Readonly<Record<string, ArchSection>> = {
  SCMP_ARCH_X86_64: { name: 'SCMP_ARCH_X86_64', auditArch: auditArch(EM.X86_64, 64), table: 'x86_64', bits: 64 },
  // x32 shares x86_64's audit arch; the compiler tells them apart by X32_SYSCALL_BIT.
  SCMP_ARCH_X32: { name: 'SCMP_ARCH_X32', auditArch: auditArch(EM.X86_64, 64), table: 'x32', bits: 32 },
  SCMP_ARCH_X86: { name: 'SCMP_ARCH_X86', auditArch: auditArch(EM.I386, 32), table: 'i386', bits: 32 },
  SCMP_ARCH_AARCH64: { name: 'SCMP_ARCH_AARCH64', auditArch: auditArch(EM.AARCH64, 64), table: 'aarch64', bits: 64 },
};
export const AUDIT_ARCH_ARM = auditArch(EM.ARM, 32);

/** Every SCMP_ARCH_* name the runtime spec and libseccomp know (NATIVE: podman's, this host's). */
export const KNOWN_ARCHES: readonly string[] = [
  'SCMP_ARCH_NATIVE', 'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32', 'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X', 'SCMP_ARCH_PARISC', 'SCMP_ARCH_PARISC64', 'SCMP_ARCH_RISCV64', 'SCMP_ARCH_LOONGARCH64',
  'SCMP_ARCH_M68K', 'SCMP_ARCH_SH', 'SCMP_ARCH_SHEB',
];

interface HostInfo {
  readonly native: string;
  /** Arches whose syscalls this host's kernel can present besides the native one. */
  readonly compat: readonly string[];
  /** The name docker's and podman's `includes.arches` use (libseccomp's native arch string). */
  readonly profileName: string;
}

export const HOSTS: Readonly<Record<HostArch, HostInfo>> = {
  x86_64: { native: 'SCMP_ARCH_X86_64', compat: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'], profileName: 'amd64' },
  aarch64: { native: 'SCMP_ARCH_AARCH64', compat: ['SCMP_ARCH_ARM'], profileName: 'arm64' },
};

export function hostArch(): HostArch {
  if (process.arch === 'x64') return 'x86_64';
  if (process.arch === 'arm64') return 'aarch64';
  throw usageError(`seccomp: no syscall tables for this architecture (${process.arch})`);
}

export interface ArchPlan {
  /** Sections to compile, the native one first. */
  readonly sections: readonly ArchSection[];
  /** Listed arches this host's kernel never presents: no section can ever match them. */
  readonly ignored: readonly string[];
}

/**
 * Which sections a profile's `architectures` become on `host`. As libseccomp (seccomp_init), the
 * native arch is always filtered, listed or not. A compat arch of this host is its own section;
 * one without a syscall table here (SCMP_ARCH_ARM on aarch64) is refused, since its processes
 * would otherwise escape the rules. Arches this kernel never reports (SCMP_ARCH_S390X on x86_64)
 * are left out: a section for them could never match.
 * @throws NsError EUSAGE naming an unknown or untabled architecture.
 */
export function planArches(architectures: readonly string[] | undefined, host: HostArch): ArchPlan {
  const info = HOSTS[host];
  const wanted = new Set<string>([info.native]);
  const ignored: string[] = [];
  for (const [i, a] of (architectures ?? []).entries()) {
    if (typeof a !== 'string' || !KNOWN_ARCHES.includes(a)) {
      throw usageError(`seccomp profile: architectures[${i}]: unknown architecture ${JSON.stringify(a)}`);
    }
    if (a === info.native || a === 'SCMP_ARCH_NATIVE') continue;
    if (!info.compat.includes(a)) {
      ignored.push(a);
      continue;
    }
    if (!SECTIONS[a]) {
      throw usageError(`seccomp profile: architectures[${i}]: ${a} runs on this ${host} host but there is no syscall table for it`);
    }
    wanted.add(a);
  }
  const order = [info.native, ...info.compat];
  return { sections: order.filter((a) => wanted.has(a)).map((a) => SECTIONS[a]!), ignored };
}
