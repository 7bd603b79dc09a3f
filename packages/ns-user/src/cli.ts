/** ns-user [-r|-c] [--map-user ID] [--map-users RANGE]... [--setgroups allow|deny] [--] [program [args...]] */
import { usageError } from 'ns-core/errors';
import { kindCommand } from 'ns-core/kinds';
import { launch, runCli, scriptArguments, STANDARD_OPTIONS, type CommandSpec } from 'ns-core/cli';
import { user } from './index';
import type { UserOptions } from './plan';

/** The user-namespace options of unshare(1), with the same names, letters and argument rules. */
export const USER_COMMAND: CommandSpec = {
  ...kindCommand('user', ['newuidmap(1)', 'subuid(5)']),
  summary: 'Run a program in a new user namespace.',
  options: [
    { long: 'map-root-user', short: 'r', help: 'map your euid/egid to root inside' },
    { long: 'map-current-user', short: 'c', help: 'map your euid/egid to the same ids inside' },
    { long: 'map-user', arg: 'required', metavar: '=<uid>|<name>', help: 'map your euid to this uid or user name', complete: 'user' },
    { long: 'map-group', arg: 'required', metavar: '=<gid>|<name>', help: 'map your egid to this gid or group name', complete: 'group' },
    { long: 'map-users', arg: 'required', metavar: '=<inner>:<outer>:<count>', help: 'map uids: inner:outer:count, or auto | subids | all (repeatable)' },
    { long: 'map-groups', arg: 'required', metavar: '=<inner>:<outer>:<count>', help: 'map gids: inner:outer:count, or auto | subids | all (repeatable)' },
    { long: 'map-auto', help: 'map your first /etc/subuid and /etc/subgid blocks from 0' },
    { long: 'map-subids', help: 'map your first /etc/subuid and /etc/subgid blocks to themselves' },
    { long: 'setgroups', arg: 'required', metavar: 'allow|deny', help: 'allow | deny setgroups(2) inside', complete: ['allow', 'deny'] },
    { long: 'keep-caps', help: 'keep capabilities across exec (ambient set)' },
    { long: 'owner', arg: 'required', metavar: '=<uid>:<gid>', help: 'UID:GID that owns the namespace (as root)' },
    { long: 'setuid', short: 'S', arg: 'required', metavar: '<uid>', help: 'set uid inside before exec', complete: 'user' },
    { long: 'setgid', short: 'G', arg: 'required', metavar: '<gid>', help: 'set gid inside before exec', complete: 'group' },
    ...STANDARD_OPTIONS,
  ],
};

function setgroupsValue(value: string | undefined): 'allow' | 'deny' | undefined {
  if (value === undefined || value === 'allow' || value === 'deny') return value;
  throw usageError(`--setgroups: '${value}' is not allow or deny`);
}

export function main(argv: readonly string[] = scriptArguments()): Promise<void> {
  return runCli(USER_COMMAND, argv, async (args) => {
    const value = (name: string) => args.last(name);
    const setgroups = setgroupsValue(value('setgroups'));
    const options: UserOptions = {
      mapRoot: args.has('map-root-user'),
      mapCurrent: args.has('map-current-user'),
      mapUsers: args.all('map-users'),
      mapGroups: args.all('map-groups'),
      mapAuto: args.has('map-auto'),
      mapSubids: args.has('map-subids'),
      keepCaps: args.has('keep-caps'),
      ...(value('map-user') !== undefined ? { mapUser: value('map-user')! } : {}),
      ...(value('map-group') !== undefined ? { mapGroup: value('map-group')! } : {}),
      ...(setgroups !== undefined ? { setgroups } : {}),
      ...(value('owner') !== undefined ? { owner: value('owner')! } : {}),
      ...(value('setuid') !== undefined ? { setuid: value('setuid')! } : {}),
      ...(value('setgid') !== undefined ? { setgid: value('setgid')! } : {}),
    };
    await launch(args.operands, { steps: [user(options)] }, { signals: 'program' });
  });
}
