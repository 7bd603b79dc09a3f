/**
 * Golden bytes for nf_tables: what ns-net sends equals what nft sends for the same text.
 *
 * Where the bytes come from: test/fixtures/nft-captured.txt holds the nfnetlink traffic of
 * nftables 1.0.6's `nft` (libnftnl 1.2.4), captured with strace in a throwaway network
 * namespace by test/fixtures/nft-capture.sh. Each `nft add rule ...` there sent one batch
 * (BATCH_BEGIN seq 0, the NEWRULE at seq 1, BATCH_END seq 2); ours for the same rule must be
 * byte for byte the same datagram.
 *
 * Where ns-net differs from nft, on purpose, and so outside these comparisons:
 * - nftBatch() sets NLM_F_ACK on the last message of a batch, so the kernel always answers
 *   and no wait is a guess; nft 1.0.6 sets it on none and polls the socket with a zero timeout.
 * - Sequence numbers start from the clock (as iproute2's do), nft's at 0.
 * - nft reads its cache (GETGEN, dumps of tables, chains, sets, flowtables, objects) before
 *   every command; ns-net reads only what a verb needs.
 * - The kernel's dumps write nests without NLA_F_NESTED (nla_nest_start_noflag()) and add
 *   attributes nft does not send (handles, use counts, NFTA_BITWISE_OP, nat's addr_max): so
 *   replies are checked by what they decode to, not by re-encoding them.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as codec from '../src/codec';
import {
  CT_STATE, CT_STATUS, NFNL_MSG, NFPROTO, NFT_MSG, NLM_F, decodeNftBody, decodeNftDatagram, encodeBatch, encodeMessage,
  parseMessages, type NftExpr,
} from '../src/codec';
import {
  compileRule, decompileRule, engineScript, engineSetupOps, formatRule, networkRules, nftDumpRequest, opRequest,
  publishRules, publishSysctls, toRule, attributeAt, type EngineRule, type NftOp, type Rule,
} from '../src/nft';
import { caught } from './helpers';

const FIXTURES = join(__dirname, '../../test/fixtures/nft-captured.txt');
const lines = readFileSync(FIXTURES, 'utf8').split('\n');

/** Every datagram of one captured command, in order. */
function block(label: string): { dir: 'send' | 'recv'; bytes: Buffer }[] {
  const start = lines.indexOf(`### ${label}`);
  if (start < 0) throw new Error(`no capture for ${label}`);
  const out: { dir: 'send' | 'recv'; bytes: Buffer }[] = [];
  for (const l of lines.slice(start + 1)) {
    if (l.startsWith('### ')) break;
    const [dir, hex] = l.split(' ');
    if (hex) out.push({ dir: dir as 'send' | 'recv', bytes: Buffer.from(hex, 'hex') });
  }
  return out;
}

/** The batch a captured command sent (the datagram that starts with NFNL_MSG_BATCH_BEGIN). */
function batchOf(label: string): Buffer {
  const found = block(label).find((d) => d.dir === 'send' && d.bytes.readUInt16LE(4) === NFNL_MSG.BATCH_BEGIN);
  if (!found) throw new Error(`${label} sent no batch`);
  return found.bytes;
}

function labels(prefix: string): string[] {
  return lines.filter((l) => l.startsWith(`### ${prefix}`)).map((l) => l.slice(4));
}

/** Our batch for ops, numbered as nft numbered its single-command batches. */
function ours(ops: readonly NftOp[]): string {
  return encodeBatch(ops.map(opRequest), 0).toString('hex');
}

const TABLE = 'nstest';
const addRule = (chain: string, rule: Rule, comment?: string): NftOp => ({
  op: 'add rule', rule: { family: 'inet', table: TABLE, chain, exprs: compileRule(rule), ...(comment ? { comment } : {}) },
});
const labelOf = (chain: string, rule: Rule, comment?: string) =>
  `nft add rule inet ${TABLE} ${chain} ${formatRule(rule)}${comment ? ` comment "${comment}"` : ''}`;

/** The plans the engine makes for the networks and container the capture script describes. */
const PLANS: [string, EngineRule[]][] = [
  ['net1', networkRules({ ifname: 'br0', subnets: ['10.88.0.0/16', 'fd00:88::/64'] })],
  ['int1', networkRules({ ifname: 'br1', subnets: ['10.89.0.0/16'], internal: true })],
  ['ctr1', [
    ...publishRules({ proto: 'tcp', hostPort: 8080, address: '10.88.0.2', port: 80, ifname: 'br0' }),
    ...publishRules({ proto: 'udp', hostPort: 5353, hostAddress: '192.168.7.1', address: '10.88.0.2', port: 53, ifname: 'br0' }),
    ...publishRules({ proto: 'tcp', hostPort: 8443, address: 'fd00:88::2', port: 443, ifname: 'br0' }),
  ]],
];

/** Rules beyond the plans, for the other expressions and verdicts. */
const EXTRA: [string, Rule][] = [
  ['postrouting', { matches: [{ match: 'saddr', cidr: '10.88.0.4/30' }], action: { nat: 'masquerade' } }],
  ['postrouting', { matches: [{ match: 'saddr', cidr: 'fd00:88::/60' }], action: { nat: 'masquerade' } }],
  ['postrouting', { matches: [{ match: 'daddr', cidr: '10.1.0.0/16' }, { match: 'dport', proto: 'tcp', port: 22 }], action: { nat: 'snat', address: '10.1.1.1', port: 1000 } }],
  ['postrouting', { matches: [{ match: 'daddr', cidr: 'fd00:1::/64' }], action: { nat: 'snat', address: 'fd00::1' } }],
  ['forward', { matches: [{ match: 'iifname', name: 'br*' }], counter: true, action: { verdict: 'accept' } }],
  ['forward', { matches: [{ match: 'l4proto', proto: 'tcp' }], action: { verdict: 'goto', chain: 'isolate' } }],
  ['isolate-to', { matches: [], action: { verdict: 'return' } }],
];

describe('nft codec: constants', () => {
  it('match the kernel headers of this machine', function () {
    this.timeout(20000);
    const c = codec;
    const checks: [string, number][] = [
      ['NETLINK_NETFILTER', c.NETLINK_NETFILTER], ['NFNL_SUBSYS_NFTABLES', c.NFNL_SUBSYS_NFTABLES],
      ['NFNL_MSG_BATCH_BEGIN', c.NFNL_MSG.BATCH_BEGIN], ['NFNL_MSG_BATCH_END', c.NFNL_MSG.BATCH_END], ['NFNL_BATCH_GENID', c.NFNL_BATCH.GENID],
      ...Object.entries(c.NFT_MSG).map(([k, v]) => [`NFT_MSG_${k}`, v] as [string, number]),
      ...Object.entries(c.NFPROTO).map(([k, v]) => [`NFPROTO_${k}`, v] as [string, number]),
      ...Object.entries(c.NF_INET).map(([k, v]) => [`NF_INET_${k}`, v] as [string, number]),
      ...(['TABLE', 'CHAIN', 'HOOK', 'RULE', 'GEN', 'EXPR', 'DATA', 'VERDICT', 'META', 'CMP', 'PAYLOAD', 'BITWISE', 'IMMEDIATE', 'NAT', 'MASQ', 'COUNTER', 'CT', 'FIB'] as const)
        .flatMap((t) => Object.entries(c[`NFTA_${t}`] as Record<string, number>).map(([k, v]) => [`NFTA_${t}_${k}`, v] as [string, number])),
      ['NFTA_LIST_ELEM', c.NFTA_LIST.ELEM],
      ...Object.entries(c.NF_NAT_RANGE).map(([k, v]) => [`NF_NAT_RANGE_${k}`, v] as [string, number]),
      ...Object.entries(c.NFTA_FIB_F).map(([k, v]) => [`NFTA_FIB_F_${k}`, v] as [string, number]),
      ...Object.entries(c.NFT_TABLE_F).map(([k, v]) => [`NFT_TABLE_F_${k}`, v] as [string, number]),
      ...Object.entries(c.NFT_CHAIN_F).map(([k, v]) => [`NFT_CHAIN_${k}`, v] as [string, number]),
      ['NF_ACCEPT', c.NF_VERDICT.ACCEPT], ['NF_DROP', c.NF_VERDICT.DROP], ['NFT_CONTINUE', c.NF_VERDICT.CONTINUE],
      ['NFT_BREAK', c.NF_VERDICT.BREAK], ['NFT_JUMP', c.NF_VERDICT.JUMP], ['NFT_GOTO', c.NF_VERDICT.GOTO], ['NFT_RETURN', c.NF_VERDICT.RETURN],
      ...c.NFT_META_KEYS.map((k, i) => [`NFT_META_${{ ibrname: 'BRI_IIFNAME', obrname: 'BRI_OIFNAME', random: 'PRANDOM' }[k as string] ?? k.toUpperCase()}`, i] as [string, number]),
      ...c.NFT_CMP_OPS.map((k, i) => [`NFT_CMP_${k.toUpperCase()}`, i] as [string, number]),
      ...c.NFT_PAYLOAD_BASES.map((k, i) => [`NFT_PAYLOAD_${{ ll: 'LL', network: 'NETWORK', transport: 'TRANSPORT', inner: 'INNER' }[k]}_HEADER`, i] as [string, number]),
      ...c.NFT_NAT_TYPES.map((k, i) => [`NFT_NAT_${k.toUpperCase()}`, i] as [string, number]),
      ...c.NFT_CT_KEYS.map((k, i) => [`NFT_CT_${{ 'proto-src': 'PROTO_SRC', 'proto-dst': 'PROTO_DST', l3protocol: 'L3PROTOCOL' }[k as string] ?? k.toUpperCase()}`, i] as [string, number]),
      ...c.NFT_FIB_RESULTS.map((k, i) => [`NFT_FIB_RESULT_${k === 'type' ? 'ADDRTYPE' : k.toUpperCase()}`, i] as [string, number]),
      ['NF_CT_STATE_INVALID_BIT', CT_STATE.invalid], ['NF_CT_STATE_BIT(IP_CT_ESTABLISHED)', CT_STATE.established],
      ['NF_CT_STATE_BIT(IP_CT_RELATED)', CT_STATE.related], ['NF_CT_STATE_BIT(IP_CT_NEW)', CT_STATE.new], ['NF_CT_STATE_UNTRACKED_BIT', CT_STATE.untracked],
      ...Object.entries(CT_STATUS).map(([k, v]) => [`IPS_${{ snat: 'SRC_NAT', dnat: 'DST_NAT' }[k] ?? k.toUpperCase()}`, v] as [string, number]),
      ['NFT_REG_VERDICT', c.NFT_REG.VERDICT], ['NFT_REG_1', c.NFT_REG.R1], ['NFT_REG_2', c.NFT_REG.R2],
    ];
    const dir = mkdtempSync(join(tmpdir(), 'nft-constants-'));
    try {
      const src = join(dir, 'c.c');
      writeFileSync(src, [
        '#include <stdio.h>', '#include <linux/netlink.h>', '#include <linux/netfilter.h>', '#include <linux/netfilter/nfnetlink.h>',
        '#include <linux/netfilter/nf_tables.h>', '#include <linux/netfilter/nf_nat.h>', '#include <linux/netfilter/nf_conntrack_common.h>',
        'int main(void) {', ...checks.map(([name]) => `  printf("%ld\\n", (long)(${name}));`), '  return 0;', '}', '',
      ].join('\n'));
      execFileSync('gcc', ['-o', join(dir, 'c'), src]);
      const printed = execFileSync(join(dir, 'c'), { encoding: 'utf8' }).trim().split('\n').map(Number);
      expect(Object.fromEntries(checks.map(([name], i) => [name, printed[i]]))).to.deep.equal(Object.fromEntries(checks));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('nft codec: golden bytes against nft 1.0.6', () => {
  it("creates the engine's table as `nft -f` of the same lines does", () => {
    const ops = engineSetupOps(TABLE);
    const script = engineScript(TABLE, new Map());
    expect(script.split('\n')[0]).to.equal('add table inet nstest');
    expect(labels('nft -f: ')).to.include(`nft -f: ${script.split('\n')[0]}`);
    expect(ours(ops)).to.equal(batchOf('nft -f: add table inet nstest').toString('hex'));
  });

  it('every rule of the network, internal network and publish plans, and the other expressions', () => {
    const all: [string, Rule, string | undefined][] = [
      ...PLANS.flatMap(([owner, rules]) => rules.map((r) => [r.chain, r, owner] as [string, Rule, string])),
      ...EXTRA.map(([chain, r]) => [chain, r, undefined] as [string, Rule, undefined]),
    ];
    const compared = new Set<string>();
    for (const [chain, rule, comment] of all) {
      const label = labelOf(chain, rule, comment);
      expect(ours([addRule(chain, rule, comment)]), label).to.equal(batchOf(label).toString('hex'));
      compared.add(label);
    }
    // Every rule the capture holds was compared.
    expect(labels('nft add rule ').filter((l) => !l.includes('nochain')).sort()).to.deep.equal([...compared].sort());
  });

  it('chains, deletes and echo: flags and attributes as nft writes them', () => {
    expect(ours([{ op: 'add chain', chain: { family: 'inet', table: TABLE, name: 'spare' } }])).to.equal(batchOf('nft add chain inet nstest spare').toString('hex'));
    expect(ours([{ op: 'delete chain', chain: { family: 'inet', table: TABLE, name: 'spare' } }])).to.equal(batchOf('nft delete chain inet nstest spare').toString('hex'));
    expect(ours([{ op: 'delete table', table: { family: 'inet', name: TABLE } }])).to.equal(batchOf('nft delete table inet nstest').toString('hex'));
    const [deleteLabel] = labels('nft delete rule inet nstest forward handle ');
    const handle = Number(deleteLabel!.split(' ').pop());
    expect(ours([{ op: 'delete rule', rule: { family: 'inet', table: TABLE, chain: 'forward', handle } }])).to.equal(batchOf(deleteLabel!).toString('hex'));
    const echo: NftOp = { ...addRule('forward', { matches: [{ match: 'iifname', name: 'br9' }], action: { verdict: 'accept' } }), echo: true } as NftOp;
    expect(ours([echo])).to.equal(batchOf('nft --echo add rule inet nstest forward iifname "br9" accept').toString('hex'));
  });

  it('the rules dump and the generation request are the ones nft sends', () => {
    const sent = block('nft list table inet nstest').filter((d) => d.dir === 'send').map((d) => d.bytes.subarray(0, d.bytes.readUInt32LE(0)).toString('hex'));
    const dump = (msg: number, family: number, attrs: Parameters<typeof nftDumpRequest>[2] = []) =>
      encodeMessage({ ...nftDumpRequest(msg, family, attrs), flags: NLM_F.REQUEST | NLM_F.DUMP, seq: 0, pid: 0 }).toString('hex');
    expect(sent).to.include(dump(NFT_MSG.GETRULE, NFPROTO.INET, [{ kind: 'table', value: TABLE }]));
    expect(sent).to.include(dump(NFT_MSG.GETCHAIN, NFPROTO.UNSPEC));
    const gen = { msg: NFT_MSG.GETGEN, flags: 0, kind: 'gen' as const, body: { family: 0, version: 0, resId: 0, attrs: [] } };
    expect(sent).to.include(codec.encodeNftMessage(gen, 0).toString('hex'));
  });

  it('a captured batch decodes to the ops that encode it', () => {
    const msgs = decodeNftDatagram(batchOf(labelOf('postrouting', PLANS[0]![1][0]!, 'net1')));
    expect(msgs.map((m) => [m.kind, m.seq, m.flags])).to.deep.equal([['batch', 0, NLM_F.REQUEST], ['rule', 1, NLM_F.REQUEST | NLM_F.CREATE | NLM_F.APPEND], ['batch', 2, NLM_F.REQUEST]]);
    const rule = msgs[1]!.kind === 'rule' ? toRule(msgs[1]!.body) : undefined;
    expect(rule).to.deep.include({ family: 'inet', table: TABLE, chain: 'postrouting', comment: 'net1' });
    const { matches, action } = PLANS[0]![1][0]!;
    expect(decompileRule(rule!.exprs)).to.deep.equal({ matches, action });
  });
});

describe('nft codec: what the kernel sends back', () => {
  const replies = (label: string) => block(label).filter((d) => d.dir === 'recv').flatMap((d) => parseMessages(d.bytes));

  it('`nft list table`: every rule reads back as the rule that was added, comment and handle included', () => {
    const dumped = replies('nft list table inet nstest').flatMap((m) => {
      const b = m.kind === 'other' ? decodeNftBody(m.type, m.body) : undefined;
      return b?.kind === 'rule' ? [toRule(b.body)] : [];
    });
    const texts = dumped.map((r) => {
      const rule = decompileRule(r.exprs);
      expect(rule, `${r.chain} handle ${r.handle}: ${JSON.stringify(r.exprs)}`).to.not.equal(undefined);
      return labelOf(r.chain, rule!, r.comment);
    });
    // What nft was asked to add (less the rule deleted again, plus the fixed ones) is what is there.
    const added = labels('nft add rule ').filter((l) => !l.includes('nochain'));
    const fixed = engineScript(TABLE, new Map()).split('\n').filter((l) => l.startsWith('add rule')).map((l) => `nft ${l}`);
    expect(texts.sort()).to.deep.equal([...added, ...fixed].sort());
    expect(new Set(dumped.map((r) => r.handle)).size).to.equal(dumped.length);
    expect(dumped.every((r) => r.handle > 0)).to.equal(true);
  });

  it('--echo: the new rule comes back with its handle, then the new generation', () => {
    const msgs = replies('nft --echo add rule inet nstest forward iifname "br9" accept');
    const [deleteLabel] = labels('nft delete rule inet nstest forward handle ');
    const echoed = msgs.flatMap((m) => {
      const b = m.kind === 'other' && m.seq === 1 ? decodeNftBody(m.type, m.body) : undefined;
      return b ? [b] : [];
    });
    expect(echoed.map((b) => b.kind)).to.deep.equal(['rule', 'gen']);
    const rule = echoed[0]!.kind === 'rule' ? toRule(echoed[0]!.body) : undefined;
    expect(rule!.handle).to.equal(Number(deleteLabel!.split(' ').pop()));
    expect(decompileRule(rule!.exprs)).to.deep.equal({ matches: [{ match: 'iifname', name: 'br9' }], action: { verdict: 'accept' } });
  });

  it('an error names the offending attribute through the extack offset', () => {
    const err = replies('nft add rule inet nstest nochain accept').find((m) => m.kind === 'error');
    expect(err?.kind === 'error' && err.body.error).to.equal(-2);
    const offs = err?.kind === 'error' ? err.body.extack.find((a) => a.kind === 'offs')?.value : undefined;
    const op = addRule('nochain', { matches: [], action: { verdict: 'accept' } });
    const request = opRequest(op);
    expect(attributeAt(codec.encodeNftMessage(request, 0), offs!, request)).to.equal('NFTA_RULE_CHAIN "nochain"');
  });
});

describe('nft rules: compile, decompile, format', () => {
  it('decompile inverts compile for every plan rule (so listing shows what was applied)', () => {
    for (const [, rules] of PLANS) {
      for (const r of rules) expect(decompileRule(compileRule(r)), formatRule(r)).to.deep.equal({ matches: r.matches, action: r.action });
    }
    for (const [, r] of EXTRA) expect(decompileRule(compileRule(r)), formatRule(r)).to.deep.equal(r);
  });

  it('leaves expressions it did not write alone', () => {
    const foreign: NftExpr[][] = [
      [{ type: 'meta', key: 'mark', dreg: 1 }, { type: 'cmp', sreg: 1, op: 'eq', data: Buffer.from([1, 0, 0, 0]) }, { type: 'immediate', dreg: 0, data: { verdict: { code: 'accept' } } }],
      [{ type: 'other', name: 'log', data: Buffer.alloc(0) }],
      [{ type: 'masq', flags: 4 }],
      [{ type: 'payload', dreg: 1, base: 'network', offset: 9, len: 1 }, { type: 'cmp', sreg: 1, op: 'eq', data: Buffer.from([6]) }, { type: 'immediate', dreg: 0, data: { verdict: { code: 'drop' } } }],
      [],
    ];
    for (const exprs of foreign) expect(decompileRule(exprs), JSON.stringify(exprs)).to.equal(undefined);
  });

  it('normalises a subnet with host bits to its network, as nft does', () => {
    const rule: Rule = { matches: [{ match: 'saddr', cidr: '10.88.3.4/16' }], action: { nat: 'masquerade' } };
    expect(formatRule(rule)).to.equal('ip saddr 10.88.0.0/16 masquerade');
    expect(decompileRule(compileRule(rule))!.matches).to.deep.equal([{ match: 'saddr', cidr: '10.88.0.0/16' }]);
  });

  it('refuses malformed rules before anything is sent, naming what was wrong', () => {
    const bad: [Rule, RegExp][] = [
      [{ matches: [{ match: 'dport', proto: 'tcp', port: 0 }], action: { verdict: 'accept' } }, /port 0 is not 1-65535/],
      [{ matches: [{ match: 'iifname', name: 'averyveryverylongname' }], action: { verdict: 'accept' } }, /longer than 15 bytes/],
      [{ matches: [], action: { nat: 'dnat', address: '10.0.0.1', port: 80 } }, /a port needs a tcp or udp match first/],
      [{ matches: [{ match: 'saddr', cidr: '10.0.0.0/8' }, { match: 'daddr', cidr: 'fd00::1' }], action: { verdict: 'accept' } }, /an ip6 match in a rule that is not ip6/],
      [{ matches: [{ match: 'saddr', cidr: '10.0.0.0/8' }], action: { nat: 'snat', address: 'fd00::1' } }, /not ip6/],
      [{ matches: [{ match: 'saddr', cidr: '10.0.0.300' }], action: { verdict: 'accept' } }, /is not an IPv4 or IPv6 address/],
      [{ matches: [{ match: 'saddr', cidr: '0.0.0.0/0' }], action: { verdict: 'accept' } }, /a \/0 prefix matches everything/],
      [{ matches: [{ match: 'ct state', states: ['bogus' as 'new'] }], action: { verdict: 'accept' } }, /'bogus' is not one of/],
      [{ matches: [], action: { verdict: 'jump', chain: '' } }, /a chain name is needed/],
    ];
    for (const [rule, message] of bad) {
      const err = caught(() => compileRule(rule));
      expect(err.code, JSON.stringify(rule)).to.equal('EUSAGE');
      expect(err.message).to.match(message);
    }
    expect(caught(() => publishRules({ proto: 'tcp', hostPort: 80, hostAddress: '::1', address: '10.0.0.2', port: 80, ifname: 'br0' })).message)
      .to.match(/not of one family/);
    expect(caught(() => networkRules({ ifname: 'br0', subnets: ['10.0.0.0/8'], internal: true, masquerade: true })).message).to.match(/cannot masquerade/);
  });

  it('publishing to the host loopback needs route_localnet on the interface, IPv6 and other host addresses do not', () => {
    expect(publishSysctls({ proto: 'tcp', hostPort: 8080, address: '10.88.0.2', port: 80, ifname: 'br0' })).to.deep.equal([{ key: 'net.ipv4.conf.br0.route_localnet', value: '1' }]);
    expect(publishSysctls({ proto: 'tcp', hostPort: 8080, address: '10.88.0.2', port: 80, ifname: 'veth*' })).to.deep.equal([{ key: 'net.ipv4.conf.all.route_localnet', value: '1' }]);
    expect(publishSysctls({ proto: 'tcp', hostPort: 8080, address: '10.88.0.2', port: 80, ifname: 'eth0.100' })).to.deep.equal([{ key: 'net.ipv4.conf.eth0/100.route_localnet', value: '1' }]);
    expect(publishSysctls({ proto: 'tcp', hostPort: 8080, hostAddress: '192.168.1.5', address: '10.88.0.2', port: 80, ifname: 'br0' })).to.deep.equal([]);
    expect(publishSysctls({ proto: 'tcp', hostPort: 8080, address: 'fd00::2', port: 80, ifname: 'br0' })).to.deep.equal([]);
  });
});
