/**
 * A separate process for the tests that need one: killed mid-load, run concurrently, or run as
 * an unprivileged uid. `node child.js OP JSON`; prints one JSON line: the result or the error.
 */
import { ImageStore, loadImages, pullImage } from '../src/index';

async function main(): Promise<unknown> {
  const [op, json] = process.argv.slice(2);
  const args = JSON.parse(json ?? '{}') as { root?: string; source?: string; image?: string; id?: string; readOnly?: boolean; ref?: string; slow?: boolean };
  const store = ImageStore.open(args.root ? { root: args.root } : {});
  switch (op) {
    case 'root':
      return { root: store.root, rootless: store.rootless };
    case 'load':
      return loadImages(store, args.source!, args.slow ? { onProgress: slowly } : {});
    case 'pull':
      return pullImage(store, args.ref!);
    case 'list':
      return store.list();
    case 'inspect':
      return store.inspect(args.image!);
    case 'container':
      return store.createContainerRoot(args.image!, args.id!, { readOnly: args.readOnly ?? false });
    case 'remove-container':
      return store.removeContainerRoot(args.id!);
    case 'rmi':
      return store.remove(args.image!);
    default:
      throw new Error(`unknown op ${op}`);
  }
}

/** Stretches a load so a test can kill it half-way (one busy-wait per progress event). */
function slowly(): void {
  const until = Date.now() + 2;
  while (Date.now() < until) { /* spin */ }
}

main().then(
  (r) => process.stdout.write(`${JSON.stringify({ ok: r })}\n`),
  (e: { code?: string; message?: string }) => {
    process.stdout.write(`${JSON.stringify({ error: { code: e.code, message: e.message } })}\n`);
    process.exitCode = 1;
  },
);
