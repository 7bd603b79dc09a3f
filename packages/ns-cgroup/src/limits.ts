/**
 * Resource limits as users type them (--memory 64M, --pids-max 5, --cpus 0.5), and the
 * interface files that carry them: cgroup v2 when the unified hierarchy offers the
 * controller, otherwise the v1 hierarchy that has it.
 */
import { NsError, usageError } from 'ns-core';
import { hierarchyFor, type CgroupHierarchy, type CgroupLayout } from './layout';

export interface CgroupLimits {
  /** Memory limit in bytes: a number, or '64M', '1.5G', '512KiB', 'max'. */
  readonly memory?: number | string;
  /** Most tasks (processes and threads) the group may hold: a number or 'max'. */
  readonly pidsMax?: number | string;
  /** CPU bandwidth in CPUs: 0.5 is half of one CPU per period. */
  readonly cpus?: number | string;
}

export interface ParsedLimits {
  readonly memory?: number | 'max';
  readonly pidsMax?: number | 'max';
  readonly cpu?: { readonly quotaUs: number; readonly periodUs: number };
  /** Memory plus swap, as OCI's memory.swap and v1's memory.memsw.limit_in_bytes count it. */
  readonly memorySwap?: number | 'max';
  /** A soft limit: v1 memory.soft_limit_in_bytes, v2 memory.low. */
  readonly memoryReservation?: number | 'max';
  /** v1 cpu.shares (2..262144), v2 cpu.weight by the kernel's own mapping. */
  readonly cpuShares?: number;
  readonly cpusetCpus?: string;
  readonly cpusetMems?: string;
  /** v1 device rules, in order: `{ allow, rule: 'c 1:3 rwm' }` (devices.allow / devices.deny). */
  readonly devices?: readonly { readonly allow: boolean; readonly rule: string }[];
}

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** Bytes with an optional binary suffix (K, M, G, T; 'KiB' and 'KB' read the same), or 'max'. */
export function parseBytes(option: string, value: number | string): number | 'max' {
  const text = String(value).trim();
  if (text === 'max') return 'max';
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text);
  const bytes = m ? Math.floor(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw usageError(`${option}: '${value}' is not a size in bytes (e.g. 67108864, 64M, 1G or max)`);
  }
  return bytes;
}

export function parsePidsMax(option: string, value: number | string): number | 'max' {
  const text = String(value).trim();
  if (text === 'max') return 'max';
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw usageError(`${option}: '${value}' is not a positive number of tasks or max`);
  }
  return Number(text);
}

/** The CFS period both cgroup versions default to. */
export const CPU_PERIOD_US = 100_000;
/** The kernel's smallest quota: 1 ms per period (sched/core.c, min_cfs_quota_period). */
export const MIN_CPU_QUOTA_US = 1_000;

export function parseCpus(option: string, value: number | string): { quotaUs: number; periodUs: number } {
  const text = String(value).trim();
  const cpus = /^\d+(\.\d+)?$|^\.\d+$/.test(text) ? Number(text) : NaN;
  const quotaUs = Math.round(cpus * CPU_PERIOD_US);
  if (!Number.isFinite(cpus) || !Number.isSafeInteger(quotaUs) || quotaUs < MIN_CPU_QUOTA_US) {
    throw usageError(`${option}: '${value}' is not a number of CPUs of at least ${MIN_CPU_QUOTA_US / CPU_PERIOD_US}`);
  }
  return { quotaUs, periodUs: CPU_PERIOD_US };
}

export function parseLimits(limits: CgroupLimits): ParsedLimits {
  return {
    ...(limits.memory !== undefined ? { memory: parseBytes('--memory', limits.memory) } : {}),
    ...(limits.pidsMax !== undefined ? { pidsMax: parsePidsMax('--pids-max', limits.pidsMax) } : {}),
    ...(limits.cpus !== undefined ? { cpu: parseCpus('--cpus', limits.cpus) } : {}),
  };
}

/** One write to a cgroup interface file. */
export interface LimitWrite {
  readonly controller: 'memory' | 'pids' | 'cpu' | 'cpuset' | 'devices';
  readonly hierarchy: CgroupHierarchy;
  readonly file: string;
  readonly value: string;
  /** The option it comes from, for messages. */
  readonly option: string;
}

function homeOf(layout: CgroupLayout, controller: LimitWrite['controller'], option: string): CgroupHierarchy {
  const h = hierarchyFor(layout, controller);
  if (!h) {
    throw new NsError({ errno: 95, code: 'ENOTSUP',
                        message: `${option}: no ${controller} controller here (neither cgroup v2 nor a v1 hierarchy offers it)` });
  }
  return h;
}

/**
 * The files and values for the limits, in the order to write them. v1 names differ from
 * v2 (memory.limit_in_bytes for memory.max; cpu.cfs_period_us and cpu.cfs_quota_us for
 * cpu.max, period first so the quota is checked against the new period).
 */
export function planLimitWrites(limits: ParsedLimits, layout: CgroupLayout): LimitWrite[] {
  const writes: LimitWrite[] = [];
  if (limits.memory !== undefined) {
    const h = homeOf(layout, 'memory', '--memory');
    const value = limits.memory === 'max' ? (h.version === 2 ? 'max' : '-1') : String(limits.memory);
    writes.push({ controller: 'memory', hierarchy: h, file: h.version === 2 ? 'memory.max' : 'memory.limit_in_bytes', value, option: '--memory' });
  }
  if (limits.pidsMax !== undefined) {
    const h = homeOf(layout, 'pids', '--pids-max');
    writes.push({ controller: 'pids', hierarchy: h, file: 'pids.max', value: String(limits.pidsMax), option: '--pids-max' });
  }
  if (limits.cpu !== undefined) {
    const h = homeOf(layout, 'cpu', '--cpus');
    const { quotaUs, periodUs } = limits.cpu;
    if (h.version === 2) {
      writes.push({ controller: 'cpu', hierarchy: h, file: 'cpu.max', value: `${quotaUs} ${periodUs}`, option: '--cpus' });
    } else {
      writes.push({ controller: 'cpu', hierarchy: h, file: 'cpu.cfs_period_us', value: String(periodUs), option: '--cpus' });
      writes.push({ controller: 'cpu', hierarchy: h, file: 'cpu.cfs_quota_us', value: String(quotaUs), option: '--cpus' });
    }
  }
  if (limits.memorySwap !== undefined) {
    const h = homeOf(layout, 'memory', 'memory.swap');
    if (h.version === 2) {
      // v2 counts swap alone (cgroup-v2.rst memory.swap.max); OCI gives memory plus swap.
      const swap = limits.memorySwap === 'max' ? 'max' : typeof limits.memory === 'number' ? String(Math.max(0, limits.memorySwap - limits.memory)) : 'max';
      writes.push({ controller: 'memory', hierarchy: h, file: 'memory.swap.max', value: swap, option: 'memory.swap' });
    } else {
      writes.push({ controller: 'memory', hierarchy: h, file: 'memory.memsw.limit_in_bytes', value: limits.memorySwap === 'max' ? '-1' : String(limits.memorySwap), option: 'memory.swap' });
    }
  }
  if (limits.memoryReservation !== undefined) {
    const h = homeOf(layout, 'memory', 'memory.reservation');
    const value = limits.memoryReservation === 'max' ? (h.version === 2 ? 'max' : '-1') : String(limits.memoryReservation);
    writes.push({ controller: 'memory', hierarchy: h, file: h.version === 2 ? 'memory.low' : 'memory.soft_limit_in_bytes', value, option: 'memory.reservation' });
  }
  if (limits.cpuShares !== undefined) {
    const h = homeOf(layout, 'cpu', 'cpu.shares');
    // The mapping runc and crun use (shares 2..262144 onto weight 1..10000).
    const value = h.version === 2 ? String(1 + Math.floor(((limits.cpuShares - 2) * 9999) / 262142)) : String(limits.cpuShares);
    writes.push({ controller: 'cpu', hierarchy: h, file: h.version === 2 ? 'cpu.weight' : 'cpu.shares', value, option: 'cpu.shares' });
  }
  for (const [key, file] of [['cpusetCpus', 'cpuset.cpus'], ['cpusetMems', 'cpuset.mems']] as const) {
    if (limits[key] === undefined) continue;
    const h = homeOf(layout, 'cpuset', file);
    writes.push({ controller: 'cpuset', hierarchy: h, file, value: limits[key]!, option: file });
  }
  if (limits.devices?.length) {
    const h = layout.v1.find((x) => x.controllers.includes('devices'));
    if (!h) throw new NsError({ errno: 95, code: 'ENOTSUP', message: 'devices: no v1 devices controller here (cgroup v2 filters devices by BPF, which this runtime does not load)' });
    for (const d of limits.devices) writes.push({ controller: 'devices', hierarchy: h, file: d.allow ? 'devices.allow' : 'devices.deny', value: d.rule, option: 'devices' });
  }
  return writes;
}
