/*
 * nsexec.c - the exec stage: the only native code in nstools.
 *
 * Node is multithreaded, so no JavaScript may run between clone() and execve(): the kernel
 * refuses user namespaces to threaded callers and a forked V8 crashes. This library, loaded
 * by koffi, clone()s a child with CLONE_VM (no page-table copy, so the cost does not grow with
 * the Node heap) onto a private stack. The child runs a list of small operations decoded from
 * a plan that TypeScript built, and execs. All policy (what to mount, which ids to map, in
 * which order) lives in TypeScript; this file only knows how to perform each operation.
 *
 * Because the child shares Node's memory and thread-local storage, it must not call into
 * libc: a libc wrapper would write errno into the TLS of Node's main thread, and malloc or
 * stdio would take locks Node's threads may hold. It uses the raw syscall() below, its own
 * stack, and memory the parent prepared. See src/exec/protocol.ts for the wire format.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nsexec.h"

extern char **environ;
#include "protocol.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/*
 * Marks code that runs in the clone()d child. Sanitizer runtimes cannot work there: the child
 * shares Node's memory and thread-local storage but runs on its own stack, so ASan takes it for
 * a bogus stack ("ignoring requested __asan_handle_no_return"), and a report or warning from the
 * child takes runtime locks that a child about to exec or exit never releases: Node then
 * deadlocks in its next malloc (seen with the spawn tests). NSX_SANITIZE builds therefore
 * instrument the parent side only (decoding, layout, region bookkeeping).
 */
#define NSX_CHILD __attribute__((no_sanitize("address", "undefined")))

/* The only clone/unshare/setns flags a plan may carry: namespace kinds. Anything else
 * (CLONE_VFORK, CLONE_SETTLS, CLONE_CHILD_CLEARTID...) would change how clone() treats Node's
 * memory. Time is unshared in the child, never passed to clone (its bit is in the signal byte). */
#define NSX_CLONE_NS_FLAGS (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | \
			    CLONE_NEWPID | CLONE_NEWNET)
#define NSX_ALL_NS_FLAGS (NSX_CLONE_NS_FLAGS | CLONE_NEWTIME)
/* setgroups(2) takes at most NGROUPS_MAX gids (include/uapi/linux/limits.h). */
#define NSX_MAX_GROUPS 65536
/* SECCOMP flags a plan may carry: TSYNC | LOG | SPEC_ALLOW. NEW_LISTENER would return an fd. */
#define NSX_SECCOMP_FLAGS 7ULL

#define STACK_SIZE (128 * 1024)
#define GUARD_SIZE 4096

#include "raw.h"


/* ---- decoded plan, laid out by the parent in the mapping it hands the child ---- */

struct op {
	uint32_t code;
	uint32_t nstr;
	uint64_t arg[4];
	char **str; /* nstr entries; EXEC gets NULL-terminated paths, argv and envp arrays */
};

struct ctx {
	uint64_t clone_flags;
	uint32_t fd_floor;
	uint32_t nops;
	struct op *ops;
	int status_fd; /* write end, CLOEXEC: EOF at the parent means exec succeeded */
	int go_fd;     /* read end: the parent's go byte after a READY record */
	/* The parent's ends, which clone() copied into the child's fd table: closed first thing,
	 * or the child's own copy of the go pipe's write end would keep it from ever seeing EOF
	 * when the parent dies while the child waits at SYNC (pipe(7): EOF needs every writer gone). */
	int parent_status_fd;
	int parent_go_fd;
	int fd_slot[NSX_MAX_FD_SLOTS];
	uint64_t soft_ok; /* SETNS slots that succeeded in a soft pass */
	char *stack2_top; /* for FORK's grandchild */
	char **inherited_env; /* copy of the caller's environ, for EXEC with a3=1 */
	char *region;
	size_t region_size;
};

static NSX_CHILD size_t cstrlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static NSX_CHILD int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		long r = RAW3(SYS_write, fd, p, len);
		if (r == -EINTR)
			continue;
		if (r < 0)
			return (int)r;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static NSX_CHILD void send_record(struct ctx *c, int32_t type, int32_t op, int32_t err, int32_t sys, int32_t value)
{
	int32_t rec[5] = { type, op, err, sys, value };
	if (c->status_fd >= 0)
		write_all(c->status_fd, rec, sizeof(rec));
}

static NSX_CHILD __attribute__((noreturn)) void die(struct ctx *c, uint32_t opi, long err, int sys)
{
	send_record(c, NSX_REC_ERROR, (int32_t)opi, (int32_t)-err, sys, 0);
	for (;;)
		RAW1(SYS_exit_group, NSX_CHILD_FAILURE_EXIT);
}

/* An empty string in the plan stands for a NULL pointer (mount's source, fstype, data). */
static NSX_CHILD const char *or_null(const char *s)
{
	return s[0] ? s : NULL;
}

static NSX_CHILD void reset_signals(void)
{
	struct kernel_sigaction dfl = { 0 };
	uint64_t none = 0;
	int sig;

	dfl.handler = SIG_DFL;
	/* Node's handlers live in memory this child shares: none of them may ever run here. */
	for (sig = 1; sig < 65; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		RAW4(SYS_rt_sigaction, sig, &dfl, NULL, 8);
	}
	RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
}

static NSX_CHILD int run_ops(void *arg);

struct resume {
	struct ctx *c;
	uint32_t next;
};

static NSX_CHILD int grandchild_main(void *arg)
{
	struct resume *r = arg;
	uint64_t none = 0;
	RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
	return run_ops(r);
}

static NSX_CHILD char *format_u64(char *end, uint64_t v)
{
	*--end = 0;
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

/*
 * become_init() - FORK's staying half replaces itself with nsx-init (init.c).
 * Staying as it is, it would share Node's memory for the program's whole life, and the program
 * could read and write it through /proc/1/mem. execveat() of the binary the parent opened
 * (a3, an fd, since a pivot_root may have hidden its path) gives it a memory of its own; the
 * blocked signal mask and any pending SIGCHLD survive the exec (execve(2)), so nothing is lost.
 * Close-on-exec drops Node's fds, the status pipe among them: only the grandchild holds it now.
 */
static NSX_CHILD __attribute__((noreturn)) void become_init(struct ctx *c, uint32_t opi, const struct op *o, long child)
{
	char pid_buf[24], mask_buf[24];
	char *argv[5];
	char *envp[1] = { NULL };
	long r;

	argv[0] = o->arg[0] == 1 ? "ns-init" : "ns-relay";
	argv[1] = o->arg[0] == 1 ? "init" : "relay";
	argv[2] = format_u64(pid_buf + sizeof(pid_buf), (uint64_t)child);
	argv[3] = format_u64(mask_buf + sizeof(mask_buf), o->arg[1]);
	argv[4] = NULL;
	r = raw6(SYS_execveat, (long)o->arg[3], (long)"", (long)argv, (long)envp, AT_EMPTY_PATH, 0);
	/* Fail closed: a program with no init to reap and relay for it must not run. */
	RAW2(SYS_kill, child, SIGKILL);
	die(c, opi, r, NSX_SYS_EXECVE);
}

/* FORK: the grandchild continues with the ops after this one, on the second stack. */
static NSX_CHILD __attribute__((noreturn)) void do_fork(struct ctx *c, uint32_t opi, const struct op *o)
{
	uint64_t all = ~0ULL;
	long child;
	/* The resume record sits at the top of the grandchild's own stack: per spawn, never shared. */
	struct resume *rp = (struct resume *)(c->stack2_top - 64);

	rp->c = c;
	rp->next = opi + 1;
	/* Block everything before the grandchild exists so no SIGCHLD or forwarded signal is lost. */
	RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, 8);
	/* a2=1: a private copy of the memory instead of sharing it. setns() into a time namespace
	 * refuses any task whose mm another task shares (timens_install: EUSERS). */
	child = clone(grandchild_main, c->stack2_top - 128, SIGCHLD | (o->arg[2] == 1 ? 0 : CLONE_VM), rp);
	if (child < 0)
		die(c, opi, -EAGAIN, NSX_SYS_CLONE);
	send_record(c, NSX_REC_PID, (int32_t)opi, 0, 0, (int32_t)child);
	become_init(c, opi, o, child);
}

static NSX_CHILD long do_setns(struct ctx *c, const struct op *o)
{
	uint64_t slot = o->arg[3] & 63;
	long r;

	if (o->arg[2] == 2 && (c->soft_ok & (1ULL << slot)))
		return 0;
	r = RAW2(SYS_setns, o->arg[0], o->arg[1]);
	if (o->arg[2] == 1) {
		if (r == 0)
			c->soft_ok |= 1ULL << slot;
		return 0;
	}
	return r;
}

static NSX_CHILD long do_write_file(const struct op *o)
{
	long fd = RAW4(SYS_openat, AT_FDCWD, o->str[0], O_WRONLY | O_CLOEXEC | O_NOCTTY, 0);
	long r;
	if (fd < 0)
		return fd;
	/* /proc/PID/{uid_map,setgroups,timens_offsets} take exactly one write(2). */
	r = RAW3(SYS_write, fd, o->str[1], cstrlen(o->str[1]));
	RAW1(SYS_close, fd);
	return r < 0 ? r : 0;
}

static NSX_CHILD long do_capset(uint64_t eff, uint64_t perm, uint64_t inh)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	data[0].effective = (uint32_t)eff;
	data[1].effective = (uint32_t)(eff >> 32);
	data[0].permitted = (uint32_t)perm;
	data[1].permitted = (uint32_t)(perm >> 32);
	data[0].inheritable = (uint32_t)inh;
	data[1].inheritable = (uint32_t)(inh >> 32);
	return RAW2(SYS_capset, &hdr, data);
}

/* --keep-caps: ambient caps must also be permitted and inheritable (capabilities(7)). */
static NSX_CHILD long do_ambient_all(int *sys)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	uint64_t perm, eff;
	long r;
	int cap;

	*sys = NSX_SYS_CAPGET;
	r = RAW2(SYS_capget, &hdr, data);
	if (r < 0)
		return r;
	perm = data[0].permitted | ((uint64_t)data[1].permitted << 32);
	eff = data[0].effective | ((uint64_t)data[1].effective << 32);
	*sys = NSX_SYS_CAPSET;
	r = do_capset(eff, perm, perm);
	if (r < 0)
		return r;
	*sys = NSX_SYS_PRCTL;
	for (cap = 0; cap < 64; cap++) {
		if (!(perm & (1ULL << cap)))
			continue;
		r = RAW5(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
		if (r < 0 && r != -EINVAL) /* EINVAL: a cap this kernel does not know */
			return r;
	}
	return 0;
}

static NSX_CHILD long do_bounding_keep(uint64_t keep)
{
	int cap;
	for (cap = 0; cap < 64; cap++) {
		long r;
		if (keep & (1ULL << cap))
			continue;
		r = RAW5(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0);
		if (r == -EINVAL)
			break; /* past the last capability the kernel knows */
		if (r < 0)
			return r;
	}
	return 0;
}

static NSX_CHILD long do_exec(const struct ctx *c, const struct op *o)
{
	char *const *paths = o->str;
	char *const *argv = paths + o->arg[0] + 1;
	char *const *envp = o->arg[3] == 1 ? c->inherited_env : argv + o->arg[1] + 1;
	long err = -ENOENT;
	int seen_eacces = 0;
	uint64_t i;

	/* execvpe(3)'s rules: keep looking past ENOENT/ENOTDIR/EACCES, report EACCES if seen. */
	for (i = 0; i < o->arg[0]; i++) {
		err = RAW3(SYS_execve, paths[i], argv, envp);
		if (err == -EACCES)
			seen_eacces = 1;
		else if (err != -ENOENT && err != -ENOTDIR && err != -ENAMETOOLONG)
			return err;
	}
	return seen_eacces ? -EACCES : err;
}

/*
 * nsfs inode numbers are 32-bit (proc_alloc_inum), so each fits a record's value field. All
 * records go in one write (under PIPE_BUF, so atomic): one write per record woke the parent,
 * blocked reading the pipe, once per namespace (~200 us per spawn, measured).
 */
static NSX_CHILD void do_report_ns(struct ctx *c, uint32_t opi, const struct op *o)
{
	int32_t recs[NSX_MAX_NS_IDS][5];
	uint32_t i;
	for (i = 0; i < o->nstr; i++) {
		struct stat st;
		long r = RAW4(SYS_newfstatat, AT_FDCWD, o->str[i], &st, 0);
		recs[i][0] = NSX_REC_NS_ID;
		recs[i][1] = (int32_t)opi;
		recs[i][2] = (int32_t)i;
		recs[i][3] = 0;
		recs[i][4] = r == 0 ? (int32_t)(uint32_t)st.st_ino : 0;
	}
	if (c->status_fd >= 0 && i > 0)
		write_all(c->status_fd, recs, sizeof(recs[0]) * i);
}

static NSX_CHILD long do_mount_fd(const struct op *o)
{
	char path[32] = "/proc/self/fd/";
	char digits[12];
	int n = 0, len = 14;
	uint64_t fd = o->arg[0];
	do {
		digits[n++] = (char)('0' + fd % 10);
		fd /= 10;
	} while (fd && n < 11);
	while (n > 0)
		path[len++] = digits[--n];
	path[len] = 0;
	return RAW5(SYS_mount, path, o->str[0], NULL, MS_BIND | (long)o->arg[1], NULL);
}

/*
 * SECCOMP: the filter the parent compiled. seccomp(2) takes it only from a task with
 * no_new_privs or CAP_SYS_ADMIN in its user namespace (EACCES otherwise); the plan orders that.
 * Kernels before 3.17 lack seccomp(2): prctl(PR_SET_SECCOMP) takes the same filter, without flags.
 */
static NSX_CHILD long do_seccomp(const struct op *o, int *sys)
{
	struct sock_fprog prog = { (unsigned short)o->arg[1], (struct sock_filter *)o->str[0] };
	long r = RAW3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, o->arg[0], &prog);
	if (r == -ENOSYS && o->arg[0] == 0) {
		*sys = NSX_SYS_PRCTL;
		r = RAW5(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
	}
	return r;
}

static NSX_CHILD int run_ops(void *arg)
{
	struct resume *r = arg;
	struct ctx *c = r->c;
	uint32_t i;

	for (i = r->next; i < c->nops; i++) {
		const struct op *o = &c->ops[i];
		long rc = 0;
		int sys = NSX_SYS_NONE;
		char go;

		switch (o->code) {
		case NSX_OP_SETNS:
			sys = NSX_SYS_SETNS;
			rc = do_setns(c, o);
			break;
		case NSX_OP_UNSHARE:
			sys = NSX_SYS_UNSHARE;
			rc = RAW1(SYS_unshare, o->arg[0]);
			break;
		case NSX_OP_SYNC:
			send_record(c, NSX_REC_READY, (int32_t)i, 0, 0, 0);
			sys = NSX_SYS_READ;
			do
				rc = RAW3(SYS_read, c->go_fd, &go, 1);
			while (rc == -EINTR);
			if (rc == 0) /* the parent gave up on us: leave quietly */
				for (;;)
					RAW1(SYS_exit_group, NSX_CHILD_FAILURE_EXIT);
			if (rc > 0)
				rc = 0;
			break;
		case NSX_OP_FD_STASH:
			sys = NSX_SYS_DUP;
			rc = RAW3(SYS_fcntl, o->arg[0], F_DUPFD_CLOEXEC, c->fd_floor);
			if (rc >= 0) {
				c->fd_slot[o->arg[1]] = (int)rc;
				rc = 0;
			}
			break;
		case NSX_OP_FD_PLACE:
			sys = NSX_SYS_DUP2;
			rc = RAW3(SYS_dup3, c->fd_slot[o->arg[0]], o->arg[1], 0);
			if (rc >= 0)
				rc = 0;
			break;
		case NSX_OP_CLOEXEC_FROM:
			sys = NSX_SYS_CLOSE_RANGE;
			rc = RAW3(SYS_close_range, o->arg[0], ~0U, CLOSE_RANGE_CLOEXEC);
			break;
		case NSX_OP_MOUNT:
			sys = NSX_SYS_MOUNT;
			rc = RAW5(SYS_mount, or_null(o->str[0]), o->str[1], or_null(o->str[2]), o->arg[0],
				  or_null(o->str[3]));
			break;
		case NSX_OP_UMOUNT:
			sys = NSX_SYS_UMOUNT2;
			rc = RAW2(SYS_umount2, o->str[0], o->arg[0]);
			break;
		case NSX_OP_MKDIR:
			sys = NSX_SYS_MKDIR;
			rc = RAW3(SYS_mkdirat, AT_FDCWD, o->str[0], o->arg[0]);
			if (rc == -EEXIST && o->arg[1] == 1)
				rc = 0;
			break;
		case NSX_OP_MKFILE:
			sys = NSX_SYS_OPEN;
			rc = RAW4(SYS_openat, AT_FDCWD, o->str[0], O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, o->arg[0]);
			if (rc >= 0) {
				RAW1(SYS_close, rc);
				rc = 0;
			}
			break;
		case NSX_OP_SYMLINK:
			sys = NSX_SYS_SYMLINK;
			rc = RAW3(SYS_symlinkat, o->str[0], AT_FDCWD, o->str[1]);
			break;
		case NSX_OP_PIVOT_ROOT:
			/* pivot_root(".", ".") stacks the old root under the new one, then we detach it:
			 * no directory for the old root is needed and nothing of the host stays reachable. */
			sys = NSX_SYS_CHDIR;
			rc = RAW1(SYS_chdir, o->str[0]);
			if (rc == 0) {
				sys = NSX_SYS_PIVOT_ROOT;
				rc = RAW2(SYS_pivot_root, ".", ".");
			}
			if (rc == 0) {
				sys = NSX_SYS_UMOUNT2;
				rc = RAW2(SYS_umount2, ".", MNT_DETACH);
			}
			if (rc == 0) {
				sys = NSX_SYS_CHDIR;
				rc = RAW1(SYS_chdir, "/");
			}
			break;
		case NSX_OP_CHROOT:
			sys = NSX_SYS_CHROOT;
			rc = RAW1(SYS_chroot, o->str[0]);
			break;
		case NSX_OP_CHDIR:
			sys = NSX_SYS_CHDIR;
			rc = RAW1(SYS_chdir, o->str[0]);
			break;
		case NSX_OP_FCHDIR:
			sys = NSX_SYS_FCHDIR;
			rc = RAW1(SYS_fchdir, o->arg[0]);
			break;
		case NSX_OP_SETHOSTNAME:
			sys = NSX_SYS_SETHOSTNAME;
			rc = RAW2(SYS_sethostname, o->str[0], cstrlen(o->str[0]));
			break;
		case NSX_OP_SETDOMAINNAME:
			sys = NSX_SYS_SETDOMAINNAME;
			rc = RAW2(SYS_setdomainname, o->str[0], cstrlen(o->str[0]));
			break;
		case NSX_OP_WRITE_FILE:
			sys = NSX_SYS_WRITE;
			rc = do_write_file(o);
			break;
		case NSX_OP_SETGROUPS:
			sys = NSX_SYS_SETGROUPS;
			rc = RAW2(SYS_setgroups, o->arg[0], o->str[0]);
			break;
		case NSX_OP_SETGID:
			sys = NSX_SYS_SETRESGID;
			rc = RAW3(SYS_setresgid, o->arg[0], o->arg[0], o->arg[0]);
			break;
		case NSX_OP_SETUID:
			sys = NSX_SYS_SETRESUID;
			rc = RAW3(SYS_setresuid, o->arg[0], o->arg[0], o->arg[0]);
			break;
		case NSX_OP_PRCTL:
			sys = NSX_SYS_PRCTL;
			rc = RAW5(SYS_prctl, o->arg[0], o->arg[1], o->arg[2], o->arg[3], 0);
			if (rc > 0)
				rc = 0;
			break;
		case NSX_OP_CAPSET:
			sys = NSX_SYS_CAPSET;
			rc = do_capset(o->arg[0], o->arg[1], o->arg[2]);
			break;
		case NSX_OP_AMBIENT_ALL:
			rc = do_ambient_all(&sys);
			break;
		case NSX_OP_BOUNDING_KEEP:
			sys = NSX_SYS_PRCTL;
			rc = do_bounding_keep(o->arg[0]);
			break;
		case NSX_OP_FORK:
			do_fork(c, i, o);
		case NSX_OP_SETSID:
			sys = NSX_SYS_SETSID;
			rc = RAW0(SYS_setsid);
			if (rc > 0)
				rc = 0;
			break;
		case NSX_OP_EXEC:
			sys = NSX_SYS_EXECVE;
			rc = do_exec(c, o);
			break;
		case NSX_OP_IGNORE_SIGNALS: {
			struct kernel_sigaction ign = { 0 };
			int sig;
			ign.handler = SIG_IGN;
			sys = NSX_SYS_RT_SIGACTION;
			for (sig = 1; sig < 65 && rc == 0; sig++)
				if ((o->arg[0] & (1ULL << (sig - 1))) && sig != SIGKILL && sig != SIGSTOP)
					rc = RAW4(SYS_rt_sigaction, sig, &ign, NULL, 8);
			break;
		}
		case NSX_OP_REPORT_NS:
			do_report_ns(c, i, o);
			break;
		case NSX_OP_MOUNT_FD:
			sys = NSX_SYS_MOUNT;
			rc = do_mount_fd(o);
			break;
		case NSX_OP_SECCOMP:
			sys = NSX_SYS_SECCOMP;
			rc = do_seccomp(o, &sys);
			break;
		default:
			rc = -EINVAL;
			break;
		}
		if (rc < 0)
			die(c, i, rc, sys);
	}
	for (;;)
		RAW1(SYS_exit_group, 0);
	return 0;
}

static NSX_CHILD int child_main(void *arg)
{
	struct resume *r = arg;
	struct ctx *c = r->c;
	long fd;

	reset_signals();
	RAW1(SYS_close, c->parent_go_fd);
	RAW1(SYS_close, c->parent_status_fd);
	/* Keep the status and go pipes clear of every fd the plan will dup2 into place, and
	 * drop the originals: a FORK's stay-behind half must hold no copy, or EOF never comes. */
	fd = RAW3(SYS_fcntl, c->status_fd, F_DUPFD_CLOEXEC, c->fd_floor);
	if (fd < 0)
		die(c, 0, fd, NSX_SYS_DUP);
	RAW1(SYS_close, c->status_fd);
	c->status_fd = (int)fd;
	fd = RAW3(SYS_fcntl, c->go_fd, F_DUPFD_CLOEXEC, c->fd_floor);
	if (fd < 0)
		die(c, 0, fd, NSX_SYS_DUP);
	RAW1(SYS_close, c->go_fd);
	c->go_fd = (int)fd;
	return run_ops(r);
}

/* ---- parent side: runs on Node's main thread, libc allowed ---- */

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

int nsx_decode(const uint8_t *plan, size_t len, struct nsx_decoded *out, size_t *bad_offset)
{
	size_t off = 0, strings = 0;
	uint32_t i, nops;

	memset(out, 0, sizeof(*out));
	*bad_offset = 0;
	if (len > NSX_MAX_PLAN_BYTES)
		return NSX_DECODE_TOO_LARGE;
	if (len < 24)
		return NSX_DECODE_SHORT;
	if (rd32(plan) != NSX_MAGIC)
		return NSX_DECODE_MAGIC;
	if (rd32(plan + 4) != NSX_VERSION)
		return NSX_DECODE_VERSION;
	out->clone_flags = rd64(plan + 8);
	out->fd_floor = rd32(plan + 16);
	nops = rd32(plan + 20);
	if (nops > NSX_MAX_OPS || out->fd_floor < 3 || out->fd_floor > 65536) {
		*bad_offset = 16;
		return NSX_DECODE_TOO_MANY_OPS;
	}
	if (out->clone_flags & ~(uint64_t)NSX_CLONE_NS_FLAGS) {
		*bad_offset = 8;
		return NSX_DECODE_NS_FLAGS;
	}
	off = 24;
	for (i = 0; i < nops; i++) {
		uint32_t code, nstr, s;
		size_t op_off = off;
		int arity;
		if (len - off < 40) {
			*bad_offset = off;
			return NSX_DECODE_SHORT;
		}
		code = rd32(plan + off);
		nstr = rd32(plan + off + 4);
		if (code > NSX_OP_MAX || nsx_op_strings[code] == -2) {
			*bad_offset = off;
			return NSX_DECODE_BAD_OPCODE;
		}
		arity = nsx_op_strings[code];
		if ((arity >= 0 && nstr != (uint32_t)arity) || nstr > NSX_MAX_STRINGS - strings) {
			*bad_offset = off;
			return NSX_DECODE_STRING_COUNT;
		}
		if (code == NSX_OP_EXEC) {
			uint64_t np = rd64(plan + off + 8), na = rd64(plan + off + 16), ne = rd64(plan + off + 24);
			if (np > nstr || na > nstr || ne > nstr || np + na + ne != nstr) {
				*bad_offset = off;
				return NSX_DECODE_STRING_COUNT;
			}
			if (na == 0 || np == 0) {
				*bad_offset = off;
				return NSX_DECODE_NO_ARGV;
			}
			if (rd64(plan + off + 32) == 1 && ne != 0) {
				*bad_offset = off;
				return NSX_DECODE_STRING_COUNT;
			}
			if (rd64(plan + off + 32) == 1)
				out->inherit_env = 1;
			out->exec_ptrs += 3;
		}
		if (code == NSX_OP_REPORT_NS && nstr > NSX_MAX_NS_IDS) {
			*bad_offset = off;
			return NSX_DECODE_TOO_MANY_IDS;
		}
		if ((code == NSX_OP_SETNS && (rd64(plan + off + 16) & ~(uint64_t)NSX_ALL_NS_FLAGS)) ||
		    (code == NSX_OP_UNSHARE && (rd64(plan + off + 8) & ~(uint64_t)NSX_ALL_NS_FLAGS))) {
			*bad_offset = off;
			return NSX_DECODE_NS_FLAGS;
		}
		/* setns modes are 0..2 with a slot bit 0..63 (do_setns); the setgroups count is
		 * bounded before its data length is compared with count * 4, which cannot wrap then. */
		if ((code == NSX_OP_SETNS && (rd64(plan + off + 24) > 2 || rd64(plan + off + 32) >= 64)) ||
		    (code == NSX_OP_SETGROUPS && rd64(plan + off + 8) > NSX_MAX_GROUPS)) {
			*bad_offset = off;
			return NSX_DECODE_BAD_ARGUMENT;
		}
		/* A filter is 1..BPF_MAXINSNS instructions (the kernel's bound), with known flags only. */
		if (code == NSX_OP_SECCOMP && ((rd64(plan + off + 8) & ~NSX_SECCOMP_FLAGS) != 0 ||
					       rd64(plan + off + 16) == 0 || rd64(plan + off + 16) > BPF_MAXINSNS)) {
			*bad_offset = off;
			return NSX_DECODE_BAD_ARGUMENT;
		}
		if ((code == NSX_OP_FD_STASH && rd64(plan + off + 16) >= NSX_MAX_FD_SLOTS) ||
		    (code == NSX_OP_FD_PLACE && rd64(plan + off + 8) >= NSX_MAX_FD_SLOTS)) {
			*bad_offset = off;
			return NSX_DECODE_FD_SLOT;
		}
		off += 40;
		for (s = 0; s < nstr; s++) {
			uint32_t slen;
			size_t padded;
			if (len - off < 4) {
				*bad_offset = off;
				return NSX_DECODE_SHORT;
			}
			slen = rd32(plan + off);
			off += 4;
			padded = ((size_t)slen + 3) & ~(size_t)3;
			if (slen == 0 || padded > len - off) {
				*bad_offset = off - 4;
				return NSX_DECODE_STRING_LENGTH;
			}
			/* The NUL is required, and none may come earlier: a path cut short is a different path.
			 * SETGROUPS (gids) and SECCOMP (instructions) carry binary data, exempt from the interior rule. */
			if (plan[off + slen - 1] != 0 ||
			    (code != NSX_OP_SETGROUPS && code != NSX_OP_SECCOMP && memchr(plan + off, 0, slen - 1) != NULL)) {
				*bad_offset = off;
				return NSX_DECODE_STRING_NUL;
			}
			if ((code == NSX_OP_SETGROUPS && (uint64_t)(slen - 1) != rd64(plan + op_off + 8) * 4) ||
			    (code == NSX_OP_SECCOMP && (uint64_t)(slen - 1) != rd64(plan + op_off + 16) * 8)) {
				*bad_offset = off;
				return NSX_DECODE_STRING_LENGTH;
			}
			off += padded;
		}
		strings += nstr;
	}
	if (off != len) {
		*bad_offset = off;
		return NSX_DECODE_TRAILING_BYTES;
	}
	out->nops = nops;
	out->nstrings = strings;
	return NSX_DECODE_OK;
}

/* Lays out ops and string pointers in mem (sized by nsx_layout_size), pointing into plan. */
static struct op *materialize(uint8_t *plan, const struct nsx_decoded *d, uint8_t *mem)
{
	struct op *ops = (struct op *)mem;
	char **ptrs = (char **)(mem + sizeof(struct op) * d->nops);
	size_t off = 24;
	uint32_t i, s;

	for (i = 0; i < d->nops; i++) {
		struct op *o = &ops[i];
		o->code = rd32(plan + off);
		o->nstr = rd32(plan + off + 4);
		o->arg[0] = rd64(plan + off + 8);
		o->arg[1] = rd64(plan + off + 16);
		o->arg[2] = rd64(plan + off + 24);
		o->arg[3] = rd64(plan + off + 32);
		o->str = ptrs;
		off += 40;
		for (s = 0; s < o->nstr; s++) {
			uint32_t slen = rd32(plan + off);
			off += 4;
			if (o->code == NSX_OP_EXEC && (s == o->arg[0] || s == o->arg[0] + o->arg[1]))
				*ptrs++ = NULL; /* terminate paths, then argv */
			*ptrs++ = (char *)(plan + off);
			off += ((size_t)slen + 3) & ~(size_t)3;
		}
		/* With no environment strings the loop never reached argv's end: terminate it here,
		 * so that exec's three NULLs always fill the three slots nsx_decode reserved. */
		if (o->code == NSX_OP_EXEC && o->arg[2] == 0)
			*ptrs++ = NULL;
		if (o->code == NSX_OP_EXEC)
			*ptrs++ = NULL; /* terminate envp */
	}
	return ops;
}

struct region {
	struct region *next;
	int pid;
	void *base;
	size_t size;
};
static struct region *regions;

int nsx_spawn(const uint8_t *plan, uint32_t len, int32_t *out)
{
	struct nsx_decoded d;
	size_t bad, opbytes, size;
	uint8_t *base, *cursor;
	struct ctx *c;
	struct resume *r;
	struct region *reg;
	size_t envc = 0, envbytes = 0;
	int status[2], go[2], pidfd = -1, err;
	long pid;
	sigset_t all, old;

	out[0] = out[1] = out[2] = out[3] = out[4] = out[5] = -1;
	err = nsx_decode(plan, len, &d, &bad);
	if (err != NSX_DECODE_OK) {
		out[4] = err;
		out[5] = (int32_t)bad;
		return -EINVAL;
	}
	opbytes = sizeof(struct op) * d.nops + sizeof(char *) * (d.nstrings + d.exec_ptrs);
	/* The environment is copied now, on this thread: the child must not read environ later,
	 * when Node may be changing it (process.env writes call setenv). */
	if (d.inherit_env) {
		for (envc = 0; environ[envc]; envc++)
			envbytes += strlen(environ[envc]) + 1;
		envbytes += sizeof(char *) * (envc + 1);
	}
	size = GUARD_SIZE + STACK_SIZE + GUARD_SIZE + STACK_SIZE + sizeof(struct ctx) + sizeof(*r) + opbytes + len +
	       envbytes + 64;
	size = (size + 4095) & ~(size_t)4095;
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	/* Guard pages below each stack: an overflow faults instead of scribbling on Node. */
	mprotect(base, GUARD_SIZE, PROT_NONE);
	mprotect(base + GUARD_SIZE + STACK_SIZE, GUARD_SIZE, PROT_NONE);
	cursor = base + 2 * (GUARD_SIZE + STACK_SIZE);
	c = (struct ctx *)cursor;
	cursor += sizeof(*c);
	r = (struct resume *)cursor;
	cursor += sizeof(*r);
	cursor = (uint8_t *)(((uintptr_t)cursor + 15) & ~(uintptr_t)15);
	memcpy(cursor + opbytes, plan, len);
	c->ops = materialize(cursor + opbytes, &d, cursor);
	if (d.inherit_env) {
		char **envp = (char **)(((uintptr_t)(cursor + opbytes + len) + 15) & ~(uintptr_t)15);
		char *strings = (char *)(envp + envc + 1);
		size_t i;
		for (i = 0; i < envc; i++) {
			size_t n = strlen(environ[i]) + 1;
			memcpy(strings, environ[i], n);
			envp[i] = strings;
			strings += n;
		}
		envp[envc] = NULL;
		c->inherited_env = envp;
	}
	c->nops = d.nops;
	c->clone_flags = d.clone_flags;
	c->fd_floor = d.fd_floor;
	c->region = (char *)base;
	c->region_size = size;
	c->stack2_top = (char *)base + 2 * (GUARD_SIZE + STACK_SIZE);
	r->c = c;
	r->next = 0;

	if (pipe2(status, O_CLOEXEC) < 0) {
		err = -errno;
		munmap(base, size);
		return err;
	}
	if (pipe2(go, O_CLOEXEC) < 0) {
		err = -errno;
		close(status[0]);
		close(status[1]);
		munmap(base, size);
		return err;
	}
	c->status_fd = status[1];
	c->go_fd = go[0];
	c->parent_status_fd = status[0];
	c->parent_go_fd = go[1];

	/* Signals stay blocked across clone(): the child must reset every handler before one may run. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = clone(child_main, base + GUARD_SIZE + STACK_SIZE - 64,
		    (int)(CLONE_VM | CLONE_PIDFD | SIGCHLD | (d.clone_flags & ~0xffULL)), r, &pidfd);
	err = pid < 0 ? -errno : 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(status[1]);
	close(go[0]);
	if (pid < 0) {
		close(status[0]);
		close(go[1]);
		munmap(base, size);
		return err;
	}
	reg = calloc(1, sizeof(*reg));
	if (reg) {
		reg->pid = (int)pid;
		reg->base = base;
		reg->size = size;
		reg->next = regions;
		regions = reg;
	}
	out[0] = (int32_t)pid;
	out[1] = pidfd;
	out[2] = status[0];
	out[3] = go[1];
	return 0;
}

int nsx_release(int32_t pid)
{
	struct region **pp;
	for (pp = &regions; *pp; pp = &(*pp)->next) {
		struct region *reg = *pp;
		if (reg->pid == pid) {
			*pp = reg->next;
			munmap(reg->base, reg->size);
			free(reg);
			return 0;
		}
	}
	return -ENOENT;
}

int nsx_live_regions(void)
{
	int n = 0;
	struct region *reg;
	for (reg = regions; reg; reg = reg->next)
		n++;
	return n;
}
