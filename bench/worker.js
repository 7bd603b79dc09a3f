#!/usr/bin/env node
// One contender of an interleaved benchmark: runs one iteration per line read on stdin and
// answers with the nanoseconds it took. Separate processes keep heaps apart (small vs 1 GB).
'use strict';
const { spawn: nodeSpawn, spawnSync } = require('node:child_process');
const readline = require('node:readline');

const kind = process.argv[2];
const heapMb = Number(process.argv[3] || 0);

// Grow the V8 heap with live objects, as a large application would have.
const ballast = [];
for (let mb = 0; mb < heapMb; mb += 8) ballast.push(new Float64Array(1 << 20).fill(mb));

function contender() {
  switch (kind) {
    case 'lib-spawn': {
      const { spawn } = require('ns-core');
      const uid = process.getuid(), gid = process.getgid();
      const steps = [
        // A single-id map written by the child itself, as util-linux does (user_namespaces(7)
        // lets a process map its own euid); ns-user emits the same ops for -r.
        { name: 'map', child: [
          { op: 'write-file', path: '/proc/self/uid_map', data: `0 ${uid} 1`, phase: 'namespaces' },
          { op: 'write-file', path: '/proc/self/setgroups', data: 'deny', phase: 'namespaces' },
          { op: 'write-file', path: '/proc/self/gid_map', data: `0 ${gid} 1`, phase: 'namespaces' }] },
        { name: 'proc', child: [
          { op: 'mount', target: '/', flags: ['REC', 'PRIVATE'], phase: 'propagation' },
          { op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', flags: ['NOSUID', 'NODEV', 'NOEXEC'], phase: 'mounts' }] },
      ];
      // No namespace-id report: the C floor it is compared with reports none, and nothing here reads them.
      const options = { create: ['user', 'mnt', 'uts', 'ipc', 'pid'], steps, reportNamespaces: false };
      return async () => {
        const child = await spawn(['/bin/true'], options);
        const status = await child.exited;
        if (status.code !== 0) throw new Error(`lib-spawn: ${JSON.stringify(status)}`);
      };
    }
    case 'unshare-sync':
      return () => {
        const r = spawnSync('unshare', ['-Urmuipf', '--mount-proc', '/bin/true']);
        if (r.status !== 0) throw new Error(`unshare: ${r.stderr}`);
      };
    case 'node-true':
      return () => new Promise((resolve, reject) => {
        nodeSpawn('/bin/true').once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`true: ${code}`))));
      });
    default: {
      // A library-level contender contributed by a bench module: "module.js:exportName".
      const [file, name] = kind.split(':');
      return require(require('node:path').resolve(__dirname, file))[name]();
    }
  }
}

(async () => {
  const once = await contender();
  const rl = readline.createInterface({ input: process.stdin });
  for await (const _line of rl) {
    const t0 = process.hrtime.bigint();
    await once();
    process.stdout.write(`${process.hrtime.bigint() - t0}\n`);
  }
  process.exit(0);
})().catch((e) => {
  process.stderr.write(`worker ${kind}: ${e.stack || e}\n`);
  process.exit(1);
});
