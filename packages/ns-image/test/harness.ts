/** Shared by the integration tests: archives on disk, a child process, an overlay mount. */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { ContainerRoot } from '../src/index';
import { gz, tarOf, tempDir, type EntrySpec } from './helpers';

export const CHILD = join(__dirname, 'child.js');

/** Mounts ROOT's overlay in a private mount namespace (unshare/mount as oracles) and runs SCRIPT there with $M the mount point. */
export function inOverlay(root: ContainerRoot, script: string, asUser?: number): { status: number | null; stdout: string; stderr: string } {
  const m = tempDir('mnt');
  fs.chmodSync(m, 0o777);
  const opts = [`lowerdir=${root.lower.join(':')}`, ...(root.upper ? [`upperdir=${root.upper}`, `workdir=${root.work}`] : []), ...(root.userxattr ? ['userxattr'] : [])].join(',');
  const inner = `mount -t overlay overlay -o '${opts}' '${m}' && M='${m}' && ${script}`;
  const argv = asUser === undefined
    ? ['unshare', '-m', '--propagation', 'private', 'sh', '-c', inner]
    : ['setpriv', `--reuid=${asUser}`, `--regid=${asUser}`, '--clear-groups', 'unshare', '-Urm', 'sh', '-c', inner];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  fs.rmdirSync(m);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Two layers: the second deletes a file of the first, and makes a directory opaque. */
export function whiteoutImage(): { layers: Buffer[] } {
  const base: EntrySpec[] = [
    { name: 'bin/', type: 'dir' }, { name: 'bin/busybox', data: fs.readFileSync('/bin/busybox'), mode: 0o755 },
    { name: 'bin/sh', type: 'symlink', linkpath: 'busybox' }, { name: 'bin/ls', type: 'symlink', linkpath: 'busybox' },
    { name: 'bin/cat', type: 'symlink', linkpath: 'busybox' },
    { name: 'a/', type: 'dir' }, { name: 'a/gone', data: 'old' }, { name: 'a/stays', data: 'stays' },
    { name: 'd/', type: 'dir' }, { name: 'd/old1', data: '1' }, { name: 'd/old2', data: '2' },
    { name: 'keep', data: 'keep' },
  ];
  const top: EntrySpec[] = [
    { name: 'a/', type: 'dir' }, { name: 'a/.wh.gone', data: '' },
    { name: 'd/', type: 'dir' }, { name: 'd/.wh..wh..opq', data: '' }, { name: 'd/new', data: 'new' },
  ];
  return { layers: [tarOf(base), gz(tarOf(top))] };
}

let tempCount = 0;
let tempFiles: string | undefined;

/** Writes BYTES to a new file and returns its path. */
export function writeTemp(bytes: Buffer, name = `a${tempCount++}.tar`): string {
  if (!tempFiles) {
    const dir = tempDir('archives');
    tempFiles = dir;
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  const p = join(tempFiles, name);
  fs.writeFileSync(p, bytes);
  fs.chmodSync(tempFiles, 0o755);
  return p;
}

export function child(op: string, args: Record<string, unknown>, asUser?: { uid: number; env: NodeJS.ProcessEnv }): Promise<{ ok?: unknown; error?: { code: string; message: string } }> {
  return new Promise((resolve, reject) => {
    const argv = asUser
      ? ['setpriv', `--reuid=${asUser.uid}`, `--regid=${asUser.uid}`, '--clear-groups', process.execPath, CHILD, op, JSON.stringify(args)]
      : [process.execPath, CHILD, op, JSON.stringify(args)];
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], ...(asUser ? { env: asUser.env } : {}) });
    let out = '';
    let err = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (err += c));
    p.on('exit', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!));
      } catch {
        reject(new Error(`child ${op}: ${out} ${err}`));
      }
    });
  });
}
