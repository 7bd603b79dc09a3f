'use strict';
/**
 * network_attach_vs_podman: the time from starting a server container on a user network to
 * the first answer another container on it gets by the server's name (busybox httpd, wget in
 * a loop), ns-run against podman (runc/crun, CNI bridge + dnsname). run.js runs this file in
 * a network namespace of its own (unshare --net), so both engines' bridges, rules and sysctls
 * stay there; podman uses a throwaway root, runroot and CNI config directory under
 * bench/build, so the host's podman state is untouched.
 *
 *   node bench/network.js OUT.json ROUNDS
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { median, interleave, pairedRatio } = require('./lib');

const root = path.join(__dirname, '..');
const build = path.join(__dirname, 'build', `network-${process.pid}`);
const nsRun = path.join(root, 'node_modules/.bin', 'ns-run');
const [out, roundsText] = process.argv.slice(2);
const rounds = Number(roundsText);
const tag = `nsb${process.pid}`;
const NET = `${tag}-net`;
const SERVER_NAME = `${tag}-srv`;
const SERVER = 'mkdir -p /tmp/w && echo hi > /tmp/w/index.html && exec httpd -f -p 80 -h /tmp/w';
// busybox wget: no -T (busybox 1.35's static wget crashes with it).
const CLIENT = `until wget -q -O /dev/null http://${SERVER_NAME}/ 2>/dev/null; do sleep 0.01; done`;

function must(argv, options = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 120_000, ...options });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status} ${r.signal ?? ''} ${r.stderr}`);
  return r.stdout;
}

const { busyboxRootfs } = require(path.join(root, 'packages/test-kit/dist/src/rootfs.js'));
fs.mkdirSync(build, { recursive: true });
const rootfs = busyboxRootfs({ dir: path.join(build, 'rootfs') });
const podmanArgs = ['--root', path.join(build, 'podman/root'), '--runroot', path.join(build, 'podman/run'),
  '--cni-config-dir', path.join(build, 'podman/cni'), '--cgroup-manager', 'cgroupfs', '--events-backend', 'none'];
const podman = (...args) => ['podman', ...podmanArgs, ...args];
const IMAGE = `localhost/${tag}-busybox:latest`;
// runc, as the issue names; limits below this machine's (podman's defaults, nofile 1048576
// and nproc 4194304, exceed its hard limits, and without CAP_SYS_RESOURCE the runtime's
// setrlimit fails with EPERM; lowering is always allowed).
const RUN_FLAGS = ['--runtime', process.env.NSB_RUNTIME ?? 'runc', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

function exited(child) {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve)));
}

const ours = {
  name: 'ns-run',
  async once() {
    const t0 = process.hrtime.bigint();
    const server = spawn(nsRun, ['--network', NET, '--name', SERVER_NAME, '--rootfs', rootfs, '--', 'sh', '-c', SERVER], { stdio: 'ignore' });
    must([nsRun, '--network', NET, '--rootfs', rootfs, '--', 'sh', '-c', CLIENT], { timeout: 30_000, killSignal: 'SIGKILL' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    server.kill('SIGTERM');
    await exited(server);
    return ms;
  },
};

const theirs = {
  name: 'podman',
  async once() {
    const t0 = process.hrtime.bigint();
    must(podman('run', ...RUN_FLAGS, '-d', '--network', NET, '--name', SERVER_NAME, IMAGE, 'sh', '-c', SERVER));
    // SIGKILL at the timeout: podman passes SIGTERM on to the container, whose sh (PID 1) ignores it.
    must(podman('run', ...RUN_FLAGS, '--rm', '--network', NET, IMAGE, 'sh', '-c', CLIENT), { timeout: 30_000, killSignal: 'SIGKILL' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    must(podman('rm', '-f', '-t', '0', SERVER_NAME));
    return ms;
  },
};

(async () => {
  const result = { ratios: {}, medians_ms: {}, skipped: [], rows: [] };
  try {
    // The image is the same busybox tree ns-run runs (tar: the bench's oracle-side tool).
    must(['sh', '-c', `tar -C '${rootfs}' -c . | ${podman('import', '-', IMAGE).map((a) => `'${a}'`).join(' ')}`]);
    must(podman('network', 'create', NET));
    must([nsRun, 'network', 'create', NET]);
    const samples = await interleave([ours, theirs], rounds, 2);
    result.medians_ms.network_attach_ns_run = median(samples[0]);
    result.medians_ms.network_attach_podman = median(samples[1]);
    result.ratio = pairedRatio(samples[0], samples[1]);
    result.detail = `${median(samples[0]).toFixed(1)} ms vs ${median(samples[1]).toFixed(1)} ms`;
  } finally {
    for (const argv of [podman('rm', '-f', '-a', '-t', '0'), podman('network', 'rm', '-f', NET), podman('rmi', '-a', '-f')]) {
      spawnSync(argv[0], argv.slice(1), { stdio: 'ignore' });
    }
    spawnSync(nsRun, ['network', 'rm', NET]);
    fs.rmSync(build, { recursive: true, force: true });
  }
  fs.writeFileSync(out, JSON.stringify(result));
})().catch((e) => {
  console.error(`bench/network.js: ${e.stack || e}`);
  process.exit(1);
});
