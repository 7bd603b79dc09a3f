/**
 * Error codes of ns-image beyond errno names. Every failure is an NsError with one of these
 * codes (or an errno name from a failed syscall); callers branch on `code`:
 *
 * - EREFERENCE  an image reference that docker would not accept ("invalid reference format")
 * - ENOIMAGE    no image in the store answers to that reference or id
 * - EIMAGE      an archive, layout, manifest, config or layer that is malformed, hostile,
 *               of an unsupported kind, or over a size limit
 * - EDIGEST     content whose sha256 or size is not the one its descriptor or config names
 * - EREGISTRY   a registry that answered with an error status, garbage or too much
 * - EBUSY       an image still used by a container (rmi without force)
 * - ENOTSUP     a layer compression this Node cannot decompress (zstd before Node 22.15)
 * - ETIMEDOUT   a registry or the store lock that did not answer in time
 * - EPERM       a store that belongs to another uid
 */
import { NsError } from 'ns-core/errors';

export type ImageErrorCode = 'EREFERENCE' | 'ENOIMAGE' | 'EIMAGE' | 'EDIGEST' | 'EREGISTRY' | 'EBUSY' | 'ENOTSUP' | 'ETIMEDOUT' | 'EPERM';

/** errno numbers for the codes that are errno names, so `errno` is right where one applies. */
const ERRNO: Partial<Record<ImageErrorCode, number>> = { EBUSY: 16, ENOTSUP: 95, ETIMEDOUT: 110, EPERM: 1 };

export function imageError(code: ImageErrorCode, message: string, extra: { path?: string; step?: string; hint?: string } = {}): NsError {
  return new NsError({ errno: ERRNO[code] ?? 0, code, message, ...extra });
}

/**
 * Prefixes what went wrong with where: "load d.tar: image busybox:latest: layer sha256:ab..: ".
 * The context travels on a plain list so nested steps can each add theirs.
 */
export class Where {
  constructor(readonly parts: readonly string[] = []) {}
  with(part: string): Where {
    return new Where([...this.parts, part]);
  }
  error(code: ImageErrorCode, what: string, extra: { path?: string; hint?: string } = {}): NsError {
    return imageError(code, [...this.parts, what].join(': '), extra);
  }
  /** Re-labels an NsError from a syscall (or anything thrown) with this context, keeping its code. */
  wrap(e: unknown): NsError {
    if (e instanceof NsError && this.parts.length && !e.message.startsWith(this.parts[0]!)) {
      return new NsError({
        errno: Math.abs(e.errno), code: e.code, message: `${this.parts.join(': ')}: ${e.message}`,
        ...(e.syscall !== undefined ? { syscall: e.syscall } : {}),
        ...(e.path !== undefined ? { path: e.path } : {}),
        ...(e.hint !== undefined ? { hint: e.hint } : {}),
      });
    }
    if (e instanceof NsError) return e;
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === 'string' && typeof err.errno === 'number') {
      // A node:fs error: keep its errno name, say which syscall on which path.
      return new NsError({
        errno: Math.abs(err.errno), code: err.code, syscall: err.syscall ?? 'operation',
        message: `${[...this.parts, `${err.syscall ?? 'operation'} ${err.path ?? ''}`.trim()].join(': ')} failed: ${err.code}`,
        ...(err.path !== undefined ? { path: err.path } : {}),
      });
    }
    return imageError('EIMAGE', [...this.parts, String((e as Error)?.message ?? e)].join(': '));
  }
}

/** "sha256:0123456789ab" for messages: long enough to find, short enough for one line. */
export function shortDigest(digest: string): string {
  const i = digest.indexOf(':');
  return i < 0 ? digest.slice(0, 12) : `${digest.slice(0, i)}:${digest.slice(i + 1, i + 13)}`;
}
