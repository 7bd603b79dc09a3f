/**
 * ns-net [options] [--] [program [args...]]          run a program in a new network namespace
 * ns-net [ -n NAME ] [-j [-p]] [-br] [-d] [-s] [-4|-6] OBJECT COMMAND ...   ip's grammar, for
 *        link, address, route and netns (see src/cli/ip.ts)
 *
 * Words that start (after ip's options) with an object ns-net speaks, by ip's prefix rules
 * ("l", "a s", "netns a"), are ip's grammar; anything else, and anything after `--`, is the
 * run form. A program named like an object (link, addr, route, netns) runs after `--`.
 */
import {
  defaultProgram, exitLike, failAndExit, programArgs, runToCompletion, usageError, yargsBase,
} from 'ns-core';
import { isIpGrammar } from './cli/grammar';
import { net, type VethOptions } from './step';

const PROG = 'ns-net';

export async function main(argv: readonly string[]): Promise<void> {
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
  try {
    return await runCommand(argv);
  } catch (e) {
    failAndExit(PROG, e);
  }
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
      ` ${PROG} [-n NAME] [-j [-p]] [-br] [-d] [-s] [-4|-6] link|address|route|netns COMMAND ...`,
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
