/** The rtnetlink transport: one socket per network namespace, request/ACK and dumps. */
export { NetlinkSocket, extackOf, kernelError, type NetlinkSocketOptions, type Outgoing } from './socket';
