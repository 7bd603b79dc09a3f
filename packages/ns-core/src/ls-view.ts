/**
 * What lsns(8) prints for a list of namespaces: its columns, which rows, and how they nest
 * (show_namespaces / show_namespace_processes in util-linux's lsns.c). Pure: entries and
 * options in, a ColumnTable out, so every rule here is testable without privileges.
 *
 * Trees: `process` hangs each namespace's row under the row of its lowest process's parent
 * process (the last row that process had); `owner` under the owning user namespace; `parent`
 * under the parent pid/user namespace, a namespace without one coming after its owner. With a
 * namespace argument the rows are that namespace's processes, each under its parent process.
 */
import { ColumnTable, type ColumnSpec, type JsonType, type OutputFormat, type TableLine } from './cli-kit/columns';
import type { Filter, FilterRow, FilterType } from './cli-kit/filter';
import { commandOf, userName, type NamespaceEntry, type ProcessEntry } from './ls';

export interface LsColumnInfo {
  readonly name: string;
  readonly widthHint: number;
  readonly right?: boolean;
  readonly trunc?: boolean;
  /** Multi-line (one nsfs mount point per line unless --nowrap). */
  readonly wrap?: boolean;
  readonly json: JsonType;
  readonly help: string;
}

/** lsns' columns, in its order, with its width hints, alignment and JSON types. */
export const LS_COLUMNS = [
  { name: 'NS', widthHint: 10, right: true, json: 'number', help: 'namespace identifier (inode number)' },
  { name: 'TYPE', widthHint: 5, json: 'string', help: 'kind of namespace' },
  { name: 'PATH', widthHint: 0, json: 'string', help: 'path to the namespace' },
  { name: 'NPROCS', widthHint: 5, right: true, json: 'number', help: 'number of processes in the namespace' },
  { name: 'PID', widthHint: 5, right: true, json: 'number', help: 'lowest PID in the namespace' },
  { name: 'PPID', widthHint: 5, right: true, json: 'number', help: 'PPID of the PID' },
  { name: 'COMMAND', widthHint: 0, trunc: true, json: 'string', help: 'command line of the PID' },
  { name: 'UID', widthHint: 0, right: true, json: 'number', help: 'UID of the PID' },
  { name: 'USER', widthHint: 0, json: 'string', help: 'username of the PID' },
  { name: 'NETNSID', widthHint: 0, right: true, json: 'string', help: 'namespace ID as used by network subsystem' },
  { name: 'NSFS', widthHint: 0, wrap: true, json: 'string', help: 'nsfs mountpoint (usually used network subsystem)' },
  { name: 'PNS', widthHint: 10, right: true, json: 'number', help: 'parent namespace identifier (inode number)' },
  { name: 'ONS', widthHint: 10, right: true, json: 'number', help: 'owner namespace identifier (inode number)' },
] as const satisfies readonly LsColumnInfo[];

export type LsColumn = (typeof LS_COLUMNS)[number]['name'];

const INFO = new Map<string, LsColumnInfo>(LS_COLUMNS.map((c) => [c.name, c]));

/** A column by name, case-insensitively as lsns matches them. */
export function lsColumn(name: string): LsColumn | undefined {
  const upper = name.toUpperCase();
  return INFO.has(upper) && /^[\x20-\x7e]*$/.test(name) ? (upper as LsColumn) : undefined;
}

/** Type a filter holder naming this column takes (numbers for lsns' numeric JSON columns). */
export function lsColumnFilterType(column: LsColumn): FilterType {
  return INFO.get(column)!.json === 'number' ? 'u64' : 'string';
}

export type LsTree = 'process' | 'owner' | 'parent';

export interface LsView {
  readonly columns: readonly LsColumn[];
  readonly tree?: LsTree;
  readonly format: OutputFormat;
  readonly noHeadings?: boolean;
  readonly noTruncate?: boolean;
  readonly noWrap?: boolean;
  /** -p: only namespaces this process is in. */
  readonly task?: number;
  /** -P: only namespaces no process is in. */
  readonly persistent?: boolean;
  /** The namespace argument: list its processes instead of namespaces. */
  readonly namespace?: NamespaceEntry;
  readonly filter?: Filter;
  readonly termWidth?: number;
  readonly utf8?: boolean;
}

/**
 * lsns' is_path_included: whether `elt` is already one of the `sep`-separated paths. Like lsns
 * it only looks at the first place `elt` occurs in the string.
 */
function isPathIncluded(set: string, elt: string, sep: string): boolean {
  const i = set.indexOf(elt);
  if (i < 0) return false;
  const after = set[i + elt.length];
  if (i === 0) return after === undefined || after === sep;
  return set[i - 1] === sep && (after === undefined || after === sep);
}

function nsfsText(targets: readonly string[], sep: string): string | null {
  let text: string | null = null;
  for (const t of targets) {
    if (text === null) text = t;
    else if (!isPathIncluded(text, t, sep)) text += sep + t;
  }
  return text;
}

/** A cell's text (lsns' fill_column): a namespace row has its lowest process, a process row its own. */
export function lsCell(column: LsColumn, ns: NamespaceEntry, proc: ProcessEntry | null, noWrap = false): string | null {
  switch (column) {
    case 'NS': return String(ns.ns);
    case 'TYPE': return ns.type;
    case 'PATH': return proc ? `/proc/${proc.pid}/ns/${ns.type}` : null;
    case 'NPROCS': return String(ns.nprocs);
    case 'PID': return proc ? String(proc.pid) : null;
    case 'PPID': return proc ? String(proc.ppid) : null;
    case 'COMMAND': return proc ? (proc.pid === ns.pid ? ns.command : commandOf(proc.pid)) : null;
    case 'UID': return String(proc ? proc.uid : ns.uid);
    case 'USER': return proc ? userName(proc.uid) : ns.user;
    case 'NETNSID': return ns.type === 'net' && ns.netnsid !== null ? String(ns.netnsid) : null;
    case 'NSFS': return nsfsText(ns.nsfs, noWrap ? ',' : '\n');
    case 'PNS': return String(ns.pns);
    case 'ONS': return String(ns.ons);
  }
}

/** lsns' init_scols_table: the columns' flags for this view. */
function columnSpecs(view: LsView): ColumnSpec[] {
  const nsTree = view.tree === 'owner' || view.tree === 'parent';
  return view.columns.map((name) => {
    const info = INFO.get(name)!;
    const tree = (view.tree === 'process' && name === 'COMMAND') || (nsTree && name === 'NS');
    return {
      name,
      widthHint: info.widthHint,
      right: Boolean(info.right) && !(nsTree && name === 'NS'),
      trunc: Boolean(info.trunc) && !view.noTruncate,
      tree,
      lines: Boolean(info.wrap) && !view.noWrap,
      json: info.json,
    };
  });
}

/** The table lsns would print for these namespaces (sorted by id, as listNamespaces returns them). */
export function lsTable(entries: readonly NamespaceEntry[], view: LsView): ColumnTable {
  const table = new ColumnTable(columnSpecs(view), {
    format: view.format,
    name: 'namespaces',
    ...(view.noHeadings ? { noHeadings: true } : {}),
    ...(view.termWidth !== undefined ? { termWidth: view.termWidth } : {}),
    ...(view.utf8 ? { utf8: true } : {}),
  });
  const nsTree = view.tree === 'owner' || view.tree === 'parent';
  const byId = new Map(entries.map((e) => [e.ns, e]));
  const nsOutline = new Map<number, TableLine>();
  const pidOutline = new Map<number, TableLine>();

  /** related_ns[]: set only for owner and parent trees (lsns' connect_namespaces). */
  const related = (ns: NamespaceEntry, rel: 'parent' | 'owner'): NamespaceEntry | undefined => {
    if (!nsTree) return undefined;
    const id = rel === 'owner' ? ns.ons : ns.type === 'pid' || ns.type === 'user' ? ns.pns : 0;
    const r = id ? byId.get(id) : undefined;
    return r === ns ? undefined : r;
  };

  const filterRow = (ns: NamespaceEntry, proc: ProcessEntry | null): FilterRow => ({
    cell: (holder) => lsCell(lsColumn(holder)!, ns, proc, view.noWrap),
    typeOf: (holder) => lsColumnFilterType(lsColumn(holder)!),
  });

  /** add_scols_line: a row under its tree parent, unless the filter rejects it. */
  const addLine = (ns: NamespaceEntry, proc: ProcessEntry | null) => {
    let parent: TableLine | null = null;
    const up = view.tree === 'parent' ? related(ns, 'parent') : view.tree === 'owner' ? related(ns, 'owner') : undefined;
    if (view.tree === 'process' && proc) parent = pidOutline.get(proc.ppid) ?? null;
    else if (up) parent = nsOutline.get(up.ns) ?? null;
    if (view.filter && !view.filter.matches(filterRow(ns, proc))) return;
    const line = table.addLine(parent);
    view.columns.forEach((c, i) => { line.cells[i] = lsCell(c, ns, proc, view.noWrap); });
    if (nsTree) nsOutline.set(ns.ns, line);
    else if (proc) pidOutline.set(proc.pid, line);
  };

  const lowest = (ns: NamespaceEntry): ProcessEntry | null => ns.processes[0] ?? null;

  if (view.namespace) {
    const ns = view.namespace;
    const members = new Map(ns.processes.map((p) => [p.pid, p]));
    // show_process: a process's parent first, when it is in the same namespace.
    const showProcess = (proc: ProcessEntry, seen: Set<number>) => {
      const parent = members.get(proc.ppid);
      if (view.tree === 'process' && parent && !pidOutline.has(parent.pid) && !seen.has(parent.pid)) {
        showProcess(parent, seen.add(proc.pid));
      }
      addLine(ns, proc);
    };
    for (const proc of ns.processes) if (!pidOutline.has(proc.pid)) showProcess(proc, new Set());
    return table;
  }

  // show_namespace: a namespace's tree parent (or, without one, its owner) first.
  const showNamespace = (ns: NamespaceEntry, seen: Set<number>) => {
    seen.add(ns.ns);
    const first = (r: NamespaceEntry | undefined) => {
      if (r && !nsOutline.has(r.ns) && !seen.has(r.ns)) showNamespace(r, seen);
    };
    if (view.tree === 'owner') first(related(ns, 'owner'));
    else if (view.tree === 'parent') first(related(ns, 'parent') ?? related(ns, 'owner'));
    addLine(ns, lowest(ns));
  };
  for (const ns of entries) {
    if (view.task !== undefined && !ns.processes.some((p) => p.pid === view.task)) continue;
    if (view.persistent && ns.nprocs !== 0) continue;
    if (!nsOutline.has(ns.ns)) showNamespace(ns, new Set());
  }
  return table;
}

/** -H/--list-columns: every column, its type and what it shows (util-linux 2.41). */
export function lsColumnsTable(format: OutputFormat, utf8: boolean): ColumnTable {
  const table = new ColumnTable([
    { name: 'HOLDER', right: true }, { name: 'TYPE' }, { name: 'DESCRIPTION' },
  ], { format, noHeadings: true, name: 'lsns-columns', utf8 });
  for (const c of LS_COLUMNS) {
    const line = table.addLine();
    line.cells[0] = c.name;
    line.cells[1] = c.json === 'number' ? '<integer>' : '<string>';
    line.cells[2] = c.help;
  }
  return table;
}
