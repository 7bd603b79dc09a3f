/*
 * init.c - nsx-init: what a FORK op of the exec stage leaves behind, with memory of its own.
 *
 *   nsx-init init|relay CHILD_PID SIGNAL_MASK
 *
 * It forwards the signals in SIGNAL_MASK (bit n-1 for signal n) to CHILD_PID, reaps children
 * (every orphan in init mode, as PID 1 must), and exits as CHILD_PID did: with its status, or
 * by the same signal (128+N as PID 1, which cannot die of a signal it sends itself).
 *
 * Freestanding (no libc): it is exec'd by fd into whatever root the container has, and it
 * inherits the exec stage's fully blocked signal mask, so pending signals wait for it.
 */
#include <linux/prctl.h>
#include <signal.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "raw.h"

/* The compiler may emit calls to these for struct initialisation; there is no libc to give them. */
void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	while (n--)
		*d++ = *s++;
	return dst;
}

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
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static void noop_handler(int sig)
{
	(void)sig;
}

/*
 * An init (PID 1) gets signals from outside only for those it has a handler for
 * (pid_namespaces(7)), so each forwarded signal gets a no-op handler; they stay blocked and are
 * taken by sigtimedwait.
 */
static __attribute__((noreturn)) void serve(long child, int init, uint64_t forward)
{
	struct kernel_sigaction act = { 0 };
	uint64_t all = ~0ULL;
	int status = 0, sig;

	RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, 8);
	act.handler = noop_handler;
	for (sig = 1; sig < 65; sig++) {
		if (!(forward & (1ULL << (sig - 1))) || sig == SIGKILL || sig == SIGSTOP || sig == SIGCHLD)
			continue;
		RAW4(SYS_rt_sigaction, sig, &act, NULL, 8);
	}
	/* Nothing here reads or writes the program's stdio: let go of it. */
	RAW3(SYS_close_range, 0, ~0U, 0);
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
			if (!init && got_main)
				break;
		}
		if (got_main)
			break;
		siginfo_t info;
		long s = RAW4(SYS_rt_sigtimedwait, &all, &info, NULL, 8);
		/* A signal the kernel generated (^C at a terminal: SI_KERNEL) went to the whole
		 * foreground process group, the program included; passing it on would deliver it twice. */
		if (s > 0 && s != SIGCHLD && info.si_code != SI_KERNEL && (forward & (1ULL << (s - 1))))
			RAW2(SYS_kill, child, s);
	}
	if (WIFEXITED(status))
		exit_now(WEXITSTATUS(status));
	sig = WTERMSIG(status);
	if (RAW0(SYS_getpid) != 1) {
		struct kernel_sigaction dfl = { 0 };
		uint64_t mask = ~(1ULL << (sig - 1));
		dfl.handler = SIG_DFL;
		RAW4(SYS_rt_sigaction, sig, &dfl, NULL, 8);
		RAW2(SYS_kill, RAW0(SYS_getpid), sig);
		RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, 8);
	}
	exit_now(128 + sig);
}

__attribute__((used)) void init_start(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	uint64_t child, mask;
	int init;

	if (argc != 4 || parse_u64(argv[2], &child) || parse_u64(argv[3], &mask) || child == 0)
		exit_now(125);
	init = argv[1][0] == 'i';
	/* ps shows what it is: ns-init or ns-relay (argv[0]), not the file name. */
	RAW2(SYS_prctl, PR_SET_NAME, argv[0]);
	serve((long)child, init, mask);
}

/* The kernel starts us with argc at the stack pointer; hand that to C with an aligned stack. */
#if defined(__x86_64__)
__asm__(".globl _start\n_start:\n\txor %rbp, %rbp\n\tmov %rsp, %rdi\n\tand $-16, %rsp\n\tcall init_start\n\thlt\n");
#elif defined(__aarch64__)
__asm__(".globl _start\n_start:\n\tmov x29, #0\n\tmov x0, sp\n\tbl init_start\n\tbrk #0\n");
#endif
