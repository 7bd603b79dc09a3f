/** Throwaway network namespaces and `ip` as an oracle, for the kernel tests. */
import { execFileSync, spawnSync } from 'node:child_process';
import { Namespace, spawn, type NsChild, type NsError } from 'ns-core';
import { RtnlHandle } from '../src/verbs';

/** An interface or netns name unique to this test run: "nn<pid><suffix>", at most 15 bytes. */
export function uniqueName(suffix: string): string {
  const name = `nn${process.pid}${suffix}`;
  if (name.length > 15) throw new Error(`test name ${name} is longer than 15 bytes`);
  return name;
}

let subnets = 0;
/** A /30 in 10.200.0.0/16 unique to this run and call: [network, host end, namespace end]. */
export function uniqueSubnet(): { host: string; peer: string; prefix: number } {
  const n = ((process.pid * 8) + subnets++) % (256 * 64);
  const third = n >> 6;
  const fourth = (n & 63) * 4;
  return { host: `10.200.${third}.${fourth + 1}`, peer: `10.200.${third}.${fourth + 2}`, prefix: 30 };
}

/** A process parked in a new network namespace, with a handle on it. */
export interface Throwaway {
  readonly child: NsChild;
  readonly ns: Namespace;
  readonly rtnl: RtnlHandle;
  /** Runs `ip ARGS` inside (the oracle). */
  ip(...args: string[]): string;
  /** `ip -j ARGS` inside, parsed. */
  ipJson<T = Record<string, unknown>[]>(...args: string[]): T;
  close(): Promise<void>;
}

export async function throwaway(): Promise<Throwaway> {
  const child = await spawn(['sleep', '600'], { create: ['net'], stdio: 'ignore' });
  const ns = Namespace.ofPid(child.pid, 'net');
  const rtnl = RtnlHandle.at(ns);
  const ip = (...args: string[]) => execFileSync('nsenter', ['-t', String(child.pid), '-n', 'ip', ...args], { encoding: 'utf8' });
  return {
    child, ns, rtnl, ip,
    ipJson: (...args) => JSON.parse(ip('-j', ...args)),
    async close() {
      rtnl.close();
      ns.close();
      child.kill('SIGKILL');
      await child.exited;
    },
  };
}

/** True if the host (our) namespace has a link of that name, asked of `ip`. */
export function hostHasLink(name: string): boolean {
  return spawnSync('ip', ['link', 'show', 'dev', name], { stdio: 'ignore' }).status === 0;
}

/** The NsError fn throws (fails the test if it returns). */
export function caught(fn: () => unknown): NsError {
  try {
    fn();
  } catch (e) {
    return e as NsError;
  }
  throw new Error('expected an error');
}
