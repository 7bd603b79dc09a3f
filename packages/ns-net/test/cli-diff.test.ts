/**
 * ns-net against iproute2's ip, byte for byte: every change made twice (ip in one throwaway
 * namespace, ns-net in its twin) with the same stdout, stderr and exit status; every listing
 * printed by both from one namespace, and the twins compared with each other, which shows
 * that ns-net's changes did what ip's did. Link-layer addresses are given on the command
 * line so that both twins hold the same ones.
 */
import { expect } from 'chai';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Namespaces, maskCounters, maskTimers, runIp, runNsNet, settle, show, type Run } from './cli-harness';

type Mask = (s: string) => string;

/** ip in `a`, ns-net in `b` (with b's names in its words): the same run, the names mapped back. */
function twin(a: string, b: string, names: [string, string][]) {
  const toB = (w: string) => names.reduce((s, [x, y]) => s.split(x).join(y), w);
  const toA = (s: string) => names.reduce((t, [x, y]) => t.split(y).join(x), s);
  const norm = (r: Run, mask: Mask, back: boolean): Run => {
    const f = (s: string) => mask(back ? toA(s) : s);
    return { stdout: f(r.stdout), stderr: f(r.stderr), status: r.status };
  };
  return {
    /** A change (or any command): ip on a, ns-net on b. */
    step(words: string[], mask: Mask = (s) => s): void {
      const ours = norm(runNsNet(['-n', b, ...words.map(toB)]), mask, true);
      const theirs = norm(runIp(['-n', a, ...words]), mask, false);
      expect(show(ours), words.join(' ')).to.equal(show(theirs));
    },
    /** A listing: ns-net and ip on the same namespace, and the twins' states the same. */
    view(words: string[], mask: Mask = maskTimers): void {
      const theirs = norm(runIp(['-n', a, ...words]), mask, false);
      const ours = norm(runNsNet(['-n', a, ...words]), mask, false);
      expect(show(ours), `ns-net ${words.join(' ')}`).to.equal(show(theirs));
      const twinState = norm(runIp(['-n', b, ...words.map(toB)]), mask, true);
      expect(show(twinState), `what ns-net made, seen by ip ${words.join(' ')}`).to.equal(show(theirs));
    },
  };
}

const MAC = (n: number) => `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`;

describe('ns-net and ip, side by side (iproute2 6.1 as the oracle)', function () {
  this.timeout(180000);
  const spaces = new Namespaces();
  after(() => spaces.removeAll());

  /** Our namespace and ip's, each set up by ip alike: the veth pair va/vb and lo up, then `more`. */
  async function twinWithVeth(tags: [string, string], more: readonly string[][] = []): Promise<ReturnType<typeof twin>> {
    const [a, b] = [spaces.add(tags[0]), spaces.add(tags[1])];
    for (const n of [a, b]) {
      for (const cmd of [['link', 'add', 'va', 'address', MAC(1), 'type', 'veth', 'peer', 'name', 'vb', 'address', MAC(2)],
        ['link', 'set', 'va', 'up'], ['link', 'set', 'vb', 'up'], ['link', 'set', 'lo', 'up'], ...more]) {
        expect(runIp(['-n', n, ...cmd]).status).to.equal(0);
      }
    }
    const t = twin(a, b, [[a, b]]);
    await settle(a, b);
    return t;
  }

  describe('links', () => {
    let t: ReturnType<typeof twin>;
    before(() => {
      const [a, b, pa, pb] = [spaces.add('la'), spaces.add('lb'), spaces.add('lpa'), spaces.add('lpb')];
      t = twin(a, b, [[a, b], [pa, pb]]);
      (t as { peer?: string }).peer = pa;
    });
    const peer = () => (t as unknown as { peer: string }).peer;

    it('add: veth, bridge with options, macvlan on a veth, and what fails (taken, no driver, bad mode)', () => {
      t.step(['link', 'add', 'va', 'address', MAC(1), 'type', 'veth', 'peer', 'name', 'vb', 'address', MAC(2)]);
      t.step(['link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb']);
      t.step(['link', 'add', 'br0', 'address', MAC(3), 'type', 'bridge', 'stp_state', '0', 'forward_delay', '400', 'hello_time', '100']);
      // This kernel has no VLAN filtering in its bridge, nor a dummy driver: the errors are compared.
      t.step(['link', 'add', 'br1', 'type', 'bridge', 'vlan_filtering', '1']);
      t.step(['link', 'add', 'd0', 'type', 'dummy']);
      t.step(['link', 'add', 'mv0', 'link', 'va', 'address', MAC(4), 'type', 'macvlan', 'mode', 'bridge']);
      t.step(['link', 'add', 'mv1', 'link', 'va', 'address', MAC(5), 'type', 'macvlan', 'mode', 'private']);
      t.step(['link', 'add', 'mv2', 'link', 'va', 'type', 'macvlan', 'mode', 'foo']);
      t.step(['link', 'add', 'mv3', 'link', 'nosuch', 'type', 'macvlan']);
      t.step(['link', 'add', 'br2', 'type', 'bridge', 'nosuchoption', '1']);
      t.step(['link', 'add', 'x0']);
      t.step(['link', 'add', 'x1', 'type', 'veth', 'nopeer']);
      t.step(['link', 'add', 'x2', 'type', 'nosuchkind']);
      t.step(['link', 'add', 'x3', 'type', 'nosuchkind', 'arg']);
      t.step(['link', 'add', 'name', 'a', 'dev', 'b', 'type', 'veth']);
    });

    it('a veth whose peer is born in another namespace, one moved there by name and by pid', () => {
      t.step(['link', 'add', 'vo', 'address', MAC(6), 'type', 'veth', 'peer', 'name', 'vi', 'address', MAC(7), 'netns', peer()]);
      t.step(['link', 'add', 'vq', 'address', MAC(8), 'type', 'veth', 'peer', 'name', 'vr', 'address', MAC(9)]);
      t.step(['link', 'set', 'vr', 'netns', peer()]);
      t.step(['link', 'set', 'vq', 'netns', 'nosuchns']);
    });

    it('set: master, up, mtu, address, name, flags, alias, and their errors', async () => {
      t.step(['link', 'set', 'vb', 'master', 'br0']);
      t.step(['link', 'set', 'va', 'up']);
      t.step(['link', 'set', 'dev', 'vb', 'up', 'mtu', '1400']);
      t.step(['li', 'se', 'br0', 'up']);
      t.step(['link', 'set', 'va', 'mtu', '99999999']);
      t.step(['link', 'set', 'va', 'mtu', 'big']);
      t.step(['link', 'set', 'nosuch', 'up']);
      t.step(['link', 'set', 'vb', 'master', 'nosuch']);
      t.step(['link', 'set', 'va', 'address', MAC(10)]);
      t.step(['link', 'set', 'va', 'address', '02:00']);
      t.step(['link', 'set', 'va', 'address', 'zz:00']);
      t.step(['link', 'set', 'va', 'name', 'vx']);
      t.step(['link', 'set', 'vx', 'name', 'va']);
      t.step(['link', 'set', 'mv1', 'name', 'an-interface-name']);
      t.step(['link', 'set', 'mv1', 'arp', 'off', 'promisc', 'on', 'txqueuelen', '500', 'alias', 'hello']);
      t.step(['link', 'set', 'mv1', 'arp', 'maybe']);
      t.step(['link', 'set', 'vb', 'nomaster']);
      t.step(['link', 'set', 'vb', 'master', 'br0']);
      t.step(['link', 'set', 'dev']);
      t.step(['link', 'set']);
      t.step(['link', 'set', 'va', 'index', '7']);
      t.step(['link', 'foo']);
      await settle(...spaces.names);
    });

    for (const args of [
      ['link'], ['l'], ['-j', 'link'], ['-j', '-p', 'link'], ['-br', 'link'], ['-br', '-j', 'link'], ['-d', 'link'],
      ['-d', '-j', 'link'], ['-d', '-j', '-p', 'link'], ['-o', 'link'], ['link', 'show', 'va'], ['link', 'show', 'dev', 'br0'],
      ['-d', 'link', 'show', 'mv1'], ['link', 'show', 'master', 'br0'], ['link', 'show', 'type', 'veth'],
      ['link', 'show', 'type', 'bridge_slave'], ['link', 'show', 'up'], ['link', 'show', 'nomaster'], ['link', 'show', 'nosuch'],
      ['link', 'show', 'va', 'vb'], ['li', 'sh', 'vo'], ['-d', 'link', 'show', 'vo'], ['link', 'show', 'if1'],
    ]) {
      it(`shows: ${args.join(' ')}`, () => t.view(args));
    }

    for (const args of [['-s', 'link'], ['-s', '-s', 'link'], ['-s', '-j', 'link'], ['-s', '-s', '-j', '-p', 'link'], ['-s', 'link', 'show', 'va']]) {
      it(`counters: ${args.join(' ')} (the numbers are not compared, the layout is)`, () => t.view(args, (s) => maskCounters(maskTimers(s))));
    }

    it('delete: by name, by dev, twice (the second fails)', async () => {
      t.step(['link', 'del', 'mv1']);
      t.step(['link', 'delete', 'dev', 'mv0']);
      t.step(['link', 'del', 'mv0']);
      t.step(['link', 'del', 'va']);
      await settle(...spaces.names);
      t.view(['link', 'show']);
      t.view(['-d', 'link']);
    });
  });

  describe('addresses', () => {
    let t: ReturnType<typeof twin>;
    before(async () => {
      t = await twinWithVeth(['aa', 'ab']);
    });

    it('add: IPv4 with brd +, peer, label, scope, metric; IPv6 with nodad and noprefixroute; the errors', () => {
      t.step(['addr', 'add', '10.1.2.3/24', 'brd', '+', 'dev', 'va']);
      t.step(['addr', 'add', '10.1.2.3/24', 'dev', 'va']);
      t.step(['addr', 'add', '10.1.3.3', 'peer', '10.1.3.4/32', 'dev', 'va']);
      t.step(['address', 'add', '2001:db8::1/64', 'dev', 'va', 'nodad']);
      t.step(['a', 'a', '2001:db8::2/64', 'dev', 'va', 'nodad', 'noprefixroute']);
      t.step(['addr', 'add', '10.1.4.4/24', 'dev', 'va', 'label', 'va:x', 'scope', 'link']);
      t.step(['addr', 'add', '10.1.5.5/24', 'dev', 'va', 'nodad']);
      t.step(['addr', 'add', '10.1.6.6/24', 'dev', 'va', 'metric', '50']);
      t.step(['addr', 'add', '10.1.7.7/25', 'brd', '-', 'dev', 'vb']);
      t.step(['addr', 'add', '10.1.2.9/24', 'dev', 'va']);
      t.step(['addr', 'add', '10.1', 'dev', 'vb']);
      t.step(['addr', 'add', '10.1.8.8/24', 'dev', 'nosuch']);
      t.step(['addr', 'add', '10.1.8.8/24']);
      t.step(['addr', 'add', '10.1.5.256/24', 'dev', 'va']);
      t.step(['addr', 'add', '10.1.5.5/33', 'dev', 'va']);
      t.step(['addr', 'add', '10.1.8.8/24', 'dev', 'va', 'scope', 'nowhere-ish']);
      t.step(['addr', 'add', '10.1.8.8/24', 'dev', 'va', 'brd', '+', 'brd', '+']);
      t.step(['addr', 'add', '2001:db8::3/64', 'dev', 'va', 'brd', '+']);
      t.step(['addr', 'replace', '10.1.2.3/24', 'dev', 'va', 'brd', '+']);
      t.step(['addr', 'frob']);
    });

    for (const args of [
      ['addr'], ['a'], ['a', 's'], ['-j', 'addr'], ['-j', '-p', 'addr'], ['-br', 'addr'], ['-br', '-j', 'addr'], ['-4', 'addr'],
      ['-6', 'addr'], ['-6', '-j', 'addr'], ['-4', '-br', 'addr'], ['addr', 'show', 'dev', 'va'], ['addr', 'show', 'label', 'va:*'],
      ['addr', 'show', 'scope', 'link'], ['addr', 'show', 'scope', 'host'], ['addr', 'show', 'to', '10.1.0.0/16'],
      ['addr', 'show', 'permanent'], ['addr', 'show', 'primary'], ['addr', 'show', 'secondary'], ['addr', 'show', 'up'],
      ['-d', 'addr'], ['-o', 'addr'], ['-o', '-4', 'addr'], ['addr', 'show', 'dev', 'nosuch'], ['-f', 'inet6', 'addr'],
      ['addr', 'show', 'type', 'veth'],
    ]) {
      it(`shows: ${args.join(' ')}`, () => t.view(args));
    }

    it('counters: -s addr (numbers not compared)', () => t.view(['-s', 'addr'], (s) => maskCounters(maskTimers(s))));

    it('delete and flush: by prefix, the wildcard of old scripts, scope, label; flush needs arguments', () => {
      t.step(['addr', 'del', '10.1.4.4/24', 'dev', 'va']);
      t.step(['addr', 'del', '10.1.4.4/24', 'dev', 'va']);
      t.step(['addr', 'del', '10.1.6.6', 'dev', 'va']);
      t.step(['addr', 'del', '2001:db8::2/64', 'dev', 'va']);
      t.step(['-s', 'addr', 'flush', 'dev', 'va', 'scope', 'link']);
      t.step(['addr', 'flush', 'label', 'nothing-*']);
      t.step(['-s', 'addr', 'flush', 'dev', 'vb']);
      t.step(['-s', 'addr', 'flush', 'dev', 'vb']);
      t.step(['addr', 'flush']);
      t.step(['addr', 'flush', 'dev', 'va']);
      t.view(['addr']);
    });
  });

  describe('routes', () => {
    let t: ReturnType<typeof twin>;
    before(async () => {
      t = await twinWithVeth(['ra', 'rb'], [['addr', 'add', '10.1.2.3/24', 'dev', 'va'], ['addr', 'add', '2001:db8::1/64', 'dev', 'va', 'nodad']]);
    });

    it('add and replace: gateways, metrics, protocols, tables, types, src, mtu, IPv6; the errors', () => {
      t.step(['route', 'add', 'default', 'via', '10.1.2.1']);
      t.step(['route', 'add', 'default', 'via', '10.1.2.1']);
      t.step(['route', 'add', '10.9.0.0/16', 'via', '10.1.2.9', 'metric', '5', 'proto', 'static']);
      t.step(['route', 'replace', '10.9.0.0/16', 'via', '10.1.2.10', 'metric', '5']);
      t.step(['route', 'add', '10.8.0.0/16', 'dev', 'va', 'scope', 'link', 'table', '100']);
      t.step(['route', 'add', '10.7.0.0/16', 'via', '10.99.0.1']);
      t.step(['route', 'add', 'blackhole', '10.6.0.0/16']);
      t.step(['r', 'a', 'unreachable', '10.5.0.0/16']);
      t.step(['route', 'add', 'prohibit', '10.4.0.0/16', 'metric', '7']);
      t.step(['route', 'add', '10.3.0.0/16', 'via', '10.1.2.1', 'src', '10.1.2.3']);
      t.step(['route', 'add', '10.2.0.0/16', 'via', '10.1.2.1', 'mtu', '1300']);
      t.step(['route', 'add', '10.2.5.0/24', 'via', '10.1.2.1', 'mtu', 'lock', '1200', 'advmss', '1100']);
      t.step(['route', 'add', '10.0.7.0/24', 'dev', 'va', 'onlink', 'via', '10.200.0.1']);
      t.step(['route', 'add', '2001:db8:1::/48', 'via', '2001:db8::5']);
      t.step(['-6', 'route', 'add', 'default', 'via', '2001:db8::5', 'dev', 'va', 'metric', '100', 'pref', 'high']);
      t.step(['route', 'add', '2001:db8:2::/48', 'dev', 'va']);
      t.step(['route', 'add']);
      t.step(['route', 'add', '10.0.0.0/16', 'dev', 'nosuch']);
      t.step(['route', 'add', '10.0.0.0/16', 'via', 'foo']);
      t.step(['route', 'add', '10.0.0.0/16', 'via', '2001:db8::9']);
      t.step(['route', 'add', '10.0.0.0/16', 'table', 'nosuchtable']);
      t.step(['route', 'add', '10.0.0.0/16', 'via', '10.1.2.1', 'via', '10.1.2.2']);
      t.step(['route', 'frob']);
    });

    for (const args of [
      ['route'], ['r'], ['ro', 's'], ['-j', 'route'], ['-j', '-p', 'route'], ['-d', 'route'], ['-d', '-j', 'route'], ['-6', 'route'],
      ['-6', '-j', 'route'], ['-6', '-d', 'route'], ['route', 'show', 'table', '100'], ['route', 'show', 'table', 'all'],
      ['-6', 'route', 'show', 'table', 'all'], ['route', 'show', 'table', 'local'], ['-j', '-p', 'route', 'show', 'table', 'local'],
      ['route', 'show', 'proto', 'static'], ['route', 'show', 'dev', 'va'], ['route', 'show', 'type', 'blackhole'],
      ['route', 'show', 'root', '10.0.0.0/8'], ['route', 'show', 'match', '10.9.1.1'], ['route', 'show', 'exact', '10.9.0.0/16'],
      ['route', 'show', 'via', '10.1.2.1'], ['route', 'show', 'scope', 'link'], ['route', 'show', 'table', '55'],
      ['route', 'show', 'dev', 'nosuch'], ['-o', 'route'], ['-N', 'route'],
    ]) {
      it(`shows: ${args.join(' ')}`, () => t.view(args));
    }

    for (const args of [
      ['route', 'get', '10.9.3.3'], ['route', 'get', '10.8.1.1'], ['route', 'get', '10.6.1.1'], ['route', 'get', '10.1.2.3'],
      ['-6', 'route', 'get', '2001:db8:1::9'], ['route', 'get', '2001:db8:7::1'], ['route', 'get', '1.2.3.4', 'from', '10.1.2.3'],
      ['route', 'get', 'fibmatch', '10.9.3.3'], ['-j', 'route', 'get', '10.9.3.3'], ['-j', '-p', 'route', 'get', '10.1.2.3'],
      ['route', 'get'], ['route', 'get', '10.9.3.3/24'], ['route', 'get', '10.9.3.3', 'oif', 'va'], ['route', 'get', '10.9.3.3', 'oif', 'nosuch'],
      ['route', 'get', '10.9.3.3', 'mark', '7', 'uid', '1000'], ['route', 'get', '10.1.2.7', 'connected'],
    ]) {
      it(`lookup: ${args.join(' ')}`, () => t.view(args));
    }

    it('delete and flush', () => {
      t.step(['route', 'del', '10.9.0.0/16']);
      t.step(['route', 'del', '10.9.0.0/16']);
      t.step(['route', 'del', 'default']);
      t.step(['route', 'delete', 'blackhole', '10.6.0.0/16']);
      t.step(['-6', 'route', 'del', 'default', 'via', '2001:db8::5']);
      t.step(['route', 'flush', 'table', '100']);
      t.step(['route', 'flush']);
      t.step(['-s', 'route', 'flush', 'proto', 'static']);
      t.step(['route', 'flush', 'dev', 'va']);
      t.view(['route', 'show', 'table', 'all']);
      t.view(['-6', 'route']);
    });
  });

  describe('the front end', () => {
    let t: ReturnType<typeof twin>;
    let dir: string;
    before(() => {
      const [a, b] = [spaces.add('fa'), spaces.add('fb')];
      t = twin(a, b, [[a, b]]);
      dir = mkdtempSync(join(tmpdir(), 'ns-net-batch-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('options: unknown ones, -- before the object, long spellings, -family, missing values', () => {
      for (const args of [
        ['-x', 'link'], ['--json', 'link'], ['-json', '-pretty', 'link'], ['-family', 'inet', 'addr'], ['-f', 'bogus', 'addr'],
        ['-0', 'addr'], ['-s', '-d', 'link', 'show', 'lo'], ['-br', '-6', 'addr'], ['-rc', '1000', 'link'], ['-rc', 'x', 'link'],
        ['-color=never', 'link'], ['-c=sometimes', 'link'], ['-N', 'route'], ['-l', '3', 'addr'],
      ]) t.step(args, (s) => maskCounters(maskTimers(s)));
    });

    it('usage: each object\'s help, and a command that is not one', () => {
      for (const args of [['help'], ['link', 'help'], ['addr', 'help'], ['route', 'help'], ['netns', 'help'], ['link', 'help', 'veth'],
        ['link', 'help', 'bridge'], ['link', 'help', 'macvlan'], ['addr', 'show', 'help'], ['route', 'show', 'help']]) t.step(args);
    });

    it('-n with a namespace that does not exist', () => {
      const ours = runNsNet(['-n', 'nn-no-such-ns', 'link']);
      expect(show(ours)).to.equal(show(runIp(['-n', 'nn-no-such-ns', 'link'])));
    });

    it('-batch: commands in turn, "Command failed FILE:LINE" and a stop at the first failure, or all with -force', () => {
      const file = join(dir, 'cmds');
      writeFileSync(file, [
        '# a comment', 'link add va address 02:00:00:00:00:01 type veth peer name vb address 02:00:00:00:00:02',
        'link set va up # trailing comment', '', 'addr add 10.3.3.3/24 \\', '  dev va', 'link set nosuch up',
        'addr add 10.3.3.4/24 dev va', '"link" show "va"',
      ].join('\n'));
      t.step(['-b', file]);
      t.step(['-force', '-batch', file]);
      t.step(['-b', join(dir, 'missing')]);
      t.step(['-b']);
    });
  });
});
