/** Test fixtures built here, offline: tar streams, docker and OCI archives, directory snapshots. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Header } from 'tar/header';

export type EntryType = 'file' | 'dir' | 'symlink' | 'link' | 'char' | 'block' | 'fifo';

export interface EntrySpec {
  readonly name: string;
  readonly type?: EntryType;
  readonly data?: string | Buffer;
  readonly linkpath?: string;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly mtime?: Date;
  readonly devmaj?: number;
  readonly devmin?: number;
  readonly xattrs?: Record<string, Buffer>;
  /** Raw PAX records added to the entry's extended header. */
  readonly pax?: Record<string, string>;
}

const TYPE_NAMES: Record<EntryType, string> = {
  file: 'File', dir: 'Directory', symlink: 'SymbolicLink', link: 'Link', char: 'CharacterDevice', block: 'BlockDevice', fifo: 'FIFO',
};

export function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function pad(b: Buffer): Buffer {
  const rest = (512 - (b.length % 512)) % 512;
  return rest ? Buffer.concat([b, Buffer.alloc(rest)]) : b;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

function header(fields: ConstructorParameters<typeof Header>[0]): Buffer {
  const h = new Header(fields);
  h.encode();
  return h.block!;
}

/** One tar entry (with a PAX header first when it has xattrs or raw PAX records). */
export function tarEntry(spec: EntrySpec): Buffer {
  const type = spec.type ?? (spec.name.endsWith('/') ? 'dir' : 'file');
  const data = type === 'file' ? Buffer.from(spec.data ?? '') : Buffer.alloc(0);
  const parts: Buffer[] = [];
  const records = [
    ...Object.entries(spec.xattrs ?? {}).map(([k, v]) => paxRecord(`SCHILY.xattr.${k}`, v)),
    ...Object.entries(spec.pax ?? {}).map(([k, v]) => paxRecord(k, Buffer.from(v))),
  ];
  if (spec.name.length > 99 && !spec.pax?.path) records.push(paxRecord('path', Buffer.from(spec.name)));
  if (records.length) {
    const body = Buffer.concat(records);
    parts.push(header({ path: 'PaxHeader', type: 'ExtendedHeader', size: body.length, mode: 0o644, mtime: new Date(0) }), pad(body));
  }
  parts.push(header({
    path: spec.name.length > 99 ? spec.name.slice(0, 99) : spec.name,
    type: TYPE_NAMES[type] as never,
    size: data.length,
    mode: spec.mode ?? (type === 'dir' ? 0o755 : 0o644),
    uid: spec.uid ?? 0, gid: spec.gid ?? 0,
    mtime: spec.mtime ?? new Date(1_600_000_000_000),
    ...(spec.linkpath !== undefined ? { linkpath: spec.linkpath } : {}),
    devmaj: spec.devmaj ?? 0, devmin: spec.devmin ?? 0,
  }));
  if (data.length) parts.push(pad(data));
  return Buffer.concat(parts);
}

/** A whole tar: the entries, then (unless told otherwise) the two zero blocks. */
export function tarOf(entries: readonly EntrySpec[], options: { eof?: boolean } = {}): Buffer {
  return Buffer.concat([...entries.map(tarEntry), ...(options.eof === false ? [] : [Buffer.alloc(1024)])]);
}

export function gz(b: Buffer): Buffer {
  return gzipSync(b);
}

export interface ImageSpec {
  /** Layer blobs as stored (tar, or gzip of a tar). */
  readonly layers: readonly Buffer[];
  readonly repoTags?: readonly string[];
  readonly config?: Record<string, unknown>;
  /** Override the diff_ids written to the config (to lie about them). */
  readonly diffIds?: readonly string[];
  readonly architecture?: string;
  readonly variant?: string;
}

/** The image config JSON for SPEC: diff_ids from the layers' uncompressed tars. */
export function configOf(spec: ImageSpec): Buffer {
  const diffIds = spec.diffIds ?? spec.layers.map((l) => sha256(l[0] === 0x1f && l[1] === 0x8b ? gunzipSync(l) : l));
  return Buffer.from(JSON.stringify({
    architecture: spec.architecture ?? 'amd64', os: 'linux', ...(spec.variant ? { variant: spec.variant } : {}),
    created: '2024-01-02T03:04:05Z',
    config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'], ...(spec.config ?? {}) },
    rootfs: { type: 'layers', diff_ids: diffIds },
  }));
}

/** A docker save archive: 'legacy' (<id>/layer.tar) or 'blobs' (docker 25: blobs/sha256/). */
export function dockerArchive(spec: ImageSpec, layout: 'legacy' | 'blobs' = 'legacy', extra: EntrySpec[] = []): Buffer {
  const config = configOf(spec);
  const configName = layout === 'blobs' ? `blobs/sha256/${sha256(config).slice(7)}` : `${sha256(config).slice(7)}.json`;
  const layerNames = spec.layers.map((l, i) => (layout === 'blobs' ? `blobs/sha256/${sha256(l).slice(7)}` : `${String(i).padStart(64, 'a')}/layer.tar`));
  const manifest = [{ Config: configName, RepoTags: spec.repoTags ?? [], Layers: layerNames }];
  return tarOf([
    ...spec.layers.map((l, i) => ({ name: layerNames[i]!, data: l })),
    { name: configName, data: config },
    ...extra,
    { name: 'manifest.json', data: JSON.stringify(manifest) },
  ]);
}

export interface OciLayout {
  readonly files: Map<string, Buffer>;
  readonly manifestDigest: string;
}

/** An OCI image layout (files by path) with one image, or several as an index of platforms. */
export function ociLayout(specs: readonly ImageSpec[], options: { refName?: string; asIndex?: boolean } = {}): OciLayout {
  const files = new Map<string, Buffer>();
  const put = (b: Buffer) => {
    files.set(`blobs/sha256/${sha256(b).slice(7)}`, b);
    return { digest: sha256(b), size: b.length };
  };
  const manifests = specs.map((spec) => {
    const config = configOf(spec);
    const m = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(config) },
      layers: spec.layers.map((l) => ({ mediaType: l[0] === 0x1f ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar', ...put(l) })),
    }));
    return { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...put(m), platform: { os: 'linux', architecture: spec.architecture ?? 'amd64', ...(spec.variant ? { variant: spec.variant } : {}) } };
  });
  const annotations = options.refName ? { annotations: { 'org.opencontainers.image.ref.name': options.refName } } : {};
  let top: { mediaType: string; digest: string; size: number };
  if (options.asIndex) {
    const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
    top = { mediaType: 'application/vnd.oci.image.index.v1+json', ...put(idx) };
  } else {
    const { platform: _p, ...m } = manifests[0]!;
    top = m;
  }
  files.set('index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ ...top, ...annotations }] })));
  files.set('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
  return { files, manifestDigest: top.digest };
}

export function writeLayout(dir: string, layout: OciLayout): void {
  for (const [name, data] of layout.files) {
    fs.mkdirSync(join(dir, name, '..'), { recursive: true });
    fs.writeFileSync(join(dir, name), data);
  }
}

export function layoutArchive(layout: OciLayout): Buffer {
  return tarOf([...layout.files].map(([name, data]) => ({ name, data })));
}

/** Every entry under DIR: type, mode, owner, size, content hash or link target, xattr names. */
/** The store and what is around it, for "as it was before" checks. */
export { treeSnapshot as snapshot } from 'ns-test-kit';

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(join(tmpdir(), `ns-image-${prefix}-`));
}
