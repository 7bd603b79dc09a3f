#!/usr/bin/env node
// The install step of every nstools package with bins (its package.json `install` script:
// `node -e "require('ns-core/install-bins').installBins()"`; ns-core runs this file), in the
// package's directory, for the Node that installs it:
//
// 1. The bins run that Node, not `node` on PATH: a bin started with a PATH that holds no node
//    (cron, env -i, sudo's secure_path, systemd units) must still start. `#!/usr/bin/env -S
//    node --` becomes `#!NODE --`; a sh shim's `exec node --` becomes `exec 'NODE' --`.
//    (npm's own shims on POSIX are symlinks to the bin file, so the file is where to say it.)
// 2. Each CLI's V8 code cache (dist/bundle/BIN.<node version>-<arch>.cache, read by start.js)
//    is written by running the CLI once with that Node (WARM_UP), so that its start-up neither
//    parses nor compiles what that run compiled. A failed warm-up writes what it ran.
// 3. A global install (npm install -g) puts each bin's bash completion where bash-completion
//    looks for it: PREFIX/share/bash-completion/completions/BIN (npm installs bins and man pages
//    itself from package.json, completion it does not know).
//
// In a source checkout (the package has tsconfig.json) it changes nothing: the repository's
// bins stay as committed and `npm run build` writes the caches (scripts/build-bundles.js).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/**
 * The command each CLI's warm-up runs: a correct command line where one is harmless, else one
 * that fails after parsing and planning. {scratch}: a directory that does not exist; {dir}: the
 * scratch directory itself, with WARM_UP_FILES' files in it; {pid}:
 * this process (entering its namespaces changes nothing). Other CLIs: --version.
 */
const WARM_UP = {
  'ns-unshare': ['-Urmuipf', '--mount-proc', 'true'],
  'ns-enter': ['-t', '{pid}', '-a', 'true'],
  'ns-run': ['--rootfs', '{scratch}', '--network', 'none', '/bin/true'],
  // A create that compiles a whole container (runc spec's defaults and a seccomp filter), then
  // fails at the program check, before any process: podman runs Node only for create (the C
  // answers start, state, kill and delete), so that is the path worth caching.
  'ns-run-oci': ['--root', '{dir}/root', 'create', '--bundle', '{dir}/bundle', 'nstools-warm-up-{pid}'],
  'ns-ls': [],
  'ns-net': ['link', 'show'],
};

/** Files a warm-up needs in its scratch directory. */
const WARM_UP_FILES = {
  'ns-run-oci': (dir) => {
    const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
    const mount = (destination, type, options, source = type) => ({ destination, type, source, options });
    const config = {
      ociVersion: '1.0.2',
      process: {
        user: { uid: 0, gid: 0 }, args: ['/nstools-warm-up'], cwd: '/', env: ['PATH=/usr/bin:/bin'], noNewPrivileges: true,
        capabilities: { bounding: caps, effective: caps, permitted: caps },
        rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      },
      root: { path: 'rootfs', readonly: true },
      hostname: 'nstools-warm-up',
      mounts: [
        mount('/proc', 'proc', []), mount('/dev', 'tmpfs', ['nosuid', 'strictatime', 'mode=755', 'size=65536k']),
        mount('/dev/pts', 'devpts', ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620']),
        mount('/dev/shm', 'tmpfs', ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'], 'shm'),
        mount('/dev/mqueue', 'mqueue', ['nosuid', 'noexec', 'nodev']), mount('/sys', 'sysfs', ['nosuid', 'noexec', 'nodev', 'ro']),
      ],
      linux: {
        namespaces: ['pid', 'network', 'ipc', 'uts', 'mount'].map((type) => ({ type })),
        resources: { devices: [{ allow: false, access: 'rwm' }], pids: { limit: 64 } },
        seccomp: { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64'],
          syscalls: [{ names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' }] },
        maskedPaths: ['/proc/kcore'], readonlyPaths: ['/proc/sys'],
      },
    };
    fs.mkdirSync(path.join(dir, 'bundle/rootfs'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'bundle/config.json'), JSON.stringify(config));
  },
};

/** The file start.js reads the code cache of bundle `name` from, for `node`. */
function cacheFileFor(bundleDir, name, node) {
  const r = spawnSync(node, ['-p', 'process.version + "-" + process.arch'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${node} -p process.version failed (exit ${r.status ?? r.signal})`);
  return path.join(bundleDir, `${name}.${r.stdout.trim()}.cache`);
}

/**
 * Runs the bin once under `node` with NSTOOLS_CODE_CACHE_WRITE=1 (start.js then writes the
 * cache at exit, or just before the exec stage replaces the process). Returns the cache file.
 * @throws Error when no cache was written.
 */
function writeCodeCache(pkgDir, name, node = process.execPath) {
  const manifest = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  const out = cacheFileFor(path.join(pkgDir, 'dist/bundle'), name, node);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nstools-warm-up-'));
  try {
    WARM_UP_FILES[name]?.(scratch);
    const argv = (WARM_UP[name] ?? ['--version']).map((a) => a.replace('{pid}', String(process.pid))
      .replace('{scratch}', path.join(scratch, 'none')).replace('{dir}', scratch));
    fs.rmSync(out, { force: true });
    const env = { ...process.env, NSTOOLS_CODE_CACHE_WRITE: '1' };
    delete env.NODE_OPTIONS; // V8 flags are part of what a cache is valid for.
    const r = spawnSync(node, ['--', path.join(pkgDir, manifest.bin[name]), ...argv], { env, stdio: 'ignore', timeout: 60_000, cwd: scratch });
    if (!fs.existsSync(out)) throw new Error(`${name} ${argv.join(' ')} wrote no code cache (exit ${r.status ?? r.signal})`);
    return out;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** A path the kernel takes on a #! line (no blanks; BINPRM_BUF_SIZE is 256 bytes with the rest). */
const SHEBANG_SAFE = /^\/[^\s'"\\]{1,200}$/;
const shellQuote = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The bin's text, started by `node` rather than `node` from PATH. */
function pinnedBin(text, node) {
  const envLine = '#!/usr/bin/env -S node --\n';
  if (text.startsWith(envLine)) return SHEBANG_SAFE.test(node) ? `#!${node} --\n${text.slice(envLine.length)}` : text;
  return text.replace(/^(':' \/\/; (?:.*; )?)exec node -- "\$0" "\$@"$/m, (_, lead) => `${lead}exec ${shellQuote(node)} -- "$0" "$@"`);
}

function writeAtomically(file, text, mode) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode });
  fs.renameSync(tmp, file);
}

function installBins(pkgDir = process.cwd(), node = process.env.npm_node_execpath || process.execPath) {
  if (fs.existsSync(path.join(pkgDir, 'tsconfig.json'))) return;
  const manifest = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  for (const file of Object.values(manifest.bin ?? {})) {
    const p = path.join(pkgDir, file);
    const text = fs.readFileSync(p, 'utf8');
    const pinned = pinnedBin(text, node);
    if (pinned !== text) writeAtomically(p, pinned, fs.statSync(p).mode & 0o7777);
  }
  for (const name of Object.keys(manifest.nstools?.bundles ?? {})) {
    try {
      writeCodeCache(pkgDir, name, node);
    } catch (e) {
      // Only start-up time is lost: start.js compiles the bundle without a cache.
      console.error(`${manifest.name}: no code cache for ${name}: ${e.message}`);
    }
  }
  if (process.env.npm_config_global === 'true') installCompletions(pkgDir, manifest);
}

/** PREFIX/lib/node_modules/NAME -> PREFIX/share/bash-completion/completions/BIN. */
function installCompletions(pkgDir, manifest) {
  const prefix = path.resolve(pkgDir, '../../..');
  if (path.basename(path.dirname(pkgDir)) !== 'node_modules') return;
  const dir = path.join(prefix, 'share/bash-completion/completions');
  for (const name of Object.keys(manifest.bin ?? {})) {
    const from = path.join(pkgDir, 'completion', `${name}.bash`);
    if (!fs.existsSync(from)) continue;
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(from, path.join(dir, name));
  }
}

module.exports = { WARM_UP, installBins, pinnedBin, writeCodeCache };

if (require.main === module) installBins();
