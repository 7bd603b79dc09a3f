/**
 * net(): the setup step that gives a spawned program a new network namespace, with `lo` up
 * and optionally a veth link to the caller's namespace.
 */
import { NsError } from 'ns-core/errors';
import type { ParentContext, Step } from 'ns-core/exec/plan';
import { runInNew } from 'ns-core/inside';
import { Namespace } from 'ns-core/namespace';
import { parseCidr, type Cidr } from './codec/ip';
import { RtnlHandle } from './verbs/handle';
import { validateIfname, veth } from './verbs/link';

export interface VethOptions {
  /** Name of the end that stays in the caller's namespace. */
  readonly hostIf: string;
  /** Name of the end inside the new namespace. */
  readonly nsIf: string;
  /** ADDRESS/PREFIXLEN of the host end (`--address`); none when it is a bridge port (`master`). */
  readonly address?: string;
  /** ADDRESS/PREFIXLEN of the namespace end (`--peer-address`). */
  readonly peerAddress: string;
  /**
   * Route everything inside through the host end (true: a default route via `address`), or
   * through this address (a bridge's, when the host end is a port of it).
   */
  readonly gateway?: boolean | string;
  /** More ADDRESS/PREFIXLEN for the namespace end (an IPv6 one beside the IPv4 peerAddress). */
  readonly morePeerAddresses?: readonly string[];
  /** A second default route, of the other family, through this address (a dual-stack bridge's). */
  readonly gateway6?: string;
  /** Make the host end a port of this bridge (`ip link set HOST master BRIDGE`) before it comes up. */
  readonly master?: string;
}

export interface NetOptions {
  /** Bring `lo` up inside (default true). */
  readonly loopback?: boolean;
  readonly veth?: VethOptions;
}

interface Plan {
  readonly loopback: boolean;
  readonly veth?: VethOptions & {
    readonly host: Cidr | undefined; readonly peer: Cidr; readonly more: readonly Cidr[]; readonly gatewayAddress: string | undefined;
    readonly gateway6Address: string | undefined;
  };
}

/** Checks everything that can be checked before a namespace or link exists. @throws NsError EUSAGE. */
function planOf(options: NetOptions): Plan {
  const loopback = options.loopback ?? true;
  const v = options.veth;
  if (!v) return { loopback };
  validateIfname(v.hostIf, '--veth');
  validateIfname(v.nsIf, '--veth');
  if (v.master !== undefined) validateIfname(v.master, '--master');
  const host = v.address !== undefined ? parseCidr(v.address, '--address') : undefined;
  const peer = parseCidr(v.peerAddress, '--peer-address');
  if (host && host.family !== peer.family) throw new NsError({ errno: 0, code: 'EUSAGE', message: `--peer-address: ${v.peerAddress} is not in the family of --address ${v.address}` });
  const gatewayAddress = typeof v.gateway === 'string' ? parseCidr(v.gateway, '--gateway').address : v.gateway ? host?.address : undefined;
  if (v.gateway === true && !host) throw new NsError({ errno: 0, code: 'EUSAGE', message: '--gateway: the host end has no --address to route through' });
  const more = (v.morePeerAddresses ?? []).map((a) => parseCidr(a, '--peer-address'));
  const gateway6Address = v.gateway6 !== undefined ? parseCidr(v.gateway6, '--gateway').address : undefined;
  return { loopback, veth: { ...v, host, peer, more, gatewayAddress, gateway6Address } };
}

/** Names the step in an error raised by fn, keeping its code: "--address: ip addr add ... failed: ...". */
function inStep<T>(step: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof NsError) || e.step !== undefined) throw e;
    throw new NsError({ errno: Math.abs(e.errno), code: e.code, syscall: e.syscall, path: e.path, step,
                        message: `${step}: ${e.message}`, hint: e.hint });
  }
}

/**
 * Setup step: a new network namespace for the program. The child brings `lo` up itself; with
 * `veth`, while the child waits, a pair is created whose peer is born directly inside the
 * child's namespace (IFLA_NET_NS_FD in VETH_INFO_PEER: ~1 ms, where moving a device costs
 * ~16 ms), both ends get their addresses and come up, and the namespace gets a default route
 * through the host end if `gateway` is set. When the program exits, or the spawn fails, the
 * host end is deleted (which deletes the pair).
 * @throws NsError EUSAGE for bad names or addresses, before anything is created.
 */
export function net(options: NetOptions = {}): Step {
  const plan = planOf(options);
  /** Host ends made for each child, so cleanup removes exactly what this step created. */
  const created = new Map<number, HostEnd>();
  const setup = ({ pid }: ParentContext): void => {
    const v = plan.veth;
    if (!v) return;
    // The child waits at the sync point, so its pid cannot be reused; it can still be killed.
    const childNs = inStep('--veth', () => Namespace.ofPid(pid, 'net'));
    childNs.use(() => configureVeth(v, childNs, (made) => created.set(pid, made)));
  };
  const cleanup = (ctx: ParentContext | undefined): void => {
    const made = ctx && created.get(ctx.pid);
    if (!made) return;
    created.delete(ctx.pid);
    RtnlHandle.current().use((host) => removeHostEnd(host, made));
  };
  return {
    name: 'ns-net',
    create: ['net'],
    ...loopbackOps(plan),
    ...(plan.veth ? { parent: [{ action: 'call' as const, step: '--veth', run: setup }] } : {}),
    ...(plan.veth ? { cleanup } : {}),
  };
}

// lo needs no parent: the program's process brings it up once it is inside (SIOCSIFFLAGS),
// which also works where no JavaScript runs (execInPlace) and spares the sync point's round trip.
function loopbackOps(plan: Plan): Pick<Step, 'child'> {
  return plan.loopback ? { child: [{ op: 'link-up', name: 'lo', phase: 'namespaces', step: 'loopback' }] } : {};
}

/**
 * The same as net(), for a process that replaces its caller (execInPlace, the CLI): the network
 * namespace is made now, by this thread (unshare, then back), and the veth configured into it
 * before anything runs; the program's process joins it (`join`) and brings lo up (`step`).
 * Nothing needs removing afterwards: the namespace lives while the program (or `join`) holds
 * it, and its end takes the pair with it, whether the program ends or this process dies first.
 * Close `join` if the program is not started.
 * @throws NsError EUSAGE for bad names or addresses; what netlink says for the rest (nothing is left then).
 */
export function preparedNet(options: NetOptions = {}): { join: Namespace[]; step: Step } {
  const plan = planOf(options);
  if (!plan.veth) return { join: [], step: { name: 'ns-net', create: ['net'], ...loopbackOps(plan) } };
  const v = plan.veth;
  const ns = inStep('--veth', () => runInNew(['net'], () => Namespace.ofPid('self', 'net')));
  let made: HostEnd | undefined;
  try {
    configureVeth(v, ns, (end) => { made = end; });
  } catch (e) {
    // At once: the namespace's end would take the pair too, but later, from a kernel work queue.
    try {
      if (made) RtnlHandle.current().use((host) => removeHostEnd(host, made!));
    } finally {
      ns.close();
    }
    throw e;
  }
  return { join: [ns], step: { name: 'ns-net', ...loopbackOps(plan) } };
}

/**
 * A pair whose peer is born directly inside `inside` (IFLA_NET_NS_FD in VETH_INFO_PEER: ~1 ms,
 * where moving a device costs ~16 ms), both ends addressed and up, and a default route through
 * the host end if asked. `made` learns of the host end as soon as it exists.
 */
function configureVeth(v: NonNullable<Plan['veth']>, childNs: Namespace, made: (end: HostEnd) => void): void {
  inStep('--veth', () => RtnlHandle.at(childNs)).use((inside) => {
    RtnlHandle.current().use((host) => {
      inStep('--veth', () => host.linkAdd(veth({ name: v.hostIf, peer: { name: v.nsIf, netnsFd: childNs.fd } })));
      const end: HostEnd = { name: v.hostIf };
      made(end);
      end.index = inStep('--veth', () => host.linkByName(v.hostIf).index);
      // IPv6 would hold both addresses back for duplicate address detection; a fresh
      // point-to-point pair cannot have duplicates.
      const hostCidr = v.host;
      if (hostCidr) inStep('--address', () => host.addrAdd(v.hostIf, hostCidr, { noDad: true }));
      for (const cidr of [v.peer, ...v.more]) inStep('--peer-address', () => inside.addrAdd(v.nsIf, cidr, { noDad: true }));
      const master = v.master;
      if (master !== undefined) inStep('--master', () => host.linkSetMaster(v.hostIf, master));
      inStep('--veth', () => host.linkSetUp(v.hostIf));
      inStep('--veth', () => inside.linkSetUp(v.nsIf));
      // Only now: the kernel refuses a gateway whose route goes through a link that is down
      // ("Nexthop has invalid gateway").
      const gateway = v.gatewayAddress;
      if (gateway !== undefined) inStep('--gateway', () => inside.routeAdd({ dst: 'default', gateway }));
      const gateway6 = v.gateway6Address;
      if (gateway6 !== undefined) inStep('--gateway', () => inside.routeAdd({ dst: 'default', gateway: gateway6 }));
    });
  });
}

interface HostEnd {
  readonly name: string;
  /** Known once looked up; the index, unlike the name, cannot be taken by a later link at once. */
  index?: number;
}

/**
 * Deletes the host end we made, unless the namespace's teardown already took the pair with it
 * (ENODEV) or the index now names another link.
 */
function removeHostEnd(host: RtnlHandle, made: HostEnd): void {
  try {
    if (made.index === undefined) {
      host.linkDel(made.name);
      return;
    }
    if (host.linkByIndex(made.index).name !== made.name) return;
    host.linkDel(made.index);
  } catch (e) {
    // The child's namespace died with it and removed both ends: nothing left to do.
    if ((e as NsError).code === 'ENODEV') return;
    throw e;
  }
}
