/**
 * Ids named by users (numbers or account names, resolved with ns-core's passwd/group reader)
 * and subordinate id blocks from /etc/subuid and /etc/subgid (subuid(5)).
 */
import { GROUP_FILE, parseGroup, parsePasswd, PASSWD_FILE } from 'ns-core/accounts';
import { NsError, readText, usageError } from 'ns-core/errors';
import { parseDecimal } from 'ns-core/numbers';
import type { IdKind } from './maps';

export const SUBUID_FILE = '/etc/subuid';
export const SUBGID_FILE = '/etc/subgid';

export type ReadText = (path: string) => string;

/** A file's text as an NsError naming the path when it cannot be read. */
export const readTextFile: ReadText = (path) => readText(path);

/**
 * A uid or gid given as a number or a name, as util-linux's --map-user/--map-group take it.
 * @throws NsError EUSAGE naming the option when the name is unknown.
 */
export function resolveId(kind: IdKind, value: string | number, option: string, read: ReadText = readTextFile): number {
  const text = String(value);
  const number = parseDecimal(text);
  if (number !== undefined) {
    if (number > 0xfffffffe) throw usageError(`${option}: '${text}' is not a valid ${kind}`);
    return number;
  }
  const file = kind === 'uid' ? PASSWD_FILE : GROUP_FILE;
  const id = kind === 'uid' ? parsePasswd(read(file)).find((a) => a.name === text)?.uid : parseGroup(read(file)).find((g) => g.name === text)?.gid;
  if (id === undefined) throw usageError(`${option}: unknown ${kind === 'uid' ? 'user' : 'group'} '${text}' (not in ${file})`);
  return id;
}

/** The name of a uid in /etc/passwd, if it has one. */
export function userName(uid: number, read: ReadText = readTextFile): string | undefined {
  return parsePasswd(read(PASSWD_FILE)).find((a) => a.uid === uid)?.name;
}

/** One `owner:start:count` line of /etc/subuid or /etc/subgid (subuid(5)). */
export interface SubordinateRange {
  readonly owner: string;
  readonly start: number;
  readonly count: number;
  /** 1-based line number, for messages. */
  readonly line: number;
}

export interface SubordinateFileProblem {
  readonly line: number;
  readonly text: string;
  readonly reason: string;
}

export interface SubordinateFile {
  readonly ranges: SubordinateRange[];
  /** Lines that are not `owner:start:count`; the caller decides whether they matter. */
  readonly problems: SubordinateFileProblem[];
}

/** Parses /etc/subuid-style text without throwing: malformed lines are returned as problems. */
export function parseSubordinateIds(text: string): SubordinateFile {
  const ranges: SubordinateRange[] = [];
  const problems: SubordinateFileProblem[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(':');
    const [owner, start, count] = fields;
    let reason: string | undefined;
    if (fields.length !== 3) reason = `expected owner:start:count, found ${fields.length} field(s)`;
    else if (!owner) reason = 'empty owner';
    else if (!/^\d+$/.test(start!) || !/^\d+$/.test(count!)) reason = 'start and count must be numbers';
    else if (Number(count) === 0 || Number(start) + Number(count) - 1 > 0xfffffffe) reason = 'range is empty or past the highest id';
    if (reason) problems.push({ line: i + 1, text: raw, reason });
    else ranges.push({ owner: owner!, start: Number(start), count: Number(count), line: i + 1 });
  });
  return { ranges, problems };
}

/**
 * The subordinate id blocks a user has in /etc/subuid-style text, matched by name or by
 * numeric uid as newuidmap(1) matches them, in file order.
 * @throws NsError EINVAL naming file and line when a malformed line may belong to the user
 * (its owner field is the user, or cannot be read), so a typo never silently maps nothing.
 */
export function subordinateIdsOf(text: string, user: { uid: number; name?: string | undefined }, file: string): SubordinateRange[] {
  const parsed = parseSubordinateIds(text);
  const mine = (owner: string) => owner === user.name || (/^\d+$/.test(owner) && Number(owner) === user.uid);
  const bad = parsed.problems.find((p) => {
    const owner = p.text.trim().split(':')[0] ?? '';
    return owner === '' || mine(owner);
  });
  if (bad) {
    throw new NsError({ errno: 22, code: 'EINVAL', path: file,
                        message: `${file}:${bad.line}: ${bad.reason}: '${bad.text.trim()}'` });
  }
  return parsed.ranges.filter((r) => mine(r.owner));
}

/** The blocks /etc/subuid (kind 'uid') or /etc/subgid gives a user; see subordinateIdsOf. */
export function readSubordinateIds(kind: IdKind, user: { uid: number; name?: string | undefined }, file = kind === 'uid' ? SUBUID_FILE : SUBGID_FILE): SubordinateRange[] {
  return subordinateIdsOf(readTextFile(file), user, file);
}
