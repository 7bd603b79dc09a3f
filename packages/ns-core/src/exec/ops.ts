/**
 * In-child operations: the vocabulary setup steps use to tell the exec stage what to do
 * between clone() and execve(). Plain data, so plans serialise, print and compare in tests.
 */
import { encodeText } from '../bytes';
import { NsError, usageError } from '../errors';
import { cloneFlagsOf, kindsToString, type NamespaceKind } from '../kinds';
import { mountFlags, type MountFlag } from '../sys/mount';
import {
  BIND_TREE_ATTRS, FORK_MODE, LABEL, OPS, OP_ARGS, OP_HEAD_BYTES, PROTOCOL_MAGIC, PROTOCOL_VERSION, MAX_FD_SLOTS, SYSCALLS, type OpName, type SyscallName,
} from './protocol';
import { constants } from 'node:os';

/** Mount attributes BIND_TREE sets or clears (MOUNT_ATTR_*). */
export type MountAttr = keyof typeof BIND_TREE_ATTRS;

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
  /**
   * initFd: the O_PATH fd of nsx-init the staying half execs into; spawn() and execInPlace()
   * fill it in. `ignore`: signals the staying half ignores (any other it neither forwards nor
   * ignores acts on it by default). `supervise`: the staying half stays outside the namespaces
   * in `cloneKinds`, which the grandchild is cloned into, and runs these cleanup words once the
   * grandchild is gone (see FORK in protocol.ts).
   */
  | { op: 'fork'; init: boolean; forward: readonly NodeJS.Signals[]; ignore?: readonly NodeJS.Signals[]; privateMemory?: boolean;
      initFd?: number; supervise?: readonly string[]; cloneKinds?: readonly NamespaceKind[] }
  | { op: 'setsid' }
  /**
   * env 'inherit': the caller's environment as it is at clone time, copied by the exec stage.
   * `file`: the program as the caller named it, for messages (argv[0] may be a login shell's "-sh").
   */
  | { op: 'exec'; paths: readonly string[]; argv: readonly string[]; env: readonly string[] | 'inherit'; file?: string }
  | { op: 'report-ns'; paths: readonly string[] }
  | { op: 'ignore-signals'; signals: readonly NodeJS.Signals[] }
  | { op: 'mount-fd'; fd: number; target: string; flags?: readonly MountFlag[] | number }
  /** Attach the detached mount `fd` (open_tree(OPEN_TREE_CLONE) or fsmount(), made by the parent) at `target`. */
  | { op: 'move-mount'; fd: number; target: string }
  /**
   * A clone of `source`'s mount tree (every mount below it with `recursive`), with `set` and
   * `clear` applied to each of its mounts while detached, attached at `target`.
   */
  | { op: 'bind-tree'; source: string; target: string; recursive?: boolean; set?: readonly MountAttr[]; clear?: readonly MountAttr[] }
  /** Bring a network interface up (SIOCSIFFLAGS), as `ip link set lo up`. */
  | { op: 'link-up'; name: string }
  // In place only (nsx), see protocol.ts:
  | { op: 'errors'; program: string; exitCodes: ExitCodes }
  | { op: 'helper-fork'; count: number }
  | { op: 'helper-stage' }
  /** `last`: the helper's last stage, after which it exits and is reaped. */
  | { op: 'helper-sync'; last?: boolean }
  /** `fallback`: the message when the program fails without a word on stderr. */
  | { op: 'run-helper'; paths: readonly string[]; argv: readonly string[]; fallback: string }
  | { op: 'bind-ns'; source: string; target: string; create: boolean }
  /** Pairs of a JSON key and where its namespace id comes from: a path to stat, or the id itself. */
  | { op: 'info'; infoFd?: number; statusFd?: number; ids: readonly (readonly [string, string | number])[] }
  /**
   * Load a seccomp filter (struct sock_filter[]). `requires` says how the kernel will take it:
   * with no_new_privs set earlier in the plan, or with CAP_SYS_ADMIN still held (compileSpawn
   * places the op accordingly: see placeSeccomp).
   */
  | { op: 'seccomp'; program: Buffer; flags?: number; requires: 'no-new-privs' | 'cap-sys-admin' }
  /** A console socket for the next supervise fork: nsx-init relays the pty master that comes on it. */
  | { op: 'console-socket' }
  /** The console's program end is this fd (an engine's console socket, connected): TERMINAL sends the master there. */
  | { op: 'console-fd'; fd: number }
  /** The next fork's staying half exits once the program's pid is reported: the program is adopted by the caller's subreaper. */
  | { op: 'leave' }
  /**
   * The program's terminal (a pty of `ptmx`, its root's multiplexer), sized as fd `sizeFrom`,
   * owned by `owner` (ids as the process sees them), its master sent to the supervisor.
   */
  | { op: 'terminal'; ptmx: string; sizeFrom?: number; owner?: { readonly uid: number; readonly gid: number } }
  /** setrlimit of resource number `resource` (RLIMIT_NOFILE is 7); 2n ** 64n - 1n is RLIM_INFINITY. */
  | { op: 'rlimit'; resource: number; soft: bigint; hard: bigint }
  | { op: 'umask'; mask: number }
  /** Park until the fifo whose O_PATH fd is `fd` is opened for reading (runc's exec.fifo), first telling fd `ready` (see protocol.ts). */
  | { op: 'exec-fifo'; fd: number; ready?: number }
  | { op: 'mask-path'; path: string }
  | { op: 'readonly-path'; path: string }
  /** `mode`: S_IFCHR/S_IFBLK/S_IFIFO with the permissions; `dev`: makedev(major, minor). */
  | { op: 'mknod'; path: string; mode: number; dev: bigint; owner?: { readonly uid: number; readonly gid: number } }
  /** Tell fd `ready` the mounts are made, wait for a byte on fd `go`; `callerGo`: the caller's own end of that pipe, closed first (see protocol.ts). */
  | { op: 'hook-sync'; ready: number; go: number; callerGo?: number }
  | { op: 'fork-cgroup'; path: string }
);

/** The exit codes a CLI ends with when the program cannot start (util-linux: 1, 126, 127; ns-run: 125, 126, 127). */
export interface ExitCodes {
  /** A setup step failed. */
  readonly failure: number;
  /** execve() failed, but for ENOENT. */
  readonly cannotExecute: number;
  /** execve() found no such program (ENOENT). */
  readonly notFound: number;
}

export type ChildOpName = ChildOp['op'];

/** A plan as the exec stage runs it: the clone flags and the ordered ops. */
export interface ExecPlan {
  readonly cloneKinds: readonly NamespaceKind[];
  /** Lowest fd the stage may use for its own pipes and stashed fds. */
  readonly fdFloor: number;
  readonly ops: readonly ChildOp[];
  /** Encode each op's label: the stage renders its own errors (in place). */
  readonly labels?: boolean;
}

const opName: Record<ChildOpName, OpName> = {
  'setns': 'SETNS', 'unshare': 'UNSHARE', 'sync': 'SYNC', 'fd-stash': 'FD_STASH', 'fd-place': 'FD_PLACE',
  'cloexec-from': 'CLOEXEC_FROM', 'mount': 'MOUNT', 'umount': 'UMOUNT', 'mkdir': 'MKDIR', 'mkfile': 'MKFILE',
  'symlink': 'SYMLINK', 'pivot-root': 'PIVOT_ROOT', 'chroot': 'CHROOT', 'chdir': 'CHDIR', 'fchdir': 'FCHDIR',
  'sethostname': 'SETHOSTNAME', 'setdomainname': 'SETDOMAINNAME', 'write-file': 'WRITE_FILE',
  'setgroups': 'SETGROUPS', 'setgid': 'SETGID', 'setuid': 'SETUID', 'prctl': 'PRCTL', 'capset': 'CAPSET',
  'ambient-all': 'AMBIENT_ALL', 'bounding-keep': 'BOUNDING_KEEP', 'fork': 'FORK', 'setsid': 'SETSID',
  'exec': 'EXEC', 'mount-fd': 'MOUNT_FD', 'report-ns': 'REPORT_NS', 'ignore-signals': 'IGNORE_SIGNALS',
  'link-up': 'LINK_UP', 'errors': 'ERRORS', 'helper-fork': 'HELPER_FORK', 'helper-stage': 'HELPER_STAGE',
  'helper-sync': 'HELPER_SYNC', 'run-helper': 'RUN_HELPER', 'bind-ns': 'BIND_NS', 'info': 'INFO',
  'seccomp': 'SECCOMP', 'console-socket': 'CONSOLE_SOCKET', 'console-fd': 'CONSOLE_FD', 'leave': 'LEAVE', 'terminal': 'TERMINAL',
  'rlimit': 'RLIMIT', 'umask': 'UMASK', 'exec-fifo': 'EXEC_FIFO', 'mask-path': 'MASK_PATH', 'readonly-path': 'READONLY_PATH',
  'mknod': 'MKNOD', 'move-mount': 'MOVE_MOUNT', 'bind-tree': 'BIND_TREE', 'hook-sync': 'HOOK_SYNC', 'fork-cgroup': 'FORK_CGROUP',
};

/** The path an op acts on, for error messages. */
export function opPath(op: ChildOp): string | undefined {
  switch (op.op) {
    case 'mount': return op.target;
    case 'umount': case 'chroot': case 'chdir': return 'target' in op ? op.target : op.path;
    case 'mkdir': case 'mkfile': case 'write-file': case 'symlink': case 'mask-path': case 'readonly-path': case 'mknod': case 'fork-cgroup': return op.path;
    case 'pivot-root': return op.newRoot;
    case 'sethostname': case 'setdomainname': return op.name;
    case 'exec': return op.file ?? op.argv[0];
    case 'mount-fd': case 'move-mount': case 'bind-tree': return op.target;
    case 'setns': return op.path;
    case 'link-up': return op.name;
    case 'terminal': return op.ptmx;
    default: return undefined;
  }
}

/** What a failure of an op names: the fields of the NsError, and of the line the stage prints in place. */
export interface OpLabel {
  readonly step?: string;
  readonly namespaces?: readonly NamespaceKind[];
  readonly path?: string;
  readonly dest?: string;
}

/**
 * The one source of what an op's failure says, for childError() (records from the library
 * stage) and for the labels nsx prints from. `syscall`: which of the op's calls failed (a
 * BIND_NS that could not create its file names the file alone, as persistNamespace() does).
 */
export function opLabel(op: ChildOp, syscall?: SyscallName): OpLabel {
  const path = opPath(op);
  const where = (op.op === 'mount' && op.source) || op.op === 'bind-tree' ? { path: op.source!, dest: op.target }
    : op.op === 'bind-ns' ? (syscall === 'open' ? { path: op.target } : { path: op.source, dest: op.target })
      : op.op === 'run-helper' ? { path: op.argv[0]!, dest: op.fallback }
        : path !== undefined ? { path } : {};
  return {
    ...(op.step ? { step: op.step } : {}),
    ...(op.op === 'setns' || op.op === 'unshare' ? { namespaces: op.kinds } : {}),
    ...where,
  };
}

/**
 * The error a failed op reports: an ERROR record from the library stage, or (for the test that
 * holds nsx to it) what the in-place stage prints. `text`: a helper program's stderr, when it
 * ran and failed (RUN_HELPER), worded as spawn()'s runParentAction() words it.
 */
export function opError(ops: readonly ChildOp[], opIndex: number, errno: number, syscallId: number, text?: string): NsError {
  const op = ops[opIndex];
  const syscall = SYSCALLS[syscallId];
  const label = op ? opLabel(op, syscall) : {};
  if (text !== undefined) {
    return new NsError({ errno: 0, code: 'EHELPER', ...label, syscall: 'exec',
                         message: `${label.step ? `${label.step}: ` : ''}${label.path ?? 'helper'} failed: ${text}` });
  }
  return new NsError({ errno, syscall: syscall ?? `syscall ${syscallId}`, ...label });
}

/** RLIM_INFINITY: (rlim_t)-1. */
export const RLIM_INFINITY = (1n << 64n) - 1n;

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
    case 'sync': case 'ambient-all': case 'setsid': case 'console-socket': case 'leave': return { args: [], strings: [] };
    case 'terminal': {
      const none = -1n;
      return { args: [op.sizeFrom === undefined ? none : n(op.sizeFrom), op.owner ? n(op.owner.uid) : none, op.owner ? n(op.owner.gid) : none],
               strings: [op.ptmx] };
    }
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
    case 'fork': {
      // Without an fd (a plan encoded outside spawn()), -1: the stage's execveat fails with EBADF
      // and the spawn fails closed, killing the program rather than leaving it without an init.
      const mode = op.supervise ? FORK_MODE.SUPERVISE : op.init ? FORK_MODE.INIT : FORK_MODE.RELAY;
      return { args: [BigInt(mode), signalMask(op.forward), signalMask(op.ignore ?? []),
                      op.initFd === undefined ? -1n : n(op.initFd), op.privateMemory ? 1n : 0n,
                      BigInt(cloneFlagsOf(op.cloneKinds ?? []))], strings: [...(op.supervise ?? [])] };
    }
    case 'exec': {
      const env = op.env === 'inherit' ? [] : op.env;
      return { args: [n(op.paths.length), n(op.argv.length), n(env.length), op.env === 'inherit' ? 1n : 0n],
               strings: [...op.paths, ...op.argv, ...env] };
    }
    case 'report-ns': return { args: [], strings: [...op.paths] };
    case 'ignore-signals': return { args: [signalMask(op.signals)], strings: [] };
    case 'mount-fd': return { args: [n(op.fd), BigInt(mountFlags(op.flags ?? 0))], strings: [op.target] };
    case 'link-up': return { args: [], strings: [op.name] };
    case 'move-mount': return { args: [n(op.fd)], strings: [op.target] };
    case 'bind-tree': {
      const attrs = (names: readonly MountAttr[] | undefined) => (names ?? []).reduce((mask, name) => {
        const bit = BIND_TREE_ATTRS[name];
        if (bit === undefined) throw usageError(`${op.step ?? op.op}: ${String(name)} is not a mount attribute (${Object.keys(BIND_TREE_ATTRS).join(', ')})`);
        return mask | BigInt(bit);
      }, 0n);
      const set = attrs(op.set);
      const clear = attrs(op.clear);
      if (set & clear) throw usageError(`${op.step ?? op.op}: a mount attribute both set and cleared`);
      return { args: [op.recursive ? 1n : 0n, set, clear], strings: [op.source, op.target] };
    }
    case 'rlimit': {
      const limit = (v: bigint) => {
        if (typeof v !== 'bigint' || v < 0n || v > RLIM_INFINITY) throw usageError(`${op.step ?? op.op}: ${String(v)} is not a resource limit`);
        return v;
      };
      if (limit(op.soft) > limit(op.hard)) throw usageError(`${op.step ?? op.op}: soft limit ${op.soft} is above the hard limit ${op.hard}`);
      return { args: [n(op.resource), op.soft, op.hard], strings: [] };
    }
    case 'umask': return { args: [n(op.mask)], strings: [] };
    case 'console-fd': return { args: [n(op.fd)], strings: [] };
    case 'exec-fifo': return { args: [n(op.fd), op.ready === undefined ? -1n : n(op.ready)], strings: [] };
    case 'hook-sync': return { args: [n(op.ready), n(op.go), op.callerGo === undefined ? -1n : n(op.callerGo)], strings: [] };
    case 'mask-path': case 'readonly-path': case 'fork-cgroup': return { args: [], strings: [op.path] };
    case 'mknod': {
      if (op.dev < 0n || op.dev >= 1n << 64n) throw usageError(`${op.step ?? op.op}: ${op.dev} is not a device number`);
      return { args: [n(op.mode), op.dev, op.owner ? n(op.owner.uid) : -1n, op.owner ? n(op.owner.gid) : -1n], strings: [op.path] };
    }
    case 'errors': {
      const { failure, cannotExecute, notFound } = op.exitCodes;
      return { args: [n(failure), n(cannotExecute), n(notFound)], strings: [op.program] };
    }
    case 'helper-fork': return { args: [n(op.count)], strings: [] };
    case 'helper-stage': return { args: [], strings: [] };
    case 'helper-sync': return { args: [op.last ? 1n : 0n], strings: [] };
    case 'run-helper': return { args: [n(op.paths.length), n(op.argv.length)], strings: [...op.paths, ...op.argv] };
    case 'bind-ns': return { args: [op.create ? 1n : 0n], strings: [op.source, op.target] };
    case 'info': {
      const fd = (v: number | undefined) => (v === undefined ? -1n : n(v));
      return { args: [fd(op.infoFd), fd(op.statusFd)], strings: op.ids.flatMap(([key, source]) => [key, String(source)]) };
    }
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

/** The label strings of an op, in LABEL order, and their mask. */
function labelStrings(op: ChildOp): { mask: number; strings: string[] } {
  const label = opLabel(op);
  const parts: [number, string | undefined][] = [
    [LABEL.STEP, label.step],
    [LABEL.KINDS, label.namespaces?.length ? kindsToString(label.namespaces) : undefined],
    [LABEL.PATH, label.path], [LABEL.DEST, label.dest],
  ];
  const present = parts.filter((p): p is [number, string] => p[1] !== undefined);
  return { mask: present.reduce((m, [bit]) => m | bit, 0), strings: present.map(([, text]) => text) };
}

/** Fork ops get an fd of nsx-init, a runtime resource the pure compiler does not know. */
export function withInitFd(plan: ExecPlan, initFd: number | undefined): ExecPlan {
  if (initFd === undefined) return plan;
  return { ...plan, ops: plan.ops.map((o) => (o.op === 'fork' ? { ...o, initFd } : o)) };
}

/** Serialises a plan into the wire format described in protocol.ts. */
export function encodePlan(plan: ExecPlan): Buffer {
  // Measured first, then written into one zeroed buffer: a CLI encodes its one plan cold, and a
  // Buffer per string, per op head and a concat of them all was ~1 ms of its start-up.
  const encoded = plan.ops.map((op) => {
    const { args, strings } = encodeArgs(op);
    const label = plan.labels ? labelStrings(op) : { mask: 0, strings: [] };
    const fields = [...strings, ...label.strings].map((s) => {
      if (typeof s !== 'string' && !Buffer.isBuffer(s)) {
        throw usageError(`${op.step ?? op.op}: expected text, got ${Array.isArray(s) ? 'a list' : typeof s}: ${JSON.stringify(s)}`);
      }
      // On the text: an escaped byte (bytes.ts) is never NUL, and Buffer's search costs more.
      if (typeof s === 'string' && s.includes('\0')) {
        throw usageError(`${op.step ?? op.op}: string contains a NUL byte: ${JSON.stringify(s)}`);
      }
      return typeof s === 'string' ? encodeText(s) : s;
    });
    return { op, args, strings, mask: label.mask, fields };
  });
  // Each string: its length with the NUL, then the bytes, the NUL and zeros to a 4-byte boundary.
  const fieldBytes = (bytes: Buffer) => 4 + ((bytes.length + 1 + 3) & ~3);
  let total = 24;
  for (const e of encoded) {
    total += OP_HEAD_BYTES;
    for (const f of e.fields) total += fieldBytes(f);
  }
  const out = Buffer.alloc(total);
  // A DataView writes without Buffer's per-call range and integer checks (~0.3 ms of a CLI's
  // one cold encode); the sizes were all measured above.
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(0, PROTOCOL_MAGIC, true);
  view.setUint32(4, PROTOCOL_VERSION, true);
  view.setBigUint64(8, BigInt(cloneFlagsOf(plan.cloneKinds)), true);
  view.setUint32(16, plan.fdFloor, true);
  view.setUint32(20, plan.ops.length, true);
  let at = 24;
  for (const e of encoded) {
    view.setUint32(at, OPS[opName[e.op.op]].code, true);
    view.setUint32(at + 4, e.strings.length, true);
    for (let i = 0; i < OP_ARGS && i < e.args.length; i++) view.setBigUint64(at + 8 + i * 8, BigInt.asUintN(64, e.args[i]!), true);
    view.setUint32(at + 8 + OP_ARGS * 8, e.mask, true);
    at += OP_HEAD_BYTES;
    for (const f of e.fields) {
      view.setUint32(at, f.length + 1, true);
      out.set(f, at + 4);
      at += fieldBytes(f);
    }
  }
  return out;
}
