/**
 * `ns-run network create|ls|inspect|rm|connect|disconnect`: docker's network verbs over ns-container/network.
 * Errors exit 1, as docker's network commands do (their failures are not a container's 125).
 */
import { usageError } from 'ns-core';
import { runCommands, STANDARD_OPTIONS, UTIL_LINUX_EXITS, type CommandSpec, type ParsedArgs } from 'ns-core/cli';
import {
  connectContainer, createNetwork, disconnectContainer, inspectNetwork, listNetworks, reclaimStale, removeNetwork, DEFAULT_NETWORK_SUBNET, NETWORK_POOL,
  type NetworkInfo,
} from 'ns-container';

const PROG = 'ns-run network';

const CREATE_COMMAND: CommandSpec = {
  prog: `${PROG} create`, usage: ['[--subnet <cidr>] [--ipv6 [--subnet6 <cidr>]] [--internal] <name>'],
  summary: `Define a network: a bridge, a subnet (default: a free /24 of ${NETWORK_POOL}) and its egress rules.`,
  stopAtOperand: false,
  options: [
    { long: 'subnet', arg: 'required', metavar: '<cidr>', help: 'the network\'s IPv4 subnet (/8 to /30), by its network address' },
    { long: 'ipv6', help: 'IPv6 beside IPv4 (default subnet: a unique local /64)' },
    { long: 'subnet6', arg: 'required', metavar: '<cidr>', help: 'the network\'s IPv6 subnet, with --ipv6' },
    { long: 'internal', help: 'no egress: containers reach each other only' },
    ...STANDARD_OPTIONS,
  ],
};

const LS_COMMAND: CommandSpec = {
  prog: `${PROG} ls`, usage: ['[--format json]'], summary: `List the networks (the default 'bridge' is ${DEFAULT_NETWORK_SUBNET}).`,
  options: [{ long: 'format', arg: 'required', metavar: 'json', help: 'one JSON object per line', complete: ['json'] }, ...STANDARD_OPTIONS],
};

const INSPECT_COMMAND: CommandSpec = {
  prog: `${PROG} inspect`, usage: ['<name>...'], summary: 'A JSON array: each network with its subnet, gateway and containers.',
  stopAtOperand: false, options: [...STANDARD_OPTIONS],
};

const RM_COMMAND: CommandSpec = {
  prog: `${PROG} rm`, usage: ['<name>...'], summary: 'Remove networks no running container is attached to: the bridge, rules and leases go.',
  stopAtOperand: false, options: [...STANDARD_OPTIONS],
};

const CONNECT_COMMAND: CommandSpec = {
  prog: `${PROG} connect`, usage: ['[--alias <name>]... <network> <container>'],
  summary: 'Attach a running container to another network (a new ethN inside; the first network keeps the default route).',
  stopAtOperand: false,
  options: [{ long: 'alias', arg: 'required', metavar: '<name>', help: 'another name of the container on this network (repeatable)' }, ...STANDARD_OPTIONS],
};

const DISCONNECT_COMMAND: CommandSpec = {
  prog: `${PROG} disconnect`, usage: ['<network> <container>'], summary: 'Take a container off a network: its link there and its address go.',
  stopAtOperand: false, options: [...STANDARD_OPTIONS],
};

export const NETWORK_COMMAND: CommandSpec = {
  prog: PROG, usage: ['<command> [options] ...'],
  summary: 'Manage networks: bridges that containers on them share, reaching each other by name.',
  stopAtOperand: true,
  options: [...STANDARD_OPTIONS],
  commands: [CREATE_COMMAND, LS_COMMAND, INSPECT_COMMAND, RM_COMMAND, CONNECT_COMMAND, DISCONNECT_COMMAND],
};

async function create(args: ParsedArgs): Promise<void> {
  if (args.operands.length !== 1) throw usageError(`create: one network name expected, got ${args.operands.length}`);
  const subnet = args.last('subnet');
  const subnet6 = args.last('subnet6');
  const config = await createNetwork(args.operands[0]!, {
    ...(subnet !== undefined ? { subnet } : {}), ...(subnet6 !== undefined ? { subnet6 } : {}),
    ...(args.has('ipv6') ? { ipv6: true } : {}), ...(args.has('internal') ? { internal: true } : {}),
  });
  process.stdout.write(`${config.id}\n`);
}

/** docker's `network ls --format json` fields (strings, as docker prints them), with the subnet. */
function lsJson(n: NetworkInfo): Record<string, string> {
  return { CreatedAt: n.created, Driver: 'bridge', ID: n.id, IPv6: String(n.subnet6 !== undefined), Internal: String(n.internal), Name: n.name, Scope: 'local', Subnet: [n.subnet, ...(n.subnet6 !== undefined ? [n.subnet6] : [])].join(',') };
}

function ls(args: ParsedArgs): void {
  if (args.operands.length) throw usageError(`ls: unexpected argument '${args.operands[0]}'`);
  const format = args.last('format');
  if (format !== undefined && format !== 'json') throw usageError(`--format: '${format}' is not json`);
  reclaimStale();
  const networks = listNetworks();
  if (format === 'json') {
    for (const n of networks) process.stdout.write(`${JSON.stringify(lsJson(n))}\n`);
    return;
  }
  const rows = [['NETWORK ID', 'NAME', 'DRIVER', 'SUBNET', 'INTERNAL', 'CONTAINERS'],
                ...networks.map((n) => [n.id, n.name, 'bridge', [n.subnet, ...(n.subnet6 !== undefined ? [n.subnet6] : [])].join(','), n.internal ? 'yes' : 'no', String(n.containers.length)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(`${r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('   ')}\n`);
}

/** docker's inspect shape, in part: IPAM config, Internal, Containers by name. */
function inspectJson(n: NetworkInfo): object {
  return {
    Name: n.name, Id: n.id, Created: n.created, Scope: 'local', Driver: 'bridge', EnableIPv6: n.subnet6 !== undefined,
    IPAM: { Driver: 'default', Config: [{ Subnet: n.subnet, Gateway: n.gateway },
                                        ...(n.subnet6 !== undefined ? [{ Subnet: n.subnet6, Gateway: n.gateway6 }] : [])] },
    Internal: n.internal,
    Containers: Object.fromEntries(n.containers.map((c) => [c.name, {
      Name: c.name, IPv4Address: `${c.address}/${n.subnet.split('/')[1]}`,
      IPv6Address: c.address6 !== undefined ? `${c.address6}/${n.subnet6!.split('/')[1]}` : '', Aliases: c.aliases,
    }])),
    Options: { 'com.docker.network.bridge.name': n.bridge },
  };
}

function inspect(args: ParsedArgs): void {
  if (!args.operands.length) throw usageError('inspect: which network?');
  const found = args.operands.map((name) => inspectNetwork(name));
  process.stdout.write(`${JSON.stringify(found.map(inspectJson), null, 4)}\n`);
}

async function rm(args: ParsedArgs): Promise<void> {
  if (!args.operands.length) throw usageError('rm: which network?');
  // docker removes what it can and fails for the rest: each failure is reported, the exit is 1.
  let failed: unknown;
  for (const name of args.operands) {
    try {
      await removeNetwork(name);
      process.stdout.write(`${name}\n`);
    } catch (e) {
      if (failed) process.stderr.write(`${PROG} rm: ${(failed as Error).message}\n`);
      failed = e;
    }
  }
  if (failed) throw failed;
}

function twoOperands(verb: string, args: ParsedArgs): [string, string] {
  if (args.operands.length !== 2) throw usageError(`${verb}: a network and a container expected, got ${args.operands.length} argument${args.operands.length === 1 ? '' : 's'}`);
  return [args.operands[0]!, args.operands[1]!];
}

function connect(args: ParsedArgs): void {
  const [net, container] = twoOperands('connect', args);
  connectContainer(net, container, { aliases: args.all('alias') });
}

function disconnect(args: ParsedArgs): void {
  const [net, container] = twoOperands('disconnect', args);
  disconnectContainer(net, container);
}

export function network(args: ParsedArgs): Promise<void> {
  return runCommands(NETWORK_COMMAND, args.operands, { create, ls, inspect, rm, connect, disconnect }, { exits: UTIL_LINUX_EXITS });
}
