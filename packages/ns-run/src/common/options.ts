/** Values and reporting shared by ns-unshare, ns-enter and ns-run. */
import { closeSync, fstatSync, readFileSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { usageError } from 'ns-core/errors';
import type { ExitStatus, NsChild } from 'ns-core/exec/spawn';
import type { NamespaceKind } from 'ns-core/kinds';
import { parseDecimal } from 'ns-core/numbers';

/** A number stays a number; a name is resolved later by the library against /etc. */
export function parseIdOrName(value: string): number | string {
  return parseDecimal(value) ?? value;
}

/** An fd the launcher writes reports to (--info-fd, --json-status-fd): open, and open for writing. */
export function parseFd(option: string, value: string): number {
  const fd = parseDecimal(value, 1 << 20);
  if (fd === undefined) throw usageError(`${option}: invalid file descriptor '${value}'`);
  let flags: string | undefined;
  try {
    fstatSync(fd);
    flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
  } catch (e) {
    throw usageError(`${option}: file descriptor ${fd} is not open (${(e as NodeJS.ErrnoException).code ?? 'EBADF'})`);
  }
  // write(2) on an fd opened O_RDONLY fails with EBADF: say so before anything runs.
  if (flags !== undefined && (parseInt(flags, 8) & 3) === 0) {
    throw usageError(`${option}: file descriptor ${fd} is not open for writing (EBADF)`);
  }
  return fd;
}

function childInfo(child: NsChild, known: Partial<Record<NamespaceKind, number>>): Record<string, number> {
  const info: Record<string, number> = { 'child-pid': child.programPid ?? child.pid };
  for (const [kind, id] of Object.entries({ ...known, ...child.namespaces })) info[`${kind}-namespace`] = id;
  return info;
}

export interface StatusReporters {
  onStart?(child: NsChild): void;
  onExit?(child: NsChild, status: ExitStatus): void;
}

/**
 * bubblewrap's machine interfaces for a container the runner waits for: --info-fd gets one
 * JSON object once the program runs (then is closed); --json-status-fd gets that object as a
 * line, then {"exit-code": N} at the end. (The drop-ins have the exec stage write them.)
 * `known`: ids the caller knows already, for kinds the child could not report.
 */
export function statusReporters(infoFd?: number, statusFd?: number,
                                known: Partial<Record<NamespaceKind, number>> = {}): StatusReporters {
  if (infoFd === undefined && statusFd === undefined) return {};
  return {
    onStart: (child) => {
      const info = childInfo(child, known);
      if (infoFd !== undefined) {
        writeSync(infoFd, `${JSON.stringify(info, null, 2)}\n`);
        closeSync(infoFd);
      }
      if (statusFd !== undefined) writeSync(statusFd, `${JSON.stringify(info)}\n`);
    },
    onExit: (_child, status) => {
      if (statusFd === undefined) return;
      const code = status.code ?? 128 + (status.signal ? constants.signals[status.signal] ?? 0 : 0);
      writeSync(statusFd, `${JSON.stringify({ 'exit-code': code })}\n`);
    },
  };
}
