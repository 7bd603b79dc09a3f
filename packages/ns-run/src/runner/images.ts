/**
 * ns-run's image commands (docker's): load, pull, images, rmi, over ns-image's store. The
 * store is --storage DIR, else $NS_RUN_STORAGE, else ns-image's default (/var/lib/ns-run as
 * root, ${XDG_DATA_HOME:-~/.local/share}/ns-run otherwise).
 */
import { usageError } from 'ns-core';
import { STANDARD_OPTIONS, type CommandSpec, type OptionSpec, type ParsedArgs } from 'ns-core/cli';
import type * as NsImage from 'ns-image';
import type { ImageStore, ImageSummary, ProgressCallback } from 'ns-image';

/** ns-image (tar, the registry client) loads when an image is used, not with every ns-run start-up. */
const nsImage = (): typeof NsImage => require('ns-image');

export const STORAGE_OPTION: OptionSpec = {
  long: 'storage', arg: 'required', metavar: '<dir>', help: 'the image store (default $NS_RUN_STORAGE, else /var/lib/ns-run as root, ~/.local/share/ns-run)',
  complete: 'dir',
};

const QUIET: OptionSpec = { long: 'quiet', short: 'q', help: 'print nothing but the result' };

export const IMAGE_COMMANDS: CommandSpec[] = [
  {
    prog: 'ns-run load', usage: ['[-i <file>|<dir>]', '< <file>'],
    summary: 'Load images from a docker archive, an OCI archive or an OCI image layout directory (as docker load; without -i, the archive on stdin).',
    options: [{ long: 'input', short: 'i', arg: 'required', metavar: '<file>|<dir>', help: 'the archive or layout', complete: 'file' },
              QUIET, STORAGE_OPTION, ...STANDARD_OPTIONS],
  },
  {
    prog: 'ns-run pull', usage: ['[-q] <reference>'],
    summary: 'Pull an image from a registry (OCI distribution API; plain HTTP for loopback registries).',
    options: [QUIET, STORAGE_OPTION, ...STANDARD_OPTIONS],
  },
  {
    prog: 'ns-run images', usage: ['[-q] [--format json]'], summary: 'List the images of the store, newest first.',
    options: [QUIET, { long: 'format', arg: 'required', metavar: 'table|json', help: 'json: one JSON object per image and line', complete: ['table', 'json'] },
              STORAGE_OPTION, ...STANDARD_OPTIONS],
  },
  {
    prog: 'ns-run rmi', usage: ['[-f] <image>...'], summary: 'Remove images (refused while a container uses one, unless -f untags it).',
    stopAtOperand: false,
    options: [{ long: 'force', short: 'f', help: 'untag an image a container uses; remove one several repositories name' },
              STORAGE_OPTION, ...STANDARD_OPTIONS],
  },
];

/** The store the options name. */
export function openStore(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): ImageStore {
  const root = args.last('storage') ?? (env['NS_RUN_STORAGE'] || undefined);
  if (root === '') throw usageError('--storage: the directory must not be empty');
  return nsImage().ImageStore.open(root !== undefined ? { root } : {});
}

/** docker's progress: lines rewritten in place on a terminal, one per finished layer otherwise. */
function progressTo(stream: NodeJS.WriteStream, quiet: boolean): { onProgress: ProgressCallback; finish(): void } {
  const renderer = new (nsImage().ProgressRenderer)({ tty: stream.isTTY === true, quiet });
  return {
    onProgress: (event) => {
      const text = renderer.update(event);
      if (text) stream.write(text);
    },
    finish: () => {
      const text = renderer.finish();
      if (text) stream.write(text);
    },
  };
}

function onlyOperands(args: ParsedArgs, command: string, count: number, what: string): string[] {
  if (args.operands.length !== count) throw usageError(`${command}: expected ${what}, got ${args.operands.length ? `'${args.operands.join(' ')}'` : 'nothing'}`);
  return [...args.operands];
}

export async function load(args: ParsedArgs): Promise<void> {
  onlyOperands(args, 'load', 0, 'no operand (the archive is -i FILE)');
  const input = args.last('input');
  // docker load reads stdin without -i, and refuses a terminal there.
  if (input === undefined && process.stdin.isTTY) throw usageError('requested load from stdin, but stdin is a terminal (-i FILE|DIR)');
  const quiet = args.has('quiet');
  const progress = progressTo(process.stderr, quiet);
  const loaded = await nsImage().loadImages(openStore(args), input ?? '/dev/stdin', { onProgress: progress.onProgress });
  progress.finish();
  for (const image of loaded) {
    for (const ref of image.references) process.stdout.write(`Loaded image: ${ref}\n`);
    if (!image.references.length) process.stdout.write(`Loaded image ID: ${image.id}\n`);
  }
}

export async function pull(args: ParsedArgs): Promise<void> {
  const [text] = onlyOperands(args, 'pull', 1, 'one image reference');
  const quiet = args.has('quiet');
  const progress = progressTo(process.stdout, quiet);
  const pulled = await nsImage().pullImage(openStore(args), text!, { onProgress: progress.onProgress });
  progress.finish();
  if (!quiet) process.stdout.write(`Digest: ${pulled.digest}\n`);
  process.stdout.write(`${pulled.reference}\n`);
}

/** docker's CREATED column: "3 days ago". */
export function since(iso: string | undefined, now = Date.now()): string {
  if (!iso) return 'N/A';
  const seconds = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  const units: [number, string][] = [[365 * 86400, 'year'], [30 * 86400, 'month'], [7 * 86400, 'week'], [86400, 'day'], [3600, 'hour'], [60, 'minute']];
  for (const [size, name] of units) {
    const n = Math.floor(seconds / size);
    if (n >= 1) return `${n} ${name}${n > 1 ? 's' : ''} ago`;
  }
  return seconds < 1 ? 'Less than a second ago' : `${seconds} second${seconds > 1 ? 's' : ''} ago`;
}

interface ImageRow { readonly repository: string; readonly tag: string; readonly digest: string; readonly image: ImageSummary }

/** One row per tag, as docker images shows them ('<none>' for an image no tag names). */
function rows(images: readonly ImageSummary[]): ImageRow[] {
  return images.flatMap((image) => {
    if (!image.repoTags.length) return [{ repository: '<none>', tag: '<none>', digest: image.repoDigests[0]?.split('@')[1] ?? '<none>', image }];
    return image.repoTags.map((t) => {
      const ref = nsImage().parseReference(t);
      const familiar = nsImage().familiarReference({ domain: ref.domain, path: ref.path });
      // A repository's digest is the one it was pulled by (docker images --digests): a tag of a
      // repository nothing was pulled from has none.
      const pulled = image.repoDigests.find((d) => d.slice(0, d.indexOf('@')) === `${ref.domain}/${ref.path}`);
      return { repository: familiar, tag: ref.tag ?? '<none>', digest: pulled?.split('@')[1] ?? '<none>', image };
    });
  });
}

const shortId = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

export function images(args: ParsedArgs): void {
  onlyOperands(args, 'images', 0, 'no operand');
  const format = args.last('format') ?? 'table';
  if (format !== 'table' && format !== 'json') throw usageError(`--format: '${format}' is not table or json`);
  const list = rows(openStore(args).list());
  if (args.has('quiet')) {
    for (const id of new Set(list.map((r) => shortId(r.image.id)))) process.stdout.write(`${id}\n`);
    return;
  }
  if (format === 'json') {
    for (const r of list) {
      process.stdout.write(`${JSON.stringify({
        ID: r.image.id, Repository: r.repository, Tag: r.tag, Digest: r.digest, CreatedAt: r.image.created ?? null,
        CreatedSince: since(r.image.created), Size: nsImage().formatBytes(r.image.size), VirtualSize: r.image.size,
      })}\n`);
    }
    return;
  }
  const table = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'],
                 ...list.map((r) => [r.repository, r.tag, shortId(r.image.id), since(r.image.created), nsImage().formatBytes(r.image.size)])];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) process.stdout.write(`${row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('').trimEnd()}\n`);
}

/**
 * Container roots of this store whose container is gone without removing them (its runner
 * was killed): they would hold their images forever. A container being set up or running has
 * a state file naming this store.
 */
function reclaimStaleRoots(store: ImageStore): void {
  // Only rmi needs the containers' state: load, pull and images do not load ns-container for it.
  const { scanContainers, StateStore } = require('ns-container') as typeof import('ns-container');
  const live = new Set(scanContainers(new StateStore(), { all: true }).containers
    .filter((c) => c.image?.store === store.root && c.state !== 'dead').map((c) => c.name));
  for (const root of store.containerRoots()) if (!live.has(root.id)) store.removeContainerRoot(root.id);
}

export function rmi(args: ParsedArgs): void {
  if (!args.operands.length) throw usageError('rmi: which image?');
  const store = openStore(args);
  reclaimStaleRoots(store);
  for (const text of args.operands) {
    const result = store.remove(text, { force: args.has('force') });
    for (const u of result.untagged) process.stdout.write(`Untagged: ${u}\n`);
    for (const d of result.deleted) process.stdout.write(`Deleted: ${d}\n`);
  }
}
