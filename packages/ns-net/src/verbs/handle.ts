/**
 * RtnlHandle: the verbs bound to one network namespace through one netlink socket.
 */
import * as sys from 'ns-core/sys';
import { Namespace } from 'ns-core/namespace';
import type { Cidr } from '../codec/ip';
import { NetlinkSocket, SocketHandle, type NetlinkSocketOptions } from '../transport/socket';
import {
  addrAdd, addrDelete, addrFlush, addrList, addrReplace, type Address, type AddrFlushFilter, type AddrOptions,
} from './addr';
import {
  linkAdd, linkByIndex, linkByName, linkDelete, linkList, linkSet, linkSetAddress, linkSetDown, linkSetMaster, linkSetMtu,
  linkSetName, linkSetNsFd, linkSetNsPid, linkSetUp, loopbackUp,
  type Link, type LinkChanges, type LinkListFilter, type LinkRef, type LinkSpec,
} from './link';
import { nsidOf } from './nsid';
import { routeAdd, routeDelete, routeGet, routeList, routeReplace, type Route, type RouteQuery, type RouteSpec } from './route';

/**
 * A handle on one network namespace's rtnetlink. Created in a namespace it keeps acting there
 * from wherever it is used; close it when done (it also keeps that namespace alive).
 */
export class RtnlHandle extends SocketHandle {
  private constructor(socket: NetlinkSocket) {
    super(socket);
  }

  /**
   * A handle on the network namespace behind a Namespace handle or an fd (of /proc/PID/ns/net
   * or a /run/netns file). The fd is not taken over: close it yourself.
   */
  static at(netns: Namespace | number, options?: NetlinkSocketOptions): RtnlHandle {
    if (netns instanceof Namespace) return new RtnlHandle(NetlinkSocket.open(netns, options));
    return Namespace.fromFd(sys.dupCloexec(netns), 'net').use((ns) => new RtnlHandle(NetlinkSocket.open(ns, options)));
  }

  /** A handle on the caller's network namespace. */
  static current(options?: NetlinkSocketOptions): RtnlHandle {
    return new RtnlHandle(NetlinkSocket.open(undefined, options));
  }

  /** Equivalent to: `ip link show [master M] [type T]` */
  linkList(filter?: LinkListFilter): Link[] { return linkList(this.socket, filter); }
  /** Equivalent to: `ip link show dev $name` */
  linkByName(name: string, options?: { stats?: boolean }): Link { return linkByName(this.socket, name, options); }
  /** The link with this ifindex. */
  linkByIndex(index: number, options?: { stats?: boolean }): Link { return linkByIndex(this.socket, index, options); }
  /** Equivalent to: `ip link add $name type $kind ...` (see veth(), bridge(), dummy(), macvlan()) */
  linkAdd(spec: LinkSpec): void { linkAdd(this.socket, spec); }
  /** Equivalent to: `ip link delete $link` */
  linkDelete(link: LinkRef): void { linkDelete(this.socket, link); }
  /** Equivalent to: `ip link del $link` (the same as linkDelete) */
  linkDel(link: LinkRef): void { linkDelete(this.socket, link); }
  /** Equivalent to: `ip link set $link [up|down] [master M|nomaster] [netns NS] [name N] [mtu N] [address A]` */
  linkSet(link: LinkRef, changes: LinkChanges): void { linkSet(this.socket, link, changes); }
  /** Equivalent to: `ip link set $link address $lladdr` */
  linkSetAddress(link: LinkRef, address: string): void { linkSetAddress(this.socket, link, address); }
  /** Equivalent to: `ip link set $link up` */
  linkSetUp(link: LinkRef): void { linkSetUp(this.socket, link); }
  /** Equivalent to: `ip link set $link down` */
  linkSetDown(link: LinkRef): void { linkSetDown(this.socket, link); }
  /** Equivalent to: `ip link set $link mtu $mtu` */
  linkSetMtu(link: LinkRef, mtu: number): void { linkSetMtu(this.socket, link, mtu); }
  /** Equivalent to: `ip link set $link name $name` */
  linkSetName(link: LinkRef, name: string): void { linkSetName(this.socket, link, name); }
  /** Equivalent to: `ip link set $link netns $fd` */
  linkSetNsFd(link: LinkRef, netnsFd: number): void { linkSetNsFd(this.socket, link, netnsFd); }
  /** Equivalent to: `ip link set $link netns $pid` */
  linkSetNsPid(link: LinkRef, pid: number): void { linkSetNsPid(this.socket, link, pid); }
  /** Equivalent to: `ip link set $link master $master` (null: `nomaster`) */
  linkSetMaster(link: LinkRef, master: LinkRef | null): void { linkSetMaster(this.socket, link, master); }
  /** Equivalent to: `ip link set lo up` */
  loopbackUp(): void { loopbackUp(this.socket); }

  /** Equivalent to: `ip addr show [dev $link]` */
  addrList(filter?: { link?: number; family?: number }): Address[] { return addrList(this.socket, filter); }
  /** Equivalent to: `ip addr add $cidr dev $link` */
  addrAdd(link: LinkRef, cidr: Cidr | string, options?: AddrOptions): void { addrAdd(this.socket, link, cidr, options); }
  /** Equivalent to: `ip addr replace $cidr dev $link` */
  addrReplace(link: LinkRef, cidr: Cidr | string, options?: AddrOptions): void { addrReplace(this.socket, link, cidr, options); }
  /** Equivalent to: `ip addr del $cidr dev $link [peer P]` */
  addrDelete(link: LinkRef, cidr: Cidr | string, options?: Pick<AddrOptions, 'peer' | 'label' | 'scope'>): void { addrDelete(this.socket, link, cidr, options); }
  /** Equivalent to: `ip addr del $cidr dev $link` (the same as addrDelete) */
  addrDel(link: LinkRef, cidr: Cidr | string): void { addrDelete(this.socket, link, cidr); }
  /** Equivalent to: `ip addr flush [dev $link] [scope S] [label L] [to P]`; returns how many it deleted. */
  addrFlush(filter?: AddrFlushFilter): number { return addrFlush(this.socket, filter); }

  /** Equivalent to: `ip route show` (IPv4, table main, unless filtered otherwise) */
  routeList(filter?: { family?: number; table?: number; oif?: number; protocol?: number }): Route[] { return routeList(this.socket, filter); }
  /** Equivalent to: `ip route add $dst [via $gw] [dev $link]` */
  routeAdd(spec: RouteSpec): void { routeAdd(this.socket, spec); }
  /** Equivalent to: `ip route replace $dst [via $gw] [dev $link]` */
  routeReplace(spec: RouteSpec): void { routeReplace(this.socket, spec); }
  /** Equivalent to: `ip route del $dst [via $gw] [dev $link]` */
  routeDelete(spec: RouteSpec): void { routeDelete(this.socket, spec); }
  /** Equivalent to: `ip route del $dst [via $gw] [dev $link]` (the same as routeDelete) */
  routeDel(spec: RouteSpec): void { routeDelete(this.socket, spec); }
  /** Equivalent to: `ip route get $to [from F] [iif I] [oif O]` */
  routeGet(query: RouteQuery): Route { return routeGet(this.socket, query); }

  /** This namespace's id for another network namespace (the "(id: N)" of `ip netns list`). */
  nsidOf(netns: Namespace | number): number | undefined {
    return nsidOf(this.socket, typeof netns === 'number' ? netns : netns.fd);
  }
}
