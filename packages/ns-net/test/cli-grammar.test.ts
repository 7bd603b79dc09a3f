/**
 * The pure parts of ns-net's ip grammar, checked against their originals where one runs here:
 * ip's prefix rules for options and objects, printf(3) (the shell's printf), glibc's
 * strerror(3) (perl's $!), makeargs() of batch files, and ip's own reading of addresses.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { AF } from '../src/codec';
import { getAddr1, getInteger, getPrefix1, getUnsigned, llAddrA2n, matches } from '../src/cli/args';
import { globalOption, isIpGrammar, objectOf } from '../src/cli/grammar';
import { batchWords, parseGlobals } from '../src/cli/ip';
import { cfmt, Printer } from '../src/cli/printer';
import { strerror } from '../src/cli/strerror';

describe('ip grammar, pure parts', () => {
  it('matches(): a prefix of the keyword, the empty word matches all, a longer word nothing', () => {
    expect(matches('l', 'link')).to.equal(true);
    expect(matches('link', 'link')).to.equal(true);
    expect(matches('', 'link')).to.equal(true);
    expect(matches('links', 'link')).to.equal(false);
    expect(matches('list-id', 'list')).to.equal(false);
  });

  it('global options resolve in ip.c\'s order ("-s" is -stats, "-b" -batch, "-br" -brief, "-h" -human)', () => {
    const cases: [string, string | undefined][] = [
      ['-s', '-stats'], ['-st', '-stats'], ['-stati', '-statistics'], ['-d', '-details'], ['-b', '-batch'], ['-br', '-brief'],
      ['-j', '-json'], ['--json', '-json'], ['-p', '-pretty'], ['-h', '-human'], ['-n', '-netns'], ['--netns', '-netns'],
      ['-l', '-loops'], ['-f', '-family'], ['-fo', '-force'], ['-r', '-resolve'], ['-rc', '-rcvbuf'], ['-t', '-timestamp'],
      ['-ts', '-tshort'], ['-o', '-oneline'], ['-N', '-Numeric'], ['-a', '-all'], ['-V', '-Version'], ['-i', '-iec'],
      ['-c', '-color'], ['-color=never', '-color'], ['-4', '-4'], ['-6', '-6'], ['-0', '-0'], ['-echo', '-echo'],
      ['-e', undefined], ['-x', undefined], ['-c=sometimes', undefined], ['-44', undefined],
    ];
    for (const [word, name] of cases) expect(globalOption(word)?.name, word).to.equal(name);
  });

  it('objects resolve in ip\'s table order; only link, address, route, netns and help are spoken', () => {
    const cases: [string, string | undefined, boolean][] = [
      ['l', 'link', true], ['a', 'address', true], ['addr', 'address', true], ['r', 'route', true], ['ro', 'route', true],
      ['n', 'neighbor', false], ['net', 'netns', true], ['netns', 'netns', true], ['ru', 'rule', false], ['tc', 'tcpmetrics', false],
      ['m', 'maddress', false], ['h', 'help', true], ['ip', undefined, false], ['links', undefined, false],
    ];
    for (const [word, name, supported] of cases) {
      expect(objectOf(word)?.name, word).to.equal(name);
      expect(objectOf(word)?.supported ?? false, word).to.equal(supported);
    }
  });

  it('ip grammar or run form', () => {
    const ipForms = [['link'], ['l'], ['-j', 'a', 's'], ['-n', 'x', 'route'], ['-netns', 'x', 'netns', 'list'], ['-b', 'file'],
      ['-x', 'link'], ['neighbor'], ['--json', 'addr'], ['help']];
    const runForms = [[], ['sh'], ['--', 'link'], ['--veth', 'h:e', '--address', '1.2.3.4/30', 'link'], ['tc', '-s'], ['n'],
      ['ip', 'link'], ['--no-loopback', 'link'], ['-j'], ['--help'], ['-V']];
    for (const a of ipForms) expect(isIpGrammar(a), a.join(' ')).to.equal(true);
    for (const a of runForms) expect(isIpGrammar(a), a.join(' ')).to.equal(false);
  });

  it('parseGlobals(): counts repeated -s and -d, reads -f, stops at the object or after --', () => {
    const { g, rest } = parseGlobals(['-s', '-s', '-d', '-j', '-p', '-br', '-f', 'inet6', 'link', '-x']);
    expect(g).to.include({ stats: 2, details: 1, json: true, pretty: true, brief: true, family: AF.INET6 });
    expect(rest).to.deep.equal(['link', '-x']);
    expect(parseGlobals(['-4', '--', '-weird']).rest).to.deep.equal(['-weird']);
    expect(() => parseGlobals(['-x'])).to.throw(/Option "-x" is unknown, try "ip -help"\./).with.property('status', 255);
    expect(() => parseGlobals(['--frob'])).to.throw(/Option "-frob" is unknown/);
    expect(() => parseGlobals(['-f', 'bogus'])).to.throw('Error: argument "bogus" is wrong: invalid protocol family');
  });

  it('cfmt() prints as printf(3) does (the shell\'s printf as the oracle)', () => {
    const cases: [string, string | number][] = [
      ['%s', 'x'], ['%-16s|', 'va@vb'], ['%-14s|', 'UP'], ['%4s', 'ab'], ['%d', -5], ['%u', 4294967295], ['%x', 255],
      ['%#x', 255], ['%#x', 0], ['%#llx', 4096], ['%02x', 7], ['%.2x', 10], ['%5d|', 42], ['%-5d|', 42], ['%05d', 42],
      ['mtu %u ', 1500], ['%d: ', 3], ['%%s %s', 'y'], ['0x%04llx', 31],
    ];
    for (const [fmt, v] of cases) {
      const r = spawnSync('printf', [fmt, String(v)], { encoding: 'utf8' });
      expect(cfmt(fmt, v), `${fmt} ${v}`).to.equal(r.stdout);
    }
  });

  it('strerror() words errors as glibc does (perl\'s $! as the oracle)', () => {
    const r = spawnSync('perl', ['-le', 'for (1..140) { $! = $_; print "$!" }'], { encoding: 'utf8' });
    const glibc = r.stdout.split('\n').slice(0, 140);
    expect(glibc).to.have.length(140);
    glibc.forEach((text, i) => expect(strerror(i + 1), `errno ${i + 1}`).to.equal(text));
  });

  it('the JSON writer: ip\'s separators, and with -p four spaces a level and "[ " around arrays', () => {
    const p = new Printer({ json: true, pretty: true });
    p.newJsonObj();
    p.openObject();
    p.number('any', 'ifindex', '%d: ', 1);
    p.string('any', 'ifname', '%s', 'lo "x"\\\t');
    p.openArray('any', 'flags', '<');
    p.string('any', null, '%s,', 'UP');
    p.string('any', null, '%s', 'LOWER_UP');
    p.closeArray('any', '> ');
    p.openArray('json', 'empty');
    p.closeArray('json');
    p.bool('json', 'b', null, true);
    p.null('json', 'n', null);
    p.closeObject();
    p.deleteJsonObj();
    expect(p.take()).to.equal('[ {\n        "ifindex": 1,\n        "ifname": "lo \\"x\\"\\\\\\t",\n        "flags": [ "UP","LOWER_UP" ],\n'
      + '        "empty": [ ],\n        "b": true,\n        "n": null\n    } ]\n');
    const t = new Printer({ json: false });
    t.newJsonObj();
    t.number('any', 'ifindex', '%d: ', 1);
    t.string('json', 'x', null, 'only json');
    t.text('only text\n');
    expect(t.take()).to.equal('1: only text\n');
  });

  it('batch lines split like makeargs(): blanks, quotes, a missing quote', () => {
    expect(batchWords('link  set\tva up\n')).to.deep.equal(['link', 'set', 'va', 'up']);
    expect(batchWords('"link" \'show\' "a b"\n')).to.deep.equal(['link', 'show', 'a b']);
    expect(batchWords('   \n')).to.deep.equal([]);
    expect(batchWords('netns exec "x\n')).to.deep.equal({ error: 'Unterminated quoted string\n' });
  });

  it('addresses and numbers as ip reads them: short and octal IPv4, strtoul\'s bases, netmasks as prefixes', () => {
    const v4 = (t: string) => getAddr1(t, AF.UNSPEC)?.bytes.join('.');
    expect(v4('10.1')).to.equal('10.1.0.0');
    expect(v4('10')).to.equal('10.0.0.0');
    expect(v4('0x0a.1.2.3')).to.equal('10.1.2.3');
    expect(v4('010.1.2.3')).to.equal('8.1.2.3');
    expect(v4('1.2.3.256')).to.equal(undefined);
    expect(v4('1.2.3.4.5')).to.equal(undefined);
    expect(v4('1.2.3.')).to.equal(undefined);
    expect(getAddr1('2001:db8::1', AF.INET)).to.equal(undefined);
    expect(getPrefix1('10.1.2.3/255.255.255.0', AF.UNSPEC)?.bitlen).to.equal(24);
    expect(getPrefix1('10.1.2.3/255.0.255.0', AF.UNSPEC)).to.equal(undefined);
    expect(getPrefix1('default', AF.INET)).to.include({ bitlen: 0, prefixlenSpecified: true });
    expect(getPrefix1('2001:db8::/129', AF.UNSPEC)).to.equal(undefined);
    expect(getUnsigned('0x10')).to.equal(16);
    expect(getUnsigned('010')).to.equal(8);
    expect(getUnsigned('4294967296')).to.equal(undefined);
    expect(getUnsigned('-1')).to.equal(undefined);
    expect(getUnsigned('12x')).to.equal(undefined);
    expect(getInteger('-12')).to.equal(-12);
    expect(getInteger('2147483648')).to.equal(undefined);
    expect([...llAddrA2n('2:0:a:bb:cc:d')]).to.deep.equal([2, 0, 10, 0xbb, 0xcc, 13]);
    expect(() => llAddrA2n('02:zz')).to.throw().with.property('stderr', '"zz" is invalid lladdr.\n');
  });
});
