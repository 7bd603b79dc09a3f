/** Peer namespace ids (RTM_GETNSID), as `ip netns list` shows them. */
import { attrValue } from '../codec/attr';
import { AF, NETNSA_NSID_NOT_ASSIGNED, RTM } from '../codec/constants';
import type { NetlinkSocket } from '../transport/socket';

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

/**
 * Equivalent to: `ip netns set NAME NSID|auto`: gives the namespace behind `netnsFd` the id
 * `nsid` in this socket's namespace (-1: the kernel picks one). An id, once given, stays.
 * @throws NsError EEXIST if it already has one or the id is taken.
 */
export function nsidSet(nl: NetlinkSocket, netnsFd: number, nsid: number): void {
  nl.request({ type: RTM.NEWNSID, flags: 0, kind: 'nsid', body: { family: AF.UNSPEC, attrs: [{ kind: 'fd', value: netnsFd }, { kind: 'nsid', value: nsid }] } },
    `ip netns set ${nsid < 0 ? 'auto' : nsid}`);
}

/** One peer namespace id, as `ip netns list-id` shows it. */
export interface NsidEntry {
  readonly nsid: number;
  /** With a target: the target namespace's id for the same peer. */
  readonly currentNsid?: number;
}

/** Equivalent to: `ip netns list-id [target-nsid T]`: every id this namespace (or the target) gives a peer. */
export function nsidList(nl: NetlinkSocket, filter: { targetNsid?: number } = {}): NsidEntry[] {
  const attrs = filter.targetNsid !== undefined ? [{ kind: 'targetNsid' as const, value: filter.targetNsid }] : [];
  return nl.dump({ type: RTM.GETNSID, flags: 0, kind: 'nsid', body: { family: AF.UNSPEC, attrs } }, 'ip netns list-id')
    .flatMap((m): NsidEntry[] => {
      if (m.kind !== 'nsid') return [];
      const nsid = attrValue(m.body.attrs, 'nsid');
      if (nsid === undefined) return [];
      const current = attrValue(m.body.attrs, 'currentNsid');
      return [current === undefined ? { nsid } : { nsid, currentNsid: current }];
    });
}

/**
 * Equivalent to: `ip netns list-id nsid N [target-nsid T]`: that one id, looked up.
 * @throws NsError ENOENT if no peer namespace has that id.
 */
export function nsidGet(nl: NetlinkSocket, nsid: number, filter: { targetNsid?: number } = {}): NsidEntry | undefined {
  const attrs = [{ kind: 'nsid' as const, value: nsid }, ...(filter.targetNsid !== undefined ? [{ kind: 'targetNsid' as const, value: filter.targetNsid }] : [])];
  const [reply] = nl.request({ type: RTM.GETNSID, flags: 0, kind: 'nsid', body: { family: AF.UNSPEC, attrs } }, `ip netns list-id nsid ${nsid}`, { ack: false });
  if (reply?.kind !== 'nsid') return undefined;
  const id = attrValue(reply.body.attrs, 'nsid');
  if (id === undefined || id === NETNSA_NSID_NOT_ASSIGNED) return undefined;
  const current = attrValue(reply.body.attrs, 'currentNsid');
  return current === undefined ? { nsid: id } : { nsid: id, currentNsid: current };
}
