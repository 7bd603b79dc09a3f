/**
 * ns-run-oci's hooks (config.md), each a script that writes what it was given to a file:
 * the state JSON on its stdin, its argv, the mount namespace it ran in. Checked from outside:
 * the order over create/start/delete, each status, the pid the engine was told, which hooks
 * ran in the container's namespaces; a failing or timed-out hook fails create and leaves
 * nothing; a failing poststop is a warning.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxRootfs } from 'ns-test-kit';
import { ROOT } from './cli';

const OURS = join(ROOT, 'packages/ns-run/bin/ns-run-oci');

describe('ns-run-oci: hooks', function () {
  this.timeout(60000);
  let work: string;
  let root: string;
  let out: string;

  function oci(args: readonly string[]) {
    const r = spawnSync(OURS, ['--root', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  function bundle(hooks: Record<string, unknown>): void {
    rmSync(join(work, 'config.json'), { force: true });
    spawnSync('runc', ['spec', '--bundle', work]);
    const spec = JSON.parse(readFileSync(join(work, 'config.json'), 'utf8'));
    spec.process.terminal = false;
    spec.process.args = ['sleep', '60'];
    spec.mounts.push({ destination: '/out', type: 'bind', source: out, options: ['rbind'] });
    spec.hooks = hooks;
    writeFileSync(join(work, 'config.json'), JSON.stringify(spec));
  }

  /** A hook that records, in DIR/NAME.*, its stdin, argv and mount namespace. */
  const hook = (name: string, dir: string, path: string) => ({ path, args: ['hook-argv0', name, dir] });

  before(() => {
    work = mkdtempSync(`/tmp/nstools-test-${process.pid}-ocihook-`);
    root = join(work, 'state');
    out = join(work, 'out');
    mkdirSync(out);
    busyboxRootfs({ dir: join(work, 'rootfs') });
    const script = '#!/bin/sh\ncat > "$2/$1.json"; echo "$0 $*" > "$2/$1.argv"; readlink /proc/self/ns/mnt > "$2/$1.mnt"; echo "$1" >> "$2/order"\n';
    // on the host (runtime namespace hooks, and createContainer, whose path resolves there), and in the root (startContainer's resolves in the container)
    writeFileSync(join(work, 'hook.sh'), script);
    chmodSync(join(work, 'hook.sh'), 0o755);
    writeFileSync(join(work, 'rootfs/bin/hook.sh'), script);
    chmodSync(join(work, 'rootfs/bin/hook.sh'), 0o755);
    writeFileSync(join(work, 'fail.sh'), '#!/bin/sh\necho "the hook says no" >&2\nexit 3\n');
    chmodSync(join(work, 'fail.sh'), 0o755);
  });
  after(() => {
    for (const id of ['h1', 'h2', 'h3', 'h4', 'h5']) oci(['delete', '--force', id]);
    rmSync(work, { recursive: true, force: true });
  });

  it('every kind, in the lifecycle\'s order, with the state on stdin; createContainer and startContainer in the container\'s mount namespace', () => {
    const h = join(work, 'hook.sh');
    bundle({
      // args[0] is the hook's argv[0]: busybox runs the applet it names
      prestart: [{ path: '/bin/busybox', args: ['sh', '-c', `cat > ${out}/prestart.json; echo prestart >> ${out}/order`] }], createRuntime: [hook('createRuntime', out, h)], createContainer: [hook('createContainer', out, h)],
      startContainer: [hook('startContainer', '/out', '/bin/hook.sh')], poststart: [hook('poststart', out, h)], poststop: [hook('poststop', out, h)],
    });
    const created = spawnSync(OURS, ['--root', root, 'create', '--bundle', work, '--pid-file', join(work, 'pid'), 'h1'], { stdio: 'ignore', timeout: 30000 });
    expect(created.status).to.equal(0);
    const pid = Number(readFileSync(join(work, 'pid'), 'utf8'));
    expect(readFileSync(join(out, 'order'), 'utf8')).to.equal('prestart\ncreateRuntime\ncreateContainer\n');
    const containerMnt = readlinkSync(`/proc/${pid}/ns/mnt`);
    expect(oci(['start', 'h1']).status).to.equal(0);
    expect(readFileSync(join(out, 'order'), 'utf8')).to.equal('prestart\ncreateRuntime\ncreateContainer\nstartContainer\npoststart\n');
    const del = oci(['delete', '--force', 'h1']);
    expect(del.status, del.stderr).to.equal(0);
    expect(readFileSync(join(out, 'order'), 'utf8').split('\n').at(-2)).to.equal('poststop');
    const state = (kind: string) => JSON.parse(readFileSync(join(out, `${kind}.json`), 'utf8'));
    const statuses = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'].map((k) => state(k).status);
    expect(statuses).to.deep.equal(['creating', 'creating', 'creating', 'created', 'running', 'stopped']);
    for (const k of ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart']) {
      expect(state(k), k).to.include({ id: 'h1', pid, bundle: work });
    }
    expect(readFileSync(join(out, 'createRuntime.argv'), 'utf8')).to.equal(`${h} createRuntime ${out}\n`);
    const hostMnt = readlinkSync('/proc/self/ns/mnt');
    expect(readFileSync(join(out, 'createRuntime.mnt'), 'utf8').trim()).to.equal(hostMnt);
    expect(readFileSync(join(out, 'poststop.mnt'), 'utf8').trim()).to.equal(hostMnt);
    expect(readFileSync(join(out, 'createContainer.mnt'), 'utf8').trim()).to.equal(containerMnt);
    expect(readFileSync(join(out, 'startContainer.mnt'), 'utf8').trim()).to.equal(containerMnt);
  });

  it('what each hook sees of the container, as runc (the reference) shows it: prestart, createRuntime and createContainer after the mounts, before pivot_root', () => {
    // Facts about the container's mount tree, seen through the init's /proc (the pid on stdin)
    // from the runtime's namespace, through the hook's own from the container's (runc gives
    // createContainer the init's pid in its own pid namespace, 1): is the root's host path
    // still under that root (not pivoted yet), is the container's /proc mounted there (the
    // mounts made), and which mount namespace the hook ran in. Not the status: runc 1.1 tells
    // poststart 'created' where ours (and the spec's lifecycle) says 'running'.
    const facts = join(work, 'facts.sh');
    writeFileSync(facts, [
      '#!/bin/sh',
      'state=$(cat); kind=$1; dir=$2; rootfs=$3; host_mnt=$4',
      'pid=$(echo "$state" | sed -n \'s/.*"pid": *\\([0-9]*\\).*/\\1/p\')',
      'if [ "$(readlink /proc/self/ns/mnt)" = "$host_mnt" ]; then mnt=runtime; who=$pid; else mnt=container; who=self; fi',
      '{',
      '  if [ -d "/proc/$who/root$rootfs/bin" ]; then echo root=host; else echo root=container; fi',
      '  if grep -q " $rootfs/proc " "/proc/$who/mountinfo"; then echo rootfs-proc=mounted; else echo rootfs-proc=absent; fi',
      '  echo "mnt=$mnt"',
      '} > "$dir/$kind.facts"',
      '',
    ].join('\n'));
    chmodSync(facts, 0o755);
    const kinds = ['prestart', 'createRuntime', 'createContainer', 'poststart'] as const;
    const rootfs = join(work, 'rootfs');
    const hostMnt = readlinkSync('/proc/self/ns/mnt');
    const seen: Record<string, Record<string, string>> = {};
    for (const [name, argv] of [['runc', ['runc']], ['ns-run-oci', [OURS]]] as const) {
      const dir = join(out, name);
      mkdirSync(dir, { recursive: true });
      bundle(Object.fromEntries(kinds.map((k) => [k, [{ path: facts, args: ['facts.sh', k, dir, rootfs, hostMnt] }]])));
      const rt = (args: readonly string[]) => spawnSync(argv[0], [...argv.slice(1), '--root', join(work, `state-${name}`), ...args], { stdio: 'ignore', timeout: 30000 }).status;
      const id = `hook-facts-${process.pid}`;
      try {
        expect(rt(['create', '--bundle', work, id]), `${name} create`).to.equal(0);
        expect(rt(['start', id]), `${name} start`).to.equal(0);
      } finally {
        expect(rt(['delete', '--force', id]), `${name} delete`).to.equal(0);
      }
      seen[name] = Object.fromEntries(kinds.map((k) => [k, readFileSync(join(dir, `${k}.facts`), 'utf8').trim().replace(/\n/g, ' ')]));
    }
    expect(seen['ns-run-oci']).to.deep.equal(seen['runc']);
    // What the runtime spec says, so that the reference itself is checked.
    expect(seen['runc']).to.deep.equal({
      prestart: 'root=host rootfs-proc=mounted mnt=runtime',
      createRuntime: 'root=host rootfs-proc=mounted mnt=runtime',
      createContainer: 'root=host rootfs-proc=mounted mnt=container',
      poststart: 'root=container rootfs-proc=absent mnt=runtime',
    });
  });

  it('run (create and start in one) stops at the same hook point: createRuntime sees the container\'s /proc mounted, the program then runs', () => {
    const rootfs = join(work, 'rootfs');
    const script = join(work, 'run-hook.sh');
    writeFileSync(script, `#!/bin/sh\npid=$(sed -n 's/.*"pid": *\\([0-9]*\\).*/\\1/p')\ngrep -c " ${rootfs}/proc " /proc/$pid/mountinfo > "${out}/run-hook.count"\n`);
    chmodSync(script, 0o755);
    bundle({ createRuntime: [{ path: script }] });
    const spec = JSON.parse(readFileSync(join(work, 'config.json'), 'utf8'));
    spec.process.args = ['sh', '-c', 'exit 4'];
    writeFileSync(join(work, 'config.json'), JSON.stringify(spec));
    const r = spawnSync(OURS, ['--root', root, 'run', '--bundle', work, 'h5'], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], timeout: 30000 });
    expect(r.status, r.stderr).to.equal(4);
    expect(readFileSync(join(out, 'run-hook.count'), 'utf8').trim()).to.equal('1');
    expect(existsSync(join(root, 'h5'))).to.equal(false);
  });

  it('a failing createContainer hook and a timed-out createRuntime hook fail create, naming the hook; nothing is left', () => {
    bundle({ createContainer: [{ path: join(work, 'fail.sh') }] });
    const failed = oci(['create', '--bundle', work, 'h2']);
    expect(failed.status).to.not.equal(0);
    expect(failed.stderr, failed.stderr).to.include(`hooks.createContainer[0] (${join(work, 'fail.sh')}) exited with status 3: the hook says no`);
    const seconds = String(90000 + (process.pid % 10000));
    bundle({ createRuntime: [{ path: '/bin/sleep', args: ['sleep', seconds], timeout: 1 }] });
    const started = Date.now();
    const timedOut = oci(['create', '--bundle', work, 'h3']);
    expect(timedOut.status).to.not.equal(0);
    expect(timedOut.stderr).to.include('hooks.createRuntime[0] (/bin/sleep) timed out after 1 s');
    expect(Date.now() - started).to.be.below(15000);
    expect(existsSync(root) ? readdirSync(root) : []).to.deep.equal([]);
    expect(spawnSync('pgrep', ['-f', `^sleep ${seconds}$`]).status, 'no hook left').to.equal(1);
  });

  it('a failing poststop hook is a warning: delete succeeds; a relative hook path is refused, naming the field', () => {
    bundle({ poststop: [{ path: join(work, 'fail.sh') }] });
    expect(spawnSync(OURS, ['--root', root, 'create', '--bundle', work, 'h4'], { stdio: 'ignore', timeout: 30000 }).status).to.equal(0);
    const del = oci(['delete', '--force', 'h4']);
    expect(del.status, del.stderr).to.equal(0);
    expect(del.stderr).to.include('warning: hooks.poststop[0]');
    bundle({ prestart: [{ path: 'hook.sh' }] });
    const bad = oci(['create', '--bundle', work, 'h4']);
    expect(bad.status).to.not.equal(0);
    expect(bad.stderr).to.include('hooks.prestart[0].path: expected an absolute path');
  });
});
