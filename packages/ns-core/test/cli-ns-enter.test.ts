/**
 * ns-enter (packages/ns-run, bin/ns-enter) against bad input, and its parser against 10,000
 * random argument vectors. It lives here, with the harness, while ns-run is being built by
 * others; it runs ns-run's build as any user would, and belongs in ns-run/test once that settles.
 */
import { readFileSync } from 'node:fs';
import { spawn, type NsChild } from '../src/index';
import { cliUnderTest, describeBadInput, describeFuzz } from 'ns-test-kit';

const cli = cliUnderTest('ns-enter');

let target: NsChild;
let zombieParent: NsChild;
let zombie = 0;
const pid = () => String(target.pid);

describeBadInput(cli, [
  { why: 'target pid that is not a number', argv: ['-t', 'abc', 'true'], mentions: ["'abc'"] },
  { why: 'target pid out of range (0)', argv: ['--target', '0', 'true'], mentions: ["'0'"] },
  { why: 'target pid of no process', argv: ['-t', '99999999', '-u', 'true'], mentions: ['99999999'] },
  { why: 'target with an inode that is not a number', argv: () => ['-t', `${pid()}:abc`, '-u', 'true'], mentions: [() => `${pid()}:abc`] },
  { why: 'target whose pidfd inode does not match (another process by now)', argv: () => ['-t', `${pid()}:123`, '-u', 'true'], mentions: ['123'] },
  { why: 'missing target for a namespace of the target', argv: ['-u', 'true'], mentions: ['ns/uts'] },
  { why: 'missing argument to --target', argv: ['--target'], mentions: ['target'] },
  { why: 'namespace file that does not exist', argv: ['--net=/no/such/path', 'true'], mentions: ['/no/such/path'] },
  { why: 'namespace file that is not a namespace', argv: ['--mount=/etc/passwd', 'true'], mentions: ['/etc/passwd'] },
  { why: 'namespace file of the wrong kind', argv: ['--uts=/proc/self/ns/net', 'true'], mentions: ['/proc/self/ns/net'] },
  { why: 'root directory that does not exist', argv: () => ['-t', pid(), '--root=/no/such/root', 'true'], mentions: ['/no/such/root'] },
  { why: 'working directory that does not exist', argv: () => ['-t', pid(), '-u', '--wd=/no/such/wd', 'true'], mentions: ['/no/such/wd'] },
  { why: 'uid that is not a number', argv: () => ['-t', pid(), '-S', 'abc', 'true'], mentions: ["'abc'"] },
  { why: 'negative gid', argv: () => ['-t', pid(), '-G', '-5', 'true'], mentions: ["'-5'"] },
  { why: 'socket fd that is not a number', argv: () => ['-t', pid(), '--net-socket', 'x', 'true'], mentions: ["'x'"] },
  { why: '--net-socket without --target (conflicting options)', argv: ['-N', '3', 'true'], mentions: ['--net-socket'] },
  { why: '--wd with --wdns (conflicting options)', argv: () => ['-t', pid(), '-w/', '-W/', 'true'], mentions: ['--wd', '--wdns'] },
  { why: 'status fd that is not open', argv: () => ['-t', pid(), '-u', '--json-status-fd', '99', 'true'], mentions: ['--json-status-fd', '99'] },
  { why: 'info fd that is not a number', argv: () => ['-t', pid(), '-u', '--info-fd', 'abc', 'true'], mentions: ['--info-fd', "'abc'"] },
  { why: 'argument to a flag', argv: () => ['-t', pid(), '-u', '--no-fork=1', 'true'], mentions: ["'--no-fork'"] },
  { why: 'unknown option', argv: ['--frobnicate', 'true'], mentions: ['frobnicate'] },
  // The kernel refuses this one when the program is being started: a real launch.
  { why: 'target that exited while being entered (a zombie: pidfd opens, setns finds no namespaces)',
    argv: () => ['-t', String(zombie), '-u', 'true'], mentions: [() => String(zombie)], launch: true },
], {
  async before() {
    target = await spawn(['sleep', '100'], { create: ['uts', 'net'] });
    // sleep never reaps the child sh left behind, which stays a zombie.
    zombieParent = await spawn(['sh', '-c', 'true & exec sleep 100'], {});
    for (let i = 0; i < 300 && !zombie; i++) {
      const kid = readFileSync(`/proc/${zombieParent.pid}/task/${zombieParent.pid}/children`, 'utf8').trim();
      if (kid && readFileSync(`/proc/${kid}/stat`, 'utf8').split(') ')[1]![0] === 'Z') zombie = Number(kid);
      else await new Promise((r) => setTimeout(r, 10));
    }
    if (!zombie) throw new Error('no zombie to enter');
  },
  async after() {
    for (const c of [target, zombieParent]) {
      c.kill('SIGKILL');
      await c.exited;
    }
  },
});

describeFuzz(cli);
