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
 * (--json-status-fd). supervise mode then runs its WORDs, in order, once CHILD_PID is gone:
 * `rmdir PATH`, `unlink PATH`, and last `on-exit ARGV...`, run with the exit code appended and
 * waited for; a cleanup that fails is skipped, the status stays the program's.
 *
 * Freestanding (no libc): it is exec'd by fd into whatever root the container has, and it
 * inherits the exec stage's fully blocked signal mask, so pending signals wait for it.
 */
#include <fcntl.h>
#include <linux/prctl.h>
#include <signal.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "raw.h"
#include "freestanding.h"

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

/* supervise mode's words, once the program is gone. */
static void clean_up(char **words, int nwords, int code)
{
	int i = 0;
	while (i < nwords) {
		if (same(words[i], "rmdir") && i + 1 < nwords) {
			RAW3(SYS_unlinkat, AT_FDCWD, words[i + 1], AT_REMOVEDIR);
			i += 2;
		} else if (same(words[i], "unlink") && i + 1 < nwords) {
			RAW3(SYS_unlinkat, AT_FDCWD, words[i + 1], 0);
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
					RAW3(SYS_dup3, null, 2, 0);
				}
				RAW3(SYS_execve, argv[0], argv, envp);
				exit_now(127);
			}
			while (pid > 0 && RAW4(SYS_wait4, pid, &st, 0, NULL) == -4 /* EINTR */)
				;
		} else {
			i++;
		}
	}
}

/*
 * An init (PID 1) gets signals from outside only for those it has a handler for
 * (pid_namespaces(7)), so each forwarded signal gets a no-op handler; they stay blocked and are
 * taken by sigtimedwait.
 */
static __attribute__((noreturn)) void serve(long child, int mode, uint64_t forward, uint64_t ignore, long status_fd,
					    char **words, int nwords)
{
	struct kernel_sigaction act = { 0 }, ign = { 0 };
	uint64_t blocked = 1ULL << (SIGCHLD - 1);
	int status = 0, sig, code;

	act.handler = noop_handler;
	ign.handler = SIG_IGN;
	for (sig = 1; sig < 65; sig++) {
		uint64_t bit = 1ULL << (sig - 1);
		if (sig == SIGKILL || sig == SIGSTOP || sig == SIGCHLD)
			continue;
		if (forward & bit) {
			RAW4(SYS_rt_sigaction, sig, &act, NULL, 8);
			blocked |= bit;
		} else if (ignore & bit) {
			RAW4(SYS_rt_sigaction, sig, &ign, NULL, 8);
		}
	}
	/* Nothing here reads or writes the program's stdio: let go of everything but the status fd. */
	if (status_fd >= 0) {
		if (status_fd > 0)
			RAW3(SYS_close_range, 0, status_fd - 1, 0);
		RAW3(SYS_close_range, status_fd + 1, ~0U, 0);
	} else {
		RAW3(SYS_close_range, 0, ~0U, 0);
	}
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
		siginfo_t info;
		long s = RAW4(SYS_rt_sigtimedwait, &blocked, &info, NULL, 8);
		/* A signal the kernel generated (^C at a terminal: SI_KERNEL) went to the whole
		 * foreground process group, the program included; passing it on would deliver it twice. */
		if (s > 0 && s != SIGCHLD && info.si_code != SI_KERNEL && (forward & (1ULL << (s - 1))))
			RAW2(SYS_kill, child, s);
	}
	sig = WIFEXITED(status) ? 0 : WTERMSIG(status);
	code = sig ? 128 + sig : WEXITSTATUS(status);
	if (status_fd >= 0)
		write_exit_code(status_fd, code);
	if (mode == 2)
		clean_up(words, nwords, code);
	if (sig && RAW0(SYS_getpid) != 1) {
		struct kernel_sigaction dfl = { 0 };
		uint64_t mask = ~(1ULL << (sig - 1));
		dfl.handler = SIG_DFL;
		RAW4(SYS_rt_sigaction, sig, &dfl, NULL, 8);
		RAW2(SYS_kill, RAW0(SYS_getpid), sig);
		RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, 8);
	}
	exit_now(code);
}

__attribute__((used)) void init_start(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	uint64_t child, forward, ignore, fd = 0;
	int mode;

	if (argc < 6 || parse_u64(argv[2], &child) || parse_u64(argv[3], &forward) || parse_u64(argv[4], &ignore) ||
	    (!same(argv[5], "-") && parse_u64(argv[5], &fd)) || child == 0)
		exit_now(125);
	mode = same(argv[1], "init") ? 1 : same(argv[1], "supervise") ? 2 : same(argv[1], "relay") ? 0 : -1;
	if (mode < 0 || (mode != 2 && argc != 6))
		exit_now(125);
	/* ps shows what it is: ns-init, ns-relay or ns-supervise (argv[0]), not the file name. */
	RAW2(SYS_prctl, PR_SET_NAME, argv[0]);
	serve((long)child, mode, forward, ignore, same(argv[5], "-") ? -1 : (long)fd, argv + 6, (int)argc - 6);
}

NSX_ENTRY(init_start);
