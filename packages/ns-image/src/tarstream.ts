/**
 * A push-style tar reader: the caller feeds bytes, entries come out synchronously, nothing is
 * written anywhere. Each header is decoded by node-tar's Header and each PAX header by its Pax
 * (number formats, ustar prefixes, GNU long names, PAX precedence); the framing is ours because
 * node-tar's Parser drops PAX records it does not know and decodes the rest as text cut at the
 * first NUL, which loses SCHILY.xattr.* values (file capabilities are binary). Semantics follow
 * node-tar's Parser in strict mode: a bad checksum, a missing path, an unknown entry type or an
 * archive cut inside an entry is an error; two zero blocks end the archive.
 */
import { Header } from 'tar/header';
import { Pax } from 'tar/pax';

export interface TarEntry {
  /** As in the archive (PAX path and GNU long names applied), not yet cleaned. */
  readonly path: string;
  /** node-tar's type names: 'File', 'Directory', 'SymbolicLink', 'Link', 'CharacterDevice', ... */
  readonly type: string;
  readonly linkpath: string | undefined;
  /** Permission bits and setuid/setgid/sticky (& 0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: Date | undefined;
  readonly atime: Date | undefined;
  readonly devmajor: number;
  readonly devminor: number;
  /** SCHILY.xattr.* records of the entry's PAX header, values as raw bytes. */
  readonly xattrs: ReadonlyMap<string, Buffer>;
}

export interface EntrySink {
  data(chunk: Buffer): void;
  end(): void;
}

/** What is wrong with the archive itself (framing, headers); callers add which archive. */
export class TarFormatError extends Error {}

const ENTRY_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Link', 'SymbolicLink', 'CharacterDevice', 'BlockDevice', 'Directory', 'FIFO', 'GNUDumpDir']);
const LINK_TYPES = new Set(['Link', 'SymbolicLink']);
/** node-tar's meta types: they describe the next entry. */
const META_TYPES = new Set(['ExtendedHeader', 'OldExtendedHeader', 'GlobalExtendedHeader', 'NextFileHasLongPath', 'OldGnuLongPath', 'NextFileHasLongLinkpath']);
/** node-tar's own bound on a meta entry (1 MiB): larger ones it ignores, we refuse. */
export const MAX_META_BYTES = 1024 * 1024;

type PaxFields = ConstructorParameters<typeof Pax>[0];

export class TarReader {
  private pending: Buffer | undefined;
  private state: 'header' | 'body' | 'meta' | 'eof' = 'header';
  /** Bytes of the current entry's data still to come, and of padding after it. */
  private remain = 0;
  private padding = 0;
  private sink: EntrySink | undefined;
  private metaType = '';
  private metaChunks: Buffer[] = [];
  private ex: PaxFields | undefined;
  private gex: PaxFields | undefined;
  private xattrs: Map<string, Buffer> | undefined;
  private sawNullBlock = false;
  private current = '';
  entries = 0;

  constructor(private readonly onEntry: (entry: TarEntry) => EntrySink | undefined) {}

  get ended(): boolean {
    return this.state === 'eof';
  }

  write(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let pos = 0;
    while (pos < buf.length && this.state !== 'eof') {
      if (this.state === 'header') {
        if (buf.length - pos < 512) break;
        this.header(buf.subarray(pos, pos + 512));
        pos += 512;
        continue;
      }
      if (this.remain > 0) {
        const n = Math.min(this.remain, buf.length - pos);
        const piece = buf.subarray(pos, pos + n);
        if (this.state === 'meta') this.metaChunks.push(Buffer.from(piece));
        else this.sink?.data(piece);
        this.remain -= n;
        pos += n;
        if (this.remain > 0) continue;
      }
      if (this.padding > 0) {
        const n = Math.min(this.padding, buf.length - pos);
        this.padding -= n;
        pos += n;
        if (this.padding > 0) continue;
      }
      this.finishEntry();
    }
    if (pos < buf.length && this.state !== 'eof') this.pending = Buffer.from(buf.subarray(pos));
  }

  /** The input ended: anything but a clean boundary is a truncated archive. */
  end(): void {
    if (this.state === 'eof') return;
    if (this.state !== 'header' || this.pending) {
      const inside = this.state === 'header' ? 'a header' : `entry ${JSON.stringify(this.current)}`;
      throw new TarFormatError(`truncated archive: it ends inside ${inside}`);
    }
    // Two zero blocks are optional at the very end: Go's archive/tar, which docker uses, accepts
    // their absence too.
  }

  private header(block: Buffer): void {
    let h: Header;
    try {
      h = new Header(block, 0, this.ex, this.gex);
    } catch (e) {
      throw new TarFormatError(`invalid tar header: ${(e as Error).message}`);
    }
    if (h.nullBlock) {
      if (this.sawNullBlock) this.state = 'eof';
      this.sawNullBlock = true;
      return;
    }
    this.sawNullBlock = false;
    if (!h.cksumValid) throw new TarFormatError(`tar header checksum failure after entry ${JSON.stringify(this.current)}`);
    if (!h.path) throw new TarFormatError('tar header without a path');
    const type = h.type;
    const size = h.size ?? 0;
    this.current = h.path;
    if (META_TYPES.has(type)) {
      if (size > MAX_META_BYTES) throw new TarFormatError(`extended header for the entry after ${JSON.stringify(this.current)} is ${size} bytes (limit ${MAX_META_BYTES})`);
      this.state = 'meta';
      this.metaType = type;
      this.metaChunks = [];
      this.setBody(size);
      if (size === 0) this.finishEntry();
      return;
    }
    if (!ENTRY_TYPES.has(type)) throw new TarFormatError(`entry ${JSON.stringify(h.path)} has unsupported type ${JSON.stringify(String.fromCharCode(block[156]!))}`);
    if (LINK_TYPES.has(type) && !h.linkpath) throw new TarFormatError(`entry ${JSON.stringify(h.path)}: link without a target`);
    if (!LINK_TYPES.has(type) && h.linkpath) throw new TarFormatError(`entry ${JSON.stringify(h.path)}: a ${type} with a link target`);
    const entry: TarEntry = {
      path: h.path, type, linkpath: h.linkpath || undefined, mode: (h.mode ?? 0) & 0o7777,
      uid: h.uid ?? 0, gid: h.gid ?? 0, size, mtime: h.mtime, atime: h.atime,
      devmajor: h.devmaj || octal(block, 329, 8), devminor: h.devmin || octal(block, 337, 8),
      xattrs: this.xattrs ?? new Map(),
    };
    this.ex = undefined;
    this.xattrs = undefined;
    this.entries++;
    this.state = 'body';
    this.sink = this.onEntry(entry);
    this.setBody(size);
    if (size === 0) this.finishEntry();
  }

  private setBody(size: number): void {
    this.remain = size;
    this.padding = (512 - (size % 512)) % 512;
  }

  private finishEntry(): void {
    if (this.state === 'meta') {
      this.meta(Buffer.concat(this.metaChunks));
      this.metaChunks = [];
    } else if (this.state === 'body') {
      const sink = this.sink;
      this.sink = undefined;
      sink?.end();
    }
    this.state = 'header';
  }

  private meta(body: Buffer): void {
    const text = body.toString();
    switch (this.metaType) {
      case 'ExtendedHeader':
      case 'OldExtendedHeader':
        this.ex = Pax.parse(text, this.ex, false);
        this.xattrs = paxXattrs(body, this.xattrs);
        break;
      case 'GlobalExtendedHeader':
        this.gex = Pax.parse(text, this.gex, true);
        break;
      case 'NextFileHasLongPath':
      case 'OldGnuLongPath':
        this.ex = { ...(this.ex ?? {}), path: text.replace(/\0.*/s, '') };
        break;
      case 'NextFileHasLongLinkpath':
        this.ex = { ...(this.ex ?? {}), linkpath: text.replace(/\0.*/s, '') };
        break;
    }
  }
}

/** An octal header field (devmajor/devminor in GNU-magic headers, which node-tar skips). */
function octal(block: Buffer, off: number, len: number): number {
  const s = block.subarray(off, off + len).toString('latin1').replace(/[\0 ].*$/s, '').trim();
  return /^[0-7]+$/.test(s) ? parseInt(s, 8) : 0;
}

/**
 * The SCHILY.xattr.NAME records of a PAX header, values byte for byte. A record is
 * "<len> <key>=<value>\n" where len counts the whole record (POSIX pax, "pax Extended Header").
 * GNU sparse files (GNU.sparse.*) would need their map applied: refused, not misread.
 */
export function paxXattrs(body: Buffer, into?: Map<string, Buffer>): Map<string, Buffer> | undefined {
  let out = into;
  let pos = 0;
  while (pos < body.length) {
    const space = body.indexOf(0x20, pos);
    if (space < 0) break;
    const len = Number(body.subarray(pos, space).toString('latin1'));
    if (!Number.isInteger(len) || len <= 0 || pos + len > body.length) break;
    const record = body.subarray(space + 1, pos + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq > 0) {
      const key = record.subarray(0, eq).toString();
      if (key.startsWith('GNU.sparse.')) throw new TarFormatError('GNU sparse files are not supported');
      if (key.startsWith('SCHILY.xattr.')) {
        out ??= new Map();
        out.set(key.slice('SCHILY.xattr.'.length), Buffer.from(record.subarray(eq + 1)));
      }
    }
    pos += len;
  }
  return out;
}
