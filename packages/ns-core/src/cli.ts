/** ns-ls: list namespaces like lsns(8). */
import { existsSync } from 'node:fs';
import { runCli, scriptArguments, STANDARD_OPTIONS, type CommandSpec, type ParsedArgs } from './cli-kit';
import { usageError } from './errors';
import { KIND_NAMES, parseKind, type NamespaceKind } from './kinds';
import { listNamespaces, type NamespaceEntry } from './ls';

const DEFAULT_COLUMNS = ['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'COMMAND'] as const;
const ALL_COLUMNS = ['NS', 'TYPE', 'NPROCS', 'PID', 'PPID', 'COMMAND', 'UID', 'USER', 'PNS', 'ONS'] as const;
type Column = (typeof ALL_COLUMNS)[number];
const RIGHT: ReadonlySet<Column> = new Set(['NS', 'NPROCS', 'PID', 'PPID', 'UID', 'PNS', 'ONS']);

function cell(e: NamespaceEntry, c: Column): string | number | null {
  switch (c) {
    case 'NS': return e.ns;
    case 'TYPE': return e.type;
    case 'NPROCS': return e.nprocs;
    case 'PID': return e.pid;
    case 'PPID': return e.ppid;
    case 'COMMAND': return e.command;
    case 'UID': return e.uid;
    case 'USER': return e.user;
    case 'PNS': return e.pns;
    case 'ONS': return e.ons;
  }
}

/** Orders entries depth-first under their parent (owner, parent or process relation). */
function treeOrder(entries: NamespaceEntry[], rel: 'owner' | 'parent'): { e: NamespaceEntry; prefix: string }[] {
  const byId = new Map(entries.map((e) => [`${e.ns}`, e]));
  const up = (e: NamespaceEntry) => (rel === 'owner' ? e.ons : e.type === 'pid' || e.type === 'user' ? e.pns : null);
  const children = new Map<string, NamespaceEntry[]>();
  const roots: NamespaceEntry[] = [];
  for (const e of entries) {
    const parent = up(e);
    if (parent !== null && byId.has(`${parent}`) && parent !== e.ns) {
      const list = children.get(`${parent}`) ?? [];
      list.push(e);
      children.set(`${parent}`, list);
    } else roots.push(e);
  }
  const out: { e: NamespaceEntry; prefix: string }[] = [];
  const walk = (e: NamespaceEntry, indent: string, prefix: string) => {
    out.push({ e, prefix });
    const kids = children.get(`${e.ns}`) ?? [];
    kids.forEach((k, i) => {
      const last = i === kids.length - 1;
      walk(k, indent + (last ? '  ' : '│ '), indent + (last ? '└─' : '├─'));
    });
  };
  for (const r of roots) walk(r, '', '');
  return out;
}

/** lsns(8)'s options ("Jlp:o:nruhVt:T::W"): GNU permutation, so operands and options mix. */
export const LS_COMMAND: CommandSpec = {
  prog: 'ns-ls',
  usage: ['[options] [<namespace>]'],
  summary: 'List system namespaces.',
  stopAtOperand: false,
  seeAlso: ['lsns(8)', 'ns-unshare(1)', 'ns-enter(1)'],
  footer: 'For more details see ns-ls(1).',
  options: [
    { long: 'json', short: 'J', help: 'use JSON output format' },
    { long: 'list', short: 'l', help: 'use list format output' },
    { long: 'noheadings', short: 'n', help: "don't print headings" },
    { long: 'output', short: 'o', arg: 'required', metavar: '<list>', help: 'define which output columns to use' },
    { long: 'output-all', help: 'output all columns' },
    { long: 'task', short: 'p', arg: 'required', metavar: '<pid>', help: 'print process namespaces', complete: 'pid' },
    { long: 'raw', short: 'r', help: 'use the raw output format' },
    { long: 'notruncate', short: 'u', help: "don't truncate text in columns" },
    { long: 'type', short: 't', arg: 'required', metavar: '<name>', help: `namespace type (${KIND_NAMES.join(', ')})`, complete: [...KIND_NAMES] },
    { long: 'tree', short: 'T', arg: 'optional', metavar: '<rel>', help: 'use tree format (parent, owner, or process)', complete: ['parent', 'owner', 'process'] },
    ...STANDARD_OPTIONS,
  ],
};

export function main(argv: readonly string[] = scriptArguments()): Promise<void> {
  return runCli(LS_COMMAND, argv, list);
}

function list(args: ParsedArgs): void {
  const taskArg = args.last('task');
  const output = args.last('output');
  const tree = args.last('tree');

  const [namespace, extra] = args.operands;
  if (namespace !== undefined && !/^\d+$/.test(namespace)) throw usageError(`invalid namespace argument: '${namespace}'`);
  if (extra !== undefined) throw usageError(`unexpected argument: '${extra}'`);
  const types: NamespaceKind[] = [];
  for (const t of args.all('type')) {
    const k = parseKind(t);
    if (!k) throw usageError(`unknown namespace type: ${t}`);
    types.push(k);
  }
  if (taskArg !== undefined && (!/^\d+$/.test(taskArg) || Number(taskArg) <= 0)) {
    throw usageError(`invalid PID argument: '${taskArg}'`);
  }
  const task = taskArg === undefined ? undefined : Number(taskArg);
  if (task !== undefined && !existsSync(`/proc/${task}`)) {
    throw usageError(`--task: no process ${task}`);
  }
  let columns: Column[] = [...DEFAULT_COLUMNS];
  if (args.has('output-all')) columns = [...ALL_COLUMNS];
  if (output) {
    const extend = output.startsWith('+');
    const names = output.replace(/^\+/, '').split(',').map((c) => c.trim().toUpperCase());
    for (const n of names) if (!(ALL_COLUMNS as readonly string[]).includes(n)) throw usageError(`unknown column: ${n}`);
    columns = extend ? [...columns, ...(names as Column[])] : (names as Column[]);
  }
  const rel = tree === undefined ? undefined : tree === '' ? 'owner' : tree;
  if (rel !== undefined && rel !== 'owner' && rel !== 'parent' && rel !== 'process') {
    throw usageError(`unknown tree type: ${rel}`);
  }
  let entries = listNamespaces({
    ...(types.length ? { types } : {}),
    ...(task !== undefined ? { pid: task } : {}),
    relations: rel !== undefined || columns.includes('PNS') || columns.includes('ONS'),
  });
  const wantedId = namespace !== undefined ? Number(namespace) : undefined;
  if (wantedId !== undefined) entries = entries.filter((e) => e.ns === wantedId);

  if (args.has('json')) {
    const rows = entries.map((e) => Object.fromEntries(columns.map((c) => [c.toLowerCase(), cell(e, c)])));
    process.stdout.write(`${JSON.stringify({ namespaces: rows }, null, 3)}\n`);
    return;
  }
  const ordered = rel === 'owner' || rel === 'parent' ? treeOrder(entries, rel) : entries.map((e) => ({ e, prefix: '' }));
  const table = ordered.map(({ e, prefix }) => columns.map((c, i) => {
    const v = cell(e, c);
    return (i === 0 ? prefix : '') + (v === null ? '' : String(v));
  }));
  if (args.has('raw')) {
    if (!args.has('noheadings')) process.stdout.write(`${columns.join(' ')}\n`);
    for (const row of table) process.stdout.write(`${row.join(' ')}\n`);
    return;
  }
  const widths = columns.map((c, i) => Math.max(args.has('noheadings') ? 0 : c.length, ...table.map((r) => r[i]!.length)));
  const line = (row: string[]) => row.map((v, i) => {
    if (i === row.length - 1) return v;
    return RIGHT.has(columns[i]!) && !(i === 0 && rel) ? v.padStart(widths[i]!) : v.padEnd(widths[i]!);
  }).join(' ');
  const lines = args.has('noheadings') ? [] : [line([...columns])];
  for (const row of table) lines.push(line(row));
  process.stdout.write(`${lines.join('\n')}\n`);
}
