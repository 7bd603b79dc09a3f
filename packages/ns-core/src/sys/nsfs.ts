import { libcFunctions, sysError } from './native';

// linux/nsfs.h: _IO(0xb7, n)
const NS_GET_USERNS = 0xb701;
const NS_GET_PARENT = 0xb702;
const NS_GET_NSTYPE = 0xb703;
const NS_GET_OWNER_UID = 0xb704;

const c = libcFunctions([
  'int ioctl(int fd, unsigned long request, ...)',
]);

/** CLONE_NEW* value of the namespace fd refers to. */
export function nsGetType(fd: number): number {
  const r = c.ioctl(fd, NS_GET_NSTYPE);
  if (r < 0) throw sysError('ioctl(NS_GET_NSTYPE)');
  return r;
}

/** New fd for the user namespace owning fd's namespace. */
export function nsGetUserns(fd: number): number {
  const r = c.ioctl(fd, NS_GET_USERNS);
  if (r < 0) throw sysError('ioctl(NS_GET_USERNS)');
  return r;
}

/** New fd for the parent of a pid or user namespace. */
export function nsGetParent(fd: number): number {
  const r = c.ioctl(fd, NS_GET_PARENT);
  if (r < 0) throw sysError('ioctl(NS_GET_PARENT)');
  return r;
}

/**
 * NS_GET_PARENT or NS_GET_USERNS as a new fd, or -1 where the kernel gives none (EPERM at the
 * edge of what we may see, the initial namespaces): for a caller that only skips those, as
 * lsns does, without the NsError (and errno name lookup) a failure would build.
 */
export function nsRelatedFd(fd: number, relation: 'parent' | 'userns'): number {
  const r = c.ioctl(fd, relation === 'parent' ? NS_GET_PARENT : NS_GET_USERNS);
  return r < 0 ? -1 : r;
}

/** Uid (in the caller's user namespace) that created the user namespace fd refers to. */
export function nsGetOwnerUid(fd: number): number {
  const out = Buffer.alloc(4);
  const r = c.ioctl(fd, NS_GET_OWNER_UID, 'void *', out);
  if (r < 0) throw sysError('ioctl(NS_GET_OWNER_UID)');
  return out.readUInt32LE(0);
}

/** An ioctl that answers with a new fd (SIOCGSKNS: a socket's network namespace). */
export function ioctlFd(fd: number, request: number, what: string): number {
  const r = c.ioctl(fd, request);
  if (r < 0) throw sysError('ioctl', { path: what });
  return r;
}
