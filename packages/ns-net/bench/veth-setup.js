#!/usr/bin/env node
'use strict';
// Time to give a new network namespace a veth link with addresses, links up, lo up and a
// default route: through ns-net's library vs. a shell script of `ip` commands.
// Needs root; run after `npx tsc -b`: node packages/ns-net/bench/veth-setup.js [runs]
// Every name and subnet carries this pid; everything made is removed after each run.
const { execFileSync, spawnSync } = require('node:child_process');
const { performance } = require('node:perf_hooks');
const { spawn } = require('ns-core');
const { RtnlHandle, net, netnsAdd, netnsDelete, netnsOpen, veth } = require('../dist/src/index.js');

const RUNS = Number(process.argv[2] ?? 9);
const tag = String(process.pid % 100000);
const NS = `nnb${tag}`;
const HOST_IF = `nnb${tag}h`;
// Never a name the host has (it has an eth0): the peer is named for this run too.
const PEER_IF = `nnb${tag}p`;
const [HOST, PEER] = [`10.201.${process.pid % 250}.1`, `10.201.${process.pid % 250}.2`];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function cleanup() {
  spawnSync('ip', ['link', 'del', HOST_IF], { stdio: 'ignore' });
  spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
}

/** Library, in-process: a named netns, the peer born inside it, addresses, up, lo, route. */
async function libraryNamed({ move }) {
  const t0 = performance.now();
  await netnsAdd(NS);
  const ns = netnsOpen(NS);
  try {
    RtnlHandle.at(ns).use((inside) => RtnlHandle.current().use((host) => {
      if (move) {
        host.linkAdd(veth({ name: HOST_IF, peer: PEER_IF }));
        host.linkSetNsFd(PEER_IF, ns.fd);
      } else {
        host.linkAdd(veth({ name: HOST_IF, peer: { name: PEER_IF, netnsFd: ns.fd } }));
      }
      host.addrAdd(HOST_IF, `${HOST}/30`);
      inside.addrAdd(PEER_IF, `${PEER}/30`);
      host.linkSetUp(HOST_IF);
      inside.linkSetUp(PEER_IF);
      inside.loopbackUp();
      inside.routeAdd({ dst: 'default', gateway: HOST });
    }));
  } finally {
    ns.close();
  }
  const t1 = performance.now();
  RtnlHandle.current().use((h) => h.linkDel(HOST_IF));
  netnsDelete(NS);
  return t1 - t0;
}

/**
 * Library, as a spawn step: until the program has been exec'd in the ready namespace. The
 * program keeps running until the clock stops: a program that exits at once would have its
 * exit, and the removal of the host end, counted in too.
 */
async function libraryStep() {
  const t0 = performance.now();
  const child = await spawn(['sleep', '10'], { steps: [net({ veth: { hostIf: HOST_IF, nsIf: PEER_IF, address: `${HOST}/30`, peerAddress: `${PEER}/30`, gateway: true } })] });
  const t1 = performance.now();
  child.kill('SIGKILL');
  await child.exited;
  return t1 - t0;
}

/** The same with ip, as one shell script. */
function shell({ move }) {
  const create = move
    ? `ip link add ${HOST_IF} type veth peer name ${PEER_IF} && ip link set ${PEER_IF} netns ${NS}`
    : `ip link add ${HOST_IF} type veth peer name ${PEER_IF} netns ${NS}`;
  const script = [
    `ip netns add ${NS}`, create,
    `ip addr add ${HOST}/30 dev ${HOST_IF}`, `ip -n ${NS} addr add ${PEER}/30 dev ${PEER_IF}`,
    `ip link set ${HOST_IF} up`, `ip -n ${NS} link set ${PEER_IF} up`, `ip -n ${NS} link set lo up`,
    `ip -n ${NS} route add default via ${HOST}`,
  ].join(' && ');
  const t0 = performance.now();
  execFileSync('sh', ['-c', script]);
  const t1 = performance.now();
  cleanup();
  return t1 - t0;
}

async function main() {
  cleanup();
  const cases = {
    'library, named netns, peer created inside (IFLA_NET_NS_FD)': () => libraryNamed({ move: false }),
    'library, named netns, peer moved (ip link set netns)': () => libraryNamed({ move: true }),
    'library, net() spawn step (clone+setup+exec)': libraryStep,
    'ip script, named netns, peer created inside (peer name P netns NAME)': () => shell({ move: false }),
    'ip script, named netns, peer moved (ip link set PEER netns NAME)': () => shell({ move: true }),
  };
  for (const [name, fn] of Object.entries(cases)) {
    await fn(); // warm-up
    const times = [];
    for (let i = 0; i < RUNS; i++) {
      // Let the kernel finish tearing down the last run's namespace (it holds the RTNL lock
      // a new link needs), so each run starts from a quiet system.
      await new Promise((resolve) => setTimeout(resolve, 150));
      times.push(await fn());
    }
    console.log(`${median(times).toFixed(2).padStart(7)} ms median of ${RUNS}  (min ${Math.min(...times).toFixed(2)}, max ${Math.max(...times).toFixed(2)})  ${name}`);
  }
  cleanup();
}

main().catch((e) => {
  cleanup();
  console.error(e);
  process.exit(1);
});
