/** ns-ipc against bad input, and its parser against 10,000 random argument vectors (the test kit's CLI harness). */
import * as harness from 'ns-test-kit';
const cli = harness.cliUnderTest('ns-ipc');

harness.describeBadInput(cli, [
  { why: 'unknown option', argv: ['--bogus', 'true'], mentions: ['bogus'] },
  { why: 'unknown short option', argv: ['-x', 'true'], mentions: ['x'] },
  { why: 'an option of another tool (ns-enter --ipc=FILE)', argv: ['--ipc=/proc/self/ns/ipc', 'true'], mentions: ['ipc'] },
  { why: 'negated unknown option', argv: ['--no-frobnicate', 'true'], mentions: ['frobnicate'] },
]);

// ns-ipc takes no options of its own: the vectors are unknown options and programs.
harness.describeFuzz(cli, { minOptions: 0 });
