/*
 * stage.c - the exec stage's op interpreter: the one definition of what each op does, built
 * into both targets.
 *
 *   libnsexec.so (nsexec.c): spawn() clone()s a child with CLONE_VM that runs the ops, shares
 *     Node's memory until it execs, and talks to Node through a status pipe (records) and a
 *     go pipe (the sync point).
 *   nsx (nsx.c): execInPlace() execve()s it from Node's main thread, so the program keeps the
 *     launcher's pid. It runs the ops in its own process, renders its own errors (ERRORS,
 *     HINT, labels) and forks a helper for what a parent would do at the sync point.
 *
 * All policy (which ops, in which order, with which labels and hints) is TypeScript's. Nothing
 * here may call libc between clone() and execve(): in the library the child shares Node's TLS,
 * so a libc wrapper would write errno into Node's main thread; the executable has no libc at
 * all. Raw syscalls (raw.h) and memory prepared up front only. Wire format: src/exec/protocol.ts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nsexec.h"
#include "protocol.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef F_GET_SEALS
#define F_GET_SEALS 1034
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
/* The mount API (linux/mount.h), spelled here: glibc's <sys/mount.h> and the kernel's header
 * define some of it twice, and a libc older than the kernel none of it. Numbers are the same on
 * every architecture (asm-generic unistd.h). */
#define NSX_SYS_open_tree 428
#define NSX_SYS_move_mount 429
#define NSX_SYS_mount_setattr 442
#define NSX_OPEN_TREE_CLONE 1
#define NSX_AT_RECURSIVE 0x8000
#define NSX_MOVE_MOUNT_F_EMPTY_PATH 0x4
struct nsx_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};
/* An interface name and its NUL fill IFNAMSIZ (16) bytes. */
#define NSX_IFNAME_MAX 15

#include "raw.h"

/* clone3(2)'s arguments (linux/sched.h, not included: its CLONE_* clash with sched.h's). */
struct nsx_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size,
		cgroup;
};
#define NSX_CLONE_INTO_CGROUP 0x200000000ULL
#define NSX_SYS_CLONE3 435 /* the same on x86_64 and aarch64 */

/*
 * clone3() for a CLONE_VM child on its own stack: glibc exports no wrapper, and the child,
 * whose stack holds no frame to return to, must call fn there and exit (as glibc's clone()
 * does). The parent gets the pid or -errno.
 */
__attribute__((visibility("hidden"))) long nsx_clone3(struct nsx_clone_args *args, size_t size, int (*fn)(void *), void *arg);
#if defined(__x86_64__)
__asm__(".pushsection .text\n"
	".globl nsx_clone3\n"
	".hidden nsx_clone3\n"
	".type nsx_clone3, @function\n"
	"nsx_clone3:\n"
	"	mov %rdx, %r8\n" /* fn and arg in registers the syscall keeps and the child gets */
	"	mov %rcx, %r9\n"
	"	mov $435, %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jz 1f\n"
	"	ret\n"
	"1:	xor %ebp, %ebp\n"
	"	mov %r9, %rdi\n"
	"	call *%r8\n"
	"	mov %eax, %edi\n"
	"	mov $60, %eax\n" /* exit */
	"	syscall\n"
	"	hlt\n"
	".size nsx_clone3, .-nsx_clone3\n"
	".popsection\n");
#elif defined(__aarch64__)
__asm__(".pushsection .text\n"
	".globl nsx_clone3\n"
	".hidden nsx_clone3\n"
	".type nsx_clone3, %function\n"
	"nsx_clone3:\n"
	"	mov x10, x2\n"
	"	mov x11, x3\n"
	"	mov x8, #435\n"
	"	svc #0\n"
	"	cbz x0, 1f\n"
	"	ret\n"
	"1:	mov x29, xzr\n"
	"	mov x30, xzr\n"
	"	mov x0, x11\n"
	"	blr x10\n"
	"	mov x8, #93\n" /* exit */
	"	svc #0\n"
	"	brk #0\n"
	".size nsx_clone3, .-nsx_clone3\n"
	".popsection\n");
#else
#error "nsexec: clone3 is implemented for x86_64 and aarch64"
#endif

/* ---- a decoded plan, laid out in memory the stage owns ---- */

struct op {
	uint32_t code;
	uint32_t nstr;
	uint64_t arg[NSX_OP_ARGS];
	char **str; /* nstr entries; EXEC and RUN_HELPER get NULL-terminated lists */
	const char *label[4]; /* step, kinds, path, dest (LABEL order); NULL when absent */
};

struct ctx {
	uint32_t fd_floor;
	uint32_t nops;
	struct op *ops;
	int status_fd; /* library: write end, CLOEXEC: EOF at the parent means exec succeeded */
	int go_fd;     /* library: read end, the parent's go byte after a READY record */
	/* The parent's ends, which clone() copied into the child's fd table: closed first thing,
	 * or the child's own copy of the go pipe's write end would keep it from ever seeing EOF
	 * when the parent dies while the child waits at SYNC (pipe(7): EOF needs every writer gone). */
	int parent_status_fd;
	int parent_go_fd;
	int fd_slot[NSX_MAX_FD_SLOTS];
	uint64_t soft_ok; /* SETNS slots that succeeded in a soft pass */
	char *stack2_top; /* library: the stack of a FORK's grandchild */
	size_t stack2_size;
	int fork_cgroup; /* FORK_CGROUP: the cgroup v2 directory the next FORK's child starts in, or -1 */
	char **inherited_env; /* copy of the caller's environ, for EXEC with a3=1 */
	char *region;
	size_t region_size;

	/* ERRORS: failures are rendered on err_fd (a copy of fd 2 taken first, -1 if the caller
	 * closed it) and end us with these codes. */
	int in_place, err_fd;
	const char *prog;
	uint64_t exit_failure, exit_noexec, exit_notfound;

	/* HELPER_FORK: our end of the socket pair to the helper (we say G, E or F; it answers K or F),
	 * its pid and ours (only the process that forked it can reap it). */
	int helper_go, helper_res;
	long helper_pid, helper_parent;
	/* In the helper itself: what its BIND_NS ops bound, to undo unless the program execs. */
	int in_helper;
	const char *bound[NSX_MAX_BINDS];
	int bound_created[NSX_MAX_BINDS];
	uint32_t nbound;

	/* INFO: armed by the op, written once at the first FORK or at EXEC. */
	const struct op *info;
	int info_fd, json_fd, info_due;
	uint32_t ns_ids[NSX_MAX_NS_IDS];

	/* CONSOLE_SOCKET: the supervisor's end (handed to nsx-init) and the program's (TERMINAL). */
	int console_super, console_prog;
	/* LEAVE: the next FORK's staying half exits once it has reported the program's pid. */
	int leave_next;
	/* Library: this process has a copy of Node's memory (a FORK with a4 bit 0), not Node's own:
	 * its forks may copy it again, where sharing would put two processes on one stack. */
	int own_memory;
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

static NSX_CHILD __attribute__((noreturn)) void exit_now(long code)
{
	for (;;)
		RAW1(SYS_exit_group, code);
}

static NSX_CHILD void send_record(struct ctx *c, int32_t type, int32_t op, int32_t err, int32_t sys, int32_t value)
{
	int32_t rec[5] = { type, op, err, sys, value };
	if (c->status_fd >= 0)
		write_all(c->status_fd, rec, sizeof(rec));
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

/* ---- rendering a failure in place: the text formatError() in cli-support.ts gives ---- */

struct text {
	char *p;
	size_t len, cap;
};

static NSX_CHILD void add(struct text *t, const char *s)
{
	while (*s && t->len + 1 < t->cap)
		t->p[t->len++] = *s++;
	t->p[t->len] = 0;
}

static NSX_CHILD void add_u64(struct text *t, uint64_t v)
{
	char buf[24];
	add(t, format_u64(buf + sizeof(buf), v));
}

static NSX_CHILD int op_has_user(const struct op *o)
{
	if (o->code == NSX_OP_SETNS)
		return (o->arg[1] & CLONE_NEWUSER) != 0;
	if (o->code == NSX_OP_UNSHARE)
		return (o->arg[0] & CLONE_NEWUSER) != 0;
	return 0;
}

/* Whether s ends with suffix ("" ends every string). */
static NSX_CHILD int ends_with(const char *s, const char *suffix)
{
	size_t n = 0, m = 0;
	if (!s)
		return suffix[0] == 0;
	while (s[n])
		n++;
	while (suffix[m])
		m++;
	if (m > n)
		return 0;
	for (; m > 0; m--, n--)
		if (s[n - 1] != suffix[m - 1])
			return 0;
	return 1;
}

/* The hint errors.ts gives this failure (protocol.h holds its table, specific paths first), or NULL. */
static NSX_CHILD const char *hint_for(const struct op *o, long err, int sys)
{
	int user = op_has_user(o);
	size_t i;
	for (i = 0; i < NSX_HINT_COUNT; i++)
		if (nsx_hints[i].err == err && nsx_hints[i].sys == sys && nsx_hints[i].user == user &&
		    ends_with(o->label[2], nsx_hints[i].path_suffix))
			return nsx_hints[i].text;
	return NULL;
}

/*
 * One line, as formatError() renders the NsError childError() builds from the same op:
 *   PROG: STEP: SYSCALL(KINDS) PATH -> DEST failed: CODE (message) (hint: HINT)
 *   PROG: failed to execute PATH: CODE (message)          (any execve, as util-linux words it)
 *   PROG: STEP: PATH failed: TEXT                          (RUN_HELPER exiting non-zero: its stderr)
 * @err: a positive errno; @text: the helper's output, or NULL.
 */
static NSX_CHILD size_t render_failure(const struct ctx *c, const struct op *o, long err, int sys, const char *text,
				       char *buf, size_t cap)
{
	struct text t = { buf, 0, cap };
	const char *step = o->label[0], *kinds = o->label[1], *path = o->label[2], *dest = o->label[3];
	char digits[24];
	const char *name, *message, *hint;

	buf[0] = 0;
	/* A BIND_NS that could not create its target names the target alone, as persistNamespace() does. */
	if (o->code == NSX_OP_BIND_NS && sys == NSX_SYS_OPEN) {
		path = o->str[1];
		dest = NULL;
	}
	if (err > 0 && err <= NSX_ERRNO_MAX && nsx_errno_names[err][0]) {
		name = nsx_errno_names[err];
		message = nsx_errno_messages[err];
	} else {
		char *d = format_u64(digits + sizeof(digits), (uint64_t)err);
		*--d = 'E';
		name = d;
		message = NULL;
	}
	add(&t, c->prog ? c->prog : "nsx");
	add(&t, ": ");
	if (text) {
		if (step) {
			add(&t, step);
			add(&t, ": ");
		}
		add(&t, path ? path : "helper");
		add(&t, " failed: ");
		add(&t, text);
		add(&t, "\n");
		return t.len;
	}
	if (sys == NSX_SYS_EXECVE) {
		add(&t, "failed to execute ");
		add(&t, path ? path : "program");
		add(&t, ": ");
	} else {
		if (step) {
			add(&t, step);
			add(&t, ": ");
		}
		add(&t, sys >= 0 && sys < NSX_SYSCALL_COUNT ? nsx_syscall_names[sys] : "operation");
		if (kinds) {
			add(&t, "(");
			add(&t, kinds);
			add(&t, ")");
		}
		if (path) {
			add(&t, " ");
			add(&t, path);
		}
		if (dest) {
			add(&t, " -> ");
			add(&t, dest);
		}
		add(&t, " failed: ");
	}
	add(&t, name);
	add(&t, " (");
	if (message) {
		add(&t, message);
	} else {
		add(&t, "errno ");
		add_u64(&t, (uint64_t)err);
	}
	add(&t, ")");
	hint = sys == NSX_SYS_EXECVE ? NULL : hint_for(o, err, sys);
	if (hint) {
		add(&t, " (hint: ");
		add(&t, hint);
		add(&t, ")");
	}
	add(&t, "\n");
	return t.len;
}

/* ---- the helper's side of HELPER_FORK: what a parent does at the sync point ---- */

/* MSG_NOSIGNAL: a helper that is gone (done, or killed) must not take us down with SIGPIPE. */
static NSX_CHILD void helper_tell(struct ctx *c, char byte)
{
	if (c->helper_go >= 0)
		raw6(SYS_sendto, c->helper_go, (long)&byte, 1, MSG_NOSIGNAL, 0, 0);
}

static NSX_CHILD int read_byte(int fd, char *b)
{
	long r;
	do
		r = RAW3(SYS_read, fd, b, 1);
	while (r == -EINTR);
	return r == 1;
}

/*
 * We are failing: the helper learns it (or knew it: it failed), takes back what it bound and
 * exits. Wait for that (EOF on the socket comes once every helper process is gone), so that
 * when our exit status says "failed" nothing of the attempt is left; reap it if it is ours.
 */
static NSX_CHILD void helper_abandon(struct ctx *c)
{
	char b;
	int st;
	if (c->helper_go < 0)
		return;
	helper_tell(c, 'F');
	while (read_byte(c->helper_res, &b))
		;
	if (RAW0(SYS_getpid) == c->helper_parent)
		while (RAW4(SYS_wait4, c->helper_pid, &st, 0, NULL) == -EINTR)
			;
}

/* Takes back every BIND_NS of this helper, newest first, and the files it created for them. */
static NSX_CHILD void helper_undo(struct ctx *c)
{
	while (c->nbound > 0) {
		uint32_t k = --c->nbound;
		RAW2(SYS_umount2, c->bound[k], MNT_DETACH);
		if (c->bound_created[k])
			RAW3(SYS_unlinkat, AT_FDCWD, c->bound[k], 0);
	}
}

/*
 * Ends the stage after op @opi failed. In place the message goes to stderr and the exit code
 * says what failed (util-linux: 1, 126, 127; ns-run: 125, 126, 127); the helper is told, so
 * that it takes back what it bound. In the library, an ERROR record tells Node.
 */
static NSX_CHILD __attribute__((noreturn)) void fail(struct ctx *c, uint32_t opi, long err, int sys, const char *text)
{
	char buf[4096 + NSX_MAX_HELPER_OUTPUT];
	if (c->err_fd >= 0 && opi < c->nops) {
		size_t n = render_failure(c, &c->ops[opi], err, sys, text, buf, sizeof(buf));
		write_all(c->err_fd, buf, n);
	}
	if (c->in_helper) {
		helper_undo(c);
		write_all(c->helper_res, "F", 1);
		exit_now((long)c->exit_failure);
	}
	helper_abandon(c);
	if (c->in_place)
		exit_now((long)(sys == NSX_SYS_EXECVE ? (err == ENOENT ? c->exit_notfound : c->exit_noexec) : c->exit_failure));
	send_record(c, NSX_REC_ERROR, (int32_t)opi, (int32_t)err, sys, 0);
	exit_now(NSX_CHILD_FAILURE_EXIT);
}

static NSX_CHILD __attribute__((noreturn)) void die(struct ctx *c, uint32_t opi, long rc, int sys)
{
	fail(c, opi, -rc, sys, NULL);
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
	/* Node's handlers (and, in place, the SIGPIPE it ignores) must never reach the program. */
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
	/* The grandchild has memory of its own (see ctx.own_memory). */
	int own_memory;
	/* An fd only the staying half keeps (a console socket's supervisor end), or -1. */
	int not_ours;
	/* FORK_CGROUP's directory, or -1; join_cgroup: the kernel could not create the grandchild
	 * there, so it moves itself. */
	int cgroup, join_cgroup;
};

static NSX_CHILD void info_stat(struct ctx *c)
{
	uint32_t k;
	for (k = 0; k < c->info->nstr / 2; k++) {
		const char *src = c->info->str[2 * k + 1];
		struct stat st;
		if (c->ns_ids[k])
			continue;
		if (src[0] == '/') {
			if (RAW4(SYS_newfstatat, AT_FDCWD, src, &st, 0) == 0)
				c->ns_ids[k] = (uint32_t)st.st_ino;
		} else {
			uint64_t v = 0;
			for (; *src >= '0' && *src <= '9'; src++)
				v = v * 10 + (uint64_t)(*src - '0');
			c->ns_ids[k] = (uint32_t)v;
		}
	}
}

/*
 * The object bubblewrap's --info-fd gets, as JSON.stringify writes it: pretty (two spaces) on
 * the info fd, which is then closed; compact, as one line, on the status fd.
 */
static NSX_CHILD void info_write(struct ctx *c, long pid)
{
	char buf[2048];
	int pretty;
	uint32_t k;

	info_stat(c); /* what could not be read yet (pid_for_children before the first child) */
	for (pretty = 1; pretty >= 0; pretty--) {
		struct text t = { buf, 0, sizeof(buf) };
		int fd = pretty ? c->info_fd : c->json_fd;
		if (fd < 0)
			continue;
		add(&t, pretty ? "{\n  \"child-pid\": " : "{\"child-pid\":");
		add_u64(&t, (uint64_t)pid);
		for (k = 0; k < c->info->nstr / 2; k++) {
			if (!c->ns_ids[k])
				continue;
			add(&t, pretty ? ",\n  \"" : ",\"");
			add(&t, c->info->str[2 * k]);
			add(&t, pretty ? "\": " : "\":");
			add_u64(&t, c->ns_ids[k]);
		}
		add(&t, pretty ? "\n}\n" : "}\n");
		write_all(fd, buf, t.len);
		if (pretty)
			RAW1(SYS_close, fd);
	}
}

/* Where the kernel could not create the child in its cgroup: the child moves itself first. */
static NSX_CHILD void join_fork_cgroup(struct ctx *c, uint32_t opi, int cgroup)
{
	long fd = RAW4(SYS_openat, cgroup, "cgroup.procs", O_WRONLY | O_CLOEXEC, 0);
	long r = fd < 0 ? fd : RAW3(SYS_write, fd, "0", 1);
	if (fd >= 0)
		RAW1(SYS_close, fd);
	if (r < 0)
		die(c, opi, r, NSX_SYS_WRITE);
}

static NSX_CHILD int grandchild_main(void *arg)
{
	struct resume *r = arg;
	uint64_t none = 0;
	/* Only a copy may be written: with shared memory this ctx is also the staying half's. */
	if (r->own_memory)
		r->c->own_memory = 1;
	/* The supervisor's end of a console socket is nsx-init's alone (only our fd table changes). */
	if (r->not_ours >= 0)
		RAW1(SYS_close, r->not_ours);
	/* FORK_CGROUP's directory, consumed by this fork: our copy goes (after the move, if the
	 * kernel could not create us there). */
	if (r->cgroup >= 0) {
		if (r->join_cgroup)
			join_fork_cgroup(r->c, r->next - 1, r->cgroup);
		RAW1(SYS_close, r->cgroup);
	}
	RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
	return run_ops(r);
}

static NSX_CHILD int word_is(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* A non-negative decimal fd, or -1. */
static NSX_CHILD long parse_fd(const char *s)
{
	long v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 1 << 20)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/*
 * become_init() - FORK's staying half replaces itself with nsx-init (init.c).
 * Staying as it is, it would share Node's memory for the program's whole life (library), or
 * hold the plan and the program's copy of it (in place). execveat() of the binary the plan
 * names by fd (a3, since a pivot_root may have hidden its path) gives it a small memory of its
 * own; the blocked signal mask and any pending SIGCHLD survive the exec (execve(2)), so nothing
 * is lost. Close-on-exec drops every other fd, the status pipe among them: only the grandchild
 * holds it now. @json: the status fd nsx-init reports the exit code on, or -1.
 */
static NSX_CHILD __attribute__((noreturn)) void become_init(struct ctx *c, uint32_t opi, const struct op *o, long child, int json)
{
	static const char *const names[] = { "ns-relay", "ns-init", "ns-supervise" };
	static const char *const modes[] = { "relay", "init", "supervise" };
	char pid_buf[24], fwd_buf[24], ign_buf[24], fd_buf[24], console_buf[24];
	char *argv[NSX_MAX_FORK_WORDS + 10];
	char *envp[1] = { NULL };
	uint32_t i, n;
	long r;

	argv[0] = (char *)names[o->arg[0]];
	argv[1] = (char *)modes[o->arg[0]];
	argv[2] = format_u64(pid_buf + sizeof(pid_buf), (uint64_t)child);
	argv[3] = format_u64(fwd_buf + sizeof(fwd_buf), o->arg[1]);
	argv[4] = format_u64(ign_buf + sizeof(ign_buf), o->arg[2]);
	argv[5] = "-";
	if (json >= 0) {
		/* A copy without close-on-exec: nsx-init writes {"exit-code":N} on it. */
		long fd = RAW3(SYS_fcntl, json, F_DUPFD, 3);
		if (fd >= 0)
			argv[5] = format_u64(fd_buf + sizeof(fd_buf), (uint64_t)fd);
	}
	n = 6;
	if (o->arg[0] == NSX_FORK_SUPERVISE && c->console_super >= 0) {
		/* Its end of the console socket, without close-on-exec: the pty master comes on it. */
		long fd = RAW3(SYS_fcntl, c->console_super, F_DUPFD, 3);
		if (fd >= 0) {
			argv[n++] = "console";
			argv[n++] = format_u64(console_buf + sizeof(console_buf), (uint64_t)fd);
		}
	}
	for (i = 0; i < o->nstr; i++) {
		argv[n++] = o->str[i];
		/* An fd a word names (`userns FD`) was made close-on-exec with the rest: nsx-init keeps it. */
		if (o->arg[0] == NSX_FORK_SUPERVISE && i + 1 < o->nstr && word_is(o->str[i], "userns"))
			RAW3(SYS_fcntl, parse_fd(o->str[i + 1]), F_SETFD, 0);
	}
	argv[n] = NULL;
	r = raw6(SYS_execveat, (long)o->arg[3], (long)"", (long)argv, (long)envp, AT_EMPTY_PATH, 0);
	/* Fail closed: a program with no init to reap and relay for it must not run. */
	RAW2(SYS_kill, child, SIGKILL);
	die(c, opi, r, NSX_SYS_EXECVE);
}

/* Our own process: a plain fork, returning 0 on the same (copied) stack in the child. */
static NSX_CHILD long raw_fork(uint64_t ns_flags)
{
	return raw6(SYS_clone, (long)(SIGCHLD | ns_flags), 0, 0, 0, 0, 0);
}

/* A kernel without clone3's CLONE_INTO_CGROUP (before 5.7) refuses the call, its size or the flag. */
static NSX_CHILD int no_clone_into_cgroup(long r)
{
	return r == -ENOSYS || r == -E2BIG || r == -EINVAL;
}

/* raw_fork() into the FORK_CGROUP directory (clone3 with no stack: fork's semantics). */
static NSX_CHILD long raw_fork_into(struct ctx *c, uint32_t opi, uint64_t ns_flags, int cgroup)
{
	struct nsx_clone_args a;
	long r;
	size_t i;
	if (cgroup < 0)
		return raw_fork(ns_flags);
	for (i = 0; i < sizeof(a); i++)
		((char *)&a)[i] = 0;
	a.flags = ns_flags | NSX_CLONE_INTO_CGROUP;
	a.exit_signal = SIGCHLD;
	a.cgroup = (uint64_t)cgroup;
	r = RAW2(NSX_SYS_CLONE3, &a, sizeof(a));
	if (!no_clone_into_cgroup(r))
		return r;
	r = raw_fork(ns_flags);
	if (r == 0)
		join_fork_cgroup(c, opi, cgroup);
	return r;
}

#ifdef NSX_STANDALONE
static NSX_CHILD long clone_grandchild(struct ctx *c, uint32_t opi, const struct op *o, struct resume *rp)
{
	/* The grandchild is in the directory already, or has moved itself: rp->cgroup is closed there. */
	long child = raw_fork_into(c, opi, o->arg[5], rp->cgroup);
	if (child == 0)
		grandchild_main(rp);
	return child;
}
#else
/* Node's memory: the grandchild runs on the second stack, sharing it unless a4 asks for a copy. */
static NSX_CHILD long clone_grandchild(struct ctx *c, uint32_t opi, const struct op *o, struct resume *rp)
{
	long child;
	(void)opi;
	/* Memory of our own already (a copy, not Node's): fork it again, as the executable does.
	 * Sharing it would start the grandchild on the stack we are running on. */
	if (c->own_memory) {
		child = raw_fork_into(c, opi, o->arg[5], rp->cgroup);
		if (child == 0)
			grandchild_main(rp);
		return child;
	}
	/* a4 bit 0: a private copy of the memory instead of sharing it. setns() into a time
	 * namespace refuses any task whose mm another task shares (timens_install: EUSERS). */
	if (rp->cgroup >= 0) {
		struct nsx_clone_args a;
		size_t i;
		for (i = 0; i < sizeof(a); i++)
			((char *)&a)[i] = 0;
		a.flags = ((o->arg[4] & 1) ? 0 : CLONE_VM) | o->arg[5] | NSX_CLONE_INTO_CGROUP;
		a.exit_signal = SIGCHLD;
		a.stack = (uint64_t)(uintptr_t)(c->stack2_top - c->stack2_size);
		a.stack_size = c->stack2_size - 128;
		a.cgroup = (uint64_t)rp->cgroup;
		child = nsx_clone3(&a, sizeof(a), grandchild_main, rp);
		if (!no_clone_into_cgroup(child))
			return child;
		/* Then the grandchild moves itself (grandchild_main: rp->join_cgroup). */
		rp->join_cgroup = 1;
	}
	/* libc's clone() sets errno in Node's TLS on failure; its value is not read. */
	child = clone(grandchild_main, c->stack2_top - 128, (int)(SIGCHLD | ((o->arg[4] & 1) ? 0 : CLONE_VM) | o->arg[5]), rp);
	return child < 0 ? -EAGAIN : child;
}
#endif

/* FORK: the grandchild continues with the ops after this one. */
static NSX_CHILD __attribute__((noreturn)) void do_fork(struct ctx *c, uint32_t opi, const struct op *o)
{
	uint64_t all = ~0ULL;
	long child;
	int writes_info = c->info_due;
	/* The resume record sits at the top of the grandchild's own stack: per spawn, never shared. */
	struct resume local, *rp = c->stack2_top && !c->own_memory ? (struct resume *)(c->stack2_top - 64) : &local;

	rp->c = c;
	rp->next = opi + 1;
	rp->own_memory = (o->arg[4] & 1) || c->own_memory;
	rp->not_ours = o->arg[0] == NSX_FORK_SUPERVISE ? c->console_super : -1;
	rp->join_cgroup = 0;
	/* Consumed by this fork, before it: with shared memory the grandchild sees the same ctx. */
	rp->cgroup = c->fork_cgroup;
	c->fork_cgroup = -1;
	/* Only the staying half, which knows the grandchild's pid, writes the info. */
	c->info_due = 0;
	/* Block everything before the grandchild exists so no SIGCHLD or forwarded signal is lost. */
	RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, 8);
	child = clone_grandchild(c, opi, o, rp);
	if (child < 0)
		die(c, opi, child, NSX_SYS_CLONE);
	if (rp->cgroup >= 0)
		RAW1(SYS_close, rp->cgroup);
#ifdef NSX_STANDALONE
	/* Our own memory (the grandchild's is a copy made just now, which stays as it was): from
	 * now on, not only once nsx-init runs (init.c: harden), a program that starts before our
	 * exec cannot ptrace us, which would keep it attached across the exec. */
	RAW5(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
	send_record(c, NSX_REC_PID, (int32_t)opi, 0, 0, (int32_t)child);
	if (writes_info)
		info_write(c, child);
	if (c->leave_next)
		exit_now(0);
	become_init(c, opi, o, child, writes_info ? c->json_fd : -1);
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

static NSX_CHILD long do_write_file(const struct op *o, int *sys)
{
	long fd, r;
	*sys = NSX_SYS_OPEN;
	fd = RAW4(SYS_openat, AT_FDCWD, o->str[0], O_WRONLY | O_CLOEXEC | O_NOCTTY, 0);
	if (fd < 0)
		return fd;
	/* /proc/PID/{uid_map,setgroups,timens_offsets} take exactly one write(2). */
	*sys = NSX_SYS_WRITE;
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

/* execvpe(3)'s rules over the candidate paths: keep looking past ENOENT/ENOTDIR/EACCES, report EACCES if seen. */
static NSX_CHILD long exec_candidates(char *const *paths, uint64_t npaths, char *const *argv, char *const *envp)
{
	long err = -ENOENT;
	int seen_eacces = 0;
	uint64_t i;

	for (i = 0; i < npaths; i++) {
		err = RAW3(SYS_execve, paths[i], argv, envp);
		if (err == -EACCES)
			seen_eacces = 1;
		else if (err != -ENOENT && err != -ENOTDIR && err != -ENAMETOOLONG)
			return err;
	}
	return seen_eacces ? -EACCES : err;
}

static NSX_CHILD long do_exec(struct ctx *c, const struct op *o)
{
	char *const *paths = o->str;
	char *const *argv = paths + o->arg[0] + 1;
	char *const *envp = o->arg[3] == 1 ? c->inherited_env : argv + o->arg[1] + 1;

	if (c->info_due) {
		c->info_due = 0;
		info_write(c, RAW0(SYS_getpid));
	}
	/* The helper keeps its bindings only if this is the program's execve ('E' then EOF). */
	helper_tell(c, 'E');
	return exec_candidates(paths, o->arg[0], argv, envp);
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

/*
 * SECCOMP: the filter TypeScript compiled. seccomp(2) takes it only from a task with
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

/* RLIMIT: prlimit64 on ourselves; the limits pass through execve(2) to the program. */
static NSX_CHILD long do_rlimit(const struct op *o)
{
	uint64_t limit[2] = { o->arg[1], o->arg[2] };
	return RAW4(SYS_prlimit64, 0, o->arg[0], limit, NULL);
}

/*
 * EXEC_FIFO: the fd is O_PATH (opened before the root changed, so no path inside the container
 * can stand in for it); reopening it through /proc for writing blocks until a reader comes
 * (fifo(7)), which is `start`. The byte tells the reader we are past the wait.
 */
/*
 * Parked, this process may wait long after its caller exits: it must not hold the caller's
 * files (a lock, the caller's own pipes: clone() copied its fd table, and close-on-exec acts
 * only at execve). Everything from the floor up goes, but the status pipe, which still
 * reports a failed execve to a caller that waits.
 */
static NSX_CHILD void close_caller_fds(const struct ctx *c)
{
	uint32_t keep = c->status_fd >= 0 ? (uint32_t)c->status_fd : ~0U;
	if (keep >= c->fd_floor && keep != ~0U) {
		if (keep > c->fd_floor)
			RAW3(SYS_close_range, c->fd_floor, keep - 1, 0);
		RAW3(SYS_close_range, keep + 1, ~0U, 0);
	} else {
		RAW3(SYS_close_range, c->fd_floor, ~0U, 0);
	}
}

static NSX_CHILD long do_exec_fifo(const struct ctx *c, const struct op *o, int *sys)
{
	char path[40] = "/proc/self/fd/";
	char digits[24];
	char *d = format_u64(digits + sizeof(digits), o->arg[0]);
	size_t len = 14;
	long fd, r;
	while (*d && len < sizeof(path) - 1)
		path[len++] = *d++;
	path[len] = 0;
	close_caller_fds(c);
	if (o->arg[1] != ~0ULL) {
		*sys = NSX_SYS_WRITE;
		r = RAW3(SYS_write, o->arg[1], "1", 1);
		RAW1(SYS_close, o->arg[1]);
		if (r < 0)
			return r;
	}
	*sys = NSX_SYS_OPEN;
	fd = RAW4(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	*sys = NSX_SYS_WRITE;
	r = RAW3(SYS_write, fd, "0", 1);
	RAW1(SYS_close, fd);
	RAW1(SYS_close, o->arg[0]);
	return r < 0 ? r : 0;
}

/*
 * HOOK_SYNC: create's hook point, where runc stops too: the caller runs prestart and
 * createRuntime in its own namespaces, then createContainer in ours, while the mounts are in
 * place and the root is still the caller's.
 */
static NSX_CHILD long do_hook_sync(const struct op *o, int *sys)
{
	char b = 0;
	long r;
	if (o->arg[2] != ~0ULL)
		RAW1(SYS_close, o->arg[2]);
	*sys = NSX_SYS_WRITE;
	r = RAW3(SYS_write, o->arg[0], "1", 1);
	RAW1(SYS_close, o->arg[0]);
	if (r < 0)
		return r;
	*sys = NSX_SYS_READ;
	r = read_byte((int)o->arg[1], &b) ? 0 : -ECANCELED;
	RAW1(SYS_close, o->arg[1]);
	return r;
}

static NSX_CHILD long do_mask_path(const struct op *o, int *sys)
{
	struct stat st;
	long r;
	*sys = NSX_SYS_STAT;
	r = RAW4(SYS_newfstatat, AT_FDCWD, o->str[0], &st, 0);
	if (r == -ENOENT || r == -ENOTDIR)
		return 0;
	if (r < 0)
		return r;
	*sys = NSX_SYS_MOUNT;
	if (S_ISDIR(st.st_mode))
		return RAW5(SYS_mount, "tmpfs", o->str[0], "tmpfs", MS_RDONLY, NULL);
	return RAW5(SYS_mount, "/dev/null", o->str[0], NULL, MS_BIND, NULL);
}

static NSX_CHILD long do_readonly_path(const struct op *o, int *sys)
{
	struct statfs sf;
	unsigned long keep = 0;
	long r;
	*sys = NSX_SYS_MOUNT;
	r = RAW5(SYS_mount, o->str[0], o->str[0], NULL, MS_BIND | MS_REC, NULL);
	if (r == -ENOENT || r == -ENOTDIR)
		return 0;
	if (r < 0)
		return r;
	*sys = NSX_SYS_STATFS;
	r = RAW2(SYS_statfs, o->str[0], &sf);
	if (r < 0)
		return r;
	/* ST_* and MS_* agree on these bits but for relatime (statvfs(3), mount(2)) */
	keep = (unsigned long)sf.f_flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME);
	if (sf.f_flags & 4096)
		keep |= MS_RELATIME;
	*sys = NSX_SYS_MOUNT;
	return RAW5(SYS_mount, o->str[0], o->str[0], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL);
}

static NSX_CHILD long do_mknod(const struct op *o, int *sys)
{
	long r;
	*sys = NSX_SYS_MKNOD;
	r = RAW4(SYS_mknodat, AT_FDCWD, o->str[0], o->arg[0], o->arg[1]);
	if (r < 0 || o->arg[2] == ~0ULL)
		return r;
	*sys = NSX_SYS_CHOWN;
	return RAW5(SYS_fchownat, AT_FDCWD, o->str[0], o->arg[2], o->arg[3], AT_SYMLINK_NOFOLLOW);
}

static NSX_CHILD long do_mount_fd(const struct op *o)
{
	char path[40] = "/proc/self/fd/";
	char digits[24];
	char *d = format_u64(digits + sizeof(digits), o->arg[0]);
	size_t len = 14;
	while (*d && len < sizeof(path) - 1)
		path[len++] = *d++;
	path[len] = 0;
	return RAW5(SYS_mount, path, o->str[0], NULL, MS_BIND | (long)o->arg[1], NULL);
}

/* Attach detached mount fd @fd at @dest: move_mount(2) of an open_tree(OPEN_TREE_CLONE) or fsmount(2) fd. */
static NSX_CHILD long attach_tree(long fd, const char *dest, int *sys)
{
	*sys = NSX_SYS_MOVE_MOUNT;
	return raw6(NSX_SYS_move_mount, fd, (long)"", AT_FDCWD, (long)dest, NSX_MOVE_MOUNT_F_EMPTY_PATH, 0);
}

/*
 * BIND_TREE: a clone of s0's tree (recursive if a0), its mount flags changed (a1 set, a2
 * cleared) while still detached, attached at s1. mount_setattr(AT_RECURSIVE) reaches every
 * mount of the clone without a lookup of its path, so mounts below directories we may not
 * search come along read-only instead of failing a remount with EACCES.
 */
static NSX_CHILD long do_bind_tree(const struct op *o, int *sys)
{
	long rec = o->arg[0] ? NSX_AT_RECURSIVE : 0, fd, r;
	/* Private too: a clone of a shared mount joins its peer group (clone_mnt() in
	 * fs/namespace.c), and what is mounted on it later must not propagate back. */
	struct nsx_mount_attr attr = { o->arg[1], o->arg[2], MS_PRIVATE, 0 };

	*sys = NSX_SYS_OPEN_TREE;
	fd = RAW3(NSX_SYS_open_tree, AT_FDCWD, o->str[0], NSX_OPEN_TREE_CLONE | O_CLOEXEC | rec);
	if (fd < 0)
		return fd;
	*sys = NSX_SYS_MOUNT_SETATTR;
	r = RAW5(NSX_SYS_mount_setattr, fd, "", AT_EMPTY_PATH | rec, &attr, sizeof(attr));
	if (r == 0)
		r = attach_tree(fd, o->str[1], sys);
	RAW1(SYS_close, fd);
	return r;
}

static NSX_CHILD long do_link_up(const struct op *o, int *sys)
{
	struct ifreq ifr;
	size_t i;
	long s, r;

	for (i = 0; i < sizeof(ifr); i++)
		((char *)&ifr)[i] = 0;
	for (i = 0; i < NSX_IFNAME_MAX && o->str[0][i]; i++)
		ifr.ifr_name[i] = o->str[0][i];
	*sys = NSX_SYS_SOCKET;
	s = RAW3(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return s;
	*sys = NSX_SYS_IOCTL;
	r = RAW3(SYS_ioctl, s, SIOCGIFFLAGS, &ifr);
	if (r == 0) {
		ifr.ifr_flags |= IFF_UP;
		r = RAW3(SYS_ioctl, s, SIOCSIFFLAGS, &ifr);
	}
	RAW1(SYS_close, s);
	return r;
}

/* CONSOLE_SOCKET: both ends above the fds the plan places, close-on-exec. */
static NSX_CHILD long console_socket(struct ctx *c)
{
	int sv[2];
	long r = RAW4(SYS_socketpair, AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
	int k;
	if (r < 0)
		return r;
	for (k = 0; k < 2; k++) {
		long high = RAW3(SYS_fcntl, sv[k], F_DUPFD_CLOEXEC, c->fd_floor);
		RAW1(SYS_close, sv[k]);
		if (high < 0) {
			if (k)
				RAW1(SYS_close, sv[0]);
			return high;
		}
		sv[k] = (int)high;
	}
	c->console_super = sv[0];
	c->console_prog = sv[1];
	return 0;
}

/* Sends fd over a unix socket (SCM_RIGHTS) with one byte of data, as a console socket carries it. */
static NSX_CHILD long send_fd(int sock, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char byte = 'M';
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { 0 };
	struct cmsghdr *cm;
	size_t i;

	for (i = 0; i < sizeof(u.buf); i++)
		u.buf[i] = 0;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	*(int *)CMSG_DATA(cm) = fd;
	return raw6(SYS_sendmsg, sock, (long)&msg, MSG_NOSIGNAL, 0, 0, 0);
}

/*
 * TERMINAL: the program's controlling terminal, a pty of the devpts its root has (so that
 * `tty` names /dev/pts/N inside). Its peer is opened from the master by fd (TIOCGPTPEER,
 * Linux 4.13), never by a path the container could swap. The master goes to the supervisor.
 */
static NSX_CHILD long do_terminal(struct ctx *c, const struct op *o, int *sys)
{
	struct winsize ws;
	int unlock = 0, t;
	long m, s, r;

	*sys = NSX_SYS_SETSID;
	if (c->console_prog < 0)
		return -EBADF;
	r = RAW0(SYS_setsid);
	if (r < 0)
		return r;
	*sys = NSX_SYS_OPEN;
	m = RAW4(SYS_openat, AT_FDCWD, o->str[0], O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
	if (m < 0)
		return m;
	*sys = NSX_SYS_IOCTL;
	r = RAW3(SYS_ioctl, m, TIOCSPTLCK, &unlock);
	s = r < 0 ? r : RAW3(SYS_ioctl, m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	if (s < 0) {
		RAW1(SYS_close, m);
		return s;
	}
	if ((int64_t)o->arg[0] >= 0 && RAW3(SYS_ioctl, o->arg[0], TIOCGWINSZ, &ws) == 0)
		RAW3(SYS_ioctl, s, TIOCSWINSZ, &ws);
	r = 0;
	if ((int64_t)o->arg[1] >= 0) {
		*sys = NSX_SYS_FCHOWN;
		r = RAW3(SYS_fchown, s, o->arg[1], o->arg[2]);
	}
	if (r == 0) {
		*sys = NSX_SYS_IOCTL;
		r = RAW3(SYS_ioctl, s, TIOCSCTTY, 0);
	}
	for (t = 0; t < 3 && r >= 0; t++) {
		*sys = NSX_SYS_DUP2;
		r = s == t ? 0 : RAW3(SYS_dup3, s, t, 0);
	}
	if (s > 2)
		RAW1(SYS_close, s);
	if (r >= 0) {
		*sys = NSX_SYS_SENDMSG;
		r = send_fd(c->console_prog, (int)m);
	}
	RAW1(SYS_close, m);
	RAW1(SYS_close, c->console_prog);
	return r < 0 ? r : 0;
}

/* What ERRORS records, used by run_ops and by nsx_render_error. */
static NSX_CHILD void note_errors_op(struct ctx *c, const struct op *o)
{
	c->in_place = 1;
	c->prog = o->str[0];
	c->exit_failure = o->arg[0];
	c->exit_noexec = o->arg[1];
	c->exit_notfound = o->arg[2];
}

#ifdef NSX_STANDALONE
/* Moves a new fd of ours above the fds the plan places, close-on-exec. */
static NSX_CHILD long lift_fd(struct ctx *c, long fd)
{
	long high = RAW3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, c->fd_floor);
	RAW1(SYS_close, fd);
	return high;
}

/*
 * RUN_HELPER: newuidmap/newgidmap PID RANGES..., as util-linux runs them from its helper. Its
 * stderr is kept (up to MAX_HELPER_OUTPUT) for the message. Return: 0, -errno, or 1 when it
 * ran and failed, with its output in @out.
 */
static NSX_CHILD long run_helper_program(struct ctx *c, const struct op *o, int *sys, char *out, size_t cap)
{
	char *const *paths = o->str;
	char *const *argv = paths + o->arg[0] + 1;
	char *envp[1] = { NULL };
	char drain[256];
	int p[2];
	long pid, r, n = 0;
	int st = 0;

	*sys = NSX_SYS_PIPE2;
	r = RAW2(SYS_pipe2, p, O_CLOEXEC);
	if (r < 0)
		return r;
	/* The helper has no stdio of its own: keep the pipe clear of 0-2, which the program gets. */
	p[0] = (int)lift_fd(c, p[0]);
	p[1] = (int)lift_fd(c, p[1]);
	*sys = NSX_SYS_CLONE;
	pid = raw_fork(0);
	if (pid == 0) {
		long null = lift_fd(c, RAW4(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC, 0));
		if (null >= 0) {
			RAW3(SYS_dup3, null, 0, 0);
			RAW3(SYS_dup3, null, 1, 0);
		}
		RAW3(SYS_dup3, p[1], 2, 0);
		exec_candidates(paths, o->arg[0], argv, envp);
		exit_now(127);
	}
	RAW1(SYS_close, p[1]);
	if (pid < 0) {
		RAW1(SYS_close, p[0]);
		return pid;
	}
	for (;;) {
		r = (size_t)n + 1 < cap ? RAW3(SYS_read, p[0], out + n, cap - 1 - (size_t)n) : RAW3(SYS_read, p[0], drain, sizeof(drain));
		if (r == -EINTR)
			continue;
		if (r <= 0)
			break;
		if ((size_t)n + 1 < cap)
			n += r;
	}
	RAW1(SYS_close, p[0]);
	out[n] = 0;
	*sys = NSX_SYS_WAIT4;
	do
		r = RAW4(SYS_wait4, pid, &st, 0, NULL);
	while (r == -EINTR);
	if (r < 0)
		return r;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

/* BIND_NS: keep a namespace on a file, as `unshare --net=FILE` does, remembering how to undo it. */
static NSX_CHILD long bind_ns(struct ctx *c, const struct op *o, int *sys)
{
	int created = 0;
	long r;

	if (c->nbound >= NSX_MAX_BINDS)
		return -E2BIG;
	if (o->arg[0] == 1) {
		/* O_EXCL: a file someone else makes meanwhile is never taken over (and never removed). */
		*sys = NSX_SYS_OPEN;
		r = RAW4(SYS_openat, AT_FDCWD, o->str[1], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0444);
		if (r >= 0) {
			RAW1(SYS_close, r);
			created = 1;
		} else if (r != -EEXIST) {
			return r;
		}
	}
	*sys = NSX_SYS_MOUNT;
	r = RAW5(SYS_mount, o->str[0], o->str[1], NULL, MS_BIND, NULL);
	if (r < 0) {
		if (created)
			RAW3(SYS_unlinkat, AT_FDCWD, o->str[1], 0);
		return r;
	}
	c->bound[c->nbound] = o->str[1];
	c->bound_created[c->nbound] = created;
	c->nbound++;
	return 0;
}


/*
 * The helper (a grandchild of ours, so never the program's child), left in the namespaces we
 * started in: it runs its ops stage by stage when told, answers 'K' or 'F', and at the end
 * keeps its bindings only if our last word was 'E' (the program's execve) before EOF.
 */
static NSX_CHILD __attribute__((noreturn)) void helper_main(struct ctx *c, uint32_t first, uint32_t count, int go, int res)
{
	char out[NSX_MAX_HELPER_OUTPUT + 1];
	struct kernel_sigaction ign = { 0 };
	uint32_t i, end = first + count;
	int started = 0;
	char b, last = 0;

	c->in_helper = 1;
	c->helper_go = -1;
	c->helper_res = res;
	c->nbound = 0;
	/* A session of its own: ^C at the terminal must not stop it before it has undone its work. */
	RAW0(SYS_setsid);
	ign.handler = SIG_IGN;
	RAW4(SYS_rt_sigaction, SIGPIPE, &ign, NULL, 8);
	{
		long keep[3] = { go, res, c->err_fd };
		raw_close_all_but(keep, 3);
	}
	for (i = first; i < end; i++) {
		const struct op *o = &c->ops[i];
		long rc = 0;
		int sys = NSX_SYS_NONE;
		if (o->code == NSX_OP_HELPER_STAGE) {
			if (started)
				write_all(res, "K", 1);
			started = 1;
			if (!read_byte(go, &b) || b != 'G') {
				helper_undo(c);
				exit_now(0);
			}
			continue;
		}
		if (o->code == NSX_OP_WRITE_FILE) {
			rc = do_write_file(o, &sys);
		} else if (o->code == NSX_OP_BIND_NS) {
			rc = bind_ns(c, o, &sys);
		} else if (o->code == NSX_OP_RUN_HELPER) {
			rc = run_helper_program(c, o, &sys, out, sizeof(out));
			if (rc == 1) {
				/* As String.prototype.trim(): no surrounding whitespace; the label's fallback if nothing is left. */
				char *s = out, *e = out + cstrlen(out);
				while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
					s++;
				while (e > s && (e[-1] == ' ' || (e[-1] >= '\t' && e[-1] <= '\r')))
					*--e = 0;
				fail(c, i, 0, NSX_SYS_NONE, *s ? s : (o->label[3] ? o->label[3] : "failed"));
			}
		}
		if (rc < 0)
			die(c, i, rc, sys);
	}
	write_all(res, "K", 1);
	/* Bindings to keep or take back: a process of its own waits for our parent's execve, so that
	 * the helper itself is reaped now and the program never has it as a child. */
	if (c->nbound && raw_fork(0) == 0) {
		/* 'F' is final (our parent waits for us to finish the undo); 'E' may yet be followed by it. */
		while (last != 'F' && read_byte(go, &b))
			last = b;
		if (last != 'E')
			helper_undo(c);
	}
	exit_now(0);
}

/*
 * HELPER_FORK: start the helper before anything changes, and skip its ops. One socket pair
 * carries both ways; our end is close-on-exec, so the helper reads EOF once every copy of it
 * (ours, a fork's) has exec'd or exited.
 */
static NSX_CHILD long helper_fork(struct ctx *c, uint32_t opi, const struct op *o, int *sys)
{
	int sv[2];
	long h, r;

	*sys = NSX_SYS_SOCKETPAIR;
	r = RAW4(SYS_socketpair, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	if (r < 0)
		return r;
	sv[0] = (int)lift_fd(c, sv[0]);
	sv[1] = (int)lift_fd(c, sv[1]);
	c->helper_parent = RAW0(SYS_getpid);
	*sys = NSX_SYS_CLONE;
	h = raw_fork(0);
	if (h == 0) {
		RAW1(SYS_close, sv[0]);
		helper_main(c, opi + 1, (uint32_t)o->arg[0], sv[1], sv[1]);
	}
	RAW1(SYS_close, sv[1]);
	if (h < 0) {
		RAW1(SYS_close, sv[0]);
		return h;
	}
	c->helper_pid = h;
	c->helper_go = c->helper_res = sv[0];
	return 0;
}

/*
 * HELPER_SYNC: the helper's next stage; it printed its own failure, so we end quietly on 'F'.
 * After its last stage (a0=1) it exits: reaped here by the process that forked it, or, past a
 * fork, by nsx-init, which that process has become. The program never inherits it.
 */
static NSX_CHILD long helper_sync(struct ctx *c, const struct op *o, int *sys)
{
	char b = 0;
	int st;
	*sys = NSX_SYS_READ;
	if (c->helper_go < 0)
		return -EBADF;
	helper_tell(c, 'G');
	if (!read_byte(c->helper_res, &b))
		return -EPIPE;
	if (b == 'F') {
		helper_abandon(c);
		exit_now((long)c->exit_failure);
	}
	if (b != 'K')
		return -EPROTO;
	if (o->arg[0] == 1 && RAW0(SYS_getpid) == c->helper_parent) {
		*sys = NSX_SYS_WAIT4;
		while (RAW4(SYS_wait4, c->helper_pid, &st, 0, NULL) == -EINTR)
			;
	}
	return 0;
}
#endif

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
				exit_now(NSX_CHILD_FAILURE_EXIT);
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
			rc = do_write_file(o, &sys);
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
		case NSX_OP_MOVE_MOUNT:
			rc = attach_tree((long)o->arg[0], o->str[0], &sys);
			break;
		case NSX_OP_BIND_TREE:
			rc = do_bind_tree(o, &sys);
			break;
		case NSX_OP_ERRORS:
			note_errors_op(c, o);
			/* Our stderr as the caller gave it, before the plan places other fds there. */
			rc = RAW3(SYS_fcntl, 2, F_DUPFD_CLOEXEC, c->fd_floor);
			c->err_fd = rc >= 0 ? (int)rc : -1;
			rc = 0;
			break;
		case NSX_OP_INFO:
			c->info = o;
			c->info_fd = (int)(int64_t)o->arg[0];
			c->json_fd = (int)(int64_t)o->arg[1];
			c->info_due = 1;
			info_stat(c);
			break;
		case NSX_OP_LINK_UP:
			rc = do_link_up(o, &sys);
			break;
		case NSX_OP_SECCOMP:
			sys = NSX_SYS_SECCOMP;
			rc = do_seccomp(o, &sys);
			break;
		case NSX_OP_RLIMIT:
			sys = NSX_SYS_PRLIMIT64;
			rc = do_rlimit(o);
			break;
		case NSX_OP_UMASK:
			sys = NSX_SYS_UMASK;
			RAW1(SYS_umask, o->arg[0] & 0777);
			break;
		case NSX_OP_EXEC_FIFO:
			rc = do_exec_fifo(c, o, &sys);
			break;
		case NSX_OP_MASK_PATH:
			rc = do_mask_path(o, &sys);
			break;
		case NSX_OP_READONLY_PATH:
			rc = do_readonly_path(o, &sys);
			break;
		case NSX_OP_MKNOD:
			rc = do_mknod(o, &sys);
			break;
		case NSX_OP_CONSOLE_SOCKET:
			sys = NSX_SYS_SOCKETPAIR;
			rc = console_socket(c);
			break;
		case NSX_OP_TERMINAL:
			rc = do_terminal(c, o, &sys);
			break;
		case NSX_OP_CONSOLE_FD:
			c->console_prog = (int)o->arg[0];
			break;
		case NSX_OP_LEAVE:
			c->leave_next = 1;
			break;
		case NSX_OP_FORK_CGROUP: {
			/* Above the floor, clear of every fd the plan places for the program. */
			long fd = RAW4(SYS_openat, AT_FDCWD, o->str[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
			if (fd >= 0) {
				long high = RAW3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, c->fd_floor);
				RAW1(SYS_close, fd);
				fd = high;
			}
			if (fd < 0) {
				rc = fd;
				sys = NSX_SYS_OPEN;
				break;
			}
			if (c->fork_cgroup >= 0)
				RAW1(SYS_close, c->fork_cgroup);
			c->fork_cgroup = (int)fd;
			break;
		}
		case NSX_OP_HOOK_SYNC:
			rc = do_hook_sync(o, &sys);
			break;
#ifdef NSX_STANDALONE
		case NSX_OP_HELPER_FORK:
			rc = helper_fork(c, i, o, &sys);
			i += (uint32_t)o->arg[0];
			break;
		case NSX_OP_HELPER_SYNC:
			rc = helper_sync(c, o, &sys);
			break;
#endif
		default:
			/* A helper op outside its range, or one this target does not run. */
			rc = -ENOSYS;
			break;
		}
		if (rc < 0)
			die(c, i, rc, sys);
	}
	exit_now(0);
	return 0;
}

/* ---- decoding: shared by both targets, run before anything else, libc-free ---- */

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

static int has_nul(const uint8_t *p, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (p[i] == 0)
			return 1;
	return 0;
}

static uint32_t popcount4(uint32_t m)
{
	return (m & 1) + ((m >> 1) & 1) + ((m >> 2) & 1) + ((m >> 3) & 1);
}

/* Extra NULL slots an op's pointer block gets beyond its strings: list terminators. */
static size_t extra_ptrs(uint32_t code)
{
	return code == NSX_OP_EXEC ? 3 : code == NSX_OP_RUN_HELPER ? 2 : 0;
}

static int is_helper_op(uint32_t code)
{
	return code == NSX_OP_HELPER_STAGE || code == NSX_OP_RUN_HELPER || code == NSX_OP_BIND_NS || code == NSX_OP_WRITE_FILE;
}

/* Per-op argument rules; @a: the op head's args. Return: NSX_DECODE_OK or what is wrong. */
static int check_args(uint32_t code, uint32_t nstr, const uint8_t *a, uint32_t opi, uint32_t nops)
{
	uint64_t a0 = rd64(a), a1 = rd64(a + 8), a2 = rd64(a + 16), a3 = rd64(a + 24), a4 = rd64(a + 32), a5 = rd64(a + 40);
	(void)a3;
	switch (code) {
	case NSX_OP_EXEC:
		if (a0 > nstr || a1 > nstr || a2 > nstr || a0 + a1 + a2 != nstr || (a3 == 1 && a2 != 0))
			return NSX_DECODE_STRING_COUNT;
		if (a0 == 0 || a1 == 0)
			return NSX_DECODE_NO_ARGV;
		return NSX_DECODE_OK;
	case NSX_OP_RUN_HELPER:
		if (a0 > nstr || a1 > nstr || a0 + a1 != nstr)
			return NSX_DECODE_STRING_COUNT;
		return a0 == 0 || a1 == 0 ? NSX_DECODE_NO_ARGV : NSX_DECODE_OK;
	case NSX_OP_REPORT_NS:
		return nstr > NSX_MAX_NS_IDS ? NSX_DECODE_TOO_MANY_IDS : NSX_DECODE_OK;
	case NSX_OP_INFO:
		if (nstr % 2 || nstr / 2 > NSX_MAX_NS_IDS)
			return NSX_DECODE_TOO_MANY_IDS;
		/* fds, as two's complement: -1 (none) or 0..2^31-1 */
		return (a0 > 0x7fffffffULL && a0 != ~0ULL) || (a1 > 0x7fffffffULL && a1 != ~0ULL) ? NSX_DECODE_BAD_ARGUMENT
												  : NSX_DECODE_OK;
	case NSX_OP_SETNS:
		if (a1 & ~(uint64_t)NSX_ALL_NS_FLAGS)
			return NSX_DECODE_NS_FLAGS;
		/* setns modes are 0..2 with a slot bit 0..63 (do_setns) */
		return a2 > 2 || a3 >= 64 ? NSX_DECODE_BAD_ARGUMENT : NSX_DECODE_OK;
	case NSX_OP_UNSHARE:
		return a0 & ~(uint64_t)NSX_ALL_NS_FLAGS ? NSX_DECODE_NS_FLAGS : NSX_DECODE_OK;
	case NSX_OP_SETGROUPS:
		/* bounded before its data length is compared with count * 4, which cannot wrap then */
		return a0 > NSX_MAX_GROUPS ? NSX_DECODE_BAD_ARGUMENT : NSX_DECODE_OK;
	case NSX_OP_SECCOMP:
		/* A filter is 1..BPF_MAXINSNS instructions (the kernel's bound), with known flags only. */
		return (a0 & ~NSX_SECCOMP_FLAGS) || a1 == 0 || a1 > BPF_MAXINSNS ? NSX_DECODE_BAD_ARGUMENT : NSX_DECODE_OK;
	case NSX_OP_RLIMIT:
		/* RLIMIT_NLIMITS is 16; the soft limit may not exceed the hard one (setrlimit(2): EINVAL). */
		return a0 >= 16 || a1 > a2 ? NSX_DECODE_BAD_ARGUMENT : NSX_DECODE_OK;
	case NSX_OP_UMASK:
		return a0 > 0777 ? NSX_DECODE_BAD_ARGUMENT : NSX_DECODE_OK;
	case NSX_OP_CONSOLE_FD:
		return a0 > 0x7fffffffULL ? NSX_DECODE_BAD_ARGUMENT : NSX_DECODE_OK;
	case NSX_OP_MKNOD:
		/* a node type and permissions only (S_IFMT | 07777); an owner: both ids, or neither (-1) */
		if (a0 & ~0177777ULL)
			return NSX_DECODE_BAD_ARGUMENT;
		if (a2 == ~0ULL || a3 == ~0ULL)
			return a2 == a3 ? NSX_DECODE_OK : NSX_DECODE_BAD_ARGUMENT;
		return a2 > 0xfffffffeULL || a3 > 0xfffffffeULL ? NSX_DECODE_BAD_ARGUMENT : NSX_DECODE_OK;
	case NSX_OP_EXEC_FIFO:
		return a0 > 0x7fffffffULL || (a1 > 0x7fffffffULL && a1 != ~0ULL) ? NSX_DECODE_BAD_ARGUMENT : NSX_DECODE_OK;
	case NSX_OP_HOOK_SYNC:
		return a0 > 0x7fffffffULL || a1 > 0x7fffffffULL || (a2 > 0x7fffffffULL && a2 != ~0ULL) ? NSX_DECODE_BAD_ARGUMENT : NSX_DECODE_OK;
	case NSX_OP_FD_STASH:
		return a1 >= NSX_MAX_FD_SLOTS ? NSX_DECODE_FD_SLOT : NSX_DECODE_OK;
	case NSX_OP_FD_PLACE:
		return a0 >= NSX_MAX_FD_SLOTS ? NSX_DECODE_FD_SLOT : NSX_DECODE_OK;
	case NSX_OP_FORK:
		if (a5 & ~(uint64_t)NSX_CLONE_NS_FLAGS)
			return NSX_DECODE_NS_FLAGS;
		if (a0 > NSX_FORK_SUPERVISE || a4 > 1 || nstr > NSX_MAX_FORK_WORDS || (nstr && a0 != NSX_FORK_SUPERVISE))
			return NSX_DECODE_BAD_ARGUMENT;
		return NSX_DECODE_OK;
	case NSX_OP_HELPER_FORK:
		return a0 == 0 || a0 >= (uint64_t)(nops - opi) ? NSX_DECODE_HELPER_RANGE : NSX_DECODE_OK;
	case NSX_OP_BIND_NS:
		return a0 > 1 ? NSX_DECODE_BAD_ARGUMENT : NSX_DECODE_OK;
	case NSX_OP_MOVE_MOUNT:
		return a0 > 0x7fffffffULL ? NSX_DECODE_BAD_ARGUMENT : NSX_DECODE_OK;
	case NSX_OP_BIND_TREE:
		/* recursive or not; known flags only, none both set and cleared, never IDMAP (no userns fd here) */
		return a0 > 1 || (a1 & ~NSX_BIND_TREE_ATTRS) || (a2 & ~NSX_BIND_TREE_ATTRS) || (a1 & a2) ? NSX_DECODE_BAD_ARGUMENT
												       : NSX_DECODE_OK;
	case NSX_OP_ERRORS:
		return a0 > 255 || a1 > 255 || a2 > 255 ? NSX_DECODE_BAD_ARGUMENT : NSX_DECODE_OK;
	case NSX_OP_TERMINAL:
		/* an fd (-1: none, as two's complement), and an owner: both ids, or neither (-1) */
		if (a0 > 0x7fffffffULL && a0 != ~0ULL)
			return NSX_DECODE_BAD_ARGUMENT;
		if (a1 == ~0ULL || a2 == ~0ULL)
			return a1 == a2 ? NSX_DECODE_OK : NSX_DECODE_BAD_ARGUMENT;
		return a1 > 0xfffffffeULL || a2 > 0xfffffffeULL ? NSX_DECODE_BAD_ARGUMENT : NSX_DECODE_OK;
	default:
		return NSX_DECODE_OK;
	}
}

int nsx_decode(const uint8_t *plan, size_t len, struct nsx_decoded *out, size_t *bad_offset)
{
	size_t off = 0, strings = 0, extra = 0;
	uint32_t i, nops, helper_left = 0, binds = 0;
	int first_in_range = 0;

	out->clone_flags = 0;
	out->fd_floor = 0;
	out->nops = 0;
	out->nstrings = 0;
	out->exec_ptrs = 0;
	out->inherit_env = 0;
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
		uint32_t code, nstr, mask, nlabel, s;
		size_t op_off = off;
		int arity, rc;
		if (len - off < NSX_OP_HEAD_BYTES) {
			*bad_offset = off;
			return NSX_DECODE_SHORT;
		}
		code = rd32(plan + off);
		nstr = rd32(plan + off + 4);
		mask = rd32(plan + off + 8 + 8 * NSX_OP_ARGS);
		if (code > NSX_OP_MAX || nsx_op_strings[code] == -2) {
			*bad_offset = off;
			return NSX_DECODE_BAD_OPCODE;
		}
		if ((mask & ~(uint32_t)NSX_LABEL_ALL) || rd32(plan + off + 12 + 8 * NSX_OP_ARGS) != 0) {
			*bad_offset = off;
			return NSX_DECODE_BAD_LABEL;
		}
		nlabel = popcount4(mask);
		arity = nsx_op_strings[code];
		if ((arity >= 0 && nstr != (uint32_t)arity) || nstr > NSX_MAX_STRINGS - strings ||
		    nlabel > NSX_MAX_STRINGS - strings - nstr) {
			*bad_offset = off;
			return NSX_DECODE_STRING_COUNT;
		}
		/* A helper's ops follow its HELPER_FORK, first a stage marker; helper ops go nowhere else. */
		if (helper_left ? (!is_helper_op(code) || (first_in_range && code != NSX_OP_HELPER_STAGE))
				: (is_helper_op(code) && code != NSX_OP_WRITE_FILE)) {
			*bad_offset = off;
			return NSX_DECODE_HELPER_RANGE;
		}
		if (helper_left) {
			helper_left--;
			first_in_range = 0;
		}
		if (code == NSX_OP_BIND_NS && ++binds > NSX_MAX_BINDS) {
			*bad_offset = off;
			return NSX_DECODE_BAD_ARGUMENT;
		}
		rc = check_args(code, nstr, plan + off + 8, i, nops);
		if (rc != NSX_DECODE_OK) {
			*bad_offset = off;
			return rc;
		}
		if (code == NSX_OP_HELPER_FORK) {
			helper_left = (uint32_t)rd64(plan + off + 8);
			first_in_range = 1;
		}
		if (code == NSX_OP_EXEC && rd64(plan + off + 32) == 1)
			out->inherit_env = 1;
		extra += extra_ptrs(code);
		off += NSX_OP_HEAD_BYTES;
		for (s = 0; s < nstr + nlabel; s++) {
			uint32_t slen;
			size_t padded;
			int binary = (code == NSX_OP_SETGROUPS || code == NSX_OP_SECCOMP) && s < nstr;
			uint64_t unit = code == NSX_OP_SECCOMP ? 8 : 4; /* a struct sock_filter, or a gid */
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
			if (plan[off + slen - 1] != 0 || (!binary && has_nul(plan + off, slen - 1))) {
				*bad_offset = off;
				return NSX_DECODE_STRING_NUL;
			}
			if ((binary && (uint64_t)(slen - 1) != rd64(plan + op_off + (code == NSX_OP_SECCOMP ? 16 : 8)) * unit) ||
			    (code == NSX_OP_LINK_UP && s == 0 && slen - 1 > NSX_IFNAME_MAX)) {
				*bad_offset = off;
				return NSX_DECODE_STRING_LENGTH;
			}
			off += padded;
		}
		strings += nstr;
	}
	if (helper_left) {
		*bad_offset = off;
		return NSX_DECODE_HELPER_RANGE;
	}
	if (off != len) {
		*bad_offset = off;
		return NSX_DECODE_TRAILING_BYTES;
	}
	out->nops = nops;
	out->nstrings = strings;
	out->exec_ptrs = extra;
	return NSX_DECODE_OK;
}

/* Bytes materialize() writes: the ops, then every op's pointer block. */
static size_t layout_size(const struct nsx_decoded *d)
{
	return sizeof(struct op) * d->nops + sizeof(char *) * (d->nstrings + d->exec_ptrs);
}

/* Lays out ops and string pointers in mem (layout_size bytes), pointing into plan. */
static struct op *materialize(uint8_t *plan, const struct nsx_decoded *d, uint8_t *mem)
{
	struct op *ops = (struct op *)mem;
	char **ptrs = (char **)(mem + sizeof(struct op) * d->nops);
	size_t off = 24;
	uint32_t i, s, a;

	for (i = 0; i < d->nops; i++) {
		struct op *o = &ops[i];
		uint32_t mask, bit;
		o->code = rd32(plan + off);
		o->nstr = rd32(plan + off + 4);
		for (a = 0; a < NSX_OP_ARGS; a++)
			o->arg[a] = rd64(plan + off + 8 + 8 * a);
		mask = rd32(plan + off + 8 + 8 * NSX_OP_ARGS);
		o->str = ptrs;
		off += NSX_OP_HEAD_BYTES;
		for (s = 0; s < o->nstr; s++) {
			uint32_t slen = rd32(plan + off);
			off += 4;
			if ((o->code == NSX_OP_EXEC || o->code == NSX_OP_RUN_HELPER) &&
			    (s == o->arg[0] || (o->code == NSX_OP_EXEC && s == o->arg[0] + o->arg[1])))
				*ptrs++ = NULL; /* terminate paths, then argv */
			*ptrs++ = (char *)(plan + off);
			off += ((size_t)slen + 3) & ~(size_t)3;
		}
		/* With no environment strings the loop never reached argv's end: terminate it here,
		 * so that exec's three NULLs always fill the three slots nsx_decode reserved. */
		if (o->code == NSX_OP_EXEC && o->arg[2] == 0)
			*ptrs++ = NULL;
		if (o->code == NSX_OP_EXEC || o->code == NSX_OP_RUN_HELPER)
			*ptrs++ = NULL; /* terminate envp (EXEC) or argv (RUN_HELPER) */
		for (bit = 0; bit < 4; bit++) {
			o->label[bit] = NULL;
			if (!(mask & (1u << bit)))
				continue;
			o->label[bit] = (const char *)(plan + off + 4);
			off += 4 + (((size_t)rd32(plan + off) + 3) & ~(size_t)3);
		}
	}
	return ops;
}

/* The state a stage starts from, before its first op. */
static void ctx_init(struct ctx *c)
{
	size_t i;
	for (i = 0; i < sizeof(*c); i++)
		((char *)c)[i] = 0;
	c->status_fd = c->go_fd = c->parent_status_fd = c->parent_go_fd = -1;
	c->err_fd = c->helper_go = c->helper_res = c->info_fd = c->json_fd = -1;
	c->console_super = c->console_prog = -1;
	c->fork_cgroup = -1;
}
