/**
 * config.md "POSIX-platform Hooks", as runtime.md's lifecycle places them (and runc runs them):
 *
 *   prestart, createRuntime   create, the container's mounts made, before the root is pivoted; runtime namespace
 *   createContainer           the same moment, in the container's namespaces (joined by pidfd)
 *   startContainer            start, before the program runs, in the container's namespaces
 *   poststart                 start, once the program was let go; runtime namespace
 *   poststop                  delete, once the container is gone; runtime namespace
 *
 * Each hook gets the container's state JSON on stdin, its path/args/env as given (args[0] is
 * its argv[0]), and is killed after `timeout` seconds. A failing prestart, createRuntime,
 * createContainer or startContainer hook fails the operation (and the container is torn
 * down); poststart and poststop failures are warnings (config.md).
 *
 * Ours at create run at the stage's hook point (HOOK_SYNC, after the mounts, before
 * pivot_root): a hook sees the container's mounts under the root's host path.
 */
import type * as ChildProcesses from 'node:child_process';
import { NsError, spawn, type NamespaceKind } from 'ns-core';
import type { SpecHook, SpecHooks } from '../spec';
import { specError } from '../compile/validate';

export type HookKind = keyof SpecHooks;

export const HOOK_KINDS: readonly HookKind[] = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];

/** What runs at create's hook point, in this order. */
export const CREATE_HOOKS: readonly HookKind[] = ['prestart', 'createRuntime', 'createContainer'];

/** The hooks' own failures warn rather than fail for these. */
const WARN_ONLY: readonly HookKind[] = ['poststart', 'poststop'];

export interface HookState {
  readonly ociVersion: string;
  readonly id: string;
  readonly status: 'creating' | 'created' | 'running' | 'stopped';
  readonly pid?: number;
  readonly bundle: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Where a hook runs: the runtime's namespaces, or the container's, joined through its process. */
export type HookPlace = { readonly runtime: true } | { readonly pidfd: number; readonly kinds: readonly NamespaceKind[] };

interface Outcome { readonly code: number | null; readonly signal: string | null; readonly stderr: string; readonly timedOut: boolean }

function describe(kind: HookKind, index: number, hook: SpecHook, o: Outcome): string {
  const what = o.timedOut ? `timed out after ${hook.timeout} s` : o.signal ? `was killed by ${o.signal}` : `exited with status ${o.code}`;
  const said = o.stderr.trim().split('\n').at(-1);
  return `hooks.${kind}[${index}] (${hook.path}) ${what}${said ? `: ${said}` : ''}`;
}

async function runOne(hook: SpecHook, state: HookState, place: HookPlace): Promise<Outcome> {
  const input = `${JSON.stringify(state)}\n`;
  const args = hook.args?.length ? hook.args : [hook.path];
  const env = [...(hook.env ?? [])];
  let stderr = '';
  let timedOut = false;
  if ('runtime' in place) {
    // Loaded here: a call without hooks (and ns-run, which imports this package) starts without it.
    const { spawn: spawnHost } = require('node:child_process') as typeof ChildProcesses;
    const child = spawnHost(hook.path, args.slice(1), {
      argv0: args[0]!, env: Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(input);
    const timer = hook.timeout ? setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, hook.timeout * 1000) : undefined;
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c, s) => resolve([c, s]));
    }).finally(() => clearTimeout(timer));
    return { code, signal, stderr, timedOut };
  }
  const child = await spawn([hook.path, ...args.slice(1)], {
    argv0: args[0]!, env, join: [{ pidfd: place.pidfd, kinds: place.kinds }], stdio: ['pipe', 'ignore', 'pipe'], killWithParent: 'SIGKILL',
  });
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(input);
  const timer = hook.timeout ? setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, hook.timeout * 1000) : undefined;
  // What it wrote may arrive after its exit is seen: read to the end (bounded, a grandchild could hold it).
  const drained = child.stderr ? new Promise((resolve) => { child.stderr!.once('end', resolve); child.stderr!.once('close', resolve); }) : Promise.resolve();
  const status = await child.exited.finally(() => clearTimeout(timer));
  await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, 500).unref())]);
  return { code: status.code ?? null, signal: status.signal ?? null, stderr, timedOut };
}

/**
 * Runs one kind's hooks in order. Returns warnings for the warn-only kinds.
 * @throws NsError EHOOK-like (ECANCELED) naming the hook for the others' failure.
 */
export async function runHooks(hooks: SpecHooks | undefined, kind: HookKind, state: HookState, place: HookPlace): Promise<string[]> {
  const list = hooks?.[kind] ?? [];
  const warnings: string[] = [];
  for (const [i, hook] of list.entries()) {
    let outcome: Outcome;
    try {
      outcome = await runOne(hook, state, place);
    } catch (e) {
      const err = NsError.from(e, { path: hook.path, step: `hooks.${kind}[${i}]` });
      if (WARN_ONLY.includes(kind)) {
        warnings.push(`hooks.${kind}[${i}] (${hook.path}): ${err.message}`);
        continue;
      }
      throw new NsError({ errno: err.errno, code: err.code, path: hook.path, step: `hooks.${kind}[${i}]`, message: `hooks.${kind}[${i}] (${hook.path}): ${err.message}` });
    }
    if (outcome.code === 0) continue;
    const message = describe(kind, i, hook, outcome);
    if (WARN_ONLY.includes(kind)) warnings.push(message);
    else throw new NsError({ errno: 125, code: 'ECANCELED', path: hook.path, step: `hooks.${kind}[${i}]`, message });
  }
  return warnings;
}

/**
 * config.md's MUST rules for hooks: each an object with an absolute `path`, string arrays for
 * args and env, a positive whole `timeout`. @throws NsError EUSAGE naming the field.
 */
export function validateHooks(hooks: unknown): void {
  if (hooks === undefined) return;
  if (typeof hooks !== 'object' || hooks === null || Array.isArray(hooks)) throw specError('hooks', 'expected an object of hook lists');
  for (const [kind, list] of Object.entries(hooks as Record<string, unknown>)) {
    if (!HOOK_KINDS.includes(kind as HookKind)) continue;
    if (!Array.isArray(list)) throw specError(`hooks.${kind}`, 'expected an array of hooks');
    list.forEach((h: Partial<SpecHook>, i) => {
      const f = `hooks.${kind}[${i}]`;
      if (typeof h !== 'object' || h === null) throw specError(f, 'expected an object with a path');
      if (typeof h.path !== 'string' || !h.path.startsWith('/')) throw specError(`${f}.path`, `expected an absolute path, got ${JSON.stringify(h.path)}`);
      for (const key of ['args', 'env'] as const) {
        const v = h[key];
        if (v !== undefined && (!Array.isArray(v) || v.some((s) => typeof s !== 'string'))) throw specError(`${f}.${key}`, 'expected an array of strings');
      }
      if (h.env?.some((e) => !e.includes('='))) throw specError(`${f}.env`, 'each entry is KEY=VALUE');
      if (h.timeout !== undefined && (!Number.isSafeInteger(h.timeout) || h.timeout <= 0)) throw specError(`${f}.timeout`, `expected a whole number of seconds above 0, got ${JSON.stringify(h.timeout)}`);
    });
  }
}
