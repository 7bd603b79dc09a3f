/**
 * config-linux.md "cgroupsPath" and "resources" -> ns-cgroup's limits and a group path. Pure:
 * the host work (mkdir, the writes, joining) is ns-cgroup's CgroupGroup, done by the caller.
 *
 * What runc does on a cgroupfs host, and so what engines expect: the group is made in every
 * v1 controller hierarchy and in v2 (so freezer, devices and cpuset hold the container even
 * without a limit for them), devices are denied as the spec says and then the runtime's
 * default devices allowed again (runc's specconv.AllowedDevices), and an unlimited value (-1,
 * or 0 for pids) leaves the kernel's default.
 */
import { existsSync } from 'node:fs';
import { posix } from 'node:path';
import type { CgroupLayout, ParsedLimits } from 'ns-cgroup';
import type { SpecResources } from '../spec';
import { specError } from './validate';

/**
 * The devices every container may use whatever resources.devices says: mknod of any (m), and
 * the default nodes the runtime creates (null, zero, full, random, urandom, tty, console,
 * ptmx and the pts it leads to), plus tun as runc allows it.
 */
export const DEFAULT_DEVICE_RULES: readonly string[] = [
  'c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 1:8 rwm', 'c 1:7 rwm', 'c 5:0 rwm', 'c 1:5 rwm', 'c 1:9 rwm', 'c 5:1 rwm', 'c 136:* rwm', 'c 5:2 rwm', 'c 10:200 rwm',
];

/**
 * The group's path from cgroupsPath: absolute is from each hierarchy's root, relative is
 * under the runtime's own cgroup (runc's reading), absent is the container id (relative,
 * as runc names it). The systemd form `slice:prefix:name` (--systemd-cgroup) is taken as the
 * cgroupfs path systemd would give it: /slice/prefix-name.scope.
 */
export function cgroupPathOf(cgroupsPath: string | undefined, id: string): string {
  if (cgroupsPath === undefined || cgroupsPath === '') return id;
  const systemd = /^([^:/]*):([^:/]*):([^:/]+)$/.exec(cgroupsPath);
  if (systemd) {
    const [, slice, prefix, name] = systemd;
    return `/${slice || 'system.slice'}/${prefix ? `${prefix}-` : ''}${name}.scope`;
  }
  const clean = posix.normalize(cgroupsPath).replace(/\/+$/, '');
  if (clean.split('/').includes('..')) throw specError('linux.cgroupsPath', `'${cgroupsPath}' leaves the hierarchy ('..')`);
  return clean;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

function bytes(field: string, v: unknown): number | 'max' | undefined {
  if (v === undefined) return undefined;
  if (!isInt(v) || v < -1 || v === 0) throw specError(field, `expected a number of bytes (or -1 for no limit), got ${JSON.stringify(v)}`);
  return v === -1 ? 'max' : v;
}

function deviceRule(field: string, d: NonNullable<SpecResources['devices']>[number]): { allow: boolean; rule: string } {
  if (typeof d.allow !== 'boolean') throw specError(`${field}.allow`, `expected true or false, got ${JSON.stringify(d.allow)}`);
  const type = d.type ?? 'a';
  if (!['a', 'c', 'b'].includes(type)) throw specError(`${field}.type`, `'${type}' is not a, c or b`);
  const access = d.access ?? 'rwm';
  if (!/^[rwm]{1,3}$/.test(access)) throw specError(`${field}.access`, `'${access}' is not a combination of r, w and m`);
  const num = (key: 'major' | 'minor') => {
    const n = d[key];
    if (n === undefined || n === -1) return '*';
    if (!isInt(n) || n < 0) throw specError(`${field}.${key}`, `expected a device number, got ${JSON.stringify(n)}`);
    return String(n);
  };
  return { allow: d.allow, rule: type === 'a' ? `a *:* ${access}` : `${type} ${num('major')}:${num('minor')} ${access}` };
}

/**
 * linux.resources as ns-cgroup's limits; fields this host cannot apply are dropped with a
 * warning where the spec lets a runtime ignore them (devices on a cgroup v2 only host).
 * @throws NsError EUSAGE naming the field for a value the kernel would refuse.
 */
export function limitsOf(resources: SpecResources | undefined, layout: CgroupLayout, warnings: string[]): ParsedLimits {
  if (!resources) return {};
  const f = 'linux.resources';
  const out: { -readonly [K in keyof ParsedLimits]: ParsedLimits[K] } = {};
  const memory = resources.memory;
  if (memory) {
    const limit = bytes(`${f}.memory.limit`, memory.limit);
    if (limit !== undefined) out.memory = limit;
    const swap = bytes(`${f}.memory.swap`, memory.swap);
    if (swap !== undefined) {
      if (typeof swap === 'number' && typeof limit === 'number' && swap < limit) {
        throw specError(`${f}.memory.swap`, `${swap} is less than memory.limit ${limit} (swap counts memory plus swap)`);
      }
      const v1 = layout.v1.find((h) => h.controllers.includes('memory'));
      if (v1 && !layout.v2?.controllers.includes('memory') && !memswAccounted(v1.mountPoint)) warnings.push(`${f}.memory.swap: swap accounting is off on this host; ignored`);
      else out.memorySwap = swap;
    }
    const reservation = bytes(`${f}.memory.reservation`, memory.reservation);
    if (reservation !== undefined) out.memoryReservation = reservation;
  }
  const pids = resources.pids;
  if (pids) {
    if (!isInt(pids.limit) || pids.limit < -1) throw specError(`${f}.pids.limit`, `expected a number of tasks (or -1 for no limit), got ${JSON.stringify(pids.limit)}`);
    out.pidsMax = pids.limit <= 0 ? 'max' : pids.limit;
  }
  const cpu = resources.cpu;
  if (cpu) {
    if (cpu.shares !== undefined && cpu.shares !== 0) {
      if (!isInt(cpu.shares) || cpu.shares < 2 || cpu.shares > 262144) throw specError(`${f}.cpu.shares`, `expected 2 to 262144, got ${JSON.stringify(cpu.shares)}`);
      out.cpuShares = cpu.shares;
    }
    const period = cpu.period === undefined || cpu.period === 0 ? 100_000 : cpu.period;
    if (!isInt(period) || period < 1000 || period > 1_000_000) throw specError(`${f}.cpu.period`, `expected 1000 to 1000000 microseconds, got ${JSON.stringify(cpu.period)}`);
    if (cpu.quota !== undefined && cpu.quota !== -1 && cpu.quota !== 0) {
      if (!isInt(cpu.quota) || cpu.quota < 1000) throw specError(`${f}.cpu.quota`, `expected at least 1000 microseconds (or -1 for no limit), got ${JSON.stringify(cpu.quota)}`);
      out.cpu = { quotaUs: cpu.quota, periodUs: period };
    }
    for (const [key, name] of [['cpus', 'cpusetCpus'], ['mems', 'cpusetMems']] as const) {
      const v = cpu[key];
      if (v === undefined || v === '') continue;
      if (typeof v !== 'string' || !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(v)) throw specError(`${f}.cpu.${key}`, `'${String(v)}' is not a list such as 0-1,3`);
      out[name] = v;
    }
  }
  if (resources.devices?.length) {
    if (!layout.v1.some((h) => h.controllers.includes('devices'))) {
      warnings.push(`${f}.devices: this host has no v1 devices controller (cgroup v2 devices need BPF); not applied`);
    } else {
      out.devices = [...resources.devices.map((d, i) => deviceRule(`${f}.devices[${i}]`, d)),
                     ...DEFAULT_DEVICE_RULES.map((rule) => ({ allow: true, rule }))];
    }
  }
  return out;
}

/** v1 swap accounting (swapaccount=1): memory.memsw.* exist. */
function memswAccounted(memoryMount: string): boolean {
  return existsSync(`${memoryMount}/memory.memsw.limit_in_bytes`);
}

/** Every v1 controller hierarchy (named ones such as name=systemd belong to their manager): where the group is made, with v2. */
export function groupControllers(layout: CgroupLayout): string[] {
  return layout.v1.flatMap((h) => h.controllers.filter((c) => !c.startsWith('name=')));
}
