import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { libcFunctions, sysError } from './native';

const c = libcFunctions([
  'int pidfd_open(int pid, unsigned int flags)',
  'int pidfd_getfd(int pidfd, int targetfd, unsigned int flags)',
  'int pidfd_send_signal(int pidfd, int sig, void *info, unsigned int flags)',
  'int waitid(int idtype, unsigned int id, void *infop, int options)',
  'int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)',
  'int close(int fd)',
  'int pipe2(_Out_ int *fds, int flags)',
  'int execve(const char *path, const char **argv, const char **envp)',
]);

const P_PIDFD = 3;
export const WEXITED = 4;
export const WNOHANG = 1;
export const WNOWAIT = 0x01000000;
const CLD_EXITED = 1;
export const O_CLOEXEC = 0o2000000;

export function pidfdOpen(pid: number): number {
  const fd = c.pidfd_open(pid, 0);
  if (fd < 0) throw sysError('pidfd_open', { path: `pid ${pid}` });
  return fd;
}

/** A duplicate of another process's fd (needs PTRACE_MODE_ATTACH_REALCREDS over it). */
export function pidfdGetfd(pidfd: number, targetFd: number): number {
  const fd = c.pidfd_getfd(pidfd, targetFd, 0);
  if (fd < 0) throw sysError('pidfd_getfd', { path: `fd ${targetFd}` });
  return fd;
}

/** Returns false when the process has already exited (ESRCH), throws on anything else. */
export function pidfdSendSignal(pidfd: number, signal: number): boolean {
  if (c.pidfd_send_signal(pidfd, signal, null, 0) < 0) {
    const err = sysError('pidfd_send_signal');
    if (err.code === 'ESRCH') return false;
    throw err;
  }
  return true;
}

export interface WaitResult {
  pid: number;
  /** Exit status, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

const signalNames = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

export function signalName(n: number): NodeJS.Signals | null {
  return signalNames.get(n) ?? null;
}

/** waitid(P_PIDFD): null when options has WNOHANG and the child is still running. */
export function waitPidfd(pidfd: number, options: number): WaitResult | null {
  const info = Buffer.alloc(128);
  if (c.waitid(P_PIDFD, pidfd, info, options) < 0) throw sysError('waitid');
  const pid = info.readInt32LE(16);
  if (pid === 0) return null;
  const code = info.readInt32LE(8);
  const status = info.readInt32LE(24);
  if (code === CLD_EXITED) return { pid, code: status, signal: null };
  return { pid, code: null, signal: signalName(status) ?? (`SIG${status}` as NodeJS.Signals) };
}

export function prctl(option: number, a2 = 0, a3 = 0, a4 = 0, a5 = 0): number {
  const r = c.prctl(option, a2, a3, a4, a5);
  if (r < 0) throw sysError('prctl');
  return r;
}

export function closeFd(fd: number): void {
  c.close(fd);
}

/** pipe2(O_CLOEXEC): [read end, write end]. */
export function pipe(): [number, number] {
  const fds = [0, 0];
  if (c.pipe2(fds, O_CLOEXEC) < 0) throw sysError('pipe2');
  return [fds[0]!, fds[1]!];
}

/**
 * execve(2) from the calling thread, which must be the main one: the kernel ends every other
 * thread (Node's workers) and the process keeps its pid. Returns only by throwing.
 */
export function execve(path: string, argv: readonly string[], envp: readonly string[]): never {
  c.execve(path, [...argv, null], [...envp, null]);
  throw sysError('execve', { path });
}

/** A process's first child, from /proc (the pid in our namespace, whatever namespace it is in). */
export function firstChildOf(pid: number): number | undefined {
  try {
    const first = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0];
    return first ? Number(first) : undefined;
  } catch {
    return undefined; // gone meanwhile
  }
}
