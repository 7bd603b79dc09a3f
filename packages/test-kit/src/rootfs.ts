/** A minimal root filesystem from Debian's busybox-static, for containers and pivot_root tests. */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Applets the root offers, as symlinks to the one static binary. */
export const BUSYBOX_APPLETS = ['sh', 'ls', 'cat', 'echo', 'test', 'id', 'ps', 'hostname', 'true', 'false', 'sleep', 'touch', 'mkdir',
  'wget', 'nc', 'ip', 'readlink', 'grep', 'head', 'tail', 'awk', 'seq', 'wc', 'env', 'pwd', 'stat', 'kill', 'mount', 'cut', 'tr', 'dd',
  'httpd', 'tty', 'rm', 'ln', 'chmod', 'chown', 'uname', 'date', 'sed', 'printf', 'stty', 'nslookup'];

export interface BusyboxOptions {
  /** Where to build it (default: a new directory under /tmp). */
  readonly dir?: string;
  /** /etc/passwd and /etc/group with root and a user 1000 (default true). */
  readonly accounts?: boolean;
  /** Only bin/ (no mount points, accounts or mode changes): for tests that list the root. */
  readonly bare?: boolean;
}

/**
 * /bin/busybox with its applets, the usual mount points and account files. World-readable, so
 * nobody can use it too; a static binary needs no library in the new root.
 */
export function busyboxRootfs(options: BusyboxOptions = {}): string {
  if (!existsSync('/bin/busybox')) throw new Error('/bin/busybox is missing: apt-get install -y busybox-static');
  const dir = options.dir ?? mkdtempSync(`/tmp/nstools-test-${process.pid}-root-`);
  const dirs = options.bare ? ['bin'] : ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc', 'run', 'root', 'data', 'mnt'];
  for (const d of dirs) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const a of BUSYBOX_APPLETS) symlinkSync('busybox', join(dir, 'bin', a));
  if (options.bare) return dir;
  if (options.accounts ?? true) {
    writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n');
    writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nuser:x:1000:\n');
  }
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'tmp'), 0o1777);
  return dir;
}

export function removeTree(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
