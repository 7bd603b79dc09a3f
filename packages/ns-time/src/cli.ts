/** ns-time [--monotonic SECONDS] [--boottime SECONDS] [--] [program [args...]] */
import { defaultProgram, exitLike, failAndExit, normalizeGetopt, programArgs, runToCompletion, yargsBase } from 'ns-core';
import { explainOffsetError, time, type TimeOptions } from './index';

/** getopt_long rules: both options require a value, which may start with '-' (a negative offset). */
const GETOPT = { short: {}, optional: new Set<string>(), required: new Set(['monotonic', 'boottime']) };

function last(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.at(-1) : value;
}

export async function main(argv: readonly string[]): Promise<void> {
  const parsed = yargsBase('ns-time', normalizeGetopt(argv, GETOPT))
    .usage('Usage:\n ns-time [options] [--] [<program> [<argument>...]]\n\n'
      + 'Run a program in a new time namespace, its clocks shifted by the given offsets.')
    .option('monotonic', { type: 'string', requiresArg: true, describe: 'seconds added to CLOCK_MONOTONIC inside (negative and fractions allowed)' })
    .option('boottime', { type: 'string', requiresArg: true, describe: 'seconds added to CLOCK_BOOTTIME and /proc/uptime inside' })
    .parseSync();
  let options: TimeOptions = {};
  try {
    const monotonic = last(parsed.monotonic as string | string[] | undefined);
    const boottime = last(parsed.boottime as string | string[] | undefined);
    options = {
      ...(monotonic !== undefined ? { monotonic } : {}),
      ...(boottime !== undefined ? { boottime } : {}),
    };
    exitLike(await runToCompletion(defaultProgram(programArgs(parsed)), { steps: [time(options)] }));
  } catch (e) {
    failAndExit('ns-time', explainOffsetError(e, options));
  }
}
