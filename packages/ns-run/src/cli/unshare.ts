/** ns-unshare: a drop-in for util-linux unshare(1). Thin: parsing here, meaning in ../unshare. */
// First: it records the fds we were started with before other modules open fds of their own.
import { inheritedFds } from './inherited-fds';
import {
  NAMESPACE_KINDS, execInPlace, failAndExit, inheritedIgnoredSignals, programArgs, programOrLoginShell, usageError, yargsBase,
  type GetoptSpec, type NamespaceKind,
} from 'ns-core';
import { planUnshare, type UnshareOptions } from '../unshare';
import { launchInPlace, parseFd, parseGetoptOrExit, parseIdOrName, parseOffset, parseSignalName, type OptionTable } from './common';

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

/** Every option but the namespace kinds, in util-linux's --help order; the one list help and parsing use. */
const OPTIONS: OptionTable = {
  'fork': { type: 'boolean', describe: '-f: fork before launching <program>' },
  'map-user': { type: 'string', describe: '=<uid>|<name>: map current user to uid (implies --user)' },
  'map-group': { type: 'string', describe: '=<gid>|<name>: map current group to gid (implies --user)' },
  'map-root-user': { type: 'boolean', describe: '-r: map current user to root (implies --user)' },
  'map-current-user': { type: 'boolean', describe: '-c: map current user to itself (implies --user)' },
  'map-auto': { type: 'boolean', describe: 'map users and groups automatically (implies --user)' },
  'map-users': { type: 'string', array: true, describe: '=<inner>:<outer>:<count>|auto|subids|all: map a range of uids (implies --user)' },
  'map-groups': { type: 'string', array: true, describe: '=<inner>:<outer>:<count>|auto|subids|all: map a range of gids (implies --user)' },
  'map-subids': { type: 'boolean', describe: 'map your subordinate ids to themselves (implies --user)' },
  'owner': { type: 'string', describe: '=<uid>:<gid>: create the user namespace owned by this user (implies --user)' },
  'kill-child': { type: 'string', describe: '[=<signame>]: when dying, kill the forked child (implies --fork); default SIGKILL' },
  'forward-signals': { type: 'boolean', describe: 'forward SIGINT and SIGTERM to the child (implies --fork)' },
  'mount-proc': { type: 'string', describe: '[=<dir>]: mount proc filesystem first (implies --mount)' },
  'mount-binfmt': { type: 'string', describe: '[=<dir>]: mount binfmt_misc filesystem (implies --user and --mount)' },
  'load-interp': { type: 'string', array: true, describe: '-l <string>: load a binfmt_misc interpreter (implies --mount-binfmt)' },
  'propagation': { type: 'string', describe: 'slave|shared|private|unchanged: modify mount propagation in mount namespace' },
  'setgroups': { type: 'string', describe: 'allow|deny: control the setgroups syscall in user namespaces' },
  'keep-caps': { type: 'boolean', describe: 'retain capabilities granted in user namespaces' },
  'root': { type: 'string', describe: '-R <dir>: run the command with root directory set to <dir>' },
  'wd': { type: 'string', describe: '-w <dir>: change working directory to <dir>' },
  'setuid': { type: 'string', describe: '-S <uid>: set uid in entered namespace' },
  'setgid': { type: 'string', describe: '-G <gid>: set gid in entered namespace' },
  'monotonic': { type: 'string', describe: '<offset>: set clock monotonic offset (seconds) in time namespaces' },
  'boottime': { type: 'string', describe: '<offset>: set clock boottime offset (seconds) in time namespaces' },
  'clear-env': { type: 'boolean', describe: 'clear the environment' },
  'whitelist-env': { type: 'string', array: true, describe: '<list>: clear the environment except the listed variables (comma list; repeatable)' },
  'hostname': { type: 'string', describe: '<name>: set the hostname (implies --uts); nstools extension' },
  'loopback': { type: 'boolean', describe: "bring 'lo' up (implies --net); nstools extension" },
  'info-fd': { type: 'string', describe: '<fd>: write child pid and namespace ids as JSON to <fd> (as bwrap)' },
  'json-status-fd': { type: 'string', describe: '<fd>: write JSON lines about the child (start, exit) to <fd> (as bwrap)' },
};

const LONG_NAMES = [...NAMESPACE_KINDS.map((k) => k.cli.long), ...Object.keys(OPTIONS), 'help', 'version'];

export async function main(argv: readonly string[]): Promise<void> {
  // Read before anything else: it also removes NSTOOLS_SIGIGN from the program's environment.
  const ignoreSignals = inheritedIgnoredSignals();
  // No --no-<flag>: getopt_long has none, and yargs would quietly turn --no-fork into fork=false.
  const words = parseGetoptOrExit(PROG, argv, UNSHARE_GETOPT, LONG_NAMES);
  let y = yargsBase(PROG, words, { booleanNegation: false })
    .usage(`Usage:\n ${PROG} [options] [<program> [<argument>...]]\n\nRun a program with some namespaces unshared from the parent.`);
  for (const k of NAMESPACE_KINDS) {
    y = y.option(k.cli.long, { type: 'string', describe: `-${k.cli.short}[=<file>]: unshare ${k.kind} namespace; a file persists it` });
  }
  const parsed = y.options(OPTIONS).parseSync() as ReturnType<typeof y.parseSync> & Record<string, string | string[] | boolean | undefined>;
  // 'strip-dashed' keeps only the camelCase key of a dashed option.
  const get = (name: string) => parsed[name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())];
  // getopt_long lets a repeated option override the earlier one; yargs collects them instead.
  const str = (name: string) => {
    const v = get(name) as string | string[] | undefined;
    return Array.isArray(v) ? v[v.length - 1] : v;
  };
  const list = (name: string) => (get(name) as (string | number)[] | undefined)?.map(String);

  try {
    const namespaces: Partial<Record<NamespaceKind, true | string>> = {};
    for (const k of NAMESPACE_KINDS) {
      const v = str(k.cli.long);
      if (v !== undefined) namespaces[k.kind] = v === '' ? true : String(v);
    }
    const prop = str('propagation');
    if (prop !== undefined && !['slave', 'shared', 'private', 'unchanged'].includes(prop)) {
      throw usageError(`unsupported propagation mode: ${prop}`);
    }
    const setgroups = str('setgroups');
    if (setgroups !== undefined && setgroups !== 'allow' && setgroups !== 'deny') {
      throw usageError(`unsupported --setgroups argument '${setgroups}'`);
    }
    const killChild = str('kill-child');
    const options: UnshareOptions = {
      namespaces,
      ...(get('fork') ? { fork: true } : {}),
      ...(killChild !== undefined ? { killChild: killChild === '' ? 'SIGKILL' : parseSignalName(killChild) } : {}),
      ...(get('forward-signals') ? { forwardSignals: true } : {}),
      ...(str('mount-proc') !== undefined ? { mountProc: str('mount-proc') || true } : {}),
      ...(str('mount-binfmt') !== undefined ? { mountBinfmt: str('mount-binfmt') || true } : {}),
      ...(list('load-interp') ? { loadInterp: list('load-interp')! } : {}),
      ...singleIdMaps(words),
      ...(list('map-users') ? { mapUsers: list('map-users')! } : {}),
      ...(list('map-groups') ? { mapGroups: list('map-groups')! } : {}),
      ...(get('map-auto') ? { mapAuto: true } : {}),
      ...(get('map-subids') ? { mapSubids: true } : {}),
      ...(str('owner') !== undefined ? { owner: str('owner')! } : {}),
      ...(prop !== undefined ? { propagation: prop as 'slave' | 'shared' | 'private' | 'unchanged' } : {}),
      ...(setgroups !== undefined ? { setgroups } : {}),
      ...(get('keep-caps') ? { keepCaps: true } : {}),
      ...(str('root') !== undefined ? { root: str('root')! } : {}),
      ...(str('wd') !== undefined ? { wd: str('wd')! } : {}),
      ...(str('setuid') !== undefined ? { setuid: parseIdOrName(str('setuid')!) } : {}),
      ...(str('setgid') !== undefined ? { setgid: parseIdOrName(str('setgid')!) } : {}),
      ...(str('monotonic') !== undefined ? { monotonic: parseOffset('--monotonic', str('monotonic')!) } : {}),
      ...(str('boottime') !== undefined ? { boottime: parseOffset('--boottime', str('boottime')!) } : {}),
      ...(get('clear-env') ? { clearEnv: true } : {}),
      ...(list('whitelist-env') ? { whitelistEnv: list('whitelist-env')!.flatMap((l) => l.split(',')).filter(Boolean) } : {}),
      ...(str('hostname') !== undefined ? { hostname: str('hostname')! } : {}),
      ...(get('loopback') ? { loopback: true } : {}),
    };
    const infoFd = str('info-fd') !== undefined ? parseFd('--info-fd', str('info-fd')!) : undefined;
    const statusFd = str('json-status-fd') !== undefined ? parseFd('--json-status-fd', str('json-status-fd')!) : undefined;
    const fds = inheritedFds([infoFd, statusFd]);
    const plan = planUnshare(options);
    const { argv: program, argv0 } = programOrLoginShell(programArgs(parsed));
    // This process becomes the program (its pid kept), or with --fork the C stage waits for it:
    // util-linux's parent ignores SIGINT/SIGTERM (2.36+), or passes them on (--forward-signals).
    execInPlace(program, {
      ...plan.spawn, ...launchInPlace(PROG, fds, plan.spawn.fds, ignoreSignals, infoFd, statusFd),
      ...(argv0 !== undefined ? { argv0 } : {}),
      ...(plan.forks ? { fork: options.forwardSignals ? { forward: ['SIGINT', 'SIGTERM'] } : true } : {}),
    });
  } catch (e) {
    failAndExit(PROG, e);
  }
}

/**
 * -r, -c, --map-user and --map-group each set the inner uid and/or gid, and unshare.c keeps
 * whichever came last for each (`--map-user=5 -r` maps root, `-r --map-user=5` maps uid 5 and
 * gid 0). yargs loses the order, so it is read from the normalized words.
 */
function singleIdMaps(words: readonly string[]): Pick<UnshareOptions, 'mapRoot' | 'mapCurrent' | 'mapUser' | 'mapGroup'> {
  let uid: 'root' | 'current' | string | undefined;
  let gid: 'root' | 'current' | string | undefined;
  for (const word of words) {
    if (word === '--') break;
    if (word === '--map-root-user') uid = gid = 'root';
    else if (word === '--map-current-user') uid = gid = 'current';
    else if (word.startsWith('--map-user=')) uid = word.slice('--map-user='.length);
    else if (word.startsWith('--map-group=')) gid = word.slice('--map-group='.length);
  }
  if (uid === 'root' && gid === 'root') return { mapRoot: true };
  if (uid === 'current' && gid === 'current') return { mapCurrent: true };
  const id = (v: string, own: number) => (v === 'root' ? 0 : v === 'current' ? own : parseIdOrName(v));
  return {
    ...(uid !== undefined ? { mapUser: id(uid, process.geteuid!()) } : {}),
    ...(gid !== undefined ? { mapGroup: id(gid, process.getegid!()) } : {}),
  };
}
