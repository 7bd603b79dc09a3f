/**
 * The nft verbs against the kernel, each in a throwaway network namespace, checked with
 * `nft` (-j) inside it. Nothing here reads or writes the host's own ruleset, except to check
 * that it did not change.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Namespace, sys } from 'ns-core';
import { NETLINK_NETFILTER, NFPROTO, NFTA_META, NFTA_TABLE, NFT_MSG, encodeAttr, type NftRequest } from '../src/codec';
import { NftHandle, compileRule, formatRule, type NftOp, type NftRuleSpec, type Rule } from '../src/nft';
import { caught } from './helpers';
import { nftThrowaway, ruleLines, type NftThrowaway } from './nft-helpers';

const T = 'nstest';
const spec = (chain: string, rule: Rule, comment?: string): NftRuleSpec => ({
  family: 'inet', table: T, chain, exprs: compileRule(rule), ...(comment ? { comment } : {}),
});
const MASQ: Rule = { matches: [{ match: 'saddr', cidr: '10.88.0.0/16' }, { match: 'oifname', name: 'br0', not: true }], action: { nat: 'masquerade' } };
const DNAT: Rule = { matches: [{ match: 'nfproto', family: 'ip' }, { match: 'dport', proto: 'tcp', port: 8080 }], action: { nat: 'dnat', address: '10.88.0.2', port: 80 } };
const DNAT6: Rule = { matches: [{ match: 'daddr', cidr: 'fd00::1' }, { match: 'dport', proto: 'udp', port: 53 }], action: { nat: 'dnat', address: 'fd00:88::2', port: 5353 } };
const ACCEPT_BACK: Rule = { matches: [{ match: 'oifname', name: 'br0' }, { match: 'ct state', states: ['established', 'related'] }], counter: true, action: { verdict: 'accept' } };

describe('nft verbs against the kernel (checked with nft)', () => {
  let t: NftThrowaway;
  beforeEach(async () => { t = await nftThrowaway(); });
  afterEach(async () => { await t.close(); });

  it('tables: add (twice is fine), create (EEXIST), list, delete; the ruleset ends as it began', () => {
    const before = t.nftCli('list', 'ruleset');
    t.nft.nftTableAdd({ family: 'inet', name: T });
    t.nft.nftTableAdd({ family: 'inet', name: T });
    t.nft.nftTableAdd({ family: 'ip6', name: `${T}6` });
    expect(caught(() => t.nft.nftTableAdd({ family: 'inet', name: T }, { create: true }))).to.include({ code: 'EEXIST', syscall: 'NFT_MSG_NEWTABLE' });
    const theirs = t.nftJson('list', 'tables').map((o) => o['table']!);
    expect(t.nft.nftTableList().map((x) => ({ family: x.family, name: x.name, handle: x.handle })))
      .to.deep.equal(theirs.map((x) => ({ family: x['family'], name: x['name'], handle: x['handle'] })));
    expect(t.nft.nftTableList('ip6').map((x) => x.name)).to.deep.equal([`${T}6`]);
    t.nft.nftTableDelete({ family: 'inet', name: T });
    t.nft.nftTableDelete({ family: 'ip6', name: `${T}6` });
    expect(caught(() => t.nft.nftTableDelete({ family: 'inet', name: T }))).to.include({ code: 'ENOENT' });
    expect(t.nftCli('list', 'ruleset')).to.equal(before);
  });

  it('chains: base chains with type, hook, priority and policy, and a regular chain', () => {
    t.nft.nftTableAdd({ family: 'inet', name: T });
    t.nft.nftChainAdd({ family: 'inet', table: T, name: 'post', base: { type: 'nat', hook: 'postrouting', priority: 100 } });
    t.nft.nftChainAdd({ family: 'inet', table: T, name: 'fwd', base: { type: 'filter', hook: 'forward', priority: -5, policy: 'drop' } });
    t.nft.nftChainAdd({ family: 'inet', table: T, name: 'jumped' });
    const theirs = t.nftJson('list', 'chains').map((o) => o['chain']!);
    expect(theirs.map((c) => [c['name'], c['type'], c['hook'], c['prio'], c['policy']])).to.deep.equal([
      ['post', 'nat', 'postrouting', 100, 'accept'], ['fwd', 'filter', 'forward', -5, 'drop'], ['jumped', undefined, undefined, undefined, undefined],
    ]);
    const ours = t.nft.nftChainList({ family: 'inet', table: T });
    expect(ours.map((c) => [c.name, c.handle, c.base?.type, c.base?.hook, c.base?.priority, c.base?.policy]))
      .to.deep.equal(theirs.map((c) => [c['name'], c['handle'], c['type'], c['hook'], c['prio'], c['policy']]));
    t.nft.nftChainDelete({ family: 'inet', table: T, name: 'jumped' });
    expect(t.nftJson('list', 'chains').map((o) => o['chain']!['name'])).to.deep.equal(['post', 'fwd']);
  });

  it('rules: add returns the handle nft shows, nft prints what formatRule says, delete by handle', () => {
    t.nft.nftTableAdd({ family: 'inet', name: T });
    t.nft.nftChainAdd({ family: 'inet', table: T, name: 'post', base: { type: 'nat', hook: 'postrouting', priority: 100 } });
    t.nft.nftChainAdd({ family: 'inet', table: T, name: 'pre', base: { type: 'nat', hook: 'prerouting', priority: -100 } });
    t.nft.nftChainAdd({ family: 'inet', table: T, name: 'fwd', base: { type: 'filter', hook: 'forward', priority: 0 } });
    const masq = t.nft.nftRuleAdd(spec('post', MASQ, 'net1'));
    const dnat = t.nft.nftRuleAdd(spec('pre', DNAT));
    const dnat6 = t.nft.nftRuleAdd(spec('pre', DNAT6));
    const back = t.nft.nftRuleAdd(spec('fwd', ACCEPT_BACK));
    const theirs = t.nftJson('-a', 'list', 'table', 'inet', T).flatMap((o) => (o['rule'] ? [o['rule']] : []));
    expect(theirs.map((r) => [r['chain'], r['handle'], r['comment']])).to.deep.equal([
      ['post', masq, 'net1'], ['pre', dnat, undefined], ['pre', dnat6, undefined], ['fwd', back, undefined],
    ]);
    expect(ruleLines(t.nftCli('list', 'table', 'inet', T))).to.deep.equal([
      `${formatRule(MASQ)} comment "net1"`, formatRule(DNAT), formatRule(DNAT6), formatRule(ACCEPT_BACK).replace('counter', 'counter packets 0 bytes 0'),
    ]);
    // What we list is what was added.
    const listed = t.nft.nftRuleList({ family: 'inet', table: T });
    expect(listed.map((r) => [r.chain, r.handle, r.comment])).to.deep.equal([['post', masq, 'net1'], ['pre', dnat, undefined], ['pre', dnat6, undefined], ['fwd', back, undefined]]);
    expect(t.nft.nftRuleList({ family: 'inet', table: T, chain: 'pre' }).map((r) => r.handle)).to.deep.equal([dnat, dnat6]);
    t.nft.nftRuleDelete({ family: 'inet', table: T, chain: 'pre', handle: dnat });
    expect(t.nftJson('-a', 'list', 'chain', 'inet', T, 'pre').flatMap((o) => (o['rule'] ? [o['rule']['handle']] : []))).to.deep.equal([dnat6]);
    expect(caught(() => t.nft.nftRuleDelete({ family: 'inet', table: T, chain: 'pre', handle: dnat })).message)
      .to.equal(`nft delete rule inet ${T} pre handle ${dnat} failed: ENOENT (no such file or directory) (at NFTA_RULE_HANDLE)`);
  });

  it('insert prepends, position places after (or with insert, before) a handle', () => {
    t.nft.nftTableAdd({ family: 'inet', name: T });
    t.nft.nftChainAdd({ family: 'inet', table: T, name: 'c' });
    const rule = (port: number): NftRuleSpec => spec('c', { matches: [{ match: 'dport', proto: 'tcp', port }], action: { verdict: 'accept' } });
    const a = t.nft.nftRuleAdd(rule(1));
    t.nft.nftRuleAdd(rule(2));
    t.nft.nftRuleAdd(rule(3), { insert: true });
    t.nft.nftRuleAdd(rule(4), { position: a });
    t.nft.nftRuleAdd(rule(5), { insert: true, position: a });
    expect(ruleLines(t.nftCli('list', 'chain', 'inet', T, 'c'))).to.deep.equal([3, 5, 1, 4, 2].map((p) => `tcp dport ${p} accept`));
  });

  it('a failing batch leaves nothing: not the table, chains and rules before the failing op', () => {
    const before = t.nftCli('list', 'ruleset');
    const ops: NftOp[] = [
      { op: 'add table', table: { family: 'inet', name: T } },
      { op: 'add chain', chain: { family: 'inet', table: T, name: 'post', base: { type: 'nat', hook: 'postrouting', priority: 100 } } },
      { op: 'add rule', rule: spec('post', MASQ, 'net1') },
      { op: 'delete rule', rule: { family: 'inet', table: T, chain: 'post', handle: 4242 } },
      { op: 'add rule', rule: spec('post', MASQ, 'after') },
    ];
    const err = caught(() => t.nft.nftBatch(ops));
    expect(err).to.include({ code: 'ENOENT', syscall: 'NFT_MSG_DELRULE' });
    expect(err.message).to.match(/^nft delete rule inet nstest post handle 4242 failed: ENOENT/);
    expect(t.nftCli('list', 'ruleset')).to.equal(before);
    expect(t.nft.nftTableList()).to.deep.equal([]);

    // With a table there already: it stays as it was, down to the handles.
    t.nft.nftBatch(ops.slice(0, 3));
    const ruleset = t.nftCli('-a', 'list', 'ruleset');
    const late = caught(() => t.nft.nftBatch([
      { op: 'delete rule', rule: { family: 'inet', table: T, chain: 'post', handle: t.nft.nftRuleList({ table: T })[0]!.handle } },
      { op: 'add rule', rule: spec('post', MASQ, 'new') },
      { op: 'add chain', chain: { family: 'inet', table: T, name: 'more' } },
      { op: 'add rule', rule: spec('post', { matches: [], action: { verdict: 'jump', chain: 'nochain' } }) },
    ]));
    expect(late).to.include({ code: 'ENOENT', syscall: 'NFT_MSG_NEWRULE' });
    expect(late.message).to.match(/expression 1 \(immediate\)/);
    expect(t.nftCli('-a', 'list', 'ruleset')).to.equal(ruleset);
  });

  it('kernel errors are NsErrors with the extended ack: its text, and the attribute it points at', () => {
    t.nft.nftTableAdd({ family: 'inet', name: T });
    t.nft.nftChainAdd({ family: 'inet', table: T, name: 'c' });
    // NFTA_TABLE_FLAGS of 2 bytes where the policy says 4: the kernel's own words come back.
    const request: NftRequest = {
      msg: NFT_MSG.NEWTABLE, flags: 0, kind: 'table',
      body: { family: NFPROTO.INET, version: 0, resId: 0, attrs: [{ kind: 'name', value: T }, { kind: 'other', type: NFTA_TABLE.FLAGS, data: Buffer.from([1, 0]) }] },
    };
    const policy = caught(() => t.nft.nftBatch([{ op: 'request', request, what: `add table inet ${T} (2-byte flags)` }]));
    expect(policy).to.include({ code: 'ERANGE', syscall: 'NFT_MSG_NEWTABLE' });
    expect(policy.message).to.equal(`nft add table inet ${T} (2-byte flags) failed: ERANGE (result too large): Attribute failed policy validation (at NFTA_TABLE_FLAGS)`);
    // Expressions are parsed without extack (nf_tables_expr_parse()): only the offset says where.
    const badMeta = { type: 'other' as const, name: 'meta', data: encodeAttr(NFTA_META.KEY, Buffer.from([0, 7])) };
    expect(caught(() => t.nft.nftRuleAdd({ family: 'inet', table: T, chain: 'c', exprs: [badMeta] })).message)
      .to.equal(`nft add rule inet ${T} c failed: ERANGE (result too large) (at NFTA_RULE_EXPRESSIONS: expression 1 (meta))`);
    const noChain = caught(() => t.nft.nftRuleAdd(spec('nochain', MASQ)));
    expect(noChain.message).to.equal(`nft add rule inet ${T} nochain failed: ENOENT (no such file or directory) (at NFTA_RULE_CHAIN "nochain")`);
    const natInFilter = caught(() => {
      t.nft.nftChainAdd({ family: 'inet', table: T, name: 'f', base: { type: 'filter', hook: 'forward', priority: 0 } });
      t.nft.nftRuleAdd(spec('f', MASQ));
    });
    expect(natInFilter.errno).to.equal(-95);
    const jumped = { family: 'inet' as const, table: T, chain: 'c', exprs: compileRule({ matches: [], action: { verdict: 'jump', chain: 'f' } }) };
    const toBase = caught(() => t.nft.nftRuleAdd(jumped)); // no jumps to a base chain
    expect(toBase.errno).to.equal(-95);
    expect(toBase.message).to.match(/\(at NFTA_RULE_EXPRESSIONS: expression 1 \(immediate\)\)$/);
    expect(caught(() => t.nft.nftTableAdd({ family: 'inet', name: 'x'.repeat(256) })).code).to.equal('EUSAGE');
    expect(caught(() => t.nft.nftRuleAdd({ ...spec('c', MASQ), comment: 'x'.repeat(128) })).message).to.match(/at most 127 bytes/);
  });

  it('without CAP_NET_ADMIN (uid 65534): EPERM for the batch, with a hint, and nothing changes', () => {
    const script = `const { NftHandle } = require(${JSON.stringify(join(__dirname, '../src/nft'))});
      const h = NftHandle.current();
      try { h.nftTableAdd({ family: 'inet', name: 'x' }); } catch (e) { console.log(JSON.stringify({ code: e.code, syscall: e.syscall, message: e.message, hint: e.hint })); }`;
    const out = execFileSync('nsenter', ['-t', String(t.child.pid), '-n', 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
    const err = JSON.parse(out) as { code: string; syscall: string; message: string; hint: string };
    expect(err).to.include({ code: 'EPERM', syscall: 'NFNL_MSG_BATCH_BEGIN', message: 'nft add table inet x failed: EPERM (operation not permitted)' });
    expect(err.hint).to.match(/CAP_NET_ADMIN/);
    expect(t.nftCli('list', 'ruleset')).to.equal('');
  });

  it('a batch planned from an old generation is refused whole (ERESTART), and applies on a fresh one', () => {
    t.nft.nftTableAdd({ family: 'inet', name: T });
    const genid = t.nft.nftGenid();
    t.nft.nftChainAdd({ family: 'inet', table: T, name: 'a' });
    expect(t.nft.nftGenid()).to.not.equal(genid);
    const ops: NftOp[] = [{ op: 'add chain', chain: { family: 'inet', table: T, name: 'b' } }];
    const err = caught(() => t.nft.nftBatch(ops, { genid }));
    expect(err).to.include({ code: 'ERESTART', errno: -85, syscall: 'NFNL_MSG_BATCH_BEGIN' });
    expect(t.nft.nftChainList({ table: T }).map((c) => c.name)).to.deep.equal(['a']);
    t.nft.nftBatch(ops, { genid: t.nft.nftGenid() });
    expect(t.nft.nftChainList({ table: T }).map((c) => c.name)).to.deep.equal(['a', 'b']);
  });

  it('a batch of 2000 rules with echo (past the default socket buffers): every handle comes back, as nft -a shows', function () {
    this.timeout(30000);
    t.nft.nftTableAdd({ family: 'inet', name: T });
    t.nft.nftChainAdd({ family: 'inet', table: T, name: 'c' });
    const ops: NftOp[] = Array.from({ length: 2000 }, (_, i) => ({
      op: 'add rule', echo: true,
      rule: spec('c', { matches: [{ match: 'dport', proto: 'tcp', port: 1000 + i }], action: { verdict: 'accept' } }, `r${i}`),
    }));
    const handles = t.nft.nftBatch(ops).map((r) => r.handle);
    const theirs = t.nftJson('-a', 'list', 'chain', 'inet', T, 'c').flatMap((o) => (o['rule'] ? [[o['rule']['comment'], o['rule']['handle']]] : []));
    expect(theirs).to.deep.equal(handles.map((h, i) => [`r${i}`, h]));
  });

  it('acts in the namespace it was opened in; the host ruleset never sees the table', () => {
    const name = `nn${process.pid}t`;
    t.nft.nftTableAdd({ family: 'inet', name });
    expect(t.nft.nftTableList().map((x) => x.name)).to.deep.equal([name]);
    expect(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' })).to.not.include(name);
    // NftHandle.at(fd) dups the fd: closing the handle leaves ours open.
    const fd = sys.dupCloexec(t.ns.fd);
    try {
      NftHandle.at(fd).use((h) => expect(h.nftTableList().map((x) => x.name)).to.deep.equal([name]));
      Namespace.fromFd(sys.dupCloexec(fd), 'net').use((ns) => expect(ns.kind).to.equal('net'));
    } finally {
      sys.closeFd(fd);
    }
    expect(t.nft.socket.closed).to.equal(false);
    expect(NETLINK_NETFILTER).to.equal(12);
  });
});
