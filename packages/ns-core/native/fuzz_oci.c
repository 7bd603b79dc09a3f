/*
 * fuzz_oci.c - libFuzzer harness for ns-oci's parsers (oci.c): the fast file with its escapes,
 * signal words and container ids, each given the whole input.
 * Build: clang -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
 * -Wno-unused-function -Wno-unneeded-internal-declaration (oci.c without its main, whose other
 * functions go unused here) -o build/fuzz_oci native/fuzz_oci.c; run: build/fuzz_oci CORPUS.
 *
 * Contract checked for every input: parse_fast never reads or writes outside the text, accepts
 * only what has the version line, a pid in 1..2^30-1, an inode, a head and a tail; every
 * accepted value is a NUL-terminated string inside the text; at most MAX_DIRS leaves and
 * made dirs; parse_signal answers 0 or 1..64; valid_id accepts one path component only. A malformed escape makes oci.c exec Node: here
 * to_node is the fuzzer's longjmp back, not an exec.
 */
#include <setjmp.h>
#include <stdint.h>
#include <unistd.h>
static jmp_buf fuzz_bail;
#define execvp(file, argv) (longjmp(fuzz_bail, 1), -1)
#define NS_OCI_FUZZ 1
#include "oci.c"

static void inside(const char *p, const char *base, size_t len)
{
	if (p < base || p >= base + len + 1 || memchr(p, 0, (size_t)(base + len + 1 - p)) == NULL)
		abort();
}

/* How many inputs each parser accepted, printed at exit: a run that accepted none proved nothing. */
static unsigned long accepted_fast, accepted_signal, accepted_id;

__attribute__((destructor)) static void report(void)
{
	fprintf(stderr, "fuzz_oci: accepted fast %lu signal %lu id %lu\n", accepted_fast, accepted_signal, accepted_id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	struct fast f;
	if (setjmp(fuzz_bail) == 0 && strlen(text) == size && parse_fast(text, &f) == 0) {
		if (f.pid < 1 || f.pid > 0x3fffffff || !f.head || !f.tail || f.leaves > MAX_DIRS || f.mades > MAX_DIRS)
			abort();
		accepted_fast++;
		inside(f.head, text, size);
		inside(f.tail, text, size);
		for (int i = 0; i < f.leaves; i++)
			inside(f.leaf[i], text, size);
		for (int i = 0; i < f.mades; i++)
			inside(f.made[i], text, size);
	}
	memcpy(text, data, size);
	text[size] = 0;
	int n = parse_signal(text);
	if (n < 0 || n > 64)
		abort();
	accepted_signal += n > 0;
	/* An accepted id is one path component of runc's characters. */
	if (valid_id(text) && (strchr(text, '/') || !strcmp(text, "..") || !*text))
		abort();
	accepted_id += valid_id(text) != 0;
	free(text);
	return 0;
}
