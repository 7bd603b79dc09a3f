/** ns-ipc [--] [program [args...]] */
import { kindCommand } from 'ns-core/kinds';
import { launch, runCli, scriptArguments, STANDARD_OPTIONS, type CommandSpec } from 'ns-core/cli';
import { ipc } from './index';

export const IPC_COMMAND: CommandSpec = {
  ...kindCommand('ipc'),
  summary: 'Run a program in a new IPC namespace (System V IPC and POSIX message queues).',
  options: [...STANDARD_OPTIONS],
};

export function main(argv: readonly string[] = scriptArguments()): Promise<void> {
  return runCli(IPC_COMMAND, argv, async (args) => {
    await launch(args.operands, { steps: [ipc()] }, { signals: 'program' });
  });
}
