/**
 * How iproute2 reads words: keywords by prefix (matches()), numbers as strtol/strtoul read them
 * (0x.. hex, 0.. octal), addresses as its own parser reads them ("10.1" is 10.1.0.0), and the
 * messages and exit codes of its argument errors (lib/utils.c). All of it behaviour; the words
 * of the messages are ip's, so that scripts matching them keep working.
 */
import { AF } from '../codec/constants';
import { formatIp } from '../codec/ip';
import { IpExit } from './errors';

/**
 * ip's matches(word, keyword): the word is a prefix of the keyword. An empty word matches
 * everything, a word longer than the keyword nothing ("ip l" is link, "ip a s" addr show).
 */
export function matches(word: string, keyword: string): boolean {
  return keyword.startsWith(word);
}

/** "Command line is not complete. Try option "help"" (exit 255), what NEXT_ARG() says. */
export function incomplete(): never {
  throw new IpExit(255, 'Command line is not complete. Try option "help"\n');
}

/** invarg(): "Error: argument "ARG" is wrong: MSG" (exit 255). MSG often ends in "\n", as ip's do. */
export function invarg(msg: string, arg: string): never {
  throw new IpExit(255, `Error: argument "${arg}" is wrong: ${msg}\n`);
}

/** duparg(): a keyword given twice. */
export function duparg(key: string, arg: string): never {
  throw new IpExit(255, `Error: duplicate "${key}": "${arg}" is the second value.\n`);
}

/** duparg2(): a second positional word where one was allowed. */
export function duparg2(key: string, arg: string): never {
  throw new IpExit(255, `Error: either "${key}" is duplicate, or "${arg}" is a garbage.\n`);
}

/** nodev(): a device that does not exist (the command fails with 1). */
export function nodev(dev: string): never {
  throw new IpExit(1, `Cannot find device "${dev}"\n`);
}

/** A cursor over a command's words, with NEXT_ARG()'s rule: a keyword needs its value. */
export class Words {
  readonly #words: readonly string[];
  #i = 0;

  constructor(words: readonly string[]) {
    this.#words = words;
  }

  get done(): boolean {
    return this.#i >= this.#words.length;
  }

  /** The current word (throws if none: callers check `done`). */
  get cur(): string {
    const w = this.#words[this.#i];
    if (w === undefined) incomplete();
    return w;
  }

  /** The words from the current one on. */
  rest(): string[] {
    return this.#words.slice(this.#i);
  }

  get remaining(): number {
    return this.#words.length - this.#i;
  }

  /** Moves past the current word. */
  skip(): void {
    this.#i++;
  }

  /** NEXT_ARG(): moves to the value of the keyword just read; none left is an incomplete command. */
  next(): string {
    this.#i++;
    if (this.#i >= this.#words.length) incomplete();
    return this.#words[this.#i]!;
  }

  /** The word after the current one, if any (NEXT_ARG_OK()). */
  peek(): string | undefined {
    return this.#words[this.#i + 1];
  }

  back(): void {
    this.#i--;
  }

  /**
   * NEXT_ARG() then the value's parser, as ip reads an option's value: a value the parser
   * refuses is invarg(invalid), and `duplicate` (the option's name, when it was given before)
   * is duparg, checked first as ip does.
   */
  nextAs<T>(parse: (word: string) => T | undefined, invalid: string, duplicate?: string | false): T {
    const v = this.next();
    if (duplicate) duparg(duplicate, v);
    const value = parse(v);
    if (value === undefined) invarg(invalid, v);
    return value;
  }
}

interface Parsed {
  readonly value: bigint;
  readonly negative: boolean;
}

/** strtol/strtoul with base 0 over the whole word (leading blanks, a sign, 0x/0 prefixes); undefined if any junk. */
function cNumber(text: string): Parsed | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!m) return undefined;
  const digits = m[2]!;
  const value = /^0[xX]/.test(digits) ? BigInt(digits) : digits.length > 1 && digits.startsWith('0') ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
  return { value, negative: m[1] === '-' };
}

const ULONG_MAX = (1n << 64n) - 1n;

/** strtoul: a negative number wraps around, as in C. */
function cUnsigned(text: string): bigint | undefined {
  const p = cNumber(text);
  if (!p) return undefined;
  if (p.value > ULONG_MAX) return ULONG_MAX;
  return p.negative && p.value !== 0n ? ULONG_MAX + 1n - p.value : p.value;
}

/** get_unsigned()/get_u32()/get_u16()/get_u8(): an unsigned number at most `max`. */
export function getUnsigned(text: string, max = 0xffffffff): number | undefined {
  const v = cUnsigned(text);
  return v === undefined || v >= ULONG_MAX || v > BigInt(max) ? undefined : Number(v);
}

/** get_integer()/get_s32(): a signed number that fits an int. */
export function getInteger(text: string): number | undefined {
  const p = cNumber(text);
  if (!p) return undefined;
  const v = p.negative ? -p.value : p.value;
  return v < -2147483648n || v > 2147483647n ? undefined : Number(v);
}

/** atoi(): the leading decimal number, 0 if none (ip uses it for "index" and "-loops"). */
export function atoi(text: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?[0-9]+)/.exec(text);
  return m ? Number(m[1]) | 0 : 0;
}

/** An address as ip's inet_prefix holds it. */
export interface InetPrefix {
  readonly family: number;
  readonly bytes: Buffer;
  /** Prefix length; -1 while unknown (an address), -2 for "default"/"any" before get_prefix. */
  readonly bitlen: number;
  /** A "/N" was written (or "default"). */
  readonly prefixlenSpecified: boolean;
  /** "any"/"all" with no family: nothing to send as the address. */
  readonly any: boolean;
}

/** get_addr_ipv4(): up to four parts, each strtoul base 0 at most 255; "10.1" is 10.1.0.0. */
function parseIpv4Loose(text: string): Buffer | undefined {
  const out = Buffer.alloc(4);
  let rest = text;
  for (let i = 0; i < 4; i++) {
    const m = /^[ \t\n\v\f\r]*[+-]?(0[xX][0-9a-fA-F]*|[0-9]+)/.exec(rest);
    if (!m) return undefined;
    const digits = m[0].trim().replace(/^\+/, '');
    if (digits.startsWith('-')) return undefined;
    let n: bigint;
    if (/^0[xX]$/.test(digits)) n = 0n;
    else if (/^0[xX]/.test(digits)) n = BigInt(digits);
    else if (digits.length > 1 && digits.startsWith('0')) {
      const oct = /^0[0-7]*/.exec(digits)![0];
      if (oct.length !== digits.length) {
        // strtoul stops at the first non-octal digit; what follows must be '.' or the end.
        return undefined;
      }
      n = BigInt(`0o${oct.slice(1) || '0'}`);
    } else n = BigInt(digits);
    if (n > 255n) return undefined;
    out[i] = Number(n);
    rest = rest.slice(m[0].length);
    if (rest === '') return out;
    if (i === 3 || rest[0] !== '.') return undefined;
    rest = rest.slice(1);
  }
  return out;
}

/** inet_pton(AF_INET6). */
function parseIpv6(text: string): Buffer | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const words: number[] = [];
  const toWords = (part: string, allowV4: boolean): number[] | undefined => {
    if (part === '') return [];
    const groups = part.split(':');
    const ws: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (allowV4 && i === groups.length - 1 && g.includes('.')) {
        if (!/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(g)) return undefined;
        const parts = g.split('.').map(Number);
        if (parts.some((p, j) => p > 255 || (g.split('.')[j]!.length > 1 && g.split('.')[j]!.startsWith('0')))) return undefined;
        ws.push((parts[0]! << 8) | parts[1]!, (parts[2]! << 8) | parts[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) ws.push(parseInt(g, 16));
      else return undefined;
    }
    return ws;
  };
  const head = toWords(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? toWords(halves[1]!, true) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 1 && head.length !== 8) return undefined;
  if (halves.length === 2 && head.length + tail.length > 7) return undefined;
  words.push(...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail);
  const buf = Buffer.alloc(16);
  words.forEach((w, i) => buf.writeUInt16BE(w, i * 2));
  return buf;
}

/** __get_addr_1(): "default", "any"/"all", an IPv6 address (it has ':'), or ip's IPv4. */
export function getAddr1(text: string, family: number): InetPrefix | undefined {
  if (text === 'default') {
    return { family, bytes: Buffer.alloc(family === AF.INET6 ? 16 : family === AF.INET ? 4 : 0), bitlen: -2, prefixlenSpecified: true, any: false };
  }
  if (text === 'all' || text === 'any') return { family, bytes: Buffer.alloc(0), bitlen: -2, prefixlenSpecified: false, any: true };
  if (text.includes(':')) {
    if (family !== AF.UNSPEC && family !== AF.INET6) return undefined;
    const bytes = parseIpv6(text);
    return bytes ? { family: AF.INET6, bytes, bitlen: -1, prefixlenSpecified: false, any: false } : undefined;
  }
  if (family !== AF.UNSPEC && family !== AF.INET) return undefined;
  const bytes = parseIpv4Loose(text);
  return bytes ? { family: AF.INET, bytes, bitlen: -1, prefixlenSpecified: false, any: false } : undefined;
}

/** get_netmask(): a prefix length, or a dotted netmask of contiguous bits. */
function getNetmask(text: string): number | undefined {
  const n = getUnsigned(text);
  if (n !== undefined) return n;
  const a = getAddr1(text, AF.INET);
  if (!a || a.family !== AF.INET) return undefined;
  const mask = a.bytes.readUInt32BE(0);
  const host = (~mask) >>> 0;
  if ((host & (host + 1)) !== 0) return undefined;
  let bits = 0;
  for (let m = mask; m; m = (m << 1) >>> 0) bits++;
  return bits;
}

/** get_prefix_1(): ADDR[/LEN] with LEN defaulting to the full length (0 for "default"). */
export function getPrefix1(text: string, family: number): InetPrefix | undefined {
  const slash = text.indexOf('/');
  const addr = getAddr1(slash < 0 ? text : text.slice(0, slash), family);
  if (!addr) return undefined;
  const full = addr.family === AF.INET6 ? 128 : addr.family === AF.INET ? 32 : 0;
  if (slash >= 0) {
    if (addr.bitlen === -2) return undefined;
    const plen = getNetmask(text.slice(slash + 1));
    if (plen === undefined || plen > full) return undefined;
    return { ...addr, bitlen: plen, prefixlenSpecified: true };
  }
  return { ...addr, bitlen: addr.bitlen === -2 ? 0 : full };
}

function familyVerbose(family: number): string {
  return family === AF.UNSPEC ? 'any valid' : familyName(family);
}

/** family_name(): inet, inet6, link, mpls, bridge, "???". */
export function familyName(family: number): string {
  switch (family) {
    case AF.INET: return 'inet';
    case AF.INET6: return 'inet6';
    case AF.PACKET: return 'link';
    case 28: return 'mpls';
    case AF.BRIDGE: return 'bridge';
    default: return '???';
  }
}

/** read_family(): the words -f and `via` take. */
export function readFamily(name: string): number {
  switch (name) {
    case 'inet': return AF.INET;
    case 'inet6': return AF.INET6;
    case 'link': return AF.PACKET;
    case 'mpls': return 28;
    case 'bridge': return AF.BRIDGE;
    default: return AF.UNSPEC;
  }
}

/** get_addr(): exits 1 with ip's message when the word is not an address of the family. */
export function getAddr(text: string, family: number): InetPrefix {
  const a = getAddr1(text, family);
  if (!a) throw new IpExit(1, `Error: ${familyVerbose(family)} address is expected rather than "${text}".\n`, true);
  return a;
}

/** get_prefix(): exits 1 with ip's message when the word is not a prefix of the family. */
export function getPrefix(text: string, family: number): InetPrefix {
  if (family === AF.PACKET) throw new IpExit(1, `Error: "${text}" may be inet prefix, but it is not allowed in this context.\n`, true);
  const p = getPrefix1(text, family);
  if (!p) throw new IpExit(1, `Error: ${familyVerbose(family)} prefix is expected rather than "${text}".\n`, true);
  return p;
}

/** The text form of a parsed address ("10.1.0.0" for "10.1"). */
export function prefixAddress(p: InetPrefix): string {
  return formatIp(p.bytes);
}

/** ll_addr_a2n(): "aa:bb:..." (each part sscanf %x, at most 255), or a dotted IPv4 address. */
export function llAddrA2n(text: string, max = 32): Buffer {
  if (text.includes('.')) {
    const a = getAddr1(text, AF.INET);
    if (!a) throw new IpExit(1, `"${text}" is invalid lladdr.\n`);
    return Buffer.from(a.bytes);
  }
  const out: number[] = [];
  for (const part of text.split(':').slice(0, max)) {
    const m = /^[ \t\n\v\f\r]*[+]?(?:0[xX])?([0-9a-fA-F]+)/.exec(part);
    const v = m ? parseInt(m[1]!, 16) : NaN;
    if (!m || v > 255) throw new IpExit(1, `"${part}" is invalid lladdr.\n`);
    out.push(v);
  }
  return Buffer.from(out);
}

/** check_altifname(): not empty, no '/' and no blanks. */
export function validAltIfname(name: string): boolean {
  return name !== '' && !/[/\s]/.test(name);
}

/** check_ifname(): what dev_valid_name() takes, as ip checks it: an alternative name of 1-15 bytes. */
export function validIfname(name: string): boolean {
  return Buffer.byteLength(name) < 16 && validAltIfname(name);
}
