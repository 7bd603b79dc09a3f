/**
 * Numbers from the kernel's uapi headers (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h,
 * linux/if_addr.h, linux/veth.h, linux/net_namespace.h, linux/if.h). Only what nstools speaks.
 */

/** linux/netlink.h: message types every netlink family shares. */
export const NLMSG = { NOOP: 1, ERROR: 2, DONE: 3, OVERRUN: 4 } as const;

/** linux/netlink.h: nlmsg_flags. GET requests read ROOT/MATCH, NEW requests read REPLACE/EXCL/CREATE/APPEND. */
export const NLM_F = {
  REQUEST: 0x1, MULTI: 0x2, ACK: 0x4, ECHO: 0x8, DUMP_INTR: 0x10, DUMP_FILTERED: 0x20,
  ROOT: 0x100, MATCH: 0x200, ATOMIC: 0x400, DUMP: 0x300,
  REPLACE: 0x100, EXCL: 0x200, CREATE: 0x400, APPEND: 0x800,
  /** On NLMSG_ERROR: the request was not echoed back in full (NETLINK_CAP_ACK). */
  CAPPED: 0x100,
  /** On NLMSG_ERROR/DONE: extended-ack attributes follow. */
  ACK_TLVS: 0x200,
} as const;

/** linux/rtnetlink.h: the request types used here. */
export const RTM = {
  NEWLINK: 16, DELLINK: 17, GETLINK: 18, SETLINK: 19,
  NEWADDR: 20, DELADDR: 21, GETADDR: 22,
  NEWROUTE: 24, DELROUTE: 25, GETROUTE: 26,
  NEWNSID: 88, DELNSID: 89, GETNSID: 90,
} as const;

export const NETLINK_ROUTE = 0;

/** linux/socket.h address families. */
export const AF = { UNSPEC: 0, INET: 2, BRIDGE: 7, INET6: 10, PACKET: 17 } as const;

/** linux/if_link.h: link attributes. */
export const IFLA = {
  ADDRESS: 1, BROADCAST: 2, IFNAME: 3, MTU: 4, LINK: 5, QDISC: 6, STATS: 7, MASTER: 10,
  TXQLEN: 13, MAP: 14, OPERSTATE: 16, LINKMODE: 17, LINKINFO: 18, NET_NS_PID: 19, IFALIAS: 20,
  STATS64: 23, AF_SPEC: 26, GROUP: 27, NET_NS_FD: 28, EXT_MASK: 29, PROMISCUITY: 30,
  NUM_TX_QUEUES: 31, NUM_RX_QUEUES: 32, CARRIER: 33, CARRIER_CHANGES: 35, LINK_NETNSID: 37,
  PROTO_DOWN: 39, NEW_NETNSID: 45, MIN_MTU: 50, MAX_MTU: 51, ALT_IFNAME: 53, PERM_ADDRESS: 54,
} as const;

/** linux/if_link.h: IFLA_LINKINFO nested attributes. */
export const IFLA_INFO = { KIND: 1, DATA: 2, XSTATS: 3, SLAVE_KIND: 4, SLAVE_DATA: 5 } as const;

/** linux/veth.h: IFLA_INFO_DATA of a veth. The peer is an ifinfomsg followed by link attributes. */
export const VETH_INFO = { PEER: 1 } as const;

/** linux/rtnetlink.h: IFLA_EXT_MASK bits. */
export const RTEXT_FILTER = { VF: 1, SKIP_STATS: 8 } as const;

/** linux/if_addr.h: address attributes. */
export const IFA = {
  ADDRESS: 1, LOCAL: 2, LABEL: 3, BROADCAST: 4, ANYCAST: 5, CACHEINFO: 6, MULTICAST: 7, FLAGS: 8,
  RT_PRIORITY: 9, TARGET_NETNSID: 10, PROTO: 11,
} as const;

/** linux/if_addr.h: address flags (ifa_flags holds the low 8, IFA_FLAGS all 32). */
export const IFA_F = {
  SECONDARY: 0x01, NODAD: 0x02, OPTIMISTIC: 0x04, DADFAILED: 0x08, HOMEADDRESS: 0x10,
  DEPRECATED: 0x20, TENTATIVE: 0x40, PERMANENT: 0x80, MANAGETEMPADDR: 0x100,
  NOPREFIXROUTE: 0x200, MCAUTOJOIN: 0x400, STABLE_PRIVACY: 0x800,
} as const;

/** linux/rtnetlink.h: route attributes. */
export const RTA = {
  DST: 1, SRC: 2, IIF: 3, OIF: 4, GATEWAY: 5, PRIORITY: 6, PREFSRC: 7, METRICS: 8, MULTIPATH: 9,
  FLOW: 11, CACHEINFO: 12, TABLE: 15, MARK: 16, VIA: 18, PREF: 20, EXPIRES: 23, UID: 25, NH_ID: 30,
} as const;

export const RT_SCOPE = { UNIVERSE: 0, SITE: 200, LINK: 253, HOST: 254, NOWHERE: 255 } as const;
export const RT_TABLE = { UNSPEC: 0, DEFAULT: 253, MAIN: 254, LOCAL: 255 } as const;
export const RTPROT = { UNSPEC: 0, REDIRECT: 1, KERNEL: 2, BOOT: 3, STATIC: 4 } as const;
export const RTN = {
  UNSPEC: 0, UNICAST: 1, LOCAL: 2, BROADCAST: 3, ANYCAST: 4, MULTICAST: 5, BLACKHOLE: 6,
  UNREACHABLE: 7, PROHIBIT: 8, THROW: 9, NAT: 10, XRESOLVE: 11,
} as const;

/** linux/net_namespace.h: RTM_*NSID attributes. */
export const NETNSA = { NSID: 1, PID: 2, FD: 3, TARGET_NSID: 4, CURRENT_NSID: 5 } as const;
/** NETNSA_NSID value of a peer namespace that has no id in this one. */
export const NETNSA_NSID_NOT_ASSIGNED = -1;

/** linux/netlink.h: extended-ack attributes of NLMSG_ERROR / NLMSG_DONE. */
export const NLMSGERR_ATTR = { MSG: 1, OFFS: 2, COOKIE: 3, POLICY: 4, MISS_TYPE: 5, MISS_NEST: 6 } as const;

/** linux/if.h: net_device_flags (ifi_flags). */
export const IFF = {
  UP: 0x1, BROADCAST: 0x2, DEBUG: 0x4, LOOPBACK: 0x8, POINTOPOINT: 0x10, NOTRAILERS: 0x20,
  RUNNING: 0x40, NOARP: 0x80, PROMISC: 0x100, ALLMULTI: 0x200, MASTER: 0x400, SLAVE: 0x800,
  MULTICAST: 0x1000, PORTSEL: 0x2000, AUTOMEDIA: 0x4000, DYNAMIC: 0x8000, LOWER_UP: 0x10000,
  DORMANT: 0x20000, ECHO: 0x40000,
} as const;

/** linux/if.h: IF_OPER_* (IFLA_OPERSTATE), RFC 2863 order. */
export const OPERSTATES = ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'] as const;

/** linux/netdevice.h: IFNAMSIZ counts the NUL, so a name has at most 15 bytes. */
export const IFNAMSIZ = 16;

/** linux/netlink.h: the netfilter family (nfnetlink), which nf_tables speaks over. */
export const NETLINK_NETFILTER = 12;
