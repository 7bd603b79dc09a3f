/**
 * The container compiler: a ContainerSpec (config.json) -> what spawn()/execInPlace() run.
 * The one place a container's filesystem, identity and security are compiled, for
 * ns-run-oci and the ns-run runner.
 *
 *   const compiled = compileContainer(spec, { bundle, rootless: process.geteuid() !== 0, uid, gid });
 *   const join = openJoins(compiled);                      // host work: namespaces joined by path
 *   try {
 *     const child = await spawn(compiled.argv, { create: compiled.create, join, steps: compiled.steps,
 *                                                env: compiled.env, cwd: compiled.cwd });
 *   } finally { for (const ns of join) ns.close(); }
 *
 * Pure but for what it reads of the host to place mounts (the root's tree, bind sources,
 * mountinfo, device nodes); what it cannot know (the caller's privileges, the exec fifo's fd)
 * comes in `context`. Validates config.json's MUST rules first: errors are NsError EUSAGE whose
 * message starts with the field, `linux.namespaces[2].type: 'netwrk' is not a namespace type`.
 * Warnings (what the spec lets a runtime ignore, e.g. an unknown capability) are returned.
 *
 * Not compiled here (the caller's host work): cgroupsPath/resources (`compiled.cgroup`, as
 * given), hooks, the terminal (`compiled.terminal`: the caller asks spawn() for one).
 */
import { Namespace, type NamespaceKind, type Step } from 'ns-core';
import type { RootView } from '../runner/inroot';
import type { ContainerSpec, SpecHooks, SpecResources } from '../spec';
import { filesystemSteps, rootfsOf } from './filesystem';
import { processSteps } from './process';
import { NAMESPACE_TYPES, specError, validateSpec } from './validate';

export { parseMountOptions, protectedPathOps, DEFAULT_DEVICES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, type MountOptions } from './filesystem';
export { mapActions, defaultSeccomp, type ProcessContext } from './process';
export { validateSpec, specError, NAMESPACE_TYPES, RLIMITS } from './validate';
export { cgroupPathOf, limitsOf, groupControllers, DEFAULT_DEVICE_RULES } from './cgroup';

export interface CompileContext {
  /** The bundle directory: a relative root.path and bind sources are resolved against it. */
  readonly bundle: string;
  /** Not the host's root: maps are written by newuidmap/newgidmap unless they map only the caller's own ids. */
  readonly rootless: boolean;
  /** The caller's ids (default: this process's). */
  readonly uid?: number;
  readonly gid?: number;
  /** How the root's tree is read to place mount points (default: the directory; an image's layers view). */
  readonly view?: RootView;
  /** MS_MOVE + chroot instead of pivot_root (runc's --no-pivot). */
  readonly noPivot?: boolean;
  /** The child fd of the exec fifo's O_PATH fd: the program parks on it before execve (`ns-run-oci create`). */
  readonly execFifoFd?: number;
  /** The child fd the stage writes one byte to once parked on the fifo (create then exits). */
  readonly execReadyFd?: number;
  /** The container's cgroup directory in each hierarchy, for what a cgroup mount shows (v1, hybrid). */
  readonly cgroupDirs?: readonly string[];
  /**
   * Where compiled seccomp filters are kept between calls (ns-core's compileCached): each
   * `ns-run-oci create` is a new process, and compiling podman's default profile was a tenth of it.
   */
  readonly seccompCacheDir?: string;
  /** Child fds of create's hook point: the stage stops there once the mounts are made, before the root changes (HOOK_SYNC). */
  readonly hookPoint?: { readonly ready: number; readonly go: number; readonly callerGo?: number };
}

export interface CompiledContainer {
  /** process.args, env and cwd, for spawn(). */
  readonly argv: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  /** New namespaces (kernel kinds). */
  readonly create: readonly NamespaceKind[];
  /** Namespaces joined by path, in the spec's order: open them with openJoins(). */
  readonly join: readonly { readonly kind: NamespaceKind; readonly path: string; readonly field: string }[];
  /** Every in-child op and parent action, as spawn() steps. */
  readonly steps: readonly Step[];
  /** The root directory on the host. */
  readonly rootfs: string;
  readonly terminal: boolean;
  /** linux.cgroupsPath and linux.resources, for the caller's cgroup work. */
  readonly cgroup?: { readonly path?: string; readonly resources?: SpecResources };
  readonly hooks?: SpecHooks;
  readonly warnings: readonly string[];
}

/**
 * Compiles a container. @throws NsError EUSAGE naming the config.json field for a spec the
 * runtime spec forbids or this runtime does not support; ENOENT etc. for a missing root,
 * bind source or device, with the field as `step`.
 */
export function compileContainer(spec: ContainerSpec, context: CompileContext): CompiledContainer {
  const warnings = validateSpec(spec);
  if (!spec.process) throw specError('process', 'is required to create a container (the program to run)');
  const namespaces = spec.linux?.namespaces ?? [];
  const create = namespaces.filter((n) => n.path === undefined).map((n) => NAMESPACE_TYPES[n.type]);
  const join = namespaces.flatMap((n, i) => (n.path !== undefined ? [{ kind: NAMESPACE_TYPES[n.type], path: n.path, field: `linux.namespaces[${i}].path` }] : []));
  const ownNetwork = namespaces.some((n) => n.type === 'network');
  const processContext = {
    rootless: context.rootless, uid: context.uid ?? process.getuid!(), gid: context.gid ?? process.getgid!(),
    ...(context.execFifoFd !== undefined ? { execFifoFd: context.execFifoFd } : {}),
    ...(context.execReadyFd !== undefined ? { execReadyFd: context.execReadyFd } : {}),
    ...(context.seccompCacheDir !== undefined ? { seccompCacheDir: context.seccompCacheDir } : {}),
  };
  // The process steps first: the user namespace's maps and root come before any mount.
  const identity = processSteps(spec, processContext, warnings);
  const filesystem = filesystemSteps(spec, { bundle: context.bundle, ...(context.view ? { view: context.view } : {}),
                                             ...(context.noPivot ? { noPivot: true } : {}),
                                             ...(context.cgroupDirs ? { cgroupDirs: context.cgroupDirs } : {}) }, ownNetwork,
                                     !context.rootless && !namespaces.some((n) => n.type === 'user'));
  const linux = spec.linux ?? {};
  return {
    argv: spec.process.args, env: spec.process.env ?? [], cwd: spec.process.cwd,
    create, join, steps: [...identity, ...hookPointSteps(context), ...filesystem], rootfs: rootfsOf(spec, context.bundle),
    terminal: spec.process.terminal ?? false,
    ...(linux.cgroupsPath !== undefined || linux.resources !== undefined
      ? { cgroup: { ...(linux.cgroupsPath !== undefined ? { path: linux.cgroupsPath } : {}), ...(linux.resources ? { resources: linux.resources } : {}) } } : {}),
    ...(spec.hooks ? { hooks: spec.hooks } : {}),
    warnings,
  };
}

/**
 * runc's hook point, first of the 'root' phase: after every mount, device and link the
 * filesystem steps make, before their pivot_root (or MS_MOVE and chroot), which come later in
 * that phase. Its step precedes theirs, so its op does.
 */
function hookPointSteps(context: CompileContext): Step[] {
  if (!context.hookPoint) return [];
  return [{ name: 'hooks', child: [{ op: 'hook-sync', ...context.hookPoint, phase: 'root', step: 'hooks (prestart, createRuntime, createContainer)' }] }];
}

/**
 * Opens the namespaces a compiled container joins, checking each is of the kind its entry
 * says. The caller closes them once spawn() returned.
 * @throws NsError naming the field (linux.namespaces[N].path) for a missing or wrong file.
 */
export function openJoins(compiled: CompiledContainer): Namespace[] {
  const opened: Namespace[] = [];
  try {
    for (const j of compiled.join) {
      try {
        opened.push(Namespace.open(j.path, j.kind));
      } catch (e) {
        const err = e as { code?: string; message?: string };
        throw specError(j.field, `cannot join ${j.path}: ${err.message ?? String(e)}`);
      }
    }
    return opened;
  } catch (e) {
    for (const ns of opened) ns.close();
    throw e;
  }
}
