/** The netlink transport: one socket per network namespace, request/ACK, dumps and batches. */
export { NetlinkSocket, SocketHandle, extackOf, kernelError, type NetlinkSocketOptions, type Outgoing } from './socket';
