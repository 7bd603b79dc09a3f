#!/usr/bin/env node
// npm run bench: nstools against its peers, measured in one run, interleaved, as paired ratios.
// Writes bench/results.json and the table in bench/README.md. Installs nothing: a missing peer
// is skipped with a line saying so (bench/README.md lists the Debian packages).
'use strict';
const { spawnSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { median, Server, Command, interleave, pairedRatio } = require('./lib');

// Every contender starts as it would for a user: no extra CA bundle for Node to read at start-up.
delete process.env.NODE_EXTRA_CA_CERTS;

const root = path.join(__dirname, '..');
const build = path.join(__dirname, 'build');
const bin = (name) => path.join(root, 'node_modules/.bin', name);
const quick = process.argv.includes('--quick');
const ROUNDS = { spawn: quick ? 60 : 400, cli: quick ? 8 : 40, net: quick ? 8 : 40, container: quick ? 8 : 40, image: quick ? 4 : 15 };

const results = { date: new Date().toISOString(), host: { kernel: os.release(), node: process.version, cpus: os.cpus().length }, ratios: {}, medians_ms: {}, skipped: [] };
const rows = [];

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function skip(key, why) {
  results.skipped.push({ key, why });
  console.log(`skip ${key}: ${why}`);
}

function record(key, ratio, target, detail) {
  results.ratios[key] = Number(ratio.toFixed(3));
  const ok = ratio <= target;
  rows.push({ key, ratio, target, ok, detail });
  console.log(`${key.padEnd(26)} ${ratio.toFixed(3).padStart(7)}  target <= ${target}  ${ok ? 'met' : 'OVER TARGET'}  (${detail})`);
}

function compileC(name) {
  fs.mkdirSync(build, { recursive: true });
  const out = path.join(build, name);
  const r = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', out, path.join(__dirname, `${name}.c`)], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`bench: compiling ${name}.c failed`);
  return out;
}

const fmt = (ms) => `${ms.toFixed(2)} ms`;

async function spawnSection() {
  const worker = path.join(__dirname, 'worker.js');
  const contenders = [
    new Server('lib spawn', [process.execPath, worker, 'lib-spawn']),
    new Server('lib spawn, 1 GB heap', [process.execPath, '--max-old-space-size=4096', worker, 'lib-spawn', '1024']),
    new Server('spawnSync unshare', [process.execPath, worker, 'unshare-sync']),
    new Server('child_process.spawn /bin/true', [process.execPath, worker, 'node-true']),
    new Server('C floor', [compileC('cfloor')]),
  ];
  try {
    const [lib, big, unshare, nodeTrue, cfloor] = await interleave(contenders, ROUNDS.spawn, 20);
    Object.assign(results.medians_ms, {
      spawn_lib: median(lib), spawn_lib_heap_1g: median(big), spawn_unshare: median(unshare),
      spawn_node_true: median(nodeTrue), spawn_c_floor: median(cfloor),
    });
    record('spawn_vs_unshare', pairedRatio(lib, unshare), 0.35, `${fmt(median(lib))} vs ${fmt(median(unshare))}`);
    record('spawn_vs_c_floor', pairedRatio(lib, cfloor), 1.25, `${fmt(median(lib))} vs ${fmt(median(cfloor))}`);
    record('spawn_heap_1g_vs_small', pairedRatio(big, lib), 1.3, `${fmt(median(big))} vs ${fmt(median(lib))}`);
    console.log(`  (child_process.spawn('/bin/true'), no namespaces: ${fmt(median(nodeTrue))})`);
    // What spawn_vs_unshare could reach with no overhead at all above the C launcher.
    console.log(`  (C floor / spawnSync unshare: ${pairedRatio(cfloor, unshare).toFixed(3)}, the bound on spawn_vs_unshare)`);
  } finally {
    for (const c of contenders) c.close();
  }
}

async function cliSection() {
  const node = new Command('node -e 0', [process.execPath, '-e', '0']);
  if (!fs.existsSync(bin('ns-unshare')) || !fs.existsSync(path.join(root, 'packages/ns-run/dist/src/unshare/cli.js'))) {
    skip('cli_vs_node', 'ns-unshare is not built');
  } else {
    const unshare = new Command('ns-unshare', [bin('ns-unshare'), '-Urmuipf', '--mount-proc', 'true']);
    const [a, b] = await interleave([unshare, node], ROUNDS.cli, 3);
    results.medians_ms.cli_ns_unshare = median(a);
    results.medians_ms.node_e_0 = median(b);
    record('cli_vs_node', pairedRatio(a, b), 1.25, `${fmt(median(a))} vs ${fmt(median(b))}`);
  }
  if (!fs.existsSync(bin('ns-ls')) || !fs.existsSync(path.join(root, 'packages/ns-core/dist/src/cli.js'))) {
    skip('ls_vs_node', 'ns-ls is not built');
  } else {
    // The default listing: every process's namespaces and fds, as lsns reads them.
    const [a, b] = await interleave([new Command('ns-ls', [bin('ns-ls')]), node], ROUNDS.cli, 3);
    results.medians_ms.cli_ns_ls = median(a);
    record('ls_vs_node', pairedRatio(a, b), 1.3, `${fmt(median(a))} vs ${fmt(median(b))}`);
  }
  if (!fs.existsSync(bin('ns-net')) || !fs.existsSync(path.join(root, 'packages/ns-net/dist/src/cli.js'))) {
    skip('net_show_vs_node', 'ns-net is not built');
  } else {
    // `ip link show`'s equivalent: one netlink dump of this namespace's links, printed.
    const [a, b] = await interleave([new Command('ns-net link show', [bin('ns-net'), 'link', 'show']), node], ROUNDS.cli, 3);
    results.medians_ms.cli_ns_net_link_show = median(a);
    record('net_show_vs_node', pairedRatio(a, b), 1.3, `${fmt(median(a))} vs ${fmt(median(b))}`);
  }
  if (!fs.existsSync(bin('ns-enter')) || !fs.existsSync(path.join(root, 'packages/ns-run/dist/src/enter/cli.js'))) {
    skip('enter_vs_node', 'ns-enter is not built');
    return;
  }
  const target = spawn('unshare', ['-Urmuinpf', '--mount-proc', 'sleep', '600'], { stdio: 'ignore' });
  try {
    let pid;
    for (let i = 0; i < 200 && !pid; i++) {
      await new Promise((r) => setTimeout(r, 5));
      pid = fs.readFileSync(`/proc/${target.pid}/task/${target.pid}/children`, 'utf8').trim().split(' ')[0];
    }
    const enter = new Command('ns-enter', [bin('ns-enter'), '-t', pid, '-a', 'true']);
    const [a, b] = await interleave([enter, node], ROUNDS.cli, 3);
    results.medians_ms.cli_ns_enter = median(a);
    record('enter_vs_node', pairedRatio(a, b), 1.25, `${fmt(median(a))} vs ${fmt(median(b))}`);
  } finally {
    target.kill('SIGKILL');
  }
}

/**
 * The start-up keys on the other Node lines nstools supports (the pinned binaries of
 * scripts/test-node-lines.js, fetched once): the cli section run by that Node, with it first on
 * PATH (the repository's bins start `node` from PATH) and the bins' code caches written for it
 * first (scripts/build-bundles.js --cache: a cache serves one Node binary). Keys: KEY@LINE.
 */
async function linesSection() {
  const own = process.versions.node.split('.')[0];
  const lines = ['22', '24', '26'].filter((l) => l !== own);
  const fetched = spawnSync(process.execPath, [path.join(root, 'scripts/test-node-lines.js'), '--fetch-only', '--lines', lines.join(',')], { encoding: 'utf8' });
  if (fetched.status !== 0) return skip('cli_vs_node@LINE', `the pinned Node lines could not be fetched: ${fetched.stderr.trim()}`);
  const nodes = fetched.stdout.trim().split('\n');
  for (const [i, node] of nodes.entries()) {
    const env = { ...process.env, PATH: `${path.dirname(node)}:${process.env.PATH}` };
    const cached = spawnSync(node, [path.join(root, 'scripts/build-bundles.js'), '--cache'], { env, stdio: 'inherit' });
    if (cached.status !== 0) throw new Error(`bench: writing the code caches for ${node} failed`);
    const out = path.join(build, `lines-${lines[i]}.json`);
    fs.mkdirSync(build, { recursive: true });
    fs.rmSync(out, { force: true });
    const r = spawnSync(node, [__filename, '--lines-child', out, ...(quick ? ['--quick'] : [])], { env, stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`bench: the cli section on ${node} failed (exit ${r.status})`);
    const part = JSON.parse(fs.readFileSync(out, 'utf8'));
    for (const row of part.rows) record(`${row.key}@${lines[i]}`, row.ratio, row.target, `Node ${part.node}: ${row.detail}`);
    for (const [k, v] of Object.entries(part.medians_ms)) results.medians_ms[`${k}@${lines[i]}`] = v;
    results.skipped.push(...part.skipped.map((sk) => ({ ...sk, key: `${sk.key}@${lines[i]}` })));
  }
}

async function netSection() {
  const benchModule = path.join(__dirname, 'veth.js');
  if (!have('ip')) return skip('veth_vs_iproute2', 'iproute2 (ip) is not installed');
  if (!fs.existsSync(benchModule)) return skip('veth_vs_iproute2', 'bench/veth.js is missing');
  const worker = path.join(__dirname, 'worker.js');
  const lib = new Server('ns-net veth', [process.execPath, worker, `${benchModule}:libVeth`]);
  const ip = new Server('ip veth script', [process.execPath, worker, `${benchModule}:ipVeth`]);
  try {
    const [a, b] = await interleave([lib, ip], ROUNDS.net, 3);
    results.medians_ms.veth_lib = median(a);
    results.medians_ms.veth_iproute2 = median(b);
    record('veth_vs_iproute2', pairedRatio(a, b), 0.3, `${fmt(median(a))} vs ${fmt(median(b))}`);
  } finally {
    lib.close();
    ip.close();
  }
  await nftSection(worker);
}

async function nftSection(worker) {
  const benchModule = path.join(__dirname, 'nft.js');
  if (!have('nft')) return skip('nft_vs_nft_cli', 'nftables (nft) is not installed');
  // Each worker in a private network namespace: the rules never touch the host's ruleset.
  const inNetns = (name, fn) => new Server(name, ['unshare', '-n', process.execPath, worker, `${benchModule}:${fn}`]);
  const contenders = [inNetns('ns-net nftBatch', 'libNft'), inNetns('nft -f', 'nftCli'), inNetns('ns-net NftEngine', 'libEngine')];
  try {
    const [lib, cli, engine] = await interleave(contenders, ROUNDS.net, 3);
    results.medians_ms.nft_lib = median(lib);
    results.medians_ms.nft_cli = median(cli);
    results.medians_ms.nft_engine = median(engine);
    record('nft_vs_nft_cli', pairedRatio(lib, cli), 0.3, `${fmt(median(lib))} vs ${fmt(median(cli))}`);
    console.log(`  (the same through NftEngine.apply, reads and a guarded batch per owner, then destroy: ${fmt(median(engine))})`);
  } finally {
    for (const c of contenders) c.close();
  }
}

function busyboxRootfs() {
  const dir = path.join(build, 'rootfs');
  if (fs.existsSync(path.join(dir, 'bin/busybox'))) return dir;
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  for (const d of ['proc', 'sys', 'dev', 'tmp', 'etc', 'root']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(dir, 'bin/busybox'));
  fs.chmodSync(path.join(dir, 'bin/busybox'), 0o755);
  for (const applet of ['sh', 'true', 'ls', 'cat', 'echo', 'id', 'ps', 'hostname']) fs.symlinkSync('busybox', path.join(dir, 'bin', applet));
  return dir;
}

/**
 * crun 1.8 refuses a cgroup v2 mount that has any controller next to v1 ones ("hybrid mode"),
 * even with --cgroup-manager=disabled. When this machine is such a hybrid, the whole section
 * (every contender alike) runs in a private mount namespace where that mount is hidden.
 */
function cgroupHybrid() {
  const unified = '/sys/fs/cgroup/unified/cgroup.controllers';
  return fs.existsSync(unified) && fs.readFileSync(unified, 'utf8').trim() !== '';
}

async function containerSection() {
  if (cgroupHybrid() && !process.argv.includes('--container-section')) {
    const out = path.join(build, 'container-section.json');
    fs.rmSync(out, { force: true });
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
      'umount /sys/fs/cgroup/unified && exec "$0" "$@"', process.execPath, __filename, '--container-section', out, ...(quick ? ['--quick'] : [])],
    { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`bench: the container section failed (exit ${r.status})`);
    const part = JSON.parse(fs.readFileSync(out, 'utf8'));
    Object.assign(results.ratios, part.ratios);
    Object.assign(results.medians_ms, part.medians_ms);
    results.skipped.push(...part.skipped);
    rows.push(...part.rows);
    return;
  }
  if (!fs.existsSync('/bin/busybox')) return skip('container_cli_vs_crun', 'busybox-static is not installed');
  if (!have('crun')) return skip('container_cli_vs_crun', 'crun is not installed');
  if (!fs.existsSync(path.join(root, 'packages/ns-run/dist/src/runner/cli.js'))) return skip('container_cli_vs_crun', 'ns-run is not built');
  const rootfs = busyboxRootfs();
  const bundle = path.join(build, 'bundle');
  fs.rmSync(bundle, { recursive: true, force: true });
  fs.mkdirSync(bundle, { recursive: true });
  spawnSync('crun', ['spec', '--rootless'], { cwd: bundle });
  const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  spec.root = { path: rootfs, readonly: true };
  spec.process.args = ['/bin/true'];
  spec.process.terminal = false;
  spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== 'network').concat([{ type: 'network' }]);
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
  let n = 0;
  const crun = { name: 'crun run', once() {
    return new Command('crun', ['crun', '--cgroup-manager=disabled', 'run', '--bundle', bundle, `nstools-bench-${process.pid}-${n++}`]).once();
  }, close() {} };
  const nsRun = new Command('ns-run', [bin('ns-run'), '--rootfs', rootfs, '--network', 'none', '--', '/bin/true']);
  // The same container from a Node process that is running already (bench/container-lib.js):
  // what a program using ns-container pays, without Node's start-up.
  const lib = new Server('runContainer', [process.execPath, path.join(__dirname, 'worker.js'), 'container-lib.js:runTrue'],
                         { env: { ...process.env, NSTOOLS_BENCH_ROOTFS: rootfs } });
  const contenders = [nsRun, crun, lib];
  if (have('bwrap')) {
    contenders.push(new Command('bwrap', ['bwrap', '--unshare-all', '--ro-bind', rootfs, '/', '--proc', '/proc', '--dev', '/dev', '/bin/true']));
  } else skip('container_bwrap', 'bubblewrap is not installed');
  let samples;
  try {
    samples = await interleave(contenders, ROUNDS.container, 3);
  } finally {
    lib.close();
  }
  const [cli, theirs, library, bwrap] = samples;
  results.medians_ms.container_ns_run = median(cli);
  results.medians_ms.container_crun = median(theirs);
  results.medians_ms.container_lib = median(library);
  record('container_cli_vs_crun', pairedRatio(cli, theirs), 3.0, `${fmt(median(cli))} vs ${fmt(median(theirs))}`);
  record('container_lib_vs_crun', pairedRatio(library, theirs), 0.5, `${fmt(median(library))} vs ${fmt(median(theirs))}`);
  if (bwrap) {
    results.medians_ms.container_bwrap = median(bwrap);
    results.ratios.container_vs_bwrap = Number(pairedRatio(cli, bwrap).toFixed(3));
    console.log(`  (bwrap --unshare-all: ${fmt(median(bwrap))}; ns-run/bwrap ${results.ratios.container_vs_bwrap})`);
  }
}

/**
 * oci_lifecycle_vs_runc: create + start + wait for the exit + delete of one busybox bundle
 * (`runc spec`, the program /bin/true), ns-run-oci / runc, each with a --root of its own.
 */
async function ociSection() {
  if (!have('runc')) return skip('oci_lifecycle_vs_runc', 'runc is not installed');
  if (!fs.existsSync('/bin/busybox')) return skip('oci_lifecycle_vs_runc', 'busybox-static is not installed');
  const ours = path.join(root, 'packages/ns-run/bin/ns-run-oci');
  if (!fs.existsSync(path.join(root, 'packages/ns-run/dist/src/oci/cli.js'))) return skip('oci_lifecycle_vs_runc', 'ns-run-oci is not built');
  const rootfs = busyboxRootfs();
  const bundle = path.join(build, 'oci-bundle');
  fs.rmSync(bundle, { recursive: true, force: true });
  fs.mkdirSync(bundle, { recursive: true });
  spawnSync('runc', ['spec'], { cwd: bundle });
  const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  spec.root = { path: rootfs, readonly: true };
  spec.process.args = ['/bin/true'];
  spec.process.terminal = false;
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
  let n = 0;
  const lifecycle = (name, argv) => ({ name, async once() {
    const id = `nstools-bench-oci-${process.pid}-${n++}`;
    const state = path.join(build, `oci-state-${name}`);
    const call = (...args) => spawnSync(argv[0], [...argv.slice(1), '--root', state, ...args], { stdio: 'ignore' });
    const t0 = process.hrtime.bigint();
    if (call('create', '--bundle', bundle, id).status !== 0) throw new Error(`${name} create failed`);
    if (call('start', id).status !== 0) throw new Error(`${name} start failed`);
    const deadline = Date.now() + 5000;
    for (;;) {
      const r = spawnSync(argv[0], [...argv.slice(1), '--root', state, 'state', id], { encoding: 'utf8' });
      if (JSON.parse(r.stdout).status === 'stopped') break;
      if (Date.now() > deadline) throw new Error(`${name}: ${id} did not stop`);
    }
    if (call('delete', id).status !== 0) throw new Error(`${name} delete failed`);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  }, close() {} });
  const samples = await interleave([lifecycle('ns-run-oci', [ours]), lifecycle('runc', ['runc'])], ROUNDS.container, 2);
  results.medians_ms.oci_lifecycle_ns_run_oci = median(samples[0]);
  results.medians_ms.oci_lifecycle_runc = median(samples[1]);
  record('oci_lifecycle_vs_runc', pairedRatio(samples[0], samples[1]), 2.0, `${fmt(median(samples[0]))} vs ${fmt(median(samples[1]))}`);
  await podmanRunSection(ours, rootfs);
}

/**
 * podman_run_vs_crun: `podman run --rm IMAGE true` with ns-run-oci / with runc, the same podman
 * in the same run (crun 1.8 refuses this host's hybrid cgroup layout, so runc stands in as the
 * issue allows). podman's own root, runroot, tmpdir and containers.conf under bench/build
 * (default ulimits this machine's root may set, the runtime named in [engine.runtimes]).
 */
async function podmanRunSection(ours, rootfs) {
  if (!have('podman')) return skip('podman_run_vs_crun', 'podman is not installed');
  const dir = path.join(build, 'podman-oci');
  const conf = path.join(dir, 'containers.conf');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(conf, ['[containers]', 'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]', '[engine]', 'cgroup_manager = "cgroupfs"',
    'events_logger = "file"', '[engine.runtimes]', `ns-run-oci = ["${ours}"]`, ''].join('\n'));
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const base = ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'runroot'), '--tmpdir', path.join(dir, 'tmp'), '--storage-driver', 'vfs'];
  const image = 'localhost/nstools-bench-oci:latest';
  const podman = (args, opts = {}) => spawnSync('podman', [...base, ...args], { env, stdio: 'ignore', ...opts });
  const tar = spawnSync('tar', ['-C', rootfs, '-c', '.'], { maxBuffer: 64 << 20 });
  if (podman(['import', '-', image], { input: tar.stdout, stdio: ['pipe', 'ignore', 'ignore'] }).status !== 0) throw new Error('bench: podman import failed');
  const runWith = (runtime) => ({ name: runtime, async once() {
    const t0 = process.hrtime.bigint();
    const r = podman(['--runtime', runtime, 'run', '--rm', '--network', 'none', image, 'true']);
    if (r.status !== 0) throw new Error(`podman run with ${runtime} failed (exit ${r.status})`);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  }, close() {} });
  try {
    const samples = await interleave([runWith('ns-run-oci'), runWith('runc')], ROUNDS.container, 1);
    results.medians_ms.podman_run_ns_run_oci = median(samples[0]);
    results.medians_ms.podman_run_runc = median(samples[1]);
    record('podman_run_vs_crun', pairedRatio(samples[0], samples[1]), 1.2, `${fmt(median(samples[0]))} vs ${fmt(median(samples[1]))} (runc)`);
  } finally {
    podman(['rm', '-af']);
    podman(['rmi', '-af']);
    // podman's vfs layers and shm mounts under its root go before the directory does
    const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && m.startsWith(dir));
    for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * network_attach_vs_podman (bench/network.js): a server container started on a user network
 * until another container gets its first answer by the server's name, ns-run vs podman with
 * runc. In a network namespace of its own, so neither engine's bridge, rules or sysctls reach
 * the host's.
 */
/** Where podman 4 looks for CNI plugins (its containers.conf cni_plugin_dirs default). */
const CNI_PLUGIN_DIRS = ['/usr/local/libexec/cni', '/usr/libexec/cni', '/usr/local/lib/cni', '/usr/lib/cni', '/opt/cni/bin'];

async function networkSection() {
  if (!have('podman')) return skip('network_attach_vs_podman', 'podman is not installed');
  if (!have('runc')) return skip('network_attach_vs_podman', 'runc is not installed');
  if (!fs.existsSync('/bin/busybox')) return skip('network_attach_vs_podman', 'busybox-static is not installed');
  // podman 4's CNI networks resolve container names only with the dnsname plugin: without it
  // podman's client would ask for the server's name forever.
  if (!CNI_PLUGIN_DIRS.some((dir) => fs.existsSync(path.join(dir, 'dnsname')))) {
    return skip('network_attach_vs_podman', 'the CNI dnsname plugin (golang-github-containernetworking-plugin-dnsname) is not installed');
  }
  if (!fs.existsSync(path.join(root, 'packages/ns-run/dist/src/runner/network.js'))) return skip('network_attach_vs_podman', 'ns-run is not built');
  const out = path.join(build, 'network-section.json');
  fs.mkdirSync(build, { recursive: true });
  fs.rmSync(out, { force: true });
  const r = spawnSync('unshare', ['--net', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, path.join(__dirname, 'network.js'), out,
    String(quick ? 3 : 10)], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`bench: the network section failed (exit ${r.status})`);
  const part = JSON.parse(fs.readFileSync(out, 'utf8'));
  Object.assign(results.medians_ms, part.medians_ms);
  record('network_attach_vs_podman', part.ratio, 0.5, part.detail);
}

/**
 * A docker archive of busybox plus a 50 MB layer, made once with podman (a throwaway vfs
 * root under bench/build, so the host's podman storage is untouched): podman import of the
 * busybox rootfs, a build that COPYs 50 MB of random bytes on top, podman save.
 */
function imageArchive() {
  const out = path.join(build, 'image-busybox-50m.tar');
  if (fs.existsSync(out)) return out;
  const dir = path.join(build, 'image-src');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'ctx'), { recursive: true });
  const podman = ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'runroot'), '--storage-driver', 'vfs'];
  const must = (argv) => {
    const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`bench: ${argv.join(' ')}: ${r.stderr}`);
  };
  must(['tar', '-C', busyboxRootfs(), '-cf', path.join(dir, 'rootfs.tar'), '.']);
  must(['podman', ...podman, 'import', path.join(dir, 'rootfs.tar'), 'localhost/bench-busybox:base']);
  fs.writeFileSync(path.join(dir, 'ctx/big'), require('node:crypto').randomBytes(50_000_000));
  fs.writeFileSync(path.join(dir, 'ctx/Containerfile'), 'FROM localhost/bench-busybox:base\nCOPY big /big\nCMD ["/bin/sh"]\n');
  must(['podman', ...podman, 'build', '-q', '-t', 'localhost/bench-busybox:50m', path.join(dir, 'ctx')]);
  must(['podman', ...podman, 'save', '--format', 'docker-archive', '-o', out, 'localhost/bench-busybox:50m']);
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}

/**
 * image_load_vs_podman: `ns-run load -i` against `podman load -i`, each into a store of its
 * own made fresh for every run (the library call alone, bench/image-load.js, for information). Before each
 * run (untimed) the file system is synced, so neither pays for the other's dirty pages, and
 * after it (untimed) the store is removed.
 * run_image_vs_podman: `ns-run run --rm IMAGE /bin/true` against `podman run --rm IMAGE
 * /bin/true` (runc: crun refuses this host's hybrid cgroup layout; cgroupfs), the busybox image
 * loaded once (untimed) into each one's throwaway store. Both with --network none: podman's
 * default bridge would change the host's links and firewall, which other runs on this machine
 * check, and ns-run's default veth is measured by network_attach_vs_podman.
 */
async function imageSection() {
  if (!have('podman')) return skip('image_load_vs_podman', 'podman is not installed');
  if (!fs.existsSync('/bin/busybox')) return skip('image_load_vs_podman', 'busybox-static is not installed');
  if (!fs.existsSync(path.join(root, 'packages/ns-run/dist/src/runner/cli.js'))) return skip('image_load_vs_podman', 'ns-run is not built');
  const archive = imageArchive();
  // Short: podman refuses a --runroot longer than 50 characters.
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nsb-img-'));
  let n = 0;
  const fresh = (name, argvFor) => ({
    name,
    async once() {
      const dir = path.join(work, `run-${n++}`);
      spawnSync('sync');
      const ms = await new Command(name, argvFor(dir)).once();
      fs.rmSync(dir, { recursive: true, force: true });
      return ms;
    },
    close() {},
  });
  const ours = fresh('ns-run load', (dir) => [bin('ns-run'), 'load', '-q', '--storage', dir, '-i', archive]);
  const podman = fresh('podman load', (dir) => ['podman', '--root', `${dir}/root`, '--runroot', `${dir}/runroot`, 'load', '-q', '-i', archive]);
  // For information: the library call alone (bench/image-load.js), without the CLI's start-up.
  const lib = fresh('ns-image load', (dir) => [process.execPath, path.join(__dirname, 'image-load.js'), dir, archive]);
  try {
    const [a, b, c] = await interleave([ours, podman, lib], ROUNDS.image, 2);
    results.medians_ms.image_load_ns_run = median(a);
    results.medians_ms.image_load_podman = median(b);
    results.medians_ms.image_load_ns_image = median(c);
    results.ratios.image_load_library_vs_podman = Number(pairedRatio(c, b).toFixed(3));
    record('image_load_vs_podman', pairedRatio(a, b), 0.5, `${fmt(median(a))} vs ${fmt(median(b))}`);
    console.log(`  (ns-image's loadImages() alone, bench/image-load.js: ${fmt(median(c))}; /podman ${results.ratios.image_load_library_vs_podman})`);
    await runImage(work);
  } finally {
    // podman's overlay mounts under its root go before the directory does.
    const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && m.startsWith(work));
    for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function runImage(work) {
  if (!have('runc')) return skip('run_image_vs_podman', 'runc is not installed');
  const image = 'localhost/nstools-bench-run:1';
  const conf = path.join(work, 'containers.conf');
  // Limits this machine's root can grant (no CAP_SYS_RESOURCE, a 20000 open-files hard limit),
  // as test-e2e's podman tests set them.
  fs.writeFileSync(conf, ['[containers]', 'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
    '[engine]', 'cgroup_manager = "cgroupfs"', 'events_logger = "none"', 'runtime = "runc"', ''].join('\n'));
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const podman = ['podman', '--root', `${work}/p/root`, '--runroot', `${work}/p/run`, '--tmpdir', `${work}/p/tmp`];
  const store = path.join(work, 'ns-run-store');
  const must = (argv, input) => {
    const r = spawnSync(argv[0], argv.slice(1), { env, encoding: 'utf8', ...(input ? { input } : {}), stdio: [input ? 'pipe' : 'ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`bench: ${argv.join(' ')}: ${r.stderr}`);
  };
  const tar = path.join(work, 'busybox.tar');
  const saved = path.join(work, 'busybox.docker.tar');
  must(['tar', '-C', busyboxRootfs(), '-cf', tar, '.']);
  must([...podman, 'import', '--change', 'CMD ["/bin/sh"]', tar, image]);
  must([...podman, 'save', '-q', '--format', 'docker-archive', '-o', saved, image]);
  must([bin('ns-run'), 'load', '-q', '--storage', store, '-i', saved]);
  try {
    const ours = new Command('ns-run run', [bin('ns-run'), 'run', '--rm', '--storage', store, '--network', 'none', image, '/bin/true']);
    const theirs = new Command('podman run', [...podman, 'run', '--rm', '--network', 'none', image, '/bin/true'], { env });
    const [a, b] = await interleave([ours, theirs], ROUNDS.container, 2);
    results.medians_ms.run_image_ns_run = median(a);
    results.medians_ms.run_image_podman = median(b);
    record('run_image_vs_podman', pairedRatio(a, b), 0.5, `${fmt(median(a))} vs ${fmt(median(b))}`);
  } finally {
    spawnSync(podman[0], [...podman.slice(1), 'rm', '-af'], { env, stdio: 'ignore' });
    spawnSync(podman[0], [...podman.slice(1), 'rmi', '-af'], { env, stdio: 'ignore' });
  }
}

function rssSection() {
  const peak = compileC('peakrss');
  const measure = (argv) => {
    const r = spawnSync(peak, argv, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    const m = /peakrss-kib (\d+)/.exec(r.stderr);
    if (r.status !== 0 || !m) throw new Error(`peak RSS of ${argv.join(' ')}: ${r.stderr}`);
    return Number(m[1]) / 1024;
  };
  const worst = [];
  if (fs.existsSync(path.join(root, 'packages/ns-run/dist/src/unshare/cli.js'))) {
    const mib = median([1, 2, 3].map(() => measure([bin('ns-unshare'), '-Urmuipf', '--mount-proc', 'true'])));
    results.medians_ms.rss_ns_unshare_mib = mib;
    worst.push(['ns-unshare', mib]);
  } else skip('cli_peak_rss_mib (ns-unshare)', 'ns-unshare is not built');
  if (fs.existsSync(path.join(root, 'packages/ns-run/dist/src/runner/cli.js')) && fs.existsSync('/bin/busybox')) {
    const mib = median([1, 2, 3].map(() => measure([bin('ns-run'), '--rootfs', busyboxRootfs(), '--network', 'none', '--', '/bin/true'])));
    results.medians_ms.rss_ns_run_mib = mib;
    worst.push(['ns-run', mib]);
  } else skip('cli_peak_rss_mib (ns-run)', 'ns-run is not built');
  if (worst.length) {
    const [name, mib] = worst.sort((a, b) => b[1] - a[1])[0];
    results.ratios.cli_peak_rss_mib = Number(mib.toFixed(1));
    rows.push({ key: 'cli_peak_rss_mib', ratio: mib, target: 60, ok: mib <= 60, detail: `largest: ${name}` });
    console.log(`cli_peak_rss_mib           ${mib.toFixed(1).padStart(7)}  target <= 60  ${mib <= 60 ? 'met' : 'OVER TARGET'}  (largest: ${name})`);
  }
}

/** KiB of RSS of pid and every process below it, but for those named `except` (the program), once nothing is still on its way to what it stays as (node, nsx). */
function keptRssKib(pid, except) {
  return treeRssKib(pid, except, ['node', 'nsx']);
}

/** What `launcher -Urpf --mount-proc sleep` keeps in memory while sleep runs (sleep excluded), KiB. */
async function heldRss(launcher) {
  const child = spawn(launcher, ['-Urpf', '--mount-proc', 'sleep', '60'], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 500; i++) {
      const kib = keptRssKib(child.pid, 'sleep');
      if (kib !== undefined) return kib;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`${launcher}: sleep never started`);
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
  }
}

async function heldSection() {
  if (!fs.existsSync(path.join(root, 'packages/ns-run/dist/src/unshare/cli.js'))) return skip('held_rss_fork_vs_util_linux', 'ns-unshare is not built');
  const ours = [];
  const theirs = [];
  for (let i = 0; i < (quick ? 3 : 9); i++) {
    ours.push(await heldRss(bin('ns-unshare')));
    theirs.push(await heldRss('unshare'));
  }
  results.medians_ms.held_rss_ns_unshare_kib = median(ours);
  results.medians_ms.held_rss_unshare_kib = median(theirs);
  record('held_rss_fork_vs_util_linux', pairedRatio(ours, theirs), 0.5, `${median(ours)} KiB vs ${median(theirs)} KiB`);
}

/** KiB of RSS of pid and every process below it but `except`, once `except` runs and none is named in `busy` (undefined before). */
function treeRssKib(pid, except, busy = []) {
  const comm = (p) => { try { return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim(); } catch { return ''; } };
  const children = (p) => { try { return fs.readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number); } catch { return []; } };
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...children(all[i]));
  if (!all.some((p) => comm(p) === except) || all.some((p) => busy.includes(comm(p)))) return undefined;
  return all.filter((p) => comm(p) !== except)
    .reduce((sum, p) => sum + Number(/^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0), 0);
}

/**
 * What a running container keeps in memory besides its program (sleep), KiB:
 * held_rss_container_kib for a foreground `ns-run --network none -- sleep` (every process of
 * the runner's tree: while Node stays with a foreground container, its RSS counts), and
 * held_rss_detached_kib for `ns-run -d` (the C supervisor's tree: no Node process stays).
 */
async function heldContainerSection() {
  if (!fs.existsSync(path.join(root, 'packages/ns-run/dist/src/runner/cli.js'))) return skip('held_rss_container_kib', 'ns-run is not built');
  const rootfs = busyboxRootfs();
  if (!fs.existsSync(path.join(rootfs, 'bin/sleep'))) fs.symlinkSync('busybox', path.join(rootfs, 'bin/sleep'));
  const settle = async (measure) => {
    for (let i = 0; i < 500; i++) {
      const kib = measure();
      if (kib !== undefined) return kib;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('sleep never started');
  };
  const foreground = [];
  const detached = [];
  for (let i = 0; i < (quick ? 3 : 9); i++) {
    const child = spawn(bin('ns-run'), ['--network', 'none', '--rootfs', rootfs, '--', 'sleep', '60'], { stdio: 'ignore' });
    try {
      // ns-run becomes its supervisor on the way; measured once the tree has stopped changing.
      await settle(() => treeRssKib(child.pid, 'sleep'));
      await new Promise((r) => setTimeout(r, 300));
      foreground.push(treeRssKib(child.pid, 'sleep'));
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
    }
    const name = `nstools-bench-held-${process.pid}-${i}`;
    const started = spawnSync(bin('ns-run'), ['run', '-d', '--name', name, '--network', 'none', '--rootfs', rootfs, '--', 'sleep', '60'], { encoding: 'utf8' });
    if (started.status !== 0) throw new Error(`ns-run -d: ${started.stderr}`);
    try {
      const state = JSON.parse(fs.readFileSync(`/run/ns-run/containers/${name}.json`, 'utf8'));
      detached.push(await settle(() => treeRssKib(state.supervisor.pid, 'sleep')));
    } finally {
      spawnSync(bin('ns-run'), ['rm', '-f', name]);
    }
  }
  record('held_rss_container_kib', median(foreground), 4096, `${median(foreground)} KiB kept by a foreground ns-run (its C supervisor, relay and init: no Node stays), sleep excluded`);
  record('held_rss_detached_kib', median(detached), 4096, `${median(detached)} KiB kept by ns-run -d's supervisor tree, sleep excluded`);
}

function writeOutputs() {
  fs.writeFileSync(path.join(__dirname, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const table = [
    '| key | value | target | status | detail |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| \`${r.key}\` | ${r.ratio.toFixed(3)} | <= ${r.target} | ${r.ok ? 'met' : '**over target**'} | ${r.detail} |`),
    ...results.skipped.map((s) => `| \`${s.key}\` | - | - | skipped | ${s.why} |`),
  ].join('\n');
  const readme = path.join(__dirname, 'README.md');
  const text = fs.readFileSync(readme, 'utf8');
  const begin = '<!-- results:begin -->';
  const end = '<!-- results:end -->';
  const stamp = `Last run: ${results.date}, kernel ${results.host.kernel}, Node ${results.host.node}, ${results.host.cpus} CPUs${quick ? ' (--quick)' : ''}.`;
  if (text.includes(begin)) {
    fs.writeFileSync(readme, text.replace(new RegExp(`${begin}[\\s\\S]*${end}`), `${begin}\n${stamp}\n\n${table}\n${end}`));
  }
}

(async () => {
  const started = Date.now();
  const sectionOut = process.argv[process.argv.indexOf('--container-section') + 1];
  if (process.argv.includes('--held-container-section')) {
    await heldContainerSection();
    return;
  }
  if (process.argv.includes('--lines-child')) {
    await cliSection();
    const out = process.argv[process.argv.indexOf('--lines-child') + 1];
    fs.writeFileSync(out, JSON.stringify({ node: process.version, medians_ms: results.medians_ms, skipped: results.skipped, rows }));
    return;
  }
  if (process.argv.includes('--container-section')) {
    await containerSection();
    fs.writeFileSync(sectionOut, JSON.stringify({ ratios: results.ratios, medians_ms: results.medians_ms, skipped: results.skipped, rows }));
    return;
  }
  const sections = { spawn: spawnSection, cli: cliSection, lines: linesSection, net: netSection, container: containerSection, oci: ociSection,
    network: networkSection, image: imageSection, held: heldSection, 'held-container': heldContainerSection, rss: rssSection };
  // `--section NAME` (repeatable) runs only those, for a quick look while working: it prints,
  // and leaves results.json and the README table as the last full run wrote them.
  const only = process.argv.flatMap((a, i) => (process.argv[i - 1] === '--section' ? [a] : []));
  const unknown = only.filter((name) => !(name in sections));
  if (unknown.length) throw new Error(`unknown --section ${unknown.join(', ')}; sections: ${Object.keys(sections).join(' ')}`);
  for (const [name, section] of Object.entries(sections)) {
    if (!only.length || only.includes(name)) await section();
  }
  if (only.length) {
    for (const r of rows) console.log(`${r.key}\t${r.ratio.toFixed(3)}\t<= ${r.target}\t${r.ok ? 'met' : 'over target'}\t${r.detail}`);
    for (const s of results.skipped) console.log(`${s.key}\tskipped\t${s.why}`);
    return;
  }
  writeOutputs();
  const over = rows.filter((r) => !r.ok).map((r) => r.key);
  console.log(`\nwrote bench/results.json in ${((Date.now() - started) / 1000).toFixed(0)} s; ${over.length ? `over target: ${over.join(', ')}` : 'every target met'}`);
})().catch((e) => {
  console.error(`bench: ${e.stack || e}`);
  process.exit(1);
});
