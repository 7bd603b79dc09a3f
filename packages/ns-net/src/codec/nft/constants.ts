/**
 * Numbers from the kernel's uapi headers for nf_tables over nfnetlink: linux/netfilter.h,
 * linux/netfilter/nfnetlink.h, linux/netfilter/nf_tables.h, linux/netfilter/nf_nat.h,
 * linux/netfilter/nf_conntrack_common.h. Only what nstools speaks; checked against the headers
 * of the machine by test/nft-codec.test.ts, which compiles a C program that prints them.
 */

/** linux/netfilter/nfnetlink.h: the subsystem id in the high byte of nlmsg_type. */
export const NFNL_SUBSYS_NFTABLES = 10;

/** linux/netfilter/nfnetlink.h: the batch delimiters (NLMSG_MIN_TYPE and the next one). */
export const NFNL_MSG = { BATCH_BEGIN: 16, BATCH_END: 17 } as const;

/** linux/netfilter/nfnetlink.h: attributes of NFNL_MSG_BATCH_BEGIN. */
export const NFNL_BATCH = { GENID: 1 } as const;

/** linux/netfilter/nfnetlink.h: nfgenmsg.version. */
export const NFNETLINK_V0 = 0;

/** linux/netfilter/nf_tables.h: enum nf_tables_msg_types (the low byte of nlmsg_type). */
export const NFT_MSG = {
  NEWTABLE: 0, GETTABLE: 1, DELTABLE: 2,
  NEWCHAIN: 3, GETCHAIN: 4, DELCHAIN: 5,
  NEWRULE: 6, GETRULE: 7, DELRULE: 8,
  NEWGEN: 15, GETGEN: 16,
} as const;

/** linux/netfilter.h: NFPROTO_* (nfgenmsg.nfgen_family, a table's family). */
export const NFPROTO = { UNSPEC: 0, INET: 1, IPV4: 2, ARP: 3, NETDEV: 5, BRIDGE: 7, IPV6: 10 } as const;

/** linux/netfilter.h: enum nf_inet_hooks. */
export const NF_INET = { PRE_ROUTING: 0, LOCAL_IN: 1, FORWARD: 2, LOCAL_OUT: 3, POST_ROUTING: 4 } as const;

/** linux/netfilter.h: the verdicts a chain policy takes; nf_tables.h: the ones only rules give. */
export const NF_VERDICT = { DROP: 0, ACCEPT: 1, CONTINUE: -1, BREAK: -2, JUMP: -3, GOTO: -4, RETURN: -5 } as const;

export const NFTA_TABLE = { NAME: 1, FLAGS: 2, USE: 3, HANDLE: 4, PAD: 5, USERDATA: 6, OWNER: 7 } as const;
/** enum nft_table_flags. */
export const NFT_TABLE_F = { DORMANT: 1, OWNER: 2 } as const;

export const NFTA_CHAIN = {
  TABLE: 1, HANDLE: 2, NAME: 3, HOOK: 4, POLICY: 5, USE: 6, TYPE: 7, COUNTERS: 8, PAD: 9, FLAGS: 10,
  ID: 11, USERDATA: 12,
} as const;
/** enum nft_chain_flags. */
export const NFT_CHAIN_F = { BASE: 1, HW_OFFLOAD: 2, BINDING: 4 } as const;
export const NFTA_HOOK = { HOOKNUM: 1, PRIORITY: 2, DEV: 3, DEVS: 4 } as const;

export const NFTA_RULE = {
  TABLE: 1, CHAIN: 2, HANDLE: 3, EXPRESSIONS: 4, COMPAT: 5, POSITION: 6, USERDATA: 7, PAD: 8, ID: 9,
  POSITION_ID: 10, CHAIN_ID: 11,
} as const;

export const NFTA_GEN = { ID: 1, PROC_PID: 2, PROC_NAME: 3 } as const;

export const NFTA_LIST = { ELEM: 1 } as const;
export const NFTA_EXPR = { NAME: 1, DATA: 2 } as const;
export const NFTA_DATA = { VALUE: 1, VERDICT: 2 } as const;
export const NFTA_VERDICT = { CODE: 1, CHAIN: 2, CHAIN_ID: 3 } as const;

/** enum nft_registers: the verdict register and the four 16-byte data registers nft uses. */
export const NFT_REG = { VERDICT: 0, R1: 1, R2: 2, R3: 3, R4: 4 } as const;

export const NFTA_META = { DREG: 1, KEY: 2, SREG: 3 } as const;
/** enum nft_meta_keys, by the names nft(8) gives them. */
export const NFT_META_KEYS = [
  'len', 'protocol', 'priority', 'mark', 'iif', 'oif', 'iifname', 'oifname', 'iiftype', 'oiftype',
  'skuid', 'skgid', 'nftrace', 'rtclassid', 'secmark', 'nfproto', 'l4proto', 'ibrname', 'obrname',
  'pkttype', 'cpu', 'iifgroup', 'oifgroup', 'cgroup', 'random', 'secpath', 'iifkind', 'oifkind',
] as const;

export const NFTA_CMP = { SREG: 1, OP: 2, DATA: 3 } as const;
/** enum nft_cmp_ops. */
export const NFT_CMP_OPS = ['eq', 'neq', 'lt', 'lte', 'gt', 'gte'] as const;

export const NFTA_PAYLOAD = { DREG: 1, BASE: 2, OFFSET: 3, LEN: 4, SREG: 5, CSUM_TYPE: 6, CSUM_OFFSET: 7, CSUM_FLAGS: 8 } as const;
/** enum nft_payload_bases. */
export const NFT_PAYLOAD_BASES = ['ll', 'network', 'transport', 'inner'] as const;

export const NFTA_BITWISE = { SREG: 1, DREG: 2, LEN: 3, MASK: 4, XOR: 5, OP: 6, DATA: 7 } as const;

export const NFTA_IMMEDIATE = { DREG: 1, DATA: 2 } as const;

export const NFTA_NAT = { TYPE: 1, FAMILY: 2, REG_ADDR_MIN: 3, REG_ADDR_MAX: 4, REG_PROTO_MIN: 5, REG_PROTO_MAX: 6, FLAGS: 7 } as const;
/** enum nft_nat_types. */
export const NFT_NAT_TYPES = ['snat', 'dnat'] as const;
/** linux/netfilter/nf_nat.h: NF_NAT_RANGE_* flags. */
export const NF_NAT_RANGE = { MAP_IPS: 1, PROTO_SPECIFIED: 2, PROTO_RANDOM: 4, PERSISTENT: 8, PROTO_RANDOM_FULLY: 16 } as const;

export const NFTA_MASQ = { FLAGS: 1, REG_PROTO_MIN: 2, REG_PROTO_MAX: 3 } as const;

export const NFTA_COUNTER = { BYTES: 1, PACKETS: 2, PAD: 3 } as const;

export const NFTA_CT = { DREG: 1, KEY: 2, DIRECTION: 3, SREG: 4 } as const;
/** enum nft_ct_keys, the first ones, by nft(8)'s names. */
export const NFT_CT_KEYS = ['state', 'direction', 'status', 'mark', 'secmark', 'expiration', 'helper', 'l3protocol', 'src', 'dst', 'protocol', 'proto-src', 'proto-dst'] as const;
/** linux/netfilter/nf_conntrack_common.h: NF_CT_STATE_BIT(IP_CT_*) and the two special bits. */
export const CT_STATE = { invalid: 1, established: 2, related: 4, new: 8, untracked: 64 } as const;
/** linux/netfilter/nf_conntrack_common.h: enum ip_conntrack_status bits `ct status` names. */
export const CT_STATUS = { expected: 1, seen_reply: 2, assured: 4, confirmed: 8, snat: 16, dnat: 32, dying: 512 } as const;

export const NFTA_FIB = { DREG: 1, RESULT: 2, FLAGS: 3 } as const;
/** enum nft_fib_result. */
export const NFT_FIB_RESULTS = ['unspec', 'oif', 'oifname', 'type'] as const;
/** enum nft_fib_flags. */
export const NFTA_FIB_F = { SADDR: 1, DADDR: 2, MARK: 4, IIF: 8, OIF: 16, PRESENT: 32 } as const;

/** libnftnl's udata types of a rule's NFTA_RULE_USERDATA (what `comment "..."` writes). */
export const NFTNL_UDATA_RULE = { COMMENT: 0 } as const;
