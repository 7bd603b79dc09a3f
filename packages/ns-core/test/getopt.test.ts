import { expect } from 'chai';
import { normalizeGetopt } from '../src/index';

const spec = {
  short: { n: 'net', m: 'mount', t: 'target', f: 'fork', U: 'user' },
  optional: new Set(['net', 'mount', 'kill-child']),
  shortOptional: new Set(['n', 'm']),
  required: new Set(['target', 'propagation']),
};
// unshare(1): the same long options, but its short letters never take an argument.
const unshareSpec = { ...spec, shortOptional: new Set<string>() };

describe('normalizeGetopt', () => {
  it('attaches optional arguments only with = or inside a short cluster', () => {
    expect(normalizeGetopt(['--net', 'true'], spec)).to.deep.equal(['--net=', '--', 'true']);
    expect(normalizeGetopt(['--net=/run/x', 'true'], spec)).to.deep.equal(['--net=/run/x', '--', 'true']);
    expect(normalizeGetopt(['-mu', 'sh'], spec)).to.deep.equal(['--mount=u', '--', 'sh']);
    expect(normalizeGetopt(['-n', '-m', 'sh'], spec)).to.deep.equal(['--net=', '--mount=', '--', 'sh']);
  });

  it('keeps short letters plain flags where the tool says so (unshare -Urmn)', () => {
    expect(normalizeGetopt(['-Umnf', 'sh'], unshareSpec)).to.deep.equal(['--user', '--mount=', '--net=', '--fork', '--', 'sh']);
    expect(normalizeGetopt(['-mU', 'sh'], spec)).to.deep.equal(['--mount=U', '--', 'sh']);
  });

  it('takes required arguments from the cluster or the next word', () => {
    expect(normalizeGetopt(['-t123', '-n'], spec)).to.deep.equal(['--target=123', '--net=', '--']);
    expect(normalizeGetopt(['-Uft', '42', 'ls'], spec)).to.deep.equal(['--user', '--fork', '--target', '42', '--', 'ls']);
    expect(normalizeGetopt(['--propagation', 'slave', 'ls'], spec)).to.deep.equal(['--propagation', 'slave', '--', 'ls']);
  });

  it('stops at -- and at the program, leaving its options alone', () => {
    expect(normalizeGetopt(['-f', '--', '-n', 'x'], spec)).to.deep.equal(['--fork', '--', '-n', 'x']);
    expect(normalizeGetopt(['ls', '-l', '--net'], spec)).to.deep.equal(['--', 'ls', '-l', '--net']);
  });

  it('passes unknown letters and options through for yargs to reject', () => {
    expect(normalizeGetopt(['-fz', '--bogus', 'ls'], spec)).to.deep.equal(['--fork', '-z', '--bogus', '--', 'ls']);
  });
});
