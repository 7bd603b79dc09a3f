/**
 * Running `ip` (iproute2, the oracle) and `ns-net` side by side: throwaway named namespaces,
 * one run of each command with each tool, and the comparison of stdout, stderr and exit code
 * byte for byte after normalising only what must differ between two runs (timers that tick,
 * counters that count, the names of the two tools' namespaces).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { uniqueName } from './helpers';

export const CLI = join(__dirname, '../../bin/ns-net.js');

export interface Run {
  readonly stdout: string;
  readonly stderr: string;
  readonly status: number | null;
}

export function runIp(args: readonly string[], input?: string): Run {
  const r = spawnSync('ip', args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

export function runNsNet(args: readonly string[], input?: string): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/** Bridge and port timers tick between the two runs: their values are not compared. */
export function maskTimers(s: string): string {
  return s.replace(/((?:hello|tcn|topology_change|gc|hold|message_age|forward_delay)_timer)("?:?\s*)[0-9]+\.[0-9]+/g, '$1$2T');
}

/**
 * Counters of -s (packets IPv6 sends by itself) move between two runs: the numbers of the
 * tables go, and with them the column widths they set; the words and their order stay.
 */
export function maskCounters(s: string): string {
  return s
    .replace(/^ {4,}(?:[0-9]+ +)+$/gm, (m) => m.replace(/[0-9]+/g, 'N').replace(/ +/g, ' '))
    .replace(/^ {4}(?:RX|TX)(?: errors)?:.*$/gm, (m) => m.replace(/ +/g, ' '))
    .replace(/("(?:bytes|packets|errors|dropped|over_errors|multicast|carrier_errors|collisions|length_errors|crc_errors|frame_errors|fifo_errors|missed_errors|aborted_errors|window_errors|heartbeat_errors|carrier_changes|nohandler|compressed|otherhost)":\s*)[0-9]+/g, '$1N');
}

/** A set of named network namespaces made with ip (so that their making is not what is tested). */
export class Namespaces {
  readonly names: string[] = [];

  /** A new name under /run/netns, made by `ip netns add`, DAD off so addresses are never "tentative". */
  add(suffix: string): string {
    const name = uniqueName(suffix);
    const r = runIp(['netns', 'add', name]);
    if (r.status !== 0) throw new Error(`ip netns add ${name}: ${r.stderr}`);
    this.names.push(name);
    for (const key of ['all', 'default']) {
      const s = spawnSync('ip', ['netns', 'exec', name, 'sysctl', '-qw', `net.ipv6.conf.${key}.accept_dad=0`, `net.ipv6.conf.${key}.dad_transmits=0`]);
      if (s.status !== 0) throw new Error(`sysctl in ${name}: ${String(s.stderr)}`);
    }
    return name;
  }

  removeAll(): void {
    for (const n of this.names.splice(0)) if (existsSync(`/run/netns/${n}`)) spawnSync('ip', ['netns', 'delete', n]);
  }
}

/**
 * Waits until links stop changing (carrier and operstate follow `up` a moment later, in the
 * kernel's linkwatch work), so that two tools reading one after the other read the same.
 */
export async function settle(...namespaces: string[]): Promise<void> {
  const state = () => namespaces.map((n) => runIp(['-n', n, '-j', 'link']).stdout.replace(/"(?:bytes|packets)":\d+/g, '')).join('');
  // linkwatch may hold an event back for up to a second (HZ) after the last one: stable for
  // longer than that means settled.
  let last = state();
  let since = Date.now();
  for (const start = Date.now(); Date.now() - start < 8000;) {
    await new Promise((resolve) => setTimeout(resolve, 150));
    const now = state();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since > 1200) return;
  }
}

/** The text of a run, for a readable assertion message. */
export function show(r: Run): string {
  return `status ${r.status}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}
