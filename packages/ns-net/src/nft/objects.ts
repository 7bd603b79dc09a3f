/**
 * nf_tables objects as verbs see them: tables, chains and rules named as nft(8) names them,
 * converted to and from the codec's attribute lists.
 */
import { usageError } from 'ns-core/errors';
import { attrValue } from '../codec/attr';
import { NFPROTO, NFT_CHAIN_F, NF_INET, NF_VERDICT, NFNETLINK_V0 } from '../codec/nft/constants';
import type { NftExpr } from '../codec/nft/expr';
import { decodeRuleComment, encodeRuleComment, type ChainAttr, type NfgenBody, type RuleAttr, type TableAttr } from '../codec/nft/objects';

export type NftFamily = 'ip' | 'ip6' | 'inet' | 'arp' | 'bridge' | 'netdev';

/** nft(8)'s family names and their NFPROTO_* numbers. */
export const NFT_FAMILIES: Readonly<Record<NftFamily, number>> = {
  ip: NFPROTO.IPV4, ip6: NFPROTO.IPV6, inet: NFPROTO.INET, arp: NFPROTO.ARP, bridge: NFPROTO.BRIDGE, netdev: NFPROTO.NETDEV,
};

export function familyNumber(family: NftFamily): number {
  const n = NFT_FAMILIES[family];
  if (n === undefined) throw usageError(`'${family}' is not an nf_tables family (ip, ip6, inet, arp, bridge, netdev)`);
  return n;
}

export function familyName(n: number): NftFamily {
  const name = (Object.keys(NFT_FAMILIES) as NftFamily[]).find((k) => NFT_FAMILIES[k] === n);
  if (!name) throw usageError(`NFPROTO ${n} is not an nf_tables family`);
  return name;
}

/** The hooks of the ip, ip6 and inet families, by nft(8)'s names. */
export type NftHook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
export const NFT_HOOKS: Readonly<Record<NftHook, number>> = {
  prerouting: NF_INET.PRE_ROUTING, input: NF_INET.LOCAL_IN, forward: NF_INET.FORWARD, output: NF_INET.LOCAL_OUT, postrouting: NF_INET.POST_ROUTING,
};

export type NftChainType = 'filter' | 'nat' | 'route';
export type NftPolicy = 'accept' | 'drop';

/** Names a table: `nft ... table <family> <name>`. */
export interface NftTableRef {
  readonly family: NftFamily;
  readonly name: string;
}

export interface NftTableSpec extends NftTableRef {
  /** NFT_TABLE_F_* (dormant, owner); default 0. */
  readonly flags?: number;
}

export interface NftTable extends NftTableRef {
  readonly flags: number;
  readonly handle: number;
  /** How many chains (and sets...) the table holds. */
  readonly use: number;
}

/** What makes a chain a base chain: `{ type T hook H priority P; policy X; }`. */
export interface NftBaseChain {
  readonly type: NftChainType;
  readonly hook: NftHook;
  readonly priority: number;
  /** Default accept. */
  readonly policy?: NftPolicy;
}

/** Names a chain: `nft ... chain <family> <table> <name>`. */
export interface NftChainRef {
  readonly family: NftFamily;
  readonly table: string;
  readonly name: string;
}

export interface NftChainSpec extends NftChainRef {
  /** Absent for a regular chain (one that is only jumped to). */
  readonly base?: NftBaseChain;
}

export interface NftChain extends NftChainSpec {
  readonly handle: number;
  /** How many rules jump to it. */
  readonly use: number;
}

export interface NftRuleSpec {
  readonly family: NftFamily;
  readonly table: string;
  readonly chain: string;
  readonly exprs: readonly NftExpr[];
  /** `comment "..."` (libnftnl's userdata TLV). */
  readonly comment?: string;
}

/** Names a rule: `nft ... rule <family> <table> <chain> handle <handle>`. */
export interface NftRuleRef {
  readonly family: NftFamily;
  readonly table: string;
  readonly chain: string;
  readonly handle: number;
}

export interface NftRule extends NftRuleSpec {
  readonly handle: number;
  /** The handle of the rule before it, as the kernel reports it. */
  readonly position?: number;
}

const POLICIES: Record<NftPolicy, number> = { accept: NF_VERDICT.ACCEPT, drop: NF_VERDICT.DROP };

export function validateName(what: string, name: string): void {
  // NFT_NAME_MAXLEN is 256 with the NUL (linux/netfilter/nf_tables.h).
  if (!name || Buffer.byteLength(name) > 255 || name.includes('\0')) throw usageError(`${what} name '${name}' must be 1 to 255 bytes without NUL`);
}

export function tableBody(t: NftTableSpec): NfgenBody<TableAttr> {
  validateName('table', t.name);
  const attrs: TableAttr[] = [{ kind: 'name', value: t.name }];
  // nft always writes NFTA_TABLE_FLAGS on add; a delete names the table only.
  if (t.flags !== undefined) attrs.push({ kind: 'flags', value: t.flags });
  return { family: familyNumber(t.family), version: NFNETLINK_V0, resId: 0, attrs };
}

export function chainBody(c: NftChainSpec): NfgenBody<ChainAttr> {
  validateName('table', c.table);
  validateName('chain', c.name);
  // nft's order: table, name, then for a base chain its type, policy and hook.
  const attrs: ChainAttr[] = [{ kind: 'table', value: c.table }, { kind: 'name', value: c.name }];
  if (c.base) {
    const hook = NFT_HOOKS[c.base.hook];
    if (hook === undefined) throw usageError(`'${c.base.hook}' is not a hook (prerouting, input, forward, output, postrouting)`);
    if (!Number.isInteger(c.base.priority)) throw usageError(`chain ${c.name}: priority ${c.base.priority} is not an integer`);
    const policy = POLICIES[c.base.policy ?? 'accept'];
    if (policy === undefined) throw usageError(`chain ${c.name}: policy '${c.base.policy}' is not accept or drop`);
    attrs.push({ kind: 'type', value: c.base.type }, { kind: 'policy', value: policy },
      { kind: 'hook', value: [{ kind: 'hooknum', value: hook }, { kind: 'priority', value: c.base.priority }] });
  }
  return { family: familyNumber(c.family), version: NFNETLINK_V0, resId: 0, attrs };
}

export function ruleBody(r: NftRuleSpec | NftRuleRef | (NftRuleSpec & { readonly position?: number })): NfgenBody<RuleAttr> {
  validateName('table', r.table);
  validateName('chain', r.chain);
  const attrs: RuleAttr[] = [{ kind: 'table', value: r.table }, { kind: 'chain', value: r.chain }];
  if ('handle' in r) attrs.push({ kind: 'handle', value: r.handle });
  if ('position' in r && r.position !== undefined) attrs.push({ kind: 'position', value: r.position });
  if ('exprs' in r) {
    attrs.push({ kind: 'expressions', value: r.exprs });
    if (r.comment !== undefined) attrs.push({ kind: 'userdata', value: encodeRuleComment(r.comment) });
  }
  return { family: familyNumber(r.family), version: NFNETLINK_V0, resId: 0, attrs };
}

export function toTable(b: NfgenBody<TableAttr>): NftTable {
  return {
    family: familyName(b.family), name: attrValue(b.attrs, 'name') ?? '', flags: attrValue(b.attrs, 'flags') ?? 0,
    handle: attrValue(b.attrs, 'handle') ?? 0, use: attrValue(b.attrs, 'use') ?? 0,
  };
}

export function toChain(b: NfgenBody<ChainAttr>): NftChain {
  const a = b.attrs;
  const hook = attrValue(a, 'hook');
  const flags = attrValue(a, 'flags') ?? 0;
  const chain = {
    family: familyName(b.family), table: attrValue(a, 'table') ?? '', name: attrValue(a, 'name') ?? '',
    handle: attrValue(a, 'handle') ?? 0, use: attrValue(a, 'use') ?? 0,
  };
  if (!hook || !(flags & NFT_CHAIN_F.BASE)) return chain;
  const hooknum = attrValue(hook, 'hooknum');
  const policy = attrValue(a, 'policy');
  return {
    ...chain,
    base: {
      type: (attrValue(a, 'type') ?? 'filter') as NftChainType,
      hook: (Object.keys(NFT_HOOKS) as NftHook[]).find((h) => NFT_HOOKS[h] === hooknum) ?? (String(hooknum) as NftHook),
      priority: attrValue(hook, 'priority') ?? 0,
      policy: policy === NF_VERDICT.DROP ? 'drop' : 'accept',
    },
  };
}

export function toRule(b: NfgenBody<RuleAttr>): NftRule {
  const a = b.attrs;
  const userdata = attrValue(a, 'userdata');
  const comment = userdata ? decodeRuleComment(userdata) : undefined;
  const position = attrValue(a, 'position');
  return {
    family: familyName(b.family), table: attrValue(a, 'table') ?? '', chain: attrValue(a, 'chain') ?? '',
    handle: attrValue(a, 'handle') ?? 0, exprs: attrValue(a, 'expressions') ?? [],
    ...(position !== undefined ? { position } : {}), ...(comment !== undefined ? { comment } : {}),
  };
}
