/*
 * nsx.c - the exec stage as an executable (build/nsx), for execInPlace():
 *
 *   nsx PLAN_FD
 *
 * After planning, a CLI execve()s nsx from Node's main thread with the plan in a sealed memfd
 * (F_SEAL_WRITE|SHRINK|GROW|SEAL, so nothing can change it under us). The pid is kept: without
 * a FORK op the program ends up with the launcher's pid and namespaces, as util-linux unshare
 * and nsenter leave it. The plan goes through the same decoder as the library's and runs on
 * the same interpreter (stage.c), in this process, with nothing shared: namespaces are made by
 * unshare() here, a failure is printed here, and what a parent would do at the sync point is
 * done by a helper this process forks first.
 *
 * Freestanding and static, as nsx-init: it runs in whatever root the caller has, loads nothing,
 * and is gone (replaced by the program or by nsx-init) once the plan has run.
 */
#define NSX_STANDALONE 1
#include "stage.c"

#include <sys/mman.h>

#ifndef NSX_FUZZ
#include "freestanding.h"
#endif

#ifndef F_SEAL_SEAL
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif
#define NSX_REQUIRED_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/*
 * What nsx accepts: a plan nsx_decode() accepts, with no clone flags (in place there is no
 * clone to give them to: every new namespace is an UNSHARE op). The fuzz harness runs this too.
 */
static int nsx_check_in_place(const uint8_t *plan, size_t len, struct nsx_decoded *d, size_t *bad)
{
	int rc = nsx_decode(plan, len, d, bad);
	if (rc == NSX_DECODE_OK && d->clone_flags) {
		*bad = 8;
		return NSX_DECODE_NS_FLAGS;
	}
	return rc;
}

#ifdef NSX_FUZZ
/* The harness only decodes; what nsx_start() would go on to use stays referenced. */
__attribute__((used)) static void *const nsx_fuzz_refs[] = { (void *)reset_signals, (void *)ctx_init };
#else
static void say(const char *a, const char *b, long n)
{
	char buf[256], digits[24];
	struct text t = { buf, 0, sizeof(buf) };
	add(&t, "nsx: ");
	add(&t, a);
	add(&t, b);
	if (n >= 0) {
		add(&t, " at byte ");
		add(&t, format_u64(digits + sizeof(digits), (uint64_t)n));
	}
	add(&t, "\n");
	write_all(2, buf, t.len);
}

static struct ctx stage_ctx;

__attribute__((used, noreturn)) void nsx_start(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	char **envp = argv + argc + 1;
	struct nsx_decoded d;
	struct stat st;
	struct resume r;
	uint8_t *plan, *mem;
	size_t bad;
	long fd = 0, seals, len;
	const char *s;
	int rc;

	/* Node's dispositions (SIGPIPE ignored) and mask are not the program's. */
	reset_signals();
	if (argc != 2 || !argv[1][0]) {
		say("usage: nsx PLAN_FD", "", -1);
		exit_now(NSX_CHILD_FAILURE_EXIT);
	}
	for (s = argv[1]; *s; s++) {
		if (*s < '0' || *s > '9' || fd > 1 << 20) {
			say("not a file descriptor: ", argv[1], -1);
			exit_now(NSX_CHILD_FAILURE_EXIT);
		}
		fd = fd * 10 + (*s - '0');
	}
	seals = RAW2(SYS_fcntl, fd, F_GET_SEALS);
	if (seals < 0 || (seals & NSX_REQUIRED_SEALS) != NSX_REQUIRED_SEALS) {
		say("the plan must come in a sealed memfd (F_SEAL_WRITE|SHRINK|GROW|SEAL): fd ", argv[1], -1);
		exit_now(NSX_CHILD_FAILURE_EXIT);
	}
	if (RAW2(SYS_fstat, fd, &st) < 0 || st.st_size < 0 || st.st_size > (long)NSX_MAX_PLAN_BYTES) {
		say("the plan is too large", "", -1);
		exit_now(NSX_CHILD_FAILURE_EXIT);
	}
	len = st.st_size;
	plan = (uint8_t *)raw6(SYS_mmap, 0, len ? len : 1, PROT_READ, MAP_PRIVATE, fd, 0);
	RAW1(SYS_close, fd);
	if ((unsigned long)plan > -4096UL) {
		say("cannot map the plan", "", -1);
		exit_now(NSX_CHILD_FAILURE_EXIT);
	}
	rc = nsx_check_in_place(plan, (size_t)len, &d, &bad);
	if (rc != NSX_DECODE_OK) {
		say("plan rejected: ", rc < NSX_DECODE_ERROR_COUNT ? nsx_decode_error_names[rc] : "?", (long)bad);
		exit_now(NSX_CHILD_FAILURE_EXIT);
	}
	mem = (uint8_t *)raw6(SYS_mmap, 0, (long)layout_size(&d) + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if ((unsigned long)mem > -4096UL) {
		say("cannot lay out the plan", "", -1);
		exit_now(NSX_CHILD_FAILURE_EXIT);
	}
	ctx_init(&stage_ctx);
	stage_ctx.fd_floor = d.fd_floor;
	stage_ctx.nops = d.nops;
	stage_ctx.ops = materialize(plan, &d, mem);
	stage_ctx.inherited_env = envp;
	r.c = &stage_ctx;
	r.next = 0;
	r.own_memory = 1;
	r.not_ours = -1;
	run_ops(&r);
	exit_now(0);
}

NSX_ENTRY(nsx_start);
#endif
