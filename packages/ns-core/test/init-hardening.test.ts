/**
 * What stays of a FORK outside the program (nsx-init as relay, init or supervisor) is no way
 * around the program's limits: non-dumpable, it cannot be ptraced by a program of the same uid,
 * and it keeps only the capabilities its mode uses. A probe does PTRACE_ATTACH from inside; a
 * sibling of the same uid and capabilities that is dumpable is attached to, so the refusal is
 * the hardening's and not the machine's.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from '../src/index';
import { commOf, scratchDir, waitFor } from 'ns-test-kit';

const TAG = `nsxh${process.pid}`;
const CORE = JSON.stringify(join(__dirname, '../src/index.js'));
const scratch = scratchDir(TAG);

const PROBE_C = `#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>
/* probe PID: PTRACE_ATTACH to PID (default: the parent); prints attached or the errno. */
int main(int argc, char **argv)
{
	pid_t pid = argc > 1 ? atoi(argv[1]) : getppid();
	if (ptrace(PTRACE_ATTACH, pid, 0, 0) < 0) {
		printf("%s\\n", errno == EPERM ? "EPERM" : "other");
		return 1;
	}
	waitpid(pid, 0, __WALL);
	ptrace(PTRACE_DETACH, pid, 0, 0);
	printf("attached\\n");
	return 0;
}
`;

let probe: string;
before(() => {
  writeFileSync(join(scratch(), 'probe.c'), PROBE_C);
  probe = join(scratch(), 'probe');
  execFileSync('gcc', ['-Wall', '-Werror', '-O2', '-o', probe, join(scratch(), 'probe.c')]);
});

let scripts = 0;
function inPlace(argv: readonly string[], options: string): string {
  const file = join(scratch(), `launch-${++scripts}.js`);
  writeFileSync(file, `require(${CORE}).execInPlace(${JSON.stringify(argv)}, ${options});\n`, { mode: 0o644 });
  return file;
}
const asNobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
/** Shell: wait until process $1 is nsx-init (the staying half execs it while the program starts). */
const untilInit = (pid: string, name: string) => `while [ "$(cat /proc/${pid}/comm)" != ${name} ]; do sleep 0.01; done; `;
/** Capabilities the program keeps: CAP_KILL only, as the init keeps (so only dumpability decides). */
const killOnly = ['setpriv', '--inh-caps=-all,+kill', '--ambient-caps=-all,+kill', '--bounding-set=-all,+kill'];

describe('nsx-init hardening: no ptrace of the process that stays, from the program', () => {
  it('a relay, from a program of the same uid without capabilities (util-linux unshare -f: attached)', () => {
    // The probe's parent is the relay; a sleep of the same shell, of the same uid, is the control.
    const script = `${untilInit('$PPID', 'ns-relay')}${probe}; sleep 5 & ${probe} $!; kill $!`;
    const ours = spawnSync(asNobody[0]!, [...asNobody.slice(1), process.execPath, inPlace(['sh', '-c', `${untilInit('$PPID', 'ns-relay')}exec ${probe} $PPID`], '{ fork: true }')],
      { encoding: 'utf8', cwd: '/' });
    expect(ours.stdout).to.equal('EPERM\n');
    const control = spawnSync(asNobody[0]!, [...asNobody.slice(1), process.execPath, inPlace(['sh', '-c', script], '{ fork: true }')], { encoding: 'utf8', cwd: '/' });
    expect(control.stdout.split('\n')[1], 'a dumpable sibling').to.equal('attached');
    const theirs = spawnSync(asNobody[0]!, [...asNobody.slice(1), 'unshare', '-f', '--', probe], { encoding: 'utf8', cwd: '/' });
    expect(theirs.stdout, 'util-linux\'s waiting parent').to.equal('attached\n');
  });

  it('an init (PID 1), from a program of the same uid and capabilities', () => {
    const r = spawnSync(process.execPath, [inPlace([...killOnly, 'sh', '-c', `${untilInit('1', 'ns-init')}grep ^CapEff /proc/1/status; cat /proc/1/comm; ${probe} 1; sleep 5 & ${probe} $!; kill $!`],
      `{ create: ['pid', 'mnt'], steps: [{ name: 'p', child: [
        { op: 'mount', target: '/', flags: ['REC', 'PRIVATE'], phase: 'propagation' },
        { op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', phase: 'after-root' },
        { op: 'fork', init: true, forward: ['SIGTERM'], phase: 'fork' }] }] }`)], { encoding: 'utf8' });
    expect(r.stderr).to.equal('');
    expect(r.stdout.split('\n')).to.deep.equal(['CapEff:\t0000000000000020', 'ns-init', 'EPERM', 'attached', '']);
  });

  it('capabilities kept: CAP_KILL for a relay; a supervisor also what its cleanup needs', async () => {
    const status = (pid: number) => readFileSync(`/proc/${pid}/status`, 'utf8');
    const caps = (pid: number, which: string) => new RegExp(`^${which}:\\s+([0-9a-f]+)$`, 'm').exec(status(pid))![1];
    const child = await spawn(['sleep', '10'], { create: ['uts'], supervise: {} });
    try {
      await waitFor('the supervisor', () => commOf(child.pid) === 'ns-supervise');
      // KILL, DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER, SYS_ADMIN.
      expect(caps(child.pid, 'CapEff')).to.equal((1n << 5n | 1n << 1n | 1n << 2n | 1n << 3n | 1n << 21n).toString(16).padStart(16, '0'));
      expect(caps(child.pid, 'CapPrm')).to.equal(caps(child.pid, 'CapEff'));
      expect(caps(child.pid, 'CapInh')).to.equal('0000000000000000');
      expect(caps(child.programPid!, 'CapEff'), 'the program keeps its own').to.equal(caps(process.pid, 'CapEff'));
    } finally {
      child.kill('SIGTERM');
      await child.exited;
    }
    const relay = spawnSync(process.execPath, [inPlace(['sh', '-c', `${untilInit('$PPID', 'ns-relay')}grep ^Cap /proc/$PPID/status`], '{ fork: true }')], { encoding: 'utf8' });
    expect(relay.stdout).to.match(/^CapPrm:\t0000000000000020$/m).and.to.match(/^CapEff:\t0000000000000020$/m).and.to.match(/^CapAmb:\t0000000000000000$/m);
  });
});
