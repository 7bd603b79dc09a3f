/*
 * fuzz_decode.c - libFuzzer harness for the exec stage's plan decoder, in both its builds.
 *
 * Build (scripts/build-fuzzer.js): clang -fsanitize=fuzzer,address,undefined, twice: including
 * nsexec.c (build/fuzz_decode: the library's nsx_decode) and, with -DNSX_FUZZ_NSX, nsx.c
 * (build/fuzz_decode_nsx: the executable's nsx_check_in_place, compiled as nsx compiles
 * stage.c). The static layout code (materialize) runs exactly as nsx_spawn() and nsx run it,
 * but into a heap block of the exact computed size, where ASan sees every byte written past it
 * (both targets lay out into mmap()ed memory ASan cannot check).
 *
 * Contract checked for every input:
 *  - nsx_decode() returns one of the DECODE_ERRORS codes, and a bad offset inside the input;
 *  - when it accepts a plan, everything the child later relies on holds: clone flags name
 *    namespaces only, each op's pointer block has the size nsx_spawn reserved for it, every
 *    string lies inside the plan and ends with a NUL there, exec's three lists end with NULL
 *    inside the op's own block, setgroups' count matches its data and NGROUPS_MAX, setns and
 *    unshare carry namespace flags only, fd slots and namespace-id counts are in range;
 *    every label lies in the plan; a helper's ops follow its HELPER_FORK (a stage marker
 *    first) and appear nowhere else; FORK modes, words and clone flags, INFO pairs and
 *    BIND_NS counts are in range; in place (nsx), no clone flags at all.
 * Any breach aborts, which libFuzzer reports as a crash with the input saved.
 */
#ifdef NSX_FUZZ_NSX
#define NSX_FUZZ 1
#include "nsx.c"
#define DECODE nsx_check_in_place
#else
#include "nsexec.c"
#define DECODE nsx_decode
#endif
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stdio.h>

/* The harness's own statement of the flags, not nsexec.c's macros: a wrong mask there must show. */
#define CLONE_NS_FLAGS (0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000)
#define ALL_NS_FLAGS (CLONE_NS_FLAGS | 0x00000080)
/* setgroups(2) refuses more (NGROUPS_MAX, include/uapi/linux/limits.h). */
#define MAX_GROUPS 65536
/* BPF_MAXINSNS (linux/bpf_common.h), and SECCOMP_FILTER_FLAG_TSYNC | LOG | SPEC_ALLOW. */
#define MAX_BPF_INSNS 4096
#define SECCOMP_FLAGS 7ULL

static __attribute__((noreturn, format(printf, 1, 2))) void breach(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("fuzz_decode: accepted plan breaks the contract: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* A string the child will read: inside the plan, NUL-terminated there. */
static void check_string(const char *s, const uint8_t *plan, size_t len, uint32_t opi, uint32_t si)
{
	const uint8_t *p = (const uint8_t *)s;
	if (!s)
		breach("op %u string %u is NULL", opi, si);
	if (p < plan || p >= plan + len)
		breach("op %u string %u points outside the plan", opi, si);
	if (!memchr(p, 0, (size_t)(plan + len - p)))
		breach("op %u string %u has no NUL inside the plan", opi, si);
}

/* RUN_HELPER: candidate paths, then argv, each list ending with NULL inside the op's block. */
static void check_run_helper(const struct op *o, char **block_end, const uint8_t *plan, size_t len, uint32_t opi)
{
	uint64_t np = o->arg[0], na = o->arg[1], i;
	char **paths = o->str, **argv = paths + np + 1;
	if (np == 0 || na == 0)
		breach("run-helper op %u has %llu paths and %llu args", opi, (unsigned long long)np, (unsigned long long)na);
	for (i = 0; i < np; i++)
		check_string(paths[i], plan, len, opi, (uint32_t)i);
	if (paths[np] != NULL)
		breach("run-helper op %u: paths do not end with NULL", opi);
	for (i = 0; i < na; i++)
		check_string(argv[i], plan, len, opi, (uint32_t)(np + i));
	if (argv + na >= block_end || argv[na] != NULL)
		breach("run-helper op %u: argv does not end with NULL inside its block", opi);
}

static void check_exec(const struct op *o, char **block_end, const uint8_t *plan, size_t len, uint32_t opi)
{
	uint64_t np = o->arg[0], na = o->arg[1], ne = o->arg[2], i;
	char **paths = o->str, **argv = paths + np + 1, **envp = argv + na + 1;

	for (i = 0; i < np; i++)
		check_string(paths[i], plan, len, opi, (uint32_t)i);
	if (paths[np] != NULL)
		breach("exec op %u: paths do not end with NULL", opi);
	for (i = 0; i < na; i++)
		check_string(argv[i], plan, len, opi, (uint32_t)(np + i));
	if (argv + na >= block_end || argv[na] != NULL)
		breach("exec op %u: argv does not end with NULL inside its block", opi);
	if (o->arg[3] == 1)
		return; /* the environment is the copy of environ nsx_spawn makes */
	if (envp + ne >= block_end)
		breach("exec op %u: envp (%llu strings) runs past its block", opi, (unsigned long long)ne);
	for (i = 0; i < ne; i++)
		check_string(envp[i], plan, len, opi, (uint32_t)(np + na + i));
	if (envp[ne] != NULL)
		breach("exec op %u: envp does not end with NULL", opi);
}

static void check_op(const struct op *o, char **block_end, const uint8_t *plan, size_t len, uint32_t opi)
{
	uint32_t s;

	if (o->code > NSX_OP_MAX || nsx_op_strings[o->code] == -2)
		breach("op %u has unknown code %u", opi, o->code);
	if (nsx_op_strings[o->code] >= 0 && o->nstr != (uint32_t)nsx_op_strings[o->code])
		breach("op %u (code %u) has %u strings", opi, o->code, o->nstr);
	for (s = 0; s < 4; s++)
		if (o->label[s])
			check_string(o->label[s], plan, len, opi, 1000 + s);
	switch (o->code) {
	case NSX_OP_EXEC:
		check_exec(o, block_end, plan, len, opi);
		return;
	case NSX_OP_RUN_HELPER:
		check_run_helper(o, block_end, plan, len, opi);
		return;
	case NSX_OP_FORK:
		if (o->arg[0] > 2 || o->arg[4] > 1 || (o->arg[5] & ~(uint64_t)CLONE_NS_FLAGS))
			breach("fork op %u has mode %llu, flags %llu, clone flags %#llx", opi, (unsigned long long)o->arg[0],
			       (unsigned long long)o->arg[4], (unsigned long long)o->arg[5]);
		if (o->nstr > NSX_MAX_FORK_WORDS || (o->nstr && o->arg[0] != 2))
			breach("fork op %u (mode %llu) has %u words", opi, (unsigned long long)o->arg[0], o->nstr);
		break;
	case NSX_OP_HOOK_SYNC:
		/* do_hook_sync() writes, reads and closes these as ints: each must be an fd (a2 also -1: none). */
		if (o->arg[0] > 0x7fffffffULL || o->arg[1] > 0x7fffffffULL || (o->arg[2] > 0x7fffffffULL && o->arg[2] != ~0ULL))
			breach("hook-sync op %u has fds %#llx, %#llx, %#llx", opi, (unsigned long long)o->arg[0],
			       (unsigned long long)o->arg[1], (unsigned long long)o->arg[2]);
		break;
	case NSX_OP_INFO:
		if (o->nstr % 2 || o->nstr / 2 > NSX_MAX_NS_IDS)
			breach("info op %u has %u strings", opi, o->nstr);
		break;
	case NSX_OP_LINK_UP:
		check_string(o->str[0], plan, len, opi, 0);
		if (strlen(o->str[0]) > 15)
			breach("link-up op %u: name longer than IFNAMSIZ allows", opi);
		return;
	case NSX_OP_SETGROUPS:
		if (o->arg[0] > MAX_GROUPS)
			breach("setgroups op %u asks for %llu groups", opi, (unsigned long long)o->arg[0]);
		check_string(o->str[0], plan, len, opi, 0);
		if ((const uint8_t *)o->str[0] + o->arg[0] * 4 + 1 > plan + len || o->str[0][o->arg[0] * 4] != 0)
			breach("setgroups op %u: %llu gids do not fit its data", opi, (unsigned long long)o->arg[0]);
		return;
	case NSX_OP_SECCOMP:
		if (o->arg[1] == 0 || o->arg[1] > MAX_BPF_INSNS || (o->arg[0] & ~SECCOMP_FLAGS))
			breach("seccomp op %u: %llu instructions, flags %#llx", opi, (unsigned long long)o->arg[1],
			       (unsigned long long)o->arg[0]);
		check_string(o->str[0], plan, len, opi, 0);
		if ((const uint8_t *)o->str[0] + o->arg[1] * 8 + 1 > plan + len || o->str[0][o->arg[1] * 8] != 0)
			breach("seccomp op %u: %llu instructions do not fit its data", opi, (unsigned long long)o->arg[1]);
		return;
	case NSX_OP_SETNS:
		if (o->arg[1] & ~(uint64_t)ALL_NS_FLAGS)
			breach("setns op %u carries flags %#llx", opi, (unsigned long long)o->arg[1]);
		if (o->arg[2] > 2 || o->arg[3] >= 64)
			breach("setns op %u has mode %llu slot %llu", opi, (unsigned long long)o->arg[2],
			       (unsigned long long)o->arg[3]);
		break;
	case NSX_OP_UNSHARE:
		if (o->arg[0] & ~(uint64_t)ALL_NS_FLAGS)
			breach("unshare op %u carries flags %#llx", opi, (unsigned long long)o->arg[0]);
		break;
	case NSX_OP_FD_STASH:
		if (o->arg[1] >= NSX_MAX_FD_SLOTS)
			breach("fd-stash op %u uses slot %llu", opi, (unsigned long long)o->arg[1]);
		break;
	case NSX_OP_FD_PLACE:
		if (o->arg[0] >= NSX_MAX_FD_SLOTS)
			breach("fd-place op %u uses slot %llu", opi, (unsigned long long)o->arg[0]);
		break;
	case NSX_OP_REPORT_NS:
		if (o->nstr > NSX_MAX_NS_IDS)
			breach("report-ns op %u has %u paths", opi, o->nstr);
		break;
	default:
		break;
	}
	for (s = 0; s < o->nstr; s++)
		check_string(o->str[s], plan, len, opi, s);
}

static int helper_op(uint32_t code)
{
	return code == NSX_OP_HELPER_STAGE || code == NSX_OP_RUN_HELPER || code == NSX_OP_BIND_NS || code == NSX_OP_WRITE_FILE;
}

/* A helper's ops are those its HELPER_FORK covers, a stage marker first; none elsewhere. */
static void check_helper_ranges(const struct op *ops, uint32_t nops)
{
	uint32_t i, k, binds = 0;
	for (i = 0; i < nops; i++) {
		if (ops[i].code == NSX_OP_BIND_NS && ++binds > NSX_MAX_BINDS)
			breach("%u bind-ns ops, more than %u", binds, NSX_MAX_BINDS);
		if (ops[i].code == NSX_OP_HELPER_STAGE || ops[i].code == NSX_OP_RUN_HELPER || ops[i].code == NSX_OP_BIND_NS)
			breach("helper op %u (code %u) outside a helper range", i, ops[i].code);
		if (ops[i].code != NSX_OP_HELPER_FORK)
			continue;
		if (ops[i].arg[0] == 0 || ops[i].arg[0] >= nops - i)
			breach("helper-fork op %u covers %llu ops of %u", i, (unsigned long long)ops[i].arg[0], nops);
		if (ops[i + 1].code != NSX_OP_HELPER_STAGE)
			breach("helper-fork op %u: its first op is code %u, not a stage", i, ops[i + 1].code);
		for (k = 1; k <= ops[i].arg[0]; k++)
			if (!helper_op(ops[i + k].code))
				breach("helper-fork op %u covers op %u of code %u", i, i + k, ops[i + k].code);
		i += (uint32_t)ops[i].arg[0];
	}
}

static void check_accepted(uint8_t *plan, size_t len, const struct nsx_decoded *d)
{
	size_t nptrs = d->nstrings + d->exec_ptrs;
	size_t opbytes = layout_size(d);
	uint8_t *mem = malloc(opbytes ? opbytes : 1);
	char **ptrs = (char **)(mem + sizeof(struct op) * d->nops), **next;
	struct op *ops;
	uint32_t i;

	if (!mem)
		abort();
	/* Never zero: nsx_spawn's mmap()ed region is, which would hide a NULL materialize forgot. */
	memset(mem, 0xa5, opbytes);
	if (d->clone_flags & ~(uint64_t)CLONE_NS_FLAGS)
		breach("clone flags %#llx are not namespace flags", (unsigned long long)d->clone_flags);
	if (d->nops > NSX_MAX_OPS || d->fd_floor < 3 || d->fd_floor > 65536)
		breach("header: %u ops, fd floor %u", d->nops, d->fd_floor);
	ops = materialize(plan, d, mem);
	/* Each op's block holds nstr pointers plus the list terminators (three for exec, two for
	 * run-helper): each must start where the previous one ends, or one op reads another's strings. */
	next = ptrs;
	for (i = 0; i < d->nops; i++) {
		uint32_t code = ops[i].code;
		char **block_end = next + ops[i].nstr + (code == NSX_OP_EXEC ? 3 : code == NSX_OP_RUN_HELPER ? 2 : 0);
		if (ops[i].str != next)
			breach("op %u's strings start %td pointers from where op %u's block ended", i,
			       ops[i].str - next, i ? i - 1 : 0);
		check_op(&ops[i], block_end, plan, len, i);
		next = block_end;
	}
	check_helper_ranges(ops, d->nops);
#ifdef NSX_FUZZ_NSX
	if (d->clone_flags)
		breach("nsx accepted clone flags %#llx: in place nothing is cloned", (unsigned long long)d->clone_flags);
#endif
	if (next != ptrs + nptrs)
		breach("ops use %td pointers, %zu were reserved", next - ptrs, nptrs);
	free(mem);
}

/* How often each result came back, printed at exit: lets a test prove the run was not vacuous
 * (plans were accepted and checked, and rejected for several reasons). */
static unsigned long long results[NSX_DECODE_ERROR_COUNT];

static void print_results(void)
{
	int i;
	fputs("fuzz_decode: results", stderr);
	for (i = 0; i < NSX_DECODE_ERROR_COUNT; i++)
		fprintf(stderr, " %d:%llu", i, results[i]);
	fputc('\n', stderr);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	atexit(print_results);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A heap copy of exactly the input's size: ASan then flags any read past the plan. */
	uint8_t *plan = malloc(size ? size : 1);
	struct nsx_decoded d;
	size_t bad;
	int rc;

	if (!plan)
		abort();
	memcpy(plan, data, size);
	rc = DECODE(plan, size, &d, &bad);
	if (rc < 0 || rc >= NSX_DECODE_ERROR_COUNT) {
		fprintf(stderr, "fuzz_decode: the decoder returned %d, not a DECODE_ERRORS code\n", rc);
		abort();
	}
	if (rc != NSX_DECODE_OK && bad > size) {
		fprintf(stderr, "fuzz_decode: error %d at offset %zu, past the end (%zu)\n", rc, bad, size);
		abort();
	}
	results[rc]++;
	if (rc == NSX_DECODE_OK)
		check_accepted(plan, size, &d);
	free(plan);
	return 0;
}
