/**
 * Every CLI passes the program's arguments and inherited environment byte for byte: numbers stay as typed (`007`, `1e3`,
 * `0x10`, `1.50`), empty words and words that look like options stay, and bytes that are not
 * UTF-8 reach the program unchanged. util-linux unshare is the oracle where it applies.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { bin } from './cli';

/** The words, as a shell writes them: the last one is the byte 0xff then 'A'. */
const WORDS_SH = `007 1e3 0x10 1.50 '' -n -- --net=x -1 "$(printf '\\377A')"`;
const EXPECTED = Buffer.concat([
  ...['007', '1e3', '0x10', '1.50', '', '-n', '--', '--net=x', '-1'].map((w) => Buffer.from(`${w}\0`)),
  Buffer.from([0xff, 0x41, 0]),
]);

/** Runs `launcher... printf '%s\0' WORDS` through sh so that the odd byte is really a byte. */
function through(launcher: readonly string[]): { status: number | null; stdout: Buffer; stderr: string } {
  const quoted = launcher.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('/bin/sh', ['-c', `exec ${quoted} printf '%s\\0' ${WORDS_SH}`], { cwd: '/tmp', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

const LAUNCHERS: Record<string, readonly string[]> = {
  'util-linux unshare (oracle)': ['unshare', '-r', '--'],
  'ns-unshare': [bin('ns-unshare'), '-r', '--'],
  'ns-unshare without --': [bin('ns-unshare'), '-r'],
  'ns-enter': [bin('ns-enter'), '-t', String(process.pid), '-u', '--'],
  'ns-user': [bin('ns-user'), '-r', '--'],
  'ns-uts': [bin('ns-uts'), '--hostname', 'argv', '--'],
  'ns-ipc': [bin('ns-ipc'), '--'],
  'ns-time': [bin('ns-time'), '--monotonic', '1', '--'],
  'ns-pid': [bin('ns-pid'), '--'],
  'ns-mount': [bin('ns-mount'), '--'],
  'ns-cgroup': [bin('ns-cgroup'), '--'],
  'ns-net': [bin('ns-net'), '--'],
  'ns-run': [bin('ns-run'), '--network', 'none', '--'],
};

describe('program arguments pass byte for byte', () => {
  for (const [name, launcher] of Object.entries(LAUNCHERS)) {
    it(name, function () {
      this.timeout(30_000);
      const r = through(launcher);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout.toString('hex')).to.equal(EXPECTED.toString('hex'));
    });
  }
});

/**
 * The environment each launcher's program inherits, from `env -i` with a value and a name that
 * are not UTF-8 (Node's process.env shows the first with U+FFFD and hides the second).
 */
function environmentThrough(launcher: readonly string[]): { status: number | null; entries: string[]; stderr: string } {
  const quoted = launcher.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  const nodeDir = process.execPath.replace(/\/[^/]+$/, '');
  const r = spawnSync('/bin/sh', ['-c', `exec env -i PATH=/usr/bin:/bin:${nodeDir} "X=$(printf 'a\\377b\\303')" "$(printf 'K\\376=v')" Y=plain `
    + `${quoted} cat /proc/self/environ`], { cwd: '/tmp', timeout: 30_000 });
  // Hex per entry, sorted: order is the launcher's business, bytes are not.
  const entries = r.stdout.toString('latin1').split('\0').filter(Boolean).map((e) => Buffer.from(e, 'latin1').toString('hex')).sort();
  return { status: r.status, entries, stderr: r.stderr.toString() };
}

describe('the inherited environment passes byte for byte', () => {
  const oracle = environmentThrough(LAUNCHERS['util-linux unshare (oracle)']!);
  const hex = (s: string | Buffer) => Buffer.from(s).toString('hex');
  it('util-linux unshare (oracle) passes both', () => {
    expect(oracle.status, oracle.stderr).to.equal(0);
    expect(oracle.entries).to.include(hex(Buffer.from([0x58, 0x3d, 0x61, 0xff, 0x62, 0xc3]))).and.to.include(hex(Buffer.from([0x4b, 0xfe, 0x3d, 0x76])));
  });
  for (const [name, launcher] of Object.entries(LAUNCHERS)) {
    // ns-run gives a container an environment of its own (docker's), not the caller's.
    if (name.startsWith('util-linux') || name === 'ns-run' || name === 'ns-unshare without --') continue;
    it(name, function () {
      this.timeout(30_000);
      const r = environmentThrough(launcher);
      expect(r.status, r.stderr).to.equal(0);
      if (name === 'ns-unshare' || name === 'ns-enter') {
        // Their bin is a sh script (it records the ignored signals first): sh keeps only names that
        // are shell identifiers and sets PWD. Every other byte is the oracle's.
        const kept = oracle.entries.filter((e) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(Buffer.from(e, 'hex').toString('latin1').split('=')[0]!));
        expect(r.entries.filter((e) => !Buffer.from(e, 'hex').toString('latin1').startsWith('PWD='))).to.deep.equal(kept);
      } else {
        expect(r.entries).to.deep.equal(oracle.entries);
      }
    });
  }
});
