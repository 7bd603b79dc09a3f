/**
 * config.json's MUST rules (runtime-spec config.md, config-linux.md), checked before anything
 * exists. Each error names the field as the bundle spells it: `linux.namespaces[2].type`.
 * What the spec says a runtime may ignore with a warning is returned as warnings instead.
 */
import { posix } from 'node:path';
import { NsError, type NamespaceKind } from 'ns-core';
import type { ContainerSpec, SpecIdMapping, SpecLinux, SpecNamespace } from '../spec';

/** A bad config.json: EUSAGE with the field named first. */
export function specError(field: string, message: string): NsError {
  return new NsError({ errno: 22, code: 'EUSAGE', step: field, message: `${field}: ${message}` });
}

/** config-linux.md "namespaces": the spec's type names, and the kernel's kinds. */
export const NAMESPACE_TYPES: Readonly<Record<SpecNamespace['type'], NamespaceKind>> = {
  pid: 'pid', network: 'net', mount: 'mnt', ipc: 'ipc', uts: 'uts', user: 'user', cgroup: 'cgroup', time: 'time',
};

/** config.md "POSIX process": the RLIMIT_* names and their resource numbers (asm-generic/resource.h). */
export const RLIMITS: Readonly<Record<string, number>> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5, RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10, RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isUint = (v: unknown, max = 2 ** 32 - 1): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;

function expectString(field: string, v: unknown): string {
  if (typeof v !== 'string') throw specError(field, `expected a string, got ${JSON.stringify(v) ?? 'nothing'}`);
  return v;
}

function expectArray(field: string, v: unknown): readonly unknown[] {
  if (!Array.isArray(v)) throw specError(field, `expected an array, got ${JSON.stringify(v)}`);
  return v;
}

function expectAbsolute(field: string, v: unknown): string {
  const path = expectString(field, v);
  if (!posix.isAbsolute(path)) throw specError(field, `'${path}' must be an absolute path`);
  return path;
}

function checkMappings(field: string, value: unknown): void {
  if (value === undefined) return;
  const maps = expectArray(field, value) as SpecIdMapping[];
  maps.forEach((m, i) => {
    const f = `${field}[${i}]`;
    if (!isObject(m)) throw specError(f, 'expected an object with containerID, hostID and size');
    for (const key of ['containerID', 'hostID', 'size'] as const) {
      if (!isUint(m[key])) throw specError(`${f}.${key}`, `expected a number from 0 to 4294967295, got ${JSON.stringify(m[key])}`);
    }
    if (m.size === 0) throw specError(`${f}.size`, 'must be at least 1');
  });
}

/**
 * Checks what config.json must hold, returning the warnings the spec allows instead of errors.
 * @throws NsError EUSAGE naming the field.
 */
export function validateSpec(spec: ContainerSpec): string[] {
  const warnings: string[] = [];
  if (!isObject(spec)) throw specError('config.json', 'expected a JSON object');
  expectString('ociVersion', spec.ociVersion);
  // config.md "root": on POSIX platforms it is REQUIRED, and so is its path.
  if (!isObject(spec.root)) throw specError('root', 'is required on Linux');
  expectString('root.path', spec.root.path);
  if (spec.root.path === '') throw specError('root.path', 'must not be empty');
  if (spec.root.readonly !== undefined && typeof spec.root.readonly !== 'boolean') throw specError('root.readonly', 'expected true or false');

  (spec.mounts === undefined ? [] : expectArray('mounts', spec.mounts)).forEach((m, i) => {
    const f = `mounts[${i}]`;
    if (!isObject(m)) throw specError(f, 'expected an object');
    // config.md "mounts": destination MUST be an absolute path (Linux).
    expectAbsolute(`${f}.destination`, m.destination);
    if (m.type !== undefined) expectString(`${f}.type`, m.type);
    if (m.source !== undefined) expectString(`${f}.source`, m.source);
    if (m.options !== undefined) expectArray(`${f}.options`, m.options).forEach((o, j) => expectString(`${f}.options[${j}]`, o));
    checkMappings(`${f}.uidMappings`, m.uidMappings);
    checkMappings(`${f}.gidMappings`, m.gidMappings);
  });

  const p = spec.process;
  if (p !== undefined) {
    if (!isObject(p)) throw specError('process', 'expected an object');
    // config.md: args is REQUIRED with at least one entry on POSIX (the program to run).
    const args = expectArray('process.args', p.args);
    if (args.length === 0) throw specError('process.args', 'must name the program to run (at least one entry)');
    args.forEach((a, i) => expectString(`process.args[${i}]`, a));
    // config.md: cwd is REQUIRED and MUST be absolute.
    expectAbsolute('process.cwd', p.cwd);
    (p.env === undefined ? [] : expectArray('process.env', p.env)).forEach((e, i) => {
      if (!expectString(`process.env[${i}]`, e).includes('=')) throw specError(`process.env[${i}]`, `'${String(e)}' is not KEY=VALUE`);
    });
    if (!isObject(p.user)) throw specError('process.user', 'is required (uid and gid)');
    if (!isUint(p.user.uid)) throw specError('process.user.uid', `expected a uid, got ${JSON.stringify(p.user.uid)}`);
    if (!isUint(p.user.gid)) throw specError('process.user.gid', `expected a gid, got ${JSON.stringify(p.user.gid)}`);
    if (p.user.umask !== undefined && !isUint(p.user.umask, 0o777)) throw specError('process.user.umask', `expected 0 to 511 (0777), got ${JSON.stringify(p.user.umask)}`);
    (p.user.additionalGids === undefined ? [] : expectArray('process.user.additionalGids', p.user.additionalGids)).forEach((g, i) => {
      if (!isUint(g)) throw specError(`process.user.additionalGids[${i}]`, `expected a gid, got ${JSON.stringify(g)}`);
    });
    const seen = new Set<string>();
    (p.rlimits === undefined ? [] : expectArray('process.rlimits', p.rlimits)).forEach((r, i) => {
      const f = `process.rlimits[${i}]`;
      if (!isObject(r)) throw specError(f, 'expected an object with type, soft and hard');
      const type = expectString(`${f}.type`, r.type);
      // config.md: a value that cannot be mapped to a kernel interface, or a type given twice, MUST be an error.
      if (RLIMITS[type] === undefined) throw specError(`${f}.type`, `'${type}' is not a resource limit (RLIMIT_NOFILE, RLIMIT_NPROC, ...)`);
      if (seen.has(type)) throw specError(`${f}.type`, `${type} is given twice`);
      seen.add(type);
      for (const key of ['soft', 'hard'] as const) {
        if (!isUint(r[key], Number.MAX_SAFE_INTEGER) && !(typeof r[key] === 'number' && r[key] >= 2 ** 64 - 1)) {
          throw specError(`${f}.${key}`, `expected a number of at least 0, got ${JSON.stringify(r[key])}`);
        }
      }
      if ((r.soft as number) > (r.hard as number)) throw specError(f, `soft limit ${r.soft as number} is above the hard limit ${r.hard as number}`);
    });
    if (p.noNewPrivileges !== undefined && typeof p.noNewPrivileges !== 'boolean') throw specError('process.noNewPrivileges', 'expected true or false');
    if (p.oomScoreAdj !== undefined && !(Number.isInteger(p.oomScoreAdj) && p.oomScoreAdj >= -1000 && p.oomScoreAdj <= 1000)) {
      throw specError('process.oomScoreAdj', `expected -1000 to 1000, got ${JSON.stringify(p.oomScoreAdj)}`);
    }
    if (p.apparmorProfile) warnings.push(`process.apparmorProfile: AppArmor is not applied by ns-run-oci ('${p.apparmorProfile}' ignored)`);
    if (p.selinuxLabel) warnings.push(`process.selinuxLabel: SELinux is not applied by ns-run-oci ('${p.selinuxLabel}' ignored)`);
  }

  const linux: SpecLinux = spec.linux ?? {};
  if (!isObject(linux as unknown)) throw specError('linux', 'expected an object');
  const types = new Set<string>();
  (linux.namespaces === undefined ? [] : expectArray('linux.namespaces', linux.namespaces)).forEach((n, i) => {
    const f = `linux.namespaces[${i}]`;
    if (!isObject(n)) throw specError(f, 'expected an object with a type');
    const type = expectString(`${f}.type`, n.type);
    if (!(type in NAMESPACE_TYPES)) throw specError(`${f}.type`, `'${type}' is not a namespace type (${Object.keys(NAMESPACE_TYPES).join(', ')})`);
    // config-linux.md: a namespace type given twice MUST be an error.
    if (types.has(type)) throw specError(`${f}.type`, `${type} is given twice`);
    types.add(type);
    if (n.path !== undefined) expectAbsolute(`${f}.path`, n.path);
  });
  checkMappings('linux.uidMappings', linux.uidMappings);
  checkMappings('linux.gidMappings', linux.gidMappings);
  const userns = (linux.namespaces ?? []).find((n) => n.type === 'user');
  const hasMaps = (linux.uidMappings?.length ?? 0) > 0 || (linux.gidMappings?.length ?? 0) > 0;
  if (hasMaps && (!userns || userns.path !== undefined)) {
    throw specError('linux.uidMappings', userns ? 'mappings are for a new user namespace, not one joined by path' : 'mappings need a user namespace in linux.namespaces');
  }
  if (userns && userns.path === undefined && (!linux.uidMappings?.length || !linux.gidMappings?.length)) {
    throw specError('linux.uidMappings', 'a new user namespace needs both uidMappings and gidMappings');
  }
  const own = (type: string) => (linux.namespaces ?? []).some((n) => n.type === type);
  if (!own('mount')) throw specError('linux.namespaces', 'a container needs a mount namespace (type mount) for its root');
  // config.md "hostname": setting it needs a UTS namespace of the container's own (runc refuses too).
  if (spec.hostname !== undefined) {
    expectString('hostname', spec.hostname);
    if (!(linux.namespaces ?? []).some((n) => n.type === 'uts' && n.path === undefined)) throw specError('hostname', 'needs a new uts namespace in linux.namespaces');
  }
  if (spec.domainname !== undefined) {
    expectString('domainname', spec.domainname);
    if (!(linux.namespaces ?? []).some((n) => n.type === 'uts' && n.path === undefined)) throw specError('domainname', 'needs a new uts namespace in linux.namespaces');
  }
  for (const key of ['maskedPaths', 'readonlyPaths'] as const) {
    (linux[key] === undefined ? [] : expectArray(`linux.${key}`, linux[key])).forEach((path, i) => expectAbsolute(`linux.${key}[${i}]`, path));
  }
  if (linux.rootfsPropagation !== undefined &&
      !['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared', 'unbindable', 'runbindable'].includes(linux.rootfsPropagation)) {
    throw specError('linux.rootfsPropagation', `'${String(linux.rootfsPropagation)}' is not a propagation (private, slave, shared, unbindable, or r...)`);
  }
  for (const [key, value] of Object.entries(linux.sysctl ?? {})) {
    expectString(`linux.sysctl.${key}`, value);
    checkSysctl(key, spec);
  }
  (linux.devices === undefined ? [] : expectArray('linux.devices', linux.devices)).forEach((d, i) => {
    const f = `linux.devices[${i}]`;
    if (!isObject(d)) throw specError(f, 'expected an object');
    if (!['c', 'b', 'u', 'p'].includes(d.type as string)) throw specError(`${f}.type`, `'${String(d.type)}' is not a device type (c, b, u, p)`);
    expectAbsolute(`${f}.path`, d.path);
    // config-linux.md: major and minor are REQUIRED but for fifos.
    if (d.type !== 'p' && (!isUint(d.major) || !isUint(d.minor))) throw specError(f, 'major and minor are required for a device');
  });
  return warnings;
}

/**
 * runc's rule for linux.sysctl: only sysctls of a namespace the container has of its own may be
 * written (anything else would change the host): kernel.msg*, kernel.sem, kernel.shm* and
 * fs.mqueue.* with an ipc namespace, net.* with a network namespace, kernel.hostname and
 * kernel.domainname with a uts namespace.
 */
function checkSysctl(key: string, spec: ContainerSpec): void {
  const own = (type: string) => (spec.linux?.namespaces ?? []).some((n) => n.type === type && n.path === undefined);
  const ipc = /^kernel\.(msgmax|msgmnb|msgmni|sem|shmall|shmmax|shmmni|shm_rmid_forced)$/.test(key) || key.startsWith('fs.mqueue.');
  const field = `linux.sysctl.${key}`;
  if (ipc) {
    if (!own('ipc')) throw specError(field, 'needs a new ipc namespace in linux.namespaces');
    return;
  }
  if (key.startsWith('net.')) {
    // podman joins a network namespace it made by path: that one is the container's own too.
    if (!(spec.linux?.namespaces ?? []).some((n) => n.type === 'network')) throw specError(field, 'needs a network namespace in linux.namespaces');
    return;
  }
  if (key === 'kernel.hostname' || key === 'kernel.domainname') {
    if (!own('uts')) throw specError(field, 'needs a new uts namespace in linux.namespaces');
    return;
  }
  throw specError(field, 'is not namespaced: it would change the host');
}
