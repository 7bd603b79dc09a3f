/** ns-ls against bad input, and its parser against 10,000 random argument vectors. */
import { cliUnderTest, describeBadInput, describeFuzz } from 'ns-test-kit';

const cli = cliUnderTest('ns-ls');

describeBadInput(cli, [
  { why: 'unknown namespace type', argv: ['-t', 'bogus'], mentions: ['bogus'] },
  { why: 'pid that is not a number', argv: ['-p', 'abc'], mentions: ["'abc'"] },
  { why: 'pid out of range (0)', argv: ['--task', '0'], mentions: ["'0'"] },
  { why: 'pid that is a fraction', argv: ['-p', '1.5'], mentions: ["'1.5'"] },
  { why: 'pid of no process', argv: ['-p', '99999999'], mentions: ['--task', '99999999'] },
  { why: 'missing argument to -p', argv: ['-p'], mentions: ['p'] },
  { why: 'missing argument to --output', argv: ['--output'], mentions: ['output'] },
  { why: 'unknown column', argv: ['-o', 'NS,BOGUS'], mentions: ['BOGUS'] },
  { why: 'unknown tree relationship', argv: ['--tree=sideways'], mentions: ['sideways'] },
  { why: 'namespace that is not a number', argv: ['--tree', 'sideways'], mentions: ["'sideways'"] },
  { why: 'unknown option', argv: ['--frobnicate'], mentions: ['frobnicate'] },
  { why: 'argument to a flag', argv: ['--json=yes'], mentions: ["'--json'"] },
  { why: 'negated option that takes a value', argv: ['--no-output'], mentions: ["'--no-output'"] },
]);

describeFuzz(cli);
