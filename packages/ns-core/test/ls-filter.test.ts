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
  it('compares numbers as numbers and strings as strings, with C and word spellings', () => {
    expect(matches('NS == 4026531836')).to.equal(true);
    expect(matches('PID > 9')).to.equal(true); // as strings "42" < "9"
    expect(matches('PID gt 9 AND TYPE eq "net"')).to.equal(true);
    expect(matches("TYPE != 'uts' && NPROCS >= 3 and NPROCS <= 3 && PID lt 43 && PID le 42 && PID ge 42")).to.equal(true);
    expect(matches('TYPE == "NET"')).to.equal(false);
  });

  it('gives && and || one precedence, left to right, as its yacc grammar does', () => {
    // (true || false) && false: false; with C precedence it would be true.
    expect(matches('TYPE == "net" || TYPE == "x" && TYPE == "y"')).to.equal(false);
    expect(matches('TYPE == "net" || (TYPE == "x" && TYPE == "y")')).to.equal(true);
  });

  it('binds ! to one operand: !a == b is (!a) == b', () => {
    expect(matches('!NS')).to.equal(false);
    // (!TYPE) == "uts": a boolean (false) against "uts" read as a boolean (false): true.
    expect(matches('NOT TYPE == "uts"')).to.equal(true);
    expect(matches('NOT TYPE == "yes"')).to.equal(false);
    expect(matches('!(TYPE == "uts")')).to.equal(true);
    expect(matches('not not TYPE')).to.equal(true);
  });

  it('takes a literal operand\'s type over a holder\'s, float over integer, true/false as booleans', () => {
    expect(matches('NS == "4026531836"')).to.equal(true);
    expect(matches('NS =~ "^40265"')).to.equal(true);
    expect(matches('PID > 41.5 && PID < 42.5')).to.equal(true);
    expect(matches('PID == true && PNS == false')).to.equal(true);
    expect(matches('(PID == 42) == true')).to.equal(true);
  });

  it('suffixes K, M, G... (and KiB...) are powers of 1024', () => {
    const big = row({ NS: String(3 * 1024 ** 3) });
    expect(matches('NS == 3G', big)).to.equal(true);
    expect(matches('NS == 3GiB', big)).to.equal(true);
    expect(matches('NS == 3145728K', big)).to.equal(true);
  });

  it('trims blanks of string literals and of cells, and matches regexes anywhere (POSIX ERE)', () => {
    expect(matches('COMMAND == " sleep 60  "')).to.equal(true);
    expect(matches('COMMAND =~ "sle+p [0-9]{2}$"')).to.equal(true);
    expect(matches("COMMAND !~ 'sleep'")).to.equal(false);
    expect(matches('COMMAND =~ "^[[:alpha:]]+ [[:digit:]]+$"')).to.equal(true);
    expect(matches('USER =~ "r(o|x)+t"')).to.equal(true);
  });

  it('makes every numeric comparison on an empty cell false, and an empty holder alone false', () => {
    expect(matches('PID == 0', EMPTY)).to.equal(false);
    expect(matches('PID != 0', EMPTY)).to.equal(false);
    expect(matches('PID', EMPTY)).to.equal(false);
    expect(matches('COMMAND', EMPTY)).to.equal(false);
    expect(matches('COMMAND != "x"', EMPTY)).to.equal(true); // a missing string sorts before any
    // libsmartcols' quirk: an empty number cast to a string reads "0".
    expect(matches('PID == "0"', EMPTY)).to.equal(true);
  });

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
