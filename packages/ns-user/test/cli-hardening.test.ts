/** ns-user against bad input, and its parser against 10,000 random argument vectors (the test kit's CLI harness). */
import * as harness from 'ns-test-kit';
const cli = harness.cliUnderTest('ns-user');

const subids = (subuid: string, subgid = 'root:100000:65536\n') => ({ '/etc/subuid': subuid, '/etc/subgid': subgid });

harness.describeBadInput(cli, [
  { why: 'conflicting options (-r and -c)', argv: ['-r', '-c', 'true'], mentions: ['--map-root-user', '--map-current-user'] },
  { why: 'unknown user name', argv: ['--map-user', 'nosuchuser-nsx', 'true'], mentions: ['--map-user', 'nosuchuser-nsx'] },
  { why: 'unknown group name', argv: ['--map-group=nosuchgroup-nsx', 'true'], mentions: ['--map-group', 'nosuchgroup-nsx'] },
  { why: 'range with two fields', argv: ['--map-users', '1:2', 'true'], mentions: ['--map-users', "'1:2'"] },
  { why: 'range of words', argv: ['--map-users', 'a:b:c', 'true'], mentions: ['--map-users', "'a:b:c'"] },
  { why: 'range of zero ids', argv: ['--map-groups', '0:0:0', 'true'], mentions: ['--map-groups', "'0:0:0'"] },
  { why: 'range past the highest id', argv: ['--map-users', '0:4294967295:2', 'true'], mentions: ['--map-users', "'0:4294967295:2'"] },
  { why: 'overlapping ranges', argv: ['--map-users', '0:100000:10', '--map-users', '5:200000:10', 'true'],
    mentions: ["'0:100000:10'", "'5:200000:10'"] },
  { why: 'setgroups neither allow nor deny', argv: ['--setgroups', 'maybe', 'true'], mentions: ['--setgroups', "'maybe'"] },
  { why: 'setgroups allow with a single-id map (conflicting)', argv: ['-r', '--setgroups', 'allow', 'true'], mentions: ['--setgroups', 'allow'] },
  { why: 'owner that is not UID:GID', argv: ['--owner', 'abc', 'true'], mentions: ['--owner', "'abc'"] },
  { why: 'uid that is not a number', argv: ['-S', 'x', 'true'], mentions: ['--setuid', "'x'"] },
  { why: 'negative uid', argv: ['--setuid', '-1', 'true'], mentions: ['--setuid', "'-1'"] },
  { why: 'gid out of range ((gid_t)-1)', argv: ['--setgid', '4294967295', 'true'], mentions: ['--setgid', "'4294967295'"] },
  { why: 'missing argument', argv: ['--map-users'], mentions: ['map-users'] },
  { why: 'argument to a flag', argv: ['--keep-caps=1', 'true'], mentions: ["'--keep-caps'"] },
  { why: 'negated option that takes a value', argv: ['--no-map-user', 'true'], mentions: ["'--no-map-user'"] },
  // /etc/subuid and /etc/subgid as given here, bind-mounted over the machine's in a mount
  // namespace of the test's own: the real files are never touched.
  { why: 'malformed /etc/subuid line: start is not a number', argv: ['--map-auto', 'true'],
    files: subids('root:abc:65536\n'), mentions: ['/etc/subuid:1', 'root:abc:65536'] },
  { why: 'malformed /etc/subuid line: two fields', argv: ['--map-users', 'auto', 'true'],
    files: subids('root:100000\n'), mentions: ['--map-users', '/etc/subuid:1', 'root:100000'] },
  { why: 'malformed /etc/subgid line: an empty range', argv: ['--map-subids', 'true'],
    files: subids('root:100000:65536\n', 'root:100000:0\n'), mentions: ['/etc/subgid:1', 'root:100000:0'] },
  { why: 'no /etc/subuid line for the user', argv: ['--map-auto', 'true'],
    files: subids('someone-else:100000:65536\n'), mentions: ['/etc/subuid', 'root'] },
]);

harness.describeFuzz(cli);
