/**
 * What a container's C supervisor (detached, or in place ns-run's own process) runs once the program is gone (its on-exit
 * command, with the exit code appended), after its cleanup words removed the cgroup and the
 * subnet lease: the state says exited, a -p forwarder is stopped, the image root and a
 * network's lease go, and with --rm the state too.
 *
 *   node reap-main.js STATE_ROOT NAME ID EXIT_CODE
 *
 * Small on purpose: it loads the state module and, for an image's container, the image store.
 */
import { ImageStore } from 'ns-image';
import { constants } from 'node:os';
import { signalRef, StateStore } from './state';

function main(argv: readonly string[]): number {
  const [root, name, id, code] = argv;
  if (!root || !name || !id || code === undefined) {
    process.stderr.write('usage: reap-main STATE_ROOT NAME ID EXIT_CODE\n');
    return 2;
  }
  const store = new StateStore(root);
  const state = store.read(name);
  // The name was taken over (the container was removed by rm -f first): nothing here is ours.
  if (state.id !== id) return 0;
  // -p: the forwarder may finish what the container sent before it ended (inside.ts drains on SIGTERM).
  if (state.forwarder) signalRef(state.forwarder, constants.signals.SIGTERM);
  store.update({ ...state, status: 'exited', exitCode: Number(code), finishedAt: new Date().toISOString() });
  if (state.image) ImageStore.open({ root: state.image.store }).removeContainerRoot(name);
  if (state.attachment) {
    // Loaded only for a container on a network (netlink, koffi).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { releaseLease } = require('../network') as typeof import('../network');
    releaseLease(state.attachment.network, { container: state.name, address: state.attachment.address });
  }
  if (state.autoRemove) store.release(name, state.runner);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`ns-run: cleanup of a detached container: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
