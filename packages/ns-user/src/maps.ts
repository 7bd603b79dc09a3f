/**
 * uid/gid maps: parsing what users type, validating against the kernel's rules before any
 * syscall, punching a single-id mapping into ranges, and reading /proc/PID/{uid,gid}_map.
 */
import { NsError, readText, usageError } from 'ns-core/errors';

export type IdKind = 'uid' | 'gid';

/** One line of a uid_map/gid_map: `count` ids from `outer` (parent namespace) appear as `inner`. */
export interface IdRange {
  readonly inner: number;
  readonly outer: number;
  readonly count: number;
}

/** Where a range came from, for messages: the option and the value as typed. */
export interface SourcedRange extends IdRange {
  readonly option: string;
  readonly text: string;
}

/** (uid_t)-1 is the "no id" value, so the highest id a map may reach is one below it (user_namespaces(7)). */
export const MAX_ID = 0xfffffffe;
/** Lines a uid_map or gid_map may have since Linux 4.15 (user_namespaces(7)). */
export const MAX_MAP_LINES = 340;
/** A map must be written in one write(2) smaller than a page. */
export const MAX_MAP_BYTES = 4095;

function parseId(text: string): number | undefined {
  if (!/^\d{1,10}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 0xffffffff ? n : undefined;
}

/**
 * Parses `inner:outer:count`, or the older `outer,inner,count` util-linux 2.38 used.
 * @throws NsError EUSAGE naming the option and value.
 */
export function parseMapRange(text: string, option = '--map-users'): SourcedRange {
  const colon = text.split(':');
  const comma = text.split(',');
  let range: IdRange | undefined;
  if (colon.length === 3) {
    const [inner, outer, count] = colon.map(parseId);
    if (inner !== undefined && outer !== undefined && count !== undefined) range = { inner, outer, count };
  } else if (comma.length === 3) {
    const [outer, inner, count] = comma.map(parseId);
    if (inner !== undefined && outer !== undefined && count !== undefined) range = { inner, outer, count };
  }
  if (!range) throw usageError(`${option}: '${text}' is not inner:outer:count (or outer,inner,count)`);
  const sourced = { ...range, option, text };
  checkRangeBounds(sourced);
  return sourced;
}

function checkRangeBounds(r: SourcedRange): void {
  if (![r.inner, r.outer, r.count].every((n) => Number.isInteger(n) && n >= 0)) {
    throw usageError(`${r.option}: '${r.text}' has an id that is not a whole number`);
  }
  if (r.count === 0) throw usageError(`${r.option}: '${r.text}' maps no ids (count is 0)`);
  if (r.inner + r.count - 1 > MAX_ID || r.outer + r.count - 1 > MAX_ID) {
    throw usageError(`${r.option}: '${r.text}' reaches past the highest id ${MAX_ID}`);
  }
}

function overlaps(aStart: number, aCount: number, bStart: number, bCount: number): boolean {
  return aStart < bStart + bCount && bStart < aStart + aCount;
}

/**
 * The kernel refuses a map whose lines overlap on either side, or that has too many lines
 * (user_namespaces(7)); we refuse it first so that the message can name what the user typed.
 * @throws NsError EUSAGE
 */
export function validateIdMap(ranges: readonly SourcedRange[]): void {
  ranges.forEach(checkRangeBounds);
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      const a = ranges[i]!;
      const b = ranges[j]!;
      const side = overlaps(a.inner, a.count, b.inner, b.count) ? 'inside' : overlaps(a.outer, a.count, b.outer, b.count) ? 'outside' : '';
      if (!side) continue;
      const other = b.option === a.option ? `'${b.text}'` : `${b.option} '${b.text}'`;
      throw usageError(`${a.option}: '${a.text}' overlaps ${other} (ids ${side} the namespace)`);
    }
  }
  if (ranges.length > MAX_MAP_LINES) {
    throw usageError(`${ranges[0]!.option}: ${ranges.length} ranges, more than the kernel's ${MAX_MAP_LINES}`);
  }
}

/**
 * Adds a single-id mapping to ranges that may contain its inner or outer id, as util-linux
 * does for `--map-root-user --map-auto`: a range that holds either id gives it up, and its
 * remaining ids pair up in order, so the range shrinks by one at the top and splits where
 * the skipped ids were. The single mapping comes first.
 */
export function withSingleMapping(ranges: readonly SourcedRange[], single: SourcedRange): SourcedRange[] {
  const out: SourcedRange[] = [single];
  for (const r of ranges) {
    const innerHit = single.inner >= r.inner && single.inner < r.inner + r.count;
    const outerHit = single.outer >= r.outer && single.outer < r.outer + r.count;
    if (!innerHit && !outerHit) {
      out.push(r);
      continue;
    }
    const kept = r.count - 1;
    // Index (within the kept ids) from which each side has stepped over the single id.
    const innerSkip = innerHit ? single.inner - r.inner : kept;
    const outerSkip = outerHit ? single.outer - r.outer : kept;
    const cuts = [...new Set([0, innerSkip, outerSkip, kept])].filter((c) => c <= kept).sort((a, b) => a - b);
    for (let i = 0; i + 1 < cuts.length; i++) {
      const start = cuts[i]!;
      const count = cuts[i + 1]! - start;
      if (count === 0) continue;
      out.push({
        inner: r.inner + start + (start >= innerSkip ? 1 : 0),
        outer: r.outer + start + (start >= outerSkip ? 1 : 0),
        count, option: r.option, text: r.text,
      });
    }
  }
  return out;
}

/** The text the kernel takes in /proc/PID/uid_map: one `inner outer count` line per range. */
export function formatIdMap(ranges: readonly IdRange[]): string {
  return ranges.map((r) => `${r.inner} ${r.outer} ${r.count}\n`).join('');
}

/** newuidmap/newgidmap's arguments after the pid: inner outer count, repeated. */
export function idMapHelperArgs(ranges: readonly IdRange[]): string[] {
  return ranges.flatMap((r) => [String(r.inner), String(r.outer), String(r.count)]);
}

/** Parses the kernel's own rendering of a map (columns padded with spaces). */
export function parseIdMap(text: string): IdRange[] {
  return text.split('\n').filter((l) => l.trim() !== '').map((line) => {
    const [inner, outer, count] = line.trim().split(/\s+/).map(Number);
    if (!Number.isInteger(inner) || !Number.isInteger(outer) || !Number.isInteger(count)) {
      throw new NsError({ errno: 22, code: 'EINVAL', message: `unexpected id map line '${line}'` });
    }
    return { inner: inner!, outer: outer!, count: count! };
  });
}

/**
 * A process's uid or gid map as the caller sees it (/proc/PID/uid_map). An empty list means
 * the user namespace has no map yet; the initial namespace shows `0 0 4294967295`.
 */
export function readIdMap(pid: number | 'self', kind: IdKind): IdRange[] {
  return parseIdMap(readText(`/proc/${pid}/${kind}_map`));
}
