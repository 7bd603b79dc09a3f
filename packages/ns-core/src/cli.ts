/** ns-ls: list namespaces like lsns(8). */
import { existsSync } from 'node:fs';
import { failAndExit, yargsBase } from './cli-support';
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

/** A repeated option: the last one wins, as lsns(8)'s getopt loop reads -o, -p and -T. */
function last<T>(value: T | T[] | undefined): T | undefined {
  return Array.isArray(value) ? value.at(-1) : value;
}

export function main(argv: readonly string[]): void {
  const parsed = yargsBase('ns-ls', argv)
    .usage('Usage:\n ns-ls [options] [<namespace>]\n\nList system namespaces.')
    .option('json', { alias: 'J', type: 'boolean', describe: 'use JSON output format' })
    .option('list', { alias: 'l', type: 'boolean', describe: 'use list format output' })
    .option('noheadings', { alias: 'n', type: 'boolean', describe: "don't print headings" })
    .option('output', { alias: 'o', type: 'string', requiresArg: true, describe: 'define which output columns to use' })
    .option('output-all', { type: 'boolean', describe: 'output all columns' })
    // A string, not a number: yargs would turn 'abc' into NaN and the message could not show it.
    .option('task', { alias: 'p', type: 'string', requiresArg: true, describe: 'print process namespaces' })
    .option('raw', { alias: 'r', type: 'boolean', describe: 'use the raw output format' })
    .option('notruncate', { alias: 'u', type: 'boolean', describe: "don't truncate text in columns" })
    .option('type', { alias: 't', type: 'string', array: true, requiresArg: true, describe: `namespace type (${KIND_NAMES.join(', ')})` })
    .option('tree', { alias: 'T', type: 'string', describe: 'use tree format (parent, owner, or process)' })
    .parseSync();
  const taskArg = last(parsed.task as string | string[] | undefined);
  const output = last(parsed.output as string | string[] | undefined);
  const tree = last(parsed.tree as string | string[] | undefined);

  const types: NamespaceKind[] = [];
  for (const t of parsed.type ?? []) {
    const k = parseKind(String(t));
    if (!k) failAndExit('ns-ls', usageError(`unknown namespace type: ${t}`));
    types.push(k);
  }
  if (taskArg !== undefined && (!/^\d+$/.test(taskArg) || Number(taskArg) <= 0)) {
    failAndExit('ns-ls', usageError(`invalid PID argument: '${taskArg}'`));
  }
  const task = taskArg === undefined ? undefined : Number(taskArg);
  if (task !== undefined && !existsSync(`/proc/${task}`)) {
    failAndExit('ns-ls', usageError(`--task: no process ${task}`));
  }
  let columns: Column[] = [...DEFAULT_COLUMNS];
  if (parsed.outputAll) columns = [...ALL_COLUMNS];
  if (output) {
    const extend = output.startsWith('+');
    const names = output.replace(/^\+/, '').split(',').map((c) => c.trim().toUpperCase());
    for (const n of names) if (!(ALL_COLUMNS as readonly string[]).includes(n)) failAndExit('ns-ls', usageError(`unknown column: ${n}`));
    columns = extend ? [...columns, ...(names as Column[])] : (names as Column[]);
  }
  const rel = tree === undefined ? undefined : tree === '' ? 'owner' : tree;
  if (rel !== undefined && rel !== 'owner' && rel !== 'parent' && rel !== 'process') {
    failAndExit('ns-ls', usageError(`unsupported relationship: ${rel}`));
  }
  let entries: NamespaceEntry[];
  try {
    entries = listNamespaces({
      ...(types.length ? { types } : {}),
      ...(task !== undefined ? { pid: task } : {}),
      relations: rel !== undefined || columns.includes('PNS') || columns.includes('ONS'),
    });
  } catch (e) {
    failAndExit('ns-ls', e);
  }
  const wantedId = parsed._[0] !== undefined ? Number(parsed._[0]) : undefined;
  if (wantedId !== undefined) entries = entries.filter((e) => e.ns === wantedId);

  if (parsed.json) {
    const rows = entries.map((e) => Object.fromEntries(columns.map((c) => [c.toLowerCase(), cell(e, c)])));
    process.stdout.write(`${JSON.stringify({ namespaces: rows }, null, 3)}\n`);
    return;
  }
  const ordered = rel === 'owner' || rel === 'parent' ? treeOrder(entries, rel) : entries.map((e) => ({ e, prefix: '' }));
  const table = ordered.map(({ e, prefix }) => columns.map((c, i) => {
    const v = cell(e, c);
    return (i === 0 ? prefix : '') + (v === null ? '' : String(v));
  }));
  if (parsed.raw) {
    if (!parsed.noheadings) process.stdout.write(`${columns.join(' ')}\n`);
    for (const row of table) process.stdout.write(`${row.join(' ')}\n`);
    return;
  }
  const widths = columns.map((c, i) => Math.max(parsed.noheadings ? 0 : c.length, ...table.map((r) => r[i]!.length)));
  const line = (row: string[]) => row.map((v, i) => {
    if (i === row.length - 1) return v;
    return RIGHT.has(columns[i]!) && !(i === 0 && rel) ? v.padStart(widths[i]!) : v.padEnd(widths[i]!);
  }).join(' ');
  const lines = parsed.noheadings ? [] : [line([...columns])];
  for (const row of table) lines.push(line(row));
  process.stdout.write(`${lines.join('\n')}\n`);
}
