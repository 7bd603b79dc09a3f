/**
 * nstools' default seccomp profile: an allow list, everything else EPERM, in the profile-file
 * shape docker and podman use so that `includes`/`excludes` give a container with more
 * capabilities the syscalls those capabilities exist for (resolveProfile).
 *
 * Behaviour follows docker's default (moby profiles/seccomp), with these choices of our own:
 *  - io_uring is refused, as moby does since 25.0: its operations run in kernel threads that
 *    no seccomp filter sees, and it has been a steady source of kernel exploits;
 *  - unshare() is allowed without namespace flags (CLONE_FS, CLONE_FILES, CLONE_SYSVSEM are
 *    harmless); with any CLONE_NEW* flag it needs CAP_SYS_ADMIN, where docker refuses unshare
 *    altogether;
 *  - syscalls newer than docker's list whose older forms it allows (fchmodat2, futex_wake/wait/
 *    requeue, cachestat, *xattrat, file_getattr/setattr, statmount/listmount, mseal,
 *    map_shadow_stack) are allowed; open_tree_attr goes with the mount API under CAP_SYS_ADMIN;
 *  - pivot_root is given with CAP_SYS_ADMIN along with mount (docker never allows it).
 * Issue 18 is why: without a filter a container made nested user namespaces to reach other
 * containers' cgroups, used up the host-wide key quota with add_key, and reached io_uring and
 * perf_event_open.
 */
import type { LinuxSeccomp, ProfileSyscall, ResolveOptions, SeccompProfile } from './profile';
import { constantProfile, resolveProfile } from './profile';

const ENOSYS = 38;

/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (linux/sched.h). */
const CLONE_NEW_FLAGS = 0x7e020000;
/** ... and CLONE_NEWTIME, which unshare() takes but clone() cannot (its bit is in the exit signal byte). */
const UNSHARE_NEW_FLAGS = CLONE_NEW_FLAGS | 0x00000080;
const AF_VSOCK = 40;

/** Allowed for every container. Names an arch lacks are skipped per arch by the compiler. */
const ALLOWED: readonly string[] = [
  // files and directories
  'access', 'chdir', 'chmod', 'chown', 'chown32', 'close', 'close_range', 'copy_file_range', 'creat', 'dup', 'dup2',
  'dup3', 'faccessat', 'faccessat2', 'fadvise64', 'fadvise64_64', 'fallocate', 'fchdir', 'fchmod', 'fchmodat',
  'fchmodat2', 'fchown', 'fchown32', 'fchownat', 'fcntl', 'fcntl64', 'fdatasync', 'file_getattr', 'file_setattr',
  'flock', 'fstat', 'fstat64', 'fstatat64', 'fstatfs', 'fstatfs64', 'fsync', 'ftruncate', 'ftruncate64', 'futimesat',
  'getcwd', 'getdents', 'getdents64', 'lchown', 'lchown32', 'link', 'linkat', '_llseek', 'lseek', 'lstat', 'lstat64',
  'mkdir', 'mkdirat', 'mknod', 'mknodat', 'name_to_handle_at', 'newfstatat', 'open', 'openat', 'openat2', 'pread64',
  'preadv', 'preadv2', 'pwrite64', 'pwritev', 'pwritev2', 'read', 'readahead', 'readlink', 'readlinkat', 'readv',
  'rename', 'renameat', 'renameat2', 'rmdir', 'sendfile', 'sendfile64', 'splice', 'stat', 'stat64', 'statfs',
  'statfs64', 'statx', 'symlink', 'symlinkat', 'sync', 'sync_file_range', 'syncfs', 'tee', 'truncate', 'truncate64',
  'umask', 'unlink', 'unlinkat', 'utime', 'utimensat', 'utimensat_time64', 'utimes', 'vmsplice', 'write', 'writev',
  'statmount', 'listmount',
  // extended attributes
  'fgetxattr', 'flistxattr', 'fremovexattr', 'fsetxattr', 'getxattr', 'getxattrat', 'lgetxattr', 'listxattr',
  'listxattrat', 'llistxattr', 'lremovexattr', 'lsetxattr', 'removexattr', 'removexattrat', 'setxattr', 'setxattrat',
  // pipes, file notification, event fds, polling
  'pipe', 'pipe2', 'cachestat',
  'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_pwait', 'epoll_pwait2', 'epoll_wait',
  'epoll_wait_old', 'eventfd', 'eventfd2', 'fanotify_mark', 'inotify_add_watch', 'inotify_init', 'inotify_init1',
  'inotify_rm_watch', '_newselect', 'poll', 'ppoll', 'ppoll_time64', 'pselect6', 'pselect6_time64', 'select',
  'signalfd', 'signalfd4', 'timerfd_create', 'timerfd_gettime', 'timerfd_gettime64', 'timerfd_settime',
  'timerfd_settime64',
  // asynchronous I/O (not io_uring)
  'io_cancel', 'io_destroy', 'io_getevents', 'io_pgetevents', 'io_pgetevents_time64', 'io_setup', 'io_submit',
  'ioctl', 'ioprio_get', 'ioprio_set',
  // memory
  'brk', 'madvise', 'map_shadow_stack', 'membarrier', 'memfd_create', 'memfd_secret', 'mincore', 'mlock', 'mlock2',
  'mlockall', 'mmap', 'mmap2', 'mprotect', 'mremap', 'mseal', 'msync', 'munlock', 'munlockall', 'munmap',
  'pkey_alloc', 'pkey_free', 'pkey_mprotect', 'remap_file_pages',
  // processes, threads, scheduling
  'arch_prctl', 'capget', 'capset', 'execve', 'execveat', 'exit', 'exit_group', 'fork', 'futex', 'futex_requeue',
  'futex_time64', 'futex_wait', 'futex_waitv', 'futex_wake', 'get_robust_list', 'get_thread_area', 'getcpu',
  'getpgid', 'getpgrp', 'getpid', 'getppid', 'getpriority', 'getrlimit', 'getrusage', 'getsid', 'gettid',
  'modify_ldt', 'pidfd_open', 'pidfd_send_signal', 'prctl', 'prlimit64', 'process_mrelease', 'restart_syscall',
  'rseq', 'sched_get_priority_max', 'sched_get_priority_min', 'sched_getaffinity', 'sched_getattr',
  'sched_getparam', 'sched_getscheduler', 'sched_rr_get_interval', 'sched_rr_get_interval_time64',
  'sched_setaffinity', 'sched_setattr', 'sched_setparam', 'sched_setscheduler', 'sched_yield', 'seccomp',
  'set_robust_list', 'set_thread_area', 'set_tid_address', 'setpgid', 'setpriority', 'setrlimit', 'setsid',
  'ugetrlimit', 'vfork', 'wait4', 'waitid', 'waitpid', 'landlock_add_rule', 'landlock_create_ruleset',
  'landlock_restrict_self', 'lsm_get_self_attr', 'lsm_list_modules',
  // credentials (the kernel checks capabilities; the filter does not need to)
  'getegid', 'getegid32', 'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getgroups', 'getgroups32', 'getresgid',
  'getresgid32', 'getresuid', 'getresuid32', 'getuid', 'getuid32', 'setfsgid', 'setfsgid32', 'setfsuid',
  'setfsuid32', 'setgid', 'setgid32', 'setgroups', 'setgroups32', 'setregid', 'setregid32', 'setresgid',
  'setresgid32', 'setresuid', 'setresuid32', 'setreuid', 'setreuid32', 'setuid', 'setuid32',
  // signals
  'alarm', 'kill', 'pause', 'rt_sigaction', 'rt_sigpending', 'rt_sigprocmask', 'rt_sigqueueinfo', 'rt_sigreturn',
  'rt_sigsuspend', 'rt_sigtimedwait', 'rt_sigtimedwait_time64', 'rt_tgsigqueueinfo', 'sigaction', 'sigaltstack',
  'signal', 'sigpending', 'sigprocmask', 'sigreturn', 'sigsuspend', 'tgkill', 'tkill',
  // time (reading, sleeping, timers; setting the clock needs CAP_SYS_TIME below)
  'adjtimex', 'clock_adjtime', 'clock_adjtime64', 'clock_getres', 'clock_getres_time64', 'clock_gettime',
  'clock_gettime64', 'clock_nanosleep', 'clock_nanosleep_time64', 'getitimer', 'gettimeofday', 'nanosleep',
  'setitimer', 'time', 'timer_create', 'timer_delete', 'timer_getoverrun', 'timer_gettime', 'timer_gettime64',
  'timer_settime', 'timer_settime64', 'times',
  // sockets (socket() itself below), System V and POSIX IPC
  'accept', 'accept4', 'bind', 'connect', 'getpeername', 'getsockname', 'getsockopt', 'listen', 'recvfrom',
  'recvmmsg', 'recvmmsg_time64', 'recvmsg', 'sendmmsg', 'sendmsg', 'sendto', 'setsockopt', 'shutdown',
  'socketcall', 'socketpair', 'ipc', 'mq_getsetattr', 'mq_notify', 'mq_open', 'mq_timedreceive',
  'mq_timedreceive_time64', 'mq_timedsend', 'mq_timedsend_time64', 'mq_unlink', 'msgctl', 'msgget', 'msgrcv',
  'msgsnd', 'semctl', 'semget', 'semop', 'semtimedop', 'semtimedop_time64', 'shmat', 'shmctl', 'shmdt', 'shmget',
  // system information
  'getrandom', 'sysinfo', 'uname',
];

/** What each capability adds, as docker gives it (and pivot_root, open_tree_attr with CAP_SYS_ADMIN). */
const BY_CAPABILITY: Readonly<Record<string, readonly string[]>> = {
  CAP_SYS_ADMIN: [
    'bpf', 'clone', 'clone3', 'fanotify_init', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'lookup_dcookie', 'mount',
    'mount_setattr', 'move_mount', 'open_tree', 'open_tree_attr', 'perf_event_open', 'pivot_root', 'quotactl',
    'quotactl_fd', 'setdomainname', 'sethostname', 'setns', 'syslog', 'umount', 'umount2', 'unshare',
  ],
  CAP_SYS_BOOT: ['reboot'],
  CAP_SYS_CHROOT: ['chroot'],
  CAP_SYS_MODULE: ['delete_module', 'finit_module', 'init_module'],
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_PTRACE: ['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev', 'ptrace'],
  CAP_SYS_RAWIO: ['ioperm', 'iopl'],
  CAP_SYS_TIME: ['clock_settime', 'clock_settime64', 'settimeofday', 'stime'],
  CAP_SYS_TTY_CONFIG: ['vhangup'],
  CAP_SYS_NICE: ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node'],
  CAP_SYSLOG: ['syslog'],
  CAP_BPF: ['bpf'],
  CAP_PERFMON: ['perf_event_open'],
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
};

/**
 * Known syscalls no capability gives back, with why; they get the default EPERM. Listed so that
 * a test can tell every syscall in the tables was decided on (a regenerated table with a new
 * syscall fails it until someone classifies the newcomer).
 */
export const REFUSED: Readonly<Record<string, readonly string[]>> = {
  'kernel keyrings are not namespaced: one container can use up the quota of all (issue 18)': ['add_key', 'keyctl', 'request_key'],
  'io_uring: operations no seccomp filter sees, a large attack surface': ['io_uring_enter', 'io_uring_register', 'io_uring_setup'],
  'userfaultfd: lets a process stall kernel code at will, an exploitation aid': ['userfaultfd'],
  'host-wide: loading a kernel, swap': ['kexec_file_load', 'kexec_load', 'swapoff', 'swapon'],
  'NUMA moves of other processes\' pages': ['migrate_pages', 'move_pages'],
  'setting LSM attributes': ['lsm_set_self_attr'],
  'obsolete, unimplemented or i386-only relics docker refuses too': [
    '_sysctl', 'afs_syscall', 'bdflush', 'break', 'create_module', 'ftime', 'get_kernel_syms', 'getpmsg', 'gtty',
    'idle', 'lock', 'mpx', 'nfsservctl', 'nice', 'oldfstat', 'oldlstat', 'oldolduname', 'oldstat', 'olduname', 'prof',
    'profil', 'putpmsg', 'query_module', 'readdir', 'security', 'sgetmask', 'ssetmask', 'stty', 'sysfs', 'tuxcall',
    'ulimit', 'uselib', 'ustat', 'vm86', 'vm86old', 'vserver',
  ],
};

/** Syscalls whose rules depend on their arguments (or on the kernel), listed for the same test. */
export const CONDITIONAL: readonly string[] = ['clone', 'clone3', 'personality', 'socket', 'unshare', 'ptrace', 'process_vm_readv', 'process_vm_writev'];

function withCap(cap: string, names: readonly string[]): ProfileSyscall {
  return { names, action: 'SCMP_ACT_ALLOW', includes: { caps: [cap] } };
}

/** The profile as data, in docker's profile-file shape (frozen: compileCached knows it by identity). */
export const DEFAULT_PROFILE: SeccompProfile = constantProfile({
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 1,
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: [] },
  ],
  syscalls: [
    { names: ALLOWED, action: 'SCMP_ACT_ALLOW' },
    // ptrace can no longer be used to dodge seccomp since 4.8, which re-checks after the tracer
    // changes a syscall (docker's reason for allowing it from then on).
    { names: ['process_vm_readv', 'process_vm_writev', 'ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } },
    { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] },
    // The execution domains programs set (PER_LINUX, PER_LINUX32, UNAME26 and both), and the query.
    ...[0x0, 0x8, 0x20000, 0x20008, 0xffffffff].map((v): ProfileSyscall => (
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: v, op: 'SCMP_CMP_EQ' }] })),
    { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: CLONE_NEW_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      excludes: { caps: ['CAP_SYS_ADMIN'] } },
    { names: ['unshare'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: UNSHARE_NEW_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      excludes: { caps: ['CAP_SYS_ADMIN'] } },
    // clone3 takes its flags in memory, which a filter cannot read: ENOSYS makes glibc fall back
    // to clone(), whose flags the rule above checks (docker does the same).
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS, excludes: { caps: ['CAP_SYS_ADMIN'] } },
    ...Object.entries(BY_CAPABILITY).map(([cap, names]) => withCap(cap, names)),
  ],
});

/** The default profile for one container: its capabilities add what they are for. */
export function defaultSeccompProfile(options: ResolveOptions = {}): LinuxSeccomp {
  return resolveProfile(DEFAULT_PROFILE, options);
}

/** Every name the default profile decides on, for the classification test. */
export function classifiedNames(): Set<string> {
  return new Set([...ALLOWED, ...CONDITIONAL, ...Object.values(BY_CAPABILITY).flat(), ...Object.values(REFUSED).flat()]);
}
