/**
 * A container's network namespace made and wired before its exec stage runs, for a caller
 * that cannot act at a sync point (a runner that becomes the stage in place): ns-net's
 * preparedNet() unshares it on Node's main thread for a moment (the fd keeps it), the veth's
 * peer is born inside it with the attachment's addresses and routes, and the caller joins it
 * with `join` and adds `step` (lo up from inside). The join must come before the container's
 * user namespace is made (the namespace is owned by the host's user namespace, and setns(2)
 * needs CAP_SYS_ADMIN there), so the plan creates the other kinds by unshare after the joins
 * (ns-core's createInChild), as runc joins configured namespaces before unsharing.
 */
import type { Namespace, Step } from 'ns-core';
import { preparedNet } from 'ns-net';
import type { Attachment } from './index';

export interface PreparedNetns {
  readonly netns: Namespace;
  /** For the spawn's steps: lo up inside. */
  readonly step: Step;
  /** Closes the fd: the namespace, and the pair with it, end once no process holds it. */
  close(): void;
}

export function prepareNetns(attachment: Pick<Attachment, 'veth'>): PreparedNetns {
  const { join, step } = preparedNet({ loopback: true, veth: attachment.veth });
  const netns = join[0]!;
  return { netns, step, close: () => netns.close() };
}
