/** The rtnetlink transport: one socket per network namespace, request/ACK and dumps. */
export { NetlinkSocket, kernelError, type NetlinkSocketOptions, type Outgoing } from './socket';
