/** ns-enter: a drop-in for util-linux nsenter(1). Thin: its option table here, meaning in ../enter. */
// First: it records the fds we were started with before other modules open fds of their own.
import { inheritedFds } from '../common/inherited-fds';
import { existsSync } from 'node:fs';
import { openTargets, planEnter, type EnterOptions } from 'ns-core/enter';
import { usageError } from 'ns-core/errors';
import { NAMESPACE_KINDS, type NamespaceKind } from 'ns-core/kinds';
import { parseDecimal } from 'ns-core/numbers';
import {
  inheritedIgnoredSignals, launch, runCli, scriptArguments, STANDARD_OPTIONS, type CommandSpec, type OptionSpec,
  type ParsedArgs,
} from 'ns-core/cli';
import { parseFd } from '../common/options';

/**
 * nsenter.c's options ("+ahVt:m::u::i::n::N:p::C::U::T::S:G:r::w::W::ecFZ"): unlike unshare's,
 * its namespace letters take the rest of the cluster as a file (`-mu` is -m with "u").
 */
export const ENTER_COMMAND: CommandSpec = {
  prog: 'ns-enter',
  usage: ['[options] [<program> [<argument>...]]'],
  summary: 'Run a program with namespaces of other processes.',
  stopAtOperand: true,
  seeAlso: ['nsenter(1)', 'ns-unshare(1)', 'setns(2)'],
  footer: 'For more details see ns-enter(1).',
  description: [
    'ns-enter is a drop-in replacement for util-linux nsenter(1): the same options, exit statuses and observable behaviour, plus bubblewrap\'s --info-fd and --json-status-fd. Targets are held by pidfd, so a recycled pid is never entered.',
    'Without a program, $SHELL (or /bin/sh) runs as a login shell.',
  ],
  options: [
    { long: 'all', short: 'a', help: 'enter all namespaces' },
    { long: 'target', short: 't', arg: 'required', metavar: '<pid>[:<inode>]', help: 'target process to get namespaces from', complete: 'pid' },
    ...NAMESPACE_KINDS.map((k): OptionSpec => ({
      long: k.cli.long, short: k.cli.short, arg: 'optional', metavar: '<file>', complete: 'file',
      help: `enter ${k.kind === 'mnt' ? 'mount' : k.kind === 'uts' ? 'UTS' : k.kind === 'ipc' ? 'System V IPC' : k.kind === 'net' ? 'network' : k.kind} namespace`,
    })),
    { long: 'net-socket', short: 'N', arg: 'required', metavar: '<fd>', help: "enter socket's network namespace (use with --target)" },
    { long: 'user-parent', help: 'enter parent user namespace' },
    { long: 'setuid', short: 'S', arg: 'required', metavar: '<uid>|follow', help: 'set uid in entered namespace' },
    { long: 'setgid', short: 'G', arg: 'required', metavar: '<gid>|follow', help: 'set gid in entered namespace' },
    { long: 'preserve-credentials', help: 'do not touch uids or gids' },
    { long: 'keep-caps', help: 'retain capabilities granted in user namespaces' },
    { long: 'root', short: 'r', arg: 'optional', metavar: '<dir>', help: 'set the root directory', complete: 'dir' },
    { long: 'wd', short: 'w', arg: 'optional', metavar: '<dir>', help: 'set the working directory', complete: 'dir' },
    { long: 'wdns', short: 'W', arg: 'required', metavar: '<dir>', help: 'set the working directory in namespace', complete: 'dir' },
    { long: 'env', short: 'e', help: 'inherit environment variables from target process' },
    { long: 'no-fork', short: 'F', help: "do not fork before exec'ing <program>" },
    { long: 'join-cgroup', short: 'c', help: 'join the cgroup of the target process' },
    { long: 'follow-context', short: 'Z', help: 'set SELinux context according to --target PID' },
    { long: 'info-fd', arg: 'required', metavar: '<fd>', help: 'write child pid and namespace ids as JSON to <fd> (as bwrap)', group: 'Beyond util-linux' },
    { long: 'json-status-fd', arg: 'required', metavar: '<fd>', help: 'write JSON lines about the child (start, exit) to <fd>\n(as bwrap)', group: 'Beyond util-linux' },
    ...STANDARD_OPTIONS,
  ],
};

export function main(argv: readonly string[] = scriptArguments()): Promise<void> {
  // Read before anything else: it also removes NSTOOLS_SIGIGN from the program's environment.
  const ignoreSignals = inheritedIgnoredSignals();
  return runCli(ENTER_COMMAND, argv, (args) => run(args, ignoreSignals));
}

function parseUidArg(option: string, value: string): number | 'follow' {
  if (value === 'follow') return 'follow';
  const id = parseDecimal(value, 0xffffffff);
  if (id === undefined) throw usageError(`failed to parse ${option === '--setuid' ? 'uid' : 'gid'}: '${value}'`);
  return id;
}

function parseFdNumber(value: string): number {
  const fd = parseDecimal(value, 0x7fffffff);
  if (fd === undefined) throw usageError(`failed to parse file descriptor: '${value}'`);
  return fd;
}

/** What the command line means, as the library's options. */
export function enterOptions(args: ParsedArgs): EnterOptions {
  // nsenter does nothing for -Z unless SELinux is enabled (is_selinux_enabled(): selinuxfs is
  // mounted); then it would set the exec context, which this build cannot.
  if (args.has('follow-context') && existsSync('/sys/fs/selinux/enforce')) {
    throw usageError('--follow-context: SELinux is enabled, and this build cannot set the exec context');
  }
  if (args.last('wd') !== undefined && args.last('wdns') !== undefined) throw usageError('--wd and --wdns are mutually exclusive');
  const namespaces: Partial<Record<NamespaceKind, true | string>> = {};
  for (const k of NAMESPACE_KINDS) {
    const v = args.last(k.cli.long);
    if (v !== undefined) namespaces[k.kind] = v === '' ? true : v;
  }
  let target: number | undefined;
  let targetInode: number | undefined;
  const targetArg = args.last('target');
  if (targetArg !== undefined) {
    // PID[:INODE] (util-linux 2.40), each as strtoul reads it.
    const [pidText, inodeText, extra] = targetArg.split(':');
    const pid = parseDecimal(pidText!, 0x7fffffff);
    const inode = inodeText === undefined ? undefined : parseDecimal(inodeText);
    if (pid === undefined || pid <= 0 || extra !== undefined || (inodeText !== undefined && inode === undefined)) {
      throw usageError(`failed to parse pid: '${targetArg}'`);
    }
    target = pid;
    if (inode !== undefined) targetInode = inode;
  }
  const root = args.last('root');
  const wd = args.last('wd');
  const value = (name: string) => args.last(name);
  const options: EnterOptions = {
    namespaces,
    ...(target !== undefined ? { target } : {}),
    ...(targetInode !== undefined ? { targetInode } : {}),
    ...(args.has('all') ? { all: true } : {}),
    ...(value('net-socket') !== undefined ? { netSocket: parseFdNumber(value('net-socket')!) } : {}),
    ...(args.has('user-parent') ? { userParent: true } : {}),
    ...(value('setuid') !== undefined ? { setuid: parseUidArg('--setuid', value('setuid')!) } : {}),
    ...(value('setgid') !== undefined ? { setgid: parseUidArg('--setgid', value('setgid')!) } : {}),
    ...(args.has('preserve-credentials') ? { preserveCredentials: true } : {}),
    ...(args.has('keep-caps') ? { keepCaps: true } : {}),
    ...(root !== undefined ? { root: root === '' ? true : root } : {}),
    ...(wd !== undefined ? { wd: wd === '' ? true : wd } : {}),
    ...(value('wdns') !== undefined ? { wdns: value('wdns')! } : {}),
    ...(args.has('env') ? { env: true } : {}),
    ...(args.has('no-fork') ? { noFork: true } : {}),
    ...(args.has('join-cgroup') ? { joinCgroup: true } : {}),
  };
  if (options.netSocket !== undefined && target === undefined) throw usageError('--net-socket requires --target');
  return options;
}

async function run(args: ParsedArgs, ignoreSignals: NodeJS.Signals[]): Promise<void> {
  const options = enterOptions(args);
  const infoFd = args.last('info-fd') !== undefined ? parseFd('--info-fd', args.last('info-fd')!) : undefined;
  const statusFd = args.last('json-status-fd') !== undefined ? parseFd('--json-status-fd', args.last('json-status-fd')!) : undefined;
  const fds = inheritedFds([infoFd, statusFd]);
  const opened = openTargets(options);
  try {
    const plan = planEnter(options, opened);
    // This process becomes the program, as nsenter; with -p the C stage's relay waits (nsenter's
    // forking parent handles no signal: the planned fork forwards none). The fds opened for the
    // targets go with the exec: the stage closes them before the program's.
    await launch(args.operands, { ...plan.spawn, fds: { ...fds, ...plan.spawn.fds } }, {
      signals: plan.forks ? 'fork-default' : 'program',
      ignoreSignals,
      knownNamespaceIds: opened.ids,
      ...(infoFd !== undefined ? { infoFd } : {}),
      ...(statusFd !== undefined ? { statusFd } : {}),
    });
  } finally {
    opened.close();
  }
}
