/**
 * What a container's C supervisor (detached, or in place ns-run's own process for an image root
 * or a network's lease: other in-place ends need no TypeScript) runs once the program is gone (its on-exit
 * command, with the exit code appended), after its cleanup words removed the cgroup and the
 * subnet lease: the state says exited, a -p forwarder is stopped, the image root and a
 * network's lease go, and with --rm the state too. A cgroup directory the cleanup words could
 * not remove is named on stderr and the exit is 125 (in place, the supervisor's `report` word
 * passes both on: ns-run's stderr, and its status when the program's was 0).
 *
 *   node reap-main.js STATE_ROOT NAME ID EXIT_CODE
 *
 * Small on purpose: it loads the state module, and the image store only for an image's container.
 */
import type * as NsImage from 'ns-image';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { signalRef, StateStore } from './state';

/** docker's status for a run that failed itself (ns-core/cli's DOCKER_EXITS.failure, not loaded here). */
const FAILURE = 125;

function main(argv: readonly string[]): number {
  const [root, name, id, code] = argv;
  if (!root || !name || !id || code === undefined) {
    process.stderr.write('usage: reap-main STATE_ROOT NAME ID EXIT_CODE\n');
    return 2;
  }
  const store = new StateStore(root);
  let state;
  try {
    state = store.read(name);
  } catch (e) {
    // Removed already (rm -f): nothing here is ours.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  // The name was taken over (the container was removed by rm -f first): nothing here is ours.
  if (state.id !== id) return 0;
  // -p: the forwarder may finish what the container sent before it ended (inside.ts drains on SIGTERM).
  if (state.forwarder) signalRef(state.forwarder, constants.signals.SIGTERM);
  store.update({ ...state, status: 'exited', exitCode: Number(code), finishedAt: new Date().toISOString() });
  const left = cgroupsLeft(state.reclaim?.cgroups ?? [], Number(code));
  if (state.image) {
    // Loaded only for a container with an image root: every other container's end skips its ~6 ms.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require('ns-image') as typeof NsImage).ImageStore.open({ root: state.image.store }).removeContainerRoot(name);
  }
  if (state.attachment) {
    // Loaded only for a container on a network (netlink, koffi).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { releaseLease } = require('../network') as typeof import('../network');
    releaseLease(state.attachment.network, { container: state.name, address: state.attachment.address });
  }
  if (state.autoRemove) store.release(name, state.runner);
  if (left) {
    process.stderr.write(`ns-run: ${left}\n`);
    return FAILURE;
  }
  return 0;
}

/** What of the container's cgroup directories is still there after the supervisor's rmcgroup words, said as LeftoversError says it. */
function cgroupsLeft(dirs: readonly string[], code: number): string | undefined {
  if (!dirs.some((dir) => existsSync(dir))) return undefined;
  // Loaded only when something is left (ns-cgroup).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { LeftoversError, removeLeftCgroups } = require('./cgroup') as typeof import('./cgroup');
  const left = removeLeftCgroups(dirs);
  return left.length ? new LeftoversError({ code, signal: null }, left).message : undefined;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`ns-run: cleanup of a container: ${(e as Error).message}\n`);
  process.exitCode = FAILURE;
}
