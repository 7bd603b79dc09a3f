/** ns-user [-r|-c] [--map-user ID] [--map-users RANGE]... [--setgroups allow|deny] [--] [program [args...]] */
import { defaultProgram, exitLike, failAndExit, normalizeGetopt, programArgs, runToCompletion, usageError, yargsBase } from 'ns-core';
import { user } from './index';
import type { UserOptions } from './plan';

/** getopt_long rules, as unshare(1) parses these options. */
const GETOPT = {
  short: { r: 'map-root-user', c: 'map-current-user', S: 'setuid', G: 'setgid' },
  optional: new Set<string>(),
  required: new Set(['map-user', 'map-group', 'map-users', 'map-groups', 'setgroups', 'owner', 'setuid', 'setgid']),
};

/** A repeated single-value option: the last one wins, as with getopt in util-linux. */
function last(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.at(-1) : value;
}

function all(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function setgroupsValue(value: string | undefined): 'allow' | 'deny' | undefined {
  if (value === undefined || value === 'allow' || value === 'deny') return value;
  throw usageError(`--setgroups: '${value}' is not allow or deny`);
}

export async function main(argv: readonly string[]): Promise<void> {
  const parsed = yargsBase('ns-user', normalizeGetopt(argv, GETOPT))
    .usage('Usage:\n ns-user [options] [--] [<program> [<argument>...]]\n\nRun a program in a new user namespace.')
    .option('map-root-user', { alias: 'r', type: 'boolean', describe: 'map your euid/egid to root inside' })
    .option('map-current-user', { alias: 'c', type: 'boolean', describe: 'map your euid/egid to the same ids inside' })
    .option('map-user', { type: 'string', requiresArg: true, describe: 'map your euid to this uid or user name' })
    .option('map-group', { type: 'string', requiresArg: true, describe: 'map your egid to this gid or group name' })
    .option('map-users', { type: 'string', requiresArg: true,
                           describe: 'map uids: inner:outer:count, or auto | subids | all (repeatable)' })
    .option('map-groups', { type: 'string', requiresArg: true,
                            describe: 'map gids: inner:outer:count, or auto | subids | all (repeatable)' })
    .option('map-auto', { type: 'boolean', describe: 'map your first /etc/subuid and /etc/subgid blocks from 0' })
    .option('map-subids', { type: 'boolean', describe: 'map your first /etc/subuid and /etc/subgid blocks to themselves' })
    .option('setgroups', { type: 'string', requiresArg: true, describe: 'allow | deny setgroups(2) inside' })
    .option('keep-caps', { type: 'boolean', describe: 'keep capabilities across exec (ambient set)' })
    .option('owner', { type: 'string', requiresArg: true, describe: 'UID:GID that owns the namespace (as root)' })
    .option('setuid', { alias: 'S', type: 'string', requiresArg: true, describe: 'set uid inside before exec' })
    .option('setgid', { alias: 'G', type: 'string', requiresArg: true, describe: 'set gid inside before exec' })
    .parseSync();
  try {
    const str = (key: string) => last(parsed[key] as string | string[] | undefined);
    const options: UserOptions = {
      mapRoot: parsed.mapRootUser === true,
      mapCurrent: parsed.mapCurrentUser === true,
      mapUsers: all(parsed.mapUsers as string | string[] | undefined),
      mapGroups: all(parsed.mapGroups as string | string[] | undefined),
      mapAuto: parsed.mapAuto === true,
      mapSubids: parsed.mapSubids === true,
      keepCaps: parsed.keepCaps === true,
      ...(str('mapUser') !== undefined ? { mapUser: str('mapUser')! } : {}),
      ...(str('mapGroup') !== undefined ? { mapGroup: str('mapGroup')! } : {}),
      ...(str('setgroups') !== undefined ? { setgroups: setgroupsValue(str('setgroups'))! } : {}),
      ...(str('owner') !== undefined ? { owner: str('owner')! } : {}),
      ...(str('setuid') !== undefined ? { setuid: str('setuid')! } : {}),
      ...(str('setgid') !== undefined ? { setgid: str('setgid')! } : {}),
    };
    exitLike(await runToCompletion(defaultProgram(programArgs(parsed)), { steps: [user(options)] }));
  } catch (e) {
    failAndExit('ns-user', e);
  }
}
