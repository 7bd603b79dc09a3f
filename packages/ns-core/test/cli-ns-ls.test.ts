/** ns-ls against bad input (lsns' messages), and its parser against 10,000 random argument vectors. */
import { cliUnderTest, describeBadInput, describeFuzz } from 'ns-test-kit';

const cli = cliUnderTest('ns-ls');

describeBadInput(cli, [
  { why: 'unknown namespace type', argv: ['-t', 'bogus'], mentions: ['unknown namespace type: bogus'] },
  { why: 'a type spelled as unshare spells it', argv: ['-t', 'network'], mentions: ['unknown namespace type: network'] },
  { why: 'pid that is not a number', argv: ['-p', 'abc'], mentions: ["invalid PID argument: 'abc'"] },
  { why: 'pid out of range (0)', argv: ['--task', '0'], mentions: ["'0': Numerical result out of range"] },
  { why: 'pid that is a fraction', argv: ['-p', '1.5'], mentions: ["'1.5'"] },
  { why: 'pid beyond int32', argv: ['-p', '99999999999'], mentions: ["'99999999999': Numerical result out of range"] },
  { why: 'missing argument to -p', argv: ['-p'], mentions: ["option requires an argument -- 'p'"] },
  { why: 'missing argument to --output', argv: ['--output'], mentions: ["option '--output' requires an argument"] },
  { why: 'unknown column (lsns names the rest of the list)', argv: ['-o', 'NS,BOGUS,TYPE'], mentions: ['unknown column: BOGUS,TYPE'] },
  { why: 'empty column list', argv: ['-o', ''], mentions: ["invalid column list: ''"] },
  { why: 'empty column name', argv: ['-o', 'NS,,TYPE'], mentions: ["'NS,,TYPE'"] },
  { why: 'more columns than lsns takes', argv: ['-o', Array(27).fill('NS').join(',')], mentions: ['too many columns', '26'] },
  { why: 'unknown tree relationship', argv: ['--tree=sideways'], mentions: ['unknown tree type: sideways'] },
  { why: 'namespace that is not a number', argv: ['--tree', 'sideways'], mentions: ["invalid namespace argument: 'sideways'"] },
  { why: 'negative namespace', argv: ['--', '-1'], mentions: ["invalid namespace argument: '-1': Numerical result out of range"] },
  { why: 'namespace nobody has', argv: ['12345'], mentions: ['not found namespace: 12345'], launch: true },
  { why: 'a pid and a namespace', argv: ['-p', '1', '4026531836'], mentions: ['--task is mutually exclusive with <namespace>'] },
  { why: 'JSON and raw', argv: ['-J', '--raw'], mentions: ['mutually exclusive arguments: --json --raw'] },
  { why: 'persistent and a pid', argv: ['-P', '-p', '1'], mentions: ['mutually exclusive arguments: --persistent --task'] },
  { why: 'filter that does not parse', argv: ['-Q', 'NS =='], mentions: ['failed to parse "NS ==": syntax error, unexpected end of file'] },
  { why: 'filter on a column lsns lacks', argv: ['--filter', 'BOGUS > 1'], mentions: ['unknown column: BOGUS'] },
  { why: 'filter casting a name to a number', argv: ['-Q', 'TYPE == 5'], mentions: ['failed to apply filter: Invalid argument'], launch: true },
  { why: 'unknown option', argv: ['--frobnicate'], mentions: ["unrecognized option '--frobnicate'"] },
  { why: 'ambiguous abbreviation, listed in lsns order', argv: ['--no'], mentions: ["'--notruncate' '--noheadings' '--nowrap'"] },
  { why: 'argument to a flag', argv: ['--json=yes'], mentions: ["'--json'"] },
  { why: 'negated option that takes a value', argv: ['--no-output'], mentions: ["'--no-output'"] },
]);

describeFuzz(cli);
