/** ns-uts against bad input, and its parser against 10,000 random argument vectors (ns-core's CLI harness). */
import { dirname, join } from 'node:path';

// ns-core's harness, loaded from its build: a referenced project's test files cannot be imported.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const harness = require(join(dirname(require.resolve('ns-core/package.json')), 'dist/test/cli-harness.js')) as typeof import('../../ns-core/test/cli-harness');
const cli = harness.cliUnderTest('ns-uts');

harness.describeBadInput(cli, [
  { why: 'missing argument', argv: ['--hostname'], mentions: ['hostname'] },
  { why: 'empty hostname', argv: ['--hostname', '', 'true'], mentions: ['--hostname', 'empty'] },
  { why: 'hostname longer than the kernel takes (64 bytes)', argv: ['--hostname', 'a'.repeat(65), 'true'], mentions: ['--hostname', 'a'.repeat(65)] },
  { why: 'domain name longer than the kernel takes', argv: [`--domainname=${'b'.repeat(70)}`, 'true'], mentions: ['--domainname', 'b'.repeat(70)] },
  { why: 'missing argument to --domainname', argv: ['--domainname'], mentions: ['domainname'] },
  { why: 'unknown option', argv: ['--bogus', 'true'], mentions: ['bogus'] },
  { why: 'negated option that takes a value', argv: ['--no-hostname', 'true'], mentions: ["'--no-hostname'"] },
]);

harness.describeFuzz(cli);
