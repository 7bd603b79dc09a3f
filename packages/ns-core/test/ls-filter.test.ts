/**
 * ns-ls -Q: libsmartcols filter expressions (scols-filter(5)) evaluated on rows given here, so
 * each rule of the grammar and its type casts is pinned without reading /proc.
 */
import { expect } from 'chai';
import { Filter, FilterEvalError, FilterSyntaxError, posixRegex, type FilterType } from '../src/cli-kit/filter';

/** A row: column -> cell text (null: empty); numeric columns as lsns types them. */
function row(cells: Record<string, string | null>, numeric: readonly string[] = ['NS', 'PID', 'NPROCS', 'PNS']) {
  return {
    cell: (h: string) => cells[h.toUpperCase()] ?? null,
    typeOf: (h: string): FilterType => (numeric.includes(h.toUpperCase()) ? 'u64' : 'string'),
  };
}

const R = row({ NS: '4026531836', TYPE: 'net', PID: '42', NPROCS: '3', COMMAND: '  sleep 60 ', USER: 'root', PNS: '0', NETNSID: 'unassigned' });
const EMPTY = row({ NS: '4026532000', TYPE: 'uts', PID: null, NPROCS: '0', COMMAND: null });

const matches = (expr: string, r = R) => Filter.parse(expr).matches(r);

describe('ns-ls -Q: the filter grammar', () => {
  /** Each rule of the grammar: [expression, whether R (or the row given) matches it]. */
  const big = row({ NS: String(3 * 1024 ** 3) });
  const RULES: [rule: string, cases: [expr: string, matches: boolean, row?: ReturnType<typeof row>][]][] = [
    ['compares numbers as numbers and strings as strings, with C and word spellings', [
      ['NS == 4026531836', true],
      ['PID > 9', true], // as strings "42" < "9"
      ['PID gt 9 AND TYPE eq "net"', true],
      ["TYPE != 'uts' && NPROCS >= 3 and NPROCS <= 3 && PID lt 43 && PID le 42 && PID ge 42", true],
      ['TYPE == "NET"', false],
    ]],
    ['gives && and || one precedence, left to right, as its yacc grammar does', [
      // (true || false) && false: false; with C precedence it would be true.
      ['TYPE == "net" || TYPE == "x" && TYPE == "y"', false],
      ['TYPE == "net" || (TYPE == "x" && TYPE == "y")', true],
    ]],
    ['binds ! to one operand: !a == b is (!a) == b', [
      ['!NS', false],
      // (!TYPE) == "uts": a boolean (false) against "uts" read as a boolean (false): true.
      ['NOT TYPE == "uts"', true],
      ['NOT TYPE == "yes"', false],
      ['!(TYPE == "uts")', true],
      ['not not TYPE', true],
    ]],
    ['takes a literal operand\'s type over a holder\'s, float over integer, true/false as booleans', [
      ['NS == "4026531836"', true],
      ['NS =~ "^40265"', true],
      ['PID > 41.5 && PID < 42.5', true],
      ['PID == true && PNS == false', true],
      ['(PID == 42) == true', true],
    ]],
    ['suffixes K, M, G... (and KiB...) are powers of 1024', [
      ['NS == 3G', true, big],
      ['NS == 3GiB', true, big],
      ['NS == 3145728K', true, big],
    ]],
    ['trims blanks of string literals and of cells, and matches regexes anywhere (POSIX ERE)', [
      ['COMMAND == " sleep 60  "', true],
      ['COMMAND =~ "sle+p [0-9]{2}$"', true],
      ["COMMAND !~ 'sleep'", false],
      ['COMMAND =~ "^[[:alpha:]]+ [[:digit:]]+$"', true],
      ['USER =~ "r(o|x)+t"', true],
    ]],
    ['makes every numeric comparison on an empty cell false, and an empty holder alone false', [
      ['PID == 0', false, EMPTY],
      ['PID != 0', false, EMPTY],
      ['PID', false, EMPTY],
      ['COMMAND', false, EMPTY],
      ['COMMAND != "x"', true, EMPTY], // a missing string sorts before any
      // libsmartcols' quirk: an empty number cast to a string reads "0".
      ['PID == "0"', true, EMPTY],
    ]],
  ];
  for (const [rule, cases] of RULES) {
    it(rule, () => {
      for (const [expr, want, r] of cases) expect(matches(expr, r), expr).to.equal(want);
    });
  }

  it('an empty expression matches every row; holders are listed once, in order', () => {
    expect(Filter.parse('').matches(EMPTY)).to.equal(true);
    expect(Filter.parse('PID > 1 && (ns == 2 || PID < 9) && TYPE').holders()).to.deep.equal(['PID', 'ns', 'TYPE']);
  });

  it('fails the whole filter when a cell cannot be the number a comparison wants', () => {
    expect(() => matches('TYPE == 5')).to.throw(FilterEvalError, 'Invalid argument');
    expect(() => matches('NETNSID > 3')).to.throw(FilterEvalError);
  });

  const syntax: [string, string][] = [
    ['NS ==', 'syntax error, unexpected end of file'],
    ['NS NS', 'syntax error, unexpected HOLDER'],
    ['== 5', 'syntax error, unexpected EQ'],
    ['(NS == 1', 'syntax error, unexpected end of file'],
    ['NS == 1)', "syntax error, unexpected ')'"],
    ["NS == 'x", "syntax error, unexpected '\\''"],
    ['NS && && 1', 'syntax error, unexpected AND'],
    ['NS =~ 5', '(null)'],
    ['NS =~ NS', '(null)'],
    ['NS =~ "a++"', '(null)'],
    ['NS =~ "(a*)*"', '(null)'],
    ['NS =~ "x{1,5000}"', '(null)'],
    ['NS =~ "(a"', 'Unmatched ( or \\('],
    ['NS =~ "[a"', 'Unmatched [, [^, [:, [., or [='],
    ['NS == 99Y', '"99Y" token error: Numerical result out of range'],
    [`NS == ${'1'.repeat(1100)}`, '(null)'],
    [`${'('.repeat(300)}NS${')'.repeat(300)}`, 'memory exhausted'],
  ];
  for (const [expr, message] of syntax) {
    it(`refuses ${expr.length > 40 ? `${expr.slice(0, 20)}… (${expr.length} bytes)` : expr}: ${message}`, () => {
      expect(() => Filter.parse(expr)).to.throw(FilterSyntaxError).with.property('message', message);
    });
  }

  it('reports a scanner error only when the parser reaches it, as flex feeds bison', () => {
    expect(() => Filter.parse('NS NS == 99Y')).to.throw(FilterSyntaxError, 'unexpected HOLDER');
  });
});

describe('ns-ls -Q: POSIX extended regexes in JavaScript', () => {
  const cases: [string, string, boolean][] = [
    ['a.b', 'a\nb', true], // '.' matches a newline without REG_NEWLINE
    ['[]a]', ']', true], // ']' first in a bracket is literal
    ['[^]a]', 'b', true],
    ['[a\\]', '\\', true], // backslash is literal in a bracket
    ['[[:space:]]', '\t', true],
    ['[[:upper:][:digit:]]', 'Q', true],
    ['a/b', 'a/b', true],
    ['\\.', 'x', false],
    ['\\<ab\\>', 'x ab y', true],
    ['\\<ab\\>', 'xab', false],
    ['(x)\\1', 'xx', true],
    ['a|b', 'b', true],
    ['^$', '', true],
  ];
  for (const [pattern, text, hit] of cases) {
    it(`${JSON.stringify(pattern)} ${hit ? 'matches' : 'does not match'} ${JSON.stringify(text)}`, () => {
      expect(posixRegex(pattern).test(text)).to.equal(hit);
    });
  }
});
