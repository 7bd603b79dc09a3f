/** ns-net: Network namespaces: rtnetlink in TypeScript, veth networking and ip netns parity. */
export {};
