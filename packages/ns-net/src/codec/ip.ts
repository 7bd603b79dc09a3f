/**
 * Addresses in text and in bytes: IPv4/IPv6 (inet_pton/inet_ntop rules, so output matches
 * what `ip` prints), prefixes ("10.0.0.1/30"), and link-layer addresses.
 */
import { usageError } from 'ns-core/errors';
import { AF } from './constants';

export interface IpAddress {
  readonly family: typeof AF.INET | typeof AF.INET6;
  readonly bytes: Buffer;
}

export interface Cidr extends IpAddress {
  /** The address as given, normalised ("2001:db8::1"). */
  readonly address: string;
  readonly prefixlen: number;
}

const IPV4_PART = /^(0|[1-9][0-9]{0,2})$/;

/** Dotted quad as inet_pton(AF_INET) accepts it: four decimal parts 0-255, no leading zeros. */
function parseIPv4(text: string): Buffer | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => IPV4_PART.test(p) && Number(p) <= 255)) return undefined;
  return Buffer.from(parts.map(Number));
}

/** inet_pton(AF_INET6): groups of 1-4 hex digits, one '::', an optional dotted quad at the end. */
function parseIPv6(text: string): Buffer | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const words: number[] = [];
  const toWords = (list: string[], last: boolean): boolean => {
    for (let i = 0; i < list.length; i++) {
      const g = list[i]!;
      if (last && i === list.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g);
        if (!v4) return false;
        words.push(v4.readUInt16BE(0), v4.readUInt16BE(2));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
        words.push(parseInt(g, 16));
      } else {
        return false;
      }
    }
    return true;
  };
  if (!toWords(head, halves.length === 1)) return undefined;
  const headWords = words.length;
  if (!toWords(tail, true)) return undefined;
  const tailWords = words.splice(headWords);
  const missing = 8 - headWords - tailWords.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...words, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tailWords];
  const buf = Buffer.alloc(16);
  all.forEach((w, i) => buf.writeUInt16BE(w, i * 2));
  return buf;
}

/** An IPv4 or IPv6 address in text; undefined if it is neither. */
export function parseIp(text: string): IpAddress | undefined {
  if (text.includes(':')) {
    const bytes = parseIPv6(text);
    return bytes ? { family: AF.INET6, bytes } : undefined;
  }
  const bytes = parseIPv4(text);
  return bytes ? { family: AF.INET, bytes } : undefined;
}

/** inet_ntop: dotted quad, or RFC 5952-style IPv6 with glibc's rule for embedded IPv4. */
export function formatIp(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length !== 16) throw new TypeError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
  const words = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2));
  // The longest run of two or more zero words becomes '::' (the first, on a tie).
  let best = { base: -1, len: 0 };
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best.len && j - i >= 2) best = { base: i, len: j - i };
    i = j;
  }
  if (best.base === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff))) {
    // glibc prints IPv4-compatible and IPv4-mapped addresses with a dotted quad.
    return `::${best.len === 5 ? 'ffff:' : ''}${[...bytes.subarray(12)].join('.')}`;
  }
  if (best.base < 0) return words.map((w) => w.toString(16)).join(':');
  const left = words.slice(0, best.base).map((w) => w.toString(16)).join(':');
  const right = words.slice(best.base + best.len).map((w) => w.toString(16)).join(':');
  return `${left}::${right}`;
}

/**
 * "ADDRESS/PREFIXLEN" (the prefix defaults to the full length, as `ip addr add` does).
 * @throws NsError EUSAGE naming `option` when the text is not one.
 */
export function parseCidr(text: string, option: string): Cidr {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIp(addrText);
  if (!ip) throw usageError(`${option}: '${text}' is not an IPv4 or IPv6 address (ADDRESS/PREFIXLEN)`);
  const max = ip.bytes.length * 8;
  let prefixlen = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]*)$/.test(p) || Number(p) > max) {
      throw usageError(`${option}: '${text}' has an invalid prefix length (0-${max})`);
    }
    prefixlen = Number(p);
  }
  return { ...ip, address: formatIp(ip.bytes), prefixlen };
}

/** A plain address (no prefix). @throws NsError EUSAGE naming `option`. */
export function parseAddress(text: string, option: string): IpAddress & { address: string } {
  const ip = parseIp(text);
  if (!ip) throw usageError(`${option}: '${text}' is not an IPv4 or IPv6 address`);
  return { ...ip, address: formatIp(ip.bytes) };
}

/** The network part of an address: host bits cleared. */
export function networkOf(bytes: Buffer, prefixlen: number): Buffer {
  const out = Buffer.from(bytes);
  for (let bit = prefixlen; bit < out.length * 8; bit++) out[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return out;
}

export function formatHwaddr(bytes: Buffer): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export function parseHwaddr(text: string): Buffer {
  if (!/^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2})*$/.test(text)) throw usageError(`'${text}' is not a link-layer address`);
  return Buffer.from(text.split(':').map((h) => parseInt(h, 16)));
}
