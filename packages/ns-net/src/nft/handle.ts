/**
 * NftHandle: the nf_tables verbs bound to one network namespace through one
 * NETLINK_NETFILTER socket, like RtnlHandle for rtnetlink.
 */
import * as sys from 'ns-core/sys';
import { Namespace } from 'ns-core/namespace';
import { NETLINK_NETFILTER } from '../codec/constants';
import { NetlinkSocket, SocketHandle, type NetlinkSocketOptions } from '../transport/socket';
import type {
  NftChain, NftChainRef, NftChainSpec, NftFamily, NftRule, NftRuleRef, NftRuleSpec, NftTable, NftTableRef, NftTableSpec,
} from './objects';
import {
  nftBatch, nftChainAdd, nftChainDelete, nftChainList, nftGenid, nftRuleAdd, nftRuleDelete, nftRuleList,
  nftTableAdd, nftTableDelete, nftTableList, type NftBatchOptions, type NftOp, type NftOpResult,
} from './verbs';

/**
 * A handle on one network namespace's nf_tables. Created in a namespace it keeps acting
 * there from wherever it is used (a netlink socket stays in the namespace it was opened in);
 * close it when done.
 */
export class NftHandle extends SocketHandle {
  private constructor(socket: NetlinkSocket) {
    super(socket);
  }

  /** A handle on the network namespace behind a Namespace handle or an fd (not taken over). */
  static at(netns: Namespace | number, options: Omit<NetlinkSocketOptions, 'protocol'> = {}): NftHandle {
    const open = (ns: Namespace) => new NftHandle(NetlinkSocket.open(ns, { ...options, protocol: NETLINK_NETFILTER }));
    if (netns instanceof Namespace) return open(netns);
    return Namespace.fromFd(sys.dupCloexec(netns), 'net').use(open);
  }

  /** A handle on the caller's network namespace. */
  static current(options: Omit<NetlinkSocketOptions, 'protocol'> = {}): NftHandle {
    return new NftHandle(NetlinkSocket.open(undefined, { ...options, protocol: NETLINK_NETFILTER }));
  }

  /** Applies ops all or nothing (`nft -f` of them). */
  nftBatch(ops: readonly NftOp[], options?: NftBatchOptions): NftOpResult[] { return nftBatch(this.socket, ops, options); }
  /** The ruleset's generation, for nftBatch's genid. */
  nftGenid(): number { return nftGenid(this.socket); }

  /** Equivalent to: `nft add table <family> <name>` */
  nftTableAdd(table: NftTableSpec, options?: { create?: boolean }): void { nftTableAdd(this.socket, table, options); }
  /** Equivalent to: `nft delete table <family> <name>` */
  nftTableDelete(table: NftTableRef): void { nftTableDelete(this.socket, table); }
  /** Equivalent to: `nft list tables [family]` */
  nftTableList(family?: NftFamily): NftTable[] { return nftTableList(this.socket, family); }

  /** Equivalent to: `nft add chain <family> <table> <name> [{ type ... hook ... }]` */
  nftChainAdd(chain: NftChainSpec, options?: { create?: boolean }): void { nftChainAdd(this.socket, chain, options); }
  /** Equivalent to: `nft delete chain <family> <table> <name>` */
  nftChainDelete(chain: NftChainRef): void { nftChainDelete(this.socket, chain); }
  /** Equivalent to: `nft list chains [family]` (narrowed to a table if given) */
  nftChainList(filter?: { family?: NftFamily; table?: string }): NftChain[] { return nftChainList(this.socket, filter); }

  /** Equivalent to: `nft --echo add rule ...`; returns the rule's handle. */
  nftRuleAdd(rule: NftRuleSpec, options?: { insert?: boolean; position?: number }): number { return nftRuleAdd(this.socket, rule, options); }
  /** Equivalent to: `nft delete rule <family> <table> <chain> handle <handle>` */
  nftRuleDelete(rule: NftRuleRef): void { nftRuleDelete(this.socket, rule); }
  /** The rules of a family, table or chain (`nft -a list table|chain ...`) */
  nftRuleList(filter?: { family?: NftFamily; table?: string; chain?: string }): NftRule[] { return nftRuleList(this.socket, filter); }
}
