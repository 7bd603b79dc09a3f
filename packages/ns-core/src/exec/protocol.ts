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
 * The same ops run in place (`nsx`, the executable, exec'd by execInPlace() from Node's main
 * thread with the plan in a sealed memfd): there is no parent to read records, so the stage
 * renders a failure itself (ERRORS, each op's label, and the hints errors.ts gives, which the
 * header generator writes into protocol.h), a helper it forks before any
 * namespace changes does what a parent would do at the sync point (HELPER_FORK, HELPER_SYNC),
 * and INFO writes --info-fd/--json-status-fd.
 *
 * Wire format, little-endian u32 words:
 *   header: MAGIC, VERSION, clone flags (u64), fd floor, op count
 *   op:     opcode, string count, OP_ARGS x u64 args, label mask, 0; then each string as
 *           u32 length (including its NUL) + bytes + NUL, padded to 4 bytes; then one string
 *           per bit of the label mask (LABEL order), in the same form.
 */

export const PROTOCOL_MAGIC = 0x3158534e; // 'NSX1'
export const PROTOCOL_VERSION = 2;
export const MAX_OPS = 4096;
export const MAX_STRINGS = 65536;
export const MAX_PLAN_BYTES = 4 << 20;
export const MAX_FD_SLOTS = 64;
/** u64 arguments per op. */
export const OP_ARGS = 6;
/** Bytes of an op's head: code, string count, the args, the label mask and a zero word. */
export const OP_HEAD_BYTES = 8 + OP_ARGS * 8 + 8;
/** Bytes of a helper's stderr kept for the error message (newuidmap's one line, and more). */
export const MAX_HELPER_OUTPUT = 2048;
/** BIND_NS ops a plan may hold: one per namespace kind, twice over. */
export const MAX_BINDS = 16;
/** Strings a FORK may pass to nsx-init (a supervisor's cleanup words). */
export const MAX_FORK_WORDS = 256;

/**
 * What an op's label holds, one string per bit, in this order: what the error message names
 * (`--mount-proc: mount proc -> /proc failed: ...`). Built by opLabel() in ops.ts, the one
 * source of the wording for TypeScript and C alike.
 */
export const LABEL = { STEP: 1, KINDS: 2, PATH: 4, DEST: 8 } as const;

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
   * Clone a grandchild that runs the remaining ops; this process stays behind as nsx-init
   * (execveat of fd a3, so that it never shares Node's memory with the program), forwards the
   * signals in mask a1 (bit n-1 for signal n), ignores those in mask a2, lets every other
   * signal act by default on itself, and exits as the grandchild did. a0 is FORK_MODE: init
   * reaps every child, as PID 1 must; supervise also takes the words in the strings (see
   * native/init.c: `session`, `signal-as-code`, `report`, `exit-file PATH`, `pty OUT IN`, then the cleanup run once the
   * grandchild is gone: `rmdir PATH`, `unlink PATH`, `rmtree PATH`, `rmcgroup PATH`, `userns FD`,
   * `release STATE ID EXIT`, `left-report PROG`, and last
   * `on-exit ARGV...`), and after a CONSOLE_SOCKET is handed its end (`console FD`). a4 bit 0:
   * the grandchild gets a copy-on-write copy of the memory rather than sharing it (needed to
   * join a time namespace; its own forks then copy that). a5: namespace flags the grandchild is
   * cloned into (supervise: it stays outside them). Reports the grandchild's pid in a PID
   * record; in place, writes INFO.
   */
  FORK: { code: 26, strings: -1 },
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
   * In place: failures are rendered here, one line on (a copy of) fd 2, as `s0: <message>`,
   * and the process exits a0 (setup failed), a1 (execve failed), a2 (execve ENOENT). Comes first.
   */
  ERRORS: { code: 32, strings: 1 },
  /**
   * In place: fork a helper that stays in the original namespaces and runs the a0 ops that
   * follow (HELPER_STAGE, WRITE_FILE, RUN_HELPER, BIND_NS) when told to, as a parent would at
   * the sync point; this process skips them. It is reaped after its last stage; a process of its
   * own then undoes its BIND_NS ops unless this process (or its fork) reaches execve.
   */
  HELPER_FORK: { code: 33, strings: 0 },
  /** Helper ops: wait for the next HELPER_SYNC before running the ops up to the next marker. */
  HELPER_STAGE: { code: 34, strings: 0 },
  /** In place: let the helper run its next stage and wait for it; a failure it reported ends us. a0=1: its last stage (the helper then exits). */
  HELPER_SYNC: { code: 35, strings: 0 },
  /** Helper op: run a program (a0 candidate paths, a1 argv strings) and wait; non-zero is a failure naming its stderr. */
  RUN_HELPER: { code: 36, strings: -1 },
  /** Helper op: bind s0 (a /proc/PID/ns file) onto s1, creating s1 (0444) first if a0=1 and it is missing. */
  BIND_NS: { code: 37, strings: 2 },
  /**
   * In place: --info-fd a0 and --json-status-fd a1 (-1: none). The strings are pairs of a JSON
   * key and where its namespace id comes from (a path to stat now, or the digits). The object,
   * with "child-pid" first, is written at the first FORK (the grandchild's pid) or else at EXEC
   * (our own); a1 then gets {"exit-code":N} from the process that waits.
   */
  INFO: { code: 38, strings: -1 },
  /** Set IFF_UP on interface s0 of the current network namespace (SIOCSIFFLAGS): `lo`. */
  LINK_UP: { code: 39, strings: 1 },
  /**
   * seccomp(SECCOMP_SET_MODE_FILTER, flags a0, program s0 of a1 struct sock_filter, 8 bytes
   * each, 1..BPF_MAXINSNS), prctl(PR_SET_SECCOMP) where seccomp(2) is missing. flags: TSYNC,
   * LOG, SPEC_ALLOW only (NEW_LISTENER would hand the program a listener fd). The kernel takes
   * a filter only with no_new_privs or CAP_SYS_ADMIN: the plan compiler orders that.
   */
  SECCOMP: { code: 40, strings: 1 },
  /** prlimit64(0, resource a0, {soft a1, hard a2}): a container's process.rlimits (2^64-1: unlimited). */
  RLIMIT: { code: 41, strings: 0 },
  /** umask(a0 & 0777): a container's process.user.umask. */
  UMASK: { code: 42, strings: 0 },
  /**
   * runc's exec.fifo: first every fd from the plan's floor up is closed but the status pipe
   * (the caller's files, which clone() copied, must not stay with a parked process); then, unless a1 is -1, write one byte to fd a1 and close it (`create`
   * learns the container is parked and may exit); then open /proc/self/fd/a0 (an O_PATH fd of
   * a fifo, opened before the root changed) for writing, which blocks until `start` opens it
   * for reading, write one byte and close both. What parks a created container before execve.
   */
  EXEC_FIFO: { code: 43, strings: 0 },
  /**
   * OCI maskedPaths, as runc masks them: s0 missing is no error; a directory gets a read-only
   * tmpfs over it, anything else /dev/null bound on it. Decided here, by stat(2), because what
   * exists (under /proc and /sys) is known only inside the container.
   */
  MASK_PATH: { code: 44, strings: 1 },
  /**
   * OCI readonlyPaths: s0 (missing is no error) bound on itself, then remounted read-only with
   * the nosuid/nodev/noexec/atime flags statfs(2) reports kept, since a user namespace may not
   * clear flags its mount inherited locked (mount_namespaces(7)).
   */
  READONLY_PATH: { code: 45, strings: 1 },
  /**
   * mknod(s0, mode a0 (type and permissions), dev a1), then, unless a2 is -1, chown it to
   * a2:a3 without following a link: a container's device node, as runc makes it without a user
   * namespace (which could not: mknod needs CAP_MKNOD in the initial one).
   */
  MKNOD: { code: 46, strings: 1 },
  /**
   * A socket pair (AF_UNIX, SOCK_SEQPACKET, close-on-exec) for a terminal, kept by the stage:
   * the next supervise FORK's staying half hands one end to nsx-init (`console FD`), which
   * receives the program's pty master on it and relays it; the grandchild keeps the other end
   * for TERMINAL. Comes right before that FORK.
   */
  CONSOLE_SOCKET: { code: 60, strings: 0 },
  /**
   * The program's terminal, as runc makes a container's console: setsid(); open s0 (the
   * multiplexer of the root's own devpts, /dev/ptmx) and unlock it; open its peer by fd
   * (TIOCGPTPEER, so no path can be swapped); size it as fd a0 is (-1: leave it 0x0); fchown
   * it to a1:a2 (-1: leave it); make it the controlling terminal (TIOCSCTTY); dup2 it onto 0, 1
   * and 2; then send the master over CONSOLE_SOCKET's end (SCM_RIGHTS) and close both.
   */
  TERMINAL: { code: 61, strings: 1 },
  /**
   * move_mount(fd a0, "", AT_FDCWD, s0, MOVE_MOUNT_F_EMPTY_PATH): attach a detached mount (an
   * open_tree(OPEN_TREE_CLONE) or fsmount() fd the parent made, idmapped there) at s0. Unlike a
   * bind from /proc/self/fd (MOUNT_FD), which mount(2) refuses across mount namespaces, a
   * detached tree belongs to none and may be attached in ours (move_mount(2)).
   */
  MOVE_MOUNT: { code: 62, strings: 1 },
  /**
   * open_tree(s0, OPEN_TREE_CLONE, AT_RECURSIVE if a0 = 1), mount_setattr() of the clone with
   * attr_set a1 and attr_clr a2 (MOUNT_ATTR_* but IDMAP; recursive as the clone is), then
   * move_mount() it onto s1. The clone copies mounts below directories we may not search and
   * sets their flags without a path walk to each, which a bind plus remount per mount cannot.
   */
  BIND_TREE: { code: 63, strings: 2 },
  /**
   * The console's program end is fd a0, a unix socket the caller connected to an engine's
   * console socket (`runc create --console-socket`): the next TERMINAL sends the pty master
   * there (SCM_RIGHTS) and closes it, where CONSOLE_SOCKET's pair would feed nsx-init.
   */
  CONSOLE_FD: { code: 67, strings: 0 },
  /**
   * The next FORK's staying half exits (status 0) as soon as it has reported the program's pid,
   * rather than relaying: the program is an orphan its caller's subreaper adopts, and waits for
   * (runc's exec --detach, whose --pid-file the engine's shim reaps). Comes right before that FORK.
   */
  LEAVE: { code: 68, strings: 0 },
  /**
   * runc's hook point at create (runtime-spec config.md, POSIX-platform hooks): the container's
   * mounts are made and its root is not changed yet. Close fd a2 unless it is -1 (the caller's
   * end of the go pipe, which clone() copied: the caller's exit must be EOF here, not a wait
   * forever), write one byte to fd a0 and close it (the caller runs prestart, createRuntime and
   * createContainer now), then wait for one byte on fd a1 and close it; EOF fails the step.
   */
  HOOK_SYNC: { code: 70, strings: 0 },
  /**
   * The next FORK's child starts in the cgroup v2 directory s0 (opened now): clone3's
   * CLONE_INTO_CGROUP, where moving it by cgroup.procs would take the kernel's global
   * threadgroup lock and wait for an RCU grace period; on a kernel without it (before 5.7) the
   * child writes 0 to s0/cgroup.procs first thing. Comes before that FORK.
   */
  FORK_CGROUP: { code: 71, strings: 1 },
} as const;

/** MOUNT_ATTR_* bits BIND_TREE may set or clear (linux/mount.h): not IDMAP, which needs a user namespace fd. */
export const BIND_TREE_ATTRS = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, NODIRATIME: 0x80, NOSYMFOLLOW: 0x200000,
} as const;

/** FORK's a0: what the staying half does. */
export const FORK_MODE = { RELAY: 0, INIT: 1, SUPERVISE: 2 } as const;

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
  'setsid', 'execve', 'rt_sigaction', 'rt_sigprocmask', 'pipe2', 'wait4', 'socket', 'ioctl', 'socketpair', 'seccomp',
  'sendmsg', 'fchown', 'prlimit64', 'umask', 'stat', 'statfs', 'mknod', 'chown',
  'open_tree', 'mount_setattr', 'move_mount',
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
  // a label mask with unknown bits, or a head's zero word that is not zero
  'bad_label',
  // a helper op outside a HELPER_FORK's range, or a helper range holding anything else
  'helper_range',
] as const;

/** Exit status of a child that reported an ERROR record before exec. */
export const CHILD_FAILURE_EXIT = 125;
