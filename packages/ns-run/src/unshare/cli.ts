/** ns-unshare: a drop-in for util-linux unshare(1). Thin: its option table here, meaning in ../unshare. */
// First: it records the fds we were started with before other modules open fds of their own.
import { inheritedFds } from '../common/inherited-fds';
import { usageError } from 'ns-core/errors';
import { NAMESPACE_KINDS, type NamespaceKind } from 'ns-core/kinds';
import {
  inheritedIgnoredSignals, launch, runCli, scriptArguments, STANDARD_OPTIONS, type CommandSpec, type OptionSpec,
  type ParsedArgs,
} from 'ns-core/cli';
import { parseSignal } from 'ns-pid';
import { planUnshare, type UnshareOptions } from './plan';
import { parseFd, parseIdOrName } from '../common/options';

/**
 * unshare.c's options, in its --help order. Short namespace letters take no argument while the
 * long forms take an optional file (getopt string "+fhVmuinpCTUrR:w:S:G:c:l:"); util-linux's
 * order of -r, -c, --map-user and --map-group is kept by the parser's event list.
 */
export const UNSHARE_COMMAND: CommandSpec = {
  prog: 'ns-unshare',
  usage: ['[options] [<program> [<argument>...]]'],
  summary: 'Run a program with some namespaces unshared from the parent.',
  stopAtOperand: true,
  seeAlso: ['unshare(1)', 'ns-enter(1)', 'namespaces(7)'],
  footer: 'For more details see ns-unshare(1).',
  description: [
    'ns-unshare is a drop-in replacement for util-linux unshare(1): the same options, exit statuses and observable behaviour, plus bubblewrap\'s --info-fd and --json-status-fd, --hostname and --loopback.',
    'Without a program, $SHELL (or /bin/sh) runs as a login shell.',
  ],
  manSections: {
    'exit status': ['The program\'s own status; 1 if ns-unshare failed before the program ran; 126 if the program could not be executed, 127 if it was not found. A program killed by a signal makes ns-unshare die of the same signal.'],
  },
  options: [
    ...NAMESPACE_KINDS.map((k): OptionSpec => ({
      long: k.cli.long, short: k.cli.short, arg: 'optional', shortArg: 'none', metavar: '<file>', complete: 'file', group: 'Namespaces (a <file> persists one)',
      help: `unshare ${k.kind === 'mnt' ? 'mounts' : k.kind === 'uts' ? 'UTS' : k.kind === 'ipc' ? 'System V IPC' : k.kind === 'net' ? 'network' : k.kind} namespace`,
    })),
    { long: 'fork', short: 'f', help: 'fork before launching <program>', group: 'Processes' },
    { long: 'map-user', arg: 'required', metavar: '=<uid>|<name>', help: 'map current user to uid (implies --user)', group: 'User namespace', complete: 'user' },
    { long: 'map-group', arg: 'required', metavar: '=<gid>|<name>', help: 'map current group to gid (implies --user)', group: 'User namespace', complete: 'group' },
    { long: 'map-root-user', short: 'r', help: 'map current user to root (implies --user)', group: 'User namespace' },
    { long: 'map-current-user', short: 'c', help: 'map current user to itself (implies --user)', group: 'User namespace' },
    { long: 'map-auto', help: 'map users and groups automatically (implies --user)', group: 'User namespace' },
    { long: 'map-users', arg: 'required', metavar: '=<inneruid>:<outeruid>:<count>', group: 'User namespace',
      help: 'map count users from outeruid to inneruid (implies --user);\nalso auto, subids or all' },
    { long: 'map-groups', arg: 'required', metavar: '=<innergid>:<outergid>:<count>', group: 'User namespace',
      help: 'map count groups from outergid to innergid (implies --user);\nalso auto, subids or all' },
    { long: 'map-subids', help: 'map your subordinate ids to themselves (implies --user)', group: 'User namespace' },
    { long: 'owner', arg: 'required', metavar: '=<uid>:<gid>', help: 'create the user namespace owned by this user (implies --user)', group: 'User namespace' },
    { long: 'kill-child', arg: 'optional', metavar: '<signame>', help: 'when dying, kill the forked child (implies --fork)\n  defaults to SIGKILL', group: 'Processes', complete: 'signal' },
    { long: 'forward-signals', help: 'forward SIGINT and SIGTERM to the child (implies --fork)', group: 'Processes' },
    { long: 'mount-proc', arg: 'optional', metavar: '<dir>', help: 'mount proc filesystem first (implies --mount)', group: 'Mounts', complete: 'dir' },
    { long: 'mount-binfmt', arg: 'optional', metavar: '<dir>', help: 'mount binfmt_misc filesystem (implies --user and --mount)', group: 'Mounts', complete: 'dir' },
    { long: 'load-interp', short: 'l', arg: 'required', metavar: '<string>', help: 'load a binfmt_misc interpreter (implies --mount-binfmt)', group: 'Mounts' },
    { long: 'propagation', arg: 'required', metavar: 'slave|shared|private|unchanged', help: 'modify mount propagation in mount namespace', group: 'Mounts',
      complete: ['slave', 'shared', 'private', 'unchanged'] },
    { long: 'setgroups', arg: 'required', metavar: 'allow|deny', help: 'control the setgroups syscall in user namespaces', group: 'User namespace', complete: ['allow', 'deny'] },
    { long: 'keep-caps', help: 'retain capabilities granted in user namespaces', group: 'User namespace' },
    { long: 'root', short: 'R', arg: 'required', metavar: '=<dir>', help: 'run the command with root directory set to <dir>', group: 'Mounts', complete: 'dir' },
    { long: 'wd', short: 'w', arg: 'required', metavar: '=<dir>', help: 'change working directory to <dir>', group: 'Mounts', complete: 'dir' },
    { long: 'setuid', short: 'S', arg: 'required', metavar: '<uid>', help: 'set uid in entered namespace', group: 'User namespace', complete: 'user' },
    { long: 'setgid', short: 'G', arg: 'required', metavar: '<gid>', help: 'set gid in entered namespace', group: 'User namespace', complete: 'group' },
    { long: 'monotonic', arg: 'required', metavar: '<offset>', help: 'set clock monotonic offset (seconds) in time namespaces', group: 'Time and environment' },
    { long: 'boottime', arg: 'required', metavar: '<offset>', help: 'set clock boottime offset (seconds) in time namespaces', group: 'Time and environment' },
    { long: 'clear-env', help: 'clear the environment', group: 'Time and environment' },
    { long: 'whitelist-env', arg: 'required', metavar: '<list>', help: 'clear the environment except the listed variables\n(comma separated; repeatable)', group: 'Time and environment' },
    { long: 'hostname', arg: 'required', metavar: '<name>', help: 'set the hostname (implies --uts); nstools extension', group: 'Beyond util-linux' },
    { long: 'loopback', help: "bring 'lo' up (implies --net); nstools extension", group: 'Beyond util-linux' },
    { long: 'info-fd', arg: 'required', metavar: '<fd>', help: 'write child pid and namespace ids as JSON to <fd> (as bwrap)', group: 'Beyond util-linux' },
    { long: 'json-status-fd', arg: 'required', metavar: '<fd>', help: 'write JSON lines about the child (start, exit) to <fd>\n(as bwrap)', group: 'Beyond util-linux' },
    ...STANDARD_OPTIONS,
  ],
};

export function main(argv: readonly string[] = scriptArguments()): Promise<void> {
  // Read before anything else: it also removes NSTOOLS_SIGIGN from the program's environment.
  const ignoreSignals = inheritedIgnoredSignals();
  return runCli(UNSHARE_COMMAND, argv, (args) => run(args, ignoreSignals));
}

/** What the command line means, as the library's options. Pure but for the current ids. */
export function unshareOptions(args: ParsedArgs): UnshareOptions {
  const namespaces: Partial<Record<NamespaceKind, true | string>> = {};
  for (const k of NAMESPACE_KINDS) {
    const v = args.last(k.cli.long);
    if (v !== undefined) namespaces[k.kind] = v === '' ? true : v;
  }
  const prop = args.last('propagation');
  if (prop !== undefined && !['slave', 'shared', 'private', 'unchanged'].includes(prop)) {
    throw usageError(`unsupported propagation mode: ${prop}`);
  }
  const setgroups = args.last('setgroups');
  if (setgroups !== undefined && setgroups !== 'allow' && setgroups !== 'deny') {
    throw usageError(`unsupported --setgroups argument '${setgroups}'`);
  }
  const killChild = args.last('kill-child');
  const optional = (name: string) => {
    const v = args.last(name);
    return v === undefined ? undefined : v || true;
  };
  const value = (name: string) => args.last(name);
  const list = (name: string) => (args.has(name) ? args.all(name) : undefined);
  const mountProc = optional('mount-proc');
  const mountBinfmt = optional('mount-binfmt');
  return {
    namespaces,
    ...(args.has('fork') ? { fork: true } : {}),
    ...(killChild !== undefined ? { killChild: killChild === '' ? 'SIGKILL' : parseSignal('--kill-child', killChild) } : {}),
    ...(args.has('forward-signals') ? { forwardSignals: true } : {}),
    ...(mountProc !== undefined ? { mountProc } : {}),
    ...(mountBinfmt !== undefined ? { mountBinfmt } : {}),
    ...(list('load-interp') ? { loadInterp: list('load-interp')! } : {}),
    ...singleIdMaps(args),
    ...(list('map-users') ? { mapUsers: list('map-users')! } : {}),
    ...(list('map-groups') ? { mapGroups: list('map-groups')! } : {}),
    ...(args.has('map-auto') ? { mapAuto: true } : {}),
    ...(args.has('map-subids') ? { mapSubids: true } : {}),
    ...(value('owner') !== undefined ? { owner: value('owner')! } : {}),
    ...(prop !== undefined ? { propagation: prop as UnshareOptions['propagation'] & string } : {}),
    ...(setgroups !== undefined ? { setgroups } : {}),
    ...(args.has('keep-caps') ? { keepCaps: true } : {}),
    ...(value('root') !== undefined ? { root: value('root')! } : {}),
    ...(value('wd') !== undefined ? { wd: value('wd')! } : {}),
    ...(value('setuid') !== undefined ? { setuid: parseIdOrName(value('setuid')!) } : {}),
    ...(value('setgid') !== undefined ? { setgid: parseIdOrName(value('setgid')!) } : {}),
    ...(value('monotonic') !== undefined ? { monotonic: value('monotonic')! } : {}),
    ...(value('boottime') !== undefined ? { boottime: value('boottime')! } : {}),
    ...(args.has('clear-env') ? { clearEnv: true } : {}),
    ...(list('whitelist-env') ? { whitelistEnv: list('whitelist-env')!.flatMap((l) => l.split(',')).filter(Boolean) } : {}),
    ...(value('hostname') !== undefined ? { hostname: value('hostname')! } : {}),
    ...(args.has('loopback') ? { loopback: true } : {}),
  };
}

async function run(args: ParsedArgs, ignoreSignals: NodeJS.Signals[]): Promise<void> {
  const options = unshareOptions(args);
  const infoFd = args.last('info-fd') !== undefined ? parseFd('--info-fd', args.last('info-fd')!) : undefined;
  const statusFd = args.last('json-status-fd') !== undefined ? parseFd('--json-status-fd', args.last('json-status-fd')!) : undefined;
  const fds = inheritedFds([infoFd, statusFd]);
  const plan = planUnshare(options);
  // This process becomes the program (its pid kept), or with --fork the C stage waits for it:
  // util-linux's parent ignores SIGINT/SIGTERM (2.36+), or passes them on (--forward-signals).
  await launch(args.operands, { ...plan.spawn, fds: { ...fds, ...plan.spawn.fds } }, {
    signals: !plan.forks ? 'program' : options.forwardSignals ? 'fork-forward' : 'fork',
    ignoreSignals,
    ...(infoFd !== undefined ? { infoFd } : {}),
    ...(statusFd !== undefined ? { statusFd } : {}),
  });
}

/**
 * -r, -c, --map-user and --map-group each set the inner uid and/or gid, and unshare.c keeps
 * whichever came last for each (`--map-user=5 -r` maps root, `-r --map-user=5` maps uid 5 and
 * gid 0): read in command-line order from the parser's events.
 */
function singleIdMaps(args: ParsedArgs): Pick<UnshareOptions, 'mapRoot' | 'mapCurrent' | 'mapUser' | 'mapGroup'> {
  let uid: 'root' | 'current' | string | undefined;
  let gid: 'root' | 'current' | string | undefined;
  for (const e of args.events) {
    if (e.spec.long === 'map-root-user') uid = gid = 'root';
    else if (e.spec.long === 'map-current-user') uid = gid = 'current';
    else if (e.spec.long === 'map-user') uid = e.value!;
    else if (e.spec.long === 'map-group') gid = e.value!;
  }
  if (uid === 'root' && gid === 'root') return { mapRoot: true };
  if (uid === 'current' && gid === 'current') return { mapCurrent: true };
  const id = (v: string, own: number) => (v === 'root' ? 0 : v === 'current' ? own : parseIdOrName(v));
  return {
    ...(uid !== undefined ? { mapUser: id(uid, process.geteuid!()) } : {}),
    ...(gid !== undefined ? { mapGroup: id(gid, process.getegid!()) } : {}),
  };
}
