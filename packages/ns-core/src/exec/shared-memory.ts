/**
 * The exec stage's child shares Node's memory (CLONE_VM) until it execs, and a stay-behind
 * relay or init (a FORK op) shares it for its whole life. When such a process changes its
 * credentials (setuid, setgid, --owner, joining another user's user namespace),
 * commit_creds() marks the shared mm non-dumpable (kernel/cred.c, fs.suid_dumpable): that
 * keeps the other user from ptrace()ing into what is Node's memory, and must hold while the
 * process lives. Once nothing shares the memory, the flag is Node's alone again; left at 0 it
 * would make Node's /proc files, and those of every later child, root's: an unprivileged
 * launcher could then no longer write a child's uid_map or setgroups (EACCES). So the sharers
 * are counted, and Node's own value is put back when the count returns to zero.
 */
import { prctl } from '../sys/process';

const PR_GET_DUMPABLE = 3;
const PR_SET_DUMPABLE = 4;

let sharers = 0;
let ownDumpable = 1;

/** A process is about to be cloned into Node's memory. */
export function memorySharedBegins(): void {
  if (sharers === 0) ownDumpable = prctl(PR_GET_DUMPABLE);
  sharers++;
}

/** That process has exec'd or exited: it no longer shares Node's memory. */
export function memorySharedEnds(): void {
  sharers--;
  if (sharers === 0 && prctl(PR_GET_DUMPABLE) !== ownDumpable) prctl(PR_SET_DUMPABLE, ownDumpable);
}
