/*
 * ns-oci - ns-run-oci's fast path for `start`, `state`, `kill` and `delete`.
 *
 *   ns-oci BIN [ns-run-oci's arguments...]
 *
 * Engines call these once or more per container, and a Node start costs several times what
 * the call itself does. bin/ns-run-oci (BIN) execs this for those commands; it answers from
 * ROOT/ID/fast, which ns-container's oci/fast.ts writes at create (the format is defined
 * there), with the TypeScript runtime's own rules, messages and exit codes. Everything else
 * goes to Node (`node -- BIN ARGS`): a command line this does not know exactly, a container
 * without a fast file, a state Node handles (paused), and any unexpected error before this
 * changed anything; Node then decides, so it stays the one definition of the policy.
 *
 * As runtime.ts: every call on an ID holds flock(LOCK_EX) on ROOT/ID (so calls on one ID are
 * serialised, and a create in progress is waited for); a process is named by its pid and its
 * pidfd's inode, and a zombie counts as stopped.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PROG "ns-run-oci"
#define MAX_DIRS 64

static char **node_argv;

/* Node answers instead: the same command line, on the bin's JavaScript. */
static void __attribute__((noreturn)) to_node(void)
{
	execvp("node", node_argv);
	fprintf(stderr, "%s: failed to execute node: %s\n", PROG, strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* The fast file's values: \\ and \n escaped (fast.ts), undone in place. */
static void unescape(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (*s == '\\' && s[1] == 'n') {
			*out++ = '\n';
			s++;
		} else if (*s == '\\' && s[1] == '\\') {
			*out++ = '\\';
			s++;
		} else if (*s == '\\') {
			to_node();
		} else {
			*out++ = *s;
		}
	}
	*out = 0;
}

struct fast {
	long pid;
	unsigned long long inode;
	char *head, *tail;
	char *leaf[MAX_DIRS], *made[MAX_DIRS];
	int leaves, mades;
};

/* Reads a whole small file; NULL with errno set. */
static char *slurp(const char *path, size_t limit)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap + 1);
	for (;;) {
		if (!buf || len >= limit) {
			free(buf);
			close(fd);
			errno = EFBIG;
			return NULL;
		}
		if (len == cap) {
			cap *= 2;
			char *grown = realloc(buf, cap + 1);
			if (!grown)
				free(buf);
			buf = grown;
			if (!buf)
				continue;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			close(fd);
			errno = e;
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = 0;
	if (strlen(buf) != len) {
		free(buf);
		errno = EINVAL;
		return NULL;
	}
	return buf;
}

static int parse_number(const char *s, unsigned long long *out)
{
	if (!*s)
		return -1;
	unsigned long long v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (~0ULL - 9) / 10)
			return -1;
		v = v * 10 + (unsigned long long)(*s - '0');
	}
	*out = v;
	return 0;
}

/* Parses the fast file's text (modified in place); -1 for anything but the format fast.ts writes. */
static int parse_fast(char *text, struct fast *f)
{
	memset(f, 0, sizeof(*f));
	f->pid = -1;
	char *line = text, *next;
	int first = 1;
	for (; *line; line = next) {
		char *nl = strchr(line, '\n');
		if (!nl)
			return -1;
		*nl = 0;
		next = nl + 1;
		if (first) {
			if (strcmp(line, "ns-run-oci-fast 1") != 0)
				return -1;
			first = 0;
			continue;
		}
		char *value = strchr(line, ' ');
		if (!value)
			return -1;
		*value++ = 0;
		unsigned long long n;
		if (strcmp(line, "pid") == 0) {
			if (parse_number(value, &n) || n < 1 || n > 0x3fffffff)
				return -1;
			f->pid = (long)n;
		} else if (strcmp(line, "inode") == 0) {
			if (parse_number(value, &f->inode))
				return -1;
		} else if (strcmp(line, "head") == 0) {
			unescape(value);
			f->head = value;
		} else if (strcmp(line, "tail") == 0) {
			unescape(value);
			f->tail = value;
		} else if (strcmp(line, "leaf") == 0) {
			if (f->leaves == MAX_DIRS)
				return -1;
			unescape(value);
			f->leaf[f->leaves++] = value;
		} else if (strcmp(line, "made") == 0) {
			if (f->mades == MAX_DIRS)
				return -1;
			unescape(value);
			f->made[f->mades++] = value;
		} else {
			return -1;
		}
	}
	return first || f->pid < 0 || !f->inode || !f->head || !f->tail ? -1 : 0;
}

/* --log's file and format, for the error line engines read (containerd shows its msg). */
static const char *log_path;
static int log_json;

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\r')
			fputs("\\r", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c == '\b')
			fputs("\\b", out);
		else if (c == '\f')
			fputs("\\f", out);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/*
 * The TypeScript CLI's failure: the message logged as runc logs it (cli.ts logError), then
 * "ns-run-oci CMD: message" on stderr and exit 1 (runCli's failAndExit, UTIL_LINUX_EXITS).
 */
static void __attribute__((noreturn, format(printf, 2, 3))) fail(const char *command, const char *fmt, ...)
{
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (log_path) {
		struct timespec now;
		struct tm tm;
		char time[96];
		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		snprintf(time, sizeof(time), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
		/* A courtesy, as in cli.ts: stderr has the error either way. */
		FILE *log = fopen(log_path, "ae");
		if (log) {
			if (log_json) {
				fputs("{\"level\":\"error\",\"msg\":", log);
				json_string(log, message);
				fprintf(log, ",\"time\":\"%s\"}\n", time);
			} else {
				fprintf(log, "time=\"%s\" level=error msg=", time);
				json_string(log, message);
				fputc('\n', log);
			}
			fclose(log);
		}
	}
	fprintf(stderr, "%s %s: %s\n", PROG, command, message);
	exit(1);
}

static int write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(fd, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* runtime.ts checkId: runc's ^[\w+.-]+$, not . or .. (Node words the refusal). */
static int valid_id(const char *id)
{
	if (!*id || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return 0;
	for (; *id; id++)
		if (!isalnum((unsigned char)*id) && !strchr("_+.-", *id))
			return 0;
	return 1;
}

/* Node's os.constants.signals on Linux, for `kill ID NAME` (runtime.ts parseOciSignal). */
static const struct { const char *name; int n; } SIGNALS[] = {
	{"SIGHUP", 1}, {"SIGINT", 2}, {"SIGQUIT", 3}, {"SIGILL", 4}, {"SIGTRAP", 5}, {"SIGABRT", 6}, {"SIGIOT", 6},
	{"SIGBUS", 7}, {"SIGFPE", 8}, {"SIGKILL", 9}, {"SIGUSR1", 10}, {"SIGSEGV", 11}, {"SIGUSR2", 12},
	{"SIGPIPE", 13}, {"SIGALRM", 14}, {"SIGTERM", 15}, {"SIGCHLD", 17}, {"SIGSTKFLT", 16}, {"SIGCONT", 18},
	{"SIGSTOP", 19}, {"SIGTSTP", 20}, {"SIGTTIN", 21}, {"SIGTTOU", 22}, {"SIGURG", 23}, {"SIGXCPU", 24},
	{"SIGXFSZ", 25}, {"SIGVTALRM", 26}, {"SIGPROF", 27}, {"SIGWINCH", 28}, {"SIGIO", 29}, {"SIGPOLL", 29},
	{"SIGPWR", 30}, {"SIGSYS", 31},
};

/* A number 1..64, or a name with or without SIG in any case; 0 for what Node should refuse. */
static int parse_signal(const char *s)
{
	unsigned long long n;
	if (parse_number(s, &n) == 0)
		return n >= 1 && n <= 64 ? (int)n : 0;
	char name[16] = "SIG";
	size_t skip = strncasecmp(s, "SIG", 3) == 0 ? 3 : 0;
	if (strlen(s + skip) > sizeof(name) - 4)
		return 0;
	for (size_t i = 0; s[skip + i]; i++)
		name[3 + i] = (char)toupper((unsigned char)s[skip + i]);
	for (size_t i = 0; i < sizeof(SIGNALS) / sizeof(SIGNALS[0]); i++)
		if (strcmp(SIGNALS[i].name, name) == 0)
			return SIGNALS[i].n;
	return 0;
}

static int pidfd_open(long pid)
{
	return (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
}

/*
 * state.ts isAlive: the recorded process (its pidfd's inode) and not a zombie. 1 alive, 0
 * not; Node answers for the errors runtime.ts would throw.
 */
static int alive(const struct fast *f)
{
	int fd = pidfd_open(f->pid);
	if (fd < 0) {
		if (errno == ESRCH)
			return 0;
		to_node();
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		to_node();
	close(fd);
	if ((unsigned long long)st.st_ino != f->inode)
		return 0;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/stat", f->pid);
	char *stat = slurp(path, 1 << 16);
	if (!stat) {
		if (errno == ENOENT || errno == ESRCH)
			return 0;
		to_node();
	}
	char *paren = strrchr(stat, ')');
	int zombie = paren && paren[1] == ' ' && paren[2] == 'Z';
	free(stat);
	return !zombie;
}

/* ns-cgroup groupFrozen: v1 freezer.state FROZEN, else v2 cgroup.events `frozen 1`, over the leaves in order. */
static int frozen(const struct fast *f)
{
	char path[4096];
	for (int i = 0; i < f->leaves; i++) {
		snprintf(path, sizeof(path), "%s/freezer.state", f->leaf[i]);
		if (access(path, F_OK) != 0)
			continue;
		char *text = slurp(path, 1 << 16);
		if (!text)
			return 0;
		char *s = text, *e = text + strlen(text);
		while (*s && isspace((unsigned char)*s))
			s++;
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = 0;
		int yes = strcmp(s, "FROZEN") == 0;
		free(text);
		return yes;
	}
	for (int i = 0; i < f->leaves; i++) {
		snprintf(path, sizeof(path), "%s/cgroup.events", f->leaf[i]);
		if (access(path, F_OK) != 0)
			continue;
		char *text = slurp(path, 1 << 16);
		if (!text)
			return 0;
		int yes = 0;
		for (char *line = text; line && *line;) {
			char *nl = strchr(line, '\n');
			size_t len = nl ? (size_t)(nl - line) : strlen(line);
			if (len == 8 && strncmp(line, "frozen 1", 8) == 0)
				yes = 1;
			line = nl ? nl + 1 : NULL;
		}
		free(text);
		return yes;
	}
	return 0;
}

/* runtime.ts state(): stopped once the init is gone, created while the exec fifo is there (start unlinks it), paused when frozen. */
static const char *status_of(const struct fast *f, const char dir[3072], int *is_alive)
{
	char fifo[4096];
	*is_alive = alive(f);
	if (!*is_alive)
		return "stopped";
	snprintf(fifo, sizeof(fifo), "%s/exec.fifo", dir);
	if (access(fifo, F_OK) == 0)
		return "created";
	return frozen(f) ? "paused" : "running";
}

/* ns-cgroup killIn: SIGKILL to what is in one group directory (cgroup.kill where there is one). */
static void kill_in(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/cgroup.kill", dir);
	if (access(path, F_OK) == 0) {
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			/* Failing means the group is gone meanwhile: nothing to kill (killIn ignores it too). */
			if (write(fd, "1", 1) < 0) {
			}
			close(fd);
		}
	}
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	char *procs = slurp(path, 1 << 24);
	if (!procs)
		return;
	for (char *line = strtok(procs, "\n"); line; line = strtok(NULL, "\n")) {
		unsigned long long pid;
		if (parse_number(line, &pid) == 0 && pid > 0 && pid < 0x40000000)
			kill((pid_t)pid, SIGKILL);
	}
	free(procs);
}

static int depth(const char *p)
{
	int n = 0;
	for (; *p; p++)
		n += *p == '/';
	return n;
}

/*
 * ns-cgroup removeRecordedGroup: what create made, deepest first; a leaf emptied (killed)
 * and retried while its killed processes finish exiting; a level above the leaves kept while
 * another group shares it. Node answers (and words) a directory that cannot be removed.
 */
static void remove_cgroup(const struct fast *f)
{
	int order[MAX_DIRS];
	for (int i = 0; i < f->mades; i++)
		order[i] = i;
	/* Stable, as Array.prototype.sort is: equal depths keep their recorded order. */
	for (int i = 1; i < f->mades; i++)
		for (int j = i; j > 0 && depth(f->made[order[j - 1]]) < depth(f->made[order[j]]); j--) {
			int t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	int failed = 0;
	for (int k = 0; k < f->mades; k++) {
		const char *dir = f->made[order[k]];
		int leaf = 0;
		for (int i = 0; i < f->leaves; i++)
			leaf |= strcmp(f->leaf[i], dir) == 0;
		for (int attempt = 0;; attempt++) {
			if (leaf)
				kill_in(dir);
			if (rmdir(dir) == 0 || errno == ENOENT)
				break;
			if (!leaf && (errno == EBUSY || errno == ENOTEMPTY))
				break;
			if (leaf && errno == EBUSY && attempt < 300) {
				struct timespec ten = {0, 10 * 1000 * 1000};
				nanosleep(&ten, NULL);
				continue;
			}
			failed = 1;
			break;
		}
	}
	if (failed)
		to_node();
}

/* rm -rf of the state directory (a few files: state.json, cgroup.json, fast, exec.fifo). */
static int remove_tree(int parent, const char *name)
{
	if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	int r = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && remove_tree(dirfd(d), e->d_name) < 0)
			r = -1;
	closedir(d);
	if (r == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = -1;
	return r;
}

/* runtime.ts killAndWait: SIGKILL to the recorded process, waited for (5 s at most). */
static void kill_and_wait(const struct fast *f)
{
	int fd = pidfd_open(f->pid);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) == 0 && (unsigned long long)st.st_ino == f->inode &&
	    syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) == 0) {
		/* A pidfd polls readable once its process has exited (a zombie is not alive). */
		struct pollfd p = {fd, POLLIN, 0};
		while (poll(&p, 1, 5000) < 0 && errno == EINTR) {
		}
	}
	close(fd);
}

#ifndef NS_OCI_FUZZ
int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: ns-oci BIN [ns-run-oci arguments]\n");
		return 125;
	}
	node_argv = calloc((size_t)argc + 2, sizeof(char *));
	if (!node_argv)
		return 125;
	node_argv[0] = "node";
	node_argv[1] = "--";
	for (int i = 1; i < argc; i++)
		node_argv[i + 1] = argv[i];

	/* cli.ts parseGlobals, for the forms engines pass; any other goes to Node. */
	const char *root = NULL;
	int i = 2;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *word = argv[i], *eq = strchr(word, '=');
		size_t len = eq ? (size_t)(eq - word) : strlen(word);
		const char *value = eq ? eq + 1 : NULL;
		int takes = (len == 6 && !strncmp(word, "--root", 6)) || (len == 5 && !strncmp(word, "--log", 5)) ||
			    (len == 12 && !strncmp(word, "--log-format", 12));
		if (takes && !value) {
			if (i + 1 >= argc)
				to_node();
			value = argv[++i];
		}
		if (len == 6 && !strncmp(word, "--root", 6))
			root = value;
		else if (len == 5 && !strncmp(word, "--log", 5))
			log_path = value;
		else if (len == 12 && !strncmp(word, "--log-format", 12) && (!strcmp(value, "json") || !strcmp(value, "text")))
			log_json = !strcmp(value, "json");
		else if (!eq && (!strcmp(word, "--systemd-cgroup") || !strcmp(word, "--debug")))
			continue;
		else
			to_node();
	}
	if (i >= argc)
		to_node();
	const char *command = argv[i++];
	int force = 0;
	if (!strcmp(command, "delete") && i < argc && (!strcmp(argv[i], "--force") || !strcmp(argv[i], "-f"))) {
		force = 1;
		i++;
	}
	int operands = argc - i;
	for (int k = i; k < argc; k++)
		if (argv[k][0] == '-')
			to_node();
	int is_kill = !strcmp(command, "kill");
	if (!(is_kill || !strcmp(command, "start") || !strcmp(command, "state") || !strcmp(command, "delete")))
		to_node();
	/* An empty --root is the working directory to posix.join; a very long id is Node's to word. */
	if (operands < 1 || operands > (is_kill ? 2 : 1) || !valid_id(argv[i]) || strlen(argv[i]) > 512 || (root && !*root))
		to_node();
	const char *id = argv[i];
	int signal = 0;
	if (is_kill && !(signal = parse_signal(operands == 2 ? argv[i + 1] : "SIGTERM")))
		to_node();

	char rootbuf[2048], dir[3072], path[4096];
	if (!root) {
		if (geteuid() == 0) {
			root = "/run/ns-run-oci";
		} else {
			const char *xdg = getenv("XDG_RUNTIME_DIR");
			if (xdg)
				snprintf(rootbuf, sizeof(rootbuf), "%s/ns-run-oci", xdg);
			else
				snprintf(rootbuf, sizeof(rootbuf), "/run/user/%u/ns-run-oci", getuid());
			root = rootbuf;
		}
	}
	if (snprintf(dir, sizeof(dir), "%s/%s", root, id) >= (int)sizeof(dir))
		to_node();

	/* runtime.ts locked(): an ID without a directory has nothing to lock. Close-on-exec: Node locks anew. */
	int lock = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock < 0) {
		if (errno != ENOENT)
			to_node();
		if (!strcmp(command, "delete") && force)
			return 0;
		fail(command, "container does not exist: %s", id);
	}
	while (flock(lock, LOCK_EX) < 0)
		if (errno != EINTR)
			to_node();
	snprintf(path, sizeof(path), "%s/fast", dir);
	char *text = slurp(path, 1 << 20);
	struct fast f;
	if (!text || parse_fast(text, &f) < 0)
		to_node();

	int is_alive;
	const char *status = status_of(&f, dir, &is_alive);
	if (!strcmp(command, "state")) {
		char pid[32];
		snprintf(pid, sizeof(pid), "%ld", is_alive ? f.pid : 0L);
		if (write_all(1, f.head, strlen(f.head)) || write_all(1, status, strlen(status)) ||
		    write_all(1, "\",\n  \"pid\": ", 12) || write_all(1, pid, strlen(pid)) ||
		    write_all(1, f.tail, strlen(f.tail)) || write_all(1, "\n", 1))
			fail(command, "write: %s", strerror(errno));
		return 0;
	}
	if (!strcmp(command, "start")) {
		if (strcmp(status, "created") != 0)
			fail(command, "cannot start a container that is %s: %s", status, id);
		snprintf(path, sizeof(path), "%s/exec.fifo", dir);
		/* The writer is blocked in open(2) already: this open pairs with it at once (fifo(7)). */
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			to_node();
		char byte;
		ssize_t n;
		while ((n = read(fd, &byte, 1)) < 0 && errno == EINTR) {
		}
		close(fd);
		if (n != 1)
			fail(command, "container %s ended before it started", id);
		if (unlink(path) < 0)
			fail(command, "unlink '%s': %s", path, strerror(errno));
		return 0;
	}
	if (is_kill) {
		if (!is_alive)
			fail(command, "container not running: %s", id);
		int fd = pidfd_open(f.pid);
		if (fd < 0)
			to_node();
		struct stat st;
		if (fstat(fd, &st) < 0)
			to_node();
		if ((unsigned long long)st.st_ino != f.inode)
			fail(command, "container not running: %s", id);
		if (syscall(SYS_pidfd_send_signal, fd, signal, NULL, 0) < 0)
			to_node();
		return 0;
	}
	/* delete */
	if ((!strcmp(status, "running") || !strcmp(status, "paused")) && !force)
		fail(command, "cannot delete container %s that is not stopped: %s", id, status);
	/* A frozen process takes its SIGKILL only once thawed: Node's (runc's) order. */
	if (!strcmp(status, "paused"))
		to_node();
	if (strcmp(status, "stopped") != 0)
		kill_and_wait(&f);
	remove_cgroup(&f);
	int slash = (int)(strrchr(dir, '/') - dir);
	char parent[4096];
	snprintf(parent, sizeof(parent), "%.*s", slash ? slash : 1, dir);
	int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0 || remove_tree(pfd, dir + slash + 1) < 0)
		to_node();
	return 0;
}
#endif
