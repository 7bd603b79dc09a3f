/**
 * A container's network namespace made and wired before its exec stage runs, for a caller
 * that cannot act at a sync point (a runner that becomes the stage in place): the namespace
 * is unshared by Node's main thread for a moment (runInNew; the fd keeps it), the veth's peer
 * is born inside it with the attachment's addresses and routes, `lo` comes up, and the caller
 * joins it with `join: [netns]`. The join must come before the container's user namespace is
 * made (the namespace is owned by the host's user namespace, and setns(2) needs
 * CAP_SYS_ADMIN there), so the plan creates the other kinds by unshare after the joins
 * (ns-core's createInChild), as runc joins configured namespaces before unsharing.
 */
import { Namespace, NsError, runInNew } from 'ns-core';
import { RtnlHandle, vethInto } from 'ns-net';
import type { Attachment } from './index';

export interface PreparedNetns {
  readonly netns: Namespace;
  /** Deletes the pair (if the namespace still holds it) and closes the fd. */
  close(): void;
}

export function prepareNetns(attachment: Pick<Attachment, 'veth'>): PreparedNetns {
  const netns = runInNew(['net'], () => Namespace.open('/proc/thread-self/ns/net', 'net'));
  const removeHostEnd = () => RtnlHandle.current().use((host) => {
    try {
      host.linkDel(attachment.veth.hostIf);
    } catch (e) {
      // Gone with the namespace already, or never made.
      if ((e as NsError).code !== 'ENODEV') throw e;
    }
  });
  try {
    RtnlHandle.at(netns).use((inside) => inside.loopbackUp());
    vethInto(netns, attachment.veth);
  } catch (e) {
    removeHostEnd();
    netns.close();
    throw e;
  }
  return {
    netns,
    close: () => {
      try {
        removeHostEnd();
      } finally {
        netns.close();
      }
    },
  };
}
