import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { NsError } from '../errors';
import { koffi } from '../sys/native';
import { openRaw, O_PATH } from '../sys/fs';

/** Where `npm ci` (ns-core's install script) puts the compiled exec stage. */
export const EXEC_STAGE_PATH = process.env['NSX_EXEC_STAGE'] ?? join(__dirname, '../../../build/libnsexec.so');

interface ExecStage {
  spawn(plan: Buffer, len: number, out: Int32Array): number;
  release(pid: number): number;
  liveRegions(): number;
  decode(plan: Buffer, len: number, out: Buffer, badOffset: Buffer): number;
}

/** nsx-init, built beside the library: what a fork op's staying half becomes. */
export const INIT_PATH = process.env['NSX_INIT'] ?? join(dirname(EXEC_STAGE_PATH), 'nsx-init');

let stage: ExecStage | undefined;

/**
 * A new O_PATH fd of nsx-init: a plan's pivot_root may hide the path before the fork op runs,
 * but an fd stays valid for execveat(). The child gets its own copy at clone(), so the caller
 * closes this one as soon as the stage has cloned.
 */
export function openInitBinary(): number {
  if (!existsSync(INIT_PATH)) {
    throw new NsError({ errno: 0, code: 'ENOEXECSTAGE', path: INIT_PATH, message: `nsx-init is not built (${INIT_PATH} is missing)`,
                        hint: 'run `npm ci` (or `npm run install -w ns-core`) with a C compiler installed' });
  }
  return openRaw(INIT_PATH, O_PATH);
}

export function execStage(): ExecStage {
  if (stage) return stage;
  if (!existsSync(EXEC_STAGE_PATH)) {
    throw new NsError({
      errno: 0, code: 'ENOEXECSTAGE', path: EXEC_STAGE_PATH,
      message: `the exec stage is not built (${EXEC_STAGE_PATH} is missing)`,
      hint: 'run `npm ci` (or `npm run install -w ns-core`) with a C compiler installed',
    });
  }
  const lib = koffi.load(EXEC_STAGE_PATH);
  stage = {
    spawn: lib.func('int nsx_spawn(const uint8_t *plan, uint32_t len, int32_t *out)'),
    release: lib.func('int nsx_release(int32_t pid)'),
    liveRegions: lib.func('int nsx_live_regions(void)'),
    decode: lib.func('int nsx_decode(const uint8_t *plan, size_t len, void *out, void *bad)'),
  } as unknown as ExecStage;
  return stage;
}
