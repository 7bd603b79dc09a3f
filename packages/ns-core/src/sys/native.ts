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
