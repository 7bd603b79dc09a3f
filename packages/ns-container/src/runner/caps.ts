/**
 * Capabilities by name (capabilities(7), linux/capability.h numbering) and the set a
 * container keeps, as Docker's default profile does.
 */
import { usageError } from 'ns-core';

/** Index = capability number. */
export const CAPABILITY_NAMES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
] as const;

export type CapabilityName = (typeof CAPABILITY_NAMES)[number];

/**
 * What a container's root keeps by default: Docker's (moby oci/caps/defaults.go) set, enough
 * for package managers and daemons that drop privileges, without mount, ptrace, module,
 * raw-I/O or network-admin powers.
 */
export const DEFAULT_CAPABILITIES: readonly CapabilityName[] = [
  'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP',
  'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
];

const ALL = (1n << BigInt(CAPABILITY_NAMES.length)) - 1n;

/** 'net_admin', 'CAP_NET_ADMIN' or 'ALL' as a bit mask. @throws NsError EUSAGE naming the option. */
export function capabilityMask(option: string, name: string): bigint {
  const upper = name.trim().toUpperCase().replace(/^CAP_/, '');
  if (upper === 'ALL') return ALL;
  const index = (CAPABILITY_NAMES as readonly string[]).indexOf(upper);
  if (index < 0) throw usageError(`${option}: unknown capability '${name}'`);
  return 1n << BigInt(index);
}

export function maskOf(names: readonly string[], option = 'capabilities'): bigint {
  return names.reduce((mask, n) => mask | capabilityMask(option, n), 0n);
}

/** Names of the bits set in mask, in capability order. */
export function namesOf(mask: bigint): CapabilityName[] {
  return CAPABILITY_NAMES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

/** Docker's rule: drops apply after adds, so `--cap-add ALL --cap-drop X` is everything but X. */
export function keptCapabilities(add: readonly string[] = [], drop: readonly string[] = []): bigint {
  return (maskOf(DEFAULT_CAPABILITIES) | maskOf(add, '--cap-add')) & ~maskOf(drop, '--cap-drop');
}
