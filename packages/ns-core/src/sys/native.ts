/**
 * The only place nstools touches koffi. Every other module calls the typed wrappers in this
 * folder; tests can swap them out here.
 */
import type KoffiModule from 'koffi' with { 'resolution-mode': 'import' };

// koffi ships ESM typings ("type": "module") but a CommonJS build; we load the CommonJS one,
// which starts faster than going through import().
// eslint-disable-next-line @typescript-eslint/no-require-imports
const koffi: typeof KoffiModule = require('koffi');
import { NsError, type NsErrorInit } from '../errors';

let loadedLibc: ReturnType<typeof koffi.load> | undefined;

/**
 * libc, whose functions are declared on their first call: the modules a CLI loads declare some
 * forty (koffi parses each prototype), of which one command calls a handful. koffi.errno()
 * right after a call still reads that call's errno: a first call declares, then calls.
 */
export const libc = {
  func(definition: string): (...args: any[]) => any {
    let fn: ((...args: any[]) => any) | undefined;
    return (...args) => (fn ??= (loadedLibc ??= koffi.load('libc.so.6')).func(definition))(...args);
  },
};
export { koffi };

type LibcFunction = ReturnType<typeof libc.func>;
/** The C name a prototype declares: 'char *getenv(const char *name)' declares getenv. */
type DeclaredName<P extends string> = P extends `${infer Head}(${string}` ? LastWord<Head> : never;
type LastWord<S extends string> = S extends `${string} ${infer Rest}` ? LastWord<Rest> : S extends `*${infer Rest}` ? LastWord<Rest> : S;

const declared = new Map<string, { prototype: string; fn: LibcFunction }>();

/**
 * The libc functions a module calls, from their C prototypes, by the names those declare:
 * `const c = libcFunctions(['int close(int fd)']); c.close(fd)`. Each function is bound
 * once per process, whichever modules ask for it, and two modules that declare one function
 * differently fail as they load rather than call it with different types.
 */
export function libcFunctions<const P extends readonly string[]>(prototypes: P): { readonly [N in DeclaredName<P[number]>]: LibcFunction } {
  const out: Record<string, LibcFunction> = {};
  for (const prototype of prototypes) {
    const name = /([A-Za-z_][A-Za-z0-9_]*)\s*\(/.exec(prototype)?.[1];
    if (!name) throw new Error(`not a C prototype: ${prototype}`);
    let entry = declared.get(name);
    if (!entry) declared.set(name, entry = { prototype, fn: libc.func(prototype) });
    else if (entry.prototype !== prototype) throw new Error(`${name} is declared as both '${entry.prototype}' and '${prototype}'`);
    out[name] = entry.fn;
  }
  return out as never;
}

/**
 * Builds the NsError for a failed call. Must be the first thing evaluated after the call:
 * koffi.errno() reads the live errno, which any later native call may overwrite.
 */
export function sysError(syscall: string, init: Omit<NsErrorInit, 'errno' | 'syscall'> = {}): NsError {
  const errno = koffi.errno();
  return new NsError({ ...init, errno, syscall });
}

/** Retries a call that failed with EINTR, as only a few syscalls here may. */
export const EINTR = 4;
