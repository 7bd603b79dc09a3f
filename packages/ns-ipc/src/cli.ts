/** ns-ipc [--] [program [args...]] */
import { defaultProgram, exitLike, failAndExit, programArgs, runToCompletion, yargsBase } from 'ns-core';
import { ipc } from './index';

export async function main(argv: readonly string[]): Promise<void> {
  const parsed = yargsBase('ns-ipc', argv)
    .usage('Usage:\n ns-ipc [options] [--] [<program> [<argument>...]]\n\n'
      + 'Run a program in a new IPC namespace (System V IPC and POSIX message queues).')
    .parseSync();
  try {
    exitLike(await runToCompletion(defaultProgram(programArgs(parsed)), { steps: [ipc()] }));
  } catch (e) {
    failAndExit('ns-ipc', e);
  }
}
