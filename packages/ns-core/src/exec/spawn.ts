/**
 * spawn(): start a program in new and/or existing namespaces through the exec stage.
 */
import type * as ChildProcess from 'node:child_process';
import { closeSync, existsSync, openSync, readSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import type * as Net from 'node:net';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { NsError, errnoName } from '../errors';
import { KIND_NAMES, nsProcPath, type NamespaceKind } from '../kinds';
import { fileStatusFlags, openRaw, setFileStatusFlags, O_DIRECTORY } from '../sys/fs';
import { mount, umount2, MNT } from '../sys/mount';
import { closeFd, firstChildOf, pidfdOpen, pidfdSendSignal, pipe, waitPidfd, WEXITED, WNOHANG, type WaitResult } from '../sys/process';
import { execStage, openInitBinary } from './native';
import { memorySharedBegins, memorySharedEnds } from './shared-memory';
import { encodePlan, opError, withInitFd } from './ops';
import {
  compileSpawn, planInputs, planInputsUnchanged, type CompiledSpawn, type PlanInputs, type ParentAction, type ParentContext, type SpawnOptions, type StageAbilities,
  type StdioSpec,
} from './plan';
import { CHILD_FAILURE_EXIT, DECODE_ERRORS, RECORD, RECORD_BYTES } from './protocol';

/**
 * node:net and node:child_process are not in Node's start-up snapshot: they load (~5-10 ms,
 * with their streams and handles) when a spawn pipes stdio or runs a parent program, not with
 * every CLI that only execs in place, nor to read the status pipe (pollPipe).
 */
const netSocket = (): typeof Net.Socket => (require('node:net') as typeof Net).Socket;
const childProcess = (): typeof ChildProcess => require('node:child_process');

export interface ExitStatus {
  /** Exit code, or null if killed by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A process started by spawn(), held by pidfd so a recycled pid is never signalled. */
export class NsChild {
  readonly pid: number;
  readonly pidfd: number;
  /** Ids (nsfs inodes) of the child's namespaces once it was released, for-children where relevant (none if reportNamespaces was false). */
  namespaces: Partial<Record<NamespaceKind, number>> = {};
  /** The program was exec'd (false while starting, and for good if the spawn failed). */
  execed = false;
  /** When a fork step put the program one level down: its pid as the forking process sees it. */
  innerPid: number | undefined;
  /** ...and its pid in the caller's pid namespace. */
  programPid: number | undefined;
  stdin: Writable | null = null;
  stdout: Readable | null = null;
  stderr: Readable | null = null;
  /** Resolves when the child (the init, if there is one) has exited and been reaped. */
  readonly exited: Promise<ExitStatus>;
  #resolveExit!: (s: ExitStatus) => void;
  #status: ExitStatus | undefined;
  #settled = false;
  #released = false;
  #cleanups: (() => void | Promise<void>)[] = [];

  constructor(pid: number, pidfd: number) {
    this.pid = pid;
    this.pidfd = pidfd;
    this.exited = new Promise((resolve) => { this.#resolveExit = resolve; });
  }

  get exitStatus(): ExitStatus | undefined {
    return this.#status;
  }

  /** Sends a signal through the pidfd; false if the child has already exited. */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.#status) return false;
    const n = typeof signal === 'number' ? signal : constants.signals[signal];
    if (n === undefined) throw new NsError({ errno: 22, code: 'EINVAL', message: `unknown signal ${String(signal)}` });
    return pidfdSendSignal(this.pidfd, n);
  }

  /** Lets Node exit while this child still runs. */
  unref(): void {
    reaper.unref(this);
  }

  /** @internal the status pipe reached EOF or an error: the exec stage is done with its memory. */
  _settle(): void {
    this.#settled = true;
    this.#maybeRelease();
  }

  /** @internal */
  get _settled(): boolean {
    return this.#settled;
  }

  /** @internal */
  _onCleanup(fn: () => void | Promise<void>): void {
    this.#cleanups.push(fn);
  }

  /** @internal reaped by the reaper. */
  async _exit(status: ExitStatus): Promise<void> {
    this.#status = status;
    this.#maybeRelease();
    closeFd(this.pidfd);
    let cleanupError: unknown;
    for (const fn of this.#cleanups.splice(0)) {
      try {
        await fn();
      } catch (e) {
        cleanupError ??= e;
      }
    }
    if (cleanupError) process.emitWarning(`nstools: cleanup after pid ${this.pid} failed: ${String(cleanupError)}`);
    this.#resolveExit(status);
  }

  #maybeRelease(): void {
    // The stacks are free once the child has exited and nothing still runs on them (EOF).
    if (!this.#released && this.#settled && this.#status) {
      execStage().release(this.pid);
      this.#released = true;
    }
  }
}

/** Reaps our children by pidfd on SIGCHLD, never touching other code's children. */
class Reaper {
  #live = new Set<NsChild>();
  #unrefd = new Set<NsChild>();
  #timer: NodeJS.Timeout | undefined;
  #listening = false;
  #signals = 0;
  readonly #onSigchld = () => {
    this.#signals++;
    this.poll();
  };

  add(child: NsChild): void {
    // Installed once and kept: taking the handler away with the last child and back with the
    // next cost each spawn two sigaction round trips through libuv's signal lock. A signal
    // listener does not keep Node alive (the timer does), and with no child a SIGCHLD polls none.
    if (!this.#listening) {
      process.on('SIGCHLD', this.#onSigchld);
      this.#listening = true;
    }
    this.#live.add(child);
    this.#updateTimer();
  }

  unref(child: NsChild): void {
    if (!this.#live.has(child)) return; // reaped already: #unrefd stays a part of #live
    this.#unrefd.add(child);
    this.#updateTimer();
  }

  poll(): void {
    for (const child of [...this.#live]) {
      if (!child._settled) continue; // status first: namespace ids are read before reaping
      let result: WaitResult | null;
      try {
        result = waitPidfd(child.pidfd, WEXITED | WNOHANG);
      } catch (e) {
        if ((e as NsError).code !== 'ECHILD') throw e;
        result = { pid: child.pid, code: null, signal: null }; // reaped by someone else's wait(-1)
      }
      if (!result) continue;
      this.#live.delete(child);
      this.#unrefd.delete(child);
      void child._exit({ code: result.code, signal: result.signal });
    }
    this.#updateTimer();
  }

  /** SIGCHLD events seen so far: a spawn that saw none while it ran has no reason to poll. */
  get signals(): number {
    return this.#signals;
  }

  #updateTimer(): void {
    const needed = this.#live.size > this.#unrefd.size;
    if (needed && !this.#timer) {
      // Keeps Node alive while a child runs (signal listeners do not), and polls as a safety net.
      // It outlives the last child until it next fires, unref'd: creating and clearing a timer
      // per spawn was on the path from one program's exit to the next spawn.
      this.#timer = setInterval(() => {
        this.poll();
        if (!this.#live.size && this.#timer) {
          clearInterval(this.#timer);
          this.#timer = undefined;
        }
      }, 1000);
    } else if (needed && !this.#timer!.hasRef()) {
      this.#timer!.ref();
    } else if (!needed && this.#timer?.hasRef()) {
      this.#timer.unref();
    }
  }

  get liveCount(): number {
    return this.#live.size;
  }
}

const reaper = new Reaper();

/** Children started by spawn() and not yet reaped (for leak tests). */
export function liveChildren(): number {
  return reaper.liveCount;
}

interface ResolvedStdio {
  readonly fdMap: ReadonlyMap<number, number>;
  /** Caller-side ends to attach as streams: [child fd, our fd, direction]. */
  readonly pipes: readonly (readonly [number, number, 'write' | 'read'])[];
  /** Fds to close once the child holds its copies. */
  readonly closeAfter: readonly number[];
}

/** The default (stdio inherited, no extra fds), shared: read only, by compileSpawn() and planInputs(). */
const INHERITED: ResolvedStdio = { fdMap: new Map([[0, 0], [1, 1], [2, 2]]), pipes: [], closeAfter: [] };

function resolveStdio(options: SpawnOptions): ResolvedStdio {
  // Building the default anew (a Map, closures, an Object.entries) was ~7 us of a spawn on a cold CPU.
  if ((options.stdio === undefined || options.stdio === 'inherit') && options.fds === undefined) return INHERITED;
  const spec = options.stdio ?? 'inherit';
  const specs: readonly StdioSpec[] = typeof spec === 'string' || typeof spec === 'number' ? [spec, spec, spec] : spec;
  const fdMap = new Map<number, number>();
  const pipes: [number, number, 'write' | 'read'][] = [];
  const closeAfter: number[] = [];
  try {
    specs.forEach((s, childFd) => {
      if (s === 'inherit') fdMap.set(childFd, childFd);
      else if (typeof s === 'number') fdMap.set(childFd, s);
      else if (s === 'ignore') {
        const fd = openSync('/dev/null', childFd === 0 ? 'r' : 'w');
        closeAfter.push(fd);
        fdMap.set(childFd, fd);
      } else {
        const [r, w] = pipe();
        const [childEnd, ourEnd] = childFd === 0 ? [r, w] : [w, r];
        closeAfter.push(childEnd);
        pipes.push([childFd, ourEnd, childFd === 0 ? 'write' : 'read']);
        fdMap.set(childFd, childEnd);
      }
    });
  } catch (e) {
    for (const fd of closeAfter) closeSync(fd);
    for (const [, fd] of pipes) closeSync(fd);
    throw e;
  }
  for (const [target, source] of Object.entries(options.fds ?? {})) fdMap.set(Number(target), source);
  return { fdMap, pipes, closeAfter };
}

/** A namespace file spawn() bound at the sync point, taken away again if the program never runs. */
interface Bound {
  readonly file: string;
  readonly created: boolean;
}

/**
 * bind-ns: the child's namespace onto a file, made (0444, O_EXCL: never someone else's) if missing.
 * Kept in `bound` so that a spawn failing later takes it back.
 */
export function bindNamespaceFile(source: string, file: string, step: string): Bound {
  let created = false;
  if (!existsSync(file)) {
    try {
      closeSync(openSync(file, 'wx', 0o444));
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new NsError({ errno: Math.abs(err.errno ?? 0), code: err.code ?? 'EUNKNOWN', syscall: 'open', path: file, step });
    }
    created = true;
  }
  try {
    mount(source, file, null, ['BIND']);
  } catch (e) {
    if (created) unlinkSync(file);
    const err = e as NsError;
    throw new NsError({ errno: Math.abs(err.errno), code: err.code, syscall: 'mount', path: source, dest: file, step });
  }
  return { file, created };
}

/** Undoes bindNamespaceFile(): detached, so an open fd keeps its namespace but the file lets go. */
export function unbindNamespaceFile(bound: Bound): void {
  umount2(bound.file, MNT.DETACH);
  if (bound.created) unlinkSync(bound.file);
}

async function runParentAction(action: ParentAction, ctx: ParentContext, bound: Bound[]): Promise<void> {
  if (action.action === 'bind-ns') {
    bound.push(bindNamespaceFile(nsProcPath(ctx.pid, action.kind, true), action.file, action.step ?? `persist ${action.kind}`));
    return;
  }
  try {
    if (action.action === 'write-proc') {
      // One write(2): the kernel rejects a uid_map written in pieces.
      writeFileSync(`/proc/${ctx.pid}/${action.file}`, action.data);
    } else if (action.action === 'run') {
      const argv = action.argv.map((a) => a.replaceAll('{pid}', String(ctx.pid)));
      childProcess().execFileSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    } else {
      await action.run(ctx);
    }
  } catch (e) {
    if (e instanceof NsError) throw e;
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer; status?: number };
    const step = action.step ?? (action.action === 'write-proc' ? action.file : action.action);
    if (action.action === 'run') {
      const msg = err.stderr?.toString().trim() || err.message;
      throw new NsError({ errno: Math.abs(err.errno ?? 0) || 0, code: err.code ?? 'EHELPER', step, syscall: 'exec',
                          path: action.argv[0]!, message: `${step}: ${action.argv[0]} failed: ${msg}` });
    }
    // A call action's own Error (no errno) carries the only diagnosis there is: keep its text.
    throw new NsError({ errno: Math.abs(err.errno ?? 0), code: err.code ?? 'EUNKNOWN', step,
                        syscall: err.syscall ?? (action.action === 'write-proc' ? 'write' : action.action),
                        path: action.action === 'write-proc' ? `/proc/${ctx.pid}/${action.file}` : action.step,
                        ...(err.code === undefined ? { message: `${step}: ${err.message}` } : {}) });
  }
}

interface Planned {
  readonly compiled: CompiledSpawn;
  /** Encoded without an init fd: a plan that forks is encoded again with the fd it gets. */
  readonly plan: Buffer;
  readonly forks: boolean;
  readonly inputs: PlanInputs;
}

/**
 * The last plan made of each options object: compiling and encoding were ~8% of a spawn's
 * time for callers that start the same thing again and again (a pool, a test runner, the
 * bench), and checking the options' data against a copy costs a fraction of that. The exec
 * stage copies the plan before it clones, so one Buffer serves every spawn.
 */
const planCache = new WeakMap<SpawnOptions, Planned>();

let abilities: StageAbilities | undefined;

/** Asked of the kernel once per process (a clone3() that fails before any process exists). */
function stageAbilities(stage: ReturnType<typeof execStage>): StageAbilities {
  return (abilities ??= { cloneIntoCgroup: stage.canCloneIntoCgroup() === 1 });
}

function planOf(argv: readonly string[], options: SpawnOptions, fdMap: ReadonlyMap<number, number>,
                stage: ReturnType<typeof execStage>): Omit<Planned, 'inputs'> {
  const last = planCache.get(options);
  if (last && planInputsUnchanged(last.inputs, argv, options, fdMap)) return last;
  // Only a plan that starts in a cgroup asks: the probe is a failing clone3() (~0.4 ms).
  const asks = options.steps?.some((s) => s.startInCgroup !== undefined);
  const compiled = compileSpawn(argv, options, fdMap, asks ? stageAbilities(stage) : undefined);
  const planned = { compiled, plan: encodePlan(compiled.plan), forks: compiled.plan.ops.some((o) => o.op === 'fork') };
  const inputs = planInputs(argv, options, fdMap);
  if (inputs) planCache.set(options, { ...planned, inputs });
  else planCache.delete(options);
  return planned;
}

/**
 * Starts argv[0] in the namespaces the options and steps describe. Resolves once the program
 * has been exec'd (the status pipe reached EOF); rejects with an NsError naming the step,
 * syscall, errno and path if anything before exec failed, having killed and reaped the child
 * and run every step's cleanup.
 */
export async function spawn(argv: readonly string[], options: SpawnOptions = {}): Promise<NsChild> {
  const stdio = resolveStdio(options);
  let compiled: CompiledSpawn;
  let plan: Buffer;
  let forks: boolean;
  let stage: ReturnType<typeof execStage>;
  let initFd: number | undefined;
  let cgroupFd = -1;
  try {
    // Loaded here, inside the try: a missing exec stage must not leak the stdio pipes.
    stage = execStage();
    ({ compiled, plan, forks } = planOf(argv, options, stdio.fdMap, stage));
    if (forks) {
      initFd = openInitBinary();
      plan = encodePlan(withInitFd(compiled.plan, initFd));
    }
    if (compiled.cgroup !== undefined) cgroupFd = openCgroup(compiled.cgroup, options);
  } catch (e) {
    if (initFd !== undefined) closeSync(initFd);
    for (const fd of stdio.closeAfter) closeSync(fd);
    for (const [, fd] of stdio.pipes) closeSync(fd);
    await runCleanups(options, undefined);
    throw e;
  }
  const out = new Int32Array(6);
  memorySharedBegins();
  const rc = stage.spawn(plan, plan.length, cgroupFd, out);
  for (const fd of stdio.closeAfter) closeSync(fd);
  if (initFd !== undefined) closeSync(initFd); // the child has its own copy since clone()
  if (cgroupFd >= 0) closeSync(cgroupFd);
  if (rc < 0) {
    memorySharedEnds();
    for (const [, fd] of stdio.pipes) closeSync(fd);
    await runCleanups(options, undefined);
    if (out[4]! > 0) {
      throw new NsError({ errno: 22, code: 'EPLAN', message: `exec stage rejected the plan: ${DECODE_ERRORS[out[4]!]} at byte ${out[5]}` });
    }
    if (compiled.cgroup !== undefined) {
      // clone3() names no culprit: the cgroup is the likely one (EBUSY: it has controllers on for
      // children; EACCES; EOPNOTSUPP: a threaded one), so name it with the step that asked.
      throw new NsError({ errno: -rc, syscall: 'clone3', namespaces: compiled.created, path: compiled.cgroup, step: cgroupStep(options) });
    }
    throw new NsError({ errno: -rc, syscall: 'clone', namespaces: compiled.created, step: 'clone' });
  }
  const [pid, pidfd, statusFd, goFd] = [out[0]!, out[1]!, out[2]!, out[3]!];
  const child = new NsChild(pid, pidfd);
  for (const s of options.steps ?? []) {
    if (s.cleanup) child._onCleanup(() => s.cleanup!({ pid, pidfd }, { execed: child.execed }));
  }
  reaper.add(child);
  const signalsBefore = reaper.signals;
  for (const [childFd, fd, dir] of stdio.pipes) {
    const sock = new (netSocket())({ fd, readable: dir === 'read', writable: dir === 'write' });
    if (childFd === 0) child.stdin = sock;
    else if (childFd === 1) child.stdout = sock;
    else child.stderr = sock;
  }

  let failure: NsError | undefined;
  const bound: Bound[] = [];
  const read = options.waitForExec === 'async' ? readStatus : readStatusBlocking;
  try {
    await read(statusFd, async (type, opIndex, errno, sys, value) => {
      if (type === RECORD.READY) {
        // Supervised, the program waiting here is the supervisor's child (whose PID record may
        // still be on its way: the two write the pipe independently).
        const programPid = options.supervise ? child.programPid ?? firstChildOf(pid) : undefined;
        const ctx = programPid !== undefined ? { pid: programPid, pidfd: pidfdOpen(programPid) } : { pid, pidfd };
        try {
          for (const action of compiled.parentActions) await runParentAction(action, ctx, bound);
        } finally {
          if (ctx.pidfd !== pidfd) closeFd(ctx.pidfd);
        }
        writeSync(goFd, Buffer.from([1]));
      } else if (type === RECORD.ERROR) {
        failure = opError(compiled.plan.ops, opIndex, errno, sys);
      } else if (type === RECORD.NS_ID) {
        const kind = KIND_NAMES[errno];
        if (kind && value) child.namespaces[kind] = value >>> 0;
      } else if (type === RECORD.PID) {
        child.innerPid = value;
        child.programPid = firstChildOf(pid);
      }
    });
  } catch (e) {
    // EPIPE on the go byte: the child died while it waited. Keep the errno the write got.
    const err = e as NodeJS.ErrnoException;
    failure = e instanceof NsError ? e : new NsError({ errno: Math.abs(err.errno ?? 5), code: err.code ?? 'EIO', message: String(e) });
    child.kill('SIGKILL');
  } finally {
    if (goFd >= 0) closeSync(goFd); // none unless the plan waits for us (a SYNC op)
    child._settle();
    // A SIGCHLD handled while the child was unsettled passed it over: look again. One not
    // handled yet polls when it is, and finds the child settled.
    if (reaper.signals !== signalsBefore) reaper.poll();
  }
  // EOF: the program, and a fork's staying half (nsx-init), have exec'd; none shares our memory.
  if (!failure) memorySharedEnds();
  if (!failure) child.execed = true;
  // The children file is a snapshot (proc(5)); by EOF the program has exec'd and is certainly listed.
  if (!failure && child.innerPid !== undefined && child.programPid === undefined) child.programPid = firstChildOf(pid);
  if (failure) {
    await child.exited;
    memorySharedEnds();
    for (const b of bound.reverse()) unbindNamespaceFile(b);
    child.stdin?.destroy();
    child.stdout?.destroy();
    child.stderr?.destroy();
    throw failure;
  }
  return child;
}


function cgroupStep(options: SpawnOptions): string {
  return options.steps?.find((s) => s.startInCgroup !== undefined)?.name ?? 'cgroup';
}

function openCgroup(dir: string, options: SpawnOptions): number {
  try {
    return openRaw(dir, O_DIRECTORY);
  } catch (e) {
    throw NsError.from(e).withStep(cgroupStep(options));
  }
}

async function runCleanups(options: SpawnOptions, ctx: ParentContext | undefined): Promise<void> {
  for (const s of options.steps ?? []) {
    if (s.cleanup) await s.cleanup(ctx, { execed: false });
  }
}

/** Reads status records on this thread until EOF; parent actions may still be async. */
async function readStatusBlocking(fd: number, onRecord: RecordHandler): Promise<void> {
  const buf = Buffer.alloc(RECORD_BYTES * 8);
  let pending = Buffer.alloc(0);
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EINTR' || (e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
        throw e;
      }
      if (n === 0) return;
      pending = pending.length ? Buffer.concat([pending, buf.subarray(0, n)]) : Buffer.from(buf.subarray(0, n));
      while (pending.length >= RECORD_BYTES) {
        const rec = pending.subarray(0, RECORD_BYTES);
        pending = pending.subarray(RECORD_BYTES);
        await onRecord(rec.readInt32LE(0), rec.readInt32LE(4), rec.readInt32LE(8), rec.readInt32LE(12), rec.readInt32LE(16));
      }
    }
  } finally {
    closeSync(fd);
  }
}

type RecordHandler = (type: number, opIndex: number, errno: number, sys: number, value: number) => Promise<void>;

/** Reads status records until EOF, handling each in order (READY awaits the parent actions). */
async function readStatus(fd: number, onRecord: RecordHandler): Promise<void> {
  let pending: Buffer = Buffer.alloc(0);
  let chain = Promise.resolve();
  let failed = false;
  let failure: unknown;
  await pollPipe(fd, (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= RECORD_BYTES) {
      const rec = pending.subarray(0, RECORD_BYTES);
      pending = pending.subarray(RECORD_BYTES);
      const fields = [0, 4, 8, 12, 16].map((o) => rec.readInt32LE(o)) as [number, number, number, number, number];
      chain = chain.then(() => (failed ? undefined : onRecord(...fields))).catch((e) => {
        failed = true;
        failure = e;
      });
    }
  }, () => failed);
  await chain;
  if (failed) throw failure;
}

/** How long a pipe poll sleeps when there is nothing to read: libuv's timers count whole ms. */
const POLL_MS = 1;
const O_NONBLOCK = 0o4000;

/**
 * Reads a pipe without blocking the event loop and without node:net (whose load costs a
 * process ~3-5 ms): O_NONBLOCK reads, retried from a timer while the pipe is empty. Not
 * fs.read: a read waiting on the threadpool holds one of its four threads, and a pipe that
 * never reaches EOF (a parked container) would hold it until exit. Like a net.Socket reading,
 * the pending poll keeps the process alive until EOF, stop() or an error.
 * @param onChunk each chunk, in order, as it is read (its own copy)
 * @param stop checked before each read: true ends the read early
 * @returns resolves at EOF or stop(), rejects on a read error; the fd is closed either way
 */
export function pollPipe(fd: number, onChunk: (chunk: Buffer) => void, stop: () => boolean = () => false): Promise<void> {
  return new Promise((resolve, reject) => {
    const buf = Buffer.allocUnsafe(4096);
    const finish = (e?: unknown): void => {
      closeSync(fd);
      if (e === undefined) resolve();
      else reject(e);
    };
    const poll = (): void => {
      try {
        for (;;) {
          if (stop()) return finish();
          let n: number;
          try {
            n = readSync(fd, buf, 0, buf.length, null);
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code;
            if (code === 'EINTR') continue;
            if (code !== 'EAGAIN') throw e;
            setTimeout(poll, POLL_MS);
            return;
          }
          if (n === 0) return finish();
          onChunk(Buffer.from(buf.subarray(0, n)));
        }
      } catch (e) {
        finish(e);
      }
    };
    try {
      setFileStatusFlags(fd, (fileStatusFlags(fd) ?? 0) | O_NONBLOCK);
    } catch (e) {
      finish(e);
      return;
    }
    poll();
  });
}

/** Exit status for a CLI, util-linux style: the code, or 128+N for a signal. */
export function exitCodeOf(status: ExitStatus): number {
  if (status.code !== null) return status.code;
  return 128 + (status.signal ? constants.signals[status.signal] ?? 0 : 0);
}

export { CHILD_FAILURE_EXIT, errnoName };
