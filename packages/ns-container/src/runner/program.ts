/**
 * Whether a container's root has the program, found before anything is created, so that a
 * root without it fails with one line that says where it looked (exit 127, as docker), not
 * with the exec stage's bare ENOENT after the whole container was built.
 */
import { posix } from 'node:path';
import { NsError } from 'ns-core';
import { resolveInRoot, type RootView } from './inroot';

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir === '/' ? '' : dir}/`);
}

/**
 * @param mounted destinations of volumes and tmpfs mounts: a program there cannot be judged now.
 * @throws NsError ENOENT with syscall 'execve' when no candidate is a file in the root.
 */
export function checkProgramInRoot(view: RootView, program: string, env: readonly string[], workdir: string,
                                   rootName: string, mounted: readonly string[]): void {
  const path = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '';
  const candidates = program.includes('/') ? [posix.resolve(workdir, program)]
    : path.split(':').filter((d) => d.startsWith('/')).map((d) => posix.join(d, program));
  if (!program.includes('/') && candidates.length === 0) return; // execvp(3) would try the cwd: leave it to the exec
  for (const candidate of candidates) {
    if (mounted.some((m) => under(candidate, m))) return;
    let kind;
    try {
      kind = resolveInRoot(view, candidate, 'exec').kind;
    } catch {
      continue; // a loop or a file used as a directory: not this candidate
    }
    if (kind !== 'dir' && kind !== undefined) return; // the exec stage says if it cannot run it (126)
  }
  const where = program.includes('/') ? '' : ` (PATH ${path})`;
  throw new NsError({ errno: 2, code: 'ENOENT', syscall: 'execve', path: program,
                      message: `execve ${program} failed: not found in ${rootName}${where}` });
}
