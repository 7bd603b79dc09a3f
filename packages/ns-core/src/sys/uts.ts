import { libc, sysError } from './native';

const sethostname_ = libc.func('int sethostname(const char *name, size_t len)');
const setdomainname_ = libc.func('int setdomainname(const char *name, size_t len)');
const uname_ = libc.func('int uname(void *buf)');

export function sethostname(name: string): void {
  if (sethostname_(name, Buffer.byteLength(name)) < 0) throw sysError('sethostname', { path: name });
}

export function setdomainname(name: string): void {
  if (setdomainname_(name, Buffer.byteLength(name)) < 0) throw sysError('setdomainname', { path: name });
}

/** Hostname and NIS domain name of the calling thread's UTS namespace. */
export function uname(): { hostname: string; domainname: string } {
  const buf = Buffer.alloc(65 * 6);
  if (uname_(buf) < 0) throw sysError('uname');
  const field = (i: number) => {
    const s = buf.subarray(65 * i, 65 * (i + 1));
    return s.subarray(0, s.indexOf(0)).toString();
  };
  return { hostname: field(1), domainname: field(5) };
}
