/*
 * nsexec.c - the exec stage as a library (build/libnsexec.so), loaded by koffi for spawn().
 *
 * Node is multithreaded, so no JavaScript may run between clone() and execve(): the kernel
 * refuses user namespaces to threaded callers and a forked V8 crashes. nsx_spawn() clone()s a
 * child with CLONE_VM (no page-table copy, so the cost does not grow with the Node heap) onto a
 * private stack; the child runs the ops of stage.c, the interpreter nsx (nsx.c) shares, and
 * execs. See src/exec/protocol.ts for the wire format.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

extern char **environ;

#include "stage.c"

#define STACK_SIZE (128 * 1024)
#define GUARD_SIZE 4096

static NSX_CHILD int child_main(void *arg)
{
	struct resume *r = arg;
	struct ctx *c = r->c;
	long fd;

	reset_signals();
	if (c->parent_go_fd >= 0)
		RAW1(SYS_close, c->parent_go_fd);
	RAW1(SYS_close, c->parent_status_fd);
	/* Keep the status and go pipes clear of every fd the plan will dup2 into place (all below
	 * the floor), and drop the originals: a FORK's stay-behind half must hold no copy, or EOF
	 * never comes. Pipes Node made are usually above the floor already and stay as they are. */
	if ((uint32_t)c->status_fd < c->fd_floor) {
		fd = RAW3(SYS_fcntl, c->status_fd, F_DUPFD_CLOEXEC, c->fd_floor);
		if (fd < 0)
			die(c, 0, fd, NSX_SYS_DUP);
		RAW1(SYS_close, c->status_fd);
		c->status_fd = (int)fd;
	}
	if (c->go_fd >= 0 && (uint32_t)c->go_fd < c->fd_floor) {
		fd = RAW3(SYS_fcntl, c->go_fd, F_DUPFD_CLOEXEC, c->fd_floor);
		if (fd < 0)
			die(c, 0, fd, NSX_SYS_DUP);
		RAW1(SYS_close, c->go_fd);
		c->go_fd = (int)fd;
	}
	return run_ops(r);
}

/* ---- parent side: runs on Node's main thread, libc allowed ---- */

struct region {
	struct region *next;
	int pid;
	void *base;
	size_t size;
};
static struct region *regions;

/*
 * Regions of exited children, kept for the next spawns (at most POOL_MAX): mmap, two mprotects
 * and munmap per spawn are gone, and so are the page faults of a fresh stack in the child and
 * the TLB shootdown munmap costs a multithreaded process, all on the path from one program's
 * exit to the next one's exec. A pooled region serves a request of up to its size, and one of
 * more than half its size, so that a large plan's region is not held for small ones.
 */
#define POOL_MAX 4
static struct region *pool;
static int pooled;

static void *take_region(size_t size, size_t *got)
{
	struct region **pp;
	void *base;
	for (pp = &pool; *pp; pp = &(*pp)->next) {
		struct region *reg = *pp;
		if (reg->size >= size && reg->size / 2 < size) {
			*pp = reg->next;
			pooled--;
			base = reg->base;
			*got = reg->size;
			free(reg);
			return base;
		}
	}
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	/* Guard pages below each stack: an overflow faults instead of scribbling on Node. */
	mprotect(base, GUARD_SIZE, PROT_NONE);
	mprotect((char *)base + GUARD_SIZE + STACK_SIZE, GUARD_SIZE, PROT_NONE);
	*got = size;
	return base;
}

/* reg is unlinked; it goes to the pool, or back to the kernel when the pool is full. */
static void give_region(struct region *reg)
{
	if (pooled < POOL_MAX) {
		reg->next = pool;
		pool = reg;
		pooled++;
		return;
	}
	munmap(reg->base, reg->size);
	free(reg);
}

/* A region that never got a child (its clone failed, or no bookkeeping entry could be made). */
static void drop_region(void *base, size_t size)
{
	struct region *reg = calloc(1, sizeof(struct region));
	if (!reg) {
		munmap(base, size);
		return;
	}
	reg->base = base;
	reg->size = size;
	give_region(reg);
}

int nsx_spawn(const uint8_t *plan, uint32_t len, int32_t cgroup_fd, int32_t *out)
{
	struct nsx_decoded d;
	size_t bad, opbytes, size;
	uint8_t *base, *cursor;
	struct ctx *c;
	struct resume *r;
	struct region *reg;
	size_t envc = 0, envbytes = 0;
	uint32_t sync_at;
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
	opbytes = layout_size(&d);
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
	base = take_region(size, &size);
	if (!base)
		return -errno;
	cursor = base + 2 * (GUARD_SIZE + STACK_SIZE);
	c = (struct ctx *)cursor;
	ctx_init(c);
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
	c->fd_floor = d.fd_floor;
	c->region = (char *)base;
	c->region_size = size;
	c->stack2_top = (char *)base + 2 * (GUARD_SIZE + STACK_SIZE);
	c->stack2_size = STACK_SIZE;
	r->c = c;
	r->next = 0;
	r->own_memory = 0;
	r->not_ours = -1;

	/* The go pipe only for a plan that waits for its parent: most never do. */
	go[0] = go[1] = -1;
	for (sync_at = 0; sync_at < d.nops; sync_at++)
		if (c->ops[sync_at].code == NSX_OP_SYNC)
			break;
	if (pipe2(status, O_CLOEXEC) < 0) {
		err = -errno;
		drop_region(base, size);
		return err;
	}
	if (sync_at < d.nops && pipe2(go, O_CLOEXEC) < 0) {
		err = -errno;
		close(status[0]);
		close(status[1]);
		drop_region(base, size);
		return err;
	}
	c->status_fd = status[1];
	c->go_fd = go[0];
	c->parent_status_fd = status[0];
	c->parent_go_fd = go[1];

	/* Signals stay blocked across clone(): the child must reset every handler before one may run. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (cgroup_fd >= 0) {
		struct nsx_clone_args a;
		memset(&a, 0, sizeof(a));
		a.flags = CLONE_VM | CLONE_PIDFD | NSX_CLONE_INTO_CGROUP | (d.clone_flags & ~0xffULL);
		a.pidfd = (uint64_t)(uintptr_t)&pidfd;
		a.exit_signal = SIGCHLD;
		a.stack = (uint64_t)(uintptr_t)(base + GUARD_SIZE);
		a.stack_size = STACK_SIZE - 64;
		a.cgroup = (uint64_t)cgroup_fd;
		pid = nsx_clone3(&a, sizeof(a), child_main, r);
		err = pid < 0 ? (int)pid : 0;
	} else {
		pid = clone(child_main, base + GUARD_SIZE + STACK_SIZE - 64,
			    (int)(CLONE_VM | CLONE_PIDFD | SIGCHLD | (d.clone_flags & ~0xffULL)), r, &pidfd);
		err = pid < 0 ? -errno : 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(status[1]);
	if (go[0] >= 0)
		close(go[0]);
	if (pid < 0) {
		close(status[0]);
		if (go[1] >= 0)
			close(go[1]);
		drop_region(base, size);
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
			give_region(reg);
			return 0;
		}
	}
	return -ENOENT;
}

int nsx_can_clone_into_cgroup(void)
{
	/* INT_MAX is no open fd: a kernel that knows CLONE_INTO_CGROUP (5.7) fails on the fd
	 * (EBADF) before any process exists; an older one refuses the flag or the size. Shared
	 * memory, files and handlers: a copy of Node's page tables, made only to be dropped, cost
	 * ~1 ms. */
	struct nsx_clone_args a;
	long pid;
	memset(&a, 0, sizeof(a));
	a.flags = NSX_CLONE_INTO_CGROUP | CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND;
	a.exit_signal = SIGCHLD;
	a.cgroup = 0x7fffffff;
	pid = syscall(NSX_SYS_CLONE3, &a, sizeof(a));
	if (pid == 0)
		_exit(127);
	return pid < 0 && errno == EBADF;
}

int nsx_live_regions(void)
{
	int n = 0;
	struct region *reg;
	for (reg = regions; reg; reg = reg->next)
		n++;
	return n;
}

int nsx_render_error(const uint8_t *plan, uint32_t len, uint32_t opi, int32_t err, int32_t sys, const char *text,
		     char *out, uint32_t cap)
{
	struct nsx_decoded d;
	struct ctx c;
	size_t bad, n;
	uint8_t *copy, *mem;
	uint32_t i;

	if (nsx_decode(plan, len, &d, &bad) != NSX_DECODE_OK || opi >= d.nops || cap == 0)
		return -EINVAL;
	copy = malloc(len);
	mem = malloc(layout_size(&d) + 1);
	if (!copy || !mem) {
		free(copy);
		free(mem);
		return -ENOMEM;
	}
	memcpy(copy, plan, len);
	ctx_init(&c);
	c.nops = d.nops;
	c.ops = materialize(copy, &d, mem);
	for (i = 0; i < c.nops; i++)
		if (c.ops[i].code == NSX_OP_ERRORS)
			note_errors_op(&c, &c.ops[i]);
	n = render_failure(&c, &c.ops[opi], err, sys, text, out, cap);
	free(copy);
	free(mem);
	return (int)n;
}
