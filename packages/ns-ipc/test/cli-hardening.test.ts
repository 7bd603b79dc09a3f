/** ns-ipc against bad input, and its parser against 10,000 random argument vectors (ns-core's CLI harness). */
import { dirname, join } from 'node:path';

// ns-core's harness, loaded from its build: a referenced project's test files cannot be imported.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const harness = require(join(dirname(require.resolve('ns-core/package.json')), 'dist/test/cli-harness.js')) as typeof import('../../ns-core/test/cli-harness');
const cli = harness.cliUnderTest('ns-ipc');

harness.describeBadInput(cli, [
  { why: 'unknown option', argv: ['--bogus', 'true'], mentions: ['bogus'] },
  { why: 'unknown short option', argv: ['-x', 'true'], mentions: ['x'] },
  { why: 'an option of another tool (ns-enter --ipc=FILE)', argv: ['--ipc=/proc/self/ns/ipc', 'true'], mentions: ['ipc'] },
  { why: 'negated unknown option', argv: ['--no-frobnicate', 'true'], mentions: ['frobnicate'] },
]);

// ns-ipc takes no options of its own: the vectors are unknown options and programs.
harness.describeFuzz(cli, { minOptions: 0 });
