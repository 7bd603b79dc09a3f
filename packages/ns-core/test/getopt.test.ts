/**
 * The one option parser against glibc's getopt_long, through util-linux's getopt(1) (which is
 * glibc getopt_long with a printer): the same parse for every vector, and the same error text.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { getopt, GetoptError, type CommandSpec, type OptionSpec } from '../src/cli-kit';

const OPTIONS: OptionSpec[] = [
  { long: 'fork', short: 'f', help: '' },
  { long: 'mount', short: 'm', arg: 'optional', shortArg: 'none', help: '' },
  { long: 'net', short: 'n', arg: 'optional', shortArg: 'none', help: '' },
  { long: 'root', short: 'R', arg: 'required', help: '' },
  { long: 'setuid', short: 'S', arg: 'required', help: '' },
  { long: 'map-user', arg: 'required', help: '' },
  { long: 'map-users', arg: 'required', help: '' },
  { long: 'map-root-user', short: 'r', help: '' },
  { long: 'kill-child', arg: 'optional', help: '' },
  { long: 'propagation', arg: 'required', help: '' },
];
const UNSHARE_LIKE: CommandSpec = { prog: 't', usage: [], summary: '', options: OPTIONS, stopAtOperand: true };

/** nsenter's rules: the namespace letters take the rest of the cluster as a file. */
const NSENTER_LIKE: CommandSpec = {
  prog: 't', usage: [], summary: '', stopAtOperand: true, options: [
    { long: 'target', short: 't', arg: 'required', help: '' },
    { long: 'mount', short: 'm', arg: 'optional', help: '' },
    { long: 'uts', short: 'u', arg: 'optional', help: '' },
    { long: 'all', short: 'a', help: '' },
  ],
};
const PERMUTING: CommandSpec = { ...UNSHARE_LIKE, stopAtOperand: false };

/** The optstrings getopt(1) needs for a table. */
function optstrings(spec: CommandSpec): { short: string; long: string } {
  const mark = (rule: string | undefined) => (rule === 'required' ? ':' : rule === 'optional' ? '::' : '');
  const short = spec.options.filter((o) => o.short).map((o) => `${o.short}${mark(o.shortArg ?? o.arg)}`).join('');
  const long = spec.options.map((o) => `${o.long}${mark(o.arg)}`).join(',');
  return { short: `${spec.stopAtOperand ? '+' : ''}${short}`, long };
}

/** What getopt(1) prints, or its error, for argv. */
function glibc(spec: CommandSpec, argv: string[]): { words: string[] } | { error: string } {
  const { short, long } = optstrings(spec);
  const r = spawnSync('getopt', ['-o', short, '-l', long, '-s', 'bash', '--', ...argv], { encoding: 'utf8' });
  if (r.status !== 0) return { error: r.stderr.split('\n')[0]!.replace(/^getopt: /, '') };
  // getopt(1) single-quotes each word; none of our vectors contains a quote.
  return { words: [...r.stdout.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!) };
}

function ours(spec: CommandSpec, argv: string[]): { words: string[] } | { error: string } {
  try {
    const parsed = getopt(argv, spec);
    const words: string[] = [];
    for (const e of parsed.events) {
      words.push(e.typed.startsWith('--') ? `--${e.spec.long}` : e.typed);
      const rule = e.typed.startsWith('--') ? e.spec.arg ?? 'none' : e.spec.shortArg ?? e.spec.arg ?? 'none';
      if (rule !== 'none') words.push(e.value ?? '');
    }
    return { words: [...words, '--', ...parsed.operands] };
  } catch (e) {
    expect(e).to.be.instanceOf(GetoptError);
    return { error: (e as Error).message };
  }
}

const VECTORS: [CommandSpec, string[]][] = [
  [UNSHARE_LIKE, ['-fm', 'ls', '-l']],
  [UNSHARE_LIKE, ['--mount', 'file', 'x']],
  [UNSHARE_LIKE, ['--mount=file', 'x']],
  [UNSHARE_LIKE, ['--mo=f', '--fo', 'x']],
  [UNSHARE_LIKE, ['--map', 'x']],
  [UNSHARE_LIKE, ['--map-user', '5', '--map-users=0:1:2']],
  [UNSHARE_LIKE, ['--map-r', 'sh']],
  [UNSHARE_LIKE, ['-R', '-dir', 'sh']],
  [UNSHARE_LIKE, ['-S0', '-rf', '--', '-x']],
  [UNSHARE_LIKE, ['--root']],
  [UNSHARE_LIKE, ['-R']],
  [UNSHARE_LIKE, ['-fz']],
  [UNSHARE_LIKE, ['--fork=1']],
  [UNSHARE_LIKE, ['--map-rot-user']],
  [UNSHARE_LIKE, ['--bogus=7', 'x']],
  [UNSHARE_LIKE, ['--kill-child', 'SIGTERM']],
  [UNSHARE_LIKE, ['--kill-child=SIGTERM', '--', '--fork']],
  [UNSHARE_LIKE, ['-', '-f']],
  [UNSHARE_LIKE, ['--propagation', '--', 'x']],
  [UNSHARE_LIKE, ['echo', '007', '1e3', '0x10', '1.50', '', '-n']],
  [NSENTER_LIKE, ['-mu', 'sh']],
  [NSENTER_LIKE, ['-m', '-u/proc/1/ns/uts', '-t', '1', 'sh']],
  [NSENTER_LIKE, ['-at1', 'sh']],
  [NSENTER_LIKE, ['--mount', '/x', 'sh']],
  [PERMUTING, ['a', '-f', 'b', '--root', 'r', 'c', '--', '-m']],
  [PERMUTING, ['x', '--bad']],
];

describe('getopt: the same parse and errors as glibc getopt_long (through getopt(1))', () => {
  for (const [spec, argv] of VECTORS) {
    it(`${spec === NSENTER_LIKE ? 'nsenter-like' : spec === PERMUTING ? 'permuting' : 'unshare-like'} ${JSON.stringify(argv)}`, () => {
      expect(ours(spec, argv)).to.deep.equal(glibc(spec, argv));
    });
  }
});

describe('getopt', () => {
  it('keeps the program\'s words exactly, numbers and empty strings included', () => {
    const words = ['echo', '007', '1e3', '0x10', '1.50', '', '-1', '\udcff'];
    expect(getopt(['-f', ...words], UNSHARE_LIKE).operands).to.deep.equal(words);
  });

  it('records the option as typed and keeps command-line order', () => {
    const parsed = getopt(['--map-r', '--map-user=5', '-r', 'x'], UNSHARE_LIKE);
    expect(parsed.events.map((e) => e.typed)).to.deep.equal(['--map-r', '--map-user', '-r']);
    expect(parsed.last('map-user')).to.equal('5');
    expect(parsed.all('map-root-user')).to.deep.equal(['', '']);
  });

  it('stops at --help where it appears, as util-linux calls usage() there', () => {
    const spec: CommandSpec = { ...UNSHARE_LIKE, options: [...OPTIONS, { long: 'help', short: 'h', help: '', immediate: true }] };
    expect(getopt(['--help', '--bogus'], spec).last('help')).to.equal('');
    expect(getopt(['-hz'], spec).has('help')).to.equal(true);
    expect(() => getopt(['--bogus', '--help'], spec)).to.throw(GetoptError, "unrecognized option '--bogus'");
  });

  it('takes several words for bubblewrap-style options, never =value', () => {
    const spec: CommandSpec = { ...UNSHARE_LIKE, options: [{ long: 'bind', words: ['src', 'dest'], help: '' }] };
    const parsed = getopt(['--bind', '-a', '--', 'prog'], spec);
    expect(parsed.events[0]!.words).to.deep.equal(['-a', '--']);
    expect(parsed.operands).to.deep.equal(['prog']);
    expect(() => getopt(['--bind', 'a'], spec)).to.throw(GetoptError, "option '--bind' requires 2 arguments");
    expect(() => getopt(['--bind=a', 'b'], spec)).to.throw(GetoptError, "option '--bind' doesn't allow an argument");
  });
});
