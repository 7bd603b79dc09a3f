/**
 * prepareNetns(): a container's network namespace wired before the exec stage runs, joined
 * by the spawn (also after a user namespace of the program's own is unshared, the order a
 * container needs). Run in a throwaway network namespace (net-netns-helper.js under
 * `unshare --net`), checked from the program inside and from the host side.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

describe('a network namespace prepared before the spawn (prepareNetns)', () => {
  it('has the attachment\'s address and route, is joined by the program, and loses its pair once closed', () => {
    const r = spawnSync('unshare', ['--net', process.execPath, join(__dirname, 'net-netns-helper.js')], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout) as { hostEndMaster: boolean; inside: string; inUserns: string; netnsId: number; hostEndGone: boolean; bridgeGone: boolean };
    expect(out.hostEndMaster).to.equal(true);
    expect(out.inside).to.equal('lo up\n10.252.3.2/24\ndefault via 10.252.3.1 dev eth0 \ngateway answers\n');
    // Joined before its user namespace was made: the prepared namespace, and an unmapped uid.
    expect(out.inUserns).to.equal(`net:[${out.netnsId}]\n65534\n`);
    expect(out.hostEndGone).to.equal(true);
    expect(out.bridgeGone).to.equal(true);
  });
});
