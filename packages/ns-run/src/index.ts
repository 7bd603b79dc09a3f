/** ns-run: ns-unshare and ns-enter (util-linux drop-ins) and the ns-run container runner. */
export {};
