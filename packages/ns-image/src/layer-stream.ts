/**
 * One layer blob on its way in: bytes are hashed as they arrive (the blob's digest), the
 * compression found from its magic bytes as docker does (gzip, zstd or none), the decompressed
 * bytes hashed again (the diff_id the image config names) and, when a directory is given,
 * unpacked into it. A failure does not stop the hashing: the blob is still read to its end
 * (an archive goes on to its next member) and the failure is kept on the result, for the caller
 * to report with the image it belongs to.
 */
import { createHash, type Hash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { NsError } from 'ns-core/errors';
import { imageError, type Where } from './errors';
import { TarFormatError, TarReader } from './tarstream';
import { LayerWriter, type UnpackPolicy } from './unpack';

export type Compression = 'gzip' | 'zstd' | 'none';

export interface LayerResult {
  /** sha256 of the bytes as received. */
  readonly digest: string;
  readonly compressedSize: number;
  /** sha256 of the uncompressed tar; undefined when only hashing was asked for. */
  readonly diffId: string | undefined;
  /** Bytes of the uncompressed tar. */
  readonly size: number;
  readonly compression: Compression | undefined;
  /** The first thing that went wrong, reported by the caller once it knows whose layer this is. */
  readonly error: NsError | undefined;
}

export interface LayerSinkOptions {
  /** Unpack into this (empty) directory; without it the blob is only hashed. */
  readonly dir?: string;
  readonly policy: UnpackPolicy;
  readonly where: Where;
  /** Most uncompressed bytes accepted. */
  readonly maxBytes: number;
  readonly onBytes?: (n: number) => void;
}

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** node:zlib has zstd from Node 22.15 / 23.8; before that a zstd layer cannot be read. */
export function zstdDecompressor(): zlib.Gunzip | undefined {
  const make = (zlib as unknown as { createZstdDecompress?: () => zlib.Gunzip }).createZstdDecompress;
  return make ? make() : undefined;
}

export class LayerSink {
  private readonly blobHash: Hash = createHash('sha256');
  private readonly tarHash: Hash | undefined;
  private compressedSize = 0;
  private size = 0;
  private compression: Compression | undefined;
  private head: Buffer[] = [];
  private headLength = 0;
  private decomp: zlib.Gunzip | undefined;
  /** Resolves when decompression stops early (corrupt data, or a failure that makes the rest moot). */
  private halted: Promise<void> | undefined;
  private halt: () => void = () => {};
  private decompOk = true;
  private readonly reader: TarReader | undefined;
  private readonly writer: LayerWriter | undefined;
  private error: NsError | undefined;

  constructor(private readonly opts: LayerSinkOptions) {
    if (opts.dir !== undefined) {
      this.tarHash = createHash('sha256');
      this.writer = new LayerWriter(opts.dir, opts.policy, opts.where);
      this.reader = new TarReader(this.writer.onEntry);
    }
  }

  /** Takes the next bytes; await the result before writing more (it is the backpressure). */
  write(chunk: Buffer): Promise<void> | undefined {
    this.blobHash.update(chunk);
    this.compressedSize += chunk.length;
    this.opts.onBytes?.(chunk.length);
    if (!this.tarHash) return undefined;
    if (this.compression === undefined) {
      this.head.push(chunk);
      this.headLength += chunk.length;
      if (this.headLength < ZSTD_MAGIC.length) return undefined;
      const head = Buffer.concat(this.head);
      this.head = [];
      this.start(head);
      return this.decompress(head);
    }
    return this.decompress(chunk);
  }

  async end(): Promise<LayerResult> {
    if (this.tarHash && this.compression === undefined) {
      const head = Buffer.concat(this.head);
      this.head = [];
      this.start(head);
      await this.decompress(head);
    }
    if (this.decomp && this.decompOk) {
      const ended = new Promise<void>((resolve) => this.decomp!.once('end', resolve));
      this.decomp.end();
      await Promise.race([ended, this.halted]);
    }
    if (this.reader && !this.error) {
      this.guard(() => this.reader!.end());
    }
    if (this.writer) {
      try {
        await this.writer.settle();
      } catch (e) {
        this.fail(this.opts.where.wrap(e));
      }
      if (!this.error) this.guard(() => this.writer!.finish());
      await this.writer.abandon();
    }
    const digest = `sha256:${this.blobHash.digest('hex')}`;
    return {
      digest,
      compressedSize: this.compressedSize,
      diffId: this.tarHash ? (this.compression === 'none' ? digest : `sha256:${this.tarHash.digest('hex')}`) : undefined,
      size: this.size,
      compression: this.compression,
      error: this.error,
    };
  }

  private start(head: Buffer): void {
    const starts = (magic: number[]) => magic.every((b, i) => head[i] === b);
    if (starts(GZIP_MAGIC)) {
      this.compression = 'gzip';
      this.decomp = zlib.createGunzip({ chunkSize: 256 * 1024 });
    } else if (starts(ZSTD_MAGIC)) {
      this.compression = 'zstd';
      this.decomp = zstdDecompressor();
      if (!this.decomp) {
        this.decompOk = false;
        this.fail(imageError('ENOTSUP', `${[...this.opts.where.parts, `layer is zstd-compressed, which Node ${process.version}'s zlib cannot decompress`].join(': ')}`, { hint: 'Node 22.15 or later reads zstd layers' }));
        return;
      }
    } else {
      this.compression = 'none';
      return;
    }
    const decomp = this.decomp;
    this.halted = new Promise((resolve) => { this.halt = resolve; });
    decomp.on('data', (c: Buffer) => this.feed(c));
    decomp.once('error', (e) => this.fail(this.opts.where.error('EIMAGE', `corrupt ${this.compression} data: ${e.message}`)));
  }

  private decompress(chunk: Buffer): Promise<void> | undefined {
    if (this.compression === 'none') {
      this.feed(chunk);
      return this.pressure();
    }
    if (!this.decomp || !this.decompOk) return undefined;
    const written = new Promise<void>((resolve) => this.decomp!.write(chunk, () => resolve()));
    return Promise.race([written, this.halted!]).then(() => this.pressure());
  }

  private feed(chunk: Buffer): void {
    // Uncompressed, the tar is the blob: its hash is the blob's, computed once.
    if (this.compression !== 'none') this.tarHash!.update(chunk);
    this.size += chunk.length;
    if (this.error) return;
    if (this.size > this.opts.maxBytes) {
      this.fail(this.opts.where.error('EIMAGE', `layer is more than ${this.opts.maxBytes} bytes uncompressed (the limit)`));
      return;
    }
    this.guard(() => this.reader!.write(chunk));
  }

  /** What the writer still has in flight, as backpressure for whoever feeds us. */
  private pressure(): Promise<void> | undefined {
    return this.error ? undefined : this.writer?.backpressure();
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof TarFormatError) this.fail(this.opts.where.error('EIMAGE', `corrupt tar: ${e.message}`));
      else this.fail(this.opts.where.wrap(e));
    }
  }

  /** The input will not go on (the archive or the transfer failed): release what is held. */
  async abort(): Promise<void> {
    if (this.decomp && this.decompOk) {
      this.decompOk = false;
      this.decomp.destroy();
      this.halt();
    }
    await this.writer?.abandon();
  }

  /** Keeps the first failure; decompressing further would only spend CPU on a refused layer. */
  private fail(e: NsError): void {
    this.error ??= e;
    if (this.decomp && this.decompOk) {
      this.decompOk = false;
      this.decomp.destroy();
      this.halt();
    }
  }
}
