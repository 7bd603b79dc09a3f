import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { kindsToString, type NamespaceKind } from './kinds';

const errnoByName: Record<string, number> = constants.errno as Record<string, number>;
let systemErrors: Map<number, [string, string]> | undefined;

let namesByNumber: Map<number, string> | undefined;

/** Linux errnos that neither libuv nor Node name, which namespace and mount calls can return. */
const LINUX_ONLY: Record<number, [string, string]> = {
  // libuv's table gained ENOEXEC with Node 22; the same text on every Node line keeps the C
  // stage's copy (native/protocol.h) and what TypeScript prints in step.
  8: ['ENOEXEC', 'exec format error'],
  15: ['ENOTBLK', 'block device required'], 66: ['EREMOTE', 'object is remote'],
  77: ['EBADFD', 'file descriptor in bad state'], 86: ['ESTRPIPE', 'streams pipe error'],
  87: ['EUSERS', 'too many users'], 109: ['ETOOMANYREFS', 'too many references'],
  117: ['EUCLEAN', 'structure needs cleaning'], 123: ['ENOMEDIUM', 'no medium found'],
  124: ['EMEDIUMTYPE', 'wrong medium type'], 126: ['ENOKEY', 'required key not available'],
};

/** 'EPERM' for 1; libuv's names first, then Node's errno constants (EUSERS...), else 'E<n>'. */
export function errnoName(errno: number): string {
  systemErrors ??= getSystemErrorMap();
  const known = systemErrors.get(-Math.abs(errno))?.[0];
  if (known) return known;
  namesByNumber ??= new Map(Object.entries(errnoByName).map(([name, n]) => [n, name]));
  return namesByNumber.get(Math.abs(errno)) ?? LINUX_ONLY[Math.abs(errno)]?.[0] ?? `E${Math.abs(errno)}`;
}

export function errnoMessage(errno: number): string {
  systemErrors ??= getSystemErrorMap();
  return systemErrors.get(-Math.abs(errno))?.[1] ?? LINUX_ONLY[Math.abs(errno)]?.[1] ?? `errno ${Math.abs(errno)}`;
}

export function errnoNumber(name: string): number {
  const n = errnoByName[name];
  if (n === undefined) throw new TypeError(`unknown errno name ${name}`);
  return n;
}

export interface NsErrorInit {
  /** Errno number (positive), or 0 for errors that did not come from the kernel. */
  errno: number;
  /** Errno name such as 'EPERM'; derived from errno when omitted. */
  code?: string;
  syscall?: string;
  path?: string;
  dest?: string;
  namespaces?: readonly NamespaceKind[];
  /** Which step of a plan failed ('--mount-proc', 'uid_map', 'exec'). */
  step?: string;
  /** Overrides the generated message. */
  message?: string;
  hint?: string;
}

/**
 * Every failure nstools reports. Shaped like Node's SystemError so callers branch on `code`
 * ('EPERM', 'ENOENT', or 'EUSAGE' for invalid input), never on message text.
 */
export class NsError extends Error {
  readonly code: string;
  /** Negative, as in Node's SystemError. */
  readonly errno: number;
  // `declare`: only the fields that apply exist on an instance, so logs show no `path: undefined`.
  declare readonly syscall?: string;
  declare readonly path?: string;
  declare readonly dest?: string;
  declare readonly namespaces?: readonly NamespaceKind[];
  declare readonly step?: string;
  declare readonly hint?: string;

  /**
   * The one conversion of a thrown value into an NsError. An NsError comes back as it is (with
   * `context.step` added if it named none); a Node SystemError or ErrnoException keeps its errno,
   * code and syscall, and takes `path` from `context` when the exception names none (Node's own
   * path is the one it was called with, which is what users typed); anything else is EUNKNOWN
   * with its own text, so no diagnosis is lost.
   */
  static from(err: unknown, context: { step?: string; path?: string; syscall?: string; dest?: string } = {}): NsError {
    if (err instanceof NsError) return context.step !== undefined && err.step === undefined ? err.withStep(context.step) : err;
    const e = err as NodeJS.ErrnoException | undefined;
    const errno = typeof e?.errno === 'number' ? Math.abs(e.errno) : 0;
    const code = typeof e?.code === 'string' ? e.code : errno ? errnoName(errno) : 'EUNKNOWN';
    const syscall = context.syscall ?? (typeof e?.syscall === 'string' ? e.syscall : undefined);
    const path = e?.path !== undefined ? String(e.path) : context.path;
    return new NsError({
      errno, code,
      ...(syscall !== undefined ? { syscall } : {}),
      ...(path !== undefined ? { path } : {}),
      ...(context.dest !== undefined ? { dest: context.dest } : {}),
      ...(context.step !== undefined ? { step: context.step } : {}),
      // Without an errno there is no syscall failure to describe: keep the error's own words.
      ...(!errno ? { message: `${context.step ? `${context.step}: ` : ''}${err instanceof Error ? err.message : String(err)}` } : {}),
    });
  }

  /** The same error, naming the step (option, phase) that needed what failed. */
  withStep(step: string): NsError {
    const custom = this.message !== formatMessage(this.code, this.#init);
    return new NsError({ ...this.#init, step, ...(custom ? { message: `${step}: ${this.message}` } : {}) });
  }

  readonly #init: NsErrorInit;

  constructor(init: NsErrorInit) {
    const code = init.code ?? (init.errno ? errnoName(init.errno) : 'EUNKNOWN');
    const hint = init.hint ?? hintFor(code, init.syscall, init.path, init.namespaces);
    super(init.message ?? formatMessage(code, init));
    this.#init = { ...init, code, ...(hint !== undefined ? { hint } : {}) };
    delete (this.#init as { message?: string }).message;
    this.name = 'NsError';
    this.code = code;
    this.errno = -Math.abs(init.errno);
    const self = this as { -readonly [K in keyof NsError]: NsError[K] };
    if (init.syscall !== undefined) self.syscall = init.syscall;
    if (init.path !== undefined) self.path = init.path;
    if (init.dest !== undefined) self.dest = init.dest;
    if (init.namespaces !== undefined) self.namespaces = init.namespaces;
    if (init.step !== undefined) self.step = init.step;
    if (hint !== undefined) self.hint = hint;
  }
}

/**
 * A text file's contents, or an NsError naming the path (and the step that wanted it): the one
 * way nstools reads /etc, /proc and the caller's files.
 */
export function readText(path: string, step?: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw NsError.from(e, { syscall: 'open', path, ...(step !== undefined ? { step } : {}) });
  }
}

/** Invalid input found before anything was created; CLIs map it to exit status 1. */
export function usageError(message: string): NsError {
  return new NsError({ errno: 0, code: 'EUSAGE', message });
}

function formatMessage(code: string, init: NsErrorInit): string {
  const parts: string[] = [];
  if (init.step) parts.push(`${init.step}:`);
  let what = init.syscall ?? 'operation';
  if (init.namespaces?.length) what += `(${kindsToString(init.namespaces)})`;
  if (init.path !== undefined) what += ` ${init.path}`;
  if (init.dest !== undefined) what += ` -> ${init.dest}`;
  parts.push(`${what} failed:`);
  parts.push(init.errno ? `${code} (${errnoMessage(init.errno)})` : code);
  return parts.join(' ');
}

/**
 * Known pitfalls, keyed by code, syscall and path, so users learn the fix rather than the errno.
 * scripts/gen-protocol-header.js writes the same hints into the exec stage's protocol.h, so they
 * may depend on nothing the stage does not know (no euid, no environment).
 */
export function hintFor(code: string, syscall?: string, path?: string, kinds?: readonly NamespaceKind[]): string | undefined {
  const user = kinds?.includes('user');
  if (code === 'ENOSPC' && (syscall === 'clone' || syscall === 'unshare')) {
    return 'namespace limit reached: see /proc/sys/user/max_*_namespaces (or the nesting depth of 32)';
  }
  if (code === 'EPERM' && (syscall === 'clone' || syscall === 'unshare') && user) {
    return 'unprivileged user namespaces may be disabled: check kernel.unprivileged_userns_clone and user.max_user_namespaces';
  }
  if (code === 'EPERM' && (syscall === 'clone' || syscall === 'unshare')) {
    return 'creating these namespaces needs CAP_SYS_ADMIN: run as root or add a user namespace (--user/--map-root-user)';
  }
  // setns(2): CAP_SYS_ADMIN in the user namespace that owns the one joined, which root outside it may lack too.
  if (code === 'EPERM' && syscall === 'setns') {
    return 'joining needs CAP_SYS_ADMIN in the user namespace that owns the namespace: enter that user namespace too (--user), or run as its owner';
  }
  if (code === 'EPERM' && syscall === 'mount') {
    return 'mounting needs CAP_SYS_ADMIN in the mount namespace\'s owner; proc/sysfs also need a matching new pid/net namespace when unprivileged';
  }
  if (code === 'EINVAL' && syscall === 'setns' && user) {
    return 'a multithreaded process cannot join a user namespace; nstools does it in the exec stage';
  }
  // user_namespaces(7): without CAP_SETUID in the parent namespace, one line mapping your own id.
  if (code === 'EPERM' && syscall === 'write' && path !== undefined && /(^|\/)(uid_map|gid_map)$/.test(path)) {
    return 'writing uid_map/gid_map unprivileged allows one line mapping your own id, after setgroups is denied';
  }
  return undefined;
}
