/** Peer namespace ids (RTM_GETNSID), as `ip netns list` shows them. */
import { AF, NETNSA_NSID_NOT_ASSIGNED, RTM, attrValue } from '../codec';
import type { NetlinkSocket } from '../transport';

/**
 * The id this socket's namespace gives the network namespace behind `netnsFd`, or undefined
 * when it has none. Equivalent to the "(id: N)" of `ip netns list`.
 */
export function nsidOf(nl: NetlinkSocket, netnsFd: number): number | undefined {
  // Like ip, without NLM_F_ACK: the kernel always answers RTM_GETNSID with one RTM_NEWNSID.
  const [reply] = nl.request({ type: RTM.GETNSID, flags: 0, kind: 'nsid', body: { family: AF.UNSPEC, attrs: [{ kind: 'fd', value: netnsFd }] } },
    'ip netns list-id', { ack: false });
  const id = reply?.kind === 'nsid' ? attrValue(reply.body.attrs, 'nsid') : undefined;
  return id === undefined || id === NETNSA_NSID_NOT_ASSIGNED ? undefined : id;
}
