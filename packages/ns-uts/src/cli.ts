/** ns-uts [--hostname NAME] [--domainname NAME] [--] [program [args...]] */
import { kindCommand } from 'ns-core/kinds';
import { launch, runCli, scriptArguments, STANDARD_OPTIONS, type CommandSpec } from 'ns-core/cli';
import { uts } from './index';

export const UTS_COMMAND: CommandSpec = {
  ...kindCommand('uts'),
  summary: 'Run a program in a new UTS namespace.',
  options: [
    { long: 'hostname', arg: 'required', metavar: '<name>', help: 'set the hostname inside' },
    { long: 'domainname', arg: 'required', metavar: '<name>', help: 'set the NIS domain name inside' },
    ...STANDARD_OPTIONS,
  ],
};

export function main(argv: readonly string[] = scriptArguments()): Promise<void> {
  return runCli(UTS_COMMAND, argv, async (args) => {
    const hostname = args.last('hostname');
    const domainname = args.last('domainname');
    const step = uts({ ...(hostname !== undefined ? { hostname } : {}), ...(domainname !== undefined ? { domainname } : {}) });
    await launch(args.operands, { steps: [step] }, { signals: 'program' });
  });
}
