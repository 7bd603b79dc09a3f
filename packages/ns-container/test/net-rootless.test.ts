/**
 * Rootless networks, as an ordinary user (test-kit's ThrowawayUser, whose /etc/subuid lines
 * are restored byte for byte): one network namespace per user held by a holder process, made
 * on first use and again once it is gone; bridges inside it; containers on one network reach
 * each other, on another they do not; nothing left after. The library calls run as the user
 * (net-rootless-main.js); what they made is checked here, as root, from outside.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { servedDir, ThrowawayUser } from 'ns-test-kit';

const MAIN = join(__dirname, 'net-rootless-main.js');

describe('rootless networks (as a throwaway user)', function () {
  this.timeout(120_000);
  let user: ThrowawayUser;
  let root: string;
  const www = servedDir(`ns-net-rootless-www-${process.pid}`, 'hello rootless\n');
  const holders: number[] = [];

  before(() => {
    user = new ThrowawayUser('rnet');
    root = mkdtempSync(`/tmp/ns-net-rootless-${process.pid}-`);
    chownSync(root, user.uid, user.gid);
    chmodSync(root, 0o700);
  });

  after(async () => {
    // pasta of the last holder too: it would outlive it (the next use would end it; there is none).
    const record = join(root, 'netns.json');
    const pasta = existsSync(record) ? (JSON.parse(readFileSync(record, 'utf8')) as { pasta?: { pid: number } }).pasta?.pid : undefined;
    for (const pid of [...holders, ...(pasta === undefined ? [] : [pasta])]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already (the second test kills the first holder).
      }
    }
    rmSync(root, { recursive: true, force: true });
    await user?.remove();
  });

  function run(): Record<string, Record<string, unknown>> {
    const r = spawnSync(user.argv([process.execPath, MAIN, root, www()])[0]!, user.argv([process.execPath, MAIN, root, www()]).slice(1), { encoding: 'utf8', timeout: 100_000 });
    expect(r.status, r.stderr).to.equal(0);
    return Object.fromEntries(r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).map((o) => [o['step'] as string, o]));
  }

  const holderPid = () => (JSON.parse(readFileSync(join(root, 'netns.json'), 'utf8')) as { pid: number }).pid;
  const inHolder = (pid: number, argv: string[]) => execFileSync('nsenter', ['-t', String(pid), '-n', ...argv], { encoding: 'utf8' });

  it('one namespace per user, bridges in it, containers on a network reach each other, another network does not; rm leaves nothing', () => {
    const steps = run();
    expect(steps['holder']).to.deep.include({ made: [true, false], same: true });
    expect(steps['pasta refused']).to.deep.include({ ran: false, pidFile: false });
    expect(steps['pasta refused']!['log']).to.match(/\/proc\/1\/ns\/user/);
    const pid = holderPid();
    holders.push(pid);
    expect(steps['holder']!['pid']).to.equal(pid);
    // The holder is the user's, in a user namespace of its own, and outlived the run.
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).to.match(new RegExp(`\\nUid:\\t${user.uid}\\t`));
    expect(execFileSync('readlink', [`/proc/${pid}/ns/user`], { encoding: 'utf8' })).to.not.equal(execFileSync('readlink', ['/proc/self/ns/user'], { encoding: 'utf8' }));
    expect(steps['same network']).to.deep.include({ code: 0, out: 'hello rootless\n' });
    expect(steps['other network']!['out']).to.match(/^status=4\n$/);
    expect(steps['hosts']!['text']).to.deep.equal([`${steps['same network']!['server']} srv`]);
    expect(steps['removed']).to.not.equal(undefined);
    // The bridges and rules went; the host's own namespace never had them.
    const [here, there] = steps['networks']!['bridges'] as string[];
    const links = inHolder(pid, ['ip', '-o', 'link']);
    expect(links).to.not.include(here).and.not.include(there);
    expect(inHolder(pid, ['nft', 'list', 'ruleset'])).to.equal('');
    expect(existsSync(`/sys/class/net/${here}`)).to.equal(false);
  });

  it('a holder that is gone is replaced by the next use', () => {
    const before = holderPid();
    process.kill(before, 'SIGKILL');
    const steps = run();
    expect(steps['holder']).to.deep.include({ made: [true, false], same: true });
    const after = holderPid();
    holders.push(after);
    expect(after).to.not.equal(before);
    expect(steps['same network']).to.deep.include({ code: 0, out: 'hello rootless\n' });
  });
});
