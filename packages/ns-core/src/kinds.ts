/**
 * The one table of namespace kinds. Every package, CLI option, /proc path and message derives
 * from these rows; nothing else in nstools spells a clone flag or a /proc/PID/ns name.
 */

export interface NamespaceKindInfo {
  /** Our name for the kind, as lsns(8) prints it in its TYPE column. */
  readonly kind: string;
  /** CLONE_NEW* bit (linux/sched.h). */
  readonly cloneFlag: number;
  /** Entry under /proc/PID/ns/. */
  readonly procName: string;
  /** Entry naming the namespace children will get, for kinds that apply only to children. */
  readonly forChildren: string | null;
  /** util-linux unshare/nsenter letters. */
  readonly cli: { readonly short: string; readonly long: string };
  /** Name in the OCI runtime spec. */
  readonly ociName: string;
  /** How the exec stage creates it: by clone() flag, or unshare() inside the child. */
  readonly createdBy: 'clone' | 'unshare';
}

export const NAMESPACE_KINDS = [
  // user first: runc and util-linux both keep it first, and ordering helpers rely on finding it.
  { kind: 'user', cloneFlag: 0x10000000, procName: 'user', forChildren: null,
    cli: { short: 'U', long: 'user' }, ociName: 'user', createdBy: 'clone' },
  { kind: 'mnt', cloneFlag: 0x00020000, procName: 'mnt', forChildren: null,
    cli: { short: 'm', long: 'mount' }, ociName: 'mount', createdBy: 'clone' },
  { kind: 'uts', cloneFlag: 0x04000000, procName: 'uts', forChildren: null,
    cli: { short: 'u', long: 'uts' }, ociName: 'uts', createdBy: 'clone' },
  { kind: 'ipc', cloneFlag: 0x08000000, procName: 'ipc', forChildren: null,
    cli: { short: 'i', long: 'ipc' }, ociName: 'ipc', createdBy: 'clone' },
  { kind: 'net', cloneFlag: 0x40000000, procName: 'net', forChildren: null,
    cli: { short: 'n', long: 'net' }, ociName: 'network', createdBy: 'clone' },
  { kind: 'pid', cloneFlag: 0x20000000, procName: 'pid', forChildren: 'pid_for_children',
    cli: { short: 'p', long: 'pid' }, ociName: 'pid', createdBy: 'clone' },
  { kind: 'cgroup', cloneFlag: 0x02000000, procName: 'cgroup', forChildren: null,
    cli: { short: 'C', long: 'cgroup' }, ociName: 'cgroup', createdBy: 'clone' },
  // Legacy clone() reads bit 0x80 as part of the exit signal and ignores CLONE_NEWTIME, so the
  // exec stage unshares it; exec(2) then moves the process into time_for_children (time_namespaces(7)).
  { kind: 'time', cloneFlag: 0x00000080, procName: 'time', forChildren: 'time_for_children',
    cli: { short: 'T', long: 'time' }, ociName: 'time', createdBy: 'unshare' },
] as const satisfies readonly NamespaceKindInfo[];

export type NamespaceKind = (typeof NAMESPACE_KINDS)[number]['kind'];

export const KIND_NAMES: readonly NamespaceKind[] = NAMESPACE_KINDS.map((k) => k.kind);

const byKind = new Map<string, NamespaceKindInfo>(NAMESPACE_KINDS.map((k) => [k.kind, k]));
const byFlag = new Map<number, NamespaceKindInfo>(NAMESPACE_KINDS.map((k) => [k.cloneFlag, k]));

export function isNamespaceKind(name: string): name is NamespaceKind {
  return byKind.has(name);
}

export function kindInfo(kind: NamespaceKind): NamespaceKindInfo {
  return byKind.get(kind)!;
}

/** Kind for a CLONE_NEW* value as returned by the NS_GET_NSTYPE ioctl. */
export function kindFromCloneFlag(flag: number): NamespaceKind | undefined {
  return byFlag.get(flag)?.kind as NamespaceKind | undefined;
}

/** Parses lsns/unshare spellings: 'net', 'network', 'mount', 'mnt'... */
export function parseKind(name: string): NamespaceKind | undefined {
  for (const k of NAMESPACE_KINDS) {
    if (name === k.kind || name === k.cli.long || name === k.ociName || name === k.procName) return k.kind;
  }
  return undefined;
}

export function cloneFlagsOf(kinds: Iterable<NamespaceKind>): number {
  let flags = 0;
  for (const k of kinds) flags |= kindInfo(k).cloneFlag;
  return flags >>> 0;
}

export function kindsOfFlags(flags: number): NamespaceKind[] {
  return NAMESPACE_KINDS.filter((k) => (flags & k.cloneFlag) !== 0).map((k) => k.kind);
}

/** "net,uts" in table order, for messages. */
export function kindsToString(kinds: Iterable<NamespaceKind>): string {
  const set = new Set(kinds);
  return KIND_NAMES.filter((k) => set.has(k)).join(',');
}

/** /proc/PID/ns/NAME, or the for-children entry when asked and the kind has one. */
export function nsProcPath(pid: number | 'self', kind: NamespaceKind, forChildren = false): string {
  const info = kindInfo(kind);
  const name = forChildren && info.forChildren ? info.forChildren : info.procName;
  return `/proc/${pid}/ns/${name}`;
}

/**
 * How a kind's own CLI (ns-uts, ns-mount...) introduces itself: named after the kind's long
 * option, run as `PROG [options] [--] [program...]`, pointing at the kind's man page first and
 * ns-unshare(1), which does every kind at once, last. Each kind package's command spreads it.
 */
export function kindCommand(kind: NamespaceKind, alsoSee: readonly string[] = []): { prog: string; usage: string[]; seeAlso: string[] } {
  const info = kindInfo(kind);
  return {
    prog: `ns-${info.cli.long}`,
    usage: ['[options] [--] [<program> [<argument>...]]'],
    seeAlso: [`${info.ociName}_namespaces(7)`, ...alsoSee, 'ns-unshare(1)'],
  };
}
