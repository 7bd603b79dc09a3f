/**
 * Run by net-netns.test.ts inside `unshare --net` (so the network's bridge, rules and sysctls
 * are made in a throwaway namespace): a network in private state directories, an attachment,
 * its namespace prepared before any spawn, and programs that join it, one of them after
 * unsharing a user namespace of its own (the order a container needs). Prints JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, type NsChild } from 'ns-core';
import { RtnlHandle } from 'ns-net';
import { createNetwork, prepareNetns, prepareNetwork, releaseNetwork, removeNetwork } from '../src';

async function output(child: NsChild): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of child.stdout!) chunks.push(c as Buffer);
  await child.exited;
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<void> {
  const base = mkdtempSync('/tmp/ns-container-netns-');
  const dirs = { config: join(base, 'lib'), run: join(base, 'run') };
  try {
    await createNetwork('pre', { subnet: '10.252.3.0/24' }, dirs);
    const attachment = prepareNetwork({ network: 'pre', container: 'c1', dirs });
    const prepared = prepareNetns(attachment);
    const hostEnd = RtnlHandle.current().use((h) => h.linkByName(attachment.veth.hostIf));
    const bridge = RtnlHandle.current().use((h) => h.linkByName('nsbr-' + attachment.network.id.slice(0, 10)));
    const inside = await output(await spawn(['sh', '-c', 'ip -br link show lo | grep -q UP && echo lo up; ' + 'ip -o -4 addr show eth0 | awk "{print \\$4}"; ip route show default; busybox ping -c1 -W2 10.252.3.1 >/dev/null && echo gateway answers'],
      { join: [prepared.netns], steps: [prepared.step], stdio: ['ignore', 'pipe', 'inherit'] }));
    const inUserns = await output(await spawn(['sh', '-c', 'readlink /proc/self/ns/net; id -u'],
      { join: [prepared.netns], steps: [{ name: 'own user namespace', create: ['user'], createInChild: true }], stdio: ['ignore', 'pipe', 'inherit'] }));
    prepared.close();
    // The namespace's end takes the pair, from a kernel work queue: a moment later.
    let afterClose: string[] = [];
    for (let i = 0; i < 200; i++) {
      afterClose = RtnlHandle.current().use((h) => h.linkList().map((l) => l.name));
      if (!afterClose.includes(attachment.veth.hostIf)) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    releaseNetwork(attachment);
    await removeNetwork('pre', dirs);
    const afterRemove = RtnlHandle.current().use((h) => h.linkList().map((l) => l.name));
    process.stdout.write(JSON.stringify({
      hostEndMaster: hostEnd.master === bridge.index, inside, inUserns, netnsId: prepared.netns.id,
      hostEndGone: !afterClose.includes(attachment.veth.hostIf), bridgeGone: !afterRemove.includes(bridge.name),
    }));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
