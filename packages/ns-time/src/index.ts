/**
 * ns-time: a new time namespace whose CLOCK_MONOTONIC and CLOCK_BOOTTIME are shifted by fixed
 * offsets (time_namespaces(7)), written before the program starts.
 */
import { NsError, readText, usageError } from 'ns-core/errors';
import type { PhasedOp, Step } from 'ns-core/exec/plan';

/** The clocks a time namespace can shift, with their clockid_t (linux/time.h). */
export const CLOCKS = { monotonic: 1, boottime: 7 } as const;
export type ClockName = keyof typeof CLOCKS;

/** An offset as the kernel stores it: whole seconds (may be negative) plus 0..999999999 ns. */
export interface ClockOffset {
  readonly seconds: number;
  readonly nanoseconds: number;
}

export interface TimeOptions {
  /** Seconds added to CLOCK_MONOTONIC inside: a number, or a decimal string such as '-1.25'. */
  readonly monotonic?: number | string;
  /** Seconds added to CLOCK_BOOTTIME (and /proc/uptime) inside. */
  readonly boottime?: number | string;
}

/** KTIME_SEC_MAX: the kernel refuses offsets beyond it with ERANGE (kernel/time/namespace.c). */
export const MAX_OFFSET_SECONDS = 9223372036;
const NS_PER_S = 1_000_000_000n;

/**
 * Parses seconds with up to nanosecond precision, exactly (no floating point): '-1.5' is
 * -2 s + 500000000 ns, the normalised form timens_offsets takes. util-linux accepts only
 * whole seconds; fractions are an addition.
 * @throws NsError EUSAGE naming the option and value.
 */
export function parseOffset(option: string, value: number | string): ClockOffset {
  const text = typeof value === 'number' ? (Number.isFinite(value) ? value.toFixed(9) : String(value)) : value.trim();
  const m = /^([+-]?)(\d+)(?:\.(\d{1,9}))?$/.exec(text);
  if (!m) {
    const why = /^[+-]?\d+\.\d{10,}$/.test(text) ? 'has more than nanosecond precision' : 'is not a number of seconds';
    throw usageError(`${option}: '${value}' ${why}`);
  }
  const magnitude = BigInt(m[2]!) * NS_PER_S + BigInt((m[3] ?? '').padEnd(9, '0'));
  const total = m[1] === '-' ? -magnitude : magnitude;
  // Floor division so the nanoseconds are never negative.
  let seconds = total / NS_PER_S;
  let nanoseconds = total % NS_PER_S;
  if (nanoseconds < 0n) {
    seconds -= 1n;
    nanoseconds += NS_PER_S;
  }
  if (seconds > BigInt(MAX_OFFSET_SECONDS) || seconds < -BigInt(MAX_OFFSET_SECONDS)) {
    throw usageError(`${option}: '${value}' is beyond the kernel's limit of ${MAX_OFFSET_SECONDS} seconds`);
  }
  return { seconds: Number(seconds), nanoseconds: Number(nanoseconds) };
}

/** A line of /proc/PID/timens_offsets as written: `<clockid> <seconds> <nanoseconds>`. */
export function formatOffset(clock: ClockName, offset: ClockOffset): string {
  return `${CLOCKS[clock]} ${offset.seconds} ${offset.nanoseconds}`;
}

/**
 * Setup step: a new time namespace with the given offsets. The kernel takes offsets only
 * until the first process enters the namespace, so they are written from the child right
 * after its unshare(CLONE_NEWTIME) and before the exec that moves it in (time_namespaces(7)).
 */
export function time(options: TimeOptions = {}): Step {
  const child: PhasedOp[] = [];
  // util-linux's order: boottime first, then monotonic; each in its own write(2).
  for (const clock of ['boottime', 'monotonic'] as const) {
    const value = options[clock];
    if (value === undefined) continue;
    const offset = parseOffset(`--${clock}`, value);
    refuseOutOfRange(clock, offset, value);
    child.push({ op: 'write-file', path: '/proc/self/timens_offsets', data: formatOffset(clock, offset),
                 phase: 'namespaces', step: `--${clock}` });
  }
  return { name: 'ns-time', create: ['time'], child };
}

/** Seconds on a clock now: CLOCK_MONOTONIC from Node, CLOCK_BOOTTIME from /proc/uptime (proc(5)). */
function clockNow(clock: ClockName): number {
  if (clock === 'monotonic') return Number(process.hrtime.bigint() / 1_000_000n) / 1000;
  return Number(readText('/proc/uptime').split(' ')[0]);
}

/**
 * The kernel's rule (kernel/time/namespace.c, proc_timens_set_offset): an offset may not put its
 * clock below zero now, nor past KTIME_SEC_MAX/2. Checked here, before anything runs, so the
 * message names the value even when the exec stage writes the offsets with no JavaScript left
 * to reword the kernel's ERANGE.
 */
function refuseOutOfRange(clock: ClockName, offset: ClockOffset, value: number | string): void {
  const after = clockNow(clock) + offset.seconds + offset.nanoseconds / 1e9;
  if (after < 0 || offset.seconds > MAX_OFFSET_SECONDS / 2) {
    throw new NsError({ errno: 34, code: 'ERANGE', step: `--${clock}`, syscall: 'write', path: '/proc/self/timens_offsets',
                        message: `--${clock}: '${value}' would move the clock below zero or past ${Math.floor(MAX_OFFSET_SECONDS / 2)} seconds` });
  }
}

/**
 * The kernel answers ERANGE when an offset would put the clock below zero or past
 * KTIME_SEC_MAX/2 (kernel/time/namespace.c); this rewrites that error to name the value.
 */
export function explainOffsetError(err: unknown, options: TimeOptions): unknown {
  if (!(err instanceof NsError) || err.code !== 'ERANGE') return err;
  const clock = err.step === '--monotonic' ? 'monotonic' : err.step === '--boottime' ? 'boottime' : undefined;
  if (!clock || options[clock] === undefined) return err;
  return new NsError({ errno: 34, code: 'ERANGE', step: err.step!, syscall: 'write', path: '/proc/self/timens_offsets',
                       message: `--${clock}: '${options[clock]}' would move the clock below zero or past ${Math.floor(MAX_OFFSET_SECONDS / 2)} seconds` });
}

/** The offsets of the time namespace a process's children get (its own, once it has exec'd). */
export function readTimeOffsets(pid: number | 'self'): Record<ClockName, ClockOffset> {
  const path = `/proc/${pid}/timens_offsets`;
  const text = readText(path);
  const out: Partial<Record<ClockName, ClockOffset>> = {};
  for (const line of text.split('\n')) {
    const [name, seconds, nanoseconds] = line.trim().split(/\s+/);
    if (name === 'monotonic' || name === 'boottime') out[name] = { seconds: Number(seconds), nanoseconds: Number(nanoseconds) };
  }
  if (!out.monotonic || !out.boottime) {
    throw new NsError({ errno: 22, code: 'EINVAL', path, message: `${path}: unexpected contents '${text.trim()}'` });
  }
  return out as Record<ClockName, ClockOffset>;
}
