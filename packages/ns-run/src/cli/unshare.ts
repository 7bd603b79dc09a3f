/** ns-unshare: a drop-in for util-linux unshare(1). Thin: parsing here, meaning in ../unshare. */
import {
  NAMESPACE_KINDS, defaultProgram, exitLike, failAndExit, normalizeGetopt, programArgs, runToCompletion, usageError, yargsBase,
  type GetoptSpec, type NamespaceKind,
} from 'ns-core';
import { planUnshare, type UnshareOptions } from '../unshare';
import { parseSignalName, parseOffset, parseIdOrName, statusReporters, parseFd } from './common';

const PROG = 'ns-unshare';

/** getopt rules of unshare.c: short namespace letters take no argument; long ones an optional file. */
export const UNSHARE_GETOPT: GetoptSpec = {
  short: {
    ...Object.fromEntries(NAMESPACE_KINDS.map((k) => [k.cli.short, k.cli.long])),
    f: 'fork', r: 'map-root-user', c: 'map-current-user', R: 'root', w: 'wd', S: 'setuid', G: 'setgid',
    l: 'load-interp', h: 'help', V: 'version',
  },
  optional: new Set(['kill-child', 'mount-proc', 'mount-binfmt', ...NAMESPACE_KINDS.map((k) => k.cli.long)]),
  required: new Set(['root', 'wd', 'setuid', 'setgid', 'load-interp', 'propagation', 'setgroups', 'map-user', 'map-group',
    'map-users', 'map-groups', 'owner', 'monotonic', 'boottime', 'whitelist-env', 'hostname', 'info-fd', 'json-status-fd']),
};

export async function main(argv: readonly string[]): Promise<void> {
  let y = yargsBase(PROG, normalizeGetopt(argv, UNSHARE_GETOPT))
    .usage(`Usage:\n ${PROG} [options] [<program> [<argument>...]]\n\nRun a program with some namespaces unshared from the parent.`);
  for (const k of NAMESPACE_KINDS) {
    y = y.option(k.cli.long, { type: 'string', describe: `-${k.cli.short}: unshare ${k.kind} namespace [=<file> persists it]` });
  }
  const parsed = y
    .option('fork', { type: 'boolean', describe: '-f: fork before launching <program>' })
    .option('kill-child', { type: 'string', describe: "when dying, kill the forked child (implies --fork); default SIGKILL" })
    .option('forward-signals', { type: 'boolean', describe: 'forward SIGINT and SIGTERM to the child (implies --fork)' })
    .option('mount-proc', { type: 'string', describe: 'mount proc filesystem first (implies --mount) [=<dir>]' })
    .option('mount-binfmt', { type: 'string', describe: 'mount binfmt filesystem (implies --user and --mount) [=<dir>]' })
    .option('load-interp', { type: 'string', array: true, describe: '-l: load a binfmt_misc interpreter (implies --mount-binfmt)' })
    .option('map-root-user', { type: 'boolean', describe: '-r: map current user to root (implies --user)' })
    .option('map-current-user', { type: 'boolean', describe: '-c: map current user to itself (implies --user)' })
    .option('map-user', { type: 'string', describe: 'map current user to uid (implies --user)' })
    .option('map-group', { type: 'string', describe: 'map current group to gid (implies --user)' })
    .option('map-users', { type: 'string', array: true, describe: 'map inner:outer:count uids, or auto/subids/all (implies --user)' })
    .option('map-groups', { type: 'string', array: true, describe: 'map inner:outer:count gids, or auto/subids/all (implies --user)' })
    .option('map-auto', { type: 'boolean', describe: 'map users and groups automatically (implies --user)' })
    .option('map-subids', { type: 'boolean', describe: 'map your subordinate ids identically (implies --user)' })
    .option('owner', { type: 'string', describe: 'create the user namespace as uid:gid (implies --user)' })
    .option('propagation', { type: 'string', describe: 'modify mount propagation: slave|shared|private|unchanged' })
    .option('setgroups', { type: 'string', describe: 'control the setgroups syscall: allow|deny' })
    .option('keep-caps', { type: 'boolean', describe: 'retain capabilities granted in user namespaces' })
    .option('root', { type: 'string', describe: '-R: run the command with root directory set to <dir>' })
    .option('wd', { type: 'string', describe: '-w: change working directory to <dir>' })
    .option('setuid', { type: 'string', describe: '-S: set uid in entered namespace' })
    .option('setgid', { type: 'string', describe: '-G: set gid in entered namespace' })
    .option('monotonic', { type: 'string', describe: 'set clock monotonic offset (seconds) in time namespaces' })
    .option('boottime', { type: 'string', describe: 'set clock boottime offset (seconds) in time namespaces' })
    .option('clear-env', { type: 'boolean', describe: 'clear the environment' })
    .option('whitelist-env', { type: 'string', describe: 'clear the environment except the listed variables (comma list)' })
    .option('hostname', { type: 'string', describe: 'set the hostname (implies --uts); nstools extension' })
    .option('loopback', { type: 'boolean', describe: "bring 'lo' up (implies --net); nstools extension" })
    .option('info-fd', { type: 'string', describe: 'write child pid and namespace ids as JSON to <fd>' })
    .option('json-status-fd', { type: 'string', describe: 'write JSON lines about the child (start, exit) to <fd>' })
    .parseSync();

  let options: UnshareOptions;
  try {
    const namespaces: Partial<Record<NamespaceKind, true | string>> = {};
    for (const k of NAMESPACE_KINDS) {
      const v = (parsed as Record<string, unknown>)[k.cli.long];
      if (v !== undefined) namespaces[k.kind] = v === '' ? true : String(v);
    }
    const prop = parsed.propagation;
    if (prop !== undefined && !['slave', 'shared', 'private', 'unchanged'].includes(prop)) {
      throw usageError(`unsupported propagation mode: ${prop}`);
    }
    if (parsed.setgroups !== undefined && parsed.setgroups !== 'allow' && parsed.setgroups !== 'deny') {
      throw usageError(`unsupported --setgroups argument '${parsed.setgroups}'`);
    }
    options = {
      namespaces,
      ...(parsed.fork ? { fork: true } : {}),
      ...(parsed.killChild !== undefined ? { killChild: parsed.killChild === '' ? 'SIGKILL' : parseSignalName(parsed.killChild) } : {}),
      ...(parsed.forwardSignals ? { forwardSignals: true } : {}),
      ...(parsed.mountProc !== undefined ? { mountProc: parsed.mountProc === '' ? true : parsed.mountProc } : {}),
      ...(parsed.mountBinfmt !== undefined ? { mountBinfmt: parsed.mountBinfmt === '' ? true : parsed.mountBinfmt } : {}),
      ...(parsed.loadInterp ? { loadInterp: parsed.loadInterp.map(String) } : {}),
      ...(parsed.mapRootUser ? { mapRoot: true } : {}),
      ...(parsed.mapCurrentUser ? { mapCurrent: true } : {}),
      ...(parsed.mapUser !== undefined ? { mapUser: parseIdOrName(parsed.mapUser) } : {}),
      ...(parsed.mapGroup !== undefined ? { mapGroup: parseIdOrName(parsed.mapGroup) } : {}),
      ...(parsed.mapUsers ? { mapUsers: parsed.mapUsers.map(String) } : {}),
      ...(parsed.mapGroups ? { mapGroups: parsed.mapGroups.map(String) } : {}),
      ...(parsed.mapAuto ? { mapAuto: true } : {}),
      ...(parsed.mapSubids ? { mapSubids: true } : {}),
      ...(parsed.owner !== undefined ? { owner: parsed.owner } : {}),
      ...(prop !== undefined ? { propagation: prop as 'slave' | 'shared' | 'private' | 'unchanged' } : {}),
      ...(parsed.setgroups !== undefined ? { setgroups: parsed.setgroups as 'allow' | 'deny' } : {}),
      ...(parsed.keepCaps ? { keepCaps: true } : {}),
      ...(parsed.root !== undefined ? { root: parsed.root } : {}),
      ...(parsed.wd !== undefined ? { wd: parsed.wd } : {}),
      ...(parsed.setuid !== undefined ? { setuid: parseIdOrName(parsed.setuid) } : {}),
      ...(parsed.setgid !== undefined ? { setgid: parseIdOrName(parsed.setgid) } : {}),
      ...(parsed.monotonic !== undefined ? { monotonic: parseOffset('--monotonic', parsed.monotonic) } : {}),
      ...(parsed.boottime !== undefined ? { boottime: parseOffset('--boottime', parsed.boottime) } : {}),
      ...(parsed.clearEnv ? { clearEnv: true } : {}),
      ...(parsed.whitelistEnv !== undefined ? { whitelistEnv: parsed.whitelistEnv.split(',').filter(Boolean) } : {}),
      ...(parsed.hostname !== undefined ? { hostname: parsed.hostname } : {}),
      ...(parsed.loopback ? { loopback: true } : {}),
    };
    const plan = planUnshare(options);
    const reporters = statusReporters(
      parsed.infoFd !== undefined ? parseFd('--info-fd', parsed.infoFd) : undefined,
      parsed.jsonStatusFd !== undefined ? parseFd('--json-status-fd', parsed.jsonStatusFd) : undefined);
    const argvProgram = defaultProgram(programArgs(parsed));
    exitLike(await runToCompletion(argvProgram, plan.spawn, { ...plan.run, ...reporters }));
  } catch (e) {
    failAndExit(PROG, e);
  }
}
