/** ns-user: User namespaces: uid/gid maps, /etc/subuid, newuidmap, setgroups and capabilities. */
export {};
