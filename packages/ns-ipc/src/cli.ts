/** ns-ipc [--] [program [args...]] */
import { launch, runCli, scriptArguments, STANDARD_OPTIONS, type CommandSpec } from 'ns-core/cli';
import { ipc } from './index';

export const IPC_COMMAND: CommandSpec = {
  prog: 'ns-ipc',
  usage: ['[options] [--] [<program> [<argument>...]]'],
  summary: 'Run a program in a new IPC namespace (System V IPC and POSIX message queues).',
  seeAlso: ['ipc_namespaces(7)', 'ns-unshare(1)'],
  options: [...STANDARD_OPTIONS],
};

export function main(argv: readonly string[] = scriptArguments()): Promise<void> {
  return runCli(IPC_COMMAND, argv, async (args) => {
    await launch(args.operands, { steps: [ipc()] }, { signals: 'program' });
  });
}
