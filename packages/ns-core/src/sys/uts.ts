import { libcFunctions, sysError } from './native';

const c = libcFunctions([
  'int sethostname(const char *name, size_t len)',
  'int setdomainname(const char *name, size_t len)',
  'int uname(void *buf)',
]);

export function sethostname(name: string): void {
  if (c.sethostname(name, Buffer.byteLength(name)) < 0) throw sysError('sethostname', { path: name });
}

export function setdomainname(name: string): void {
  if (c.setdomainname(name, Buffer.byteLength(name)) < 0) throw sysError('setdomainname', { path: name });
}

/** Hostname and NIS domain name of the calling thread's UTS namespace. */
export function uname(): { hostname: string; domainname: string } {
  const buf = Buffer.alloc(65 * 6);
  if (c.uname(buf) < 0) throw sysError('uname');
  const field = (i: number) => {
    const s = buf.subarray(65 * i, 65 * (i + 1));
    return s.subarray(0, s.indexOf(0)).toString();
  };
  return { hostname: field(1), domainname: field(5) };
}
