/** ns-uts [--hostname NAME] [--domainname NAME] [--] [program [args...]] */
import { defaultProgram, exitLike, failAndExit, programArgs, runToCompletion, yargsBase } from 'ns-core';
import { uts } from './index';

/** A repeated option: the last one counts, as with getopt_long in util-linux. */
function last(value: string | readonly string[]): string {
  return Array.isArray(value) ? String(value.at(-1)) : String(value);
}

export async function main(argv: readonly string[]): Promise<void> {
  const parsed = yargsBase('ns-uts', argv)
    .usage('Usage:\n ns-uts [options] [--] [<program> [<argument>...]]\n\nRun a program in a new UTS namespace.')
    .option('hostname', { type: 'string', requiresArg: true, describe: 'set the hostname inside' })
    .option('domainname', { type: 'string', requiresArg: true, describe: 'set the NIS domain name inside' })
    .parseSync();
  try {
    const step = uts({
      ...(parsed.hostname !== undefined ? { hostname: last(parsed.hostname) } : {}),
      ...(parsed.domainname !== undefined ? { domainname: last(parsed.domainname) } : {}),
    });
    exitLike(await runToCompletion(defaultProgram(programArgs(parsed)), { steps: [step] }));
  } catch (e) {
    failAndExit('ns-uts', e);
  }
}
