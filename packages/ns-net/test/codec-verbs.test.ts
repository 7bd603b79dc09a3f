/**
 * What the library's verbs send, byte for byte against what iproute2's `ip` sent for the same
 * command (test/fixtures/captured.txt, "verbs" section of capture.sh), and what the kernel
 * answered parsed and written back unchanged (bridge and bridge-port details, counters,
 * cached routes). The verbs are run against a recorder in place of the socket: no kernel here.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AF, NLM_F, NLMSG, RTM, encodeMessage, linkStats, parseMessages, type LinkMessage, type NlMessage,
} from '../src/codec';
import type { NetlinkSocket, Outgoing } from '../src/transport';
import {
  addrAdd, bridge, linkAdd, linkSet, macvlan, nsidSet, routeAdd, routeGet, veth,
} from '../src/verbs';

const FIXTURES = join(__dirname, '../../test/fixtures/captured.txt');

/** The datagrams of one captured command, in order, with their direction. */
function block(command: string): { dir: 'send' | 'recv'; bytes: Buffer }[] {
  const lines = readFileSync(FIXTURES, 'utf8').split('\n');
  const start = lines.findIndex((l) => l === `### ${command}` || (command.endsWith('*') && l.startsWith(`### ${command.slice(0, -1)}`)));
  if (start < 0) throw new Error(`no capture for ${command}`);
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((l) => l.startsWith('### '));
  return rest.slice(0, end < 0 ? undefined : end).filter((l) => l.startsWith('send ') || l.startsWith('recv ')).map((l) => {
    const [dir, hex] = l.split(' ') as ['send' | 'recv', string];
    const buf = Buffer.from(hex, 'hex');
    // strace shows ip's whole send buffer; the kernel reads nlmsg_len bytes of it.
    return { dir, bytes: dir === 'send' ? buf.subarray(0, buf.readUInt32LE(0)) : buf };
  });
}

/** The last request of a type ip sent for a command (after its probes and lookups). */
function ipSent(command: string, type: number): Buffer {
  const sent = block(command).filter((d) => d.dir === 'send' && d.bytes.readUInt16LE(4) === type);
  if (!sent.length) throw new Error(`${command}: ip sent no message of type ${type}`);
  return sent[sent.length - 1]!.bytes;
}

/** The kernel's answer to a command (the n-th datagram received). */
function kernelSent(command: string, n: number): Buffer {
  return block(command).filter((d) => d.dir === 'recv')[n]!.bytes;
}

/**
 * A NetlinkSocket that records requests instead of sending them and answers lookups of links
 * by name with the ifindex given, as the kernel would.
 */
class Recorder {
  readonly sent: Outgoing[] = [];
  constructor(readonly links: Record<string, number> = {}) {}

  request(msg: Outgoing): NlMessage[] {
    if (msg.type === RTM.GETLINK && msg.kind === 'link') {
      const name = msg.body.attrs.find((a) => a.kind === 'ifname')?.value as string;
      const body: LinkMessage = { family: AF.UNSPEC, type: 1, index: this.links[name] ?? 0, flags: 0, change: 0, attrs: [{ kind: 'ifname', value: name }] };
      return [{ type: RTM.NEWLINK, flags: 0, seq: 0, pid: 0, kind: 'link', body }];
    }
    this.sent.push(msg);
    if (msg.type === RTM.GETROUTE && msg.kind === 'route') {
      return [{ type: RTM.NEWROUTE, flags: 0, seq: 0, pid: 0, kind: 'route', body: { ...msg.body, attrs: [] } }];
    }
    return [];
  }

  dump(): NlMessage[] {
    return [];
  }

  get socket(): NetlinkSocket {
    return this as unknown as NetlinkSocket;
  }

  /** The one request that is not a lookup, as the transport writes it: with ip's seq and REQUEST|ACK. */
  bytes(seqOf: Buffer, ack = true): Buffer {
    expect(this.sent).to.have.length(1);
    const m = this.sent[0]!;
    return encodeMessage({ ...m, flags: m.flags | NLM_F.REQUEST | (ack ? NLM_F.ACK : 0), seq: seqOf.readUInt32LE(8), pid: 0 } as NlMessage);
  }
}

/** Bytes as hex, for a readable diff. */
const hex = (b: Buffer) => b.toString('hex');

describe('codec: what the verbs send is what ip sends', () => {
  it('linkSet(up, mtu, master) is ip link set nnV2 up mtu 1300 master nnBr2: one RTM_NEWLINK', () => {
    const r = new Recorder({ nnBr2: 4 });
    linkSet(r.socket, 2, { up: true, mtu: 1300, master: 'nnBr2' });
    const ip = ipSent('ip link set nnV2 up mtu 1300 master nnBr2', RTM.NEWLINK);
    expect(hex(r.bytes(ip))).to.equal(hex(ip));
  });

  it('linkSet(address) is ip link set nnV1 address 02:00:00:00:00:03', () => {
    const r = new Recorder();
    linkSet(r.socket, 3, { address: '02:00:00:00:00:03' });
    const ip = ipSent('ip link set nnV1 address 02:00:00:00:00:03', RTM.NEWLINK);
    expect(hex(r.bytes(ip))).to.equal(hex(ip));
  });

  /** ip writes IFLA_INFO_KIND without its NUL, the kernel and we with it: compared as parsed messages. */
  const sameAsParsed = (r: Recorder, ip: Buffer) => {
    const [ours] = parseMessages(r.bytes(ip));
    expect(ours).to.deep.equal(parseMessages(ip)[0]);
  };

  it('bridge({stpState, forwardDelay, vlanDefaultPvid}) is ip link add nnBr2 type bridge stp_state 1 forward_delay 400 vlan_default_pvid 10', () => {
    const r = new Recorder();
    linkAdd(r.socket, bridge({ name: 'nnBr2', stpState: 1, forwardDelay: 400, vlanDefaultPvid: 10 }));
    sameAsParsed(r, ipSent('ip link add nnBr2 type bridge stp_state 1 forward_delay 400 vlan_default_pvid 10', RTM.NEWLINK));
  });

  it('macvlan({link, mode: bridge}) is ip link add nnM link nnV1 type macvlan mode bridge (IFLA_LINK, then the name)', () => {
    const r = new Recorder({ nnV1: 3 });
    linkAdd(r.socket, macvlan({ name: 'nnM', link: 'nnV1', mode: 'bridge' }));
    sameAsParsed(r, ipSent('ip link add nnM link nnV1 type macvlan mode bridge', RTM.NEWLINK));
  });

  it('veth with its peer born in another namespace is ip link add nnO type veth peer name nnI netns FILE', () => {
    const r = new Recorder();
    // ip opened the namespace file as fd 4; the recorder is given the same number.
    linkAdd(r.socket, veth({ name: 'nnO', peer: { name: 'nnI', netnsFd: 4 } }));
    sameAsParsed(r, ipSent('ip link add nnO type veth peer name nnI netns *', RTM.NEWLINK));
  });

  it('addrAdd with a peer, with brd + and a label, with noprefixroute (IFA_FLAGS), with a metric', () => {
    const cases: [string, string, Parameters<typeof addrAdd>[3]][] = [
      ['ip addr add 10.1.3.3 peer 10.1.3.4/32 dev nnV1', '10.1.3.3/32', { peer: '10.1.3.4/32' }],
      ['ip addr add 10.1.4.4/24 brd + dev nnV1 label nnV1:x', '10.1.4.4/24', { broadcast: '+', label: 'nnV1:x' }],
      ['ip addr add 2001:db8::2/64 dev nnV1 nodad noprefixroute', '2001:db8::2/64', { noDad: true, noPrefixRoute: true }],
      ['ip addr add 10.1.5.5/24 dev nnV1 label nnV1:y metric 9', '10.1.5.5/24', { label: 'nnV1:y', metric: 9 }],
    ];
    for (const [command, cidr, options] of cases) {
      const r = new Recorder({ nnV1: 3 });
      addrAdd(r.socket, 'nnV1', cidr, options);
      const ip = ipSent(command, RTM.NEWADDR);
      expect(hex(r.bytes(ip)), command).to.equal(hex(ip));
    }
  });

  it('routeAdd: a metric, a table above 255 (RTA_TABLE) and a protocol; a path MTU (RTA_METRICS); an IPv6 default route', () => {
    const cases: [string, Parameters<typeof routeAdd>[1]][] = [
      ['ip route add 10.8.0.0/16 via 10.1.4.1 metric 7 table 1000 proto static', { dst: '10.8.0.0/16', gateway: '10.1.4.1', metric: 7, table: 1000, protocol: 4 }],
      ['ip route add 10.7.0.0/16 via 10.1.4.1 mtu 1300', { dst: '10.7.0.0/16', gateway: '10.1.4.1', mtu: 1300 }],
      ['ip route add default via 2001:db8::5 dev nnV1', { dst: 'default', gateway: '2001:db8::5', dev: 'nnV1' }],
    ];
    for (const [command, spec] of cases) {
      const r = new Recorder({ nnV1: 3 });
      routeAdd(r.socket, spec);
      const ip = ipSent(command, RTM.NEWROUTE);
      expect(hex(r.bytes(ip)), command).to.equal(hex(ip));
    }
  });

  it('routeGet: IPv4 asks with RTM_F_LOOKUP_TABLE, IPv6 without; no ACK', () => {
    for (const [command, to] of [['ip route get 10.1.4.7', '10.1.4.7'], ['ip route get 2001:db8::9', '2001:db8::9']] as const) {
      const r = new Recorder();
      routeGet(r.socket, { to });
      const ip = ipSent(command, RTM.GETROUTE);
      // ip sends lookups without NLM_F_ACK; the transport adds one (the kernel answers the
      // route, then acknowledges): the message is otherwise the same.
      expect(hex(r.bytes(ip, false)), command).to.equal(hex(ip));
    }
  });

  it('nsidSet is ip netns set NAME 7 (RTM_NEWNSID: the fd, then the id)', () => {
    const r = new Recorder();
    nsidSet(r.socket, 6, 7);
    const ip = ipSent('ip netns set nnCapture 7', RTM.NEWNSID);
    expect(hex(r.bytes(ip))).to.equal(hex(ip));
  });
});

describe('codec: what the kernel reports with -d and -s, parsed and written back unchanged', () => {
  const roundTrip = (bytes: Buffer) => {
    const msgs = parseMessages(bytes);
    expect(hex(Buffer.concat(msgs.map(encodeMessage)))).to.equal(hex(bytes));
    return msgs;
  };

  it('a bridge: its options, ids and timers typed', () => {
    const [m] = roundTrip(kernelSent('ip -d link show dev nnBr2', 2));
    if (m?.kind !== 'link') throw new Error('not a link');
    const info = m.body.attrs.find((a) => a.kind === 'linkinfo')!.value as { kind: string; value: unknown }[];
    const data = info.find((a) => a.kind === 'bridgeData')!.value as { kind: string; value: unknown }[];
    const get = (k: string) => data.find((a) => a.kind === k)?.value;
    // (This kernel's bridge has no VLAN filtering: no VLAN attributes come back.)
    expect([get('stpState'), get('forwardDelay'), get('helloTime'), get('priority'), get('mcastSnooping')]).to.deep.equal([1, 400, 200, 32768, 1]);
    expect(typeof get('gcTimer')).to.equal('bigint');
    expect((get('bridgeId') as Buffer).length).to.equal(8);
  });

  it('a bridge port: state, priority, cost, flags and timers', () => {
    const [m] = roundTrip(kernelSent('ip -d link show dev nnV2', 2));
    if (m?.kind !== 'link') throw new Error('not a link');
    expect(m.body.attrs.find((a) => a.kind === 'master')?.value).to.equal(4);
    const info = m.body.attrs.find((a) => a.kind === 'linkinfo')!.value as { kind: string; value: unknown }[];
    expect(info.find((a) => a.kind === 'infoSlaveKind')?.value).to.equal('bridge');
    const port = info.find((a) => a.kind === 'bridgePortData')!.value as { kind: string; value: unknown }[];
    const get = (k: string) => port.find((a) => a.kind === k)?.value;
    expect([get('priority'), get('cost'), get('learning'), get('unicastFlood')]).to.deep.equal([32, 2, 1, 1]);
    expect(typeof get('holdTimer')).to.equal('bigint');
  });

  it('counters: IFLA_STATS64 read as 64-bit fields, the same packets as IFLA_STATS', () => {
    const [m] = roundTrip(kernelSent('ip -s link show dev nnV1', 2));
    if (m?.kind !== 'link') throw new Error('not a link');
    const st = linkStats(m.body)!;
    expect(st.wide).to.equal(true);
    const narrow = linkStats({ ...m.body, attrs: m.body.attrs.filter((a) => a.kind !== 'stats64') })!;
    expect(narrow.wide).to.equal(false);
    expect(narrow.stats.txPackets).to.equal(st.stats.txPackets);
    expect(st.stats.txBytes >= st.stats.txPackets).to.equal(true);
  });

  it('a resolved route: table, output link, source, uid and cache information', () => {
    const [m] = roundTrip(kernelSent('ip route get 10.1.4.7', 0));
    if (m?.kind !== 'route') throw new Error('not a route');
    const get = (k: string) => (m.body.attrs.find((a) => a.kind === k) as { value?: unknown } | undefined)?.value;
    expect([get('table'), get('dst'), get('oif'), get('prefsrc'), get('uid')]).to.deep.equal([254, '10.1.4.7', 3, '10.1.4.4', 0]);
    expect(get('cacheinfo')).to.include({ expires: 0, error: 0 });
    expect(m.body.flags & 0x200).to.equal(0x200); // RTM_F_CLONED: an answer, not a table entry
  });

  it('errors the kernel gave ip: EHOSTUNREACH and ENETUNREACH for routes it cannot use', () => {
    const [unreachable] = parseMessages(kernelSent('ip route add default via 2001:db8::5 dev nnV1', 1));
    expect(unreachable).to.include({ type: NLMSG.ERROR, kind: 'error' });
    expect((unreachable as { body: { error: number } }).body.error).to.equal(-113);
    const [noRoute] = parseMessages(kernelSent('ip route get 2001:db8::9', 0));
    expect((noRoute as { body: { error: number } }).body.error).to.equal(-101);
  });
});
