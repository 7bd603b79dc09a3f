/**
 * Forwarding and the other /proc/sys settings NAT needs, read and written in a given network
 * namespace. /proc/sys/net shows the namespace of the task that opens the file, so each
 * access happens during a brief setns (runInside) with synchronous I/O on the main thread.
 * Every write reports what was there before, so a caller can decide whether to put it back:
 * docker leaves ip_forward on; a test restores it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { NsError, usageError } from 'ns-core/errors';
import { runInside } from 'ns-core/inside';
import type { Namespace } from 'ns-core/namespace';

/** A /proc/sys setting a plan needs outside nf_tables. */
export interface SysctlSetting {
  /** Dotted, as sysctl(8) names it: "net.ipv4.conf.br0.route_localnet". */
  readonly key: string;
  readonly value: string;
}

export interface SysctlChange {
  readonly key: string;
  readonly path: string;
  readonly before: string;
  readonly after: string;
  /** False when the value already was `after` (nothing was written). */
  readonly changed: boolean;
}

/**
 * /proc/sys path of a sysctl(8) key: dots separate components, and a '/' in the dotted form
 * stands for a '.' inside one (an interface "eth0.100" is "net.ipv4.conf.eth0/100.forwarding").
 */
export function sysctlPath(key: string): string {
  const parts = key.split('.').map((p) => p.replaceAll('/', '.'));
  if (parts.some((p) => p === '' || p === '.' || p === '..')) throw usageError(`'${key}' is not a sysctl key`);
  return `/proc/sys/${parts.join('/')}`;
}

/** The sysctl(8) key of an interface's setting: '.' in the name written as '/'. */
export function interfaceKey(family: 'ipv4' | 'ipv6', ifname: string, setting: string): string {
  return `net.${family}.conf.${ifname.replaceAll('.', '/')}.${setting}`;
}

function inNetns<T>(netns: Namespace | undefined, fn: () => T): T {
  return netns ? runInside([netns], fn) : fn();
}

function fsError(e: unknown, key: string, path: string, syscall: string): NsError {
  const err = e as NodeJS.ErrnoException;
  if (typeof err.errno !== 'number') throw e;
  return new NsError({ errno: -err.errno, syscall, path, message: `sysctl ${key}: ${syscall} ${path} failed: ${err.code} (${err.message.replace(/^[A-Z]+: /, '').split(',')[0]})` });
}

/** The value of a sysctl, trailing newline removed. */
export function sysctlRead(key: string, netns?: Namespace): string {
  const path = sysctlPath(key);
  return inNetns(netns, () => {
    try {
      return readFileSync(path, 'utf8').replace(/\n$/, '');
    } catch (e) {
      throw fsError(e, key, path, 'open');
    }
  });
}

/** Sets a sysctl unless it already has the value; reports both values. */
export function sysctlWrite(key: string, value: string, netns?: Namespace): SysctlChange {
  const path = sysctlPath(key);
  return inNetns(netns, () => {
    let before: string;
    try {
      before = readFileSync(path, 'utf8').replace(/\n$/, '');
    } catch (e) {
      throw fsError(e, key, path, 'open');
    }
    if (before === value) return { key, path, before, after: value, changed: false };
    try {
      writeFileSync(path, `${value}\n`);
    } catch (e) {
      throw fsError(e, key, path, 'write');
    }
    return { key, path, before, after: value, changed: true };
  });
}

/** Applies settings in order (a plan's publishSysctls()); stops at the first failure. */
export function sysctlApply(settings: readonly SysctlSetting[], netns?: Namespace): SysctlChange[] {
  return settings.map((s) => sysctlWrite(s.key, s.value, netns));
}

/** Puts back what changes replaced, last change first. */
export function sysctlRestore(changes: readonly SysctlChange[], netns?: Namespace): void {
  for (const c of [...changes].reverse()) if (c.changed) sysctlWrite(c.key, c.before, netns);
}

/**
 * Turns on routing between interfaces as docker does: net.ipv4.ip_forward, and with ipv6
 * net.ipv6.conf.all.forwarding. Writing ip_forward also sets every interface's
 * net.ipv4.conf.<if>.forwarding (devinet_sysctl_forward()); IPv6 forwarding makes interfaces ignore
 * router advertisements unless accept_ra is 2 (ip-sysctl.rst).
 * @returns what was changed; an empty `changed` set means forwarding was already on.
 */
export function forwardingEnable(options: { readonly ipv6?: boolean; readonly netns?: Namespace } = {}): SysctlChange[] {
  const changes = [sysctlWrite('net.ipv4.ip_forward', '1', options.netns)];
  if (options.ipv6) changes.push(sysctlWrite('net.ipv6.conf.all.forwarding', '1', options.netns));
  return changes;
}
