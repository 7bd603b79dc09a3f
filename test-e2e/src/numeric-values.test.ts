/**
 * Every drop-in option that takes a number, given values that are not plain decimal numbers
 * (`1e3`, `0x10`, empty, negative, padded, fractions): ours refuses exactly what util-linux
 * refuses, with exit status 1 and one line naming the option and the value; what both accept
 * does the same thing. Where util-linux's answer is an accident of strtoul(3) wrapping a
 * negative number, or changed in a newer release, the row says so.
 */
import { expect } from 'chai';
import { both, type Ran, type Tool } from './cli';

const ODD = ['1e3', '0x10', '', '-1', ' 7', '1.5', '+3', '007'];

interface Row {
  readonly tool: Tool;
  /** The command line, with {} where the value goes. */
  readonly args: readonly string[];
  /** Values where the two differ on purpose, and why. */
  readonly differs?: Readonly<Record<string, string>>;
}

const ROWS: Row[] = [
  { tool: 'unshare', args: ['-r', '-S', '{}', 'true'] },
  { tool: 'unshare', args: ['-r', '--setgid={}', 'true'] },
  { tool: 'unshare', args: ['-r', '--map-user={}', 'true'], differs: { '-1': 'strtoul wraps -1 to uid 4294967295, which unshare then maps as the overflow uid; we refuse it' } },
  { tool: 'unshare', args: ['-r', '--map-group={}', 'true'], differs: { '-1': 'as --map-user' } },
  { tool: 'unshare', args: ['-T', '--monotonic', '{}', 'true'], differs: { '1.5': 'fractional offsets came with util-linux 2.40; this machine has 2.38.1' } },
  { tool: 'unshare', args: ['-T', '--boottime={}', 'true'], differs: { '1.5': 'as --monotonic' } },
  { tool: 'nsenter', args: ['-t', '{}', '-u', 'true'] },
  { tool: 'nsenter', args: ['-t', String(process.pid), '-S', '{}', 'true'] },
  { tool: 'nsenter', args: ['-t', String(process.pid), '-G', '{}', 'true'] },
];

/** Both ran and ended alike: the same status, and a failure is one line naming the value. */
function alike(theirs: Ran, ours: Ran, value: string): void {
  expect(ours.status, `ours: ${ours.stderr} / theirs: ${theirs.stderr}`).to.equal(theirs.status);
  if (ours.status !== 0) {
    const lines = ours.stderr.trimEnd().split('\n');
    expect(lines, ours.stderr).to.have.length.at.most(2);
    if (theirs.stderr.includes(`'${value}'`)) expect(lines[0]).to.include(`'${value}'`);
  } else {
    expect(ours.stdout).to.equal(theirs.stdout);
  }
}

describe('numeric option values: what util-linux refuses, ours refuses', () => {
  for (const row of ROWS) {
    for (const value of ODD) {
      const args = row.args.map((a) => a.replace('{}', value));
      const why = row.differs?.[value];
      it(`${row.tool} ${args.map((a) => (a === '' ? "''" : a)).join(' ')}${why ? ' (differs on purpose)' : ''}`, () => {
        const { theirs, ours } = both(row.tool, args);
        if (!why) return alike(theirs, ours, value);
        // A difference we chose: ours refuses cleanly, or accepts what a newer util-linux accepts.
        expect(ours.status === 0 || ours.status === 1, ours.stderr).to.equal(true);
        expect(ours.status, why).to.not.equal(theirs.status);
      });
    }
  }
});
