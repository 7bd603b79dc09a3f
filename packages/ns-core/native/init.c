/*
 * init.c - nsx-init: what a FORK op of the exec stage leaves behind, with memory of its own.
 *
 *   nsx-init relay|init|supervise CHILD_PID FORWARD_MASK IGNORE_MASK STATUS_FD [WORD...]
 *
 * It waits for CHILD_PID and exits as it did: with its status, or by the same signal (128+N as
 * PID 1, which cannot die of a signal it sends itself). Signals in FORWARD_MASK (bit n-1 for
 * signal n) are passed on to CHILD_PID; those in IGNORE_MASK are ignored; every other signal
 * acts on nsx-init by its default action, as on util-linux's waiting parent. init mode reaps
 * every orphan, as PID 1 must. STATUS_FD ("-" for none) gets {"exit-code":N} at the end
 * (--json-status-fd).
 *
 * supervise mode (a container's supervisor) takes WORDs. These say how to wait:
 *   console FD        a console socket (the stage's CONSOLE_SOCKET): the program's pty master
 *                     comes on it (SCM_RIGHTS) and is relayed as `pty` says
 *   pty OUT IN        copy the master to fd OUT, and fd IN (or "-": nothing) to the master; IN
 *                     in raw mode while it runs if it is a terminal, the master's size following
 *                     IN's (or OUT's) on SIGWINCH, the terminal restored at the end
 *   session           the program has a session of its own: signals a terminal sent us (^C,
 *                     a hangup) reached only us, so they are passed on too
 *   exit-file PATH    once the program is gone, write its exit code ("N\n") to PATH
 *   signal-as-code    a program killed by signal N: exit 128+N rather than die of N (docker's
 *                     status: a shell waiting for us must not report the runner as killed)
 *   report            the on-exit command writes to our stderr (kept open for it), and if it
 *                     exits N != 0 after a program that exited 0, we exit N: a cleanup it found
 *                     incomplete fails the run, as docker's does, without hiding the program's status
 * and these, in order, once CHILD_PID is gone (a cleanup that fails is skipped, the status
 * stays the program's):
 *   rmdir PATH        an empty directory (a cgroup)
 *   unlink PATH       a file
 *   rmtree PATH       a directory and everything in it, never following a symlink or entering
 *                     another filesystem mounted inside
 *   rmcgroup PATH     a cgroup: whatever the program left in it killed (cgroup.kill, v2), then
 *                     removed once the kernel lets it go (a killed task holds it while it exits)
 *   userns FD         join that user namespace for the words after it (removing files its
 *                     ids made, which the caller's own ids may not)
 *   release STATE ID EXIT
 *                     the end of an auto-removed container's state file STATE (as ns-container's
 *                     StateStore.release does it): EXIT gets the exit code ("N\n") first; then
 *                     STATE goes, and EXIT with it, unless a live process waits to read them (a
 *                     file STATE.wait.PID whose PID lives: that waiter removes both), or STATE no
 *                     longer holds ID (the name was taken by a new container: only EXIT goes)
 *   left-report PROG  a cgroup the rmcgroup words could not remove is named on our stderr, on one
 *                     line that starts with PROG, and a program that exited 0 makes us exit 125:
 *                     a cleanup that failed fails the run, as docker's does
 *   on-exit ARGV...   last: run with the exit code appended, and waited for
 *
 * Freestanding (no libc): it is exec'd by fd into whatever root the container has, and it
 * inherits the exec stage's fully blocked signal mask, so pending signals wait for it.
 */
#include <asm/termbits.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/prctl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "raw.h"
#include "freestanding.h"

#define EINTR_ 4
#define EAGAIN_ 11
#define EIO_ 5
#define EPERM_ 1
#define ENOENT_ 2
#define ESRCH_ 3
#define EACCES_ 13
#define EBUSY_ 16
#define ENOTEMPTY_ 39
/* A state file is a few KiB; one that does not show our id within this much is not ours. */
#define STATE_SCAN_MAX (1 << 20)
/* left-report: the cgroups named at most (a container has one per hierarchy, three deep). */
#define MAX_LEFT 32
#define NSX_CLONE_NEWUSER 0x10000000
/* rmtree goes this deep at most; each level holds a directory buffer on the stack. */
#define RMTREE_DEPTH 512
/* fds nsx-init keeps: the status fd, console, pty OUT and IN, and a few userns. */
#define MAX_KEPT 12

static __attribute__((noreturn)) void exit_now(int code)
{
	for (;;)
		RAW1(SYS_exit_group, code);
}

static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (~0ULL - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

/* An fd as a word gives it: decimal, below 2^20. */
static long parse_fd(const char *s)
{
	uint64_t v;
	return parse_u64(s, &v) || v >= 1 << 20 ? -1 : (long)v;
}

static int same(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static char *format_u64(char *end, uint64_t v)
{
	*--end = 0;
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

static void noop_handler(int sig)
{
	(void)sig;
}

static int write_all(long fd, const char *p, long n)
{
	while (n > 0) {
		long r = RAW3(SYS_write, fd, p, n);
		if (r == -EINTR_)
			continue;
		if (r == -EAGAIN_) {
			/* A non-blocking terminal or pipe that is full: wait until it takes more. */
			struct pollfd pfd = { (int)fd, POLLOUT, 0 };
			RAW5(SYS_ppoll, &pfd, 1, NULL, NULL, 8);
			continue;
		}
		if (r <= 0)
			return -1;
		p += r;
		n -= r;
	}
	return 0;
}

static void write_exit_code(long fd, int code)
{
	char buf[40] = "{\"exit-code\":";
	char digits[24];
	const char *d = format_u64(digits + sizeof(digits), (uint64_t)code);
	size_t n = 13;
	while (*d)
		buf[n++] = *d++;
	buf[n++] = '}';
	buf[n++] = '\n';
	RAW3(SYS_write, fd, buf, n);
}

/* What supervise mode's words say about waiting (the cleanup words are read at the end). */
struct words {
	long console, pty_out, pty_in;
	int session, relay, signal_as_code, report;
	const char *exit_file, *left_report;
	char **all;
	int n;
};

/* Reads the words; -1 if one is unknown or lacks its argument. */
static int parse_words(char **w, int n, struct words *out)
{
	int i = 0;
	out->console = out->pty_out = out->pty_in = -1;
	out->session = out->relay = out->signal_as_code = out->report = 0;
	out->exit_file = out->left_report = NULL;
	out->all = w;
	out->n = n;
	while (i < n) {
		if (same(w[i], "session")) {
			out->session = 1;
			i++;
		} else if (same(w[i], "signal-as-code")) {
			out->signal_as_code = 1;
			i++;
		} else if (same(w[i], "report")) {
			out->report = 1;
			i++;
		} else if (same(w[i], "console") && i + 1 < n && (out->console = parse_fd(w[i + 1])) >= 0) {
			i += 2;
		} else if (same(w[i], "pty") && i + 2 < n && (out->pty_out = parse_fd(w[i + 1])) >= 0 &&
			   (same(w[i + 2], "-") || (out->pty_in = parse_fd(w[i + 2])) >= 0)) {
			out->relay = 1;
			i += 3;
		} else if (same(w[i], "exit-file") && i + 1 < n) {
			out->exit_file = w[i + 1];
			i += 2;
		} else if ((same(w[i], "rmdir") || same(w[i], "unlink") || same(w[i], "rmtree") || same(w[i], "rmcgroup")) &&
			   i + 1 < n) {
			i += 2;
		} else if (same(w[i], "userns") && i + 1 < n && parse_fd(w[i + 1]) >= 0) {
			i += 2;
		} else if (same(w[i], "release") && i + 3 < n) {
			i += 4;
		} else if (same(w[i], "left-report") && i + 1 < n) {
			out->left_report = w[i + 1];
			i += 2;
		} else if (same(w[i], "on-exit") && i + 1 < n) {
			return 0;
		} else {
			return -1;
		}
	}
	return 0;
}

/* ---- rmtree: a directory's contents, by fd, never following a symlink ---- */

struct dirent64_ {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

static void rmtree_at(long dirfd, const char *name, uint64_t dev, int depth)
{
	char buf[2048];
	struct stat st;
	long fd, n, pos;
	int pass, removed;

	/* Anything but a directory goes at once; O_NOFOLLOW leaves a symlink itself to unlinkat. */
	if (RAW3(SYS_unlinkat, dirfd, name, 0) == 0)
		return;
	fd = RAW4(SYS_openat, dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return;
	/* Another filesystem mounted here is not ours to empty. */
	if (depth > RMTREE_DEPTH || RAW2(SYS_fstat, fd, &st) < 0 || (uint64_t)st.st_dev != dev) {
		RAW1(SYS_close, fd);
		return;
	}
	/* Entries removed while the directory is read may make getdents skip others: read again from
	 * the start until a pass removes nothing. */
	for (pass = 0, removed = 1; removed && pass < 64; pass++) {
		removed = 0;
		RAW3(SYS_lseek, fd, 0, 0);
		while ((n = RAW3(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
			for (pos = 0; pos < n;) {
				struct dirent64_ *d = (struct dirent64_ *)(buf + pos);
				pos += d->reclen;
				if (d->name[0] == '.' && (!d->name[1] || (d->name[1] == '.' && !d->name[2])))
					continue;
				rmtree_at(fd, d->name, dev, depth + 1);
				removed = 1;
			}
		}
	}
	RAW1(SYS_close, fd);
	RAW3(SYS_unlinkat, dirfd, name, AT_REMOVEDIR);
}

static void rmtree(const char *path)
{
	struct stat st;
	if (RAW4(SYS_newfstatat, AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	rmtree_at(AT_FDCWD, path, (uint64_t)st.st_dev, 0);
}

/*
 * rmcgroup: cgroup.kill (Linux 5.14) SIGKILLs every process of the group and its descendants;
 * rmdir then fails with EBUSY until the last of them has left (cgroup_exit runs late in
 * do_exit), so it is tried again for up to two seconds. The directory is opened without
 * following a symlink: the kill file written is the group's own.
 */
static long rm_cgroup(const char *path)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	long dir = RAW4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	long r;
	int tries;
	/* Gone already (with its parent's removal, or never made): what we wanted. */
	if (dir < 0)
		return dir == -ENOENT_ ? 0 : dir;
	{
		long kill = RAW4(SYS_openat, dir, "cgroup.kill", O_WRONLY | O_CLOEXEC, 0);
		if (kill >= 0) {
			RAW3(SYS_write, kill, "1", 1);
			RAW1(SYS_close, kill);
		}
	}
	RAW1(SYS_close, dir);
	for (tries = 0; (r = RAW3(SYS_unlinkat, AT_FDCWD, path, AT_REMOVEDIR)) == -EBUSY_ && tries < 200; tries++)
		RAW2(SYS_nanosleep, &tick, NULL);
	return r == -ENOENT_ ? 0 : r;
}

/* exit-file: the code and a newline in one write, so a reader sees all of it or an empty file. */
static void write_exit_file(const char *path, int code)
{
	char digits[24], *d = format_u64(digits + sizeof(digits) - 1, (uint64_t)code);
	long fd = RAW4(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	digits[sizeof(digits) - 2] = '\n';
	digits[sizeof(digits) - 1] = 0;
	if (fd < 0)
		return;
	RAW3(SYS_write, fd, d, (digits + sizeof(digits) - 1) - d);
	RAW1(SYS_close, fd);
}

/* ---- release: an auto-removed container's state, as StateStore.release ---- */

static size_t length(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static int starts_with(const char *s, const char *prefix, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (s[i] != prefix[i])
			return 0;
	return 1;
}

/* Whether the file at path holds id: read in blocks, each searched with the end of the one before. */
static int holds(const char *path, const char *id)
{
	char buf[4096 + 128];
	size_t idn = length(id), kept = 0, total = 0, i;
	long fd = RAW4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0), n;
	int found = 0;
	if (fd < 0 || idn == 0 || idn > 128)
		goto out;
	while (!found && total < STATE_SCAN_MAX && (n = RAW3(SYS_read, fd, buf + kept, sizeof(buf) - kept)) > 0) {
		size_t have = kept + (size_t)n;
		total += (size_t)n;
		for (i = 0; i + idn <= have && !found; i++)
			found = starts_with(buf + i, id, idn);
		/* The last idn - 1 bytes may begin an id the next block ends. */
		kept = have < idn ? have : idn - 1;
		memmove(buf, buf + have - kept, kept);
	}
out:
	if (fd >= 0)
		RAW1(SYS_close, fd);
	return found;
}

/* Whether a live process waits for the state file `base` in dirfd (a file BASE.wait.PID);
 * a dead waiter's file goes, as StateStore.hasWaiters removes it. */
static int has_waiters(long dirfd, const char *base)
{
	char buf[2048];
	size_t bn = length(base);
	long n, pos;
	int live = 0;
	while ((n = RAW3(SYS_getdents64, dirfd, buf, sizeof(buf))) > 0) {
		for (pos = 0; pos < n;) {
			struct dirent64_ *d = (struct dirent64_ *)(buf + pos);
			uint64_t pid;
			pos += d->reclen;
			if (!starts_with(d->name, base, bn) || !starts_with(d->name + bn, ".wait.", 6) || parse_u64(d->name + bn + 6, &pid) ||
			    pid == 0 || pid > 0x7fffffff)
				continue;
			/* EPERM: it lives, as another user's process. A pid reused since makes us keep the state,
			 * which the next ns-run call removes (its waiter is gone). */
			if (RAW2(SYS_kill, (long)pid, 0) != -ESRCH_)
				live = 1;
			else
				RAW3(SYS_unlinkat, dirfd, d->name, 0);
		}
	}
	return live;
}

/*
 * The exit code is recorded before the waiters are looked for, and a waiter registers before it
 * reads the state: one of the two always sees the other (StateStore.release's rule).
 */
static void release_state(const char *state, const char *id, const char *exit_path, int code)
{
	const char *slash = state, *p;
	char dir[4096];
	long dirfd;
	size_t dn;
	write_exit_file(exit_path, code);
	if (!holds(state, id)) {
		RAW3(SYS_unlinkat, AT_FDCWD, exit_path, 0);
		return;
	}
	for (p = state; *p; p++)
		if (*p == '/')
			slash = p;
	dn = (size_t)(slash - state);
	if (*slash != '/' || dn >= sizeof(dir))
		return;
	memcpy(dir, state, dn);
	dir[dn ? dn : 1] = 0;
	if (!dn)
		dir[0] = '/';
	dirfd = RAW4(SYS_openat, AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (dirfd < 0)
		return;
	if (!has_waiters(dirfd, slash + 1)) {
		RAW3(SYS_unlinkat, AT_FDCWD, state, 0);
		RAW3(SYS_unlinkat, AT_FDCWD, exit_path, 0);
	}
	RAW1(SYS_close, dirfd);
}

/* The code, as NsError names it, of an rmdir failure (LeftoversError's message). */
static const char *errno_name(long e)
{
	switch (e) {
	case EPERM_: return "EPERM";
	case EACCES_: return "EACCES";
	case EBUSY_: return "EBUSY";
	case ENOTEMPTY_: return "ENOTEMPTY";
	default: return "EIO";
	}
}

/* One line as ns-container's LeftoversError says it:
 * PROG: the container ended, but A, B could not be removed (rmdir: EBUSY); remove them by hand */
static void report_left(const char *prog, const char **left, int nleft, long first_error)
{
	static const char *const middle = ": the container ended, but ", *const cause = " could not be removed (rmdir: ";
	const char *end = nleft > 1 ? "); remove them by hand\n" : "); remove it by hand\n";
	int i;
	write_all(2, prog, (long)length(prog));
	write_all(2, middle, (long)length(middle));
	for (i = 0; i < nleft; i++) {
		if (i)
			write_all(2, ", ", 2);
		write_all(2, left[i], (long)length(left[i]));
	}
	write_all(2, cause, (long)length(cause));
	write_all(2, errno_name(first_error), (long)length(errno_name(first_error)));
	write_all(2, end, (long)length(end));
}

/* supervise mode's cleanup words, once the program is gone; the on-exit command's exit code if it exited with one. */
static int clean_up(char **words, int nwords, int code, int report, const char *left_report)
{
	const char *left[MAX_LEFT];
	long first_error = 0;
	int i = 0, failed = 0, nleft = 0;
	while (i < nwords) {
		if (same(words[i], "rmdir") && i + 1 < nwords) {
			RAW3(SYS_unlinkat, AT_FDCWD, words[i + 1], AT_REMOVEDIR);
			i += 2;
		} else if (same(words[i], "unlink") && i + 1 < nwords) {
			RAW3(SYS_unlinkat, AT_FDCWD, words[i + 1], 0);
			i += 2;
		} else if (same(words[i], "rmtree") && i + 1 < nwords) {
			rmtree(words[i + 1]);
			i += 2;
		} else if (same(words[i], "rmcgroup") && i + 1 < nwords) {
			long r = rm_cgroup(words[i + 1]);
			if (r < 0 && nleft < MAX_LEFT) {
				if (!nleft)
					first_error = -r;
				left[nleft++] = words[i + 1];
			}
			i += 2;
		} else if (same(words[i], "release") && i + 3 < nwords) {
			release_state(words[i + 1], words[i + 2], words[i + 3], code);
			i += 4;
		} else if (same(words[i], "userns") && i + 1 < nwords) {
			RAW2(SYS_setns, parse_fd(words[i + 1]), NSX_CLONE_NEWUSER);
			i += 2;
		} else if (same(words[i], "on-exit") && i + 1 < nwords) {
			char digits[24], *argv[64], *envp[1] = { NULL };
			int n = 0, st;
			long pid;
			for (i++; i < nwords && n < 62; i++)
				argv[n++] = words[i];
			argv[n++] = format_u64(digits + sizeof(digits), (uint64_t)code);
			argv[n] = NULL;
			pid = raw6(SYS_clone, SIGCHLD, 0, 0, 0, 0, 0);
			if (pid == 0) {
				long null = RAW4(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR, 0);
				uint64_t none = 0;
				RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
				if (null >= 0) {
					RAW3(SYS_dup3, null, 0, 0);
					RAW3(SYS_dup3, null, 1, 0);
					if (!report)
						RAW3(SYS_dup3, null, 2, 0);
				}
				RAW3(SYS_execve, argv[0], argv, envp);
				exit_now(127);
			}
			while (pid > 0 && RAW4(SYS_wait4, pid, &st, 0, NULL) == -EINTR_)
				;
			if (pid > 0 && WIFEXITED(st))
				failed = WEXITSTATUS(st);
		} else {
			i += (same(words[i], "console") || same(words[i], "exit-file") || same(words[i], "left-report")) ? 2
			     : same(words[i], "pty") ? 3 : 1;
		}
	}
	if (left_report && nleft) {
		report_left(left_report, left, nleft, first_error);
		failed = failed ? failed : 125;
	}
	return failed;
}

/* ---- the pty relay ---- */

struct relay {
	long console, master, out, in;
	struct termios saved;
	int raw;
	char pending[4096];
	long npending;
};

/* One message's fd (SCM_RIGHTS), or -1 when the socket closed without one (or, with
 * MSG_DONTWAIT in flags, none is there). */
static long receive_fd(long sock, long flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char byte;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { 0 };
	struct cmsghdr *cm;
	long r;

	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	do
		r = raw6(SYS_recvmsg, sock, (long)&msg, MSG_CMSG_CLOEXEC | flags, 0, 0, 0);
	while (r == -EINTR_);
	if (r <= 0)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	return *(int *)CMSG_DATA(cm);
}

/* The master takes the size of our terminal: IN's, else OUT's. */
static void follow_size(struct relay *r)
{
	struct winsize ws;
	if (r->master < 0)
		return;
	if ((r->in >= 0 && RAW3(SYS_ioctl, r->in, TIOCGWINSZ, &ws) == 0) || RAW3(SYS_ioctl, r->out, TIOCGWINSZ, &ws) == 0)
		RAW3(SYS_ioctl, r->master, TIOCSWINSZ, &ws);
}

/* cfmakeraw(3) on IN, as docker does for an attached terminal: every key goes to the program. */
static void make_raw(struct relay *r)
{
	struct termios t;
	if (r->in < 0 || RAW3(SYS_ioctl, r->in, TCGETS, &r->saved) < 0)
		return;
	t = r->saved;
	t.c_iflag &= ~(unsigned)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t.c_oflag &= ~(unsigned)OPOST;
	t.c_lflag &= ~(unsigned)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cflag &= ~(unsigned)(CSIZE | PARENB);
	t.c_cflag |= CS8;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (RAW3(SYS_ioctl, r->in, TCSETSW, &t) == 0)
		r->raw = 1;
}

static void got_master(struct relay *r, long flags)
{
	r->master = receive_fd(r->console, flags);
	RAW1(SYS_close, r->console);
	r->console = -1;
	if (r->master < 0)
		return;
	RAW3(SYS_fcntl, r->master, F_SETFL, O_NONBLOCK | O_RDWR);
	make_raw(r);
	follow_size(r);
}

/* Copies what the master has to OUT; 0 once it is done (EIO: every slave fd is closed). */
static int from_master(struct relay *r)
{
	char buf[16384];
	long n = RAW3(SYS_read, r->master, buf, sizeof(buf));
	if (n > 0) {
		write_all(r->out, buf, n);
		return 1;
	}
	if (n == -EAGAIN_ || n == -EINTR_)
		return 1;
	RAW1(SYS_close, r->master);
	r->master = -1;
	return 0;
}

static void to_master(struct relay *r)
{
	long n;
	if (r->npending == 0) {
		n = RAW3(SYS_read, r->in, r->pending, sizeof(r->pending));
		if (n == -EAGAIN_ || n == -EINTR_)
			return;
		if (n <= 0) {
			/* Our input ended: the program's terminal stays, with nothing more to read. */
			r->in = -1;
			return;
		}
		r->npending = n;
	}
	n = RAW3(SYS_write, r->master, r->pending, r->npending);
	if (n > 0) {
		long k;
		for (k = n; k < r->npending; k++)
			r->pending[k - n] = r->pending[k];
		r->npending -= n;
	}
}

/* Polls the relay's fds and the signalfd; returns when a signal may be waiting. */
static void relay_wait(struct relay *r, long sfd)
{
	struct pollfd p[3];
	int n = 0, i_sock = -1, i_master = -1, i_in = -1;
	p[n].fd = (int)sfd;
	p[n++].events = POLLIN;
	if (r->console >= 0) {
		i_sock = n;
		p[n].fd = (int)r->console;
		p[n++].events = POLLIN;
	}
	if (r->master >= 0) {
		i_master = n;
		p[n].fd = (int)r->master;
		p[n++].events = POLLIN | (r->npending ? POLLOUT : 0);
		if (r->in >= 0 && !r->npending) {
			i_in = n;
			p[n].fd = (int)r->in;
			p[n++].events = POLLIN;
		}
	}
	if (RAW5(SYS_ppoll, p, n, NULL, NULL, 8) <= 0)
		return;
	if (i_sock >= 0 && p[i_sock].revents)
		got_master(r, 0);
	if (i_master >= 0 && r->master >= 0) {
		if (p[i_master].revents & POLLOUT)
			to_master(r);
		if (p[i_master].revents & (POLLIN | POLLHUP | POLLERR))
			from_master(r);
	}
	if (i_in >= 0 && r->master >= 0 && r->in >= 0 && (p[i_in].revents & (POLLIN | POLLHUP | POLLERR)))
		to_master(r);
}

/*
 * The program is gone; what it wrote may still be on its way through the pty (the tty layer
 * passes it on from a work queue): read until the master says every slave is closed (EIO),
 * or, should some process outside still hold one, until it stays quiet for a second.
 */
static void relay_finish(struct relay *r)
{
	struct pollfd p;
	struct timespec ts;
	/* A program that was quick may be gone before we took its master: it is queued on the
	 * socket (its sendmsg returned before it exited), with what it wrote waiting in the pty. */
	if (r->console >= 0)
		got_master(r, MSG_DONTWAIT);
	while (r->master >= 0) {
		p.fd = (int)r->master;
		p.events = POLLIN;
		p.revents = 0;
		ts.tv_sec = 1;
		ts.tv_nsec = 0;
		if (RAW5(SYS_ppoll, &p, 1, &ts, NULL, 8) <= 0 || !from_master(r))
			break;
	}
	if (r->raw)
		RAW3(SYS_ioctl, r->in, TCSETSW, &r->saved);
}

/* A signal for the program, unless a terminal sent it to its whole foreground process group,
 * the program included (SI_KERNEL): passing that on would deliver it twice. */
static void pass_on(long child, int sig, int code, uint64_t forward, int session)
{
	if (sig > 0 && sig != SIGCHLD && (forward & (1ULL << (sig - 1))) && (code != SI_KERNEL || session))
		RAW2(SYS_kill, child, sig);
}

/*
 * An init (PID 1) gets signals from outside only for those it has a handler for
 * (pid_namespaces(7)), so each forwarded signal gets a no-op handler; they stay blocked and are
 * taken by sigtimedwait, or from a signalfd while a pty is relayed.
 */
static __attribute__((noreturn)) void serve(long child, int mode, uint64_t forward, uint64_t ignore, long status_fd,
					    struct words *w)
{
	struct kernel_sigaction act = { 0 }, ign = { 0 };
	uint64_t blocked = 1ULL << (SIGCHLD - 1);
	struct relay r = { w->console, -1, w->pty_out, w->pty_in, { 0 }, 0, { 0 }, 0 };
	long keep[MAX_KEPT], sfd = -1;
	int status = 0, sig, code, nkeep = 0, i, failed;

	act.handler = noop_handler;
	ign.handler = SIG_IGN;
	for (sig = 1; sig < 65; sig++) {
		uint64_t bit = 1ULL << (sig - 1);
		if (sig == SIGKILL || sig == SIGSTOP || sig == SIGCHLD)
			continue;
		if ((forward & bit) || (w->relay && sig == SIGWINCH)) {
			RAW4(SYS_rt_sigaction, sig, &act, NULL, 8);
			blocked |= bit;
		} else if (ignore & bit) {
			RAW4(SYS_rt_sigaction, sig, &ign, NULL, 8);
		}
	}
	/* Nothing here reads or writes the program's stdio but a relay: let go of everything else. */
	keep[nkeep++] = status_fd;
	if (w->report || w->left_report)
		keep[nkeep++] = 2;
	if (w->relay) {
		keep[nkeep++] = r.console;
		keep[nkeep++] = r.out;
		keep[nkeep++] = r.in;
	} else if (r.console >= 0) {
		r.console = -1;
	}
	for (i = 0; i + 1 < w->n && nkeep < MAX_KEPT; i++)
		if (same(w->all[i], "userns"))
			keep[nkeep++] = parse_fd(w->all[i + 1]);
	raw_close_all_but(keep, nkeep);
	if (w->relay)
		sfd = RAW4(SYS_signalfd4, -1, &blocked, 8, O_NONBLOCK | O_CLOEXEC);
	/* Only now: a signal that arrived since the fork and is neither forwarded nor ignored acts on us. */
	RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &blocked, NULL, 8);
	for (;;) {
		int got_main = 0;
		for (;;) {
			int st = 0;
			long pid = RAW4(SYS_wait4, -1, &st, WNOHANG | __WALL, NULL);
			if (pid <= 0)
				break;
			if (pid == child) {
				status = st;
				got_main = 1;
			}
			if (mode != 1 && got_main)
				break;
		}
		if (got_main)
			break;
		if (sfd >= 0) {
			struct signalfd_siginfo si;
			relay_wait(&r, sfd);
			while (RAW3(SYS_read, sfd, &si, sizeof(si)) == (long)sizeof(si)) {
				if (si.ssi_signo == SIGWINCH)
					follow_size(&r);
				else
					pass_on(child, (int)si.ssi_signo, si.ssi_code, forward, w->session);
			}
		} else {
			siginfo_t info;
			long s = RAW4(SYS_rt_sigtimedwait, &blocked, &info, NULL, 8);
			pass_on(child, (int)s, info.si_code, forward, w->session);
		}
	}
	if (w->relay)
		relay_finish(&r);
	sig = WIFEXITED(status) ? 0 : WTERMSIG(status);
	code = sig ? 128 + sig : WEXITSTATUS(status);
	if (status_fd >= 0)
		write_exit_code(status_fd, code);
	if (mode == 2) {
		if (w->exit_file)
			write_exit_file(w->exit_file, code);
		failed = clean_up(w->all, w->n, code, w->report, w->left_report);
		if ((w->report || w->left_report) && code == 0 && failed)
			code = failed;
	}
	if (sig && RAW0(SYS_getpid) != 1 && !w->signal_as_code) {
		struct kernel_sigaction dfl = { 0 };
		uint64_t mask = ~(1ULL << (sig - 1));
		dfl.handler = SIG_DFL;
		RAW4(SYS_rt_sigaction, sig, &dfl, NULL, 8);
		RAW2(SYS_kill, RAW0(SYS_getpid), sig);
		RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, 8);
	}
	exit_now(code);
}

/*
 * What stays of a FORK outside the program must not be a way around the program's limits: it
 * runs unfiltered (a seccomp filter is the program's), and as PID 1 or a relay the program may
 * see it. Non-dumpable, ptrace of it needs CAP_SYS_PTRACE over its memory's user namespace
 * (ptrace(2), "ptrace access mode checking"), not merely the same uid; and it keeps only the
 * capabilities its mode uses: CAP_KILL to pass signals on to a program that changed its ids,
 * and for a supervisor's cleanup the rights to remove what root made (DAC_OVERRIDE,
 * DAC_READ_SEARCH, FOWNER) and to join a user namespace (SYS_ADMIN). Ambient ones go too.
 */
static void harden(int mode)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	uint64_t keep = 1ULL << CAP_KILL, have;

	if (mode == 2)
		keep |= 1ULL << CAP_DAC_OVERRIDE | 1ULL << CAP_DAC_READ_SEARCH | 1ULL << CAP_FOWNER | 1ULL << CAP_SYS_ADMIN;
	RAW5(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0);
	RAW5(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (RAW2(SYS_capget, &hdr, data) < 0)
		return;
	have = (data[0].permitted | (uint64_t)data[1].permitted << 32) & keep;
	data[0].effective = data[0].permitted = (uint32_t)have;
	data[1].effective = data[1].permitted = (uint32_t)(have >> 32);
	data[0].inheritable = data[1].inheritable = 0;
	RAW2(SYS_capset, &hdr, data);
}

__attribute__((used)) void init_start(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	uint64_t child, forward, ignore, fd = 0;
	struct words w;
	int mode;

	/* First: execve made us dumpable again (harden, below, says why that must not last). */
	RAW5(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (argc < 6 || parse_u64(argv[2], &child) || parse_u64(argv[3], &forward) || parse_u64(argv[4], &ignore) ||
	    (!same(argv[5], "-") && parse_u64(argv[5], &fd)) || child == 0)
		exit_now(125);
	mode = same(argv[1], "init") ? 1 : same(argv[1], "supervise") ? 2 : same(argv[1], "relay") ? 0 : -1;
	if (mode < 0 || (mode != 2 && argc != 6) || parse_words(argv + 6, (int)argc - 6, &w) < 0) {
		/* Fail closed: the program must not run without the process that was to wait for it. */
		RAW2(SYS_kill, (long)child, SIGKILL);
		exit_now(125);
	}
	/* ps shows what it is: ns-init, ns-relay or ns-supervise (argv[0]), not the file name. */
	RAW2(SYS_prctl, PR_SET_NAME, argv[0]);
	harden(mode);
	serve((long)child, mode, forward, ignore, same(argv[5], "-") ? -1 : (long)fd, &w);
}

NSX_ENTRY(init_start);
