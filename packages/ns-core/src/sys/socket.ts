import { NsError } from '../errors';
import { libcFunctions, sysError } from './native';
import { closeFd } from './process';

const c = libcFunctions([
  'int socket(int domain, int type, int protocol)',
  'int bind(int fd, const void *addr, uint32_t len)',
  'int connect(int fd, const void *addr, uint32_t len)',
  'int getsockname(int fd, void *addr, _Inout_ uint32_t *len)',
  'int setsockopt(int fd, int level, int name, const void *val, uint32_t len)',
  'long send(int fd, const void *buf, size_t len, int flags)',
  'long recv(int fd, void *buf, size_t len, int flags)',
]);

export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_RCVTIMEO = 20;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SOL_NETLINK = 270;
export const NETLINK_EXT_ACK = 11;
export const NETLINK_GET_STRICT_CHK = 12;
export const MSG_PEEK = 2;
export const MSG_TRUNC = 0x20;

export function socket(domain: number, type: number, protocol: number): number {
  const fd = c.socket(domain, type | SOCK_CLOEXEC, protocol);
  if (fd < 0) throw sysError('socket');
  return fd;
}

export function bind(fd: number, addr: Buffer): void {
  if (c.bind(fd, addr, addr.length) < 0) throw sysError('bind');
}

export function getsockname(fd: number, size = 128): Buffer {
  const addr = Buffer.alloc(size);
  const len = [size];
  if (c.getsockname(fd, addr, len) < 0) throw sysError('getsockname');
  return addr.subarray(0, len[0]);
}

export function setsockopt(fd: number, level: number, name: number, value: Buffer | number): void {
  const buf = typeof value === 'number' ? Buffer.from(new Int32Array([value]).buffer) : value;
  if (c.setsockopt(fd, level, name, buf, buf.length) < 0) throw sysError('setsockopt');
}

export function send(fd: number, buf: Buffer, flags = 0): number {
  const n = c.send(fd, buf, buf.length, flags);
  if (n < 0) throw sysError('send');
  return Number(n);
}

/** recv(2); returns the byte count (which, with MSG_TRUNC, may exceed buf.length). */
export function recv(fd: number, buf: Buffer, flags = 0): number {
  const n = c.recv(fd, buf, buf.length, flags);
  if (n < 0) throw sysError('recv');
  return Number(n);
}

export const AF_UNIX = 1;
export const SOCK_STREAM = 1;

/**
 * A stream socket connected to the unix socket at `path` (close-on-exec): how an OCI runtime
 * reaches an engine's --console-socket. The path is at most 107 bytes (sockaddr_un.sun_path).
 */
export function connectUnix(path: string): number {
  const name = Buffer.from(path);
  if (name.length > 107 || name.includes(0)) throw new NsError({ errno: 36, syscall: 'connect', path, message: `connect ${path}: ENAMETOOLONG (a unix socket path is at most 107 bytes)` });
  const addr = Buffer.alloc(2 + name.length + 1);
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, 2);
  const fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (c.connect(fd, addr, addr.length) < 0) {
    const err = sysError('connect', { path });
    closeFd(fd);
    throw err;
  }
  return fd;
}
