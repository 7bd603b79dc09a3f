/**
 * Leases of per-container id ranges for root's containers (podman's --userns=auto): one file
 * per range in <state dir>/idranges, named by the range's first host id, holding who leased it.
 * Leasing happens under an exclusive flock of the directory's lock file, so that a lease left
 * by a dead owner is reclaimed by exactly one runner and no two runners take the same slot.
 *
 * A lease holds while its runner lives (foreground, in place: the runner is the supervisor)
 * or while the container its file names still runs (detached: the supervisor and the
 * container outlive the runner). Its end removes it (the runner's undo, the janitor after a
 * SIGKILL, a detached or in-place supervisor's cleanup words); one whose owner died without
 * removing it is reclaimed by the next lease.
 */
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { posix } from 'node:path';
import { NsError, sys } from 'ns-core';
import { processContext, type UserContext } from 'ns-user';
import { AUTO_RANGE_BASE, AUTO_RANGE_SIZE, AUTO_RANGE_SLOTS, othersBlockOverlaps } from './identity';
import { liveStatus } from './lifecycle';
import { isAlive, privateDir, removeFile, type ProcessRef, type StateStore } from './state';

/** Who holds a range: the container (name and id, as its state file has them) and its runner. */
export interface IdRangeOwner {
  readonly name: string;
  readonly id: string;
  readonly runner: ProcessRef;
}

export interface IdRangeLease {
  /** The range's first host id (container root). */
  readonly outer: number;
  readonly file: string;
}

export function idRangesDir(store: StateStore): string {
  return posix.join(store.root, 'idranges');
}

/**
 * Leases the lowest free range, reclaiming any whose owner is gone, skipping those that
 * overlap another user's /etc/subuid or /etc/subgid block.
 * @throws NsError ENOSPC when every slot is held.
 */
export function leaseIdRange(store: StateStore, owner: IdRangeOwner, ctx: UserContext = processContext()): IdRangeLease {
  const dir = privateDir(idRangesDir(store));
  const lock = openSync(posix.join(dir, '.lock'), 'a', 0o600);
  try {
    sys.flock(lock, sys.LOCK_EX);
    const held = new Set<number>();
    for (const entry of readdirSync(dir)) {
      if (!/^\d+$/.test(entry)) continue;
      const file = posix.join(dir, entry);
      if (leaseHolds(store, file)) held.add(Number(entry));
      else removeFile(file);
    }
    for (let slot = 0; slot < AUTO_RANGE_SLOTS; slot++) {
      const outer = AUTO_RANGE_BASE + slot * AUTO_RANGE_SIZE;
      if (held.has(outer) || othersBlockOverlaps({ inner: 0, outer, count: AUTO_RANGE_SIZE }, ctx)) continue;
      const file = posix.join(dir, String(outer));
      const fd = openSync(file, 'wx', 0o600);
      try {
        writeSync(fd, JSON.stringify(owner));
      } catch (e) {
        closeSync(fd);
        removeFile(file);
        throw e;
      }
      closeSync(fd);
      return { outer, file };
    }
  } finally {
    // Closing the lock file's only descriptor releases the flock.
    closeSync(lock);
  }
  throw new NsError({ errno: 28, code: 'ENOSPC', path: dir,
                      message: `every one of the ${AUTO_RANGE_SLOTS} id ranges for containers is in use; give one with --userns-range` });
}

export function releaseIdRange(lease: IdRangeLease): void {
  removeFile(lease.file);
}

/** Whether a lease's owner may still use its ids: its runner lives, or its container still runs. */
function leaseHolds(store: StateStore, file: string): boolean {
  let owner: IdRangeOwner;
  try {
    owner = JSON.parse(readFileSync(file, 'utf8')) as IdRangeOwner;
  } catch {
    // Empty or torn (its writer died between create and write, with the lock): nobody's.
    return false;
  }
  if (isAlive(owner.runner)) return true;
  let state;
  try {
    state = store.read(owner.name);
  } catch (e) {
    // No state file (removed), or one that is not a container's: nothing runs under the name.
    if (['ENOENT', 'EINVAL'].includes((e as NsError).code)) return false;
    throw e;
  }
  return state.id === owner.id && ['running', 'created'].includes(liveStatus(state));
}
