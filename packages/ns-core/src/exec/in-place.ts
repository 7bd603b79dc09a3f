/**
 * execInPlace(): the calling Node process becomes the program, as util-linux unshare and
 * nsenter do without --fork. TypeScript plans; the exec stage as an executable (nsx) runs the
 * plan in this very process after an execve() from the main thread; Node leaves.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { usageError } from '../errors';
import { addSeals, dupCloexec, F_SEAL, memfdCreate, setCloexec, setFileStatusFlags, fileStatusFlags, STDIO_FLAGS_AT_LOAD } from '../sys/fs';
import { execve } from '../sys/process';
import { NSX_PATH, openInitBinary, requireBuilt } from './native';
import { encodePlan, withInitFd, type ChildOp } from './ops';
import { compileInPlace, type InPlaceOptions, type StdioSpec } from './plan';

/**
 * Replaces the calling process with `argv` inside new or joined namespaces, keeping its pid:
 * without a fork the program is this process (`$!` of a shell, `nsenter -t PID`, a pid file
 * all find it), with its namespaces. A fork (`fork`, or a new pid namespace, or a step's init)
 * leaves nsx-init, a few KiB of C, waiting and passing signals on. Setup steps are the same as
 * spawn()'s; a step whose parent action runs JavaScript cannot run here and is refused.
 *
 * Must be called from the main thread, with nothing left to flush: no JavaScript runs after it.
 * A failure after the exec (a mount refused, no such program) is printed by the stage itself,
 * `PROG: STEP: SYSCALL PATH failed: CODE (message) (hint: ...)` as formatError() would, and the
 * process exits with `exitCodes` (util-linux's 1, 126, 127 by default).
 *
 * `killWithParent` applies to a forked program (its parent is then nsx-init), as util-linux
 * sets it for --kill-child only; without a fork this process is the program.
 *
 * @example
 *   // like `unshare --map-root-user --uts sh -c ...`: this process becomes sh, keeping its pid
 *   execInPlace(['sh', '-c', 'echo "$(hostname): pid $$, uid $(id -u)"'], {
 *     steps: [user({ mapRoot: true }), uts({ hostname: 'box' })],   // from ns-user, ns-uts
 *     programName: 'demo',
 *   });
 * @throws NsError EUSAGE for invalid options or a step that needs JavaScript at the sync point
 *   (spawn() runs those), ENOEXECSTAGE when nsx is not built, or what execve() of nsx reports.
 */
/** The process event emitted just before execInPlace() replaces the process (no listener: no cost). */
export const EXEC_IN_PLACE_EVENT = 'nstools:exec-in-place';

export function execInPlace(argv: readonly string[], options: InPlaceOptions = {}): never {
  const opened: number[] = [];
  const inherited: number[] = [];
  let flags: (() => void) | undefined;
  try {
    requireBuilt(NSX_PATH, 'nsx (the exec stage as an executable)');
    const fdMap = stdioMap(options, opened);
    const compiled = compileInPlace(argv, options, fdMap, process.pid);
    // Above every fd the plan places, so that no placement can land on them before they are used.
    const high = (fd: number) => {
      const copy = dupCloexec(fd, compiled.plan.fdFloor);
      closeSync(fd);
      opened.push(copy);
      return copy;
    };
    const initFd = compiled.plan.ops.some((o) => o.op === 'fork') ? high(openInitBinary()) : undefined;
    const plan = withInitFd(compiled.plan, initFd);
    const planFd = high(sealedPlan(encodePlan(plan)));
    for (const fd of [planFd, ...fdsNeededBy(plan.ops)]) {
      setCloexec(fd, false);
      inherited.push(fd);
    }
    flags = restoreStdioFlags();
    // The last moment JavaScript runs in this process: whoever listens (the bins' code-cache
    // writer at build time, a test recording what was loaded) sees what start-up compiled.
    (process.emit as (event: string) => boolean)(EXEC_IN_PLACE_EVENT);
    // An empty environment: the program's is in the plan.
    return execve(NSX_PATH, ['nsx', String(planFd)], []);
  } catch (e) {
    // Still Node's process: its fds close on exec again, its stdio streams get their flags back.
    for (const fd of inherited) setCloexec(fd, true);
    flags?.();
    for (const fd of opened) closeSync(fd);
    for (const s of options.steps ?? []) void s.cleanup?.(undefined, { execed: false });
    throw e;
  }
}

/** The plan in a memfd nobody can change once nsx reads it (F_SEAL_WRITE|SHRINK|GROW|SEAL). */
function sealedPlan(bytes: Buffer): number {
  const fd = memfdCreate('nsx-plan');
  try {
    for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off);
    addSeals(fd, F_SEAL.WRITE | F_SEAL.SHRINK | F_SEAL.GROW | F_SEAL.SEAL);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}

/** child fd -> our fd, as spawn() resolves stdio; 'ignore' opens /dev/null (closed if we fail). */
function stdioMap(options: InPlaceOptions, opened: number[]): Map<number, number> {
  const spec = options.stdio ?? 'inherit';
  const specs: readonly StdioSpec[] = typeof spec === 'string' || typeof spec === 'number' ? [spec, spec, spec] : spec;
  const map = new Map<number, number>();
  specs.forEach((s, childFd) => {
    if (s === 'pipe') throw usageError('stdio: a pipe needs a reader, and nothing of this process remains after execInPlace(); use spawn()');
    // An fd the caller closed stays closed, as it would across util-linux's exec.
    if (s === 'inherit') {
      if (fileStatusFlags(childFd) !== undefined) map.set(childFd, childFd);
    }
    else if (typeof s === 'number') map.set(childFd, s);
    else {
      const fd = openSync('/dev/null', childFd === 0 ? 'r' : 'w');
      opened.push(fd);
      map.set(childFd, fd);
    }
  });
  for (const [target, source] of Object.entries(options.fds ?? {})) map.set(Number(target), source);
  return map;
}

/**
 * Every fd an op of the plan uses, which must survive our execve() of nsx: libuv made them all
 * close-on-exec (0-2 included), and the stage marks them so again before the program's own.
 */
function fdsNeededBy(ops: readonly ChildOp[]): number[] {
  const fds = new Set<number>();
  for (const o of ops) {
    if (o.op === 'setns' || o.op === 'fchdir' || o.op === 'mount-fd' || o.op === 'move-mount' || o.op === 'fd-stash') fds.add(o.fd);
    if (o.op === 'fork' && o.initFd !== undefined) fds.add(o.initFd);
    // A supervisor's `userns FD` word: nsx-init joins it for its cleanup.
    if (o.op === 'fork') o.supervise?.forEach((w, i, words) => { if (w === 'userns') fds.add(Number(words[i + 1])); });
    if (o.op === 'terminal' && o.sizeFrom !== undefined) fds.add(o.sizeFrom);
    if (o.op === 'info') for (const fd of [o.infoFd, o.statusFd]) if (fd !== undefined) fds.add(fd);
  }
  return [...fds];
}

/** Puts back the blocking mode Node took from stdio pipes (see STDIO_FLAGS_AT_LOAD); returns how to undo that. */
function restoreStdioFlags(): () => void {
  const undo: (() => void)[] = [];
  STDIO_FLAGS_AT_LOAD.forEach((flags, fd) => {
    const now = fileStatusFlags(fd);
    if (flags === undefined || now === undefined || now === flags) return;
    setFileStatusFlags(fd, flags);
    undo.push(() => setFileStatusFlags(fd, now));
  });
  return () => undo.forEach((u) => u());
}
