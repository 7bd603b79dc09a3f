/** ns-enter: a drop-in for util-linux nsenter(1). Thin: parsing here, meaning in ../enter. */
import {
  NAMESPACE_KINDS, defaultProgram, exitLike, failAndExit, normalizeGetopt, programArgs, runToCompletion, usageError, yargsBase,
  type GetoptSpec, type NamespaceKind,
} from 'ns-core';
import { openTargets, planEnter, type EnterOptions } from '../enter';
import { parseFd, statusReporters } from './common';

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

function parseUidArg(option: string, value: string): number | 'follow' {
  if (value === 'follow') return 'follow';
  if (!/^\d+$/.test(value)) throw usageError(`failed to parse ${option === '--setuid' ? 'uid' : 'gid'}: '${value}'`);
  return Number(value);
}

export async function main(argv: readonly string[]): Promise<void> {
  let y = yargsBase(PROG, normalizeGetopt(argv, ENTER_GETOPT), { booleanNegation: false })
    .usage(`Usage:\n ${PROG} [options] [<program> [<argument>...]]\n\nRun a program with namespaces of other processes.`);
  for (const k of NAMESPACE_KINDS) {
    y = y.option(k.cli.long, { type: 'string', describe: `-${k.cli.short}: enter ${k.kind} namespace [=<file>]` });
  }
  const parsed = y
    .option('all', { type: 'boolean', describe: '-a: enter all namespaces' })
    .option('target', { type: 'string', describe: '-t: target process to get namespaces from (PID or PID:inode)' })
    .option('net-socket', { type: 'string', describe: "-N: enter socket's network namespace (use with --target)" })
    .option('user-parent', { type: 'boolean', describe: 'enter parent user namespace' })
    .option('setuid', { type: 'string', describe: '-S: set uid in entered namespace (or follow)' })
    .option('setgid', { type: 'string', describe: '-G: set gid in entered namespace (or follow)' })
    .option('preserve-credentials', { type: 'boolean', describe: 'do not touch uids or gids' })
    .option('keep-caps', { type: 'boolean', describe: 'retain capabilities granted in user namespaces' })
    .option('root', { type: 'string', describe: '-r: set the root directory [=<dir>]' })
    .option('wd', { type: 'string', describe: '-w: set the working directory [=<dir>]' })
    .option('wdns', { type: 'string', describe: '-W: set the working directory in namespace' })
    .option('env', { type: 'boolean', describe: '-e: inherit environment variables from target process' })
    .option('no-fork', { type: 'boolean', describe: '-F: do not fork before exec\'ing <program>' })
    .option('join-cgroup', { type: 'boolean', describe: "-c: join the cgroup of the target process" })
    .option('follow-context', { type: 'boolean', describe: '-Z: set SELinux context according to --target PID' })
    .option('info-fd', { type: 'string', describe: 'write child pid and namespace ids as JSON to <fd>' })
    .option('json-status-fd', { type: 'string', describe: 'write JSON lines about the child (start, exit) to <fd>' })
    .parseSync();

  let opened: ReturnType<typeof openTargets> | undefined;
  try {
    if (parsed.followContext) throw usageError('SELinux is not supported by this build (--follow-context)');
    if (parsed.wd !== undefined && parsed.wdns !== undefined) throw usageError('--wd and --wdns are mutually exclusive');
    const namespaces: Partial<Record<NamespaceKind, true | string>> = {};
    for (const k of NAMESPACE_KINDS) {
      const v = (parsed as Record<string, unknown>)[k.cli.long];
      if (v !== undefined) namespaces[k.kind] = v === '' ? true : String(v);
    }
    let target: number | undefined;
    let targetInode: number | undefined;
    if (parsed.target !== undefined) {
      const m = /^(\d+)(?::(\d+))?$/.exec(parsed.target);
      if (!m || Number(m[1]) <= 0) throw usageError(`failed to parse pid: '${parsed.target}'`);
      target = Number(m[1]);
      if (m[2] !== undefined) targetInode = Number(m[2]);
    }
    const options: EnterOptions = {
      namespaces,
      ...(target !== undefined ? { target } : {}),
      ...(targetInode !== undefined ? { targetInode } : {}),
      ...(parsed.all ? { all: true } : {}),
      ...(parsed.netSocket !== undefined ? { netSocket: parseFdNumber(parsed.netSocket) } : {}),
      ...(parsed.userParent ? { userParent: true } : {}),
      ...(parsed.setuid !== undefined ? { setuid: parseUidArg('--setuid', parsed.setuid) } : {}),
      ...(parsed.setgid !== undefined ? { setgid: parseUidArg('--setgid', parsed.setgid) } : {}),
      ...(parsed.preserveCredentials ? { preserveCredentials: true } : {}),
      ...(parsed.keepCaps ? { keepCaps: true } : {}),
      ...(parsed.root !== undefined ? { root: parsed.root === '' ? true : parsed.root } : {}),
      ...(parsed.wd !== undefined ? { wd: parsed.wd === '' ? true : parsed.wd } : {}),
      ...(parsed.wdns !== undefined ? { wdns: parsed.wdns } : {}),
      ...(parsed.env ? { env: true } : {}),
      ...(parsed.noFork ? { noFork: true } : {}),
      ...(parsed.joinCgroup ? { joinCgroup: true } : {}),
    };
    if (options.netSocket !== undefined && target === undefined) throw usageError('--net-socket requires --target');
    const reporters = statusReporters(
      parsed.infoFd !== undefined ? parseFd('--info-fd', parsed.infoFd) : undefined,
      parsed.jsonStatusFd !== undefined ? parseFd('--json-status-fd', parsed.jsonStatusFd) : undefined);
    opened = openTargets(options);
    const plan = planEnter(options, opened);
    const held = opened;
    exitLike(await runToCompletion(defaultProgram(programArgs(parsed)), plan.spawn, {
      ...plan.run, ...reporters,
      onStart: (child) => {
        held.close(); // the child holds its namespaces now; a long-running program keeps no fds of ours
        reporters.onStart?.(child);
      },
    }));
  } catch (e) {
    opened?.close();
    failAndExit(PROG, e);
  }
}

function parseFdNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw usageError(`failed to parse file descriptor: '${value}'`);
  return Number(value);
}
