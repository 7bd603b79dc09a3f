/*
 * cfloor.c - the C floor for spawn_vs_c_floor: what a hand-written C launcher pays to do what
 * ns-core's spawn does (user+mnt+uts+ipc+pid, single-id maps, fresh /proc, exec /bin/true,
 * wait). Serves one spawn per "go" line on stdin and answers with the nanoseconds it took, so
 * the bench can interleave it with the other contenders.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char stack[64 * 1024];
static int sync_pipe[2];

static int child(void *arg)
{
	char c;
	(void)arg;
	if (read(sync_pipe[0], &c, 1) != 1)
		_exit(1);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		_exit(2);
	execl("/bin/true", "true", (char *)NULL);
	_exit(127);
}

static void write_file(int pid, const char *name, const char *data)
{
	char path[64];
	int fd;
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, data, strlen(data)) < 0) {
		perror(path);
		exit(1);
	}
	close(fd);
}

int main(void)
{
	char line[16], map[64];
	int uid = (int)getuid(), gid = (int)getgid();

	setvbuf(stdout, NULL, _IONBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		struct timespec a, b;
		int status, pid;
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (pipe2(sync_pipe, O_CLOEXEC) < 0)
			return 1;
		pid = clone(child, stack + sizeof(stack),
			    CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | SIGCHLD, NULL);
		if (pid < 0) {
			perror("clone");
			return 1;
		}
		snprintf(map, sizeof(map), "0 %d 1", uid);
		write_file(pid, "uid_map", map);
		write_file(pid, "setgroups", "deny");
		snprintf(map, sizeof(map), "0 %d 1", gid);
		write_file(pid, "gid_map", map);
		if (write(sync_pipe[1], "g", 1) != 1)
			return 1;
		close(sync_pipe[0]);
		close(sync_pipe[1]);
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "cfloor: child failed (status %d)\n", status);
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		printf("%lld\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
	}
	return 0;
}
