'use strict';
// veth_vs_iproute2 contenders. Each iteration: a new named network namespace, a veth pair with
// one end inside it, addresses on both ends, links up (and lo), a default route inside via the
// host end, then the namespace deleted (the kernel removes the pair with it). Same work both ways.
const { spawnSync } = require('node:child_process');

let n = 0;
const names = () => {
  n++;
  return { ns: `nsb${process.pid % 10000}x${n}`, host: `vb${process.pid % 10000}x${n}` };
};

exports.libVeth = () => {
  const { RtnlHandle, netnsAdd, netnsOpen, netnsDelete, veth } = require('ns-net');
  const host = RtnlHandle.current();
  return async () => {
    const { ns: name, host: hostIf } = names();
    await netnsAdd(name);
    const ns = netnsOpen(name);
    try {
      host.linkAdd(veth({ name: hostIf, peer: { name: 'eth0', netnsFd: ns.fd } }));
      host.addrAdd(hostIf, '10.231.0.1/30');
      host.linkSetUp(hostIf);
      const inside = RtnlHandle.at(ns);
      try {
        inside.addrAdd('eth0', '10.231.0.2/30');
        inside.linkSetUp('eth0');
        inside.linkSetUp('lo');
        inside.routeAdd({ dst: 'default', gateway: '10.231.0.1' });
      } finally {
        inside.close();
      }
    } finally {
      ns.close();
      netnsDelete(name);
    }
  };
};

exports.ipVeth = () => () => {
  const { ns, host } = names();
  const script = [
    `ip netns add ${ns}`,
    `ip link add ${host} type veth peer name eth0 netns ${ns}`,
    `ip addr add 10.232.0.1/30 dev ${host}`,
    `ip link set ${host} up`,
    `ip -n ${ns} addr add 10.232.0.2/30 dev eth0`,
    `ip -n ${ns} link set eth0 up`,
    `ip -n ${ns} link set lo up`,
    `ip -n ${ns} route add default via 10.232.0.1`,
    `ip netns delete ${ns}`,
  ].join(' && ');
  const r = spawnSync('sh', ['-ec', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`ip script failed: ${r.stderr}`);
};
