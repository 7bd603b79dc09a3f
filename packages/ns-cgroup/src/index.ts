/** ns-cgroup: Cgroup namespaces and cgroup v2/v1 limits. */
export {};
