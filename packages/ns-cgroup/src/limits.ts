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

/** A byte limit as the version's file takes it: no limit is "max" in v2, -1 in v1. */
function bytesValue(v2: boolean, limit: number | 'max'): string {
  return limit === 'max' ? (v2 ? 'max' : '-1') : String(limit);
}

/**
 * The files and values for the limits, in the order to write them. v1 names differ from
 * v2 (memory.limit_in_bytes for memory.max; cpu.cfs_period_us and cpu.cfs_quota_us for
 * cpu.max, period first so the quota is checked against the new period).
 */
export function planLimitWrites(limits: ParsedLimits, layout: CgroupLayout): LimitWrite[] {
  const writes: LimitWrite[] = [];
  /** The hierarchy `option` writes to (its controller's), and a writer of files there. */
  const into = (controller: LimitWrite['controller'], option: string) => {
    const hierarchy = homeOf(layout, controller, option);
    const write = (file: string, value: string) => writes.push({ controller, hierarchy, file, value, option });
    return { v2: hierarchy.version === 2, write };
  };
  if (limits.memory !== undefined) {
    const { v2, write } = into('memory', '--memory');
    write(v2 ? 'memory.max' : 'memory.limit_in_bytes', bytesValue(v2, limits.memory));
  }
  if (limits.pidsMax !== undefined) into('pids', '--pids-max').write('pids.max', String(limits.pidsMax));
  if (limits.cpu !== undefined) {
    const { v2, write } = into('cpu', '--cpus');
    const { quotaUs, periodUs } = limits.cpu;
    if (v2) {
      write('cpu.max', `${quotaUs} ${periodUs}`);
    } else {
      write('cpu.cfs_period_us', String(periodUs));
      write('cpu.cfs_quota_us', String(quotaUs));
    }
  }
  if (limits.memorySwap !== undefined) {
    const { v2, write } = into('memory', 'memory.swap');
    if (v2) {
      // v2 counts swap alone (cgroup-v2.rst memory.swap.max); OCI gives memory plus swap.
      const swap = limits.memorySwap === 'max' ? 'max' : typeof limits.memory === 'number' ? String(Math.max(0, limits.memorySwap - limits.memory)) : 'max';
      write('memory.swap.max', swap);
    } else {
      write('memory.memsw.limit_in_bytes', bytesValue(v2, limits.memorySwap));
    }
  }
  if (limits.memoryReservation !== undefined) {
    const { v2, write } = into('memory', 'memory.reservation');
    write(v2 ? 'memory.low' : 'memory.soft_limit_in_bytes', bytesValue(v2, limits.memoryReservation));
  }
  if (limits.cpuShares !== undefined) {
    const { v2, write } = into('cpu', 'cpu.shares');
    // The mapping runc and crun use (shares 2..262144 onto weight 1..10000).
    if (v2) write('cpu.weight', String(1 + Math.floor(((limits.cpuShares - 2) * 9999) / 262142)));
    else write('cpu.shares', String(limits.cpuShares));
  }
  for (const [key, file] of [['cpusetCpus', 'cpuset.cpus'], ['cpusetMems', 'cpuset.mems']] as const) {
    if (limits[key] !== undefined) into('cpuset', file).write(file, limits[key]!);
  }
  if (limits.devices?.length) {
    const h = layout.v1.find((x) => x.controllers.includes('devices'));
    if (!h) throw new NsError({ errno: 95, code: 'ENOTSUP', message: 'devices: no v1 devices controller here (cgroup v2 filters devices by BPF, which this runtime does not load)' });
    for (const d of limits.devices) writes.push({ controller: 'devices', hierarchy: h, file: d.allow ? 'devices.allow' : 'devices.deny', value: d.rule, option: 'devices' });
  }
  return writes;
}
