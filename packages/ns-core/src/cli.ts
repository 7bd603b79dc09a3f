/** ns-ls: list namespaces like lsns(8) (util-linux 2.42's options and output). */
import { scriptArguments, writeAll } from './bytes';
// The kit's modules one by one, not its index: ns-ls has no use for the exec stage it also holds.
import type { ParsedArgs } from './cli-kit/getopt';
import { runCli } from './cli-kit/main';
import { STANDARD_OPTIONS, type CommandSpec } from './cli-kit/table';
import { localeIsUtf8, stdoutTermWidth, type OutputFormat } from './cli-kit/columns';
import { Filter, FilterEvalError, FilterSyntaxError } from './cli-kit/filter';
import { usageError } from './errors';
import { isNamespaceKind, type NamespaceKind } from './kinds';
import { listNamespaces, type NamespaceEntry } from './ls';
import { LS_COLUMNS, lsColumn, lsColumnsTable, lsTable, type LsColumn, type LsTree } from './ls-view';

/** lsns' columns[] holds twice as many as there are columns (ARRAY_SIZE(infos) * 2). */
const MAX_COLUMNS = LS_COLUMNS.length * 2;

/** lsns' options ("JlPp:o:nruhVt:T::WQ:H"): GNU permutation, so operands and options mix. */
export const LS_COMMAND: CommandSpec = {
  prog: 'ns-ls',
  usage: ['[options] [<namespace ID>]'],
  summary: 'List system namespaces.',
  stopAtOperand: false,
  getoptOrder: ['json', 'task', 'help', 'output', 'output-all', 'persistent', 'filter', 'notruncate', 'version', 'noheadings',
                'nowrap', 'list', 'raw', 'type', 'tree', 'list-columns'],
  description: [
    'Lists the namespaces processes are in, and those that only an open file descriptor, a socket or an nsfs bind mount ' +
    'keeps alive (ip netns add, unshare --net=FILE), reading /proc as lsns(8) does: an unprivileged user sees only the ' +
    'namespaces of processes it may inspect.',
    'With a namespace ID, lists the processes in that namespace instead.',
  ],
  manSections: {
    'Output columns': LS_COLUMNS.map((c) => `${c.name}: ${c.help}.`),
    'Exit status': ['0 on success, 1 for a command line ns-ls refuses, a namespace ID that names no namespace, or a filter that fails.'],
  },
  seeAlso: ['lsns(8)', 'ns-unshare(1)', 'ns-enter(1)', 'scols-filter(5)'],
  footer: 'For more details see ns-ls(1).',
  options: [
    { long: 'json', short: 'J', help: 'use JSON output format' },
    { long: 'list', short: 'l', help: 'use list format output' },
    { long: 'noheadings', short: 'n', help: "don't print headings" },
    { long: 'output', short: 'o', arg: 'required', metavar: '<list>', help: 'define which output columns to use',
      complete: LS_COLUMNS.map((c) => c.name) },
    { long: 'output-all', help: 'output all columns' },
    { long: 'persistent', short: 'P', help: 'namespaces without processes' },
    { long: 'task', short: 'p', arg: 'required', metavar: '<pid>', help: 'print process namespaces', complete: 'pid' },
    { long: 'filter', short: 'Q', arg: 'required', metavar: '<expr>', help: 'apply display filter' },
    { long: 'raw', short: 'r', help: 'use the raw output format' },
    { long: 'notruncate', short: 'u', help: "don't truncate text in columns" },
    { long: 'nowrap', short: 'W', help: "don't use multi-line representation" },
    { long: 'type', short: 't', arg: 'required', metavar: '<name>', help: 'namespace type (mnt, net, ipc, user, pid, uts, cgroup, time)',
      complete: ['mnt', 'net', 'ipc', 'user', 'pid', 'uts', 'cgroup', 'time'] },
    { long: 'tree', short: 'T', arg: 'optional', metavar: '<rel>', help: 'use tree format (parent, owner, or process)',
      complete: ['parent', 'owner', 'process'] },
    { long: 'list-columns', short: 'H', help: 'list the available columns' },
    ...STANDARD_OPTIONS,
  ],
};

/** lsns' err_exclusive_options groups that work (its {l,T} row is out of order and never fires). */
const EXCLUSIVE: readonly (readonly string[])[] = [['json', 'raw'], ['persistent', 'task']];

const DEFAULT_COLUMNS: readonly LsColumn[] = ['NS', 'TYPE', 'NPROCS', 'PID', 'USER'];
const NAMESPACE_COLUMNS: readonly LsColumn[] = ['PID', 'PPID', 'USER', 'COMMAND'];

export function main(argv: readonly string[] = scriptArguments()): Promise<void> {
  return runCli(LS_COMMAND, argv, list);
}

/**
 * strtoimax(3) in base 10 as util-linux's ul_strtos64/ul_strtou64 use it: leading blanks and
 * a sign allowed, the rest of the string must be digits.
 */
function parseDecimal(text: string): { value: bigint; complete: boolean; digits: boolean } {
  const m = /^[ \t\n\v\f\r]*([+-]?)([0-9]*)/.exec(text)!;
  const digits = m[2]!.length > 0;
  const value = digits ? BigInt(m[2]!) * (m[1] === '-' ? -1n : 1n) : 0n;
  return { value, complete: digits && m[0].length === text.length, digits };
}

const ERANGE_TEXT = 'Numerical result out of range';
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
const UINT64_MAX = (1n << 64n) - 1n;

function rangeError(what: string, text: string): Error {
  return usageError(`${what}: '${text}': ${ERANGE_TEXT}`);
}

/** util-linux's strtopid_or_err: 1..INT32_MAX. */
function parsePid(text: string): number {
  const what = 'invalid PID argument';
  const d = parseDecimal(text);
  if (d.digits && (d.value > INT64_MAX || d.value < INT64_MIN)) throw rangeError(what, text);
  if (!d.complete) throw usageError(`${what}: '${text}'`);
  if (d.value < 1n || d.value > 0x7fffffffn) throw rangeError(what, text);
  return Number(d.value);
}

/** util-linux's strtou64_or_err: negative numbers are out of range. */
function parseNamespaceId(text: string): bigint {
  const what = 'invalid namespace argument';
  const d = parseDecimal(text);
  if (d.digits && d.value < 0n) throw rangeError(what, text);
  if (d.digits && d.value > UINT64_MAX) throw rangeError(what, text);
  if (!d.complete) throw usageError(`${what}: '${text}'`);
  return d.value;
}

/**
 * lsns' string_add_to_idarray: `LIST` replaces the columns, `+LIST` adds to them. lsns names
 * an unknown column with the rest of the list ("unknown column: BOGUS,TYPE"), and exits 1
 * without a word on an empty name or too many columns; ns-ls says what was wrong.
 */
function addColumns(list: string, current: readonly LsColumn[]): LsColumn[] {
  const append = list.startsWith('+');
  const body = append ? list.slice(1) : list;
  const out = append ? [...current] : [];
  if (!body) throw usageError(`invalid column list: '${list}'`);
  let begin = -1;
  for (let p = 0; p < body.length; p++) {
    if (out.length >= MAX_COLUMNS) throw usageError(`too many columns specified, the limit is ${MAX_COLUMNS} columns`);
    if (begin < 0) begin = p;
    let end = -1;
    if (body[p] === ',') end = p;
    if (p + 1 === body.length) end = p + 1;
    if (end < 0) continue;
    if (end <= begin) throw usageError(`invalid column list: '${list}' (empty column name)`);
    const column = lsColumn(body.slice(begin, end));
    if (!column) throw usageError(`unknown column: ${body.slice(begin)}`);
    out.push(column);
    begin = -1;
  }
  return out;
}

function parseTree(value: string | undefined): LsTree {
  if (value === undefined) return 'owner';
  // lsns takes "-T=parent" too: one '=' in front of the word is skipped.
  const rel = value.startsWith('=') ? value.slice(1) : value;
  if (rel === 'parent' || rel === 'process' || rel === 'owner') return rel;
  throw usageError(`unknown tree type: ${rel}`);
}

interface Settings {
  format: OutputFormat;
  forceList: boolean;
  persistent: boolean;
  noHeadings: boolean;
  noTruncate: boolean;
  noWrap: boolean;
  listColumns: boolean;
  task?: number;
  types: NamespaceKind[];
  tree?: LsTree;
  filter?: Filter;
  output?: string;
  columns: LsColumn[];
}

/** The getopt loop of lsns' main(): each option acted on where it stands, errors in that order. */
function settingsOf(args: ParsedArgs): Settings {
  const s: Settings = { format: 'human', forceList: false, persistent: false, noHeadings: false, noTruncate: false,
                        noWrap: false, listColumns: false, types: [], columns: [] };
  const seen = new Map<readonly string[], string>();
  for (const e of args.events) {
    const long = e.spec.long;
    for (const group of EXCLUSIVE) {
      if (!group.includes(long)) continue;
      const first = seen.get(group);
      if (first === undefined) seen.set(group, long);
      else if (first !== long) throw usageError(`mutually exclusive arguments: ${group.map((g) => `--${g}`).join(' ')}`);
    }
    const value = e.value;
    switch (long) {
      case 'json': s.format = 'json'; break;
      case 'list': s.forceList = true; break;
      case 'output': s.output = value!; break;
      case 'output-all': s.columns = LS_COLUMNS.map((c) => c.name); break;
      case 'persistent': s.persistent = true; break;
      case 'task': s.task = parsePid(value!); break;
      case 'noheadings': s.noHeadings = true; break;
      case 'raw': s.format = 'raw'; s.noWrap = true; break;
      case 'notruncate': s.noTruncate = true; break;
      case 'nowrap': s.noWrap = true; break;
      case 'type':
        if (!isNamespaceKind(value!)) throw usageError(`unknown namespace type: ${value}`);
        if (!s.types.includes(value)) s.types.push(value);
        break;
      case 'tree': s.tree = parseTree(value); break;
      case 'filter':
        try {
          s.filter = Filter.parse(value!);
        } catch (err) {
          if (err instanceof FilterSyntaxError) throw usageError(`failed to parse "${value}": ${err.message}`);
          throw err;
        }
        break;
      case 'list-columns': s.listColumns = true; break;
    }
  }
  return s;
}

function list(args: ParsedArgs): void {
  const s = settingsOf(args);
  const utf8 = localeIsUtf8();
  if (s.listColumns) {
    // An answer about ns-ls itself, like --help: lsns' list_colunms() exits there too.
    write(lsColumnsTable(s.format, utf8).render());
    process.exit(0);
  }
  let namespaceId: bigint | undefined;
  // Only the first operand counts, as lsns reads argv[optind].
  const operand = args.operands[0];
  if (operand !== undefined) {
    if (s.task !== undefined) throw usageError('--task is mutually exclusive with <namespace>');
    namespaceId = parseNamespaceId(operand);
    if (!s.tree && !s.forceList) s.tree = 'process';
    if (!s.columns.length) s.columns = [...NAMESPACE_COLUMNS];
  }
  if (!s.columns.length) {
    s.columns = [...DEFAULT_COLUMNS, ...(s.types.includes('net') ? ['NETNSID', 'NSFS'] as const : []), 'COMMAND'];
    if (!s.tree && !s.forceList) s.tree = 'process';
  }
  if (s.output !== undefined) s.columns = addColumns(s.output, s.columns);
  const holders = s.filter?.holders() ?? [];
  const unknown = holders.find((h) => !lsColumn(h));
  // lsns warns once per unknown name, then "failed to initialize filter": the first line is this.
  if (unknown !== undefined) throw usageError(`unknown column: ${unknown}`);

  const read = (held: boolean) => listNamespaces({
    ...(s.types.length ? { types: s.types } : {}),
    relations: s.tree === 'owner' || s.tree === 'parent',
    netnsid: s.columns.includes('NETNSID') || holders.some((h) => lsColumn(h) === 'NETNSID'),
    held,
  });
  // Reading every process's fds finds only namespaces without processes, which -p never
  // shows, nor a namespace argument that names a process namespace: look at fds only if needed.
  const find = (list: readonly NamespaceEntry[]) => list.find((e) => BigInt(e.ns) === namespaceId);
  let entries = read(s.task === undefined && !namespaceId);
  if (namespaceId && !find(entries)) entries = read(true);
  // 0 is no namespace to lsns either: it lists them all, with the process columns.
  const namespace = namespaceId ? find(entries) : undefined;
  if (namespaceId && !namespace) throw usageError(`not found namespace: ${namespaceId}`);
  const termWidth = s.format === 'human' ? stdoutTermWidth() : undefined;
  let text: string;
  try {
    text = lsTable(entries, {
      columns: s.columns, format: s.format, noHeadings: s.noHeadings, noTruncate: s.noTruncate, noWrap: s.noWrap,
      persistent: s.persistent, utf8,
      ...(s.tree ? { tree: s.tree } : {}),
      ...(s.task !== undefined ? { task: s.task } : {}),
      ...(namespace ? { namespace } : {}),
      ...(s.filter ? { filter: s.filter } : {}),
      ...(termWidth !== undefined ? { termWidth } : {}),
    }).render();
  } catch (err) {
    if (err instanceof FilterEvalError) throw usageError(`failed to apply filter: ${err.message}`);
    throw err;
  }
  write(text);
}

/**
 * The whole output in one write(2) (writeAll: no stream to build, nothing left unwritten at
 * exit); a reader that went away (`ns-ls | head`) ends us quietly, as util-linux's close_stdout.
 */
function write(text: string): void {
  if (!text) return;
  try {
    writeAll(1, text);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EPIPE') process.exit(0);
    throw e;
  }
}
