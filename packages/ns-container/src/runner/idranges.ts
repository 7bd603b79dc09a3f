/**
 * Leases of per-container id ranges for root's containers (podman's --userns=auto): one file
 * per range in <state dir>/idranges, named by the range's first host id (OUTER+COUNT for one
 * chosen with --userns-range, which is leased too), holding who leased it.
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

/** A held lease's host ids: a slot's file is named OUTER; a range chosen with --userns-range, OUTER+COUNT. */
interface HeldRange {
  readonly outer: number;
  readonly count: number;
  readonly name: string;
}

const LEASE_NAME = /^(\d+)(?:\+(\d+))?$/;

export function idRangesDir(store: StateStore): string {
  return posix.join(store.root, 'idranges');
}

/**
 * Leases the lowest free range, reclaiming any whose owner is gone, skipping those that
 * overlap another user's /etc/subuid or /etc/subgid block.
 * @throws NsError ENOSPC when every slot is held.
 */
export function leaseIdRange(store: StateStore, owner: IdRangeOwner, ctx: UserContext = processContext()): IdRangeLease {
  return underLock(store, (dir, held) => {
    for (let slot = 0; slot < AUTO_RANGE_SLOTS; slot++) {
      const outer = AUTO_RANGE_BASE + slot * AUTO_RANGE_SIZE;
      if (overlapping(held, outer, AUTO_RANGE_SIZE) || othersBlockOverlaps({ inner: 0, outer, count: AUTO_RANGE_SIZE }, ctx)) continue;
      return { outer, file: writeLease(posix.join(dir, String(outer)), owner) };
    }
    throw new NsError({ errno: 28, code: 'ENOSPC', path: dir,
                        message: `every one of the ${AUTO_RANGE_SLOTS} id ranges for containers is in use; give one with --userns-range` });
  });
}

/**
 * Leases a range given with --userns-range, so that no container leased later shares its ids.
 * @throws NsError EBUSY naming the container whose ids it would share.
 */
export function leaseChosenRange(store: StateStore, owner: IdRangeOwner, outer: number, count: number): IdRangeLease {
  return underLock(store, (dir, held) => {
    const other = overlapping(held, outer, count);
    if (other) {
      throw new NsError({ errno: 16, code: 'EBUSY', path: posix.join(dir, String(other.outer)),
                          message: `--userns-range: host ids ${outer}-${outer + count - 1} are container ${other.name}'s ` +
                                   `(${other.outer}-${other.outer + other.count - 1}); choose another range, or leave --userns-range out` });
    }
    return { outer, file: writeLease(posix.join(dir, `${outer}+${count}`), owner) };
  });
}

/** Runs `fn` holding the directory's lock, with the leases that hold (stale ones removed first). */
function underLock<T>(store: StateStore, fn: (dir: string, held: readonly HeldRange[]) => T): T {
  const dir = privateDir(idRangesDir(store));
  const lock = openSync(posix.join(dir, '.lock'), 'a', 0o600);
  try {
    sys.flock(lock, sys.LOCK_EX);
    const held: HeldRange[] = [];
    for (const entry of readdirSync(dir)) {
      const m = LEASE_NAME.exec(entry);
      if (!m) continue;
      const file = posix.join(dir, entry);
      const holder = leaseHolder(store, file);
      if (holder !== undefined) held.push({ outer: Number(m[1]), count: m[2] !== undefined ? Number(m[2]) : AUTO_RANGE_SIZE, name: holder });
      else removeFile(file);
    }
    return fn(dir, held);
  } finally {
    // Closing the lock file's only descriptor releases the flock.
    closeSync(lock);
  }
}

function overlapping(held: readonly HeldRange[], outer: number, count: number): HeldRange | undefined {
  return held.find((h) => h.outer < outer + count && outer < h.outer + h.count);
}

function writeLease(file: string, owner: IdRangeOwner): string {
  const fd = openSync(file, 'wx', 0o600);
  try {
    writeSync(fd, JSON.stringify(owner));
  } catch (e) {
    closeSync(fd);
    removeFile(file);
    throw e;
  }
  closeSync(fd);
  return file;
}

export function releaseIdRange(lease: IdRangeLease): void {
  removeFile(lease.file);
}

/**
 * The container whose ids a lease holds, if its owner may still use them: its runner lives,
 * or its container still runs. Undefined for a lease nobody holds any more.
 */
function leaseHolder(store: StateStore, file: string): string | undefined {
  let owner: IdRangeOwner;
  try {
    owner = JSON.parse(readFileSync(file, 'utf8')) as IdRangeOwner;
  } catch {
    // Empty or torn (its writer died between create and write, with the lock): nobody's.
    return undefined;
  }
  if (isAlive(owner.runner)) return owner.name;
  let state;
  try {
    state = store.read(owner.name);
  } catch (e) {
    // No state file (removed), or one that is not a container's: nothing runs under the name.
    if (['ENOENT', 'EINVAL'].includes((e as NsError).code)) return undefined;
    throw e;
  }
  return state.id === owner.id && ['running', 'created'].includes(liveStatus(state)) ? owner.name : undefined;
}
