/**
 * What every `ip`-grammar command shares: the global options, the rtnetlink handle of the
 * namespace it acts in (-n NAME), the printer, the link-name cache ip keeps (lib/ll_map.c),
 * and turning kernel errors into ip's words.
 */
import { writeAll } from 'ns-core/bytes';
import { NsError } from 'ns-core/errors';
import { Namespace } from 'ns-core/namespace';
import { AF } from '../codec/constants';
import { extackOf } from '../transport/socket';
import { RtnlHandle } from '../verbs/handle';
import type { Link } from '../verbs/link';
import { IpExit } from './errors';
import { Printer } from './printer';
import { strerror } from './strerror';

/** The options before the object (ip.c main()). */
export interface Globals {
  family: number;
  json: boolean;
  pretty: boolean;
  brief: boolean;
  details: number;
  stats: number;
  oneline: boolean;
  numeric: boolean;
  all: boolean;
  force: boolean;
  human: number;
  iec: boolean;
  resolve: boolean;
  timestamp: number;
  echo: boolean;
  /** -l: how many rounds a flush may take (0: no limit). */
  loops: number;
  batch?: string;
  /** -n NAME: act inside /run/netns/NAME. */
  netns?: string;
}

export function defaultGlobals(): Globals {
  return {
    family: AF.UNSPEC, json: false, pretty: false, brief: false, details: 0, stats: 0, oneline: false, numeric: false,
    all: false, force: false, human: 0, iec: false, resolve: false, timestamp: 0, echo: false, loops: 10,
  };
}

/** Writes go straight to the fds (ns-core's writeAll), so that output and errors keep ip's order and nothing is lost at exit. */
export function writeOut(fd: 1 | 2, text: string): void {
  writeAll(fd, text);
}

/** "RTNETLINK answers: File exists", or "Error: <the kernel's message>." with extended ack (lib/libnetlink.c). */
export function kernelMessage(err: NsError): string {
  const msg = extackOf(err);
  if (msg) return `Error: ${msg}${msg.endsWith('.') ? '' : '.'}\n`;
  return `RTNETLINK answers: ${strerror(-err.errno)}\n`;
}

/** What ip prints for a dump the kernel ended with an error (rtnl_dump_done()): ENOENT and EOPNOTSUPP say nothing. */
export function dumpErrorMessage(err: NsError): string {
  if (extackOf(err)) return kernelMessage(err);
  if (err.code === 'ENOENT' || err.code === 'EOPNOTSUPP') return '';
  return kernelMessage(err);
}

/** A failed rtnetlink request: "RTNETLINK answers: ..." and exit 2, as ip's rtnl_talk() failures end. */
export function isKernelError(e: unknown): e is NsError {
  return e instanceof NsError && typeof e.syscall === 'string' && e.syscall.startsWith('RTM_');
}

interface CachedLink {
  readonly index: number;
  readonly name: string;
  readonly flags: number;
}

export class IpContext {
  readonly g: Globals;
  readonly p: Printer;
  /** The batch file's name and line, for "Command failed FILE:LINE". */
  #rtnl: RtnlHandle | undefined;
  #netns: Namespace | undefined;
  readonly #byIndex = new Map<number, CachedLink>();
  readonly #byName = new Map<string, CachedLink>();

  /** A handle given by the caller stays open: close() leaves it alone. */
  readonly #borrowed: boolean;

  constructor(g: Globals, rtnl?: RtnlHandle) {
    this.g = g;
    this.p = new Printer({ json: g.json, pretty: g.pretty, oneline: g.oneline });
    this.#rtnl = rtnl;
    this.#borrowed = rtnl !== undefined;
  }

  /**
   * The namespace of -n NAME, opened once (ip's netns_switch()).
   * @throws IpExit 255 "Cannot open network namespace" as ip says it.
   */
  get netns(): Namespace | undefined {
    if (this.g.netns === undefined) return undefined;
    if (!this.#netns) this.#netns = openNamedNetns(this.g.netns);
    return this.#netns;
  }

  /** The rtnetlink handle, in the -n namespace if one was given. */
  get rtnl(): RtnlHandle {
    if (!this.#rtnl) {
      const ns = this.netns;
      this.#rtnl = ns ? RtnlHandle.at(ns) : RtnlHandle.current();
    }
    return this.#rtnl;
  }

  close(): void {
    if (!this.#borrowed) this.#rtnl?.close();
    this.#netns?.close();
    this.#rtnl = undefined;
    this.#netns = undefined;
  }

  /** Writes what the printer holds to stdout. */
  flush(): void {
    writeOut(1, this.p.take());
  }

  /** A warning on stderr, at once (after what stdout has so far), as ip prints them while it parses. */
  warn(text: string): void {
    this.flush();
    writeOut(2, text);
  }

  /** Runs a request; a kernel error becomes ip's message and exit 2. */
  talk<T>(fn: (h: RtnlHandle) => T): T {
    try {
      return fn(this.rtnl);
    } catch (e) {
      if (isKernelError(e)) throw new IpExit(2, kernelMessage(e));
      throw e;
    }
  }

  /** ll_remember_index(): what a dump or a lookup told us about a link. */
  remember(link: Link): void {
    const old = this.#byIndex.get(link.index);
    if (old) this.#byName.delete(old.name);
    const c = { index: link.index, name: link.name, flags: link.flags };
    this.#byIndex.set(link.index, c);
    this.#byName.set(link.name, c);
  }

  /** ll_drop_by_index(): after a change, the next use asks again. */
  forget(index: number): void {
    const old = this.#byIndex.get(index);
    if (!old) return;
    this.#byIndex.delete(index);
    this.#byName.delete(old.name);
  }

  /**
   * ll_name_to_index(): the cache, else the kernel (by IFLA_IFNAME, or IFLA_ALT_IFNAME for a
   * longer name), else "ifN" read as index N. 0 if there is no such link.
   */
  nameToIndex(name: string): number {
    const cached = this.#byName.get(name);
    if (cached) return cached.index;
    try {
      const link = this.rtnl.linkByName(name);
      this.remember(link);
      return link.index;
    } catch (e) {
      if (!(e instanceof NsError) || e.code === 'EBADF') throw e;
    }
    const m = /^if([0-9]+)$/.exec(name);
    return m ? Number(m[1]) >>> 0 : 0;
  }

  #lookup(index: number): CachedLink | undefined {
    const cached = this.#byIndex.get(index);
    if (cached) return cached;
    try {
      const link = this.rtnl.linkByIndex(index);
      this.remember(link);
      return this.#byIndex.get(index);
    } catch (e) {
      if (!(e instanceof NsError) || e.code === 'EBADF') throw e;
      return undefined;
    }
  }

  /** ll_index_to_name(): "*" for 0, "ifN" for a link the kernel does not know. */
  indexToName(index: number): string {
    if (index === 0) return '*';
    return this.#lookup(index)?.name ?? `if${index}`;
  }

  /** ll_index_to_flags(): the link's IFF_* flags, -1 if unknown. */
  indexToFlags(index: number): number {
    if (index === 0) return 0;
    return this.#lookup(index)?.flags ?? -1;
  }
}

/** ip's netns_switch() failure: "Cannot open network namespace "NAME": ..." and exit 255. */
export function openNamedNetns(name: string): Namespace {
  const path = `/run/netns/${name}`;
  try {
    return Namespace.open(path, 'net');
  } catch (e) {
    const errno = e instanceof NsError ? -e.errno : 2;
    if (e instanceof NsError && e.code === 'EINVAL') {
      throw new IpExit(255, `setting the network namespace "${name}" failed: ${strerror(22)}\n`);
    }
    throw new IpExit(255, `Cannot open network namespace "${name}": ${strerror(errno)}\n`);
  }
}
