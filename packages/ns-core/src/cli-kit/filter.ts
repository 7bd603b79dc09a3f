/**
 * Filter expressions for column output, as util-linux 2.40+ takes them with `-Q/--filter`
 * (libsmartcols, scols-filter(5)): `NS == 4026531836 && TYPE != "net"`, `COMMAND =~ "^sleep"`,
 * `NOT (PID > 100 || USER == 'root')`.
 *
 * - Operands: column names (holders), unsigned integers (with K, M, G... or KiB... suffixes,
 *   powers of 1024), floats (`1.5`), strings in "" or '' (no escapes; leading and trailing
 *   blanks dropped), `true`/`false`.
 * - Operators: `&&`/and/AND, `||`/or/OR (one precedence level, left to right, as libsmartcols'
 *   grammar has them), `!`/not/NOT, `==` `!=` `<` `<=` `>` `>=` and eq ne lt le gt ge, `=~` and
 *   `!~` (POSIX extended regex, matched anywhere; the right side must be a string).
 * - Types: each comparison works in one type, the one a literal operand has (a holder takes its
 *   column's type, numbers for numeric columns, strings otherwise), float over integer; a holder
 *   converted to a number that is not one fails the whole filter as libsmartcols does. An empty
 *   cell makes every numeric comparison false; a holder alone is true when its cell is not empty.
 * Not implemented: libsmartcols' counters (`--highlight`, `--counter` in lsblk/lsfd), which lsns
 * does not use; regex syntax JavaScript lacks (collating elements `[.x.]`, equivalence classes
 * `[=x=]`) is refused, and glibc's exact regerror() wording is approximated.
 */

export type FilterType = 'string' | 'u64' | 'float' | 'boolean';

/** A filter that does not parse: `message` is what libsmartcols' errmsg would say. */
export class FilterSyntaxError extends Error {}

/** Evaluation failed (a cell that should be a number is not one). */
export class FilterEvalError extends Error {}

type Token =
  | { t: 'num'; v: bigint } | { t: 'float'; v: number } | { t: 'str'; v: string } | { t: 'holder'; v: string }
  | { t: 'true' } | { t: 'false' } | { t: '(' } | { t: ')' } | { t: "'" }
  | { t: 'and' } | { t: 'or' } | { t: 'neg' }
  | { t: 'eq' } | { t: 'ne' } | { t: 'lt' } | { t: 'le' } | { t: 'gt' } | { t: 'ge' } | { t: 'reg' } | { t: 'nreg' }
  | { t: 'end' }
  /** A token the scanner refused (a number too large): an error once the parser reaches it. */
  | { t: 'invalid'; message: string };

type Param =
  | { kind: 'param'; type: 'u64'; v: bigint } | { kind: 'param'; type: 'float'; v: number }
  | { kind: 'param'; type: 'string'; v: string; re?: RegExp } | { kind: 'param'; type: 'boolean'; v: boolean }
  | { kind: 'holder'; name: string };
type Op = 'and' | 'or' | 'neg' | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'reg' | 'nreg';
type Node = Param | { kind: 'expr'; op: Op; left: Node | null; right: Node };

/** libsmartcols' limits (SCOLS_FILTER_MAX_*). */
const MAX_EXPRESSION = 1024;
const MAX_NODES = 256;
const MAX_DEPTH = 256;
const MAX_REGEX = 256;
const MAX_REPEAT = 1024;

/** Bison's names for the tokens, in "syntax error, unexpected X". */
const TOKEN_NAMES: Record<Token['t'], string> = {
  num: 'NUMBER', float: 'FLOAT', str: 'STRING', holder: 'HOLDER', true: 'TRUE', false: 'FALSE',
  '(': "'('", ')': "')'", "'": "'\\''", and: 'AND', or: 'OR', neg: 'NEG', eq: 'EQ', ne: 'NE',
  lt: 'LT', le: 'LE', gt: 'GT', ge: 'GE', reg: 'REG', nreg: 'NREG', end: 'end of file', invalid: 'INVALID_NUMBER',
};

const KEYWORDS: Record<string, Token['t']> = {
  and: 'and', AND: 'and', or: 'or', OR: 'or', not: 'neg', NOT: 'neg', eq: 'eq', EQ: 'eq', ne: 'ne', NE: 'ne',
  le: 'le', LE: 'le', lt: 'lt', LT: 'lt', ge: 'ge', GE: 'ge', gt: 'gt', GT: 'gt',
  false: 'false', FALSE: 'false', true: 'true', TRUE: 'true',
};

const OPERATORS: readonly [string, Token['t']][] = [
  ['&&', 'and'], ['||', 'or'], ['==', 'eq'], ['!=', 'ne'], ['<=', 'le'], ['>=', 'ge'], ['=~', 'reg'], ['!~', 'nreg'],
  ['!', 'neg'], ['<', 'lt'], ['>', 'gt'], ['(', '('], [')', ')'],
];

const SUFFIX_POWER: Record<string, number> = { K: 1, M: 2, G: 3, T: 4, P: 5, E: 6, Z: 7, Y: 8 };
const U64_MAX = (1n << 64n) - 1n;

/** The scanner (filter-scanner.l): longest match, keywords before names of the same length. */
function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const blank = /^[ \t\n]+/.exec(rest);
    if (blank) {
      i += blank[0].length;
      continue;
    }
    const candidates: { len: number; tok: () => Token }[] = [];
    for (const [s, t] of OPERATORS) if (rest.startsWith(s)) candidates.push({ len: s.length, tok: () => ({ t }) as Token });
    const word = /^[a-zA-Z][a-zA-Z_.%:/\-0-9]*/.exec(rest)?.[0];
    if (word) candidates.push({ len: word.length, tok: () => (KEYWORDS[word] ? { t: KEYWORDS[word] } as Token : { t: 'holder', v: word }) });
    const float = /^[0-9]+\.[0-9]+/.exec(rest)?.[0];
    if (float) candidates.push({ len: float.length, tok: () => ({ t: 'float', v: Number(float) }) });
    const sized = /^([0-9]+)([KMGTPEZY])(iB)?/.exec(rest);
    if (sized) {
      candidates.push({ len: sized[0].length, tok: () => {
        const v = BigInt(sized[1]!) * (1n << BigInt(10 * SUFFIX_POWER[sized[2]!]!));
        if (v > U64_MAX) throw new FilterSyntaxError(`"${sized[0]}" token error: Numerical result out of range`);
        return { t: 'num', v };
      } });
    }
    const int = /^[0-9]+/.exec(rest)?.[0];
    // strtoumax(3) saturates at ULLONG_MAX.
    if (int) candidates.push({ len: int.length, tok: () => ({ t: 'num', v: BigInt(int) > U64_MAX ? U64_MAX : BigInt(int) }) });
    const str = /^"[^"\n]*"|^'[^'\n]*'/.exec(rest)?.[0];
    if (str) candidates.push({ len: str.length, tok: () => ({ t: 'str', v: str.slice(1, -1).trim() }) });
    if (rest.startsWith("'")) candidates.push({ len: 1, tok: () => ({ t: "'" }) });
    let best: { len: number; tok: () => Token } | undefined;
    for (const c of candidates) if (!best || c.len > best.len) best = c;
    if (!best) {
      // flex's default rule: a character no rule matches is passed over.
      i++;
      continue;
    }
    try {
      out.push(best.tok());
    } catch (e) {
      out.push({ t: 'invalid', message: (e as Error).message });
      return out;
    }
    i += best.len;
  }
  out.push({ t: 'end' });
  return out;
}

/**
 * libsmartcols refuses regular expressions that make glibc's regcomp() allocate without bound:
 * consecutive quantifiers, repeated groups containing a quantifier, huge interval bounds.
 */
function unsafeRegex(pattern: string): boolean {
  for (let i = 0; i + 1 < pattern.length; i++) {
    const c = pattern[i]!;
    const n = pattern[i + 1]!;
    if ((c === '+' || c === '*') && (n === '+' || n === '*')) return true;
    if (c === ')' && (n === '+' || n === '*')) {
      for (let j = i - 1; j >= 0 && pattern[j] !== '('; j--) if (pattern[j] === '+' || pattern[j] === '*') return true;
    }
    if (c === '{') {
      for (const m of pattern.slice(i + 1).split('}')[0]!.matchAll(/[0-9]+/g)) if (Number(m[0]) > MAX_REPEAT) return true;
    }
  }
  return false;
}

const POSIX_CLASSES: Record<string, string> = {
  alpha: 'a-zA-Z', digit: '0-9', alnum: 'a-zA-Z0-9', upper: 'A-Z', lower: 'a-z', space: ' \\t\\n\\r\\f\\v',
  blank: ' \\t', punct: '!-\\/:-@\\[-`{-~', print: ' -~', graph: '!-~', cntrl: '\\x00-\\x1f\\x7f', xdigit: '0-9A-Fa-f',
};

/** POSIX extended regex (regcomp REG_EXTENDED) as a JavaScript RegExp with the same matches. */
export function posixRegex(pattern: string): RegExp {
  let out = '';
  const escape = (ch: string) => ch.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const n = pattern[++i];
      if (n === undefined) throw new FilterSyntaxError('Trailing backslash');
      if (/[1-9]/.test(n)) out += `\\${n}`;
      else if ('wWsSbB'.includes(n)) out += `\\${n}`;
      else if (n === '<') out += '\\b(?=\\w)';
      else if (n === '>') out += '\\b(?<=\\w)';
      else out += escape(n);
    } else if (c === '[') {
      // A bracket expression: ']' first is literal, backslash is literal, [:class:] named.
      let j = i + 1;
      let set = '';
      if (pattern[j] === '^') {
        set += '^';
        j++;
      }
      let first = true;
      for (;; first = false) {
        if (j >= pattern.length) throw new FilterSyntaxError('Unmatched [, [^, [:, [., or [=');
        const ch = pattern[j]!;
        if (ch === ']' && !first) break;
        if (ch === '[' && pattern[j + 1] === ':') {
          const end = pattern.indexOf(':]', j + 2);
          const name = end < 0 ? undefined : pattern.slice(j + 2, end);
          if (name === undefined || !POSIX_CLASSES[name]) throw new FilterSyntaxError('Invalid character class name');
          set += POSIX_CLASSES[name];
          j = end + 2;
          continue;
        }
        if (ch === '[' && (pattern[j + 1] === '.' || pattern[j + 1] === '=')) throw new FilterSyntaxError('Invalid collation character');
        set += ch === '-' && !first && pattern[j + 1] !== ']' ? '-' : escape(ch);
        j++;
      }
      out += `[${set}]`;
      i = j;
    } else {
      out += c;
    }
  }
  try {
    // POSIX '.' matches a newline too (no REG_NEWLINE).
    return new RegExp(out, 's');
  } catch (e) {
    const m = (e as Error).message;
    if (/Unterminated group|Unmatched '\)'/.test(m)) throw new FilterSyntaxError(/Unmatched '\)'/.test(m) ? 'Unmatched ) or \\)' : 'Unmatched ( or \\(');
    if (/Nothing to repeat/.test(m)) throw new FilterSyntaxError('Invalid preceding regular expression');
    if (/numbers out of order/.test(m)) throw new FilterSyntaxError('Invalid range end');
    throw new FilterSyntaxError('Invalid regular expression');
  }
}

/** The grammar (filter-parser.y): `&&`/`||` bind least, comparisons and `!` most, all left to right. */
class Parser {
  private pos = 0;
  private params = 0;
  private depth = 0;

  constructor(private readonly tokens: Token[]) {}

  /** The lookahead; the scanner reports a refused token when the parser asks for it, as flex does. */
  private peek(): Token {
    const tok = this.tokens[this.pos]!;
    if (tok.t === 'invalid') throw new FilterSyntaxError(tok.message);
    return tok;
  }

  private unexpected(): never {
    throw new FilterSyntaxError(`syntax error, unexpected ${TOKEN_NAMES[this.peek().t]}`);
  }

  private static level(t: Token['t']): number {
    if (t === 'and' || t === 'or') return 1;
    if (t === 'eq' || t === 'ne' || t === 'lt' || t === 'le' || t === 'gt' || t === 'ge' || t === 'reg' || t === 'nreg') return 2;
    return 0;
  }

  parse(): Node {
    const root = this.expr(1);
    if (this.peek().t !== 'end') this.unexpected();
    return root;
  }

  private expr(min: number): Node {
    if (++this.depth > MAX_DEPTH) throw new FilterSyntaxError('memory exhausted');
    let left = this.unary();
    for (;;) {
      const t = this.peek().t;
      const level = Parser.level(t);
      if (level === 0 || level < min) break;
      this.pos++;
      const right = this.expr(level + 1);
      if (t === 'reg' || t === 'nreg') this.compile(right);
      left = { kind: 'expr', op: t as Op, left, right };
    }
    this.depth--;
    return left;
  }

  /** filter_compile_param: `=~` wants a string literal on its right; otherwise no message. */
  private compile(n: Node): void {
    if (n.kind !== 'param' || n.type !== 'string') throw new FilterSyntaxError('(null)');
    if (n.v.length > MAX_REGEX || unsafeRegex(n.v)) throw new FilterSyntaxError('(null)');
    n.re = posixRegex(n.v);
  }

  private unary(): Node {
    const tok = this.peek();
    switch (tok.t) {
      case '(': {
        this.pos++;
        const inner = this.expr(1);
        if (this.peek().t !== ')') this.unexpected();
        this.pos++;
        return inner;
      }
      case 'neg':
        this.pos++;
        return { kind: 'expr', op: 'neg', left: null, right: this.unaryOrDeeper() };
      case 'num': case 'float': case 'str': case 'holder': case 'true': case 'false':
        if (++this.params > MAX_NODES) throw new FilterSyntaxError('(null)');
        this.pos++;
        if (tok.t === 'num') return { kind: 'param', type: 'u64', v: tok.v };
        if (tok.t === 'float') return { kind: 'param', type: 'float', v: tok.v };
        if (tok.t === 'str') return { kind: 'param', type: 'string', v: tok.v };
        if (tok.t === 'holder') return { kind: 'holder', name: tok.v };
        return { kind: 'param', type: 'boolean', v: tok.t === 'true' };
      default:
        return this.unexpected();
    }
  }

  /** `! a == b` is `(!a) == b`: the negation takes one operand, itself possibly negated. */
  private unaryOrDeeper(): Node {
    if (++this.depth > MAX_DEPTH) throw new FilterSyntaxError('memory exhausted');
    const n = this.unary();
    this.depth--;
    return n;
  }
}

/**
 * A value on its way to a comparison. `empty` is libsmartcols' flag for a holder whose cell had
 * no data: it survives casts (an empty PID cast to a string reads "0"), and makes numeric and
 * boolean comparisons false.
 */
type Value =
  | { type: 'u64'; v: bigint; empty: boolean } | { type: 'float'; v: number; empty: boolean }
  | { type: 'string'; v: string | null; empty: boolean } | { type: 'boolean'; v: boolean; empty: boolean };

/** What evaluation asks of the table: a holder's cell text (null when empty) and its column's type. */
export interface FilterRow {
  cell(holder: string): string | null;
  typeOf(holder: string): FilterType;
}

/** ul_strtou64: the whole string a decimal number, no sign. */
function toU64(s: string): bigint {
  const m = /^[ \t\n\v\f\r]*\+?([0-9]+)$/.exec(s);
  if (!m) throw new FilterEvalError('Invalid argument');
  const v = BigInt(m[1]!);
  if (v > U64_MAX) throw new FilterEvalError('Numerical result out of range');
  return v;
}

/** ul_strtold: the whole string a number. */
function toFloat(s: string): number {
  const v = Number(s);
  if (s.trim() === '' || Number.isNaN(v) || /^\s*[+-]?0x/i.test(s)) throw new FilterEvalError('Invalid argument');
  return v;
}

/** rpmatch(3) "yes" in the C locale, or "1", or "true". */
function toBoolean(s: string): boolean {
  return s === '1' || s.toLowerCase() === 'true' || /^[yY]/.test(s);
}

/** cast_param: string_cast, u64_cast, float_cast, bool_cast. */
function cast(value: Value, type: FilterType): Value {
  if (value.type === type) return value;
  const empty = value.empty;
  switch (value.type) {
    case 'string': {
      const s = value.v;
      if (type === 'u64') return { type, v: s === null ? 0n : toU64(s), empty };
      if (type === 'float') return { type, v: s === null ? 0 : toFloat(s), empty };
      return { type: 'boolean', v: s !== null && s !== '' && toBoolean(s), empty };
    }
    case 'u64':
      if (type === 'string') return { type, v: String(value.v), empty };
      if (type === 'float') return { type, v: Number(value.v), empty };
      return { type: 'boolean', v: value.v > 0n, empty };
    case 'float':
      if (type === 'string') return { type, v: formatFloat(value.v), empty };
      if (type === 'u64') return { type, v: BigInt(Math.max(0, Math.trunc(value.v))), empty };
      return { type: 'boolean', v: value.v > 0, empty };
    case 'boolean':
      if (type === 'string') return { type, v: value.v ? 'true' : 'false', empty };
      if (type === 'u64') return { type, v: value.v ? 1n : 0n, empty };
      return { type: 'float', v: value.v ? 1 : 0, empty };
  }
}

/** printf("%Lg"). */
function formatFloat(v: number): string {
  if (v === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(v)));
  if (exp < -4 || exp >= 6) return v.toExponential(5).replace(/\.?0+e/, 'e').replace(/e([+-])(\d)$/, 'e$10$2');
  return String(Number(v.toPrecision(6)));
}

function compare<T extends bigint | number | string | boolean>(op: Op, a: T, b: T): boolean {
  switch (op) {
    case 'eq': return a === b;
    case 'ne': return a !== b;
    case 'lt': return a < b;
    case 'le': return a <= b;
    case 'gt': return a > b;
    case 'ge': return a >= b;
    default: return false;
  }
}

/** strcmp order on the strings' bytes. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export class Filter {
  private constructor(private readonly root: Node | null) {}

  /** Parses an expression; the empty one matches every row. */
  static parse(text: string): Filter {
    if (!text) return new Filter(null);
    if (text.length > MAX_EXPRESSION) throw new FilterSyntaxError('(null)');
    return new Filter(new Parser(tokenize(text)).parse());
  }

  /** Column names the expression uses, in order, each once. */
  holders(): string[] {
    const out: string[] = [];
    const walk = (n: Node | null) => {
      if (!n) return;
      if (n.kind === 'holder') {
        if (!out.includes(n.name)) out.push(n.name);
      } else if (n.kind === 'expr') {
        walk(n.left);
        walk(n.right);
      }
    };
    walk(this.root);
    return out;
  }

  /** Whether the row passes. @throws FilterEvalError when a cell cannot take the type asked. */
  matches(row: FilterRow): boolean {
    return this.root === null || this.truth(this.root, row);
  }

  private typeOf(n: Node, row: FilterRow): FilterType {
    if (n.kind === 'expr') return 'boolean';
    if (n.kind === 'holder') return row.typeOf(n.name);
    return n.type;
  }

  private value(n: Node, row: FilterRow): Value {
    if (n.kind === 'expr') return { type: 'boolean', v: this.truth(n, row), empty: false };
    if (n.kind === 'param') return { type: n.type, v: n.v, empty: false } as Value;
    // fetch_holder_data: the cell as a string, blanks trimmed, then in its column's type.
    const text = row.cell(n.name);
    return cast({ type: 'string', v: text === null ? null : text.trim(), empty: text === null }, row.typeOf(n.name));
  }

  private truth(n: Node, row: FilterRow): boolean {
    if (n.kind !== 'expr') {
      const v = this.value(n, row);
      if (v.empty) return false;
      switch (v.type) {
        case 'string': return v.v !== null && v.v !== '';
        case 'u64': return v.v !== 0n;
        case 'float': return v.v !== 0;
        case 'boolean': return v.v;
      }
    }
    switch (n.op) {
      case 'and': return this.truth(n.left!, row) && this.truth(n.right, row);
      case 'or': return this.truth(n.left!, row) || this.truth(n.right, row);
      case 'neg': return !this.truth(n.right, row);
      default: break;
    }
    const left = n.left!;
    const lt = this.typeOf(left, row);
    const rt = this.typeOf(n.right, row);
    // guess_expr_datatype: a literal's type over a holder's; float over integer.
    let type = lt;
    if (lt !== rt) {
      const lh = left.kind === 'holder';
      const rh = n.right.kind === 'holder';
      type = lh && !rh ? rt : lt;
      if (type === 'u64' && (lt === 'float' || rt === 'float')) type = 'float';
    }
    const l = cast(this.value(left, row), type);
    const r = cast(this.value(n.right, row), type);
    if (l.type === 'string' && r.type === 'string') {
      if (n.op === 'reg' || n.op === 'nreg') {
        const re = n.right.kind === 'param' && n.right.type === 'string' ? n.right.re : undefined;
        if (!re) throw new FilterEvalError('Invalid argument');
        const hit = re.test(l.v ?? '');
        return n.op === 'reg' ? hit : !hit;
      }
      // xstrcmp(): a missing string sorts before every string.
      const order = l.v === null ? (r.v === null ? 0 : -1) : r.v === null ? 1 : byteOrder(l.v, r.v);
      return compare(n.op, order, 0);
    }
    if (n.op === 'reg' || n.op === 'nreg') throw new FilterEvalError('Invalid argument');
    if (l.empty || r.empty) return false;
    return compare(n.op, l.v as bigint | number | boolean, r.v as bigint | number | boolean);
  }
}
