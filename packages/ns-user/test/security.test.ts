/**
 * Why single-id maps deny setgroups (user_namespaces(7), since Linux 3.19): a group can take
 * rights away ("negative" group permissions, mode 0604), and a user who could call
 * setgroups(2) in a namespace of their own would drop that group and get the rights back.
 * These tests set up exactly that file and check ns-user -r keeps it closed.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ThrowawayUser } from 'ns-test-kit';

const NOBODY = 65534;
/** A group only our test user is in: the file's group, which takes the read right away. */
const DENIED_GROUP = 40_000 + (process.pid % 20_000);
const bin = join(__dirname, '../../bin/ns-user.js');

describe('ns-user: setgroups denied in single-id maps keeps negative group permissions', () => {
  let dir: string;
  let secret: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsx-setgroups-'));
    chmodSync(dir, 0o755);
    secret = join(dir, 'secret');
    writeFileSync(secret, 'others may read this, the group may not\n');
    chownSync(secret, 0, DENIED_GROUP);
    chmodSync(secret, 0o604);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs argv as uid/gid 65534 with DENIED_GROUP as its one supplementary group. */
  const asMember = (argv: readonly string[]) => spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`,
    `--groups=${DENIED_GROUP}`, ...argv], { encoding: 'utf8', cwd: '/' });

  it('control: a member of the group cannot read the file, anyone else can', () => {
    expect(spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'cat', secret]).status).to.equal(0);
    const member = asMember(['cat', secret]);
    expect(member.status).to.equal(1);
    expect(member.stderr).to.contain('Permission denied');
  });

  it('inside ns-user -r: setgroups is denied, so the group cannot be dropped and the file stays closed', () => {
    const inside = `cat /proc/self/setgroups; cat ${secret} 2>/dev/null && echo READ; setpriv --clear-groups cat ${secret} 2>&1 || echo SETGROUPS-REFUSED`;
    const r = asMember([process.execPath, bin, '-r', '--', 'sh', '-c', inside]);
    expect(r.stderr).to.equal('');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).to.equal('deny');
    expect(lines).not.to.include('READ');
    expect(lines.at(-1)).to.equal('SETGROUPS-REFUSED');
  });
});

describe('ns-user: a child that changed its ids does not spoil the next spawn of the same launcher', () => {
  let tmpUser: ThrowawayUser;
  before(() => {
    tmpUser = new ThrowawayUser('dmp');
  });
  after(async () => {
    // Other suites may add and remove their own lines meanwhile: check only that ours are gone.
    await tmpUser.remove();
    for (const file of ['/etc/subuid', '/etc/subgid']) expect(readFileSync(file, 'utf8'), file).not.to.contain(`${tmpUser.name}:`);
  });

  it('ranges through newuidmap and -S 1, then -r with maps written directly, from one unprivileged process', () => {
    // The first child changes its ids while it shares the launcher's memory, which the kernel
    // then marks non-dumpable: unless put back, the second child's /proc files are root's and
    // the launcher may not write its setgroups and maps (EACCES).
    const script = `
      const { spawn } = require(${JSON.stringify(require.resolve('ns-core'))});
      const { user } = require(${JSON.stringify(join(__dirname, '../src/index.js'))});
      (async () => {
        for (const options of [{ mapUsers: ['auto'], mapGroups: ['auto'], setuid: 1, setgid: 1 }, { mapRoot: true }]) {
          const child = await spawn(['true'], { steps: [user(options)] });
          console.log(JSON.stringify(await child.exited));
        }
      })().catch((e) => { console.log(e.code + ': ' + e.message); process.exit(1); });`;
    const r = tmpUser.run([process.execPath, '-e', script]);
    expect(r.stderr).to.equal('');
    expect(r.stdout.trim().split('\n')).to.deep.equal(Array(2).fill(JSON.stringify({ code: 0, signal: null })));
  });
});
