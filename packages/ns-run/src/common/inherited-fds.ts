/**
 * The fds the launcher was started with beyond stdio (`exec 7>log; ns-unshare ... >&7`).
 * util-linux execs the program in place, so the program keeps them; ns-core's spawn closes
 * everything it is not told to pass. Close-on-exec cannot tell them apart from Node's own:
 * libuv's uv_disable_stdio_inheritance() marks inherited fds close-on-exec at start-up, and
 * modules loaded later (ns-core) open fds of their own. So this module is imported first, and
 * takes every fd above 2 except what Node itself holds by then: anonymous inodes (epoll,
 * eventfd, io_uring) and pipes it holds both ends of (its self-pipes).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

function snapshot(): number[] {
  const dir = '/proc/self/fd';
  const links = new Map<number, string>();
  for (const entry of readdirSync(dir)) {
    try {
      links.set(Number(entry), readlinkSync(`${dir}/${entry}`));
    } catch (e) {
      // readdir's own directory fd, closed by the time we look at it.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
  }
  /** Which ends of each pipe we hold: fdinfo flags' access mode (O_RDONLY 0, O_WRONLY 1). */
  const ends = new Map<string, Set<number>>();
  for (const [fd, link] of links) {
    if (!link.startsWith('pipe:')) continue;
    const flags = parseInt(/^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0', 8);
    ends.set(link, (ends.get(link) ?? new Set()).add(flags & 3));
  }
  return [...links].filter(([fd, link]) => fd > 2 && !link.startsWith('anon_inode:')
    && !(link.startsWith('pipe:') && ends.get(link)!.size === 2)).map(([fd]) => fd).sort((a, b) => a - b);
}

/** Taken when this module loads: import it before anything that may open fds. */
export const INHERITED_FDS: readonly number[] = snapshot();

/**
 * A spawn `fds` map passing each inherited fd on under its own number, but for `except`
 * (fds the launcher itself uses, such as --info-fd, which the program must not get).
 */
export function inheritedFds(except: readonly (number | undefined)[] = []): Record<number, number> {
  return Object.fromEntries(INHERITED_FDS.filter((fd) => !except.includes(fd)).map((fd) => [fd, fd]));
}
