/**
 * Every CLI passes the program's arguments byte for byte: numbers stay as typed (`007`, `1e3`,
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
