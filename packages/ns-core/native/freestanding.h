/*
 * freestanding.h - what a program without libc needs: the memset/memcpy the compiler may call
 * for struct copies and initialisers, and an entry point that hands the kernel's initial stack
 * (argc, argv, envp) to C with the ABI's alignment. For nsx-init and nsx, which run in any
 * root filesystem (nothing to load) and hold a few pages while they wait.
 */
#ifndef NSX_FREESTANDING_H
#define NSX_FREESTANDING_H
#include <stddef.h>

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

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	if (d < s)
		while (n--)
			*d++ = *s++;
	else
		while (n--)
			d[n] = s[n];
	return dst;
}

/* _start: calls ENTRY(long *sp) with sp pointing at argc. */
#if defined(__x86_64__)
#define NSX_ENTRY(entry) \
	__asm__(".globl _start\n_start:\n\txor %rbp, %rbp\n\tmov %rsp, %rdi\n\tand $-16, %rsp\n\tcall " #entry "\n\thlt\n")
#elif defined(__aarch64__)
#define NSX_ENTRY(entry) __asm__(".globl _start\n_start:\n\tmov x29, #0\n\tmov x0, sp\n\tbl " #entry "\n\tbrk #0\n")
#endif

#endif
