/** ns-cgroup against bad input, and its parser against 10,000 random argument vectors (the test kit's CLI harness). */
import * as harness from 'ns-test-kit';
const cli = harness.cliUnderTest('ns-cgroup');

harness.describeBadInput(cli, [
  { why: 'memory that is not a size', argv: ['--memory', 'abc', 'true'], mentions: ['--memory', "'abc'"] },
  { why: 'memory of zero bytes', argv: ['--memory', '0', 'true'], mentions: ['--memory', "'0'"] },
  { why: 'memory with an unknown unit', argv: ['--memory', '1.5X', 'true'], mentions: ['--memory', "'1.5X'"] },
  { why: 'missing argument', argv: ['--memory'], mentions: ['memory'] },
  { why: 'negative pids limit', argv: ['--pids-max', '-1', 'true'], mentions: ['--pids-max', "'-1'"] },
  { why: 'pids limit of zero', argv: ['--pids-max=0', 'true'], mentions: ['--pids-max', "'0'"] },
  { why: 'no CPU at all', argv: ['--cpus', '0', 'true'], mentions: ['--cpus', "'0'"] },
  { why: 'less CPU than the kernel schedules (1 ms per period)', argv: ['--cpus', '0.001', 'true'], mentions: ['--cpus', "'0.001'"] },
  { why: 'CPUs in exponent notation', argv: ['--cpus', '1e9', 'true'], mentions: ['--cpus', "'1e9'"] },
  { why: 'cgroup path climbing out with ..', argv: ['--cgroup-path', '../x', 'true'], mentions: ['--cgroup-path', "'../x'"] },
  { why: 'cgroup path with an empty component', argv: ['--cgroup-path', 'a//b', 'true'], mentions: ['--cgroup-path', "'a//b'"] },
  { why: 'empty cgroup path', argv: ['--cgroup-path=', 'true'], mentions: ['--cgroup-path'] },
  { why: 'negated option that takes a value', argv: ['--no-cgroup-path', 'true'], mentions: ["'--no-cgroup-path'"] },
  // Only mkdir finds out, once the child waits for its cgroup: a real launch.
  { why: 'cgroup path under a file', argv: ['--cgroup-path', '/cgroup.procs/nsx-bad', 'true'], mentions: ['cgroup.procs/nsx-bad'], launch: true },
]);

harness.describeFuzz(cli);
