/**
 * Container images made offline by Debian's podman, skopeo and docker-registry, in throwaway
 * roots so the host's podman storage is never touched. Tests use these tools as fixture makers
 * and oracles; product code never runs them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { waitFor } from './processes';
import { busyboxRootfs } from './rootfs';

function run(argv: readonly string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

export interface PodmanImage {
  /** The reference podman gave it ('localhost/NAME:TAG'). */
  readonly reference: string;
  /** `podman save --format docker-archive`. */
  readonly dockerArchive: string;
  /** `podman save --format oci-archive`. */
  readonly ociArchive: string;
  /** `skopeo copy docker-archive:... oci:DIR:TAG`: an OCI image layout directory. */
  readonly ociLayout: string;
  /** Its working directory (podman's root, the archives): removed by cleanup(). */
  readonly dir: string;
  /**
   * An image built on this one (`podman build`: FROM it, COPY of `files` as one more layer),
   * in the same podman root, so its base layer is this image's. Removed by this one's cleanup().
   */
  derive(reference: string, files: Readonly<Record<string, string>>, changes?: readonly string[]): PodmanImage;
  cleanup(): void;
}

let saved = 0;

/**
 * A busybox root imported by `podman import --change ...` (CMD, ENV, WORKDIR, ... as
 * Dockerfile instructions) and saved as a docker archive.
 */
export function podmanImage(reference: string, changes: readonly string[], files: Readonly<Record<string, string>> = {}): PodmanImage {
  const dir = mkdtempSync(`/tmp/nstools-test-${process.pid}-podman-`);
  chmodSync(dir, 0o755); // the archive is loaded by unprivileged users too
  const rootfs = busyboxRootfs({ dir: join(dir, 'rootfs') });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(rootfs, path, '..'), { recursive: true });
    writeFileSync(join(rootfs, path), text);
  }
  const tar = join(dir, 'rootfs.tar');
  run(['tar', '-C', rootfs, '-cf', tar, '.']);
  const podman = ['podman', '--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--storage-driver', 'vfs'];
  run([...podman, 'import', ...changes.flatMap((c) => ['--change', c]), tar, reference]);
  return saveImage(podman, dir, reference, () => rmSync(dir, { recursive: true, force: true }));
}

/** The image in the three forms users have (docker archive, OCI archive, OCI layout). */
function saveImage(podman: readonly string[], dir: string, reference: string, cleanup: () => void): PodmanImage {
  const n = saved++;
  const dockerArchive = join(dir, `image${n}.docker.tar`);
  const ociArchive = join(dir, `image${n}.oci.tar`);
  const ociLayout = join(dir, `image${n}.layout`);
  run([...podman, 'save', '-q', '--format', 'docker-archive', '-o', dockerArchive, reference]);
  run([...podman, 'save', '-q', '--format', 'oci-archive', '-o', ociArchive, reference]);
  run(['skopeo', 'copy', '-q', `docker-archive:${dockerArchive}`, `oci:${ociLayout}:${reference.split(':').pop()}`]);
  // Loaded by unprivileged users too.
  run(['chmod', '-R', 'a+rX', dockerArchive, ociArchive, ociLayout]);
  return {
    reference, dockerArchive, ociArchive, ociLayout, dir, cleanup,
    derive(ref, files, changes = []) {
      const ctx = mkdtempSync(join(dir, 'ctx-'));
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(join(ctx, 'files', path, '..'), { recursive: true });
        writeFileSync(join(ctx, 'files', path), text);
      }
      writeFileSync(join(ctx, 'Containerfile'), [`FROM ${reference}`, 'COPY files/ /', ...changes, ''].join('\n'));
      run([...podman, 'build', '-q', '--pull=never', '-t', ref, ctx]);
      return saveImage(podman, dir, ref, () => undefined);
    },
  };
}

/** A free TCP port on 127.0.0.1 (bound and released: another process could take it, rarely). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface LoopbackRegistry {
  /** host:port, for references ('127.0.0.1:5123/app:1'). */
  readonly address: string;
  readonly process: ChildProcess;
  /** `skopeo copy docker-archive:ARCHIVE docker://ADDRESS/REPO` */
  push(archive: string, repo: string): void;
  stop(): Promise<void>;
}

/** Debian's docker-registry on 127.0.0.1 with a temporary store, plain HTTP. */
export async function loopbackRegistry(): Promise<LoopbackRegistry> {
  const dir = mkdtempSync(`/tmp/nstools-test-${process.pid}-registry-`);
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const config = join(dir, 'config.yml');
  writeFileSync(config, [
    'version: 0.1', 'log:', '  level: error', 'storage:', `  filesystem:`, `    rootdirectory: ${join(dir, 'data')}`,
    'http:', `  addr: ${address}`, '',
  ].join('\n'));
  const proc = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  await waitFor('docker-registry to listen', () => proc.exitCode === null && run(['ss', '-Hltn', `sport = :${port}`]).trim() !== '');
  return {
    address, process: proc,
    push(archive, repo) {
      run(['skopeo', 'copy', '-q', '--dest-tls-verify=false', `docker-archive:${archive}`, `docker://${address}/${repo}`]);
    },
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null || proc.signalCode !== null ? r(undefined) : proc.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
