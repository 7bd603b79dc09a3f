/** Turning plan-time failures into NsErrors that name the step and the path, as the CLI prints them. */
import { statSync, type Stats } from 'node:fs';
import { NsError } from 'ns-core/errors';

/** Runs a check, re-throwing an NsError that names no step with the step that needed it. */
export function inStep<T>(step: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof NsError) || e.step !== undefined) throw e;
    throw e.withStep(step);
  }
}

/** stat(2) at plan time, failing with an NsError naming the step and path. */
export function statOf(step: string, path: string): Stats {
  try {
    return statSync(path);
  } catch (e) {
    throw NsError.from(e, { step, path, syscall: 'stat' });
  }
}
