/**
 * In-child operations: the vocabulary setup steps use to tell the exec stage what to do
 * between clone() and execve(). Plain data, so plans serialise, print and compare in tests.
 */
import { usageError } from '../errors';
import { cloneFlagsOf, type NamespaceKind } from '../kinds';
import { mountFlags, type MountFlag } from '../sys/mount';
import { OPS, PROTOCOL_MAGIC, PROTOCOL_VERSION, MAX_FD_SLOTS, type OpName } from './protocol';
import { constants } from 'node:os';

type Label = { /** Names the step in errors: '--mount-proc', 'uid map'. */ readonly step?: string };

export type ChildOp = Label & (
  | { op: 'setns'; fd: number; kinds: readonly NamespaceKind[]; mode?: 'hard' | 'soft' | 'retry'; slot?: number; path?: string }
  | { op: 'unshare'; kinds: readonly NamespaceKind[] }
  | { op: 'sync' }
  | { op: 'fd-stash'; fd: number; slot: number }
  | { op: 'fd-place'; slot: number; target: number }
  | { op: 'cloexec-from'; fd: number }
  | { op: 'mount'; source?: string; target: string; fstype?: string; flags?: readonly MountFlag[] | number; data?: string }
  | { op: 'umount'; target: string; flags?: number }
  | { op: 'mkdir'; path: string; mode?: number; existOk?: boolean }
  | { op: 'mkfile'; path: string; mode?: number }
  | { op: 'symlink'; target: string; path: string }
  | { op: 'pivot-root'; newRoot: string }
  | { op: 'chroot'; path: string }
  | { op: 'chdir'; path: string }
  | { op: 'fchdir'; fd: number }
  | { op: 'sethostname'; name: string }
  | { op: 'setdomainname'; name: string }
  | { op: 'write-file'; path: string; data: string }
  | { op: 'setgroups'; gids: readonly number[] }
  | { op: 'setgid'; gid: number }
  | { op: 'setuid'; uid: number }
  | { op: 'prctl'; option: number; args?: readonly number[] }
  | { op: 'capset'; effective: bigint; permitted: bigint; inheritable: bigint }
  | { op: 'ambient-all' }
  | { op: 'bounding-keep'; keep: bigint }
  /** initFd: the O_PATH fd of nsx-init the staying half execs into; spawn() fills it in. */
  | { op: 'fork'; init: boolean; forward: readonly NodeJS.Signals[]; privateMemory?: boolean; initFd?: number }
  | { op: 'setsid' }
  /** env 'inherit': the caller's environment as it is at clone time, copied by the exec stage. */
  | { op: 'exec'; paths: readonly string[]; argv: readonly string[]; env: readonly string[] | 'inherit' }
  | { op: 'report-ns'; paths: readonly string[] }
  | { op: 'ignore-signals'; signals: readonly NodeJS.Signals[] }
  | { op: 'mount-fd'; fd: number; target: string; flags?: readonly MountFlag[] | number }
  /**
   * Load a seccomp filter (struct sock_filter[]). `requires` says how the kernel will take it:
   * with no_new_privs set earlier in the plan, or with CAP_SYS_ADMIN still held (compileSpawn
   * places the op accordingly: see placeSeccomp).
   */
  | { op: 'seccomp'; program: Buffer; flags?: number; requires: 'no-new-privs' | 'cap-sys-admin' }
);

export type ChildOpName = ChildOp['op'];

/** A plan as the exec stage runs it: the clone flags and the ordered ops. */
export interface ExecPlan {
  readonly cloneKinds: readonly NamespaceKind[];
  /** Lowest fd the stage may use for its own pipes and stashed fds. */
  readonly fdFloor: number;
  readonly ops: readonly ChildOp[];
}

const opName: Record<ChildOpName, OpName> = {
  'setns': 'SETNS', 'unshare': 'UNSHARE', 'sync': 'SYNC', 'fd-stash': 'FD_STASH', 'fd-place': 'FD_PLACE',
  'cloexec-from': 'CLOEXEC_FROM', 'mount': 'MOUNT', 'umount': 'UMOUNT', 'mkdir': 'MKDIR', 'mkfile': 'MKFILE',
  'symlink': 'SYMLINK', 'pivot-root': 'PIVOT_ROOT', 'chroot': 'CHROOT', 'chdir': 'CHDIR', 'fchdir': 'FCHDIR',
  'sethostname': 'SETHOSTNAME', 'setdomainname': 'SETDOMAINNAME', 'write-file': 'WRITE_FILE',
  'setgroups': 'SETGROUPS', 'setgid': 'SETGID', 'setuid': 'SETUID', 'prctl': 'PRCTL', 'capset': 'CAPSET',
  'ambient-all': 'AMBIENT_ALL', 'bounding-keep': 'BOUNDING_KEEP', 'fork': 'FORK', 'setsid': 'SETSID',
  'exec': 'EXEC', 'mount-fd': 'MOUNT_FD', 'report-ns': 'REPORT_NS', 'ignore-signals': 'IGNORE_SIGNALS',
  'seccomp': 'SECCOMP',
};

/** The path an op acts on, for error messages. */
export function opPath(op: ChildOp): string | undefined {
  switch (op.op) {
    case 'mount': return op.target;
    case 'umount': case 'chroot': case 'chdir': return 'target' in op ? op.target : op.path;
    case 'mkdir': case 'mkfile': case 'write-file': case 'symlink': return op.path;
    case 'pivot-root': return op.newRoot;
    case 'sethostname': case 'setdomainname': return op.name;
    case 'exec': return op.argv[0];
    case 'mount-fd': return op.target;
    case 'setns': return op.path;
    default: return undefined;
  }
}

function signalMask(signals: readonly NodeJS.Signals[]): bigint {
  let mask = 0n;
  for (const s of signals) {
    const n = constants.signals[s];
    if (n === undefined) throw usageError(`unknown signal ${s}`);
    mask |= 1n << BigInt(n - 1);
  }
  return mask;
}

function encodeArgs(op: ChildOp): { args: bigint[]; strings: (string | Buffer)[] } {
  // Plans come from JavaScript callers too: a NaN, fraction or negative number would otherwise
  // leak a RangeError, or wrap (setuid(-1) is the kernel's "leave unchanged").
  const n = (v: number | undefined) => {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) {
      throw usageError(`${op.step ?? op.op}: ${String(v)} is not a whole number of at least 0`);
    }
    return BigInt(v ?? 0);
  };
  switch (op.op) {
    case 'setns': {
      const mode = op.mode === 'soft' ? 1n : op.mode === 'retry' ? 2n : 0n;
      return { args: [n(op.fd), BigInt(cloneFlagsOf(op.kinds)), mode, n(op.slot)], strings: [] };
    }
    case 'unshare': return { args: [BigInt(cloneFlagsOf(op.kinds))], strings: [] };
    case 'sync': case 'ambient-all': case 'setsid': return { args: [], strings: [] };
    case 'fd-stash':
      if (op.slot < 0 || op.slot >= MAX_FD_SLOTS) throw usageError(`too many file descriptors to pass (max ${MAX_FD_SLOTS})`);
      return { args: [n(op.fd), n(op.slot)], strings: [] };
    case 'fd-place': return { args: [n(op.slot), n(op.target)], strings: [] };
    case 'cloexec-from': return { args: [n(op.fd)], strings: [] };
    case 'mount':
      return { args: [BigInt(mountFlags(op.flags ?? 0))],
               strings: [op.source ?? '', op.target, op.fstype ?? '', op.data ?? ''] };
    case 'umount': return { args: [n(op.flags)], strings: [op.target] };
    case 'mkdir': return { args: [n(op.mode ?? 0o755), op.existOk ? 1n : 0n], strings: [op.path] };
    case 'mkfile': return { args: [n(op.mode ?? 0o644)], strings: [op.path] };
    case 'symlink': return { args: [], strings: [op.target, op.path] };
    case 'pivot-root': return { args: [], strings: [op.newRoot] };
    case 'chroot': case 'chdir': return { args: [], strings: [op.path] };
    case 'fchdir': return { args: [n(op.fd)], strings: [] };
    case 'sethostname': case 'setdomainname': return { args: [], strings: [op.name] };
    case 'write-file': return { args: [], strings: [op.path, op.data] };
    case 'setgroups': {
      const gids = Buffer.alloc(op.gids.length * 4);
      op.gids.forEach((g, i) => gids.writeUInt32LE(g, i * 4));
      return { args: [n(op.gids.length)], strings: [gids] };
    }
    case 'setgid': return { args: [n(op.gid)], strings: [] };
    case 'setuid': return { args: [n(op.uid)], strings: [] };
    case 'prctl': return { args: [n(op.option), ...(op.args ?? []).map((a) => n(a))], strings: [] };
    case 'capset': return { args: [op.effective, op.permitted, op.inheritable], strings: [] };
    case 'bounding-keep': return { args: [op.keep], strings: [] };
    case 'fork':
      // Without an fd (a plan encoded outside spawn()), -1: the stage's execveat fails with EBADF
      // and the spawn fails closed, killing the program rather than leaving it without an init.
      return { args: [op.init ? 1n : 0n, signalMask(op.forward), op.privateMemory ? 1n : 0n,
                      op.initFd === undefined ? -1n : n(op.initFd)], strings: [] };
    case 'exec': {
      const env = op.env === 'inherit' ? [] : op.env;
      return { args: [n(op.paths.length), n(op.argv.length), n(env.length), op.env === 'inherit' ? 1n : 0n],
               strings: [...op.paths, ...op.argv, ...env] };
    }
    case 'report-ns': return { args: [], strings: [...op.paths] };
    case 'ignore-signals': return { args: [signalMask(op.signals)], strings: [] };
    case 'mount-fd': return { args: [n(op.fd), BigInt(mountFlags(op.flags ?? 0))], strings: [op.target] };
    case 'seccomp': {
      // BPF_MAXINSNS (linux/bpf_common.h); the exec stage's decoder holds the same bounds.
      const insns = Buffer.isBuffer(op.program) ? op.program.length / 8 : NaN;
      if (!Number.isInteger(insns) || insns < 1 || insns > 4096) {
        throw usageError(`${op.step ?? op.op}: a BPF program is 1 to 4096 instructions of 8 bytes each`);
      }
      return { args: [n(op.flags), BigInt(insns)], strings: [op.program] };
    }
  }
}

/** Serialises a plan into the wire format described in protocol.ts. */
export function encodePlan(plan: ExecPlan): Buffer {
  const chunks: Buffer[] = [];
  const header = Buffer.alloc(24);
  header.writeUInt32LE(PROTOCOL_MAGIC, 0);
  header.writeUInt32LE(PROTOCOL_VERSION, 4);
  header.writeBigUInt64LE(BigInt(cloneFlagsOf(plan.cloneKinds)), 8);
  header.writeUInt32LE(plan.fdFloor, 16);
  header.writeUInt32LE(plan.ops.length, 20);
  chunks.push(header);
  for (const op of plan.ops) {
    const { args, strings } = encodeArgs(op);
    const head = Buffer.alloc(40);
    head.writeUInt32LE(OPS[opName[op.op]].code, 0);
    head.writeUInt32LE(strings.length, 4);
    for (let i = 0; i < 4; i++) head.writeBigUInt64LE(BigInt.asUintN(64, args[i] ?? 0n), 8 + i * 8);
    chunks.push(head);
    for (const s of strings) {
      if (typeof s !== 'string' && !Buffer.isBuffer(s)) {
        throw usageError(`${op.step ?? op.op}: expected text, got ${Array.isArray(s) ? 'a list' : typeof s}: ${JSON.stringify(s)}`);
      }
      const bytes = typeof s === 'string' ? Buffer.from(s) : s;
      if (typeof s === 'string' && bytes.includes(0)) {
        throw usageError(`${op.step ?? op.op}: string contains a NUL byte: ${JSON.stringify(s)}`);
      }
      const len = bytes.length + 1;
      const padded = (len + 3) & ~3;
      const field = Buffer.alloc(4 + padded);
      field.writeUInt32LE(len, 0);
      bytes.copy(field, 4);
      chunks.push(field);
    }
  }
  return Buffer.concat(chunks);
}
