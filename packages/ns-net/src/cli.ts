/**
 * ns-net [options] [--] [program [args...]]          run a program in a new network namespace
 * ns-net [ -n NAME ] [-j [-p]] [-br] [-d] [-s] [-4|-6] OBJECT COMMAND ...   ip's grammar, for
 *        link, address, route and netns (see src/cli/ip.ts)
 *
 * Words that start (after ip's options) with an object ns-net speaks, by ip's prefix rules
 * ("l", "a s", "netns a"), are ip's grammar; anything else, and anything after `--`, is the
 * run form. A program named like an object (link, addr, route, netns) runs after `--`.
 */
import { usageError } from 'ns-core/errors';
import { failAndExit, launch, runCli, scriptArguments, STANDARD_OPTIONS, type CommandSpec } from 'ns-core/cli';
import { isIpGrammar } from './cli/grammar';
import { preparedNet, type VethOptions } from './step';

const PROG = 'ns-net';

export async function main(argv: readonly string[] = scriptArguments()): Promise<void> {
  if (isIpGrammar(argv)) {
    // Loaded only for ip's grammar: the run form never pays for the printers.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { ipMain } = require('./cli/ip') as typeof import('./cli/ip');
    let status: number;
    try {
      status = await ipMain(argv);
    } catch (e) {
      failAndExit(PROG, e);
    }
    process.exit(status);
  }
  return runCommand(argv);
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
  usage: ['[options] [--] [<program> [<argument>...]]', '[-n NAME] [-j [-p]] [-br] [-d] [-s] [-4|-6] link|address|route|netns COMMAND ...'],
  summary: "Run a program in a new network namespace with lo up; with --veth, linked to this one.\n"
    + "With ip's grammar, what ip link, address, route and netns do. A program named like one of those runs after '--'.",
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
    // Made now, from this thread, so that the program's process only joins it and Node can leave.
    const { join, step } = preparedNet({ loopback: !args.has('no-loopback'), ...(veth ? { veth } : {}) });
    await launch(args.operands, { steps: [step], join }, { signals: 'program' });
  });
}
