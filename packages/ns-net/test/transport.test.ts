import { expect } from 'chai';
import { Namespace } from 'ns-core';
import { AF, IFF, RTM } from '../src/codec';
import { NetlinkSocket } from '../src/transport';
import { RtnlHandle, veth, dummy } from '../src/verbs';
import { caught, hostHasLink, throwaway, uniqueName, type Throwaway } from './helpers';

describe('transport: a netlink socket bound to one namespace', () => {
  let t: Throwaway;
  beforeEach(async () => { t = await throwaway(); });
  afterEach(async () => { await t.close(); });

  it('talks to the namespace it was opened in, whatever namespace the caller is in', () => {
    expect(t.rtnl.linkList().map((l) => l.name)).to.deep.equal(['lo']);
    const name = uniqueName('tv');
    t.rtnl.linkAdd(veth({ name, peer: `${name}p` }));
    expect(t.ipJson('link', 'show', 'dev', name)[0]).to.include({ ifname: name });
    expect(hostHasLink(name)).to.equal(false);
    // The caller is back in its own namespace: its handle sees the host's links, not ours.
    RtnlHandle.current().use((h) => expect(h.linkList().map((l) => l.name)).not.to.include(name));
  });

  it('gets a port id from the kernel; each socket its own', () => {
    const other = NetlinkSocket.open(t.ns);
    try {
      expect(t.rtnl.socket.portId).to.be.above(0);
      expect(other.portId).to.be.above(0).and.not.equal(t.rtnl.socket.portId);
    } finally {
      other.close();
    }
  });

  it('a request returns at its ACK, and the change is made', () => {
    const replies = t.rtnl.socket.request({ type: RTM.NEWLINK, flags: 0, kind: 'link',
      body: { family: AF.UNSPEC, type: 0, index: 1, flags: IFF.UP, change: IFF.UP, attrs: [] } }, 'ip link set lo up');
    expect(replies).to.deep.equal([]);
    expect(t.ipJson('link', 'show', 'dev', 'lo')[0]!['flags']).to.include('UP');
  });

  it('collects a dump spread over many datagrams up to NLMSG_DONE', function () {
    this.timeout(20000);
    // ~1.4 kB per link: 61 links cannot fit one 32 kB dump datagram.
    for (let i = 0; i < 30; i++) t.rtnl.linkAdd(veth({ name: `v${i}a`, peer: `v${i}b` }));
    const ours = t.rtnl.linkList().map((l) => l.name).sort();
    const theirs = t.ipJson('link', 'show').map((l) => l['ifname'] as string).sort();
    expect(ours).to.have.length(61);
    expect(ours).to.deep.equal(theirs);
  });

  it('turns NLMSG_ERROR into an NsError with the errno and the extended-ack message', () => {
    // This kernel has no dummy driver: EOPNOTSUPP, explained by extack.
    const noDriver = caught(() => t.rtnl.linkAdd(dummy({ name: 'd0' })));
    expect(noDriver).to.include({ errno: -95, syscall: 'RTM_NEWLINK' });
    expect(noDriver.message).to.equal(`ip link add d0 type dummy failed: ${noDriver.code} (operation not supported on socket): Unknown device type`);
    const taken = caught(() => t.rtnl.linkAdd(veth({ name: 'lo', peer: 'lo2' })));
    expect(taken).to.include({ code: 'EEXIST', errno: -17 });
    expect(caught(() => t.rtnl.linkByName('nosuchlink'))).to.include({ code: 'ENODEV' });
  });

  it('a wait for an answer that never comes ends with ETIMEDOUT, and the socket stays usable', () => {
    const sock = NetlinkSocket.open(t.ns, { timeoutMs: 50 });
    try {
      // Without NLM_F_ACK the kernel answers a successful set with nothing at all.
      const err = caught(() => sock.request({ type: RTM.NEWLINK, flags: 0, kind: 'link',
        body: { family: AF.UNSPEC, type: 0, index: 1, flags: IFF.UP, change: IFF.UP, attrs: [] } }, 'ip link set lo up', { ack: false }));
      expect(err).to.include({ code: 'ETIMEDOUT', syscall: 'RTM_NEWLINK' });
      expect(err.message).to.match(/no answer from the kernel within 50 ms/);
      expect(sock.dump({ type: RTM.GETLINK, flags: 0, kind: 'link', body: { family: AF.UNSPEC, type: 0, index: 0, flags: 0, change: 0, attrs: [] } }, 'ip link show'))
        .to.have.length(1);
    } finally {
      sock.close();
    }
  });

  it('refuses a closed socket and a namespace that is not a net namespace', () => {
    const sock = NetlinkSocket.open(t.ns);
    sock.close();
    expect(caught(() => sock.dump({ type: RTM.GETLINK, flags: 0, kind: 'link', body: { family: 0, type: 0, index: 0, flags: 0, change: 0, attrs: [] } }, 'x')))
      .to.include({ code: 'EBADF' });
    const uts = Namespace.ofPid('self', 'uts');
    try {
      expect(caught(() => NetlinkSocket.open(uts))).to.include({ code: 'EINVAL' });
    } finally {
      uts.close();
    }
  });
});
