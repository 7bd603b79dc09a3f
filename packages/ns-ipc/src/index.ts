/** ns-ipc: IPC namespaces: System V objects and POSIX message queues. */
export {};
