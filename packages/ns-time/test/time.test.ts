import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSpawn, liveChildren, Namespace, NsError, spawn } from 'ns-core';
import { formatOffset, parseOffset, readTimeOffsets, time } from '../src/index';

const CLI = join(__dirname, '../../bin/ns-time.js');
const BIN = join(__dirname, '../../../../node_modules/.bin');

/** Seconds since boot (CLOCK_BOOTTIME) as this process sees it. */
const uptime = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
/** CLOCK_MONOTONIC in ns, as node reads it (through the vDSO, so time namespaces apply). */
const monotonicNs = () => process.hrtime.bigint();
const PRINT_MONOTONIC = [process.execPath, '-e', 'console.log(String(process.hrtime.bigint()))'];

function cli(args: readonly string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

describe('ns-time', () => {
  describe('offsets and plan (no privileges)', () => {
    it('parses whole, negative and fractional seconds exactly into seconds + nanoseconds', () => {
      expect(parseOffset('--monotonic', '100')).to.deep.equal({ seconds: 100, nanoseconds: 0 });
      expect(parseOffset('--monotonic', '-5')).to.deep.equal({ seconds: -5, nanoseconds: 0 });
      expect(parseOffset('--boottime', '-1.5')).to.deep.equal({ seconds: -2, nanoseconds: 500000000 });
      expect(parseOffset('--boottime', '+0.000000001')).to.deep.equal({ seconds: 0, nanoseconds: 1 });
      expect(parseOffset('--boottime', 2.25)).to.deep.equal({ seconds: 2, nanoseconds: 250000000 });
      expect(formatOffset('boottime', parseOffset('--boottime', '-0.1'))).to.equal('7 -1 900000000');
    });

    it('rejects what is not a number of seconds, naming option and value', () => {
      for (const bad of ['abc', '', '1e3', '1.', '--5', '0x10', '1 2']) {
        expect(() => parseOffset('--monotonic', bad)).to.throw(`--monotonic: '${bad}' is not a number of seconds`)
          .with.property('code', 'EUSAGE');
      }
      expect(() => parseOffset('--boottime', NaN)).to.throw("--boottime: 'NaN' is not a number of seconds");
      expect(() => parseOffset('--boottime', '1.0000000001')).to.throw(/more than nanosecond precision/);
      expect(() => parseOffset('--boottime', '-9223372037')).to.throw(/beyond the kernel's limit of 9223372036 seconds/);
    });

    it('unshares time in the child and writes boottime, then monotonic, before exec', () => {
      const { plan, unsharedInChild } = compileSpawn(['true'], { steps: [time({ monotonic: 3, boottime: -2 })] }, new Map());
      expect(unsharedInChild).to.deep.equal(['time']);
      const ops = plan.ops.map((o) => (o.op === 'write-file' ? `${o.op}:${o.data}` : o.op));
      const at = (name: string) => ops.findIndex((o) => o.startsWith(name));
      expect(at('unshare')).to.be.lessThan(at('write-file:7 -2 0'));
      expect(at('write-file:7 -2 0')).to.be.lessThan(at('write-file:1 3 0'));
      expect(at('write-file:1 3 0')).to.be.lessThan(at('exec'));
    });
  });

  describe('against the kernel', () => {
    afterEach(() => expect(liveChildren()).to.equal(0));

    it('matches unshare -T --monotonic --boottime: offsets file and /proc/uptime', () => {
      const show = ['sh', '-c', 'cat /proc/self/timens_offsets; cat /proc/uptime'];
      const before = uptime();
      const ours = cli(['--monotonic', '1000', '--boottime', '-7', '--', ...show]);
      const theirs = spawnSync('unshare', ['-T', '--monotonic', '1000', '--boottime', '-7', ...show], { encoding: 'utf8' });
      const after = uptime();
      expect(ours.stderr).to.equal('');
      const [oursOffsets, oursUptime] = [ours.stdout.split('\n').slice(0, 2), ours.stdout.split('\n')[2]!];
      const [theirOffsets, theirUptime] = [theirs.stdout.split('\n').slice(0, 2), theirs.stdout.split('\n')[2]!];
      expect(oursOffsets).to.deep.equal(theirOffsets);
      expect(oursOffsets[0]).to.match(/^monotonic\s+1000\s+0$/);
      for (const line of [oursUptime, theirUptime]) {
        const inside = Number(line.split(' ')[0]);
        // /proc/uptime has 10 ms resolution: allow one tick either side.
        expect(inside).to.be.within(before - 7 - 0.01, after - 7 + 0.01);
      }
    });

    it('shifts CLOCK_MONOTONIC for the program (read through the vDSO), like unshare', () => {
      const offset = 5000n * 1_000_000_000n;
      for (const run of [() => cli(['--monotonic', '5000', '--', ...PRINT_MONOTONIC]),
                         () => spawnSync('unshare', ['-T', '--monotonic', '5000', ...PRINT_MONOTONIC], { encoding: 'utf8' })]) {
        const before = monotonicNs();
        const res = run();
        const after = monotonicNs();
        const inside = BigInt(res.stdout.trim()) - offset;
        expect(inside >= before && inside <= after, `${inside} within [${before}, ${after}]`).to.equal(true);
      }
    });

    it('the offsets and a new time namespace are visible from outside', async () => {
      const child = await spawn(['sleep', '10'], { steps: [time({ boottime: '2.5' })] });
      try {
        expect(readTimeOffsets(child.pid)).to.deep.equal({ monotonic: { seconds: 0, nanoseconds: 0 }, boottime: { seconds: 2, nanoseconds: 500000000 } });
        const ours = Namespace.ofPid('self', 'time').use((ns) => ns.id);
        expect(Namespace.ofPid(child.pid, 'time').use((ns) => ns.id)).to.not.equal(ours);
      } finally {
        child.kill('SIGKILL');
        await child.exited;
      }
    });

    it('an offset the kernel refuses (clock below zero) rejects naming the step; nothing is left', async () => {
      try {
        await spawn(['true'], { steps: [time({ boottime: -100000000 })] });
        expect.fail('expected ERANGE');
      } catch (e) {
        expect(e).to.be.instanceOf(NsError).and.include({ code: 'ERANGE', step: '--boottime' });
      }
      const res = cli(['--boottime', '-100000000', 'true']);
      expect(res.status).to.equal(1);
      expect(res.stderr).to.equal("ns-time: --boottime: '-100000000' would move the clock below zero or past 4611686018 seconds\n");
    });

    it('bad input exits 1 with one line naming the option and value, as unshare also fails', () => {
      for (const [option, value] of [['--monotonic', 'abc'], ['--boottime', '1,5']]) {
        const res = cli([option!, value!, 'true']);
        expect(res.status).to.equal(1);
        expect(res.stderr).to.equal(`ns-time: ${option}: '${value}' is not a number of seconds\n`);
        expect(spawnSync('unshare', ['-T', option!, value!, 'true']).status).to.equal(1);
      }
      const unknown = cli(['--realtime', '5', 'true']);
      expect(unknown.status).to.equal(1);
      expect(unknown.stderr).to.match(/^ns-time: unrecognized option '--realtime'\n/);
      expect(cli(['sh', '-c', 'exit 3']).status).to.equal(3);
    });

    it('rootless through a user namespace: ns-user -r -- ns-time --monotonic -3 as nobody', () => {
      const res = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', join(BIN, 'ns-user'), '-r', '--',
                                        join(BIN, 'ns-time'), '--monotonic', '-3', '--', 'cat', '/proc/self/timens_offsets'],
                            { encoding: 'utf8', cwd: '/' });
      expect(res.stderr).to.equal('');
      expect(res.stdout).to.match(/^monotonic\s+-3\s+0\nboottime\s+0\s+0\n$/);
    });
  });
});
