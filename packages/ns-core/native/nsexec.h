/* nsexec.h - the exec stage's entry points (libnsexec.so, called by ns-core through koffi) and its decoder. */
#ifndef NSX_NSEXEC_H
#define NSX_NSEXEC_H
#include <stddef.h>
#include <stdint.h>

struct nsx_decoded {
	uint64_t clone_flags;
	uint32_t fd_floor;
	uint32_t nops;
	size_t nstrings;
	size_t exec_ptrs;
	int inherit_env;
};

/**
 * nsx_decode() - validate a plan without running it.
 * Return: NSX_DECODE_OK, or the nsx_decode_error naming what is wrong at *bad_offset.
 */
int nsx_decode(const uint8_t *plan, size_t len, struct nsx_decoded *out, size_t *bad_offset);

/**
 * nsx_spawn() - clone a child that runs @plan and execs.
 * @cgroup_fd: a cgroup v2 directory the child is created in (clone3's CLONE_INTO_CGROUP), or -1.
 * @out: [pid, pidfd, status read fd, go write fd, decode error, bad offset]
 * Return: 0, or -errno (-EINVAL with out[4] set when the plan does not decode).
 */
int nsx_spawn(const uint8_t *plan, uint32_t len, int32_t cgroup_fd, int32_t *out);

/** nsx_can_clone_into_cgroup() - 1 if this kernel has clone3's CLONE_INTO_CGROUP (Linux 5.7). */
int nsx_can_clone_into_cgroup(void);

/** nsx_release() - free the child's stacks once it has exec'd or exited. */
int nsx_release(int32_t pid);

/** nsx_live_regions() - spawns whose memory is not yet released (for leak tests). */
int nsx_live_regions(void);

/**
 * nsx_render_error() - the line the in-place stage prints when op @opi of @plan fails with
 * errno @err in syscall id @sys (or, with @text, when its helper program failed). For the test
 * that compares it with what TypeScript renders.
 * Return: its length, or -errno.
 */
int nsx_render_error(const uint8_t *plan, uint32_t len, uint32_t opi, int32_t err, int32_t sys, const char *text,
		     char *out, uint32_t cap);
#endif
