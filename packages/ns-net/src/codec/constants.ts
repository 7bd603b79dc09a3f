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
  NUM_VF: 21, VFINFO_LIST: 22, STATS64: 23, AF_SPEC: 26, GROUP: 27, NET_NS_FD: 28, EXT_MASK: 29,
  PROMISCUITY: 30, NUM_TX_QUEUES: 31, NUM_RX_QUEUES: 32, CARRIER: 33, PHYS_PORT_ID: 34,
  CARRIER_CHANGES: 35, PHYS_SWITCH_ID: 36, LINK_NETNSID: 37, PHYS_PORT_NAME: 38, PROTO_DOWN: 39,
  GSO_MAX_SEGS: 40, GSO_MAX_SIZE: 41, XDP: 43, EVENT: 44, NEW_NETNSID: 45, CARRIER_UP_COUNT: 47,
  CARRIER_DOWN_COUNT: 48, NEW_IFINDEX: 49, MIN_MTU: 50, MAX_MTU: 51, PROP_LIST: 52, ALT_IFNAME: 53,
  PERM_ADDRESS: 54, PROTO_DOWN_REASON: 55, PARENT_DEV_NAME: 56, PARENT_DEV_BUS_NAME: 57,
  GRO_MAX_SIZE: 58, TSO_MAX_SIZE: 59, TSO_MAX_SEGS: 60, ALLMULTI: 61,
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
  FLOW: 11, CACHEINFO: 12, TABLE: 15, MARK: 16, VIA: 18, NEWDST: 19, PREF: 20, ENCAP_TYPE: 21,
  ENCAP: 22, EXPIRES: 23, UID: 25, TTL_PROPAGATE: 26, IP_PROTO: 27, SPORT: 28, DPORT: 29, NH_ID: 30,
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

/** linux/rtnetlink.h: rtm_flags (RTM_F_*) and next-hop flags (RTNH_F_*) of a route. */
export const RTM_F = {
  NOTIFY: 0x100, CLONED: 0x200, EQUALIZE: 0x400, PREFIX: 0x800, LOOKUP_TABLE: 0x1000, FIB_MATCH: 0x2000,
  OFFLOAD: 0x4000, TRAP: 0x8000, OFFLOAD_FAILED: 0x20000000,
} as const;
export const RTNH_F = { DEAD: 1, PERVASIVE: 2, ONLINK: 4, OFFLOAD: 8, LINKDOWN: 16, UNRESOLVED: 32, TRAP: 64 } as const;

/** linux/rtnetlink.h: RTA_METRICS entries. */
export const RTAX = {
  LOCK: 1, MTU: 2, WINDOW: 3, RTT: 4, RTTVAR: 5, SSTHRESH: 6, CWND: 7, ADVMSS: 8, REORDERING: 9,
  HOPLIMIT: 10, INITCWND: 11, FEATURES: 12, RTO_MIN: 13, INITRWND: 14, QUICKACK: 15, CC_ALGO: 16,
  FASTOPEN_NO_COOKIE: 17,
} as const;

/** linux/if_link.h: IFLA_INFO_DATA of a bridge. */
export const IFLA_BR = {
  FORWARD_DELAY: 1, HELLO_TIME: 2, MAX_AGE: 3, AGEING_TIME: 4, STP_STATE: 5, PRIORITY: 6,
  VLAN_FILTERING: 7, VLAN_PROTOCOL: 8, GROUP_FWD_MASK: 9, ROOT_ID: 10, BRIDGE_ID: 11, ROOT_PORT: 12,
  ROOT_PATH_COST: 13, TOPOLOGY_CHANGE: 14, TOPOLOGY_CHANGE_DETECTED: 15, HELLO_TIMER: 16, TCN_TIMER: 17,
  TOPOLOGY_CHANGE_TIMER: 18, GC_TIMER: 19, GROUP_ADDR: 20, FDB_FLUSH: 21, MCAST_ROUTER: 22,
  MCAST_SNOOPING: 23, MCAST_QUERY_USE_IFADDR: 24, MCAST_QUERIER: 25, MCAST_HASH_ELASTICITY: 26,
  MCAST_HASH_MAX: 27, MCAST_LAST_MEMBER_CNT: 28, MCAST_STARTUP_QUERY_CNT: 29, MCAST_LAST_MEMBER_INTVL: 30,
  MCAST_MEMBERSHIP_INTVL: 31, MCAST_QUERIER_INTVL: 32, MCAST_QUERY_INTVL: 33, MCAST_QUERY_RESPONSE_INTVL: 34,
  MCAST_STARTUP_QUERY_INTVL: 35, NF_CALL_IPTABLES: 36, NF_CALL_IP6TABLES: 37, NF_CALL_ARPTABLES: 38,
  VLAN_DEFAULT_PVID: 39, PAD: 40, VLAN_STATS_ENABLED: 41, MCAST_STATS_ENABLED: 42, MCAST_IGMP_VERSION: 43,
  MCAST_MLD_VERSION: 44, VLAN_STATS_PER_PORT: 45, MULTI_BOOLOPT: 46, MCAST_QUERIER_STATE: 47,
} as const;

/** linux/if_link.h: IFLA_INFO_SLAVE_DATA of a bridge port. */
export const IFLA_BRPORT = {
  STATE: 1, PRIORITY: 2, COST: 3, MODE: 4, GUARD: 5, PROTECT: 6, FAST_LEAVE: 7, LEARNING: 8,
  UNICAST_FLOOD: 9, PROXYARP: 10, LEARNING_SYNC: 11, PROXYARP_WIFI: 12, ROOT_ID: 13, BRIDGE_ID: 14,
  DESIGNATED_PORT: 15, DESIGNATED_COST: 16, ID: 17, NO: 18, TOPOLOGY_CHANGE_ACK: 19, CONFIG_PENDING: 20,
  MESSAGE_AGE_TIMER: 21, FORWARD_DELAY_TIMER: 22, HOLD_TIMER: 23, FLUSH: 24, MULTICAST_ROUTER: 25, PAD: 26,
  MCAST_FLOOD: 27, MCAST_TO_UCAST: 28, VLAN_TUNNEL: 29, BCAST_FLOOD: 30, GROUP_FWD_MASK: 31,
  NEIGH_SUPPRESS: 32, ISOLATED: 33, BACKUP_PORT: 34, MRP_RING_OPEN: 35, MRP_IN_OPEN: 36,
  MCAST_EHT_HOSTS_LIMIT: 37, MCAST_EHT_HOSTS_CNT: 38, LOCKED: 39,
} as const;

/** linux/if_link.h: IFLA_INFO_DATA of a macvlan, and its modes. */
export const IFLA_MACVLAN = {
  MODE: 1, FLAGS: 2, MACADDR_MODE: 3, MACADDR: 4, MACADDR_DATA: 5, MACADDR_COUNT: 6, BC_QUEUE_LEN: 7,
  BC_QUEUE_LEN_USED: 8,
} as const;
export const MACVLAN_MODE = { PRIVATE: 1, VEPA: 2, BRIDGE: 4, PASSTHRU: 8, SOURCE: 16 } as const;
export const MACVLAN_FLAG = { NOPROMISC: 1, NODST: 2 } as const;

/** linux/if_link.h: IFLA_AF_SPEC -> AF_INET6 entries. */
export const IFLA_INET6 = { FLAGS: 1, CONF: 2, STATS: 3, MCAST: 4, CACHEINFO: 5, ICMP6STATS: 6, TOKEN: 7, ADDR_GEN_MODE: 8 } as const;
