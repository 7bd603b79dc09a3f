/**
 * ns-net [options] [--] [program [args...]]           run a program in a new network namespace
 * ns-net netns add|attach|list|delete|exec|identify|pids ...   named namespaces, as `ip netns`
 * ns-net [-n NAME] [-j] link|addr|route [show] ...     what `ip link|addr|route show` prints
 *
 * A program named like a command (netns, link, addr, route) runs after `--`.
 */
import { usageError } from 'ns-core';
import {
  failAndExit, getopt, launch, runCli, scriptArguments, STANDARD_OPTIONS, type CommandSpec,
} from 'ns-core/cli';
import { AF } from './codec';
import { net, type VethOptions } from './step';
import {
  netnsAdd, netnsAttach, netnsDelete, netnsExec, netnsIdentify, netnsList, netnsOpen, netnsPids,
} from './netns';
import { ipShow, type ShowObject } from './show';
import { RtnlHandle } from './verbs';

const PROG = 'ns-net';
const SHOW_OBJECTS = new Map([['link', 'link'], ['addr', 'addr'], ['address', 'addr'], ['a', 'addr'], ['route', 'route'], ['r', 'route']]);

export async function main(argv: readonly string[] = scriptArguments()): Promise<void> {
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

/** The run form: a program in a new network namespace, optionally linked to this one by a veth. */
export const NET_COMMAND: CommandSpec = {
  prog: PROG,
  usage: ['[options] [--] [<program> [<argument>...]]', 'netns add|attach|list|delete|exec|identify|pids ...', '[-n NAME] [-j] link|addr|route [show]'],
  summary: "Run a program in a new network namespace with lo up; with --veth, linked to this one.\nA program named netns, link, addr or route runs after '--'.",
  seeAlso: ['ip(8)', 'ip-netns(8)', 'network_namespaces(7)'],
  options: [
    { long: 'no-loopback', help: 'leave lo down inside' },
    { long: 'loopback', help: 'bring lo up inside (the default)', hidden: true },
    { long: 'veth', arg: 'required', metavar: '<host_if>:<ns_if>', help: 'a veth pair, <host_if> here and <ns_if> inside' },
    { long: 'address', arg: 'required', metavar: '<cidr>', help: 'CIDR of the host end, e.g. 10.200.0.1/30' },
    { long: 'peer-address', arg: 'required', metavar: '<cidr>', help: 'CIDR of the namespace end, e.g. 10.200.0.2/30' },
    { long: 'gateway', help: 'default route inside through the host end (its --address)' },
    ...STANDARD_OPTIONS,
  ],
};

function runCommand(argv: readonly string[]): Promise<void> {
  return runCli(NET_COMMAND, argv, async (args) => {
    const value = (name: string) => args.last(name);
    const veth = vethOptions({
      ...(value('veth') !== undefined ? { veth: value('veth')! } : {}),
      ...(value('address') !== undefined ? { address: value('address')! } : {}),
      ...(value('peer-address') !== undefined ? { peerAddress: value('peer-address')! } : {}),
      gateway: args.has('gateway'),
    });
    const step = net({ loopback: !args.has('no-loopback'), ...(veth ? { veth } : {}) });
    await launch(args.operands, { steps: [step] }, { signals: 'program' });
  });
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
function words(sub: string, args: readonly string[], min: number, max: number, names: string): string[] {
  const out = [...args];
  if (out.length < min) throw usageError(`netns ${sub}: missing ${names}`);
  if (out.length > max) throw usageError(`netns ${sub}: unexpected '${out[max]}'`);
  return out;
}

async function netnsCommand(argv: readonly string[]): Promise<void> {
  // Like `ip netns`: no command (only options) lists.
  const listing = argv[0] === undefined || argv[0].startsWith('-');
  const sub = listing ? 'list' : argv[0]!;
  const rest = listing ? argv : argv.slice(1);
  if (rest[0] === '--help' || rest[0] === '-h') {
    process.stdout.write(`${NETNS_USAGE}\n`);
    return;
  }
  // exec passes the program's words on untouched; the other commands take -j/--json.
  const parsed = getopt(rest, { stopAtOperand: sub === 'exec', options: [{ long: 'json', short: 'j', help: '' }] });
  const args = [...parsed.operands];
  const out = (lines: string[]) => process.stdout.write(lines.map((l) => `${l}\n`).join(''));
  switch (sub) {
    case 'list': case 'show': case 'ls': {
      words(sub, args, 0, 0, '');
      const list = netnsList();
      if (parsed.has('json')) process.stdout.write(`${JSON.stringify(list)}\n`);
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
      const [name, ...program] = args;
      if (name === undefined) throw usageError('netns exec: missing NAME');
      if (program.length === 0) throw usageError('netns exec: missing the program to run');
      const { join, step } = netnsExec(name);
      try {
        await launch(program, { join: [join], steps: [step] }, { signals: 'program', onStart: () => join.close() });
      } finally {
        join.close();
      }
      return;
    }
    default:
      throw usageError(`netns: unknown command '${sub}' (list, add, attach, delete, exec, identify, pids)`);
  }
}

function showCommand(object: string, argv: readonly string[]): void {
  // Options may follow the words here (`link show dev lo --json`): no program to stop at.
  const parsed = getopt(argv, { stopAtOperand: false, options: [
    { long: 'json', short: 'j', help: '' }, { long: 'netns', short: 'n', arg: 'required', help: '' },
    { long: '4', short: '4', help: '' }, { long: '6', short: '6', help: '' },
  ] });
  const netns = parsed.last('netns');
  const args = [...parsed.operands];
  if (args[0] === 'show' || args[0] === 'list' || args[0] === 'ls') args.shift();
  let dev: string | undefined;
  if (args[0] === 'dev') args.shift();
  if (args.length) dev = args.shift();
  if (args.length) throw usageError(`${object}: unexpected '${args[0]}'`);
  if (parsed.has('4') && parsed.has('6')) throw usageError(`${object}: -4 and -6 exclude each other`);
  const family = parsed.has('4') ? AF.INET : parsed.has('6') ? AF.INET6 : undefined;
  const rtnl = netns !== undefined ? netnsOpen(netns).use((ns) => RtnlHandle.at(ns)) : RtnlHandle.current();
  process.stdout.write(rtnl.use((h) => ipShow(h, object as ShowObject, { dev, family, json: parsed.has('json') })));
}
