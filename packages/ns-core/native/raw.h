/*
 * raw.h - raw system calls for code that may not touch libc: the exec stage's child (which
 * shares Node's memory and TLS, so a libc wrapper would write errno into Node's main thread)
 * and nsx-init (freestanding, no libc at all). Each returns -errno on failure.
 */
#ifndef NSX_RAW_H
#define NSX_RAW_H

#include <stdint.h>

#ifndef NSX_CHILD
#define NSX_CHILD
#endif


static NSX_CHILD long raw6(long nr, long a, long b, long c, long d, long e, long f)
{
	long ret;
#if defined(__x86_64__)
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	ret = x0;
#else
#error "nsexec: raw syscalls are implemented for x86_64 and aarch64"
#endif
	return ret;
}

#define RAW0(nr) raw6((nr), 0, 0, 0, 0, 0, 0)
#define RAW1(nr, a) raw6((nr), (long)(a), 0, 0, 0, 0, 0)
#define RAW2(nr, a, b) raw6((nr), (long)(a), (long)(b), 0, 0, 0, 0)
#define RAW3(nr, a, b, c) raw6((nr), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define RAW4(nr, a, b, c, d) raw6((nr), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define RAW5(nr, a, b, c, d, e) raw6((nr), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

/* The kernel's struct sigaction for rt_sigaction(2), which differs from libc's. */
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

/*
 * Closes every fd but those in keep (n entries; negative ones ignored), with close_range(2) over
 * the gaps: the one way both the exec stage's child and nsx-init shed what they inherited.
 * Sorts keep in place.
 */
static inline NSX_CHILD void raw_close_all_but(long *keep, int n)
{
	long lo = 0;
	int i, j;

	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (keep[j] < keep[i]) {
				long t = keep[i];
				keep[i] = keep[j];
				keep[j] = t;
			}
	for (i = 0; i < n; i++) {
		if (keep[i] < lo)
			continue;
		if (keep[i] > lo)
			RAW3(SYS_close_range, lo, keep[i] - 1, 0);
		lo = keep[i] + 1;
	}
	RAW3(SYS_close_range, lo, ~0U, 0);
}

#endif
