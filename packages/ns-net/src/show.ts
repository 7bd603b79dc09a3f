/**
 * What `ip [-4|-6] [-j] [-br] [-d] [-s] link|addr|route show [dev NAME]` prints, as a string:
 * the same printers as ns-net's ip grammar (src/cli/ipaddress.ts, iproute.ts), which print
 * text and JSON in one pass as iproute2 does, so both are byte-identical to ip's.
 */
import { IpContext, defaultGlobals } from './cli/context';
import { listLinksAndAddresses } from './cli/ipaddress';
import { doIproute } from './cli/iproute';
import { IpExit } from './cli/errors';
import { NsError } from 'ns-core/errors';
import type { RtnlHandle } from './verbs/handle';

export type ShowObject = 'link' | 'addr' | 'route';

export interface ShowOptions {
  /** Only this link (`dev NAME`); for routes, those through it. */
  readonly dev?: string | undefined;
  /** AF.INET or AF.INET6 (`-4`/`-6`); routes default to IPv4, as `ip route` does. */
  readonly family?: number | undefined;
  /** `ip -j` output instead of text. */
  readonly json?: boolean;
  /** `-p` with json. */
  readonly pretty?: boolean;
  /** `-br`. */
  readonly brief?: boolean;
  /** `-d`. */
  readonly details?: boolean;
  /** `-s` (2 for `-s -s`). */
  readonly stats?: number;
}

/**
 * Equivalent to: `ip [-4|-6] [-j] link|addr|route show [dev NAME]` in the handle's namespace.
 * @throws NsError from the kernel; NsError ENODEV for a device that does not exist.
 */
export function ipShow(h: RtnlHandle, object: ShowObject, o: ShowOptions = {}): string {
  const g = {
    ...defaultGlobals(), json: o.json ?? false, pretty: o.pretty ?? false, brief: o.brief ?? false,
    details: o.details ? 1 : 0, stats: o.stats ?? 0, ...(o.family !== undefined ? { family: o.family } : {}),
  };
  const ctx = new IpContext(g, h);
  const words = o.dev !== undefined ? ['dev', o.dev] : [];
  const never = (): never => { throw new IpExit(255, ''); };
  try {
    if (object === 'route') doIproute(ctx, ['show', ...words]);
    else listLinksAndAddresses(ctx, words, object === 'link', never);
  } catch (e) {
    // The CLI's words for a missing device (exit 1) or a kernel error (exit 2), as an NsError.
    if (e instanceof IpExit) throw new NsError({ errno: e.status === 1 ? 19 : 5, code: e.status === 1 ? 'ENODEV' : 'EIO', message: e.stderr.trim() });
    throw e;
  }
  return ctx.p.take();
}
