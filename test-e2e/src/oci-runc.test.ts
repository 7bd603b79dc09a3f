/**
 * ns-run-oci against runc, differentially: the same hand-made bundle (`runc spec` on a busybox
 * root), each runtime with its own --root, driven through the same lifecycle, compared by
 * exit status and state, and checked from outside (the process in --pid-file, what is left
 * under --root).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxRootfs, waitFor } from 'ns-test-kit';
import { ROOT } from './cli';
import { bundleWith } from './oci-bundle';

const OURS = join(ROOT, 'packages/ns-run/bin/ns-run-oci');

interface Runtime { readonly name: string; readonly argv: readonly string[]; readonly root: string }

function call(rt: Runtime, args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(rt.argv[0]!, [...rt.argv.slice(1), '--root', rt.root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** create with the container's stdio away from ours (it keeps it open while it runs). */
function create(rt: Runtime, bundle: string, id: string, pidFile: string): number | null {
  return spawnSync(rt.argv[0]!, [...rt.argv.slice(1), '--root', rt.root, 'create', '--bundle', bundle, '--pid-file', pidFile, id],
                   { stdio: 'ignore', timeout: 20000 }).status;
}

function state(rt: Runtime, id: string): Record<string, unknown> {
  const r = call(rt, ['state', id]);
  if (r.status !== 0) throw new Error(`${rt.name} state ${id}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe('ns-run-oci against runc: the lifecycle of one bundle', function () {
  this.timeout(120000);
  let work: string;
  let runtimes: Runtime[];
  before(() => {
    work = mkdtempSync(`/tmp/nstools-test-${process.pid}-oci-`);
    busyboxRootfs({ dir: join(work, 'rootfs') });
    runtimes = [
      { name: 'runc', argv: ['runc'], root: join(work, 'runc-root') },
      { name: 'ns-run-oci', argv: [OURS], root: join(work, 'ours-root') },
    ];
  });
  after(() => {
    for (const rt of runtimes) for (const id of existsSync(rt.root) ? readdirSync(rt.root) : []) call(rt, ['delete', '--force', id]);
    rmSync(work, { recursive: true, force: true });
  });

  it('create, start, start again, exec, delete while running, ps --format json, kill --all by name, kill when stopped, delete, delete again, delete --force: as runc', async () => {
    const bundle = bundleWith(work, ['sleep', '60']);
    const seen: Record<string, unknown[]> = {};
    for (const rt of runtimes) {
      const id = `nstools-oci-${process.pid}`;
      const pidFile = join(work, `${rt.name}.pid`);
      const steps: unknown[] = [];
      steps.push(['create', create(rt, bundle, id, pidFile)]);
      const created = state(rt, id);
      const pid = Number(readFileSync(pidFile, 'utf8'));
      expect(created['pid'], `${rt.name}: state pid is the pid file's`).to.equal(pid);
      // The parked program's own process: in the container's pid namespace already, not yet sleep.
      expect(readFileSync(`/proc/${pid}/status`, 'utf8'), rt.name).to.match(/NSpid:\s+\d+\s+1\n/);
      steps.push(['state', created['status'], Object.keys(created).sort()]);
      steps.push(['start', call(rt, ['start', id]).status === 0]);
      await waitFor(`${rt.name} running sleep`, () => readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep'));
      steps.push(['state', state(rt, id)['status']]);
      steps.push(['start again', call(rt, ['start', id]).status === 0]);
      const exec = call(rt, ['exec', id, 'sh', '-c', 'hostname; grep CapEff /proc/self/status; readlink /proc/1/exe; exit 4']);
      steps.push(['exec', exec.status, exec.stdout]);
      steps.push(['delete running', call(rt, ['delete', id]).status === 0]);
      const ps = call(rt, ['ps', '--format', 'json', id]);
      steps.push(['ps', ps.status, (JSON.parse(ps.stdout) as number[]).length]);
      expect(JSON.parse(ps.stdout), rt.name).to.deep.equal([pid]);
      steps.push(['kill --all KILL', call(rt, ['kill', '--all', id, 'KILL']).status === 0]);
      await waitFor(`${rt.name} stopped`, () => state(rt, id)['status'] === 'stopped');
      const stopped = state(rt, id);
      steps.push(['state', stopped['status'], stopped['pid']]);
      steps.push(['kill stopped', call(rt, ['kill', id, '15']).status === 0]);
      steps.push(['delete', call(rt, ['delete', id]).status === 0]);
      steps.push(['state deleted', call(rt, ['state', id]).status === 0]);
      steps.push(['delete again', call(rt, ['delete', id]).status === 0]);
      steps.push(['delete --force missing', call(rt, ['delete', '--force', id]).status === 0]);
      // Nothing of the container is left under --root.
      steps.push(['left', existsSync(rt.root) ? readdirSync(rt.root).filter((f) => f.startsWith(id)) : []]);
      seen[rt.name] = steps;
    }
    expect(seen['ns-run-oci']).to.deep.equal(seen['runc']);
    expect(seen['runc']).to.deep.include(['start again', false]);
    expect(seen['runc']).to.deep.include(['state', 'stopped', 0]);
  });

  it('a created container killed before start, then deleted: as runc', async () => {
    const bundle = bundleWith(work, ['true']);
    const seen: Record<string, unknown[]> = {};
    for (const rt of runtimes) {
      const id = `nstools-oci-kill-${process.pid}`;
      const steps: unknown[] = [['create', create(rt, bundle, id, join(work, `${rt.name}-k.pid`))], ['state', state(rt, id)['status']]];
      steps.push(['delete created', call(rt, ['delete', id]).status === 0]);
      steps.push(['state deleted', call(rt, ['state', id]).status === 0]);
      seen[rt.name] = steps;
    }
    expect(seen['ns-run-oci']).to.deep.equal(seen['runc']);
  });

  it('run of a program that ends at once: its exit status, as runc; nothing left under --root', () => {
    // The program may be gone (reaped) before spawn() returns: its process is named at the sync point.
    for (const [args, code] of [[['true'], 0], [['sh', '-c', 'exit 3'], 3]] as const) {
      const bundle = bundleWith(work, args);
      for (const rt of runtimes) {
        const id = `nstools-oci-run-${process.pid}`;
        const r = spawnSync(rt.argv[0]!, [...rt.argv.slice(1), '--root', rt.root, 'run', '--bundle', bundle, id], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], timeout: 20000 });
        expect(r.status, `${rt.name} run ${args.join(' ')}: ${r.stderr}`).to.equal(code);
        expect(existsSync(join(rt.root, id)), `${rt.name}: ${id} left`).to.equal(false);
      }
    }
  });

  it('a create that fails (a missing root) fails for both, leaving no state and no process', () => {
    const bundle = bundleWith(work, ['true'], (spec) => { spec.root.path = 'no-such-root'; });
    for (const rt of runtimes) {
      const id = `nstools-oci-bad-${process.pid}`;
      const status = create(rt, bundle, id, join(work, `${rt.name}-bad.pid`));
      expect(status, rt.name).to.not.equal(0);
      expect(call(rt, ['state', id]).status, rt.name).to.not.equal(0);
      expect(existsSync(rt.root) ? readdirSync(rt.root).filter((f) => f.startsWith(id)) : [], rt.name).to.deep.equal([]);
    }
    const ours = spawnSync(OURS, ['--root', runtimes[1]!.root, '--log', join(work, 'log.json'), '--log-format', 'json', 'create', '--bundle', bundle, 'x1'], { encoding: 'utf8' });
    expect(ours.status).to.equal(1);
    expect(ours.stderr).to.match(/^ns-run-oci create: .*no-such-root/);
    const last = JSON.parse(readFileSync(join(work, 'log.json'), 'utf8').trim().split('\n').pop()!);
    expect(last.level).to.equal('error');
    expect(last.msg).to.match(/no-such-root/);
  });
});

describe('ns-run-oci rootless (uid 65534, a single-id map of its own)', function () {
  this.timeout(60000);
  let work: string;
  before(() => {
    work = mkdtempSync(`/tmp/nstools-test-${process.pid}-oci-rootless-`);
    busyboxRootfs({ dir: join(work, 'rootfs') });
    bundleWith(work, ['sh', '-c', 'id -u; hostname; grep CapEff /proc/self/status; exit 7'], (spec) => {
      spec.linux.namespaces.push({ type: 'user' });
      spec.linux.uidMappings = [{ containerID: 0, hostID: 65534, size: 1 }];
      spec.linux.gidMappings = [{ containerID: 0, hostID: 65534, size: 1 }];
      spec.hostname = 'rootless-box';
      // As `runc spec --rootless` does: devpts cannot be given a gid the namespace does not map (EINVAL).
      for (const m of spec.mounts) m.options = (m.options ?? []).filter((o: string) => o !== 'gid=5');
    });
    spawnSync('chown', ['-R', '65534:65534', work]);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  const asNobody = (args: readonly string[]) => spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', OURS, '--root', join(work, 'state'), ...args],
                                                          { encoding: 'utf8', timeout: 20000, cwd: work });

  it('run: root inside, the hostname, runc spec\'s capabilities, the program\'s exit status; nothing left under --root', () => {
    const r = asNobody(['run', '--bundle', work, 'rl1']);
    expect(r.status, r.stderr).to.equal(7);
    expect(r.stdout.split('\n')).to.deep.equal(['0', 'rootless-box', 'CapEff:\t0000000020000420', '']);
    expect(readdirSync(join(work, 'state'))).to.deep.equal([]);
  });

  it('create, state, start, delete by an unprivileged user', async () => {
    const create = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', OURS, '--root', join(work, 'state'), 'create', '--bundle', work, 'rl2'],
                             { stdio: 'ignore', timeout: 20000 });
    expect(create.status).to.equal(0);
    expect(JSON.parse(asNobody(['state', 'rl2']).stdout).status).to.equal('created');
    expect(asNobody(['start', 'rl2']).status).to.equal(0);
    await waitFor('rl2 stopped', () => JSON.parse(asNobody(['state', 'rl2']).stdout).status === 'stopped');
    expect(asNobody(['delete', 'rl2']).status).to.equal(0);
    expect(readdirSync(join(work, 'state'))).to.deep.equal([]);
  });
});
