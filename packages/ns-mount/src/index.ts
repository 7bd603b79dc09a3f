/** ns-mount: Mount namespaces: propagation, bind/proc/tmpfs/overlay steps, pivot_root, persistence. */
export {};
