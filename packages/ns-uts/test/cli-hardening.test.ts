/** ns-uts against bad input, and its parser against 10,000 random argument vectors (the test kit's CLI harness). */
import * as harness from 'ns-test-kit';
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
