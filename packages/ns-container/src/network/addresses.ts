/** IPv4 addresses and networks as numbers, for leasing them. */
import { usageError } from 'ns-core';
import { parseCidr } from 'ns-net';

export const AF_INET = 2;

/** An IPv4 address or network as a number and its prefix length. @throws NsError EUSAGE naming `option`. */
export function ipv4ToInt(text: string, option: string): { value: number; prefixlen: number } {
  const cidr = parseCidr(text, option);
  if (cidr.family !== AF_INET || cidr.bytes.length !== 4) throw usageError(`${option}: '${text}' is not an IPv4 network`);
  return { value: cidr.bytes.readUInt32BE(0), prefixlen: cidr.prefixlen };
}

export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}
