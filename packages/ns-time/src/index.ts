/** ns-time: Time namespaces: monotonic and boottime offsets. */
export {};
