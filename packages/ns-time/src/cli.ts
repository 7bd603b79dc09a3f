/** ns-time [--monotonic SECONDS] [--boottime SECONDS] [--] [program [args...]] */
import { kindCommand } from 'ns-core/kinds';
import { launch, runCli, scriptArguments, STANDARD_OPTIONS, type CommandSpec } from 'ns-core/cli';
import { explainOffsetError, time, type TimeOptions } from './index';

export const TIME_COMMAND: CommandSpec = {
  ...kindCommand('time'),
  summary: 'Run a program in a new time namespace, its clocks shifted by the given offsets.',
  options: [
    // Required arguments: a negative offset (`--monotonic -86400`) is the value, not an option.
    { long: 'monotonic', arg: 'required', metavar: '<seconds>', help: 'seconds added to CLOCK_MONOTONIC inside (negative and fractions allowed)' },
    { long: 'boottime', arg: 'required', metavar: '<seconds>', help: 'seconds added to CLOCK_BOOTTIME and /proc/uptime inside' },
    ...STANDARD_OPTIONS,
  ],
};

export function main(argv: readonly string[] = scriptArguments()): Promise<void> {
  return runCli(TIME_COMMAND, argv, async (args) => {
    const monotonic = args.last('monotonic');
    const boottime = args.last('boottime');
    const options: TimeOptions = { ...(monotonic !== undefined ? { monotonic } : {}), ...(boottime !== undefined ? { boottime } : {}) };
    try {
      await launch(args.operands, { steps: [time(options)] }, { signals: 'program' });
    } catch (e) {
      throw explainOffsetError(e, options);
    }
  });
}
