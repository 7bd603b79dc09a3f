/**
 * The exec-stage protocol: its only definition. `scripts/gen-protocol-header.js` writes
 * native/protocol.h from this module, and a test fails if the committed header drifts.
 *
 *   Node (TypeScript)                         exec stage (C, in the clone()d child)
 *   plan bytes ── nsx_spawn() ──clone──────▶  decode (already validated by the parent)
 *                                             op, op, ... SYNC ── READY record ──▶ status pipe
 *   parent actions (uid_map, veth, cgroup)
 *   go byte ─────────────────────────────────▶ go pipe ── op, op, ..., EXEC
 *   status pipe EOF (CLOEXEC) ◀───────────────  execve() succeeded
 *   or ERROR record {op, syscall, errno} ◀────  a step failed; the child exits
 *
 * Wire format, little-endian u32 words:
 *   header: MAGIC, VERSION, clone flags, fd floor, op count
 *   op:     opcode, string count, 4 x u64 args (8 words), then each string as
 *           u32 length (including its NUL) + bytes + NUL, padded to 4 bytes.
 */

export const PROTOCOL_MAGIC = 0x3158534e; // 'NSX1'
export const PROTOCOL_VERSION = 1;
export const MAX_OPS = 4096;
export const MAX_STRINGS = 65536;
export const MAX_PLAN_BYTES = 4 << 20;
export const MAX_FD_SLOTS = 64;

/** Operation codes, their string arity (-1: variable) and what they do in the child. */
export const OPS = {
  /** setns(fd=a0, nstype=a1); a2: 0 hard, 1 soft (remember success in slot a3), 2 hard unless slot a3 succeeded. */
  SETNS: { code: 1, strings: 0 },
  /** unshare(a0). */
  UNSHARE: { code: 2, strings: 0 },
  /** Send READY and wait for the parent's go byte. */
  SYNC: { code: 3, strings: 0 },
  /** dup the parent's fd a0 to a slot (a1) at or above the fd floor, close-on-exec. */
  FD_STASH: { code: 4, strings: 0 },
  /** dup2(slot a0, target fd a1), leaving the target inheritable. */
  FD_PLACE: { code: 5, strings: 0 },
  /** close_range(a0, ~0, CLOSE_RANGE_CLOEXEC): no stray fd of Node's reaches the program. */
  CLOEXEC_FROM: { code: 6, strings: 0 },
  /** mount(s0 source, s1 target, s2 fstype, flags=a0, s3 data); "" means NULL. */
  MOUNT: { code: 7, strings: 4 },
  /** umount2(s0, flags=a0). */
  UMOUNT: { code: 8, strings: 1 },
  /** mkdir(s0, mode=a0); a1=1 tolerates EEXIST. */
  MKDIR: { code: 9, strings: 1 },
  /** Create an empty regular file s0 (mode a0) as a bind target; EEXIST is fine. */
  MKFILE: { code: 10, strings: 1 },
  /** symlink(s0 target, s1 linkpath). */
  SYMLINK: { code: 11, strings: 2 },
  /** chdir(s0); pivot_root(".", "."); umount2(".", MNT_DETACH); chdir("/"). */
  PIVOT_ROOT: { code: 12, strings: 1 },
  /** chroot(s0). */
  CHROOT: { code: 13, strings: 1 },
  /** chdir(s0). */
  CHDIR: { code: 14, strings: 1 },
  /** fchdir(a0). */
  FCHDIR: { code: 15, strings: 0 },
  /** sethostname(s0). */
  SETHOSTNAME: { code: 16, strings: 1 },
  /** setdomainname(s0). */
  SETDOMAINNAME: { code: 17, strings: 1 },
  /** open(s0, O_WRONLY) and write s1 in one write(2), as /proc files require. */
  WRITE_FILE: { code: 18, strings: 2 },
  /** setgroups(a0 count, s0 = count little-endian u32 gids). */
  SETGROUPS: { code: 19, strings: 1 },
  /** setresgid(a0, a0, a0). */
  SETGID: { code: 20, strings: 0 },
  /** setresuid(a0, a0, a0). */
  SETUID: { code: 21, strings: 0 },
  /** prctl(a0, a1, a2, a3, 0). */
  PRCTL: { code: 22, strings: 0 },
  /** capset v3: effective a0, permitted a1, inheritable a2 (64-bit masks). */
  CAPSET: { code: 23, strings: 0 },
  /** Raise every permitted capability into the inheritable and ambient sets. */
  AMBIENT_ALL: { code: 24, strings: 0 },
  /** Drop every capability not in mask a0 from the bounding set. */
  BOUNDING_KEEP: { code: 25, strings: 0 },
  /**
   * Clone a grandchild that runs the remaining ops; this process stays behind, forwards the
   * signals in mask a1 (bit n-1 for signal n) and exits as the grandchild did. a0=1: init mode
   * (reap every child, as PID 1 must). a2=1: the grandchild gets a copy-on-write copy of the
   * memory rather than sharing it (needed to join a time namespace). a3: an fd of nsx-init,
   * which the staying half execs into so that it never shares Node's memory with the program.
   * Reports the grandchild's pid in a PID record.
   */
  FORK: { code: 26, strings: 0 },
  /** setsid(). */
  SETSID: { code: 27, strings: 0 },
  /**
   * execve each candidate path in turn (a0 paths, a1 argv, a2 envp strings), like execvpe.
   * a3=1: no envp strings; use the copy of the caller's environ taken at clone time.
   */
  EXEC: { code: 28, strings: -1 },
  /** Bind-mount fd a0 (opened by the parent, e.g. O_PATH) onto s0, via /proc/self/fd. */
  MOUNT_FD: { code: 29, strings: 1 },
  /**
   * stat() each string (a /proc/self/ns path) and send each inode number in an NS_ID record
   * (errno field: the string's index): namespace ids without a round trip. 0 for a missing one.
   */
  REPORT_NS: { code: 30, strings: -1 },
  /**
   * Ignore (SIG_IGN) the signals in mask a0 (bit n-1 for signal n): what the launcher's own
   * caller ignored (nohup), which execve(2) would have passed on had the launcher exec'd in place.
   */
  IGNORE_SIGNALS: { code: 31, strings: 0 },
  /**
   * seccomp(SECCOMP_SET_MODE_FILTER, flags a0, program s0 of a1 struct sock_filter, 8 bytes
   * each, 1..BPF_MAXINSNS), prctl(PR_SET_SECCOMP) where seccomp(2) is missing. flags: TSYNC,
   * LOG, SPEC_ALLOW only (NEW_LISTENER would hand the program a listener fd). The kernel takes
   * a filter only with no_new_privs or CAP_SYS_ADMIN: the plan compiler orders that.
   */
  SECCOMP: { code: 32, strings: 1 },
} as const;

/** Most paths a REPORT_NS op may stat. */
export const MAX_NS_IDS = 16;

export type OpName = keyof typeof OPS;

/** Records the child writes to the status pipe. */
export const RECORD = {
  READY: 1,
  ERROR: 2,
  PID: 3,
  NS_ID: 4,
} as const;
/** type, op index, errno, syscall id, value: five little-endian i32. */
export const RECORD_BYTES = 20;

/** Syscall ids carried in ERROR records, so the parent can name what failed. */
export const SYSCALLS = [
  'none', 'setns', 'unshare', 'read', 'write', 'dup', 'dup2', 'close_range', 'mount', 'umount2',
  'mkdir', 'open', 'symlink', 'chdir', 'pivot_root', 'chroot', 'fchdir', 'sethostname',
  'setdomainname', 'setgroups', 'setresgid', 'setresuid', 'prctl', 'capget', 'capset', 'clone',
  'setsid', 'execve', 'rt_sigaction', 'rt_sigprocmask', 'seccomp',
] as const;
export type SyscallName = (typeof SYSCALLS)[number];

/** Errors nsx_spawn() returns for a plan it refuses before cloning. */
export const DECODE_ERRORS = [
  'ok', 'short', 'magic', 'version', 'too_many_ops', 'bad_opcode', 'string_count',
  'string_length', 'string_nul', 'trailing_bytes', 'no_argv', 'too_large', 'fd_slot', 'too_many_ids',
  // clone flags, setns or unshare flags that are not namespace kinds (CLONE_VFORK, CLONE_SETTLS...)
  'ns_flags',
  // an argument out of its range: setns mode or slot, setgroups count over NGROUPS_MAX
  'bad_argument',
] as const;

/** Exit status of a child that reported an ERROR record before exec. */
export const CHILD_FAILURE_EXIT = 125;
