/**
 * ns-uts: a new UTS namespace with its own hostname and NIS domain name.
 */
import * as sys from 'ns-core/sys';
import { usageError } from 'ns-core/errors';
import type { Step } from 'ns-core/exec/plan';
import { runInside } from 'ns-core/inside';
import { Namespace } from 'ns-core/namespace';

/** HOST_NAME_MAX and the size of utsname.domainname, less the NUL (uts_namespaces(7)). */
export const MAX_NAME_BYTES = 64;

export interface UtsOptions {
  readonly hostname?: string;
  readonly domainname?: string;
}

/** Throws EUSAGE naming the option if name is empty or longer than the kernel accepts. */
export function validateName(option: string, name: string): void {
  const bytes = Buffer.byteLength(name);
  if (bytes === 0) throw usageError(`${option}: name must not be empty`);
  if (bytes > MAX_NAME_BYTES) throw usageError(`${option}: '${name}' is ${bytes} bytes, longer than ${MAX_NAME_BYTES}`);
  if (name.includes('\0')) throw usageError(`${option}: name contains a NUL byte`);
}

/** Setup step: a new UTS namespace, with hostname/domainname set before the program starts. */
export function uts(options: UtsOptions = {}): Step {
  if (options.hostname !== undefined) validateName('--hostname', options.hostname);
  if (options.domainname !== undefined) validateName('--domainname', options.domainname);
  return {
    name: 'ns-uts',
    create: ['uts'],
    child: [
      ...(options.hostname !== undefined
        ? [{ op: 'sethostname' as const, name: options.hostname, phase: 'namespaces' as const, step: '--hostname' }] : []),
      ...(options.domainname !== undefined
        ? [{ op: 'setdomainname' as const, name: options.domainname, phase: 'namespaces' as const, step: '--domainname' }] : []),
    ],
  };
}

/** Hostname and domain name as seen inside a process's UTS namespace. */
export function readUts(pid: number): { hostname: string; domainname: string } {
  return Namespace.ofPid(pid, 'uts').use((ns) => runInside([ns], () => sys.uname()));
}

/** Sets the names inside an existing UTS namespace (a held handle or bind-mounted file). */
export function setNames(ns: Namespace, options: UtsOptions): void {
  if (options.hostname !== undefined) validateName('hostname', options.hostname);
  if (options.domainname !== undefined) validateName('domainname', options.domainname);
  runInside([ns], () => {
    if (options.hostname !== undefined) sys.sethostname(options.hostname);
    if (options.domainname !== undefined) sys.setdomainname(options.domainname);
  });
}
