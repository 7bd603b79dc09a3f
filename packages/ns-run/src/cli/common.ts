/** Parsing and reporting shared by ns-unshare, ns-enter and ns-run. */
import { closeSync, fstatSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { usageError, type NsChild, type RunOptions } from 'ns-core';

/** util-linux signame_to_signum: case-insensitive, optional SIG prefix. */
export function parseSignalName(value: string): NodeJS.Signals {
  const upper = value.toUpperCase();
  const name = (upper.startsWith('SIG') ? upper : `SIG${upper}`) as NodeJS.Signals;
  if (constants.signals[name] === undefined) throw usageError(`unknown signal: ${value}`);
  return name;
}

/** Seconds, negative and fractional allowed (util-linux 2.40). */
export function parseOffset(option: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw usageError(`${option}: failed to parse offset: '${value}'`);
  return n;
}

/** A number stays a number; a name is resolved later by the library against /etc. */
export function parseIdOrName(value: string): number | string {
  return /^\d+$/.test(value) ? Number(value) : value;
}

export function parseFd(option: string, value: string): number {
  const fd = Number(value);
  if (!/^\d+$/.test(value) || fd > 1 << 20) throw usageError(`${option}: invalid file descriptor '${value}'`);
  try {
    fstatSync(fd);
  } catch {
    throw usageError(`${option}: file descriptor ${fd} is not open`);
  }
  return fd;
}

function childInfo(child: NsChild): Record<string, number> {
  const info: Record<string, number> = { 'child-pid': child.programPid ?? child.pid };
  for (const [kind, id] of Object.entries(child.namespaces)) info[`${kind}-namespace`] = id;
  return info;
}

/**
 * bubblewrap's machine interfaces: --info-fd gets one JSON object once the program runs (then
 * is closed); --json-status-fd gets that object as a line, then {"exit-code": N} at the end.
 */
export function statusReporters(infoFd?: number, statusFd?: number): Pick<RunOptions, 'onStart' | 'onExit'> {
  if (infoFd === undefined && statusFd === undefined) return {};
  return {
    onStart: (child) => {
      const info = childInfo(child);
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
