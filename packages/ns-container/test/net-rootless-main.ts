/**
 * Run by net-rootless.test.ts as an ordinary user: the library's rootless network calls, with
 * what they did printed as JSON lines for the test to check from outside.
 *
 *   node net-rootless-main.js STATE_ROOT WWW_DIR
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, type NsChild } from 'ns-core';
import {
  attachInside, ensureNetworkInside, NetworkStore, prepareNetwork, releaseNetwork, removeNetworkInside, rootlessNetns, rootlessNetworkDirs,
} from '../src/network';
import { startPasta } from '../src/network/rootless';

const say = (what: object) => process.stdout.write(`${JSON.stringify(what)}\n`);

/** A program in a container network namespace on `network` (user and net joined from the helper). */
async function container(root: string, network: string, name: string, argv: string[]): Promise<{ child: NsChild; address: string; output: Promise<{ code: number | null; out: string }>; done: () => Promise<void> }> {
  const dirs = rootlessNetworkDirs(root);
  const att = prepareNetwork({ network, container: name, dirs, madeElsewhere: true });
  const holder = await rootlessNetns(root);
  const inside = await attachInside(holder, att.veth);
  holder.close();
  const child = await spawn(argv, { join: [{ pidfd: inside.pidfd, kinds: ['user', 'net'] }], stdio: ['ignore', 'pipe', 'pipe'], killWithParent: 'SIGKILL' });
  const out = output(child);
  await inside.release();
  return { child, address: att.lease.address, output: out, done: async () => { child.kill('SIGKILL'); await child.exited; releaseNetwork(att); } };
}

async function output(child: NsChild): Promise<{ code: number | null; out: string }> {
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const status = await child.exited;
  return { code: status.code, out };
}

async function main(): Promise<void> {
  const [root, www] = process.argv.slice(2) as [string, string];
  const first = await rootlessNetns(root);
  const again = await rootlessNetns(root);
  say({ step: 'holder', made: [first.made, again.made], same: first.holder.pid === again.holder.pid, pid: first.holder.pid });
  first.close();
  again.close();
  // pasta refused (pid 1's namespaces are not the user's): no egress, and pasta's reason kept.
  const refused = await startPasta(1, root);
  say({ step: 'pasta refused', ran: refused !== undefined, log: readFileSync(join(root, 'pasta.log'), 'utf8'), pidFile: existsSync(join(root, 'pasta.pid')) });

  const store = new NetworkStore(rootlessNetworkDirs(root));
  const here = store.create(`here${process.pid}`, {});
  const there = store.create(`there${process.pid}`, { subnet: '10.233.77.0/24' });
  const holder = await rootlessNetns(root);
  await ensureNetworkInside(holder, here);
  await ensureNetworkInside(holder, there);
  say({ step: 'networks', bridges: [here.bridge, there.bridge], subnets: [here.subnet, there.subnet] });

  const server = await container(root, here.name, 'srv', ['/bin/busybox', 'httpd', '-f', '-p', '80', '-h', www]);
  const wget = (address: string) => ['/bin/sh', '-c', `for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -T 1 -t 1 -O - http://${address}/ && exit 0; sleep 0.2; done; exit 1`];
  const client = await container(root, here.name, 'cli', wget(server.address));
  say({ step: 'same network', server: server.address, ...(await client.output) });
  await client.done();
  const stranger = await container(root, there.name, 'stranger', ['/bin/sh', '-c', `wget -q -T 2 -t 1 -O - http://${server.address}/; echo status=$?`]);
  say({ step: 'other network', ...(await stranger.output) });
  await stranger.done();
  say({ step: 'hosts', text: store.leasesOf(here.name).map((l) => `${l.address} ${l.container}`) });
  await server.done();

  await removeNetworkInside(holder, here);
  await removeNetworkInside(holder, there);
  store.delete(here.name);
  store.delete(there.name);
  holder.close();
  say({ step: 'removed' });
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
