'use strict';
// nft_vs_nft_cli contenders. Each iteration installs one network's masquerade and two published
// ports (DNAT) in a table of its own, replacing the previous iteration's table in the same
// transaction (`add table; delete table; add table ...`, the usual nft reload): the same
// batch both ways, ns-net's verbs in-process against `nft -f FILE`. Each worker runs in a
// private network namespace of its own (bench/run.js starts it under `unshare -n`).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const TABLE = 'nstools_bench';

/** These contenders change a ruleset: never the host's (ours must differ from our parent's). */
function refuseHostNetns() {
  if (fs.statSync('/proc/self/ns/net').ino === fs.statSync(`/proc/${process.ppid}/ns/net`).ino) {
    throw new Error('bench/nft.js: run in a private network namespace (unshare -n), not the host\'s');
  }
}

function plan() {
  const { compileRule, networkRules, publishRules } = require('ns-net').nft;
  const rules = [
    ...networkRules({ ifname: 'br0', subnets: ['10.88.0.0/16'], isolate: false }).filter((r) => r.chain === 'postrouting'),
    ...publishRules({ proto: 'tcp', hostPort: 8080, address: '10.88.0.2', port: 80, ifname: 'br0' }).filter((r) => r.chain === 'publish'),
    ...publishRules({ proto: 'udp', hostPort: 5353, address: '10.88.0.3', port: 53, ifname: 'br0' }).filter((r) => r.chain === 'publish'),
  ].map((r) => ({ ...r, chain: r.chain === 'publish' ? 'prerouting' : r.chain }));
  const table = { family: 'inet', name: TABLE };
  return [
    { op: 'add table', table },
    { op: 'delete table', table },
    { op: 'add table', table },
    { op: 'add chain', chain: { family: 'inet', table: TABLE, name: 'prerouting', base: { type: 'nat', hook: 'prerouting', priority: -100 } } },
    { op: 'add chain', chain: { family: 'inet', table: TABLE, name: 'postrouting', base: { type: 'nat', hook: 'postrouting', priority: 100 } } },
    ...rules.map((r) => ({ op: 'add rule', rule: { family: 'inet', table: TABLE, chain: r.chain, exprs: compileRule(r), comment: 'bench' } })),
  ];
}

exports.libNft = () => {
  refuseHostNetns();
  const { NftHandle } = require('ns-net');
  const h = NftHandle.current();
  const ops = plan();
  return () => { h.nftBatch(ops); };
};

exports.nftCli = () => {
  refuseHostNetns();
  const { formatOp } = require('ns-net').nft;
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nft-bench-')), 'rules.nft');
  fs.writeFileSync(file, `${plan().map(formatOp).join('\n')}\n`);
  return () => {
    const r = spawnSync('nft', ['-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`nft -f failed: ${r.stderr}`);
  };
};

/** For information: the same rules through the engine (reads, then one guarded batch). */
exports.libEngine = () => {
  refuseHostNetns();
  const { NftHandle, NftEngine, networkRules, publishRules } = require('ns-net');
  const engine = new NftEngine(NftHandle.current(), { table: TABLE });
  const net = networkRules({ ifname: 'br0', subnets: ['10.88.0.0/16'], isolate: false }).filter((r) => r.chain === 'postrouting');
  const ctr = [
    ...publishRules({ proto: 'tcp', hostPort: 8080, address: '10.88.0.2', port: 80, ifname: 'br0' }).filter((r) => r.chain === 'publish'),
    ...publishRules({ proto: 'udp', hostPort: 5353, address: '10.88.0.3', port: 53, ifname: 'br0' }).filter((r) => r.chain === 'publish'),
  ];
  return () => {
    engine.apply('net', net);
    engine.apply('ctr', ctr);
    engine.destroy();
  };
};
exports.plan = plan;
