import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { NsError } from '../errors';
import { koffi } from '../sys/native';
import { openRaw, O_PATH } from '../sys/fs';

/** Where `npm ci` (ns-core's install script) puts the compiled exec stage. */
export const EXEC_STAGE_PATH = process.env['NSX_EXEC_STAGE'] ?? join(__dirname, '../../../build/libnsexec.so');

interface ExecStage {
  spawn(plan: Buffer, len: number, cgroupFd: number, out: Int32Array): number;
  canCloneIntoCgroup(): number;
  release(pid: number): number;
  liveRegions(): number;
  decode(plan: Buffer, len: number, out: Buffer, badOffset: Buffer): number;
  renderError(plan: Buffer, len: number, op: number, errno: number, syscall: number, text: string | null, out: Buffer, cap: number): number;
}

/** nsx-init, built beside the library: what a fork op's staying half becomes. */
export const INIT_PATH = process.env['NSX_INIT'] ?? join(dirname(EXEC_STAGE_PATH), 'nsx-init');

/** nsx, built beside the library: the exec stage as an executable, for execInPlace(). */
export const NSX_PATH = process.env['NSX_EXEC'] ?? join(dirname(EXEC_STAGE_PATH), 'nsx');

const NOT_BUILT_HINT = 'run `npm ci` (or `npm run install -w ns-core`) with a C compiler installed';

/** @throws NsError ENOEXECSTAGE naming the file and the fix, when a part of the exec stage was not built. */
export function requireBuilt(path: string, what: string): void {
  if (!existsSync(path)) {
    throw new NsError({ errno: 0, code: 'ENOEXECSTAGE', path, message: `${what} is not built (${path} is missing)`, hint: NOT_BUILT_HINT });
  }
}

let stage: ExecStage | undefined;

/**
 * A new O_PATH fd of nsx-init: a plan's pivot_root may hide the path before the fork op runs,
 * but an fd stays valid for execveat(). The child gets its own copy at clone(), so the caller
 * closes this one as soon as the stage has cloned.
 */
export function openInitBinary(): number {
  requireBuilt(INIT_PATH, 'nsx-init');
  return openRaw(INIT_PATH, O_PATH);
}

export function execStage(): ExecStage {
  if (stage) return stage;
  requireBuilt(EXEC_STAGE_PATH, 'the exec stage');
  const lib = koffi.load(EXEC_STAGE_PATH);
  stage = {
    spawn: lib.func('int nsx_spawn(const uint8_t *plan, uint32_t len, int32_t cgroup_fd, int32_t *out)'),
    canCloneIntoCgroup: lib.func('int nsx_can_clone_into_cgroup(void)'),
    release: lib.func('int nsx_release(int32_t pid)'),
    liveRegions: lib.func('int nsx_live_regions(void)'),
    decode: lib.func('int nsx_decode(const uint8_t *plan, size_t len, void *out, void *bad)'),
    renderError: lib.func('int nsx_render_error(const uint8_t *plan, uint32_t len, uint32_t op, int32_t err, int32_t sys, const char *text, void *out, uint32_t cap)'),
  } as unknown as ExecStage;
  return stage;
}
