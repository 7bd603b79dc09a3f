/**
 * How ns-ls arranges rows (lsns' show_namespaces / show_namespace_processes) for namespaces
 * given here, so the tree rules are pinned without a machine that has such namespaces; the
 * e2e suite compares the same code with util-linux lsns on real ones.
 */
import { expect } from 'chai';
import { Filter } from '../src/cli-kit/filter';
import type { NamespaceEntry, ProcessEntry } from '../src/ls';
import { lsTable, type LsColumn, type LsView } from '../src/ls-view';

/** Pids far above pid_max: commandOf() finds nothing for the processes that are not a namespace's lowest. */
const P = (pid: number, ppid: number): ProcessEntry => ({ pid: 5_000_000 + pid, ppid: 5_000_000 + ppid, uid: 0 });

function ns(id: number, type: NamespaceEntry['type'], procs: ProcessEntry[], rel: { pns?: number; ons?: number; nsfs?: string[] } = {}): NamespaceEntry {
  const lowest = [...procs].sort((a, b) => a.pid - b.pid)[0];
  return {
    ns: id, type, nprocs: procs.length, pid: lowest?.pid ?? null, ppid: lowest?.ppid ?? null, uid: 0, user: 'root',
    command: lowest ? `cmd${lowest.pid - 5_000_000}` : null, pns: rel.pns ?? 0, ons: rel.ons ?? 0, netnsid: null,
    nsfs: rel.nsfs ?? [], processes: procs,
  };
}

interface Node {
  ns?: number;
  pid?: number;
  command?: string | null;
  children?: Node[];
}

function tree(entries: NamespaceEntry[], view: Partial<LsView> & { columns: LsColumn[] }): unknown {
  const json = lsTable(entries, { format: 'json', ...view }).render();
  const strip = (n: Node): unknown => {
    const key = n.ns ?? (n.pid! - 5_000_000);
    return n.children ? { [String(key)]: n.children.map(strip) } : key;
  };
  return (JSON.parse(json) as { namespaces: Node[] }).namespaces.map(strip);
}

// A user namespace 10 owning 20 (net) and 30 (user, child of 10) which owns 40 (pid, child of
// 50); 50 is the root pid namespace, owned by 10. Processes: 1 everywhere at the root, 2 (child
// of 1) in 20, 3 (child of 2) in 30 and 40.
const p1 = P(1, 0);
const p2 = P(2, 1);
const p3 = P(3, 2);
const WORLD = [
  ns(10, 'user', [p1, p2]),
  ns(20, 'net', [p2], { ons: 10 }),
  ns(30, 'user', [p3], { pns: 10, ons: 10 }),
  ns(40, 'pid', [p3], { pns: 50, ons: 30 }),
  ns(50, 'pid', [p1, p2], { ons: 10 }),
];

describe('ns-ls rows: the trees lsns draws', () => {
  it('process tree: a namespace under the last row of its lowest process\'s parent', () => {
    // 50's lowest is 1 (a root); 20's lowest 2 is 1's child: under 1's last row so far, 10.
    // 30 and 40 (lowest 3, child of 2) go under 2's row, 20.
    expect(tree(WORLD, { columns: ['NS', 'COMMAND'], tree: 'process' })).to.deep.equal([{ 10: [{ 20: [30, 40] }] }, 50]);
  });

  it('owner tree: each namespace under its owning user namespace', () => {
    expect(tree(WORLD, { columns: ['NS', 'TYPE'], tree: 'owner' })).to.deep.equal([{ 10: [20, { 30: [40] }, 50] }]);
  });

  it('parent tree: pid and user namespaces under their parents; one without a parent after its owner', () => {
    expect(tree(WORLD, { columns: ['NS'], tree: 'parent' })).to.deep.equal([{ 10: [30] }, 20, { 50: [40] }]);
  });

  it('no tree column, no nesting: rows in the order the tree added them', () => {
    expect(tree(WORLD, { columns: ['TYPE', 'PID'], tree: 'owner' })).to.deep.equal([1, 2, 3, 3, 1]);
  });

  it('-p keeps the namespaces of that process, and in a tree the owners they hang on', () => {
    expect(tree(WORLD, { columns: ['NS'], tree: 'owner', task: p3.pid })).to.deep.equal([{ 10: [{ 30: [40] }] }]);
    expect(tree(WORLD, { columns: ['NS'], task: p3.pid })).to.deep.equal([30, 40]);
  });

  it('-P keeps the namespaces no process is in', () => {
    expect(tree([...WORLD, ns(60, 'net', [], { ons: 10 })], { columns: ['NS'], persistent: true })).to.deep.equal([60]);
  });

  it('a filter that rejects a parent row leaves its children at the root', () => {
    const filter = Filter.parse('NS != 10');
    expect(tree(WORLD, { columns: ['NS'], tree: 'owner', filter })).to.deep.equal([20, { 30: [40] }, 50]);
  });

  it('a namespace argument lists its processes, each under its parent when that is in the namespace too', () => {
    const procs = [P(5, 4), P(6, 5), P(7, 5), P(8, 99)];
    const uts = ns(70, 'uts', procs);
    expect(tree([uts], { columns: ['PID', 'COMMAND'], tree: 'process', namespace: uts })).to.deep.equal([{ 5: [6, 7] }, 8]);
  });
});

describe('ns-ls rows: what the cells say', () => {
  it('NSFS: one mount point per line, continuation lines keep the tree going; -W joins them with commas', () => {
    const entries = [ns(10, 'net', [p1]), ns(20, 'net', [p2], { nsfs: ['/run/netns/a', '/mnt/b'] }), ns(30, 'net', [P(4, 1)])];
    const text = lsTable(entries, { format: 'human', columns: ['NS', 'NSFS', 'COMMAND'], tree: 'process', utf8: true }).render();
    // NS takes its width hint (10); the continuation line pads NS, prints the next mount
    // point, and draws the vertical line of a row that has a sibling below.
    expect(text.split('\n')).to.deep.equal([
      '        NS NSFS         COMMAND',
      '        10              cmd1',
      '        20 /run/netns/a ├─cmd2',
      '           /mnt/b       │ ',
      '        30              └─cmd4',
      '',
    ]);
    const flat = lsTable(entries, { format: 'raw', columns: ['NSFS'], noWrap: true }).render();
    expect(flat.split('\n')[2]).to.equal('/run/netns/a,/mnt/b');
  });

  it('a mount point already listed is not listed twice', () => {
    const e = ns(10, 'net', [p1], { nsfs: ['/x', '/x', '/y'] });
    expect(lsTable([e], { format: 'raw', columns: ['NSFS'], noHeadings: true, noWrap: true }).render()).to.equal('/x,/y\n');
  });

  it('PNS and ONS are 0, not null, where there is none; PID null where no process is', () => {
    const json = JSON.parse(lsTable([ns(60, 'net', [])], { format: 'json', columns: ['NS', 'PID', 'PNS', 'ONS', 'COMMAND'] }).render()) as
      { namespaces: unknown[] };
    expect(json.namespaces).to.deep.equal([{ ns: 60, pid: null, pns: 0, ons: 0, command: null }]);
  });
});
