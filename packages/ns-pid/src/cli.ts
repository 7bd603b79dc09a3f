/** ns-pid [--mount-proc[=DIR]] [--init] [--kill-child[=SIGNAL]] [--forward-signals] [--] [program [args...]] */
import { kindCommand } from 'ns-core/kinds';
import { launch, runCli, scriptArguments, STANDARD_OPTIONS, type CommandSpec } from 'ns-core/cli';
import { parseSignal, pid } from './index';

export const PID_COMMAND: CommandSpec = {
  ...kindCommand('pid'),
  summary: 'Run a program as PID 1 of a new PID namespace.',
  options: [
    // Optional arguments only after '=', as unshare(1)'s --mount-proc and --kill-child.
    { long: 'mount-proc', arg: 'optional', metavar: '<dir>', help: 'mount a new proc at <dir> (default /proc) in a new mount namespace', complete: 'dir' },
    { long: 'init', help: 'run a minimal init as PID 1 that reaps orphans and forwards signals to the program' },
    { long: 'kill-child', arg: 'optional', metavar: '<signal>', help: 'the program gets <signal> (default SIGKILL) when ns-pid dies', complete: 'signal' },
    { long: 'forward-signals', help: 'forward SIGINT and SIGTERM to the program instead of ignoring them' },
    ...STANDARD_OPTIONS,
  ],
};

export function main(argv: readonly string[] = scriptArguments()): Promise<void> {
  return runCli(PID_COMMAND, argv, async (args) => {
    const mountProc = args.last('mount-proc');
    const killChild = args.last('kill-child');
    const step = pid({
      ...(mountProc !== undefined ? { mountProc: mountProc || true } : {}),
      ...(args.has('init') ? { init: true } : {}),
      ...(killChild !== undefined ? { killChild: parseSignal('--kill-child', killChild || 'SIGKILL') } : {}),
    });
    // The program is a child (PID 1 inside): ns-pid waits as `unshare --fork` does.
    await launch(args.operands, { steps: [step] }, { signals: args.has('forward-signals') ? 'fork-forward' : 'fork' });
  });
}
