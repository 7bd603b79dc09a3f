/** Turning plan-time failures into NsErrors that name the step and the path, as the CLI prints them. */
import { statSync, type Stats } from 'node:fs';
import { NsError } from 'ns-core';

/** An NsError from a node:fs exception (which carries errno, code and syscall of its own). */
export function fsError(e: unknown, init: { step: string; path: string; syscall: string }): NsError {
  if (e instanceof NsError) return e;
  const err = e as NodeJS.ErrnoException;
  return new NsError({ errno: Math.abs(err.errno ?? 0), code: err.code ?? 'EUNKNOWN', ...init });
}

/** Runs a check, re-throwing an NsError that names no step with the step that needed it. */
export function inStep<T>(step: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof NsError) || e.step !== undefined) throw e;
    throw new NsError({ errno: Math.abs(e.errno), code: e.code, ...(e.syscall ? { syscall: e.syscall } : {}),
                        ...(e.path !== undefined ? { path: e.path } : {}), step });
  }
}

/** stat(2) at plan time, failing with an NsError naming the step and path. */
export function statOf(step: string, path: string): Stats {
  try {
    return statSync(path);
  } catch (e) {
    throw fsError(e, { step, path, syscall: 'stat' });
  }
}
