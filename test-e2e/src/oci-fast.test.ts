/**
 * ns-run-oci's C fast path (ns-core native/oci.c: start, state, kill, delete answered from
 * ROOT/ID/fast) against its Node path (NSTOOLS_OCI_NODE=1, runtime.ts) and runc: the same
 * calls on the same kinds of containers give the same output, messages, log lines, exit
 * statuses and leftovers.
 */
import { expect } from 'chai';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { constants } from 'node:os';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxRootfs, waitFor } from 'ns-test-kit';
import { ROOT } from './cli';
import { bundleWith } from './oci-bundle';

const OURS = join(ROOT, 'packages/ns-run/bin/ns-run-oci');
const FAST = join(ROOT, 'packages/ns-core/build/ns-oci');

type Path = 'c' | 'node' | 'runc';

interface Result { readonly status: number | null; readonly stdout: string; readonly stderr: string }

function call(path: Path, root: string, args: readonly string[]): Result {
  const [file, env] = path === 'runc' ? ['runc', process.env] : [OURS, path === 'node' ? { ...process.env, NSTOOLS_OCI_NODE: '1' } : process.env];
  const r: SpawnSyncReturns<string> = spawnSync(file, ['--root', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20000, env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('ns-run-oci\'s C fast path against its Node path and runc', function () {
  this.timeout(120000);
  let work: string;
  const roots = (): Record<Path, string> => ({ c: join(work, 'c-root'), node: join(work, 'node-root'), runc: join(work, 'runc-root') });
  const create = (path: Path, bundle: string, id: string) =>
    spawnSync(path === 'runc' ? 'runc' : OURS, ['--root', roots()[path], 'create', '--bundle', bundle, id], { stdio: 'ignore', timeout: 20000 }).status;

  before(() => {
    work = mkdtempSync(`/tmp/nstools-test-${process.pid}-oci-fast-`);
    busyboxRootfs({ dir: join(work, 'rootfs') });
  });
  after(() => {
    for (const [path, root] of Object.entries(roots()) as [Path, string][]) {
      for (const id of existsSync(root) ? readdirSync(root) : []) call(path, root, ['delete', '--force', id]);
    }
    rmSync(work, { recursive: true, force: true });
  });

  it('is built, and create records the fast file it answers from', () => {
    expect(existsSync(FAST), FAST).to.equal(true);
    const bundle = bundleWith(work, ['true']);
    const id = `fast-file-${process.pid}`;
    expect(create('c', bundle, id)).to.equal(0);
    expect(readFileSync(join(roots().c, id, 'fast'), 'utf8').split('\n')[0]).to.equal('ns-run-oci-fast 1');
    expect(call('c', roots().c, ['delete', id]).status).to.equal(0);
    expect(readdirSync(roots().c)).to.deep.equal([]);
  });

  it('state: the same bytes from both paths while created, running and stopped (annotations that need escaping too)', async () => {
    const bundle = bundleWith(work, ['sleep', '60'], (spec) => {
      spec.annotations = { 'a"b\\c': 'line\nnext\ttab', plain: 'x' };
    });
    const id = `fast-state-${process.pid}`;
    const { c, node } = roots();
    expect(create('c', bundle, id)).to.equal(0);
    const both = () => [call('c', c, ['state', id]), call('node', c, ['state', id])];
    let [fast, slow] = both();
    expect(fast.status).to.equal(0);
    expect(fast.stdout).to.equal(slow.stdout);
    expect(JSON.parse(fast.stdout)).to.include({ status: 'created', id });
    expect(JSON.parse(fast.stdout).annotations).to.deep.equal({ 'a"b\\c': 'line\nnext\ttab', plain: 'x' });
    expect(call('c', c, ['start', id]).status).to.equal(0);
    [fast, slow] = both();
    expect(fast.stdout).to.equal(slow.stdout);
    expect(JSON.parse(fast.stdout).status).to.be.oneOf(['running', 'stopped']);
    expect(call('c', c, ['kill', id, 'KILL']).status).to.equal(0);
    await waitFor('stopped', () => JSON.parse(call('c', c, ['state', id]).stdout).status === 'stopped');
    [fast, slow] = both();
    expect(fast.stdout).to.equal(slow.stdout);
    expect(JSON.parse(fast.stdout).pid).to.equal(0);
    // Without its fast file the C hands the call to Node: the same answer still.
    unlinkSync(join(c, id, 'fast'));
    expect(call('c', c, ['state', id]).stdout).to.equal(slow.stdout);
    expect(call('c', c, ['delete', id]).status).to.equal(0);
    expect(existsSync(node) ? readdirSync(node) : []).to.deep.equal([]);
  });

  it('start twice, kill and delete in the wrong state, delete twice, delete --force of a missing id: the same messages from both paths, the same statuses as runc', async () => {
    const bundle = bundleWith(work, ['sleep', '60']);
    const seen: Partial<Record<Path, unknown[]>> = {};
    for (const path of ['c', 'node', 'runc'] as const) {
      const root = roots()[path];
      const id = `fast-life-${process.pid}`;
      const steps: unknown[] = [];
      const step = (name: string, args: readonly string[]) => {
        const r = call(path, root, args);
        // runc words its errors its own way: compared by status only.
        steps.push([name, r.status, path === 'runc' ? '' : r.stderr, r.stdout === '' ? '' : 'out']);
      };
      step('delete --force missing', ['delete', '--force', id]);
      step('state missing', ['state', id]);
      step('kill missing', ['kill', id, '9']);
      step('start missing', ['start', id]);
      steps.push(['create', create(path, bundle, id)]);
      step('delete created? no: kill by name', ['kill', id, 'sigcont']);
      step('start', ['start', id]);
      await waitFor(`${path} running`, () => JSON.parse(call(path, root, ['state', id]).stdout).status === 'running');
      step('start again', ['start', id]);
      step('delete running', ['delete', id]);
      // By name (PID 1 of its pid namespace, sleep would ignore TERM).
      step('kill KILL', ['kill', id, 'KILL']);
      await waitFor(`${path} stopped`, () => JSON.parse(call(path, root, ['state', id]).stdout).status === 'stopped');
      step('kill stopped', ['kill', id]);
      step('start stopped', ['start', id]);
      step('delete', ['delete', id]);
      step('delete again', ['delete', id]);
      step('state deleted', ['state', id]);
      steps.push(['left', existsSync(root) ? readdirSync(root) : []]);
      seen[path] = steps;
    }
    expect(seen.c).to.deep.equal(seen.node);
    const statuses = (s: unknown[] | undefined) => s!.map((x) => (x as unknown[]).slice(0, 2));
    expect(statuses(seen.c)).to.deep.equal(statuses(seen.runc));
    expect(seen.c).to.deep.include(['start again', 1, `ns-run-oci start: cannot start a container that is running: fast-life-${process.pid}\n`, '']);
  });

  it('delete --force of a created and of a running container kills it and leaves nothing (its cgroups in every hierarchy too)', () => {
    const bundle = bundleWith(work, ['sleep', '60']);
    const { c } = roots();
    for (const started of [false, true]) {
      const id = `fast-force-${started ? 'running' : 'created'}-${process.pid}`;
      expect(create('c', bundle, id)).to.equal(0);
      const state = JSON.parse(call('c', c, ['state', id]).stdout) as { pid: number };
      const made = readFileSync(join(c, id, 'fast'), 'utf8').split('\n').filter((l) => l.startsWith('made ')).map((l) => l.slice(5));
      expect(made.length).to.be.greaterThan(0);
      if (started) expect(call('c', c, ['start', id]).status).to.equal(0);
      const r = call('c', c, ['delete', '--force', id]);
      expect(r.status, r.stderr).to.equal(0);
      // Gone, or a zombie its reaper has not waited for yet: no longer running either way.
      expect(existsSync(`/proc/${state.pid}`) ? readFileSync(`/proc/${state.pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] : 'gone', `${id}: its process`).to.be.oneOf(['gone', 'Z']);
      for (const dir of made) expect(existsSync(dir), dir).to.equal(false);
      expect(existsSync(join(c, id))).to.equal(false);
    }
  });

  it('a paused container: paused to both paths; delete --force goes to Node, which thaws and kills it', () => {
    const bundle = bundleWith(work, ['sleep', '60']);
    const { c } = roots();
    const id = `fast-paused-${process.pid}`;
    expect(create('c', bundle, id)).to.equal(0);
    expect(call('c', c, ['start', id]).status).to.equal(0);
    expect(call('c', c, ['pause', id]).status).to.equal(0);
    const fast = call('c', c, ['state', id]);
    expect(fast.stdout).to.equal(call('node', c, ['state', id]).stdout);
    expect(JSON.parse(fast.stdout).status).to.equal('paused');
    const refused = call('c', c, ['delete', id]);
    expect(refused.stderr).to.equal(`ns-run-oci delete: cannot delete container ${id} that is not stopped: paused\n`);
    expect(call('c', c, ['delete', '--force', id]).status).to.equal(0);
    expect(existsSync(join(c, id))).to.equal(false);
  });

  it('--log --log-format json|text: the same log line from both paths (containerd reads its msg)', () => {
    const lines: Record<string, string[]> = {};
    for (const path of ['c', 'node'] as const) {
      for (const format of ['json', 'text']) {
        const log = join(work, `${path}-${format}.log`);
        const r = call(path, roots()[path], ['--log', log, '--log-format', format, 'kill', 'no-such-id', 'KILL']);
        expect(r.status).to.equal(1);
        (lines[path] ??= []).push(readFileSync(log, 'utf8').replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/, 'TIME'));
      }
    }
    expect(lines['c']).to.deep.equal(lines['node']);
    expect(JSON.parse(lines['c']![0]!)).to.deep.equal({ level: 'error', msg: 'container does not exist: no-such-id', time: 'TIME' });
  });

  it('a container with a poststop hook has no fast file: Node runs its calls (and the hook)', () => {
    const out = join(work, 'poststop-ran');
    const bundle = bundleWith(work, ['true'], (spec) => { spec.hooks = { poststop: [{ path: '/bin/sh', args: ['sh', '-c', `echo ran > ${out}`] }] }; });
    const { c } = roots();
    const id = `fast-hooks-${process.pid}`;
    expect(create('c', bundle, id)).to.equal(0);
    expect(existsSync(join(c, id, 'fast'))).to.equal(false);
    expect(call('c', c, ['delete', '--force', id]).status).to.equal(0);
    expect(readFileSync(out, 'utf8')).to.equal('ran\n');
  });

  it('waits for the lock on ROOT/ID that another call holds, as the Node path does', async () => {
    const bundle = bundleWith(work, ['true']);
    const { c } = roots();
    const id = `fast-lock-${process.pid}`;
    expect(create('c', bundle, id)).to.equal(0);
    // flock(1) on the directory itself, held until its stdin closes.
    const holder = spawn('flock', [join(c, id), 'sh', '-c', 'echo held; read x'], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((resolve) => holder.stdout!.once('data', resolve));
    const waiting = spawn(OURS, ['--root', c, 'state', id], { stdio: ['ignore', 'pipe', 'inherit'] });
    let done = false;
    const exited = new Promise<number | null>((resolve) => waiting.once('exit', (code) => { done = true; resolve(code); }));
    await new Promise((r) => setTimeout(r, 300));
    expect(done, 'state returned while the lock was held').to.equal(false);
    holder.stdin!.end();
    expect(await exited).to.equal(0);
    expect(call('c', c, ['delete', '--force', id]).status).to.equal(0);
  });

  it('knows exactly the signal names Node does (what it does not know goes to Node)', () => {
    const source = readFileSync(join(ROOT, 'packages/ns-core/native/oci.c'), 'utf8');
    const table = [...source.matchAll(/\{"(SIG[A-Z0-9]+)", (\d+)\}/g)].map((m) => [m[1], Number(m[2])]);
    expect(Object.fromEntries(table)).to.deep.equal({ ...constants.signals });
    expect(call('c', roots().c, ['kill', 'no-such-id', 'NOSUCH']).stderr).to.equal(call('node', roots().c, ['kill', 'no-such-id', 'NOSUCH']).stderr);
  });
});
