/** ns-time against bad input, and its parser against 10,000 random argument vectors (the test kit's CLI harness). */
import * as harness from 'ns-test-kit';
const cli = harness.cliUnderTest('ns-time');
import { readFileSync } from 'node:fs';

/** An offset that would put CLOCK_BOOTTIME below zero: more seconds back than the machine is up (read once: the row's argv and message must name the same value). */
let offset: string | undefined;
const beforeBoot = () => (offset ??= String(-Math.ceil(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) + 1000)));

harness.describeBadInput(cli, [
  { why: 'missing argument', argv: ['--monotonic'], mentions: ['monotonic'] },
  { why: 'offset that is not a number', argv: ['--monotonic', 'abc', 'true'], mentions: ['--monotonic', "'abc'"] },
  { why: 'offset in exponent notation', argv: ['--boottime', '1e3', 'true'], mentions: ['--boottime', "'1e3'"] },
  { why: 'empty offset', argv: ['--monotonic=', 'true'], mentions: ['--monotonic'] },
  { why: 'offset beyond the kernel limit', argv: ['--boottime', '-99999999999', 'true'], mentions: ['--boottime', '-99999999999'] },
  { why: 'offset finer than a nanosecond', argv: ['--monotonic', '1.0000000001', 'true'], mentions: ['--monotonic', '1.0000000001'] },
  { why: 'negated option that takes a value', argv: ['--no-boottime', 'true'], mentions: ["'--no-boottime'"] },
  { why: 'a clock time namespaces cannot shift', argv: ['--realtime', '5', 'true'], mentions: ['realtime'] },
  // The kernel refuses it when the offsets are written, as the program starts: a real launch.
  { why: 'boottime offset that would move the clock below zero', argv: () => ['--boottime', beforeBoot(), 'true'],
    mentions: ['--boottime', () => beforeBoot()], launch: true },
]);

harness.describeFuzz(cli);
