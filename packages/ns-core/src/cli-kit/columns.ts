/**
 * Column output as util-linux prints it through libsmartcols (lsns, lsblk, findmnt...): one
 * renderer for the human table, `-r` raw output and `-J` JSON, lists and trees. The rules are
 * libsmartcols 2.38's, so scripts that parse lsns output parse ours:
 * - human: columns one space apart, the last one not padded; widths from the widest cell, the
 *   header and the column's width hint; on a terminal the table is fitted to its width by
 *   truncating the columns that allow it; control characters and bytes that are not UTF-8
 *   shown as `\xNN`; tree columns draw `├─ └─ │` (ASCII `|- \`-` outside UTF-8 locales);
 *   cells that hold several lines print them on continuation lines;
 * - raw: cells one space apart, blanks, backslashes and every byte that is not printable
 *   ASCII as `\xNN`;
 * - JSON: ul_jsonwrt's layout (three-space indent, `},{` between rows), names in lower case,
 *   numbers bare, empty cells `null`, a tree's rows nested under `"children"`.
 * Cells are strings whose lone surrogates U+DC80..U+DCFF stand for bytes that are not UTF-8
 * (see bytes.ts); render() returns such a string, for encodeText().
 */
import { fstatSync } from 'node:fs';

export type JsonType = 'string' | 'number';
export type OutputFormat = 'human' | 'raw' | 'json';

export interface ColumnSpec {
  /** Header; in JSON the key, lower-cased. */
  readonly name: string;
  /** libsmartcols' width hint: a column at least this wide when its header allows (>= 1). */
  readonly widthHint?: number;
  readonly right?: boolean;
  /** May be cut to fit a terminal. */
  readonly trunc?: boolean;
  /** Draws the table's tree in front of its cells. */
  readonly tree?: boolean;
  /** Cells hold '\n'-separated lines, printed one under another (libsmartcols' wrapnl). */
  readonly lines?: boolean;
  readonly json?: JsonType;
}

export interface TableOptions {
  readonly format: OutputFormat;
  readonly noHeadings?: boolean;
  /** The JSON array's name ("namespaces"). */
  readonly name?: string;
  /** Width of the terminal stdout is; undefined when stdout is not a terminal. */
  readonly termWidth?: number;
  /** Whether the locale's charset is UTF-8 (tree symbols, printable multibyte characters). */
  readonly utf8?: boolean;
}

export class TableLine {
  readonly cells: (string | null)[];
  readonly children: TableLine[] = [];

  constructor(readonly parent: TableLine | null, ncolumns: number) {
    this.cells = new Array<string | null>(ncolumns).fill(null);
  }
}

interface Symbols {
  readonly branch: string;
  readonly vertical: string;
  readonly right: string;
}

const UTF8_SYMBOLS: Symbols = { branch: '\u251c\u2500', vertical: '\u2502 ', right: '\u2514\u2500' };
const ASCII_SYMBOLS: Symbols = { branch: '|-', vertical: '| ', right: '`-' };

/** Whether the C library would run in a UTF-8 locale (LC_ALL, then LC_CTYPE, then LANG). */
export function localeIsUtf8(env: NodeJS.ProcessEnv = process.env): boolean {
  const locale = env['LC_ALL'] || env['LC_CTYPE'] || env['LANG'] || '';
  return /utf-?8/i.test(locale);
}

/**
 * Whether fd could be a terminal, by one fstat(2): a character device other than the memory
 * devices (major 1: /dev/null, /dev/zero...). process.stdout answers exactly but builds a
 * stream first (tty, net and the stream modules: milliseconds of a CLI's start-up), which a
 * listing into a pipe, a file or /dev/null never needs.
 */
function mayBeTerminal(fd: number): boolean {
  try {
    // bigint: a plain fstat of a pipe misleads Node 20/22's next realpathSync (see ls.ts).
    const st = fstatSync(fd, { bigint: true });
    return st.isCharacterDevice() && (st.rdev >> 8n) % 4096n !== 1n;
  } catch {
    return false;
  }
}

/** Width of the terminal on stdout, or undefined when stdout is not one (libsmartcols' is_term). */
export function stdoutTermWidth(): number | undefined {
  if (!mayBeTerminal(1) || !process.stdout.isTTY) return undefined;
  const cols = process.stdout.columns;
  if (cols && cols > 0) return cols;
  const env = Number(process.env['COLUMNS']);
  return Number.isInteger(env) && env > 0 ? env : 80;
}

// ---- characters: what is printable, how wide ------------------------------------------------

/** East Asian wide and fullwidth ranges (wcwidth 2), enough for what ps-like output shows. */
const WIDE: readonly [number, number][] = [
  [0x1100, 0x115f], [0x2e80, 0x303e], [0x3041, 0x33ff], [0x3400, 0x4dbf], [0x4e00, 0x9fff],
  [0xa000, 0xa4cf], [0xac00, 0xd7a3], [0xf900, 0xfaff], [0xfe30, 0xfe4f], [0xff00, 0xff60],
  [0xffe0, 0xffe6], [0x1f300, 0x1f64f], [0x1f900, 0x1f9ff], [0x20000, 0x3fffd],
];
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]$/u;

function isEscapedByte(code: number): boolean {
  return code >= 0xdc80 && code <= 0xdcff;
}

/** wcwidth(3) of a printable code point. */
function charWidth(cp: number, ch: string): number {
  if (cp < 0x300) return 1;
  if (ZERO_WIDTH.test(ch)) return 0;
  for (const [lo, hi] of WIDE) if (cp >= lo && cp <= hi) return 2;
  return 1;
}

/** iscntrl/!iswprint: C0 and C1 controls and DEL. */
function isControl(cp: number): boolean {
  return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

function hexByte(b: number): string {
  return `\\x${b.toString(16).padStart(2, '0')}`;
}

function utf8Bytes(ch: string): number[] {
  return [...Buffer.from(ch, 'utf8')];
}

/**
 * mbs_safe_encode: what a human table shows for a cell, and its width in terminal cells.
 * Controls, bytes that are not UTF-8 (and, outside UTF-8 locales, every non-ASCII byte) and a
 * backslash that starts "\x" are shown as \xNN; `keep` characters pass as they are.
 */
function safeEncode(text: string, utf8: boolean, keep = ''): { text: string; width: number } {
  let out = '';
  let width = 0;
  for (let i = 0; i < text.length;) {
    const cp = text.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    i += ch.length;
    if (keep.includes(ch)) {
      out += ch;
      continue;
    }
    if ((ch === '\\' && text[i] === 'x') || isControl(cp) && cp < 0x80) {
      out += hexByte(cp);
      width += 4;
    } else if (isEscapedByte(cp)) {
      out += hexByte(cp - 0xdc00);
      width += 4;
    } else if (cp >= 0x80 && (!utf8 || isControl(cp))) {
      for (const b of utf8Bytes(ch)) out += hexByte(b);
      width += 4 * utf8Bytes(ch).length;
    } else {
      out += ch;
      width += charWidth(cp, ch);
    }
  }
  return { text: out, width };
}

/** Width in terminal cells of text already safe-encoded. */
function textWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += charWidth(ch.codePointAt(0)!, ch);
  return w;
}

/** mbs_truncate: the longest prefix at most `width` cells wide. */
function truncate(text: string, width: number): { text: string; width: number } {
  let out = '';
  let w = 0;
  for (const ch of text) {
    const cw = charWidth(ch.codePointAt(0)!, ch);
    if (w + cw > width) break;
    out += ch;
    w += cw;
  }
  return { text: out, width: w };
}

/** fputs_nonblank: raw output's escaping (blanks, backslash, anything but printable ASCII). */
function rawEncode(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (isEscapedByte(cp)) out += hexByte(cp - 0xdc00);
    else if (cp >= 0x80) for (const b of utf8Bytes(ch)) out += hexByte(b);
    else if (cp <= 0x20 || cp === 0x7f || ch === '\\') out += hexByte(cp);
    else out += ch;
  }
  return out;
}

/** fputs_quoted_json: quotes, backslashes and C0 controls escaped; everything else as is. */
function jsonString(text: string): string {
  let out = '"';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (cp >= 0x20) out += ch;
    else if (ch === '\b') out += '\\b';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\r') out += '\\r';
    else out += `\\u00${cp.toString(16).padStart(2, '0')}`;
  }
  return `${out}"`;
}

/** ul_jsonwrt: util-linux's streaming JSON writer, whose spacing lsns -J shows. */
class JsonWriter {
  out = '';
  private indent = 0;
  private afterClose = false;

  private pad(): void {
    this.out += '   '.repeat(this.indent);
  }

  open(name: string | null, type: 'object' | 'array' | 'value'): void {
    if (name !== null) {
      if (this.afterClose) this.out += ',\n';
      this.pad();
      this.out += jsonString(name.toLowerCase());
    } else if (this.afterClose) {
      this.out += ',';
    } else {
      this.pad();
    }
    if (type === 'object') {
      this.out += name !== null ? ': {\n' : '{\n';
      this.indent++;
    } else if (type === 'array') {
      this.out += name !== null ? ': [\n' : '[\n';
      this.indent++;
    } else {
      this.out += name !== null ? ': ' : ' ';
    }
    this.afterClose = false;
  }

  close(type: 'object' | 'array' | 'value'): void {
    if (this.indent === 1) {
      this.out += '\n}\n';
      this.indent--;
      this.afterClose = true;
      return;
    }
    if (type !== 'value') {
      this.indent--;
      this.out += '\n';
      this.pad();
      this.out += type === 'object' ? '}' : ']';
    }
    this.afterClose = true;
  }

  value(name: string, data: string | null, type: JsonType): void {
    this.open(name, 'value');
    if (!data) this.out += 'null';
    else this.out += type === 'number' ? data : jsonString(data);
    this.close('value');
  }
}

// ---- the table --------------------------------------------------------------------------------

interface Layout {
  width: number;
  widthMin: number;
  widthTreeArt: number;
  hidden: boolean;
}

/** A cell as a human table shows it: safe-encoded text (art included) and its width. */
interface HumanCell {
  text: string;
  width: number;
}

export class ColumnTable {
  private readonly lines: TableLine[] = [];
  private readonly symbols: Symbols;

  constructor(readonly columns: readonly ColumnSpec[], readonly options: TableOptions) {
    this.symbols = options.utf8 ? UTF8_SYMBOLS : ASCII_SYMBOLS;
  }

  get isTree(): boolean {
    return this.columns.some((c) => c.tree);
  }

  get lineCount(): number {
    return this.lines.length;
  }

  /** A new row, as the last child of `parent` (or a root). */
  addLine(parent: TableLine | null = null): TableLine {
    const line = new TableLine(parent, this.columns.length);
    this.lines.push(line);
    parent?.children.push(line);
    return line;
  }

  /** Takes a row out again (a row a filter rejected); it must have no children. */
  removeLine(line: TableLine): void {
    const i = this.lines.indexOf(line);
    if (i >= 0) this.lines.splice(i, 1);
    if (line.parent) {
      const j = line.parent.children.indexOf(line);
      if (j >= 0) line.parent.children.splice(j, 1);
    }
  }

  /** Rows in print order: depth first from the roots for a tree, insertion order otherwise. */
  private ordered(): TableLine[] {
    if (!this.isTree) return this.lines;
    const out: TableLine[] = [];
    const walk = (l: TableLine) => {
      out.push(l);
      for (const c of l.children) walk(c);
    };
    for (const l of this.lines) if (!l.parent) walk(l);
    return out;
  }

  private isLastChild(line: TableLine): boolean {
    const siblings = line.parent ? line.parent.children : this.lines.filter((l) => !l.parent);
    return siblings[siblings.length - 1] === line;
  }

  /** The vertical lines of a row's ancestors (tree_ascii_art_to_buffer). */
  private ancestorArt(line: TableLine | null): string {
    if (!line?.parent) return '';
    return this.ancestorArt(line.parent) + (this.isLastChild(line) ? '  ' : this.symbols.vertical);
  }

  /** What a tree column puts in front of a row's data. */
  private branchArt(line: TableLine): string {
    if (!line.parent) return '';
    return this.ancestorArt(line.parent) + (this.isLastChild(line) ? this.symbols.right : this.symbols.branch);
  }

  render(): string {
    const rows = this.ordered();
    if (this.options.format === 'json') return this.renderJson(rows);
    if (rows.length === 0) return '';
    return this.options.format === 'raw' ? this.renderRaw(rows) : this.renderHuman(rows);
  }

  private renderRaw(rows: TableLine[]): string {
    const out: string[] = [];
    if (!this.options.noHeadings) out.push(this.columns.map((c) => rawEncode(c.name)).join(' '));
    for (const line of rows) {
      out.push(this.columns.map((c, i) => rawEncode((c.tree ? this.branchArt(line) : '') + (line.cells[i] ?? ''))).join(' '));
    }
    return `${out.join('\n')}\n`;
  }

  private renderJson(rows: TableLine[]): string {
    const w = new JsonWriter();
    w.open(null, 'object');
    w.open(this.options.name ?? '', 'array');
    const values = (line: TableLine) => this.columns.forEach((c, i) => w.value(c.name, line.cells[i] ?? null, c.json ?? 'string'));
    if (!this.isTree) {
      for (const line of rows) {
        w.open(null, 'object');
        values(line);
        w.close('object');
      }
    } else {
      const roots = this.lines.filter((l) => !l.parent);
      for (const line of rows) {
        w.open(null, 'object');
        values(line);
        if (line.children.length) {
          w.open('children', 'array');
          continue;
        }
        // A leaf closes itself and every ancestor whose last child it ends.
        let last: boolean;
        let l: TableLine | null = line;
        do {
          last = l.parent ? this.isLastChild(l) : roots[roots.length - 1] === l;
          w.close('object');
          if (last && l.parent) w.close('array');
          l = l.parent;
        } while (l && last);
      }
    }
    w.close('array');
    w.close('object');
    return w.out;
  }

  private humanCell(line: TableLine, col: number): HumanCell {
    const c = this.columns[col]!;
    const data = (c.tree ? this.branchArt(line) : '') + (line.cells[col] ?? '');
    return safeEncode(data, this.options.utf8 ?? false, c.lines ? '\n' : '');
  }

  /** __scols_calculate: every column's width, fitted to the terminal when there is one. */
  private layout(cells: Map<TableLine, HumanCell[]>): Layout[] {
    const layouts: Layout[] = this.columns.map((c, i) => {
      let widthMin = Math.max(1, safeEncode(c.name, this.options.utf8 ?? false).width);
      let width = 0;
      let widthTreeArt = 0;
      for (const [line, row] of cells) {
        const cell = row[i]!;
        const len = c.lines ? Math.max(0, ...cell.text.split('\n').map(textWidth)) : cell.width;
        width = Math.max(width, len);
        if (c.tree) widthTreeArt = Math.max(widthTreeArt, safeEncode(this.branchArt(line), this.options.utf8 ?? false).width);
      }
      const hint = c.widthHint ?? 0;
      if (width < widthMin) width = widthMin;
      else if (hint >= 1 && width < hint && widthMin < hint) width = hint;
      widthMin = Math.max(widthMin, 1);
      return { width, widthMin, widthTreeArt, hidden: false };
    });
    const term = this.options.termWidth;
    if (term === undefined) return layouts;
    let total = layouts.reduce((s, l, i) => s + l.width + (i === layouts.length - 1 ? 0 : 1), 0);
    if (total < term) {
      // The last column takes the rest of the line (invisible: it is never padded).
      const last = this.columns.length - 1;
      if (!this.columns[last]!.right) {
        layouts[last]!.width += term - total;
        total = term;
      }
    }
    // Too wide: truncate the columns that allow it, one cell per column per round.
    let changed = true;
    while (total > term && changed) {
      changed = false;
      for (let i = 0; i < layouts.length; i++) {
        const l = layouts[i]!;
        const c = this.columns[i]!;
        if (l.hidden) continue;
        if (total <= term) break;
        if (l.width === l.widthMin) continue;
        // libsmartcols compares the table's width, not the column's, with the tree's art.
        if (c.tree && total <= l.widthTreeArt) continue;
        if (l.width === 0 || !c.trunc) continue;
        l.width--;
        total--;
        changed = true;
        if (l.width === 0) l.hidden = true;
      }
    }
    return layouts;
  }

  private renderHuman(rows: TableLine[]): string {
    const cells = new Map<TableLine, HumanCell[]>(rows.map((l) => [l, this.columns.map((_, i) => this.humanCell(l, i))]));
    const layouts = this.layout(cells);
    const visible = this.columns.map((_, i) => i).filter((i) => !layouts[i]!.hidden);
    const lastVisible = visible[visible.length - 1];
    let out = '';
    const pending = new Map<number, string>();

    /** print_data: one cell of a row (or of the header), with its separator. */
    const printCell = (i: number, cell: HumanCell, line: TableLine | null) => {
      const c = this.columns[i]!;
      const isLast = i === lastVisible;
      let width = layouts[i]!.width;
      let text = cell.text;
      let len = cell.width;
      if (c.lines && line && text) {
        const nl = text.indexOf('\n');
        if (nl >= 0) {
          if (nl + 1 < text.length) pending.set(i, text.slice(nl + 1));
          text = text.slice(0, nl);
          len = textWidth(text);
        }
      }
      if (isLast && len < width && !c.right) width = len;
      if (len > width && c.trunc) ({ text, width: len } = truncate(text, width));
      if (text) {
        if (c.right) {
          out += ' '.repeat(Math.max(0, width - len));
          len = width;
        }
        out += text;
      }
      if (isLast) return;
      if (len < width) out += ' '.repeat(width - len);
      if (len > width && !c.trunc) {
        // Too long for its column: the next column starts on a new line, under itself.
        out += '\n';
        for (const j of visible) {
          if (j > i) break;
          printEmpty(j, line);
        }
      } else {
        out += ' ';
      }
    };

    /** print_empty_cell: padding, or a tree column's vertical lines, on a continuation line. */
    const printEmpty = (i: number, line: TableLine | null) => {
      const c = this.columns[i]!;
      let len = 0;
      if (line && c.tree) {
        let art = this.ancestorArt(line);
        if (line.children.length && pending.size) art += this.symbols.vertical;
        const enc = safeEncode(art, this.options.utf8 ?? false);
        out += enc.text;
        len = enc.width;
      }
      if (i === lastVisible) return;
      if (len < layouts[i]!.width) out += ' '.repeat(layouts[i]!.width - len);
      out += ' ';
    };

    /** print_pending_data: the next line of a multi-line cell. */
    const printPending = (i: number) => {
      const width = layouts[i]!.width;
      const data = pending.get(i)!;
      const nl = data.indexOf('\n');
      let text: string;
      let len: number;
      if (nl >= 0) {
        text = data.slice(0, nl);
        len = textWidth(text);
        if (nl + 1 < data.length) pending.set(i, data.slice(nl + 1));
        else pending.delete(i);
      } else {
        ({ text, width: len } = truncate(data, width));
        pending.delete(i);
      }
      out += text;
      if (i === lastVisible) return;
      if (len < width) out += ' '.repeat(width - len);
      out += ' ';
    };

    const lines: string[] = [];
    if (!this.options.noHeadings) {
      for (const i of visible) printCell(i, safeEncode(this.columns[i]!.name, this.options.utf8 ?? false), null);
      lines.push(out);
    }
    for (const line of rows) {
      out = '';
      const row = cells.get(line)!;
      for (const i of visible) printCell(i, row[i]!, line);
      while (pending.size) {
        out += '\n';
        for (const i of visible) {
          if (pending.has(i)) printPending(i);
          else printEmpty(i, line);
        }
      }
      lines.push(out);
    }
    return `${lines.join('\n')}\n`;
  }
}
