/**
 * What container engines do with netfilter, as data: masquerade a network's subnets, forward
 * its traffic, isolate networks from each other, keep an internal network in, publish a
 * container's ports by DNAT. All of it lives in one inet table of our own (default
 * "nstools"), so nothing else of the host's ruleset is read or touched, and deleting that
 * table removes it all.
 *
 *   table inet nstools
 *     chain prerouting  { type nat hook prerouting priority -100; }  fib daddr type local jump publish
 *     chain output      { type nat hook output priority -100; }      fib daddr type local jump publish
 *     chain publish     (per container) ... tcp dport 8080 dnat ip to 10.88.0.2:80
 *     chain postrouting { type nat hook postrouting priority 100; }   (per network) masquerade
 *     chain forward     { type filter hook forward priority 0; policy accept|drop; }
 *                         ct status dnat accept; jump isolate; (per network) accepts
 *     chain isolate     (per network) drops of an internal network, jumps to isolate-to,
 *                         drops of new connections into the network from elsewhere
 *     chain isolate-to  (per network) oifname "br0" drop
 *
 * Every rule an owner (a network, a container) adds carries the owner's name as its comment.
 * apply(owner, rules) makes the owner's rules exactly `rules` (nothing if they already are),
 * remove(owner) deletes them, and the table goes with the last owner's rules. Each change is
 * one batch guarded by the ruleset generation it was planned from, so concurrent runners
 * never apply a plan on top of a change they did not see (they re-read and retry).
 *
 * A runner, in the host's network namespace:
 *
 *   const engine = new NftEngine(NftHandle.current());
 *   forwardingEnable({ ipv6: true });                       // reports what it changed
 *   engine.apply('net:br0', networkRules({ ifname: 'br0', subnets: ['10.88.0.0/16'] }));
 *   engine.apply('ctr:web', publishRules({ proto: 'tcp', hostPort: 8080, address: '10.88.0.2', port: 80, ifname: 'br0' }));
 *   sysctlApply(publishSysctls(...));                       // 127.0.0.1:8080 from the host
 *   ...
 *   engine.remove('ctr:web');                               // exactly the container's rules
 *   engine.remove('net:br0');                               // the last owner: the table goes
 *
 * nf_tables base chains of other tables (firewalld, iptables-nft's FORWARD) still see the
 * same packets: `accept` here ends only this table's chain (nft(8), "accept"), so a host
 * whose own forward chain drops keeps dropping.
 */
import { usageError, type NsError } from 'ns-core/errors';
import { parseAddress, parseCidr } from '../codec/ip';
import { interfaceKey, type SysctlSetting } from './forwarding';
import type { NftHandle } from './handle';
import type { NftBaseChain, NftChain, NftPolicy, NftRule } from './objects';
import { compileRule, decompileRule, formatRule, type Rule, type RuleMatch } from './rule';
import type { NftOp } from './verbs';

export type EngineChain = 'prerouting' | 'output' | 'postrouting' | 'forward' | 'publish' | 'isolate' | 'isolate-to';

/** A rule of an owner, in one of the engine's chains. */
export interface EngineRule extends Rule {
  readonly chain: EngineChain;
}

export interface EngineOptions {
  /** The inet table's name (default "nstools"). */
  readonly table?: string;
  /**
   * The forward chain's policy (default accept). Docker sets its FORWARD policy to drop when
   * it enabled forwarding itself, so that turning on ip_forward does not make the host a
   * router for everything; forwardingEnable() reports whether it did.
   */
  readonly forwardPolicy?: NftPolicy;
}

export const DEFAULT_TABLE = 'nstools';
const FAMILY = 'inet';
/** Regular chains come first: a rule can only jump to a chain that exists. */
const REGULAR_CHAINS: readonly EngineChain[] = ['publish', 'isolate', 'isolate-to'];
const NAT_PRIORITY = { dstnat: -100, srcnat: 100 } as const;

function baseChains(policy: NftPolicy): readonly [EngineChain, NftBaseChain][] {
  return [
    ['prerouting', { type: 'nat', hook: 'prerouting', priority: NAT_PRIORITY.dstnat, policy: 'accept' }],
    ['output', { type: 'nat', hook: 'output', priority: NAT_PRIORITY.dstnat, policy: 'accept' }],
    ['postrouting', { type: 'nat', hook: 'postrouting', priority: NAT_PRIORITY.srcnat, policy: 'accept' }],
    ['forward', { type: 'filter', hook: 'forward', priority: 0, policy }],
  ];
}

/** The rules the table starts with, which no owner has (they carry no comment). */
const FIXED_RULES: readonly EngineRule[] = [
  // Published ports answer only for this host's own addresses, as docker's
  // `-m addrtype --dst-type LOCAL -j DOCKER`: traffic routed through the host is left alone.
  { chain: 'prerouting', matches: [{ match: 'fib daddr type', type: 'local' }], action: { verdict: 'jump', chain: 'publish' } },
  { chain: 'output', matches: [{ match: 'fib daddr type', type: 'local' }], action: { verdict: 'jump', chain: 'publish' } },
  // A connection we DNAT'd to a container is wanted, whatever network it crosses.
  { chain: 'forward', matches: [{ match: 'ct status', status: ['dnat'] }], action: { verdict: 'accept' } },
  { chain: 'forward', matches: [], action: { verdict: 'jump', chain: 'isolate' } },
];

/** A network as the engine sees it. */
export interface NetworkSpec {
  /** The network's interface on the host: its bridge, a veth's host end, or a prefix ("nsr*"). */
  readonly ifname: string;
  /** Its subnets, IPv4 and/or IPv6 ("10.88.0.0/16", "fd00:88::/64"). */
  readonly subnets: readonly string[];
  /** No egress and no ingress (docker's --internal); published ports still work. */
  readonly internal?: boolean;
  /** Masquerade the subnets leaving by any other interface (default: unless internal). */
  readonly masquerade?: boolean;
  /** Drop forwarding to the other networks of this table (default true, as docker). */
  readonly isolate?: boolean;
  /**
   * Let connections from elsewhere (other interfaces of the host, routed in) reach its
   * containers' addresses without a published port (default false: only replies, DNAT'd
   * connections and the network's own traffic are forwarded into it, as docker's FORWARD
   * chain with its DROP policy lets through).
   */
  readonly ingress?: boolean;
}

/**
 * A network's rules: docker's POSTROUTING `-s SUBNET ! -o BRIDGE -j MASQUERADE` per subnet,
 * FORWARD accepts out of the network and for replies back in, the two isolation stages, and
 * for an internal network drops in both directions.
 */
export function networkRules(spec: NetworkSpec): EngineRule[] {
  const ifname = spec.ifname;
  if (!ifname) throw usageError('network: an interface name is needed');
  const internal = spec.internal ?? false;
  const rules: EngineRule[] = [];
  if (spec.masquerade ?? !internal) {
    if (internal) throw usageError(`network ${ifname}: an internal network cannot masquerade`);
    for (const subnet of spec.subnets) {
      const cidr = parseCidr(subnet, `network ${ifname} subnet`);
      rules.push({
        chain: 'postrouting',
        matches: [{ match: 'saddr', cidr: `${cidr.address}/${cidr.prefixlen}` }, { match: 'oifname', name: ifname, not: true }],
        action: { nat: 'masquerade' },
      });
    }
  }
  const inIf: RuleMatch = { match: 'iifname', name: ifname };
  const outIf: RuleMatch = { match: 'oifname', name: ifname };
  if (internal) {
    rules.push(
      { chain: 'isolate', matches: [inIf, { ...outIf, not: true }], action: { verdict: 'drop' } },
      { chain: 'isolate', matches: [outIf, { ...inIf, not: true }], action: { verdict: 'drop' } },
      { chain: 'forward', matches: [inIf, outIf], action: { verdict: 'accept' } },
    );
    return rules;
  }
  if (spec.isolate ?? true) {
    rules.push(
      { chain: 'isolate', matches: [inIf, { ...outIf, not: true }], action: { verdict: 'jump', chain: 'isolate-to' } },
      { chain: 'isolate-to', matches: [outIf], action: { verdict: 'drop' } },
    );
  }
  rules.push(
    { chain: 'forward', matches: [outIf, { match: 'ct state', states: ['established', 'related'] }], action: { verdict: 'accept' } },
    { chain: 'forward', matches: [inIf], action: { verdict: 'accept' } },
  );
  // The drop policy for what enters the network from elsewhere, as a rule of the network's
  // own rather than the base chain's policy, which would also drop what the host forwards
  // between interfaces that are not ours. In `isolate`, which the forward chain jumps to
  // before any network's accepts, so that no other network's `iifname ... accept` can come
  // first: reaching B from A is never an accident of rule order or routing, whatever
  // `isolate` says. What passes: replies (established, related), DNAT'd connections (accepted
  // before the jump), the network's own traffic.
  if (!(spec.ingress ?? false)) {
    rules.push({ chain: 'isolate', matches: [outIf, { ...inIf, not: true }, { match: 'ct state', states: ['invalid', 'new', 'untracked'] }], action: { verdict: 'drop' } });
  }
  return rules;
}

/** One published port: `-p [hostAddress:]hostPort:port/proto` of a container at `address`. */
export interface PublishSpec {
  readonly proto: 'tcp' | 'udp';
  readonly hostPort: number;
  /** Only connections to this host address (default: any of the host's addresses). */
  readonly hostAddress?: string;
  /** The container's address and port. */
  readonly address: string;
  readonly port: number;
  /** The host's interface towards the container (bridge or veth host end). */
  readonly ifname: string;
}

/**
 * A published port's rules: the DNAT (from outside in prerouting, from the host itself in
 * output, both through `publish`), a masquerade for connections from the host's loopback
 * (which also needs route_localnet on `ifname`: publishSysctls()), and docker's hairpin
 * masquerade for the container reaching its own published port.
 */
export function publishRules(spec: PublishSpec): EngineRule[] {
  const addr = parseAddress(spec.address, 'publish: container address');
  const v6 = spec.address.includes(':');
  const family = v6 ? 'ip6' : 'ip';
  const matches: RuleMatch[] = [];
  if (spec.hostAddress !== undefined) {
    const host = parseAddress(spec.hostAddress, 'publish: host address');
    if (host.family !== addr.family) throw usageError(`publish: host address ${spec.hostAddress} and container address ${spec.address} are not of one family`);
    matches.push({ match: 'daddr', cidr: host.address });
  } else {
    matches.push({ match: 'nfproto', family });
  }
  const dport = (port: number): RuleMatch => ({ match: 'dport', proto: spec.proto, port });
  const toContainer: RuleMatch[] = [{ match: 'daddr', cidr: addr.address }, dport(spec.port)];
  const rules: EngineRule[] = [
    { chain: 'publish', matches: [...matches, dport(spec.hostPort)], action: { nat: 'dnat', address: addr.address, port: spec.port } },
  ];
  // IPv6 never routes ::1 off the loopback device (no route_localnet for IPv6): from the host,
  // an IPv6 published port is reached at the host's other addresses.
  if (!v6 && (spec.hostAddress === undefined || spec.hostAddress.startsWith('127.'))) {
    rules.push({ chain: 'postrouting', matches: [{ match: 'oifname', name: spec.ifname }, { match: 'saddr', cidr: '127.0.0.0/8' }, ...toContainer], action: { nat: 'masquerade' } });
  }
  rules.push({ chain: 'postrouting', matches: [{ match: 'saddr', cidr: addr.address }, ...toContainer], action: { nat: 'masquerade' } });
  return rules;
}

/**
 * What publishRules() needs besides its rules: route_localnet on the interface towards the
 * container, without which the kernel refuses to route a 127.0.0.0/8 source off the loopback
 * device (__mkroute_output()) or to accept the reply addressed to it (ip_route_input_slow()).
 * A prefix ("veth*") cannot name one interface: "all" applies to every one (IN_DEV_ORCONF).
 */
export function publishSysctls(spec: PublishSpec): SysctlSetting[] {
  if (spec.address.includes(':')) return [];
  if (spec.hostAddress !== undefined && !spec.hostAddress.startsWith('127.')) return [];
  return [{ key: interfaceKey('ipv4', spec.ifname.endsWith('*') ? 'all' : spec.ifname, 'route_localnet'), value: '1' }];
}

/** A rule of the table as listed: its owner (the comment), handle and meaning. */
export interface EngineListedRule {
  readonly chain: string;
  readonly handle: number;
  /** undefined for the table's fixed rules. */
  readonly owner: string | undefined;
  /** undefined if the expressions are not ones the engine writes (someone else's). */
  readonly rule: Rule | undefined;
  /** nft(8) text of the rule, or of its expressions' kinds when not ours. */
  readonly text: string;
}

export interface ApplyResult {
  /** False when the owner's rules already were these. */
  readonly changed: boolean;
  readonly added: number;
  readonly removed: number;
}

interface TableState {
  readonly genid: number;
  readonly chains: readonly NftChain[] | undefined;
  readonly rules: readonly NftRule[];
}

/**
 * How often a plan is re-read and retried when the ruleset changed under it. Several writers
 * at once (every container start adds rules) can keep moving the generation on: each retry
 * waits a little longer, with jitter, so that they stop colliding.
 */
const ATTEMPTS = 32;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
function backoff(attempt: number): void {
  Atomics.wait(sleeper, 0, 0, Math.min(50, attempt) * Math.random() * 2);
}

export class NftEngine {
  readonly table: string;
  readonly forwardPolicy: NftPolicy;
  readonly #nft: NftHandle;

  constructor(nft: NftHandle, options: EngineOptions = {}) {
    this.#nft = nft;
    this.table = options.table ?? DEFAULT_TABLE;
    this.forwardPolicy = options.forwardPolicy ?? 'accept';
    if (this.forwardPolicy !== 'accept' && this.forwardPolicy !== 'drop') throw usageError(`forward policy '${this.forwardPolicy}' is not accept or drop`);
  }

  /**
   * Makes `owner`'s rules exactly `rules`, creating the table on first use. Idempotent: the
   * same rules again change nothing. The old rules go and the new ones come in one batch.
   * @throws NsError EUSAGE for a malformed rule (before anything is sent); kernel errors.
   */
  apply(owner: string, rules: readonly EngineRule[]): ApplyResult {
    validateOwner(owner);
    const compiled = rules.map((r) => ({ rule: r, exprs: compileRule(r, FAMILY) }));
    const wanted = compiled.map((c) => canonical(c.rule.chain, decompileRule(c.exprs)));
    return this.#retry(() => {
      const state = this.#read();
      const mine = state.rules.filter((r) => r.comment === owner);
      const have = mine.map((r) => canonical(r.chain, decompileRule(r.exprs)));
      const setup = setupOps(this.table, this.forwardPolicy, state.chains);
      if (!setup.length && sameRules(have, wanted)) return { changed: false, added: 0, removed: 0 };
      const ops: NftOp[] = [
        ...setup,
        ...mine.map((r): NftOp => ({ op: 'delete rule', rule: { family: FAMILY, table: this.table, chain: r.chain, handle: r.handle } })),
        ...compiled.map((c): NftOp => ({ op: 'add rule', rule: { family: FAMILY, table: this.table, chain: c.rule.chain, exprs: c.exprs, comment: owner } })),
      ];
      this.#nft.nftBatch(ops, { genid: state.genid });
      return { changed: true, added: compiled.length, removed: mine.length };
    });
  }

  /**
   * Deletes `owner`'s rules; with them the table, when no owner has rules left in it.
   * @returns how many rules went, and whether the table did.
   */
  remove(owner: string): { readonly removed: number; readonly tableDeleted: boolean } {
    validateOwner(owner);
    return this.#retry(() => {
      const state = this.#read();
      if (!state.chains) return { removed: 0, tableDeleted: false };
      const mine = state.rules.filter((r) => r.comment === owner);
      const others = state.rules.some((r) => r.comment !== undefined && r.comment !== owner);
      const ops: NftOp[] = others
        ? mine.map((r) => ({ op: 'delete rule', rule: { family: FAMILY, table: this.table, chain: r.chain, handle: r.handle } }))
        : [{ op: 'delete table', table: { family: FAMILY, name: this.table } }];
      if (!ops.length) return { removed: 0, tableDeleted: false };
      this.#nft.nftBatch(ops, { genid: state.genid });
      return { removed: mine.length, tableDeleted: !others };
    });
  }

  /** Deletes the whole table, whoever's rules are in it. @returns whether there was one. */
  destroy(): boolean {
    return this.#retry(() => {
      const state = this.#read();
      if (!state.chains) return false;
      this.#nft.nftBatch([{ op: 'delete table', table: { family: FAMILY, name: this.table } }], { genid: state.genid });
      return true;
    });
  }

  /** Every rule of the table, with its owner and meaning (an empty list without a table). */
  list(): EngineListedRule[] {
    return this.#read().rules.map((r) => {
      const rule = decompileRule(r.exprs);
      return {
        chain: r.chain, handle: r.handle, owner: r.comment, rule,
        text: rule ? formatRule(rule) : `(${r.exprs.map((e) => e.type === 'other' ? e.name : e.type).join(' ')})`,
      };
    });
  }

  /** The owners that have rules in the table. */
  owners(): string[] {
    return [...new Set(this.#read().rules.flatMap((r) => (r.comment === undefined ? [] : [r.comment])))];
  }

  #retry<T>(attempt: () => T): T {
    for (let n = 1; ; n++) {
      try {
        return attempt();
      } catch (e) {
        // ERESTART: the ruleset moved on since we read it (nfnetlink checks the batch's
        // generation before any of its messages): read again and plan again.
        if (n >= ATTEMPTS || (e as NsError).code !== 'ERESTART') throw e;
        backoff(n);
      }
    }
  }

  #read(): TableState {
    const genid = this.#nft.nftGenid();
    const chains = this.#nft.nftChainList({ family: FAMILY, table: this.table });
    if (!chains.length) return { genid, chains: undefined, rules: [] };
    return { genid, chains, rules: this.#nft.nftRuleList({ family: FAMILY, table: this.table }) };
  }
}

/**
 * The batch that creates the engine's table from nothing: the table, its chains, then the
 * fixed rules of its base chains.
 */
export function engineSetupOps(table: string, forwardPolicy: NftPolicy = 'accept'): NftOp[] {
  return setupOps(table, forwardPolicy, undefined);
}

function setupOps(table: string, forwardPolicy: NftPolicy, chains: readonly NftChain[] | undefined): NftOp[] {
  const ops: NftOp[] = [];
  const has = new Map((chains ?? []).map((c) => [c.name, c]));
  // Another runner creating the table at the same time moves the generation on: our batch
  // then fails with ERESTART, and the retry finds its table.
  if (!chains) ops.push({ op: 'add table', table: { family: FAMILY, name: table } });
  for (const name of REGULAR_CHAINS) {
    if (!has.has(name)) ops.push({ op: 'add chain', chain: { family: FAMILY, table, name } });
  }
  const fixed: NftOp[] = [];
  for (const [name, base] of baseChains(forwardPolicy)) {
    const existing = has.get(name);
    if (existing && existing.base?.policy === base.policy) continue;
    // An existing base chain takes a new policy from the same `add chain` (nf_tables_updchain()).
    ops.push({ op: 'add chain', chain: { family: FAMILY, table, name, base } });
    if (existing) continue;
    for (const r of FIXED_RULES.filter((f) => f.chain === name)) {
      fixed.push({ op: 'add rule', rule: { family: FAMILY, table, chain: name, exprs: compileRule(r, FAMILY) } });
    }
  }
  // All chains before any rule: a rule may jump to any of them.
  ops.push(...fixed);
  return ops;
}

function validateOwner(owner: string): void {
  if (!owner || Buffer.byteLength(owner) > 128 || owner.includes('\0')) throw usageError(`owner '${owner}' must be 1 to 128 bytes without NUL`);
}

/** A comparable form of a rule: what it means, not how its bytes were written. */
function canonical(chain: string, rule: Rule | undefined): string {
  return rule ? `${chain}: ${formatRule(rule)}` : `${chain}: (not ours)`;
}

/**
 * Same rules in the same order within each chain (a dump lists chain by chain; a plan may
 * interleave chains, and only the order inside a chain means anything).
 */
function sameRules(a: readonly string[], b: readonly string[]): boolean {
  const byChain = (list: readonly string[]) => [...list].map((x, i) => [x, i] as const)
    .sort(([x, i], [y, j]) => x.slice(0, x.indexOf(':')).localeCompare(y.slice(0, y.indexOf(':'))) || i - j)
    .map(([x]) => x);
  const [sa, sb] = [byChain(a), byChain(b)];
  return sa.length === sb.length && sa.every((x, i) => x === sb[i]);
}

/** An op as a line of `nft -f` input (ops of the engine's kinds: its rules are its own). */
export function formatOp(op: NftOp): string {
  switch (op.op) {
    case 'add table': case 'delete table':
      return `${op.op} ${op.table.family} ${op.table.name}`;
    case 'add chain': {
      const { family, table, name, base } = op.chain;
      const spec = base ? ` { type ${base.type} hook ${base.hook} priority ${base.priority}; policy ${base.policy ?? 'accept'}; }` : '';
      return `add chain ${family} ${table} ${name}${spec}`;
    }
    case 'delete chain':
      return `delete chain ${op.chain.family} ${op.chain.table} ${op.chain.name}`;
    case 'add rule': {
      const rule = decompileRule(op.rule.exprs);
      if (!rule) throw usageError(`add rule ${op.rule.family} ${op.rule.table} ${op.rule.chain}: not a rule formatRule() can write`);
      const comment = op.rule.comment !== undefined ? ` comment "${op.rule.comment}"` : '';
      return `${op.insert ? 'insert' : 'add'} rule ${op.rule.family} ${op.rule.table} ${op.rule.chain} ${formatRule(rule)}${comment}`;
    }
    case 'delete rule':
      return `delete rule ${op.rule.family} ${op.rule.table} ${op.rule.chain} handle ${op.rule.handle}`;
    case 'request':
      throw usageError(`${op.what}: a raw request has no nft text`);
  }
}

/**
 * What apply() of these owners' rules on a fresh table sends, as `nft -f` text: the oracle
 * tests and the benchmark's peer feed it to nft.
 */
export function engineScript(table: string, owners: ReadonlyMap<string, readonly EngineRule[]>, forwardPolicy: NftPolicy = 'accept'): string {
  const ops = [
    ...engineSetupOps(table, forwardPolicy),
    ...[...owners].flatMap(([owner, rules]) => rules.map((r): NftOp => ({
      op: 'add rule', rule: { family: FAMILY, table, chain: r.chain, exprs: compileRule(r, FAMILY), comment: owner },
    }))),
  ];
  return `${ops.map(formatOp).join('\n')}\n`;
}
