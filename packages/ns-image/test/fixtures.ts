/**
 * Images made by Debian's podman and skopeo, offline, in a throwaway podman root (vfs driver),
 * so the host's podman storage is never touched. Built once per test process.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers';

export interface PodmanFixtures {
  readonly dir: string;
  /** `podman save --format docker-archive` */
  readonly dockerArchive: string;
  /** `podman save --format oci-archive` */
  readonly ociArchive: string;
  /** `skopeo copy docker-archive:... oci:DIR:v1` */
  readonly ociDir: string;
  /** The same image with a 50 MB second layer, as a docker archive (for the benchmark). */
  readonly reference: string;
  readonly rootfsTar: string;
  cleanup(): void;
}

export function run(argv: string[], options: { input?: string } = {}): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', ...(options.input !== undefined ? { input: options.input } : {}) });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** A busybox root: /bin/busybox from busybox-static, applet symlinks, a few files. */
export function busyboxRootfs(dir: string): void {
  fs.mkdirSync(join(dir, 'bin'), { recursive: true });
  for (const d of ['etc', 'tmp', 'root', 'proc', 'sys', 'dev', 'srv/data']) fs.mkdirSync(join(dir, d), { recursive: true });
  fs.chmodSync(join(dir, 'tmp'), 0o1777);
  fs.copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  fs.chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const applet of ['sh', 'true', 'ls', 'cat', 'echo', 'id', 'env', 'pwd', 'stat']) fs.symlinkSync('busybox', join(dir, 'bin', applet));
  fs.writeFileSync(join(dir, 'etc/motd'), 'hello from the image\n');
  fs.writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n');
  fs.writeFileSync(join(dir, 'srv/data/keep'), 'keep\n');
}

let cached: PodmanFixtures | undefined;

export function podmanFixtures(): PodmanFixtures {
  if (cached) return cached;
  const dir = tempDir('podman');
  const rootfs = join(dir, 'rootfs');
  busyboxRootfs(rootfs);
  const rootfsTar = join(dir, 'rootfs.tar');
  // Test code may use tar as an oracle and fixture maker; product code never does.
  run(['tar', '-C', rootfs, '-cf', rootfsTar, '.']);
  const podman = ['podman', '--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--storage-driver', 'vfs'];
  const reference = 'localhost/nsimage-test:1';
  run([...podman, 'import',
    '--change', 'CMD ["/bin/sh","-c","echo hi"]', '--change', 'ENV GREETING=hello', '--change', 'WORKDIR /srv',
    '--change', 'ENTRYPOINT ["/bin/env"]', '--change', 'USER nobody', '--change', 'EXPOSE 8080/tcp', '--change', 'LABEL org.test=yes',
    rootfsTar, reference]);
  const dockerArchive = join(dir, 'image.docker.tar');
  const ociArchive = join(dir, 'image.oci.tar');
  const ociDir = join(dir, 'image.ocidir');
  run([...podman, 'save', '--format', 'docker-archive', '-o', dockerArchive, reference]);
  run([...podman, 'save', '--format', 'oci-archive', '-o', ociArchive, reference]);
  run(['skopeo', 'copy', '-q', `docker-archive:${dockerArchive}`, `oci:${ociDir}:v1`]);
  cached = {
    dir, dockerArchive, ociArchive, ociDir, reference, rootfsTar,
    cleanup() {
      // podman's vfs layers may hold files only root can remove; the root is ours alone.
      fs.rmSync(dir, { recursive: true, force: true });
      cached = undefined;
    },
  };
  return cached;
}
