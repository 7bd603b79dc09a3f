/**
 * ns-run-oci's logic: the OCI runtime operations (runtime-spec runtime.md) on a state
 * directory, `--root` (runc's /run/runc layout: ROOT/ID/state.json, ROOT/ID/exec.fifo).
 *
 * The create/start split: `create` spawns the container's process with the compiled plan, the
 * exec stage parked on ROOT/ID/exec.fifo (EXEC_FIFO) after every namespace, mount and id is in
 * place; once the stage says it is parked, the state is written and create exits: no Node
 * process stays, the parked process (the program's own pid, PID 1 of its pid namespace) is
 * reparented to the caller's subreaper (conmon, the shim) or init. `start` opens the fifo for
 * reading, which lets the stage go on to execve.
 *
 * `start`, `state`, `kill` and `delete` are answered in C (ns-core's native/oci.c, exec'd by
 * bin/ns-run-oci) from ROOT/ID/fast, which create writes (fast.ts) where nothing but what is
 * in it is needed; these methods remain for the rest, and define what the C must match.
 *
 * Every operation on an ID holds a flock on ROOT/ID, so concurrent calls are serialised.
 * A process is named by pid and pidfd inode (unique per process on pidfs): a pid reused by
 * another process is never signalled.
 */
import { chmodSync, closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { posix } from 'node:path';
import { NsError, RELAYED_SIGNALS, pollPipe, spawn, sys, writeAll, type NamespaceKind, type NsChild, type Step } from 'ns-core';
import type { CompiledContainer } from '../compile';
import type * as Build from './build';
import { joinCgroupStep, makeContainerCgroup, recordedCgroup, removeContainerCgroup } from './cgroups';
import { constants } from 'node:os';
import { NAMESPACE_TYPES, specError } from '../compile/validate';
import { isAlive, processRef, type ProcessRef } from '../runner/state';
import { groupFrozen, processesIn, setGroupFrozen } from 'ns-cgroup';
import { OCI_VERSION, type ContainerSpec, type SpecHooks } from '../spec';
import { CREATE_HOOKS, HOOK_KINDS, runHooks, validateHooks, type HookState } from './hooks';
import { FAST_FILE, renderFast } from './fast';

/** The compiler, loaded by the calls that build a process only (see build.ts). */
const build = (): typeof Build => require('./build') as typeof Build;

/** runtime.md "State": what `state` prints. */
export interface OciState {
  readonly ociVersion: string;
  readonly id: string;
  readonly status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  readonly pid: number;
  readonly bundle: string;
  readonly rootfs: string;
  readonly created: string;
  readonly owner: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** `state`'s output (runtime.md "State"), without its newline; oci.c prints the same text from the fast file. */
export function stateText(state: OciState): string {
  return JSON.stringify(state, null, 2);
}

function stateOf(s: StoredState, status: OciState['status'], pid: number): OciState {
  return {
    ociVersion: OCI_VERSION, id: s.id, status, pid, bundle: s.bundle, rootfs: s.rootfs, created: s.created, owner: '',
    ...(s.annotations && Object.keys(s.annotations).length ? { annotations: s.annotations } : {}),
  };
}

/** What ROOT/ID/state.json holds. */
interface StoredState {
  readonly id: string;
  readonly hooks?: SpecHooks;
  /** The container's namespaces, which startContainer hooks join. */
  readonly kinds?: readonly NamespaceKind[];
  readonly init: ProcessRef;
  readonly bundle: string;
  readonly rootfs: string;
  readonly created: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface RuntimeOptions {
  /** The state directory (runc's --root). */
  readonly root: string;
}

export interface CreateOptions {
  readonly bundle: string;
  readonly pidFile?: string;
  readonly consoleSocket?: string;
  readonly noPivot?: boolean;
}

const S_IFIFO = 0o010000;
const LOCK_EX = 2;

/** runc's rule for container ids (libcontainer: ^[\w+-\.]+$), which keeps them one path component. */
function checkId(id: string): void {
  if (!/^[\w+.-]+$/.test(id) || id === '.' || id === '..') {
    throw new NsError({ errno: 22, code: 'EUSAGE', message: `invalid container id '${id}': letters, digits, '_', '+', '-' and '.' only` });
  }
}

function notFound(id: string): NsError {
  return new NsError({ errno: 2, code: 'ENOENT', message: `container does not exist: ${id}` });
}

/** Writes a file whole or not at all: a reader never sees half of it. */
function writeAtomic(path: string, data: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
}

export class OciRuntime {
  constructor(readonly options: RuntimeOptions) {}

  private dir(id: string): string {
    return posix.join(this.options.root, id);
  }

  /** Beside the containers, under a name no container id can take ('#' fails checkId). */
  private seccompCacheDir(): string {
    return posix.join(this.options.root, '#seccomp');
  }

  /**
   * Runs fn holding ID's lock: flock on ROOT/ID itself, released when this process ends however
   * it ends, and gone with the directory (no lock file to leave behind). An ID with no directory
   * has nothing to lock: create claims it by mkdir(2), which only one caller wins, and locks it then.
   */
  async locked<T>(id: string, fn: () => T | Promise<T>): Promise<T> {
    checkId(id);
    let fd: number | undefined;
    try {
      fd = sys.openRaw(this.dir(id), sys.O_DIRECTORY);
    } catch (e) {
      if ((e as NsError).code !== 'ENOENT') throw e;
    }
    try {
      if (fd !== undefined) sys.flock(fd, LOCK_EX);
      return await fn();
    } finally {
      if (fd !== undefined) sys.closeFd(fd);
    }
  }

  private stored(id: string): StoredState | undefined {
    try {
      return JSON.parse(readFileSync(posix.join(this.dir(id), 'state.json'), 'utf8')) as StoredState;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  private exists(id: string): boolean {
    try {
      return fstatSync(openSync(this.dir(id), 'r')) !== undefined;
    } catch {
      return false;
    }
  }

  /** runtime.md's status: created while the process waits on the fifo, running once past it, stopped once it is gone (or a zombie). */
  state(id: string): OciState {
    checkId(id);
    const s = this.stored(id);
    if (!s) throw notFound(id);
    const alive = isAlive(s.init);
    // start unlinks the fifo once the program is let go.
    const parked = existsSync(posix.join(this.dir(id), 'exec.fifo'));
    const status = !alive ? 'stopped' : parked ? 'created' : this.frozen(id) ? 'paused' : 'running';
    return stateOf(s, status, alive ? s.init.pid : 0);
  }

  /**
   * create: everything but the execve. Resolves once the program is parked (its pid in
   * --pid-file); on any failure nothing is left: no process, no state directory.
   */
  async create(id: string, options: CreateOptions): Promise<number> {
    const { spec, bundle, dir } = this.claim(id, options);
    const fifo = posix.join(dir, 'exec.fifo');
    const fds: number[] = [];
    const init = new InitRecord();
    const hooks = HookPoint.open(spec);
    try {
      sys.mknod(fifo, S_IFIFO | 0o622);
      // As runc makes it: writable by the container's user whatever our umask took away.
      chmodSync(fifo, 0o622);
      const fifoFd = sys.openRaw(fifo, sys.O_PATH);
      fds.push(fifoFd);
      const [readyRead, readyWrite] = sys.pipe();
      fds.push(readyRead, readyWrite);
      const { started, compiled } = this.launch(id, spec, bundle, dir, options, hooks, init, { fifoFd, readyWrite });
      try {
        sys.closeFd(readyWrite);
        fds.splice(fds.indexOf(readyWrite), 1);
        // aByte owns the read end from here, and closes it.
        fds.splice(fds.indexOf(readyRead), 1);
        await hooks?.run(started.child, () => this.creatingState(id, spec, bundle, init.pid!), () => ({ pid: init.pid!, kinds: containerKinds(compiled, compiled.create) }));
        await parked(readyRead, started.child);
      } finally {
        started.release();
      }
      this.record(dir, id, init.ref!, bundle, compiled.rootfs, spec, options.pidFile, containerKinds(compiled, compiled.create));
      return init.pid!;
    } catch (e) {
      if (init.ref !== undefined) killAndWait(init.ref.pid, init.ref);
      removeContainerCgroup(dir);
      rmSync(dir, { recursive: true, force: true });
      throw e;
    } finally {
      hooks?.close();
      for (const fd of fds) sys.closeFd(fd);
    }
  }

  /**
   * What create and run share: the spec's MUST rules checked before anything exists, the
   * cgroup made (before the compile, whose cgroup mount shows it), the container compiled, its
   * program looked for in the root as runc does, and its process spawned; `release` closes
   * what the spawn borrowed (the joined namespaces, the console) once it has exec'd or failed.
   * `parking` (create): the exec fifo and the pipe the stage says it is parked on.
   */
  private launch(id: string, spec: ContainerSpec, bundle: string, dir: string, options: CreateOptions, hooks: HookPoint | undefined,
                 init: InitRecord, parking?: { fifoFd: number; readyWrite: number }) {
    build().validateSpec(spec);
    const warnings: string[] = [];
    const cgroup = this.withCgroup(dir, id, spec, warnings);
    const compiled = build().compileContainer(spec, {
      bundle, rootless: process.geteuid!() !== 0, ...(parking ? { execFifoFd: 3, execReadyFd: 4 } : {}), ...(options.noPivot ? { noPivot: true } : {}),
      seccompCacheDir: this.seccompCacheDir(),
      ...(cgroup.record ? { cgroupDirs: cgroup.record.leaves } : {}), ...(hooks ? { hookPoint: hooks.childOp } : {}),
    });
    warnings.push(...compiled.warnings);
    this.checkProgram(spec, compiled.rootfs);
    const create = cgroup.record ? compiled.create.filter((k) => k !== 'cgroup') : compiled.create;
    warn(warnings);
    const consoleFd = options.consoleSocket !== undefined ? openConsole(options.consoleSocket) : undefined;
    const borrowed = { join: [] as ReturnType<ReturnType<typeof build>['openJoins']>, consoleFd };
    const release = () => {
      for (const ns of borrowed.join.splice(0)) ns.close();
      if (borrowed.consoleFd !== undefined) sys.closeFd(borrowed.consoleFd);
      borrowed.consoleFd = undefined;
    };
    let child: Promise<NsChild>;
    try {
      borrowed.join = build().openJoins(compiled);
      child = spawn(compiled.argv, {
        create, join: borrowed.join, steps: [...compiled.steps, ...cgroup.steps, ...terminalSteps(spec.process!, consoleFd), init.step],
        env: compiled.env, cwd: compiled.cwd, stdio: 'inherit',
        fds: { ...(parking ? { 3: parking.fifoFd, 4: parking.readyWrite } as Record<number, number> : {}), ...consoleFds(consoleFd), ...hooks?.childFds },
        // A created container outlives us. The hook point and the parked wait are served from the
        // event loop, which a blocking read of the status pipe would hold.
        ...(parking ? { killWithParent: false as const } : {}), ...(parking || hooks ? { waitForExec: 'async' as const } : {}),
      });
    } catch (e) {
      release();
      throw e;
    }
    child.catch(() => undefined);
    hooks?.spawned();
    return { compiled, started: { child, release } };
  }

  /**
   * runc's check at create: the program must be found in the root now, or create fails
   * (engines map "executable file not found in $PATH" to 127, podman's exit for it). Looked up
   * inside the root (symlinks resolved in it); a directory a mount covers is taken on trust.
   */
  private checkProgram(spec: ContainerSpec, rootfs: string): void {
    const name = spec.process!.args[0]!;
    const path = (spec.process!.env ?? []).find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
    const candidates = name.includes('/') ? [posix.resolve(spec.process!.cwd, name)] : path.split(':').filter(Boolean).map((d) => posix.join(d, name));
    const mounted = (spec.mounts ?? []).map((m) => m.destination);
    for (const candidate of candidates) {
      if (mounted.some((m) => candidate === m || candidate.startsWith(`${m}/`))) return;
      try {
        const r = build().resolveInRoot(rootfs, candidate, 'process.args[0]');
        if (r.kind === 'file' && (statSync(posix.join(rootfs, r.inside)).mode & 0o111) !== 0) return;
      } catch {
        // not this one
      }
    }
    throw new NsError({ errno: 2, code: 'ENOENT', syscall: 'execve', path: name, step: 'process.args[0]',
                        message: `exec: "${name}": executable file not found in $PATH` });
  }

  /** The state hooks get at create's hook point. */
  private creatingState(id: string, spec: ContainerSpec, bundle: string, pid: number): HookState {
    return { ociVersion: OCI_VERSION, id, status: 'creating', pid, bundle, ...(spec.annotations ? { annotations: spec.annotations } : {}) };
  }

  private hookState(s: StoredState, status: HookState['status']): HookState {
    return { ociVersion: OCI_VERSION, id: s.id, status, ...(status !== 'stopped' ? { pid: s.init.pid } : {}), bundle: s.bundle, ...(s.annotations ? { annotations: s.annotations } : {}) };
  }

  /**
   * The container's cgroup made (recorded in `dir` first) and the step that moves the
   * process in; the kinds clone() makes lose 'cgroup', which the step unshares after the move.
   */
  private withCgroup(dir: string, id: string, spec: ContainerSpec, warnings: string[]) {
    const record = makeContainerCgroup(dir, id, spec, warnings, process.geteuid!() !== 0);
    if (!record) return { record, steps: [] };
    const ownNamespace = (spec.linux?.namespaces ?? []).some((n) => n.type === 'cgroup' && n.path === undefined);
    return { record, steps: [joinCgroupStep(record, ownNamespace)] };
  }

  /** Reads the bundle's config.json and claims ROOT/ID (EEXIST for a taken id). */
  private claim(id: string, options: CreateOptions): { spec: ContainerSpec; bundle: string; dir: string } {
    checkId(id);
    const bundle = posix.resolve(options.bundle);
    let spec: ContainerSpec;
    try {
      spec = JSON.parse(readFileSync(posix.join(bundle, 'config.json'), 'utf8')) as ContainerSpec;
    } catch (e) {
      if (e instanceof SyntaxError) throw specError('config.json', `not JSON: ${e.message}`);
      throw NsError.from(e, { syscall: 'open', path: posix.join(bundle, 'config.json'), step: '--bundle' });
    }
    validateHooks(spec.hooks);
    checkConsole(spec.process?.terminal ?? false, options.consoleSocket, 'process.terminal');
    const dir = this.dir(id);
    mkdirSync(this.options.root, { recursive: true, mode: 0o700 });
    try {
      mkdirSync(dir, { mode: 0o711 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new NsError({ errno: 17, code: 'EEXIST', message: `container with id exists: ${id}` });
      throw NsError.from(e, { syscall: 'mkdir', path: dir, step: '--root' });
    }
    // Held until this process ends: callers on the same ID wait for the container to exist.
    sys.flock(sys.openRaw(dir, sys.O_DIRECTORY), LOCK_EX);
    return { spec, bundle, dir };
  }

  private record(dir: string, id: string, ref: ProcessRef, bundle: string, rootfs: string, spec: ContainerSpec, pidFile?: string, kinds?: readonly NamespaceKind[]): void {
    const state: StoredState = {
      id, init: ref, bundle, rootfs, created: new Date().toISOString(), ...(spec.annotations ? { annotations: spec.annotations } : {}),
      ...(spec.hooks ? { hooks: spec.hooks } : {}), ...(kinds ? { kinds } : {}),
    };
    writeAtomic(posix.join(dir, 'state.json'), JSON.stringify(state));
    // After state.json: a create killed in between leaves no fast file, and Node answers.
    const fast = renderFast(spec.hooks, ref, recordedCgroup(dir), (status, pid) => stateText(stateOf(state, status, pid)));
    if (fast !== undefined) writeAtomic(posix.join(dir, FAST_FILE), fast);
    if (pidFile) writeAtomic(posix.resolve(pidFile), String(ref.pid));
  }

  /** run: create + start in one, waited for here; the container's state is removed once it ends. Resolves to its exit code (128+N for signal N). */
  async run(id: string, options: CreateOptions): Promise<number> {
    const { spec, bundle, dir } = this.claim(id, options);
    const hooks = HookPoint.open(spec);
    try {
      if (spec.hooks?.startContainer?.length) throw specError('hooks.startContainer', 'not run by ns-run-oci run (no start step): use create and start');
      const init = new InitRecord();
      const { started, compiled } = this.launch(id, spec, bundle, dir, options, hooks, init);
      let child;
      try {
        try {
          await hooks?.run(started.child, () => this.creatingState(id, spec, bundle, init.pid!), () => ({ pid: init.pid!, kinds: containerKinds(compiled, compiled.create) }));
        } catch (e) {
          // spawn() reaps what it started once the stage reports; a hook's failure must end it first.
          if (init.ref !== undefined) killAndWait(init.ref.pid, init.ref);
          throw e;
        }
        child = await started.child;
      } finally {
        started.release();
      }
      this.record(dir, id, init.ref!, bundle, compiled.rootfs, spec, options.pidFile);
      const s = this.stored(id)!;
      warn(await runHooks(spec.hooks, 'poststart', this.hookState(s, 'running'), { runtime: true }));
      const status = await child.exited;
      removeContainerCgroup(dir);
      rmSync(dir, { recursive: true, force: true });
      warn(await runHooks(spec.hooks, 'poststop', this.hookState(s, 'stopped'), { runtime: true }));
      return status.code ?? 128 + (constants.signals[status.signal as NodeJS.Signals] ?? 0);
    } finally {
      hooks?.close();
      removeContainerCgroup(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** runtime-spec features.md: what this runtime supports. */
  features(): Record<string, unknown> {
    return {
      ociVersionMin: '1.0.0', ociVersionMax: OCI_VERSION, hooks: [...HOOK_KINDS],
      mountOptions: [...Object.keys(build().FLAG_OPTIONS), ...Object.keys(build().PROPAGATION_OPTIONS)].sort(),
      linux: {
        namespaces: Object.keys(NAMESPACE_TYPES), capabilities: build().CAPABILITY_NAMES.map((n) => `CAP_${n}`),
        cgroup: { v1: true, v2: true, systemd: false }, seccomp: { enabled: true }, apparmor: { enabled: false }, selinux: { enabled: false },
      },
    };
  }

  /**
   * exec: another process in a running container, in every namespace of its init (joined by
   * pidfd, verified first), with `process`'s ids, capabilities, limits, and the container's
   * seccomp filter, as runc does. Detached: resolves once it runs, its pid in pidFile (the
   * process that waits for it past the pid namespace's fork, which exits as it does); else
   * resolves to its exit code.
   */
  async exec(id: string, processSpec: Omit<NonNullable<ContainerSpec['process']>, 'user'> & { user?: NonNullable<ContainerSpec['process']>['user'] }, options: { detach?: boolean; pidFile?: string; consoleSocket?: string }): Promise<number> {
    const s = this.stored(id);
    if (!s) throw notFound(id);
    if (this.state(id).status !== 'running') throw new NsError({ errno: 22, code: 'EINVAL', message: `cannot exec in a container that is not running: ${id}` });
    const spec = JSON.parse(readFileSync(posix.join(s.bundle, 'config.json'), 'utf8')) as ContainerSpec;
    // runc's `exec ID program`: the container's process but for what was given.
    const proc: NonNullable<ContainerSpec['process']> = processSpec.user === undefined
      ? { ...spec.process!, ...processSpec, user: spec.process!.user } : { ...processSpec, user: processSpec.user };
    checkConsole(proc.terminal ?? false, options.consoleSocket, '--tty');
    const kinds = (spec.linux?.namespaces ?? []).map((n) => NAMESPACE_TYPES[n.type]);
    // The process's own part of the plan: no namespace made, no map written, no hostname set.
    const execSpec: ContainerSpec = { ...spec, hostname: undefined, domainname: undefined, process: proc,
                                      linux: { ...spec.linux, namespaces: [], uidMappings: [], gidMappings: [] } } as ContainerSpec;
    build().validateSpec({ ...spec, process: proc });
    const warnings: string[] = [];
    const steps = build().processSteps(execSpec, { rootless: process.geteuid!() !== 0, uid: process.getuid!(), gid: process.getgid!() }, warnings);
    warn(warnings);
    // setns(CLONE_NEWPID) moves only children into the pid namespace (pid_namespaces(7)): the
    // program is forked past the joins, and the process that waits for it exits as it does.
    // Detached, nothing waits here: the forking process leaves at once and the program is
    // the orphan the engine's subreaper (conmon, the shim) adopts, its pid the one in --pid-file,
    // which the engine reaps and signals (a relay there would take a SIGKILL meant for the program).
    if (kinds.includes('pid')) {
      steps.push({ name: 'exec pid', child: [
        ...(options.detach ? [{ op: 'leave' as const, phase: 'fork' as const, step: 'exec --detach' }] : []),
        { op: 'fork', init: false, forward: RELAYED_SIGNALS, privateMemory: options.detach === true, phase: 'fork', step: 'join pid' },
      ] });
    }
    // runc's exec: the new process in the container's cgroup too (its limits count it).
    const cgroup = recordedCgroup(this.dir(id));
    if (cgroup) steps.push(joinCgroupStep(cgroup, false));
    const consoleFd = options.consoleSocket !== undefined ? openConsole(options.consoleSocket) : undefined;
    steps.push(...terminalSteps(proc, consoleFd));
    const pidfd = sys.pidfdOpen(s.init.pid);
    let child;
    try {
      if (fstatSync(pidfd).ino !== s.init.inode) throw new NsError({ errno: 3, code: 'ESRCH', message: `container not running: ${id}` });
      child = await spawn(proc.args, {
        join: [{ pidfd, kinds }], steps, env: proc.env ?? [], cwd: proc.cwd, stdio: 'inherit', killWithParent: options.detach ? false : 'SIGKILL',
        ...(consoleFd !== undefined ? { fds: { [CONSOLE_CHILD_FD]: consoleFd } } : {}),
      });
    } finally {
      sys.closeFd(pidfd);
      if (consoleFd !== undefined) sys.closeFd(consoleFd);
    }
    // The forking process is in our pid namespace (setns moves only its children), so the pid
    // it reported is ours too; read from its children file when it is still there.
    if (options.pidFile) writeAtomic(posix.resolve(options.pidFile), String(child.programPid ?? child.innerPid ?? child.pid));
    if (options.detach) return 0;
    const status = await child.exited;
    return status.code ?? 128 + (constants.signals[status.signal as NodeJS.Signals] ?? 0);
  }

  private frozen(id: string): boolean {
    const cgroup = recordedCgroup(this.dir(id));
    return cgroup !== undefined && groupFrozen(cgroup.leaves);
  }

  /** pause: every process of the container frozen (its cgroup's freezer), as runc does; only a running one. */
  pause(id: string): void {
    const st = this.state(id);
    if (st.status !== 'running') throw new NsError({ errno: 22, code: 'EINVAL', message: `cannot pause a container that is ${st.status}: ${id}` });
    setGroupFrozen(this.cgroupOf(id).leaves, true);
  }

  /** resume: a paused container's processes thawed. */
  resume(id: string): void {
    const st = this.state(id);
    if (st.status !== 'paused') throw new NsError({ errno: 22, code: 'EINVAL', message: `cannot resume a container that is not paused (${st.status}): ${id}` });
    setGroupFrozen(this.cgroupOf(id).leaves, false);
  }

  private cgroupOf(id: string) {
    const cgroup = recordedCgroup(this.dir(id));
    if (!cgroup) throw new NsError({ errno: 95, code: 'ENOTSUP', message: `container ${id} has no cgroup of its own to freeze (a rootless one without a delegated cgroup)` });
    return cgroup;
  }

  /** start: lets the parked program execve. */
  async start(id: string): Promise<void> {
    const st = this.state(id);
    if (st.status !== 'created') throw new NsError({ errno: 22, code: 'EINVAL', message: `cannot start a container that is ${st.status}: ${id}` });
    const s = this.stored(id)!;
    if (s.hooks?.startContainer?.length) {
      const pidfd = sys.pidfdOpen(s.init.pid);
      try {
        if (fstatSync(pidfd).ino !== s.init.inode) throw new NsError({ errno: 3, code: 'ESRCH', message: `container not running: ${id}` });
        await runHooks(s.hooks, 'startContainer', this.hookState(s, 'created'), { pidfd, kinds: s.kinds ?? [] });
      } catch (e) {
        // runtime.md: a failing startContainer hook stops the container.
        killAndWait(s.init.pid, s.init);
        throw e;
      } finally {
        sys.closeFd(pidfd);
      }
    }
    const fifo = posix.join(this.dir(id), 'exec.fifo');
    // The writer is already blocked in open(2): this open pairs with it at once (fifo(7)).
    const fd = openSync(fifo, 'r');
    try {
      const byte = Buffer.alloc(1);
      if (readSync(fd, byte) !== 1) throw new NsError({ errno: 5, code: 'EIO', message: `container ${id} ended before it started` });
    } finally {
      closeSync(fd);
    }
    unlinkSync(fifo);
    warn(await runHooks(s.hooks, 'poststart', this.hookState(s, 'running'), { runtime: true }));
  }

  /**
   * The container's processes, as host pids, the init first: those in its cgroup, as runc
   * lists them (a container sharing the host's pid namespace has only those); without a
   * cgroup of its own (rootless), those in its init's pid namespace.
   */
  processes(id: string): number[] {
    const s = this.stored(id);
    if (!s) throw notFound(id);
    if (!isAlive(s.init)) return [];
    const cgroup = recordedCgroup(this.dir(id));
    if (cgroup) return [s.init.pid, ...processesIn(cgroup.leaves).filter((p) => p !== s.init.pid)];
    const ns = (pid: number | string) => {
      try {
        return readlinkSync(`/proc/${pid}/ns/pid`);
      } catch {
        return undefined;
      }
    };
    const own = ns(s.init.pid);
    const pids = readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number).filter((p) => p !== s.init.pid && ns(p) === own);
    return [s.init.pid, ...pids.sort((a, b) => a - b)];
  }

  /** kill --all: every process of the container (the init last, whose end would take the others). */
  killAll(id: string, signal: number): void {
    const [init, ...others] = this.processes(id);
    if (init === undefined) throw new NsError({ errno: 3, code: 'ESRCH', message: `container not running: ${id}` });
    for (const pid of others) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone meanwhile
      }
    }
    try {
      this.kill(id, signal);
    } catch (e) {
      // The init may end of its own accord once the others did (a shell waiting for them):
      // every process got the signal or is gone, which is what --all asks (runc: the same).
      if (!(e instanceof NsError) || e.code !== 'ESRCH') throw e;
    }
  }

  /** kill: a signal to the container's process, verified by pidfd first. */
  kill(id: string, signal: number): void {
    const s = this.stored(id);
    if (!s) throw notFound(id);
    if (!isAlive(s.init)) throw new NsError({ errno: 3, code: 'ESRCH', message: `container not running: ${id}` });
    const fd = sys.pidfdOpen(s.init.pid);
    try {
      if (fstatSync(fd).ino !== s.init.inode) throw new NsError({ errno: 3, code: 'ESRCH', message: `container not running: ${id}` });
      sys.pidfdSendSignal(fd, signal);
    } finally {
      sys.closeFd(fd);
    }
  }

  /** delete: a stopped or created container's state removed (--force: a running one killed first). */
  async delete(id: string, force: boolean): Promise<void> {
    checkId(id);
    const s = this.stored(id);
    if (!s) {
      if (force || this.exists(id)) {
        // A create that died half-way: its directory has no state, its cgroup record says
        // what it made (and what it started is killed with the group).
        removeContainerCgroup(this.dir(id));
        rmSync(this.dir(id), { recursive: true, force: true });
        return;
      }
      throw notFound(id);
    }
    const status = this.state(id).status;
    if ((status === 'running' || status === 'paused') && !force) throw new NsError({ errno: 16, code: 'EBUSY', message: `cannot delete container ${id} that is not stopped: ${status}` });
    if (status === 'paused') {
      // A frozen process takes its SIGKILL only once thawed (runc kills, then thaws).
      this.kill(id, 9);
      setGroupFrozen(this.cgroupOf(id).leaves, false);
    }
    if (status !== 'stopped') killAndWait(s.init.pid, s.init);
    removeContainerCgroup(this.dir(id));
    rmSync(this.dir(id), { recursive: true, force: true });
    warn(await runHooks(s.hooks, 'poststop', this.hookState(s, 'stopped'), { runtime: true }));
  }
}

/**
 * The container's process as our pid namespace sees it, named at the sync point while it
 * waits: a program that ends at once is gone (reaped, its pid free) by the time spawn() resolves.
 */
class InitRecord {
  pid?: number;
  ref?: ProcessRef;
  readonly step: Step = {
    name: 'container pid',
    parent: [{ action: 'call', step: 'container pid', run: ({ pid }) => { this.pid = pid; this.ref = processRef(pid); } }],
  };
}

/** The child fds of the hook point's pipes (after the console's 5). */
const HOOK_READY_CHILD_FD = 6;
const HOOK_GO_CHILD_FD = 7;

/**
 * Create's hook point, where runc has it (runtime-spec config.md, POSIX-platform hooks): the
 * stage stops once the container's mounts are made, before its root changes (HOOK_SYNC), and
 * says so on one pipe; prestart and createRuntime run then in the runtime's namespaces,
 * createContainer in the container's (joined through its process, its mount namespace's root
 * still the host's, as runc runs it); one byte on another pipe lets the stage go on to
 * pivot_root. Not made for a spec without those hooks: the stage does not stop then.
 */
class HookPoint {
  private readonly fds: number[];

  private constructor(private readonly hooks: SpecHooks, private readonly readyRead: number, private readonly readyWrite: number,
                      private readonly goRead: number, private readonly goWrite: number) {
    this.fds = [readyRead, readyWrite, goRead, goWrite];
  }

  static open(spec: ContainerSpec): HookPoint | undefined {
    if (!CREATE_HOOKS.some((k) => spec.hooks?.[k]?.length)) return undefined;
    const [readyRead, readyWrite] = sys.pipe();
    const [goRead, goWrite] = sys.pipe();
    return new HookPoint(spec.hooks!, readyRead, readyWrite, goRead, goWrite);
  }

  /** What spawn() places in the child. */
  get childFds(): Record<number, number> {
    return { [HOOK_READY_CHILD_FD]: this.readyWrite, [HOOK_GO_CHILD_FD]: this.goRead };
  }

  /** The op's fds; the child's copy of our go end is closed there, unless fd placement could have taken its number. */
  get childOp(): { ready: number; go: number; callerGo?: number } {
    return { ready: HOOK_READY_CHILD_FD, go: HOOK_GO_CHILD_FD, ...(this.goWrite > HOOK_GO_CHILD_FD ? { callerGo: this.goWrite } : {}) };
  }

  /** Once the child is cloned: its ends are its own, so its end is EOF here. */
  spawned(): void {
    this.closeOwn(this.readyWrite);
    this.closeOwn(this.goRead);
  }

  /**
   * Waits for the stage at the hook point (or for the spawn's failure), runs the hooks, lets it go.
   * @throws NsError naming the hook that failed; the caller kills the child then.
   */
  async run(started: Promise<unknown>, state: () => HookState, container: () => { pid: number; kinds: readonly NamespaceKind[] }): Promise<void> {
    this.fds.splice(this.fds.indexOf(this.readyRead), 1);
    if (!await Promise.race([aByte(this.readyRead), started.then(() => false)])) {
      await started;
      throw new NsError({ errno: 5, code: 'EIO', message: 'the container\'s process ended before its hooks could run' });
    }
    await runHooks(this.hooks, 'prestart', state(), { runtime: true });
    await runHooks(this.hooks, 'createRuntime', state(), { runtime: true });
    const { pid, kinds } = container();
    const pidfd = sys.pidfdOpen(pid);
    try {
      await runHooks(this.hooks, 'createContainer', state(), { pidfd, kinds });
    } finally {
      sys.closeFd(pidfd);
    }
    writeSync(this.goWrite, '1');
    this.closeOwn(this.goWrite);
  }

  private closeOwn(fd: number): void {
    const i = this.fds.indexOf(fd);
    if (i < 0) return;
    this.fds.splice(i, 1);
    sys.closeFd(fd);
  }

  close(): void {
    for (const fd of this.fds.splice(0)) sys.closeFd(fd);
  }
}

/** What the spec lets a runtime ignore, and hooks whose failure is not the call's, on stderr. */
function warn(warnings: readonly string[]): void {
  for (const w of warnings) writeAll(2, `ns-run-oci: warning: ${w}\n`);
}

/** The namespaces the container's process is in: those made (cgroup's too, unshared late) and those joined. */
function containerKinds(compiled: CompiledContainer, create: readonly NamespaceKind[]): NamespaceKind[] {
  return [...new Set([...create, ...compiled.join.map((j) => j.kind)])];
}

/** The child fd the engine's console socket is placed at (after the exec fifo's 3 and 4). */
const CONSOLE_CHILD_FD = 5;

function consoleFds(consoleFd: number | undefined): Record<number, number> {
  return consoleFd !== undefined ? { [CONSOLE_CHILD_FD]: consoleFd } : {};
}

/**
 * runc's rules: a terminal needs a console socket to send its master to (the runtime does not
 * stay to relay it), and a console socket without a terminal is a mistake.
 */
function checkConsole(terminal: boolean, consoleSocket: string | undefined, field: string): void {
  if (terminal && consoleSocket === undefined) throw specError(field, 'a terminal needs --console-socket (the pty master is sent there)');
  if (!terminal && consoleSocket !== undefined) {
    throw new NsError({ errno: 22, code: 'EUSAGE', message: `--console-socket: '${consoleSocket}' given, but ${field === '--tty' ? '--tty (or process.terminal)' : 'process.terminal'} is false` });
  }
}

function openConsole(path: string): number {
  try {
    return sys.socket.connectUnix(path);
  } catch (e) {
    throw NsError.from(e, { syscall: 'connect', path, step: '--console-socket' });
  }
}

/**
 * The program's terminal, made by the program's own process in its root (a pty of the
 * container's devpts, so `tty` names /dev/pts/N), owned by its user, its controlling terminal
 * and stdio; the master goes over the console socket, as runc sends it.
 */
function terminalSteps(proc: NonNullable<ContainerSpec['process']>, consoleFd: number | undefined): Step[] {
  if (consoleFd === undefined || !proc.terminal) return [];
  return [{
    name: 'terminal',
    child: [
      { op: 'console-fd', fd: CONSOLE_CHILD_FD, phase: 'fork', step: '--console-socket' },
      { op: 'terminal', ptmx: '/dev/ptmx', owner: { uid: proc.user.uid, gid: proc.user.gid }, phase: 'fork', step: 'process.terminal' },
    ],
  }];
}

/**
 * Whether a byte comes on a pipe from the stage before EOF; the fd is pollPipe's, and closed.
 * Read as spawn() reads its status pipe: no node:net to load, no threadpool thread held.
 */
function aByte(fd: number): Promise<boolean> {
  let got = false;
  return pollPipe(fd, () => { got = true; }, () => got).then(() => got);
}

/** Waits for the stage's byte on the ready pipe (it is parked), or for the spawn's failure. */
async function parked(readyRead: number, started: Promise<unknown>): Promise<void> {
  if (await aByte(readyRead)) return;
  // EOF: the stage closed its end without a word, so it failed before parking; spawn() says why.
  await started;
  throw new NsError({ errno: 5, code: 'EIO', message: 'the container\'s process ended before it was parked' });
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function killAndWait(pid: number, ref?: ProcessRef): void {
  let fd: number;
  try {
    fd = sys.pidfdOpen(pid);
  } catch {
    return;
  }
  try {
    if (ref && fstatSync(fd).ino !== ref.inode) return;
    sys.pidfdSendSignal(fd, 9);
    for (let i = 0; i < 500 && isAlive({ pid, inode: fstatSync(fd).ino }); i++) sleepMs(10);
  } finally {
    sys.closeFd(fd);
  }
}
