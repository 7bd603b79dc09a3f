/**
 * ns-net [options] [--] [program [args...]]           run a program in a new network namespace
 * ns-net netns add|attach|list|delete|exec|identify|pids ...   named namespaces, as `ip netns`
 * ns-net [-n NAME] [-j] link|addr|route [show] ...     what `ip link|addr|route show` prints
 *
 * A program named like a command (netns, link, addr, route) runs after `--`.
 */
import {
  defaultProgram, exitLike, failAndExit, programArgs, runToCompletion, usageError, yargsBase,
} from 'ns-core';
import { AF } from './codec';
import { net, type VethOptions } from './step';
import {
  netnsAdd, netnsAttach, netnsDelete, netnsExec, netnsIdentify, netnsList, netnsOpen, netnsPids,
} from './netns';
import { ipShow, type ShowObject } from './show';
import { RtnlHandle } from './verbs';

const PROG = 'ns-net';
const SHOW_OBJECTS = new Map([['link', 'link'], ['addr', 'addr'], ['address', 'addr'], ['a', 'addr'], ['route', 'route'], ['r', 'route']]);

export async function main(argv: readonly string[]): Promise<void> {
  try {
    const { global, rest } = leadingShowOptions(argv);
    const command = rest[0];
    if (command === 'netns' && global.length === 0) return await netnsCommand(rest.slice(1));
    if (command !== undefined && SHOW_OBJECTS.has(command)) return showCommand(SHOW_OBJECTS.get(command)!, [...global, ...rest.slice(1)]);
    return await runCommand(argv);
  } catch (e) {
    failAndExit(PROG, e);
  }
}

/** `ip`-style options written before the object (`ns-net -n blue -j addr`). */
function leadingShowOptions(argv: readonly string[]): { global: string[]; rest: readonly string[] } {
  let i = 0;
  while (i < argv.length) {
    const a = argv[i]!;
    if (a === '-n' || a === '--netns') i += 2;
    else if (a.startsWith('--netns=') || a === '-j' || a === '--json' || a === '-4' || a === '-6') i += 1;
    else break;
  }
  const rest = argv.slice(i);
  return rest[0] !== undefined && SHOW_OBJECTS.has(rest[0]) ? { global: argv.slice(0, i), rest } : { global: [], rest: argv };
}

/** `--veth HOST_IF:NS_IF` with its addresses. @throws NsError EUSAGE for a missing or stray option. */
export function vethOptions(o: { veth?: string; address?: string; peerAddress?: string; gateway?: boolean }): VethOptions | undefined {
  if (o.veth === undefined) {
    const stray = o.address !== undefined ? '--address' : o.peerAddress !== undefined ? '--peer-address' : o.gateway ? '--gateway' : undefined;
    if (stray) throw usageError(`${stray} needs --veth`);
    return undefined;
  }
  const [hostIf, nsIf, ...extra] = o.veth.split(':');
  if (!hostIf || !nsIf || extra.length) throw usageError(`--veth: '${o.veth}' is not HOST_IF:NS_IF`);
  if (o.address === undefined || o.peerAddress === undefined) throw usageError('--veth needs --address (host end) and --peer-address (namespace end)');
  return { hostIf, nsIf, address: o.address, peerAddress: o.peerAddress, gateway: o.gateway ?? false };
}

async function runCommand(argv: readonly string[]): Promise<void> {
  const parsed = yargsBase(PROG, argv)
    .usage([
      'Usage:',
      ` ${PROG} [options] [--] [<program> [<argument>...]]`,
      ` ${PROG} netns add|attach|list|delete|exec|identify|pids ...`,
      ` ${PROG} [-n NAME] [-j] link|addr|route [show]`,
      '',
      'Run a program in a new network namespace with lo up; with --veth, linked to this one.',
      `A program named netns, link, addr or route runs after '--'.`,
    ].join('\n'))
    .option('loopback', { type: 'boolean', default: true, describe: 'bring lo up inside (--no-loopback leaves it down)' })
    .option('veth', { type: 'string', requiresArg: true, describe: 'HOST_IF:NS_IF: a veth pair, HOST_IF here and NS_IF inside' })
    .option('address', { type: 'string', requiresArg: true, describe: 'CIDR of the host end (HOST_IF), e.g. 10.200.0.1/30' })
    .option('peer-address', { type: 'string', requiresArg: true, describe: 'CIDR of the namespace end (NS_IF), e.g. 10.200.0.2/30' })
    .option('gateway', { type: 'boolean', describe: 'default route inside through the host end (its --address)' })
    .example(`${PROG} --veth h0:eth0 --address 10.200.0.1/30 --peer-address 10.200.0.2/30 --gateway -- ping -c1 10.200.0.1`, '')
    .parseSync();
  const veth = vethOptions(parsed);
  const step = net({ loopback: parsed.loopback, ...(veth ? { veth } : {}) });
  exitLike(await runToCompletion(defaultProgram(programArgs(parsed)), { steps: [step] }));
}

const NETNS_USAGE = [
  'Usage:',
  ` ${PROG} netns list [--json]`,
  ` ${PROG} netns add NAME`,
  ` ${PROG} netns attach NAME PID`,
  ` ${PROG} netns delete NAME`,
  ` ${PROG} netns exec NAME <program> [<argument>...]`,
  ` ${PROG} netns identify [PID]`,
  ` ${PROG} netns pids NAME`,
  '',
  `Named network namespaces under /run/netns, shared with 'ip netns'.`,
].join('\n');

/** Positional words of a subcommand, exactly `min`..`max` of them. */
function words(sub: string, args: (string | number)[], min: number, max: number, names: string): string[] {
  const out = args.map(String);
  if (out.length < min) throw usageError(`netns ${sub}: missing ${names}`);
  if (out.length > max) throw usageError(`netns ${sub}: unexpected '${out[max]}'`);
  return out;
}

async function netnsCommand(argv: readonly string[]): Promise<void> {
  // Like `ip netns`: no command (only options) lists.
  const listing = argv[0] === undefined || argv[0].startsWith('-');
  const sub = listing ? 'list' : argv[0]!;
  const parsed = yargsBase(`${PROG} netns`, listing ? argv : argv.slice(1)).usage(NETNS_USAGE)
    .option('json', { alias: 'j', type: 'boolean', describe: 'list: print JSON like ip -j netns list' })
    .parseSync();
  const args = programArgs(parsed);
  const out = (lines: string[]) => process.stdout.write(lines.map((l) => `${l}\n`).join(''));
  switch (sub) {
    case 'list': case 'show': case 'ls': {
      words(sub, args, 0, 0, '');
      const list = netnsList();
      if (parsed.json) process.stdout.write(`${JSON.stringify(list)}\n`);
      else out(list.map((n) => (n.id === undefined ? n.name : `${n.name} (id: ${n.id})`)));
      return;
    }
    case 'add': return netnsAdd(words(sub, args, 1, 1, 'NAME')[0]!);
    case 'attach': {
      const [name, pid] = words(sub, args, 2, 2, 'NAME and PID');
      if (!/^[0-9]+$/.test(pid!)) throw usageError(`netns attach: '${pid}' is not a pid`);
      return netnsAttach(name!, Number(pid));
    }
    case 'delete': case 'del': return netnsDelete(words(sub, args, 1, 1, 'NAME')[0]!);
    case 'identify': {
      const [pid] = words(sub, args, 0, 1, 'PID');
      if (pid !== undefined && !/^[0-9]+$/.test(pid)) throw usageError(`netns identify: '${pid}' is not a pid`);
      out(netnsIdentify(pid === undefined ? 'self' : Number(pid)));
      return;
    }
    case 'pids': out(netnsPids(words(sub, args, 1, 1, 'NAME')[0]!).map(String)); return;
    case 'exec': {
      const [name, ...program] = args.map(String);
      if (name === undefined) throw usageError('netns exec: missing NAME');
      if (program.length === 0) throw usageError('netns exec: missing the program to run');
      const { join, step } = netnsExec(name);
      try {
        exitLike(await runToCompletion(program, { join: [join], steps: [step] }, { onStart: () => join.close() }));
      } finally {
        join.close();
      }
    }
    default:
      throw usageError(`netns: unknown command '${sub}' (list, add, attach, delete, exec, identify, pids)`);
  }
}

function showCommand(object: string, argv: readonly string[]): void {
  const parsed = yargsBase(`${PROG} ${object}`, argv)
    // Options may follow the words here (`link show dev lo --json`): no program to stop at.
    .parserConfiguration({ 'halt-at-non-option': false, 'populate--': true, 'camel-case-expansion': true, 'strip-dashed': true,
                           'short-option-groups': true, 'unknown-options-as-args': false })
    .strict(false).strictOptions()
    .usage(`Usage:\n ${PROG} ${object} [show] [dev NAME] [options]\n\nWhat 'ip ${object} show' prints, read over rtnetlink.`)
    .option('json', { alias: 'j', type: 'boolean', describe: 'JSON with ip -j\'s field names' })
    .option('netns', { alias: 'n', type: 'string', requiresArg: true, describe: 'act in the named network namespace (/run/netns/NAME)' })
    .option('4', { type: 'boolean', describe: 'IPv4 only' })
    .option('6', { type: 'boolean', describe: 'IPv6 only' })
    .parseSync();
  const args = programArgs(parsed);
  if (args[0] === 'show' || args[0] === 'list' || args[0] === 'ls') args.shift();
  let dev: string | undefined;
  if (args[0] === 'dev') args.shift();
  if (args.length) dev = args.shift();
  if (args.length) throw usageError(`${object}: unexpected '${args[0]}'`);
  if (parsed['4'] && parsed['6']) throw usageError(`${object}: -4 and -6 exclude each other`);
  const family = parsed['4'] ? AF.INET : parsed['6'] ? AF.INET6 : undefined;
  const rtnl = parsed.netns !== undefined ? netnsOpen(parsed.netns).use((ns) => RtnlHandle.at(ns)) : RtnlHandle.current();
  process.stdout.write(rtnl.use((h) => ipShow(h, object as ShowObject, { dev, family, json: parsed.json ?? false })));
}
