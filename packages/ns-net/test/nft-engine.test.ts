/**
 * The engine's table against the kernel, in throwaway network namespaces, checked with nft:
 * what apply() makes equals what `nft -f` of the same plan makes, per-owner changes touch only
 * that owner's rules, and the last owner takes the table with it.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import {
  NftEngine, engineScript, networkRules, publishRules, type EngineRule,
} from '../src/nft';
import { caught } from './helpers';
import { nftThrowaway, ruleLines, type NftThrowaway } from './nft-helpers';

const TABLE = `nn${process.pid}`;
const NET1 = networkRules({ ifname: 'br0', subnets: ['10.88.0.0/16', 'fd00:88::/64'] });
const INT1 = networkRules({ ifname: 'br1', subnets: ['10.89.0.0/16'], internal: true });
const CTR1 = [
  ...publishRules({ proto: 'tcp', hostPort: 8080, address: '10.88.0.2', port: 80, ifname: 'br0' }),
  ...publishRules({ proto: 'udp', hostPort: 5353, hostAddress: '192.168.7.1', address: '10.88.0.2', port: 53, ifname: 'br0' }),
  ...publishRules({ proto: 'tcp', hostPort: 8443, address: 'fd00:88::2', port: 443, ifname: 'br0' }),
];
const CTR2 = publishRules({ proto: 'tcp', hostPort: 9090, address: '10.88.0.3', port: 90, ifname: 'br0' });

type Handles = Record<string, number[]>;
function handlesByOwner(t: NftThrowaway): Handles {
  const out: Handles = {};
  for (const o of t.nftJson('-a', 'list', 'table', 'inet', TABLE)) {
    const r = o['rule'];
    if (r) (out[(r['comment'] as string | undefined) ?? '(fixed)'] ??= []).push(r['handle'] as number);
  }
  return out;
}

describe('nft engine against the kernel (checked with nft)', () => {
  let t: NftThrowaway;
  let engine: NftEngine;
  beforeEach(async () => {
    t = await nftThrowaway();
    engine = new NftEngine(t.nft, { table: TABLE });
  });
  afterEach(async () => { await t.close(); });

  it('makes the table `nft -f` of the same plan makes, rule for rule', async () => {
    engine.apply('net1', NET1);
    engine.apply('int1', INT1);
    engine.apply('ctr1', CTR1);
    const peer = await nftThrowaway();
    try {
      peer.nftScript(engineScript(TABLE, new Map([['net1', NET1], ['int1', INT1], ['ctr1', CTR1]])));
      const ours = t.nftCli('list', 'table', 'inet', TABLE);
      expect(ours).to.equal(peer.nftCli('list', 'table', 'inet', TABLE));
      expect(ruleLines(ours)).to.include.members([
        'fib daddr type local jump publish', 'ct status dnat accept', 'jump isolate',
        'ip saddr 10.88.0.0/16 oifname != "br0" masquerade comment "net1"',
        'meta nfproto ipv4 tcp dport 8080 dnat ip to 10.88.0.2:80 comment "ctr1"',
        'meta nfproto ipv6 tcp dport 8443 dnat ip6 to [fd00:88::2]:443 comment "ctr1"',
        'iifname "br1" oifname != "br1" drop comment "int1"',
      ]);
    } finally {
      await peer.close();
    }
  });

  it('apply is idempotent: the same rules again change nothing, not even a handle or the generation', () => {
    expect(engine.apply('net1', NET1)).to.deep.equal({ changed: true, added: NET1.length, removed: 0 });
    const handles = handlesByOwner(t);
    const genid = t.nft.nftGenid();
    expect(engine.apply('net1', NET1)).to.deep.equal({ changed: false, added: 0, removed: 0 });
    // A second engine (another runner) sees the same, whatever order the plan lists chains in;
    // within a chain, order is meaning.
    const other = new NftEngine(t.nft, { table: TABLE });
    expect(other.apply('net1', [...NET1].sort((a, b) => b.chain.localeCompare(a.chain))).changed).to.equal(false);
    expect(handlesByOwner(t)).to.deep.equal(handles);
    expect(t.nft.nftGenid()).to.equal(genid);
  });

  it("apply replaces exactly an owner's rules; remove takes exactly them; the last owner takes the table", () => {
    const before = t.nftCli('list', 'ruleset');
    engine.apply('net1', NET1);
    engine.apply('ctr1', CTR1);
    engine.apply('ctr2', CTR2);
    const start = handlesByOwner(t);
    expect(start['ctr1']).to.have.length(CTR1.length);

    // ctr1 now publishes one port less: its rules are replaced, nobody else's move.
    const fewer = CTR1.slice(0, 3);
    expect(engine.apply('ctr1', fewer)).to.deep.equal({ changed: true, added: 3, removed: CTR1.length });
    const after = handlesByOwner(t);
    expect(after['net1']).to.deep.equal(start['net1']);
    expect(after['ctr2']).to.deep.equal(start['ctr2']);
    expect(after['(fixed)']).to.deep.equal(start['(fixed)']);
    expect(after['ctr1']).to.have.length(3);

    expect(engine.remove('ctr1')).to.deep.equal({ removed: 3, tableDeleted: false });
    expect(handlesByOwner(t)['ctr1']).to.equal(undefined);
    expect(engine.owners().sort()).to.deep.equal(['ctr2', 'net1']);
    expect(engine.remove('ctr1')).to.deep.equal({ removed: 0, tableDeleted: false });
    expect(engine.remove('net1')).to.deep.equal({ removed: NET1.length, tableDeleted: false });
    expect(engine.remove('ctr2')).to.deep.equal({ removed: CTR2.length, tableDeleted: true });
    expect(t.nftCli('list', 'ruleset')).to.equal(before);
    expect(engine.remove('ctr2')).to.deep.equal({ removed: 0, tableDeleted: false });
    expect(engine.destroy()).to.equal(false);
  });

  it('list() tells each rule, its owner and its text; foreign rules stay unread but listed', () => {
    engine.apply('net1', NET1);
    t.nftCli('add', 'rule', 'inet', TABLE, 'forward', 'meta', 'mark', '42', 'counter', 'comment', '"someone"');
    const listed = engine.list();
    expect(listed.filter((r) => r.owner === 'net1').map((r) => r.text)).to.have.members([
      'ip saddr 10.88.0.0/16 oifname != "br0" masquerade', 'ip6 saddr fd00:88::/64 oifname != "br0" masquerade',
      'iifname "br0" oifname != "br0" jump isolate-to', 'oifname "br0" drop',
      'oifname "br0" ct state established,related accept', 'iifname "br0" accept', 'oifname "br0" iifname != "br0" ct state invalid,new,untracked drop',
    ]);
    const foreign = listed.find((r) => r.owner === 'someone')!;
    expect(foreign).to.deep.include({ chain: 'forward', rule: undefined, text: '(meta cmp counter)' });
    expect(listed.filter((r) => r.owner === undefined).map((r) => r.text)).to.deep.equal([
      'fib daddr type local jump publish', 'fib daddr type local jump publish', 'ct status dnat accept', 'jump isolate',
    ]);
    // "someone" is an owner too: the table stays while it has rules.
    expect(engine.remove('net1').tableDeleted).to.equal(false);
    expect(engine.destroy()).to.equal(true);
    expect(t.nftCli('list', 'ruleset')).to.equal('');
  });

  it('forward policy drop, and back to accept on the same table', () => {
    new NftEngine(t.nft, { table: TABLE, forwardPolicy: 'drop' }).apply('net1', NET1);
    const policy = () => t.nftJson('list', 'chain', 'inet', TABLE, 'forward').find((o) => o['chain'])!['chain']!['policy'];
    expect(policy()).to.equal('drop');
    const handles = handlesByOwner(t);
    expect(engine.apply('net1', NET1).changed).to.equal(true);
    expect(policy()).to.equal('accept');
    expect(handlesByOwner(t)['(fixed)']).to.deep.equal(handles['(fixed)']);
    expect(caught(() => new NftEngine(t.nft, { forwardPolicy: 'reject' as 'drop' })).code).to.equal('EUSAGE');
  });

  it('a bad rule is refused before anything is sent; a bad owner too', () => {
    const bad: EngineRule = { chain: 'publish', matches: [], action: { nat: 'dnat', address: '10.0.0.1', port: 80 } };
    expect(caught(() => engine.apply('ctr1', [bad])).code).to.equal('EUSAGE');
    expect(caught(() => engine.apply('', NET1)).code).to.equal('EUSAGE');
    expect(t.nftCli('list', 'ruleset')).to.equal('');
  });

  it('a change made between reading and applying: the batch is refused (ERESTART) and apply plans again', () => {
    engine.apply('net1', NET1);
    const rival = new NftEngine(t.nft, { table: TABLE });
    let batches = 0;
    // A handle whose first batch comes right after another runner's change.
    const racing = new Proxy(t.nft, {
      get(target, prop, receiver) {
        if (prop !== 'nftBatch') return Reflect.get(target, prop, receiver);
        return (...args: Parameters<typeof t.nft.nftBatch>) => {
          if (batches++ === 0) rival.apply('ctr2', CTR2);
          return target.nftBatch(...args);
        };
      },
    });
    expect(new NftEngine(racing, { table: TABLE }).apply('ctr1', CTR1)).to.deep.equal({ changed: true, added: CTR1.length, removed: 0 });
    expect(batches).to.equal(2);
    const byOwner = handlesByOwner(t);
    expect([byOwner['net1']?.length, byOwner['ctr1']?.length, byOwner['ctr2']?.length]).to.deep.equal([NET1.length, CTR1.length, CTR2.length]);
  });

  it('concurrent runners: 3 processes applying 8 owners each all land, none twice', async function () {
    this.timeout(60000);
    const lib = join(__dirname, '../src/nft');
    const script = (k: number) => `
      const { NftHandle, NftEngine, publishRules } = require(${JSON.stringify(lib)});
      const h = NftHandle.current();
      const e = new NftEngine(h, { table: ${JSON.stringify(TABLE)} });
      for (let i = 0; i < 8; i++) e.apply('c${k}-' + i, publishRules({ proto: 'tcp', hostPort: ${10000 + k * 100} + i, address: '10.88.0.' + (i + 2), port: 80, ifname: 'br0' }));`;
    const children = [0, 1, 2].map((k) => spawn('nsenter', ['-t', String(t.child.pid), '-n', process.execPath, '-e', script(k)], { stdio: ['ignore', 'ignore', 'pipe'] }));
    const errors: string[] = [];
    for (const c of children) c.stderr!.on('data', (d: Buffer) => errors.push(d.toString()));
    const codes = await Promise.all(children.map(async (c) => (await once(c, 'exit'))[0]));
    expect(errors.join('')).to.equal('');
    expect(codes).to.deep.equal([0, 0, 0]);
    const byOwner = handlesByOwner(t);
    const owners = Object.keys(byOwner).filter((o) => o !== '(fixed)').sort();
    expect(owners).to.deep.equal([0, 1, 2].flatMap((k) => Array.from({ length: 8 }, (_, i) => `c${k}-${i}`)).sort());
    for (const o of owners) expect(byOwner[o], o).to.have.length(3);
    expect(byOwner['(fixed)']).to.have.length(4);
  });
});
