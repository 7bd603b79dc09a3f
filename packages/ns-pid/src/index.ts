/** ns-pid: PID namespaces: fork semantics, a minimal init, kill-child and signal forwarding. */
export {};
