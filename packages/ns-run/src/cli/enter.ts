/** ns-enter: a drop-in for util-linux nsenter(1). Thin: parsing here, meaning in ../enter. */
// First: it records the fds we were started with before other modules open fds of their own.
import { inheritedFds } from './inherited-fds';
import { existsSync } from 'node:fs';
import {
  NAMESPACE_KINDS, execInPlace, failAndExit, inheritedIgnoredSignals, programArgs, programOrLoginShell, usageError, yargsBase,
  type GetoptSpec, type NamespaceKind,
} from 'ns-core';
import { openTargets, planEnter, type EnterOptions } from '../enter';
import { launchInPlace, parseFd, parseGetoptOrExit, type OptionTable } from './common';

const PROG = 'ns-enter';

/** getopt rules of nsenter.c ("+ahVt:m::u::i::n::N:p::C::U::T::S:G:r::w::W::ecFZ"). */
export const ENTER_GETOPT: GetoptSpec = {
  short: {
    ...Object.fromEntries(NAMESPACE_KINDS.map((k) => [k.cli.short, k.cli.long])),
    a: 'all', t: 'target', N: 'net-socket', S: 'setuid', G: 'setgid', r: 'root', w: 'wd', W: 'wdns',
    e: 'env', c: 'join-cgroup', F: 'no-fork', Z: 'follow-context', h: 'help', V: 'version',
  },
  optional: new Set(['root', 'wd', ...NAMESPACE_KINDS.map((k) => k.cli.long)]),
  // nsenter's short letters take optional arguments too: -n/proc/1/ns/net, and -mu is -m with "u".
  shortOptional: new Set(['r', 'w', ...NAMESPACE_KINDS.map((k) => k.cli.short)]),
  required: new Set(['target', 'net-socket', 'setuid', 'setgid', 'wdns', 'info-fd', 'json-status-fd']),
};

/** Every option but the namespace kinds, in util-linux's --help order; the one list help and parsing use. */
const OPTIONS: OptionTable = {
  'all': { type: 'boolean', describe: '-a: enter all namespaces' },
  'target': { type: 'string', describe: '-t <pid>[:<inode>]: target process to get namespaces from' },
  'net-socket': { type: 'string', describe: "-N <fd>: enter socket's network namespace (use with --target)" },
  'user-parent': { type: 'boolean', describe: 'enter parent user namespace' },
  'setuid': { type: 'string', describe: '-S <uid>|follow: set uid in entered namespace' },
  'setgid': { type: 'string', describe: '-G <gid>|follow: set gid in entered namespace' },
  'preserve-credentials': { type: 'boolean', describe: 'do not touch uids or gids' },
  'keep-caps': { type: 'boolean', describe: 'retain capabilities granted in user namespaces' },
  'root': { type: 'string', describe: '-r[=<dir>]: set the root directory' },
  'wd': { type: 'string', describe: '-w[=<dir>]: set the working directory' },
  'wdns': { type: 'string', describe: '-W <dir>: set the working directory in namespace' },
  'env': { type: 'boolean', describe: '-e: inherit environment variables from target process' },
  'no-fork': { type: 'boolean', describe: "-F: do not fork before exec'ing <program>" },
  'join-cgroup': { type: 'boolean', describe: '-c: join the cgroup of the target process' },
  'follow-context': { type: 'boolean', describe: '-Z: set SELinux context according to --target PID' },
  'info-fd': { type: 'string', describe: '<fd>: write child pid and namespace ids as JSON to <fd> (as bwrap)' },
  'json-status-fd': { type: 'string', describe: '<fd>: write JSON lines about the child (start, exit) to <fd> (as bwrap)' },
};

const LONG_NAMES = [...NAMESPACE_KINDS.map((k) => k.cli.long), ...Object.keys(OPTIONS), 'help', 'version'];

function parseUidArg(option: string, value: string): number | 'follow' {
  if (value === 'follow') return 'follow';
  if (!/^\d+$/.test(value)) throw usageError(`failed to parse ${option === '--setuid' ? 'uid' : 'gid'}: '${value}'`);
  return Number(value);
}

export async function main(argv: readonly string[]): Promise<void> {
  // Read before anything else: it also removes NSTOOLS_SIGIGN from the program's environment.
  const ignoreSignals = inheritedIgnoredSignals();
  let y = yargsBase(PROG, parseGetoptOrExit(PROG, argv, ENTER_GETOPT, LONG_NAMES), { booleanNegation: false })
    .usage(`Usage:\n ${PROG} [options] [<program> [<argument>...]]\n\nRun a program with namespaces of other processes.`);
  for (const k of NAMESPACE_KINDS) {
    y = y.option(k.cli.long, { type: 'string', describe: `-${k.cli.short}[=<file>]: enter ${k.kind} namespace` });
  }
  const parsed = y.options(OPTIONS).parseSync() as ReturnType<typeof y.parseSync> & Record<string, string | boolean | undefined>;
  // 'strip-dashed' keeps only the camelCase key of a dashed option.
  const get = (name: string) => parsed[name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())];
  // getopt_long lets a repeated option override the earlier one; yargs collects them instead.
  const str = (name: string) => {
    const v = get(name) as string | string[] | undefined;
    return Array.isArray(v) ? v[v.length - 1] : v;
  };

  let opened: ReturnType<typeof openTargets> | undefined;
  try {
    // nsenter does nothing for -Z unless SELinux is enabled (is_selinux_enabled(): selinuxfs is
    // mounted); then it would set the exec context, which this build cannot.
    if (get('follow-context') && existsSync('/sys/fs/selinux/enforce')) {
      throw usageError('--follow-context: SELinux is enabled, and this build cannot set the exec context');
    }
    if (str('wd') !== undefined && str('wdns') !== undefined) throw usageError('--wd and --wdns are mutually exclusive');
    const namespaces: Partial<Record<NamespaceKind, true | string>> = {};
    for (const k of NAMESPACE_KINDS) {
      const v = str(k.cli.long);
      if (v !== undefined) namespaces[k.kind] = v === '' ? true : String(v);
    }
    let target: number | undefined;
    let targetInode: number | undefined;
    const targetArg = str('target');
    if (targetArg !== undefined) {
      const m = /^(\d+)(?::(\d+))?$/.exec(targetArg);
      if (!m || Number(m[1]) <= 0) throw usageError(`failed to parse pid: '${targetArg}'`);
      target = Number(m[1]);
      if (m[2] !== undefined) targetInode = Number(m[2]);
    }
    const root = str('root');
    const wd = str('wd');
    const options: EnterOptions = {
      namespaces,
      ...(target !== undefined ? { target } : {}),
      ...(targetInode !== undefined ? { targetInode } : {}),
      ...(get('all') ? { all: true } : {}),
      ...(str('net-socket') !== undefined ? { netSocket: parseFdNumber(str('net-socket')!) } : {}),
      ...(get('user-parent') ? { userParent: true } : {}),
      ...(str('setuid') !== undefined ? { setuid: parseUidArg('--setuid', str('setuid')!) } : {}),
      ...(str('setgid') !== undefined ? { setgid: parseUidArg('--setgid', str('setgid')!) } : {}),
      ...(get('preserve-credentials') ? { preserveCredentials: true } : {}),
      ...(get('keep-caps') ? { keepCaps: true } : {}),
      ...(root !== undefined ? { root: root === '' ? true : root } : {}),
      ...(wd !== undefined ? { wd: wd === '' ? true : wd } : {}),
      ...(str('wdns') !== undefined ? { wdns: str('wdns')! } : {}),
      ...(get('env') ? { env: true } : {}),
      ...(get('no-fork') ? { noFork: true } : {}),
      ...(get('join-cgroup') ? { joinCgroup: true } : {}),
    };
    if (options.netSocket !== undefined && target === undefined) throw usageError('--net-socket requires --target');
    const infoFd = str('info-fd') !== undefined ? parseFd('--info-fd', str('info-fd')!) : undefined;
    const statusFd = str('json-status-fd') !== undefined ? parseFd('--json-status-fd', str('json-status-fd')!) : undefined;
    const fds = inheritedFds([infoFd, statusFd]);
    opened = openTargets(options);
    const plan = planEnter(options, opened);
    const { argv: program, argv0 } = programOrLoginShell(programArgs(parsed));
    // This process becomes the program, as nsenter; with -p the C stage's relay waits (nsenter's
    // forking parent handles no signal: the planned fork forwards none). The fds opened for the
    // targets go with the exec: the stage closes them before the program's.
    execInPlace(program, {
      ...plan.spawn, ...launchInPlace(PROG, fds, plan.spawn.fds, ignoreSignals, infoFd, statusFd),
      ...(argv0 !== undefined ? { argv0 } : {}), knownNamespaceIds: opened.ids,
    });
  } catch (e) {
    opened?.close();
    failAndExit(PROG, e);
  }
}

function parseFdNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw usageError(`failed to parse file descriptor: '${value}'`);
  return Number(value);
}
