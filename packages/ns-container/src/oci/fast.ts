/**
 * ROOT/ID/fast: what ns-run-oci's C fast path (ns-core's native/oci.c) needs to answer
 * `start`, `state`, `kill` and `delete` without starting Node. Engines call those once or more
 * per container, and each Node start costs more than the whole call does in C.
 *
 * This module stays the definition of the policy: create writes the file only for a container
 * whose later calls need nothing but what is in it (no startContainer, poststart or poststop
 * hook to run), with the very text `state` prints cut around its two live fields. Where the
 * file is missing, unreadable, of another version, or holds a key the C does not know, the C
 * execs Node, which answers from state.json as before; so does it for any call it does not
 * recognise, and for any unexpected error before it changed anything.
 *
 * The format, one `key value` a line, each value with `\` and newline escaped (`\\`, `\n`):
 *
 *   ns-run-oci-fast 1       the first line, exactly (a version)
 *   pid N                   the init's pid, as our pid namespace sees it
 *   inode N                 its pidfd's inode (pidfs): a pid reused by another process is not it
 *   head TEXT               `state`'s JSON up to the status value (`..."status": "`)
 *   tail TEXT               its JSON after the pid value (`,\n  "bundle": ...}`)
 *   leaf DIR                the container's cgroup in one hierarchy (cgroup.json's leaves), in order
 *   made DIR                a directory create made (cgroup.json's made), removed at delete
 *
 * `state` prints head, the status, `",\n  "pid": `, the pid (0 once stopped), tail, a newline.
 */
import type { SpecHooks } from '../spec';
import type { ProcessRef } from '../runner/state';
import type { RecordedCgroup } from './cgroups';
import type { HookKind } from './hooks';

export const FAST_FILE = 'fast';
export const FAST_VERSION = 'ns-run-oci-fast 1';

/** Hooks of the calls the C answers: a container with any of them is Node's alone. */
const LATER_HOOKS: readonly HookKind[] = ['startContainer', 'poststart', 'poststop'];

/** What oci.c prints between the status and the pid. */
const BETWEEN = '",\n  "pid": ';

/** One line whatever the value holds (oci.c's unescape reverses it). */
function escapeValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/**
 * The fast file's text, or undefined where the container's later calls must run in Node.
 * @param render `state`'s output (before its newline) for a status and pid: the runtime's own rendering.
 */
export function renderFast(hooks: SpecHooks | undefined, init: ProcessRef, cgroup: RecordedCgroup | undefined,
                           render: (status: 'created', pid: number) => string): string | undefined {
  if (LATER_HOOKS.some((k) => hooks?.[k]?.length)) return undefined;
  const text = render('created', 0);
  // The id (checkId's characters) and ociVersion come before: the first match is the status's.
  const at = text.indexOf(`"status": "created${BETWEEN}0`);
  if (at < 0) return undefined;
  const head = text.slice(0, at + '"status": "'.length);
  const tail = text.slice(at + `"status": "created${BETWEEN}0`.length);
  const lines = [FAST_VERSION, `pid ${init.pid}`, `inode ${init.inode}`, `head ${escapeValue(head)}`, `tail ${escapeValue(tail)}`,
                 ...(cgroup?.leaves ?? []).map((d) => `leaf ${escapeValue(d)}`), ...(cgroup?.made ?? []).map((d) => `made ${escapeValue(d)}`)];
  return `${lines.join('\n')}\n`;
}
